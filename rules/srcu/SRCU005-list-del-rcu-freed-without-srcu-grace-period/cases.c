// SPDX-License-Identifier: GPL-2.0
/* Cases for SRCU005, written for the rule (not taken from any patch). */

#include <linux/rculist.h>
#include <linux/slab.h>
#include <linux/srcu.h>

DEFINE_STATIC_SRCU(hook_srcu);
DEFINE_STATIC_SRCU(unrelated_srcu);
static DEFINE_MUTEX(hook_mutex);
static LIST_HEAD(hooks);
static HLIST_HEAD(watchers);
static LIST_HEAD(plain_rcu_list);

struct hook {
	struct list_head node;
	struct srcu_struct inner;
	struct rcu_head rcu;
	int (*fn)(void *arg);
};

struct watcher {
	struct hlist_node link;
	struct rcu_head rcu;
	unsigned long mask;
};

struct item {
	struct list_head entry;
	struct rcu_head rcu;
};

int hooks_run(void *arg)
{
	struct hook *h;
	int idx, ret = 0;

	idx = srcu_read_lock(&hook_srcu);
	list_for_each_entry_srcu(h, &hooks, node, srcu_read_lock_held(&hook_srcu)) {
		ret = h->fn(arg);
		if (ret)
			break;
	}
	srcu_read_unlock(&hook_srcu, idx);
	return ret;
}

int hook_add(struct hook *h)
{
	mutex_lock(&hook_mutex);
	list_add_tail_rcu(&h->node, &hooks);
	mutex_unlock(&hook_mutex);
	return 0;
}

/* Waits for the entry's own srcu_struct, not for the readers of the list. */
void hook_remove_wrong_domain(struct hook *victim)
{
	mutex_lock(&hook_mutex);
	list_del_rcu(&victim->node);
	mutex_unlock(&hook_mutex);
	synchronize_srcu(&victim->inner);
	/* ruleid: SRCU005 */
	kfree(victim);
}

/* kfree_rcu() waits for RCU readers, and SRCU readers may sleep right through that. */
void hook_remove_kfree_rcu(struct hook *h)
{
	mutex_lock(&hook_mutex);
	list_del_rcu(&h->node);
	mutex_unlock(&hook_mutex);
	/* ruleid: SRCU005 */
	kfree_rcu(h, rcu);
}

/* The early return skips the grace period; the normal path is right. */
void hook_remove_maybe_fast(struct hook *h, bool fast)
{
	mutex_lock(&hook_mutex);
	list_del_rcu(&h->node);
	mutex_unlock(&hook_mutex);
	if (fast) {
		synchronize_srcu(&unrelated_srcu);
		/* ruleid: SRCU005 */
		kfree(h);
		return;
	}
	synchronize_srcu_expedited(&hook_srcu);
	/* ok: SRCU005 */
	kfree(h);
}

static void hook_free(struct hook *h)
{
	/* ok: SRCU005 */
	kfree(h);
}

/* Freed through a file-local helper that waits for nothing. */
void hook_remove_helper(struct hook *h)
{
	mutex_lock(&hook_mutex);
	list_del_rcu(&h->node);
	mutex_unlock(&hook_mutex);
	/* ruleid: SRCU005 */
	hook_free(h);
}

static void hook_free_cb(struct rcu_head *head)
{
	struct hook *h = container_of(head, struct hook, rcu);

	/* ok: SRCU005 */
	kfree(h);
}

/* call_srcu() on the readers' domain defers the free past every reader. */
void hook_remove_deferred(struct hook *h)
{
	mutex_lock(&hook_mutex);
	list_del_rcu(&h->node);
	mutex_unlock(&hook_mutex);
	call_srcu(&hook_srcu, &h->rcu, hook_free_cb);
}

static void hooks_sync(void)
{
	synchronize_srcu(&hook_srcu);
}

/* The grace period comes from a helper. */
void hook_remove_synced(struct hook *h)
{
	mutex_lock(&hook_mutex);
	list_del_rcu(&h->node);
	mutex_unlock(&hook_mutex);
	hooks_sync();
	/* ok: SRCU005 */
	kfree(h);
}

/* An hlist walked with the _rcu iterator whose lockdep condition names the SRCU domain. */
bool watchers_match(unsigned long mask)
{
	struct watcher *w;

	hlist_for_each_entry_rcu(w, &watchers, link, srcu_read_lock_held(&hook_srcu))
		if (w->mask & mask)
			return true;
	return false;
}

void watcher_remove(struct watcher *w)
{
	mutex_lock(&hook_mutex);
	hlist_del_rcu(&w->link);
	mutex_unlock(&hook_mutex);
	synchronize_rcu();
	/* ruleid: SRCU005 */
	kfree(w);
}

/* A list read under plain RCU: kfree_rcu() is the right tool, nothing SRCU here. */
int items_count(void)
{
	struct item *it;
	int n = 0;

	rcu_read_lock();
	list_for_each_entry_rcu(it, &plain_rcu_list, entry)
		n++;
	rcu_read_unlock();
	return n;
}

void item_remove(struct item *it)
{
	list_del_rcu(&it->entry);
	/* ok: SRCU005 */
	kfree_rcu(it, rcu);
}
