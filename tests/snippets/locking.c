// SPDX-License-Identifier: GPL-2.0
/* Lock and SRCU sections with every way out of them. */

DEFINE_STATIC_SRCU(hooks_srcu);
static DEFINE_SPINLOCK(hooks_lock);
static DEFINE_MUTEX(hooks_mutex);

int run_hooks_balanced(void)
{
	struct hook *h;
	int idx, ret = 0;

	idx = srcu_read_lock(&hooks_srcu);
	list_for_each_entry_srcu(h, &hooks, node, srcu_read_lock_held(&hooks_srcu)) {
		ret = h->fn();
		if (ret)
			break;
	}
	srcu_read_unlock(&hooks_srcu, idx);
	return ret;
}

int run_hooks_early_return(void)
{
	struct hook *h;
	int idx;

	idx = srcu_read_lock(&hooks_srcu);
	list_for_each_entry_srcu(h, &hooks, node, false) {
		if (h->fn())
			return 1;
	}
	srcu_read_unlock(&hooks_srcu, idx);
	return 0;
}

int run_hooks_inner(void)
{
	struct hook *h;
	int idx;

	list_for_each_entry(h, &hooks, node) {
		idx = srcu_read_lock(&h->srcu);
		if (!h->fn)
			continue;
		if (h->fn() < 0)
			break;
		srcu_read_unlock(&h->srcu, idx);
	}
	return 0;
}

int add_hook(struct hook *h)
{
	int err = 0;

	spin_lock(&hooks_lock);
	if (h->busy) {
		err = -EBUSY;
		goto out;
	}
	list_add_rcu(&h->node, &hooks);
out:
	spin_unlock(&hooks_lock);
	return err;
}

int add_hook_leaky(struct hook *h)
{
	mutex_lock(&hooks_mutex);
	if (h->busy)
		goto fail;
	list_add(&h->node, &hooks);
	mutex_unlock(&hooks_mutex);
	return 0;
fail:
	return -EBUSY;
}

void read_all(void)
{
	unsigned long flags;

	rcu_read_lock();
	spin_lock_irqsave(&hooks_lock, flags);
	walk(&hooks);
	spin_unlock_irqrestore(&hooks_lock, flags);
	rcu_read_unlock();
}
