// SPDX-License-Identifier: GPL-2.0
/* Cases for RCU001, written for the rule (not taken from any patch). */

#include <linux/rculist.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/xarray.h>

struct route {
	struct list_head node;
	struct rcu_head rcu;
	int dst;
};

struct table {
	spinlock_t lock;
	struct list_head routes;
	struct policy __rcu *policy;
	struct xarray ids;
};

struct policy {
	struct rcu_head rcu;
	int weight;
};

/* the readers */
int route_lookup(struct table *t, int dst)
{
	struct route *r;
	int found = 0;

	rcu_read_lock();
	list_for_each_entry_rcu(r, &t->routes, node)
		if (r->dst == dst)
			found = 1;
	rcu_read_unlock();
	return found;
}

int policy_weight(struct table *t)
{
	struct policy *p;
	int w;

	rcu_read_lock();
	p = rcu_dereference(t->policy);
	w = p ? p->weight : 0;
	rcu_read_unlock();
	return w;
}

int id_weight(struct table *t, unsigned long id)
{
	struct policy *p;
	int w = 0;

	rcu_read_lock();
	p = xa_load(&t->ids, id);
	if (p)
		w = p->weight;
	rcu_read_unlock();
	return w;
}

/* An entry unlinked and freed at once: a reader may still be on it. */
void route_del(struct table *t, struct route *r)
{
	spin_lock(&t->lock);
	list_del_rcu(&r->node);
	spin_unlock(&t->lock);
	/* ruleid: RCU001 */
	kfree(r);
}

/* The same, with the grace period. */
void route_del_sync(struct table *t, struct route *r)
{
	spin_lock(&t->lock);
	list_del_rcu(&r->node);
	spin_unlock(&t->lock);
	synchronize_rcu();
	/* ok: RCU001 */
	kfree(r);
}

/* The same, deferred. */
void route_del_deferred(struct table *t, struct route *r)
{
	spin_lock(&t->lock);
	list_del_rcu(&r->node);
	spin_unlock(&t->lock);
	/* ok: RCU001 */
	kfree_rcu(r, rcu);
}

/* A whole list torn down in a loop. */
void routes_flush(struct table *t)
{
	struct route *r, *tmp;

	list_for_each_entry_safe(r, tmp, &t->routes, node) {
		list_del_rcu(&r->node);
		/* ruleid: RCU001 */
		kfree(r);
	}
}

/*
 * Freed at once on one path and after a grace period on the other: a choice the author made
 * (here: no reader can exist while the table is dying), not a forgotten grace period.
 */
void routes_flush_dying(struct table *t, bool dying)
{
	struct route *r, *tmp;

	list_for_each_entry_safe(r, tmp, &t->routes, node) {
		list_del_rcu(&r->node);
		if (dying)
			/* ok: RCU001 */
			kfree(r);
		else
			kfree_rcu(r, rcu);
	}
}

/* A teardown whose condition says no one else can reach the object. */
void policy_teardown(struct table *t)
{
	struct policy *old = rcu_dereference_protected(t->policy, 1);

	/* ok: RCU001 */
	kfree(old);
	RCU_INIT_POINTER(t->policy, NULL);
}

/* The old policy freed after the slot is switched, without waiting. */
void policy_set(struct table *t, struct policy *new)
{
	struct policy *old;

	spin_lock(&t->lock);
	old = rcu_dereference_protected(t->policy, lockdep_is_held(&t->lock));
	rcu_assign_pointer(t->policy, new);
	spin_unlock(&t->lock);
	/* ruleid: RCU001 */
	kfree(old);
}

/* The old policy freed first, the slot cleared after: readers load freed memory until then. */
void policy_clear(struct table *t)
{
	spin_lock(&t->lock);
	/* ruleid: RCU001 */
	kfree(rcu_access_pointer(t->policy));
	RCU_INIT_POINTER(t->policy, NULL);
	spin_unlock(&t->lock);
	synchronize_rcu();
}

/* The right order. */
void policy_clear_sync(struct table *t)
{
	struct policy *old;

	spin_lock(&t->lock);
	old = rcu_dereference_protected(t->policy, lockdep_is_held(&t->lock));
	RCU_INIT_POINTER(t->policy, NULL);
	spin_unlock(&t->lock);
	synchronize_rcu();
	/* ok: RCU001 */
	kfree(old);
}

/* rcu_replace_pointer() hands back the old value: still visible to readers. */
void policy_swap(struct table *t, struct policy *new)
{
	struct policy *old;

	old = rcu_replace_pointer(t->policy, new, lockdep_is_held(&t->lock));
	/* ruleid: RCU001 */
	kfree(old);
}

/* An xarray entry the file looks up under rcu_read_lock(). */
void id_remove(struct table *t, unsigned long id)
{
	struct policy *p;

	p = xa_erase(&t->ids, id);
	/* ruleid: RCU001 */
	kfree(p);
}

void id_remove_rcu(struct table *t, unsigned long id)
{
	struct policy *p;

	p = xa_erase(&t->ids, id);
	/* ok: RCU001 */
	kfree_rcu(p, rcu);
}

/* The container goes first, then a grace period, then its entries: no reader can reach them. */
void table_destroy(struct table *t)
{
	struct route *r, *tmp;

	synchronize_rcu();
	list_for_each_entry_safe(r, tmp, &t->routes, node) {
		list_del_rcu(&r->node);
		/* ok: RCU001 */
		kfree(r);
	}
}

/* A helper that frees its argument counts as a free; one that waits counts as a grace period. */
static void route_free(struct route *r)
{
	kfree(r);
}

static void route_wait(void)
{
	synchronize_rcu();
}

void route_del_helper(struct table *t, struct route *r)
{
	list_del_rcu(&r->node);
	/* ruleid: RCU001 */
	route_free(r);
}

void route_del_helper_wait(struct table *t, struct route *r)
{
	list_del_rcu(&r->node);
	route_wait();
	/* ok: RCU001 */
	route_free(r);
}

/* An RCU callback frees after a grace period by construction. */
static void route_free_rcu(struct rcu_head *head)
{
	struct route *r = container_of(head, struct route, rcu);

	/* ok: RCU001 */
	kfree(r);
}

struct cache {
	struct xarray slots;
	bool rcu_freed;
};

struct item {
	struct rcu_head rcu;
	int refs;
};

/* Looked up under RCU... */
int cache_peek(struct cache *c, unsigned long id)
{
	struct item *it;
	int refs = 0;

	rcu_read_lock();
	/* ruleid: RCU001 */
	it = xa_load(&c->slots, id);
	if (it)
		refs = it->refs;
	rcu_read_unlock();
	return refs;
}

/* ...but removed with a grace period on one path only; the caller frees it on the other. */
void cache_drop(struct cache *c, unsigned long id, struct item *it)
{
	xa_erase(&c->slots, id);
	if (c->rcu_freed)
		kfree_rcu(it, rcu);
}

struct pool {
	struct xarray slots;
};

/* Looked up under RCU and removed with a grace period on every path. */
int pool_peek(struct pool *p, unsigned long id)
{
	struct item *it;
	int refs = 0;

	rcu_read_lock();
	/* ok: RCU001 */
	it = xa_load(&p->slots, id);
	if (it)
		refs = it->refs;
	rcu_read_unlock();
	return refs;
}

void pool_drop(struct pool *p, unsigned long id, struct item *it)
{
	xa_erase(&p->slots, id);
	kfree_rcu(it, rcu);
}

/* Sweep idioms: lists and tables whose readers in the file cannot be racing with the free. */

struct sensor {
	struct list_head node;
	struct list_head probe_node;	/* on bank->probes */
	int id;
};

struct bank {
	struct mutex lock;
	struct list_head sensors;
	struct list_head probes;
	struct xarray slots;
};

/* Every walk of bank->sensors holds bank->lock (the walker's callers all take it). */
static struct sensor *bank_find(struct bank *b, int id)
{
	struct sensor *s;

	list_for_each_entry_rcu(s, &b->sensors, node)
		if (s->id == id)
			return s;
	return NULL;
}

int bank_sensor_id(struct bank *b, int id)
{
	struct sensor *s;
	int ret;

	mutex_lock(&b->lock);
	s = bank_find(b, id);
	ret = s ? s->id : -1;
	mutex_unlock(&b->lock);
	return ret;
}

void bank_del(struct bank *b, int id)
{
	struct sensor *s;

	mutex_lock(&b->lock);
	s = bank_find(b, id);
	if (s) {
		list_del_rcu(&s->node);
		/* ok: RCU001 */
		kfree(s);
	}
	mutex_unlock(&b->lock);
}

struct bank *bank_alloc(void);
int probe_init(struct sensor *s);

/* The constructor's error path: the list belongs to a bank nobody else has seen yet. */
struct bank *bank_open(int n)
{
	struct bank *b;
	struct sensor *s;

	b = bank_alloc();
	if (!b)
		return NULL;
	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return NULL;
	list_add_tail_rcu(&s->probe_node, &b->probes);
	if (probe_init(s)) {
		list_del_rcu(&s->probe_node);
		/* ok: RCU001 */
		kfree(s);
		return NULL;
	}
	return b;
}

/* The same error path on a list of an object the caller passed in: readers may walk it. */
int bank_add_probe(struct bank *b)
{
	struct sensor *s;

	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	list_add_tail_rcu(&s->probe_node, &b->probes);
	if (probe_init(s)) {
		list_del_rcu(&s->probe_node);
		/* ruleid: RCU001 */
		kfree(s);
		return -EIO;
	}
	return 0;
}

/* The only RCU lookup of the table tests the result for NULL and looks it up again locked. */
int bank_slot_add(struct bank *b, unsigned long id, struct sensor *new)
{
	struct sensor *s;

	rcu_read_lock();
	s = xa_load(&b->slots, id);
	rcu_read_unlock();
	if (s)
		return -EEXIST;
	mutex_lock(&b->lock);
	s = xa_load(&b->slots, id);
	if (!s)
		xa_store(&b->slots, id, new, GFP_KERNEL);
	mutex_unlock(&b->lock);
	return 0;
}

void bank_slot_del(struct bank *b, unsigned long id)
{
	struct sensor *s;

	mutex_lock(&b->lock);
	s = xa_erase(&b->slots, id);
	mutex_unlock(&b->lock);
	/* ok: RCU001 */
	kfree(s);
}

/* A walk that takes RCU or the lock (`lockdep_is_held()`), called under the lock by the updater and
 * under rcu_read_lock() by the receive path: the receive path is an RCU reader of the list. */
struct hook {
	struct list_head node;
	int proto;
};

static LIST_HEAD(hooks);
static DEFINE_SPINLOCK(hooks_lock);

static struct hook *hook_find(int proto)
{
	struct hook *h;

	list_for_each_entry_rcu(h, &hooks, node, lockdep_is_held(&hooks_lock))
		if (h->proto == proto)
			return h;
	return NULL;
}

int hook_rcv(int proto)
{
	struct hook *h;
	int ret = -ENOENT;

	rcu_read_lock();
	h = hook_find(proto);
	if (h)
		ret = h->proto;
	rcu_read_unlock();
	return ret;
}

void hook_unregister(struct hook *h)
{
	spin_lock_bh(&hooks_lock);
	list_del_rcu(&h->node);
	spin_unlock_bh(&hooks_lock);
	/* ruleid: RCU001 */
	kfree(h);
}
