// SPDX-License-Identifier: GPL-2.0
/* Iterator macros, with and without braces, nested, as guards. */

static int count_entries(struct list_head *head)
{
	struct item *pos, *tmp;
	int n = 0;

	list_for_each_entry(pos, head, node) {
		n++;
	}
	list_for_each_entry_safe(pos, tmp, head, node)
		if (pos->dead)
			list_del(&pos->node);
	hlist_for_each_entry_rcu(pos, &table[0], hnode, lockdep_is_held(&lock))
		n += pos->weight;
	for_each_possible_cpu(cpu) {
		for_each_set_bit(bit, pos->mask, BITS_PER_LONG)
			n++;
	}
	scoped_guard(spinlock, &lock) {
		n--;
	}
	return n;
}
