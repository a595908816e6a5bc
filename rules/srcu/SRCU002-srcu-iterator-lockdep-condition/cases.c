// SPDX-License-Identifier: GPL-2.0
/* Cases for SRCU002, written for the rule (not taken from any patch). */

DEFINE_STATIC_SRCU(foo_srcu);
DEFINE_STATIC_SRCU(bar_srcu);
static LIST_HEAD(foo_list);
static DEFINE_MUTEX(foo_mutex);

struct foo {
	struct list_head node;
	struct hlist_node hnode;
	int val;
};

int foo_sum_constant_false(void)
{
	struct foo *f;
	int idx, sum = 0;

	idx = srcu_read_lock(&foo_srcu);
	/* ruleid: SRCU002 */
	list_for_each_entry_srcu(f, &foo_list, node, false)
		sum += f->val;
	srcu_read_unlock(&foo_srcu, idx);
	return sum;
}

int foo_sum_constant_true(void)
{
	struct foo *f;
	int idx, sum = 0;

	idx = srcu_read_lock(&foo_srcu);
	/* ruleid: SRCU002 */
	list_for_each_entry_srcu(f, &foo_list, node, true) {
		sum += f->val;
	}
	srcu_read_unlock(&foo_srcu, idx);
	return sum;
}

int foo_sum_wrong_domain(void)
{
	struct foo *f;
	int idx, sum = 0;

	idx = srcu_read_lock(&foo_srcu);
	/* ruleid: SRCU002 */
	list_for_each_entry_srcu(f, &foo_list, node, srcu_read_lock_held(&bar_srcu)) {
		sum += f->val;
	}
	srcu_read_unlock(&foo_srcu, idx);
	return sum;
}

int foo_sum_hlist(struct hlist_head *head)
{
	struct foo *f;
	int idx, sum = 0;

	idx = srcu_read_lock(&foo_srcu);
	/* ruleid: SRCU002 */
	hlist_for_each_entry_srcu(f, head, hnode, 0)
		sum += f->val;
	srcu_read_unlock(&foo_srcu, idx);
	return sum;
}

int foo_sum_right(void)
{
	struct foo *f;
	int idx, sum = 0;

	idx = srcu_read_lock(&foo_srcu);
	/* ok: SRCU002 */
	list_for_each_entry_srcu(f, &foo_list, node, srcu_read_lock_held(&foo_srcu)) {
		sum += f->val;
	}
	srcu_read_unlock(&foo_srcu, idx);
	return sum;
}

int foo_sum_updater(void)
{
	struct foo *f;
	int sum = 0;

	mutex_lock(&foo_mutex);
	/* ok: SRCU002 */
	list_for_each_entry_srcu(f, &foo_list, node, lockdep_is_held(&foo_mutex))
		sum += f->val;
	mutex_unlock(&foo_mutex);
	return sum;
}

/* The caller holds foo_srcu: the condition says so, and there is no section here to compare. */
int foo_sum_caller_holds(void)
{
	struct foo *f;
	int sum = 0;

	/* ok: SRCU002 */
	list_for_each_entry_srcu(f, &foo_list, node, srcu_read_lock_held(&foo_srcu))
		sum += f->val;
	return sum;
}

/* Either reader domain is fine when the condition names both. */
int foo_sum_either(void)
{
	struct foo *f;
	int idx, sum = 0;

	idx = srcu_read_lock(&bar_srcu);
	/* ok: SRCU002 */
	list_for_each_entry_srcu(f, &foo_list, node,
				 srcu_read_lock_held(&foo_srcu) || srcu_read_lock_held(&bar_srcu))
		sum += f->val;
	srcu_read_unlock(&bar_srcu, idx);
	return sum;
}
