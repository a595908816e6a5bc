// SPDX-License-Identifier: GPL-2.0
/* Cases for SOPS003, written for the rule (not taken from any patch). */

static DEFINE_SPINLOCK(foo_lock);
static LIST_HEAD(foo_handlers);

struct foo_handler {
	struct foo_ops *ops;
	struct list_head node;
	struct rcu_head rcu;
};

/* reg adds to a list, allocates, takes a module reference; unreg only frees. */
static int foo_reg(void *kdata, struct bpf_link *link)
{
	struct foo_ops *ops = kdata;
	struct foo_handler *h;

	/* ok: SOPS003 */
	h = kzalloc(sizeof(*h), GFP_KERNEL);
	if (!h)
		return -ENOMEM;
	/* ruleid: SOPS003 */
	if (!try_module_get(ops->owner)) {
		kfree(h);
		return -ENODEV;
	}
	h->ops = ops;
	ops->handler = h;
	spin_lock(&foo_lock);
	/* ruleid: SOPS003 */
	list_add_tail_rcu(&h->node, &foo_handlers);
	spin_unlock(&foo_lock);
	return 0;
}

static void foo_unreg(void *kdata, struct bpf_link *link)
{
	struct foo_ops *ops = kdata;

	kfree_rcu(ops->handler, rcu);
}

static struct bpf_struct_ops foo_bpf_ops = {
	.reg = foo_reg,
	.unreg = foo_unreg,
	.name = "foo_ops",
};

/* Everything undone, part of it in a helper and an RCU callback. */
static void bar_free_rcu(struct rcu_head *rcu)
{
	struct foo_handler *h = container_of(rcu, struct foo_handler, rcu);

	module_put(h->ops->owner);
	kfree(h);
}

static void bar_detach(struct foo_handler *h)
{
	spin_lock(&foo_lock);
	list_del_rcu(&h->node);
	spin_unlock(&foo_lock);
	call_rcu(&h->rcu, bar_free_rcu);
}

static int bar_reg(void *kdata, struct bpf_link *link)
{
	struct foo_ops *ops = kdata;
	struct foo_handler *h;
	int err;

	/* ok: SOPS003 */
	h = kzalloc(sizeof(*h), GFP_KERNEL);
	if (!h)
		return -ENOMEM;
	/* ok: SOPS003 */
	if (!try_module_get(ops->owner)) {
		kfree(h);
		return -ENODEV;
	}
	h->ops = ops;
	ops->handler = h;
	/* ok: SOPS003 */
	err = bar_register_notifier(&ops->nb);
	if (err) {
		module_put(ops->owner);
		kfree(h);
		return err;
	}
	spin_lock(&foo_lock);
	/* ok: SOPS003 */
	list_add_rcu(&h->node, &foo_handlers);
	spin_unlock(&foo_lock);
	return 0;
}

static void bar_unreg(void *kdata, struct bpf_link *link)
{
	struct foo_ops *ops = kdata;

	bar_unregister_notifier(&ops->nb);
	bar_detach(ops->handler);
}

static struct bpf_struct_ops bar_bpf_ops = {
	.reg = bar_reg,
	.unreg = bar_unreg,
	.name = "bar_ops",
};

/* A registration never undone, and a reg with no unreg at all. */
static int baz_reg(void *kdata, struct bpf_link *link)
{
	/* ruleid: SOPS003 */
	return tcp_register_congestion_control(kdata);
}

static void baz_unreg(void *kdata, struct bpf_link *link)
{
}

static struct bpf_struct_ops baz_bpf_ops = {
	.reg = baz_reg,
	.unreg = baz_unreg,
	.name = "baz_ops",
};

static struct bpf_struct_ops qux_bpf_ops = {
	/* ruleid: SOPS003 */
	.reg = baz_reg,
	.name = "qux_ops",
};

/* A reg that refuses every registration needs no unreg. */
static int quux_reg(void *kdata, struct bpf_link *link)
{
	return -EOPNOTSUPP;
}

static struct bpf_struct_ops quux_bpf_ops = {
	/* ok: SOPS003 */
	.reg = quux_reg,
	.name = "quux_ops",
};
