// SPDX-License-Identifier: GPL-2.0
/* Cases for SOPS002, written for the rule (not taken from any patch). */

#define FOO_NAME_LEN 32

struct foo_state;

struct foo_ops {
	int (*run)(struct foo_state *st, int arg);
	void (*stop)(struct foo_state *st);
	/* ok: SOPS002 */
	char name[FOO_NAME_LEN];
	/* ruleid: SOPS002 */
	u32 flags;
	/* ruleid: SOPS002 */
	unsigned int timeout_ms;
	/* ok: SOPS002 */
	u32 id;		/* set by the kernel on registration */
	/* ok: SOPS002 */
	u32 key;

	/* private: */
	/* ok: SOPS002 */
	u64 generation;
	struct list_head node;
	struct foo_state *state;
};

static int foo_run_stub(struct foo_state *st, int arg)
{
	return 0;
}

static void foo_stop_stub(struct foo_state *st)
{
}

static struct foo_ops __foo_ops = {
	.run = foo_run_stub,
	.stop = foo_stop_stub,
};

static int foo_init_member(const struct btf_type *t, const struct btf_member *member,
			   void *kdata, const void *udata)
{
	const struct foo_ops *uops = udata;
	struct foo_ops *ops = kdata;

	switch (__btf_member_bit_offset(t, member) / 8) {
	case offsetof(struct foo_ops, name):
		if (bpf_obj_name_cpy(ops->name, uops->name, sizeof(ops->name)) <= 0)
			return -EINVAL;
		return 1;
	}
	return 0;
}

static struct bpf_struct_ops foo_bpf_ops = {
	.reg = foo_reg,
	.init_member = foo_init_member,
	.name = "foo_ops",
	.cfi_stubs = &__foo_ops,
};

static int foo_reg(void *kdata, struct bpf_link *link)
{
	struct foo_ops *ops = kdata;

	ops->key = jhash(ops->name, sizeof(ops->name), 0);
	return foo_register(ops);
}

static int __init foo_struct_ops_init(void)
{
	return register_bpf_struct_ops(&foo_bpf_ops, foo_ops);
}

/* A type whose struct_ops has no init_member at all. */
struct bar_ops {
	int (*pick)(int cpu);
	/* ruleid: SOPS002 */
	int weight;
	/* ok: SOPS002 */
	u32 reserved;
};

static struct bpf_struct_ops bar_bpf_ops = {
	.name = "bar_ops",
};

/* Every data member handled: a switch case, a direct copy, and a helper that copies the rest. */
struct baz_ops {
	void (*tick)(void);
	/* ok: SOPS002 */
	char name[16];
	/* ok: SOPS002 */
	u32 flags;
	/* ok: SOPS002 */
	u64 budget;
};

static int baz_copy_budget(struct baz_ops *k, const struct baz_ops *u, u32 moff)
{
	if (moff != offsetof(struct baz_ops, budget))
		return 0;
	k->budget = u->budget;
	return 1;
}

static int baz_init_member(const struct btf_type *t, const struct btf_member *member,
			   void *kdata, const void *udata)
{
	const struct baz_ops *ub = udata;
	struct baz_ops *b = kdata;
	u32 moff = __btf_member_bit_offset(t, member) / 8;

	if (moff == offsetof(struct baz_ops, name)) {
		if (bpf_obj_name_cpy(b->name, ub->name, sizeof(b->name)) <= 0)
			return -EINVAL;
		return 1;
	}
	if (moff == offsetof(struct baz_ops, flags)) {
		if (ub->flags & ~BAZ_FLAGS_MASK)
			return -EINVAL;
		b->flags = ub->flags;
		return 1;
	}
	return baz_copy_budget(b, ub, moff);
}

static struct bpf_struct_ops baz_bpf_ops = {
	.init_member = baz_init_member,
	.name = "baz_ops",
};
