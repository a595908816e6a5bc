// SPDX-License-Identifier: GPL-2.0
/* RCU011 cases: cases.before.c is the pre-image; this file is it after a patch. */
#include <linux/rculist.h>
#include <linux/slab.h>
#include <linux/srcu.h>

struct foo {
	struct list_head list;
	struct rcu_head rcu;
	struct kref ref;
	int value;
};

static LIST_HEAD(foo_list);
static DEFINE_MUTEX(foo_mutex);

/* A walk whose section the patch deletes. */
int foo_sum(void)
{
	struct foo *pos;
	int total = 0;

	/* ruleid: RCU011 */
	list_for_each_entry_rcu(pos, &foo_list, list)
		total += pos->value;
	return total;
}

/* A dereference whose section the patch deletes. */
struct bar {
	struct foo __rcu *cur;
};

int bar_value(struct bar *b)
{
	struct foo *f;
	int v = 0;

	/* ruleid: RCU011 */
	f = rcu_dereference(b->cur);
	if (f)
		v = f->value;
	return v;
}

/* The section moves to the only caller: not a removal. */
static int foo_max_locked(void)
{
	struct foo *pos;
	int max = 0;

	/* ok: RCU011 */
	list_for_each_entry_rcu(pos, &foo_list, list)
		max = max > pos->value ? max : pos->value;
	return max;
}

int foo_max(void)
{
	int max;

	rcu_read_lock();
	max = foo_max_locked();
	rcu_read_unlock();
	return max;
}

/* The section goes, and the function now says its callers hold it. */
int foo_count(void)
{
	struct foo *pos;
	int n = 0;

	RCU_LOCKDEP_WARN(!rcu_read_lock_held(), "foo_count() needs rcu_read_lock()");
	/* ok: RCU011 */
	list_for_each_entry_rcu(pos, &foo_list, list)
		n++;
	return n;
}

/* A grace period the patch deletes. */
void foo_del(struct foo *f)
{
	mutex_lock(&foo_mutex);
	list_del_rcu(&f->list);
	mutex_unlock(&foo_mutex);
	/* ruleid: RCU011 */
	kfree(f);
}

/* A grace period replaced by a deferred free. */
void foo_del_deferred(struct foo *f)
{
	mutex_lock(&foo_mutex);
	list_del_rcu(&f->list);
	mutex_unlock(&foo_mutex);
	/* ok: RCU011 */
	kfree_rcu(f, rcu);
}

/* A deferred free the patch makes immediate. */
void foo_remove(struct foo *f)
{
	spin_lock(&foo_lock);
	list_del_rcu(&f->list);
	spin_unlock(&foo_lock);
	/* ruleid: RCU011 */
	kfree(f);
}

/* An immediate free after a grace period the patch adds. */
void foo_remove_sync(struct foo *f)
{
	spin_lock(&foo_lock);
	list_del_rcu(&f->list);
	spin_unlock(&foo_lock);
	synchronize_rcu();
	/* ok: RCU011 */
	kfree(f);
}

/* An unlock the patch moves above a use. */
int bar_peek(struct bar *b)
{
	struct foo *f;
	int v;

	rcu_read_lock();
	f = rcu_dereference(b->cur);
	rcu_read_unlock();
	/* ruleid: RCU011 */
	v = f->value;
	return v;
}

/* An unlock moved above a use after a reference is taken. */
int bar_get(struct bar *b, struct foo **out)
{
	struct foo *f;
	int v;

	rcu_read_lock();
	f = rcu_dereference(b->cur);
	kref_get(&f->ref);
	rcu_read_unlock();
	/* ok: RCU011 */
	v = f->value;
	*out = f;
	return v;
}

/* An SRCU domain whose cleanup the patch deletes, and one whose cleanup it moves. */
struct baz {
	struct srcu_struct srcu;
	struct srcu_struct events_srcu;
};

int baz_init(struct baz *z)
{
	int ret;

	ret = init_srcu_struct(&z->srcu);
	if (ret)
		return ret;
	ret = init_srcu_struct(&z->events_srcu);
	if (ret) {
		cleanup_srcu_struct(&z->srcu);
		return ret;
	}
	return 0;
}

void baz_stop(struct baz *z)
{
	/* ok: RCU011 */
	synchronize_srcu(&z->events_srcu);
}

void baz_release(struct baz *z)
{
	cleanup_srcu_struct(&z->events_srcu);
}

void baz_destroy(struct baz *z)
{
	/* ruleid: RCU011 */
	kfree(z);
}

/* An sb info the RCU path walk reads, its deferred free made immediate (no unpublish here). */
struct qux_sb_info {
	struct rcu_head rcu;
	char *prefix;
};

static void qux_kill_sb(struct super_block *sb)
{
	struct qux_sb_info *sbi = sb->s_fs_info;

	kill_block_super(sb);
	kfree(sbi->prefix);
	/* ruleid: RCU011 */
	kfree(sbi);
}

/* A call_rcu() at the end whose callback freed the server, undone into a kfree() further up. */
struct qux_server {
	struct rcu_head rcu;
	void *stats;
};

static void qux_delayed_free(struct rcu_head *p)
{
	struct qux_server *server = container_of(p, struct qux_server, rcu);

	free_stats(server->stats);
	kfree(server);
}

void qux_free_server(struct qux_server *server)
{
	put_cred(server->cred);
	/* ruleid: RCU011 */
	kfree(server);
	release_timer();
}

/* A deferred free made immediate after the grace period the function already waits for. */
void qux_free_synced(struct qux_server *server)
{
	unregister_server(server);
	synchronize_rcu();
	/* ok: RCU011 */
	kfree(server);
}

/* A file system's sb info through its accessor: call_rcu() made kfree(sb->s_fs_info). */
struct zed_sb_info {
	struct rcu_head rcu;
	void *table;
};

static void zed_delayed_free(struct rcu_head *p)
{
	kfree(container_of(p, struct zed_sb_info, rcu));
}

static void zed_put_super(struct super_block *sb)
{
	struct zed_sb_info *sbi = ZED_SB(sb);

	kfree(sbi->table);
	/* ruleid: RCU011 */
	kfree(sb->s_fs_info);
	sb->s_fs_info = NULL;
}

/* The same undo after the grace period the function waits for. */
static void zed_kill_sb(struct super_block *sb)
{
	struct zed_sb_info *sbi = ZED_SB(sb);

	kill_anon_super(sb);
	synchronize_rcu();
	/* ok: RCU011 */
	kfree(sb->s_fs_info);
}
