// SPDX-License-Identifier: GPL-2.0
/* Annotations that plain tree-sitter-c reads as ERROR. */

struct holder {
	struct item __rcu *item;
	void __iomem *regs;
	unsigned long __percpu *counts;
	char data[] ____cacheline_aligned_in_smp;
};

static int threshold __read_mostly = 10;

static void drop_locked(struct holder *h)
	__must_hold(&h->lock)
{
	rcu_assign_pointer(h->item, NULL);
}

static void take(struct holder *h) __acquires(&h->lock)
{
	spin_lock(&h->lock);
}

static int __init holder_init(void)
{
	return 0;
}

__bpf_kfunc int bpf_holder_read(int __user *uptr, void __iomem *regs)
{
	return get_user(threshold, uptr);
}

__printf(2, 3) static void holder_log(struct holder *h, const char *fmt, ...)
{
}

static noinline int __attribute__((unused)) spare(void)
{
	return 0;
}
