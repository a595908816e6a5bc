// SPDX-License-Identifier: GPL-2.0
/* File-scope definition macros, function-defining macros and #ifdef branches. */

DEFINE_STATIC_SRCU(demo_srcu);
DEFINE_SRCU(demo_global_srcu);
static DEFINE_SPINLOCK(demo_lock);
static DEFINE_MUTEX(demo_mutex);
static LIST_HEAD(demo_list);
static DEFINE_PER_CPU(struct list_head, demo_percpu_lists);

#define DEMO_MAX 16
#define demo_field(p, f) ((p)->f)

BPF_CALL_2(bpf_demo_get, struct bpf_map *, map, u64, flags)
{
	return flags;
}

SYSCALL_DEFINE0(demo_ping)
{
	return 0;
}

static int demo_read(struct demo *d)
{
	struct demo_item *item = container_of(d->node, struct demo_item, node);
	int v = min_t(unsigned long, d->len, DEMO_MAX);

#ifdef CONFIG_DEMO_DEBUG
	if (v > 1) {
#else
	if (v > 2) {
#endif
		v = 0;
	}
	return v + item->value;
}
EXPORT_SYMBOL_GPL(demo_read);
