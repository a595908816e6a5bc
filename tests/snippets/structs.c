// SPDX-License-Identifier: GPL-2.0
/* Structs with documented fields, kernel-doc and designated initializers. */

#define DEMO_NAME_LEN 32

/**
 * struct demo_ops - operations of a demo policy
 * @handle: called on every event
 * @name: the policy's name, shown in
 *	the log
 *
 * Filled by the policy, read by the core.
 */
struct demo_ops {
	int (*handle)(struct demo_event *ev);

	/* NUL-terminated; copied from user space */
	char name[DEMO_NAME_LEN];
	u8 table[4][DEMO_NAME_LEN + 1];
	unsigned int flags:3;	/* DEMO_F_* */
	union {
		void *priv;
		unsigned long cookie;
	};
};

/**
 * demo_register() - register a policy
 * @ops: the policy's operations
 *
 * Return: 0 or a negative errno.
 */
int demo_register(struct demo_ops *ops)
{
	return 0;
}

static int demo_handle(struct demo_event *ev)
{
	pr_info("demo: event %d\n", ev->id);
	return ev->id > 0 ? 1 : 0;
}

static struct demo_ops default_ops = {
	.handle = demo_handle,
	.name = "default",
	.flags = DEMO_F_A | DEMO_F_B,
};

static const struct bpf_struct_ops bpf_demo_ops = {
	.reg = demo_reg,
	.unreg = demo_unreg,
	.init_member = demo_init_member,
	.name = "demo_ops",
};
