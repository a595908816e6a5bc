// SPDX-License-Identifier: GPL-2.0
/*
 * Cases for CMSG002, written for the rule (not taken from any patch). Reviewed under the commit
 * message in cases.msg beside it, which promises: bar_reset() returns -EINVAL if the device is
 * offline.
 */

struct bar_dev {
	struct bar_ops *ops;
	bool attached;
	bool busy;
	bool frozen;
	bool offline;
	bool registered;
	bool full;
	int refs;
};

/**
 * bar_attach() - attach ops to a device
 * @dev: the device
 * @ops: the ops
 *
 * Return: 0 on success, -EBUSY if ops are already attached.
 */
int bar_attach(struct bar_dev *dev, struct bar_ops *ops)
{
	/* ruleid: CMSG002 */
	if (dev->attached)
		return -EEXIST;
	dev->ops = ops;
	dev->attached = true;
	return 0;
}

/**
 * bar_unregister() - unregister a device
 * @dev: the device
 *
 * Return: 0 on success, -ENOENT if the device is not registered,
 * -ENOMEM on allocation failure.
 */
int bar_unregister(struct bar_dev *dev)
{
	int err;

	/* ruleid: CMSG002 */
	err = -ENODEV;
	if (!dev->registered)
		goto out;
	dev->registered = false;
	err = 0;
out:
	return err;
}

/**
 * bar_get() - take a reference on a device
 * @dev: the device
 *
 * Return: the device, or ERR_PTR(-EAGAIN) when the device is busy.
 */
struct bar_dev *bar_get(struct bar_dev *dev)
{
	/* ruleid: CMSG002 */
	if (dev->busy) {
		pr_debug("bar: busy\n");
		return ERR_PTR(-EBUSY);
	}
	dev->refs++;
	return dev;
}

int bar_reset(struct bar_dev *dev)
{
	/* ruleid: CMSG002 */
	if (dev->offline)
		return -EIO;
	dev->refs = 0;
	return 0;
}

/**
 * bar_freeze() - freeze a device
 * @dev: the device
 *
 * Returns 0 on success or -EBUSY when the device is already frozen.
 */
int bar_freeze(struct bar_dev *dev)
{
	/* ruleid: CMSG002 */
	return dev->frozen ? -EALREADY : 0;
}

/**
 * bar_attach2() - attach ops to a device
 * @dev: the device
 * @ops: the ops
 *
 * Return: 0 on success, -EBUSY if ops are already attached.
 */
int bar_attach2(struct bar_dev *dev, struct bar_ops *ops)
{
	/* ok: CMSG002 */
	if (dev->attached)
		return -EBUSY;
	dev->ops = ops;
	return 0;
}

/**
 * bar_attach3() - attach ops to a device
 * @dev: the device
 * @ops: the ops
 *
 * Return: 0 on success, -EBUSY if other ops are attached, -EEXIST if these
 * ops are attached already.
 */
int bar_attach3(struct bar_dev *dev, struct bar_ops *ops)
{
	/* ok: CMSG002 */
	if (dev->attached)
		return -EEXIST;
	dev->ops = ops;
	return 0;
}

/**
 * bar_unregister2() - unregister a device
 * @dev: the device
 *
 * Return: 0 on success, -ENOENT if the device is not registered.
 */
int bar_unregister2(struct bar_dev *dev)
{
	/* ok: CMSG002 */
	if (dev->registered && dev->busy)
		return -EBUSY;
	dev->registered = false;
	return 0;
}

/**
 * bar_queue() - queue work on a device
 * @dev: the device
 *
 * Return: 0 on success, -ENOSPC if the queue is full.
 */
int bar_queue(struct bar_dev *dev)
{
	/* ok: CMSG002 */
	if (dev->attached)
		return -EEXIST;
	dev->refs++;
	return 0;
}

/**
 * bar_queue2() - queue work on a device
 * @dev: the device
 *
 * Return: 0 on success, -ENOSPC if the queue is full.
 */
int bar_queue2(struct bar_dev *dev)
{
	int err = bar_queue(dev);

	/* ok: CMSG002 */
	if (err == -ENOSPC || dev->full)
		return -EAGAIN;
	return err;
}

/**
 * bar_set_flags() - set the flags of a device
 * @dev: the device
 * @flags: the flags
 *
 * Return: 0 on success, -EINVAL if @flags is invalid.
 */
int bar_set_flags(struct bar_dev *dev, unsigned long flags)
{
	/* ok: CMSG002 */
	if (flags & ~BAR_FLAGS_MASK)
		return -EOPNOTSUPP;
	dev->refs = flags;
	return 0;
}

/**
 * bar_lookup() - look a device up
 * @dev: the device
 *
 * Return:
 * * 0 - found
 * * -ENOENT / -EEXIST - the device is registered or busy
 */
int bar_lookup(struct bar_dev *dev)
{
	/* ok: CMSG002 */
	if (dev->busy)
		return -EAGAIN;
	return 0;
}
