// SPDX-License-Identifier: GPL-2.0
/* Cases for SRCU001, written for the rule (not taken from any patch). */

#include <linux/rculist.h>
#include <linux/srcu.h>

DEFINE_STATIC_SRCU(tbl_srcu);
DEFINE_STATIC_SRCU(cfg_srcu);
static LIST_HEAD(tbl);

struct ent {
	struct list_head node;
	struct srcu_struct users;
	int key;
	int (*cb)(struct ent *e);
};

struct cfg {
	int limit;
};

static struct cfg __rcu *cur_cfg;

/* An early return inside the section skips the unlock. */
int tbl_lookup(int key)
{
	struct ent *e;
	int idx, ret = -ENOENT;

	idx = srcu_read_lock(&tbl_srcu);
	list_for_each_entry_srcu(e, &tbl, node, srcu_read_lock_held(&tbl_srcu)) {
		if (e->key < 0)
			/* ruleid: SRCU001 */
			return -EINVAL;
		if (e->key == key) {
			ret = e->cb(e);
			break;
		}
	}
	srcu_read_unlock(&tbl_srcu, idx);
	/* ok: SRCU001 */
	return ret;
}

/* The inner section of a nested pair is skipped by a continue. */
int tbl_call_all(void)
{
	struct ent *e;
	int outer, inner, n = 0;

	outer = srcu_read_lock(&tbl_srcu);
	list_for_each_entry_srcu(e, &tbl, node, srcu_read_lock_held(&tbl_srcu)) {
		inner = srcu_read_lock(&e->users);
		if (!e->cb)
			/* ruleid: SRCU001 */
			continue;
		n += e->cb(e);
		srcu_read_unlock(&e->users, inner);
	}
	srcu_read_unlock(&tbl_srcu, outer);
	return n;
}

/* The same nesting done right: the continue comes before the inner lock. */
int tbl_call_all_ok(void)
{
	struct ent *e;
	int outer, inner, n = 0;

	outer = srcu_read_lock(&tbl_srcu);
	list_for_each_entry_srcu(e, &tbl, node, srcu_read_lock_held(&tbl_srcu)) {
		if (!e->cb)
			/* ok: SRCU001 */
			continue;
		inner = srcu_read_lock(&e->users);
		n += e->cb(e);
		srcu_read_unlock(&e->users, inner);
		if (n > 100)
			/* ok: SRCU001 */
			break;
	}
	srcu_read_unlock(&tbl_srcu, outer);
	return n;
}

/* The error label releases nothing: the goto after the lock leaks it. */
int cfg_apply(int want)
{
	struct cfg *c;
	int idx, err = 0;

	if (want < 0)
		/* ok: SRCU001 */
		goto out;
	idx = srcu_read_lock(&cfg_srcu);
	c = srcu_dereference(cur_cfg, &cfg_srcu);
	if (!c) {
		err = -ENODEV;
		/* ruleid: SRCU001 */
		goto out;
	}
	err = want > c->limit ? -E2BIG : 0;
	srcu_read_unlock(&cfg_srcu, idx);
out:
	return err;
}

/* Error labels that unlock in the right order. */
int cfg_apply_labels(int want)
{
	struct cfg *c;
	int idx, err = 0;

	idx = srcu_read_lock(&cfg_srcu);
	c = srcu_dereference(cur_cfg, &cfg_srcu);
	if (!c) {
		err = -ENODEV;
		/* ok: SRCU001 */
		goto unlock;
	}
	err = want > c->limit ? -E2BIG : 0;
unlock:
	srcu_read_unlock(&cfg_srcu, idx);
	return err;
}

/* The index of one domain handed to the other. */
int cfg_limit_of(struct ent *e)
{
	struct cfg *c;
	int idx, limit;

	idx = srcu_read_lock(&cfg_srcu);
	c = srcu_dereference(cur_cfg, &cfg_srcu);
	limit = c ? c->limit : 0;
	/* ruleid: SRCU001 */
	srcu_read_unlock(&tbl_srcu, idx);
	return limit;
}

/* Unlocked on the error path, then again at the common exit. */
int cfg_check(int want)
{
	struct cfg *c;
	int idx = srcu_read_lock(&cfg_srcu);
	int ret = 0;

	c = srcu_dereference(cur_cfg, &cfg_srcu);
	if (!c) {
		srcu_read_unlock(&cfg_srcu, idx);
		ret = -ENODEV;
		goto out;
	}
	ret = want <= c->limit;
out:
	/* ruleid: SRCU001 */
	srcu_read_unlock(&cfg_srcu, idx);
	return ret;
}

/* Taken and dropped on the same condition: the paths that would leak are not real. */
int cfg_maybe_locked(bool locked, int want)
{
	int idx = 0, ret;

	if (locked)
		idx = srcu_read_lock(&cfg_srcu);
	ret = want > 0;
	if (locked)
		srcu_read_unlock(&cfg_srcu, idx);
	/* ok: SRCU001 */
	return ret;
}

/* A lock helper: the caller releases with tbl_unlock(). */
int tbl_lock(void)
{
	/* ok: SRCU001 */
	return srcu_read_lock(&tbl_srcu);
}

void tbl_unlock(int idx)
{
	/* ok: SRCU001 */
	srcu_read_unlock(&tbl_srcu, idx);
}

/* NMI-safe flavour, early return. */
int tbl_peek_nmi(void)
{
	struct ent *e;
	int idx, key;

	idx = srcu_read_lock_nmisafe(&tbl_srcu);
	e = list_first_or_null_rcu(&tbl, struct ent, node);
	if (!e)
		/* ruleid: SRCU001 */
		return -ENOENT;
	key = e->key;
	srcu_read_unlock_nmisafe(&tbl_srcu, idx);
	return key;
}

/* A retry written as a backward goto; every exit unlocks. */
int tbl_retry(int key)
{
	struct ent *e;
	int idx, tries = 0, ret;

	idx = srcu_read_lock(&tbl_srcu);
again:
	ret = -ENOENT;
	list_for_each_entry_srcu(e, &tbl, node, srcu_read_lock_held(&tbl_srcu)) {
		if (e->key == key) {
			ret = e->cb(e);
			break;
		}
	}
	if (ret == -EAGAIN && tries++ < 3)
		/* ok: SRCU001 */
		goto again;
	srcu_read_unlock(&tbl_srcu, idx);
	return ret;
}

/* Breaking out keeps the entry's section, and nothing after the loop releases it. */
int tbl_find_busy(void)
{
	struct ent *e;
	int outer, inner, busy = 0;

	outer = srcu_read_lock(&tbl_srcu);
	list_for_each_entry_srcu(e, &tbl, node, srcu_read_lock_held(&tbl_srcu)) {
		inner = srcu_read_lock(&e->users);
		busy = e->cb(e);
		if (busy)
			/* ruleid: SRCU001 */
			break;
		srcu_read_unlock(&e->users, inner);
	}
	srcu_read_unlock(&tbl_srcu, outer);
	return busy;
}

/*
 * Ownership handed over on purpose: none of these is a leak.
 */

/* The caller gets the index through a pointer and calls dev_exit() with it. */
bool dev_enter(struct ent *e, int *idx)
{
	*idx = srcu_read_lock(&e->users);
	if (!e->cb) {
		srcu_read_unlock(&e->users, *idx);
		return false;
	}
	/* ok: SRCU001 */
	return true;
}

void dev_exit(struct ent *e, int idx)
{
	srcu_read_unlock(&e->users, idx);
}

/* Annotated: returns holding the section on success. */
struct ent *ent_get(struct ent *e, int *index)
	__acquires(e->users)
{
	int idx = srcu_read_lock(&e->users);

	if (e->key < 0) {
		srcu_read_unlock(&e->users, idx);
		return NULL;
	}
	*index = idx;
	/* ok: SRCU001 */
	return e;
}

static int ent_call_and_release(struct ent *e, int idx)
{
	int ret = e->cb(e);

	srcu_read_unlock(&e->users, idx);
	return ret;
}

/* The index goes to a callee that releases it. */
int ent_call(struct ent *e)
{
	int idx = srcu_read_lock(&e->users);

	if (e->key > 0)
		/* ok: SRCU001 */
		return ent_call_and_release(e, idx);
	srcu_read_unlock(&e->users, idx);
	return 0;
}

struct ent_req {
	struct ent *e;
	int idx;
};

/* The index is stored in the request; committing the request releases it. */
struct ent_req *ent_req_start(struct ent_req *req, struct ent *e)
{
	int idx = srcu_read_lock(&e->users);

	if (!e->cb) {
		srcu_read_unlock(&e->users, idx);
		return NULL;
	}
	req->e = e;
	req->idx = idx;
	/* ok: SRCU001 */
	return req;
}
