// SPDX-License-Identifier: GPL-2.0
/* Cases for SRCU003, written for the rule (not taken from any patch). */

#include <linux/rculist.h>
#include <linux/srcu.h>

DEFINE_STATIC_SRCU(filter_srcu);
static DEFINE_MUTEX(filter_mutex);
static LIST_HEAD(filters);

struct filter {
	struct list_head node;
	int prio;
	bool (*match)(const void *pkt);
};

struct policy {
	int level;
};

static struct policy __rcu *active_policy;

struct engine_ops {
	int (*attach)(void *priv);
	void (*dump)(void *priv);
};

/* The readers: they make filters and active_policy SRCU-protected. */
bool filters_match(const void *pkt)
{
	struct filter *f;
	bool hit = false;
	int idx;

	idx = srcu_read_lock(&filter_srcu);
	/* ok: SRCU003 */
	list_for_each_entry_srcu(f, &filters, node, srcu_read_lock_held(&filter_srcu)) {
		if (f->match(pkt)) {
			hit = true;
			break;
		}
	}
	srcu_read_unlock(&filter_srcu, idx);
	return hit;
}

/* The walk comes after the section was closed. */
int filters_max_prio(void)
{
	struct filter *f;
	int idx, n = 0, prio = 0;

	idx = srcu_read_lock(&filter_srcu);
	list_for_each_entry_srcu(f, &filters, node, srcu_read_lock_held(&filter_srcu))
		n++;
	srcu_read_unlock(&filter_srcu, idx);

	/* ruleid: SRCU003 */
	list_for_each_entry(f, &filters, node)
		prio = max(prio, f->prio);
	return n ? prio : -1;
}

/* The condition names filter_srcu, but this function drops it before the walk. */
int filters_min_prio(void)
{
	struct filter *f;
	int idx, prio = INT_MAX;

	idx = srcu_read_lock(&filter_srcu);
	prio = filters_match(NULL) ? 0 : prio;
	srcu_read_unlock(&filter_srcu, idx);
	/* ruleid: SRCU003 */
	list_for_each_entry_srcu(f, &filters, node, srcu_read_lock_held(&filter_srcu))
		prio = min(prio, f->prio);
	return prio;
}

/* The update side: the list lock is held. */
int filters_count_locked(void)
{
	struct filter *f;
	int n = 0;

	mutex_lock(&filter_mutex);
	/* ok: SRCU003 */
	list_for_each_entry(f, &filters, node)
		n++;
	mutex_unlock(&filter_mutex);
	return n;
}

/* A static helper; its only caller holds the read-side section. */
static int filters_sum_prio(void)
{
	struct filter *f;
	int sum = 0;

	/* ok: SRCU003 */
	list_for_each_entry_rcu(f, &filters, node)
		sum += f->prio;
	return sum;
}

int filters_report(void)
{
	int idx, sum;

	idx = srcu_read_lock(&filter_srcu);
	sum = filters_sum_prio();
	srcu_read_unlock(&filter_srcu, idx);
	return sum;
}

/* A helper whose only caller is an ops callback that takes no lock at all. */
static void filters_print(void)
{
	struct filter *f;

	/* ruleid: SRCU003 */
	list_for_each_entry_rcu(f, &filters, node)
		pr_info("filter prio %d\n", f->prio);
}

static void engine_dump(void *priv)
{
	filters_print();
}

/* A callback walking the list itself, with no lock. */
static int engine_attach(void *priv)
{
	struct filter *f;
	int n = 0;

	/* ruleid: SRCU003 */
	list_for_each_entry_srcu(f, &filters, node, true)
		n++;
	return n ? 0 : -ENOENT;
}

static const struct engine_ops filter_engine_ops = {
	.attach = engine_attach,
	.dump = engine_dump,
};

/* The lockdep condition says the caller holds filter_mutex. */
int filters_lowest_prio(void)
{
	struct filter *f;
	int prio = INT_MAX;

	/* ok: SRCU003 */
	list_for_each_entry_srcu(f, &filters, node, lockdep_is_held(&filter_mutex))
		prio = min(prio, f->prio);
	return prio;
}

/* Exported and lock-free: nothing says its callers do not hold filter_srcu. */
int filters_first_prio(void)
{
	struct filter *f;

	/* ok: SRCU003 */
	list_for_each_entry_rcu(f, &filters, node)
		return f->prio;
	return -1;
}

/* The update side with the caller's lock: it modifies the list too. */
void filters_remove_low(int prio)
{
	struct filter *f, *tmp;

	/* ok: SRCU003 */
	list_for_each_entry_safe(f, tmp, &filters, node)
		if (f->prio < prio)
			list_del_rcu(&f->node);
}

int policy_level(void)
{
	struct policy *p;
	int idx, level;

	idx = srcu_read_lock(&filter_srcu);
	/* ok: SRCU003 */
	p = srcu_dereference(active_policy, &filter_srcu);
	level = p ? p->level : 0;
	srcu_read_unlock(&filter_srcu, idx);
	return level;
}

/* The pointer is read again after the unlock. */
int policy_level_twice(void)
{
	struct policy *p;
	int idx, level;

	idx = srcu_read_lock(&filter_srcu);
	p = srcu_dereference(active_policy, &filter_srcu);
	level = p ? p->level : 0;
	srcu_read_unlock(&filter_srcu, idx);
	/* ruleid: SRCU003 */
	p = srcu_dereference(active_policy, &filter_srcu);
	return p ? max(level, p->level) : level;
}
