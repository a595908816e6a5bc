// SPDX-License-Identifier: GPL-2.0
/* Cases for SOPS001, written for the rule (not taken from any patch). */

#define FOO_NAME_LEN 32

struct foo_ops {
	int (*run)(int arg);
	char name[FOO_NAME_LEN];
	char tag[16];
	u32 flags;
};

/* strscpy_pad() whose -E2BIG is dropped: a truncated name is accepted. */
static int foo_init_member(const struct btf_type *t, const struct btf_member *member,
			   void *kdata, const void *udata)
{
	const struct foo_ops *uops = (const struct foo_ops *)udata;
	struct foo_ops *ops = kdata;
	u32 moff = __btf_member_bit_offset(t, member) / 8;

	switch (moff) {
	case offsetof(struct foo_ops, name):
		/* ruleid: SOPS001 */
		strscpy_pad(ops->name, uops->name, sizeof(ops->name));
		return 1;
	case offsetof(struct foo_ops, tag):
		/* ruleid: SOPS001 */
		strncpy(ops->tag, uops->tag, sizeof(ops->tag));
		return 1;
	case offsetof(struct foo_ops, flags):
		ops->flags = uops->flags;
		return 1;
	}
	return 0;
}

static struct bpf_struct_ops foo_bpf_ops = {
	.init_member = foo_init_member,
	.name = "foo_ops",
};

/* The way tcp_congestion_ops does it, and two other correct forms. */
static int bar_init_member(const struct btf_type *t, const struct btf_member *member,
			   void *kdata, const void *udata)
{
	const struct foo_ops *ubar;
	struct foo_ops *bar;
	int ret;

	ubar = (const struct foo_ops *)udata;
	bar = (struct foo_ops *)kdata;

	switch (__btf_member_bit_offset(t, member) / 8) {
	case offsetof(struct foo_ops, name):
		/* ok: SOPS001 */
		if (bpf_obj_name_cpy(bar->name, ubar->name, sizeof(bar->name)) <= 0)
			return -EINVAL;
		return 1;
	case offsetof(struct foo_ops, tag):
		/* ok: SOPS001 */
		ret = strscpy(bar->tag, ubar->tag, sizeof(bar->tag));
		if (ret < 0)
			return ret;
		return 1;
	}
	return 0;
}

static struct bpf_struct_ops bar_bpf_ops = {
	.init_member = bar_init_member,
	.name = "bar_ops",
};

/* bpf_obj_name_cpy() into a variable nobody reads, memcpy() of a char array, strncpy() terminated. */
static int baz_init_member(const struct btf_type *t, const struct btf_member *member,
			   void *kdata, const void *udata)
{
	const struct foo_ops *ubaz = udata;
	struct foo_ops *baz = kdata;
	char scratch[FOO_NAME_LEN];
	int err;

	switch (__btf_member_bit_offset(t, member) / 8) {
	case offsetof(struct foo_ops, name):
		/* ruleid: SOPS001 */
		err = bpf_obj_name_cpy(baz->name, ubaz->name, sizeof(baz->name));
		return 1;
	case offsetof(struct foo_ops, tag):
		/* ok: SOPS001 */
		strncpy(scratch, "constant", sizeof(scratch));
		return 1;
	case offsetof(struct foo_ops, flags):
		/* ok: SOPS001 */
		strncpy(baz->tag, ubaz->tag, sizeof(baz->tag) - 1);
		baz->tag[sizeof(baz->tag) - 1] = '\0';
		return 1;
	}
	return 0;
}

static struct bpf_struct_ops baz_bpf_ops = {
	.init_member = baz_init_member,
	.name = "baz_ops",
};

/* memcpy() of a char array with no termination check. */
static int quux_init_member(const struct btf_type *t, const struct btf_member *member,
			    void *kdata, const void *udata)
{
	const struct foo_ops *uq = udata;
	struct foo_ops *q = kdata;

	if (__btf_member_bit_offset(t, member) / 8 == offsetof(struct foo_ops, name)) {
		/* ruleid: SOPS001 */
		memcpy(q->name, uq->name, sizeof(q->name));
		return 1;
	}
	if (__btf_member_bit_offset(t, member) / 8 == offsetof(struct foo_ops, tag)) {
		if (strnlen(uq->tag, sizeof(uq->tag)) == sizeof(uq->tag))
			return -EINVAL;
		/* ok: SOPS001 */
		memcpy(q->tag, uq->tag, sizeof(q->tag));
		return 1;
	}
	return 0;
}

static struct bpf_struct_ops quux_bpf_ops = {
	.init_member = quux_init_member,
	.name = "quux_ops",
};

/* Not an init_member callback: the rule does not look here. */
static void qux_set_name(struct foo_ops *ops, const char *name)
{
	/* ok: SOPS001 */
	strscpy(ops->name, name, sizeof(ops->name));
}
