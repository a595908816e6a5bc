// SPDX-License-Identifier: GPL-2.0
/* Cases for RCU003, written for the rule (not taken from any patch). */

#include <linux/rculist.h>
#include <linux/rcupdate.h>
#include <linux/seq_file.h>

struct peer {
	struct list_head node;
	int id;
	int state;
};

static LIST_HEAD(peers);

/* An error return inside the section skips the unlock. */
int peer_state(int id)
{
	struct peer *p;
	int state = -ENOENT;

	rcu_read_lock();
	list_for_each_entry_rcu(p, &peers, node) {
		if (p->id < 0)
			/* ruleid: RCU003 */
			return -EINVAL;
		if (p->id == id) {
			state = p->state;
			break;
		}
	}
	rcu_read_unlock();
	/* ok: RCU003 */
	return state;
}

/* A goto to the common exit that jumps past the unlock. */
int peer_check(int id)
{
	struct peer *p;
	int err = 0;

	rcu_read_lock_bh();
	p = list_first_or_null_rcu(&peers, struct peer, node);
	if (!p)
		/* ruleid: RCU003 */
		goto out;
	err = p->state;
	rcu_read_unlock_bh();
out:
	return err;
}

/* Unlocked on the error path and again below: a double unlock (not reported for classic RCU). */
int peer_first(void)
{
	struct peer *p;
	int id;

	rcu_read_lock();
	p = list_first_or_null_rcu(&peers, struct peer, node);
	if (!p) {
		rcu_read_unlock();
		id = -1;
	} else {
		id = p->id;
	}
	/* todoruleid: RCU003 */
	rcu_read_unlock();
	return id;
}

/* Every path releases it. */
int peer_count(void)
{
	struct peer *p;
	int n = 0;

	rcu_read_lock();
	list_for_each_entry_rcu(p, &peers, node) {
		if (p->state < 0)
			continue;
		n++;
	}
	rcu_read_unlock();
	/* ok: RCU003 */
	return n;
}

/* seq_file: start takes the lock, stop releases it. */
static void *peers_seq_start(struct seq_file *s, loff_t *pos)
{
	rcu_read_lock();
	if (!*pos) {
		rcu_read_unlock();
		return NULL;
	}
	/* ok: RCU003 */
	return seq_list_start_rcu(&peers, *pos);
}

static void peers_seq_stop(struct seq_file *s, void *v)
{
	rcu_read_unlock();
}

static const struct seq_operations peers_seq_ops = {
	.start = peers_seq_start,
	.stop = peers_seq_stop,
};

/* Annotated: returns in the section on success. */
struct peer *peer_find_locked(int id)
	__acquires(RCU)
{
	struct peer *p;

	rcu_read_lock();
	list_for_each_entry_rcu(p, &peers, node)
		if (p->id == id)
			/* ok: RCU003 */
			return p;
	rcu_read_unlock();
	return NULL;
}

/* Locked only when asked, unlocked the same way: the paths that mix them are impossible. */
int peer_state_maybe_locked(struct peer *p, bool locked)
{
	int state;

	if (!locked)
		rcu_read_lock();
	state = p->state;
	if (!locked)
		rcu_read_unlock();
	/* ok: RCU003 */
	return state;
}

/* Found it: returns true, still in the section. */
bool peer_exists(int id)
{
	struct peer *p;

	rcu_read_lock();
	list_for_each_entry_rcu(p, &peers, node)
		if (p->id == id)
			/* ruleid: RCU003 */
			return true;
	rcu_read_unlock();
	return false;
}

/* Returns the object it found in the section; the caller unlocks (peer_put_rcu()). */
struct peer *peer_find_rcu(int id)
{
	struct peer *p;

	rcu_read_lock();
	list_for_each_entry_rcu(p, &peers, node)
		if (p->id == id)
			/* ok: RCU003 */
			return p;
	rcu_read_unlock();
	return NULL;
}

/*
 * A global lock's wrapper, called with no argument (cpus_read_unlock(), rtnl_unlock()), is a lock
 * of its own: it ends no RCU section, so the goto that skips rcu_read_unlock() still leaks it.
 */
int peer_on_cpu(int cpu, int id)
{
	struct peer *p;
	int ret = 0;

	cpus_read_lock();
	if (!cpu_online(cpu))
		goto out;
	rcu_read_lock();
	p = list_first_or_null_rcu(&peers, struct peer, node);
	if (!p || p->id != id)
		/* ruleid: RCU003 */
		goto out;
	ret = p->state;
	rcu_read_unlock();
out:
	cpus_read_unlock();
	return ret;
}

/*
 * The put at the common exit drops a reference taken before the section: it ends no RCU section,
 * so the goto that skips rcu_read_unlock() leaks it. (A put of what the section looked up may be
 * the section's end, as a getter's put ends the section its getter took: peer_get_locked() below.)
 */
int peer_attr_state(struct peer_attr *attr, int id)
{
	struct peer *p;
	int ret = -ENOENT;

	attr_get(attr);
	rcu_read_lock();
	p = list_first_or_null_rcu(&peers, struct peer, node);
	if (!p || p->id != id)
		/* ruleid: RCU003 */
		goto out;
	ret = p->state;
	rcu_read_unlock();
out:
	attr_put(attr);
	return ret;
}

int peer_get_locked(int id)
{
	struct peer *p;
	int ret;

	rcu_read_lock();
	p = peer_lookup_get(id);
	if (!p) {
		rcu_read_unlock();
		return -ENOENT;
	}
	ret = p->state;
	/* ok: RCU003 */
	peer_lookup_put(p);
	return ret;
}
