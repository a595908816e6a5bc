// SPDX-License-Identifier: GPL-2.0
/* Cases for RCU004, written for the rule (not taken from any patch). */

#include <linux/rculist.h>
#include <linux/rcupdate.h>
#include <linux/spinlock.h>

struct rule {
	struct list_head node;
	int prio;
};

struct ruleset {
	spinlock_t lock;
	struct list_head rules;
	struct rule __rcu *deflt;
};

/* The walk comes after the function's own section ends. */
int ruleset_max_prio(struct ruleset *rs)
{
	struct rule *r;
	int max = 0;

	rcu_read_lock();
	r = rcu_dereference(rs->deflt);
	if (r)
		max = r->prio;
	rcu_read_unlock();
	/* ruleid: RCU004 */
	list_for_each_entry_rcu(r, &rs->rules, node)
		if (r->prio > max)
			max = r->prio;
	return max;
}

/* Inside the section: fine. */
int ruleset_count(struct ruleset *rs)
{
	struct rule *r;
	int n = 0;

	rcu_read_lock();
	/* ok: RCU004 */
	list_for_each_entry_rcu(r, &rs->rules, node)
		n++;
	rcu_read_unlock();
	return n;
}

/* Under the update-side lock, with no RCU section: the wrong accessor. */
static void ruleset_set_default(struct ruleset *rs, struct rule *new)
{
	struct rule *old;

	spin_lock(&rs->lock);
	/* ruleid: RCU004 */
	old = rcu_dereference(rs->deflt);
	if (old != new)
		rcu_assign_pointer(rs->deflt, new);
	spin_unlock(&rs->lock);
}

int ruleset_reset(struct ruleset *rs, struct rule *new)
{
	ruleset_set_default(rs, new);
	return 0;
}

/* The same with the right accessor. */
void ruleset_clear_default(struct ruleset *rs)
{
	struct rule *old;

	spin_lock(&rs->lock);
	/* ok: RCU004 */
	old = rcu_dereference_protected(rs->deflt, lockdep_is_held(&rs->lock));
	RCU_INIT_POINTER(rs->deflt, NULL);
	spin_unlock(&rs->lock);
}

/* A helper whose only caller holds rcu_read_lock(): the caller's section protects it. */
static int rule_default_prio(struct ruleset *rs)
{
	/* ok: RCU004 */
	struct rule *r = rcu_dereference(rs->deflt);

	return r ? r->prio : 0;
}

int ruleset_default_prio(struct ruleset *rs)
{
	int prio;

	rcu_read_lock();
	prio = rule_default_prio(rs);
	rcu_read_unlock();
	return prio;
}

/* A helper whose only caller is a callback: the kernel may call it in a read-side section. */
static int rule_first_prio(struct ruleset *rs)
{
	struct rule *r;

	/* ok: RCU004 */
	list_for_each_entry_rcu(r, &rs->rules, node)
		return r->prio;
	return 0;
}

static int ruleset_show(struct ruleset *rs)
{
	return rule_first_prio(rs);
}

/* A helper whose only caller calls it after its own section ended. */
static int rule_last_prio(struct ruleset *rs)
{
	struct rule *r;
	int prio = 0;

	/* ruleid: RCU004 */
	list_for_each_entry_rcu(r, &rs->rules, node)
		prio = r->prio;
	return prio;
}

int ruleset_span(struct ruleset *rs)
{
	struct rule *r;
	int first = 0;

	rcu_read_lock();
	r = rcu_dereference(rs->deflt);
	if (r)
		first = r->prio;
	rcu_read_unlock();
	return rule_last_prio(rs) - first;
}

struct ruleset_ops {
	int (*show)(struct ruleset *rs);
};

static const struct ruleset_ops ruleset_ops = {
	.show = ruleset_show,
};

/* No evidence either way: exported, no caller here; the caller may hold rcu_read_lock(). */
int ruleset_first_prio_rcu(struct ruleset *rs)
{
	struct rule *r;

	/* ok: RCU004 */
	list_for_each_entry_rcu(r, &rs->rules, node)
		return r->prio;
	return 0;
}

/* Documented by an assertion. */
int ruleset_peek(struct ruleset *rs)
{
	struct rule *r;

	RCU_LOCKDEP_WARN(!rcu_read_lock_held(), "ruleset_peek() needs rcu_read_lock()");
	/* ok: RCU004 */
	r = rcu_dereference(rs->deflt);
	return r ? r->prio : 0;
}

/* A function that may sleep is never called inside a read-side section: nobody holds it here. */
int ruleset_dump(struct ruleset *rs, char __user *buf)
{
	struct rule *r;
	int n = 0;

	/* ruleid: RCU004 */
	list_for_each_entry_rcu(r, &rs->rules, node)
		n++;
	if (copy_to_user(buf, &n, sizeof(n)))
		return -EFAULT;
	return n;
}

/* On the packet path the caller's read-side section is there anyway: a second, shorter one nested in
 * it says nothing about the lines outside it. */
int ruleset_rx_classify(struct ruleset *rs)
{
	struct rule *r;
	int max = 0;

	rcu_read_lock();
	r = rcu_dereference(rs->deflt);
	if (r)
		max = r->prio;
	rcu_read_unlock();
	/* ok: RCU004 */
	list_for_each_entry_rcu(r, &rs->rules, node)
		if (r->prio > max)
			max = r->prio;
	return max;
}

/* Interrupts off: an RCU reader (rcu_read_lock_any_held() is true, and no grace period can end). */
int ruleset_count_irqsoff(struct ruleset *rs)
{
	struct rule *r;
	unsigned long flags;
	int n = 0;

	might_sleep();
	raw_local_irq_save(flags);
	/* ok: RCU004 */
	list_for_each_entry_rcu(r, &rs->rules, node)
		n++;
	raw_local_irq_restore(flags);
	return n;
}

/* The only caller holds an SRCU section over the walk: SRCU003 speaks for the flavour. */
DEFINE_STATIC_SRCU(ruleset_srcu);

static int ruleset_count_srcu(struct ruleset *rs)
{
	struct rule *r;
	int n = 0;

	might_sleep();
	/* ok: RCU004 */
	list_for_each_entry_rcu(r, &rs->rules, node)
		n++;
	return n;
}

int ruleset_stop(struct ruleset *rs)
{
	int idx, n;

	idx = srcu_read_lock(&ruleset_srcu);
	n = ruleset_count_srcu(rs);
	srcu_read_unlock(&ruleset_srcu, idx);
	return n;
}

/* An updater on the hook path reads under its own lock inside the hook's read-side section. */
struct rule *ruleset_swap_default(struct ruleset *rs, struct rule *new)
{
	struct rule *old;

	spin_lock(&rs->lock);
	/* ok: RCU004 */
	old = rcu_dereference(rs->deflt);
	rcu_assign_pointer(rs->deflt, new);
	spin_unlock(&rs->lock);
	return old;
}

unsigned int ruleset_hook_in(struct ruleset *rs, struct rule *new)
{
	return ruleset_swap_default(rs, new) ? 1 : 0;
}
