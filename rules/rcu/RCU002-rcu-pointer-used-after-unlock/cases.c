// SPDX-License-Identifier: GPL-2.0
/* Cases for RCU002, written for the rule (not taken from any patch). */

#include <linux/kref.h>
#include <linux/rculist.h>
#include <linux/rcupdate.h>
#include <linux/srcu.h>
#include <linux/xarray.h>

struct port {
	struct rcu_head rcu;
	struct list_head node;
	struct kref ref;
	spinlock_t lock;
	bool dead;
	int id;
	int stats;
};

struct hub {
	struct list_head ports;
	struct port __rcu *active;
	struct xarray by_id;
	struct srcu_struct srcu;
};

struct port *hub_port_by_id(struct hub *h, int id);
void port_release(struct kref *ref);

/* The file retires ports through RCU: readers must stay in their section while they use one. */
void hub_port_del(struct hub *h, struct port *p)
{
	list_del_rcu(&p->node);
	kfree_rcu(p, rcu);
}

/* The lookup is dropped at once, and the port locked and used afterwards. */
void hub_count(struct hub *h, int id)
{
	struct port *p;

	rcu_read_lock();
	p = hub_port_by_id(h, id);
	rcu_read_unlock();
	if (!p)
		return;
	/* ruleid: RCU002 */
	spin_lock(&p->lock);
	p->stats++;
	spin_unlock(&p->lock);
}

/*
 * The same without the lock: a lookup known only by its name may return an object a lock of the
 * caller keeps alive (the update side's mutex); without more evidence this is left alone.
 */
int hub_peek(struct hub *h, int id)
{
	struct port *p;

	rcu_read_lock();
	p = hub_port_by_id(h, id);
	rcu_read_unlock();
	/* ok: RCU002 */
	return p ? p->stats : 0;
}

/* The same, with the section held over every use. */
void hub_count_locked(struct hub *h, int id)
{
	struct port *p;

	rcu_read_lock();
	p = hub_port_by_id(h, id);
	if (p)
		p->stats++;
	rcu_read_unlock();
	/* ok: RCU002 */
	return;
}

/* A reference taken inside the section keeps it alive. */
struct port *hub_get_port(struct hub *h, int id)
{
	struct port *p;

	rcu_read_lock();
	p = xa_load(&h->by_id, id);
	if (p && !kref_get_unless_zero(&p->ref))
		p = NULL;
	rcu_read_unlock();
	/* ok: RCU002 */
	return p;
}

/*
 * The pointer itself returned after the unlock: a dangling pointer unless the caller holds what
 * protects it, which this function cannot show; a known miss.
 */
struct port *hub_active(struct hub *h)
{
	struct port *p;

	rcu_read_lock();
	p = rcu_dereference(h->active);
	rcu_read_unlock();
	/* todoruleid: RCU002 */
	return p;
}

/* A list walk finds the port, breaks out, and uses it after the unlock. */
int hub_port_stats(struct hub *h, int id)
{
	struct port *p, *found = NULL;

	rcu_read_lock();
	list_for_each_entry_rcu(p, &h->ports, node) {
		if (p->id == id) {
			found = p;
			break;
		}
	}
	rcu_read_unlock();
	if (!found)
		return -ENOENT;
	/* ruleid: RCU002 */
	return found->stats;
}

/* The object's lock taken inside the section, then re-checked: the lock-and-revalidate idiom. */
int hub_port_lock(struct hub *h)
{
	struct port *p;
	int id = -1;

	rcu_read_lock();
	p = rcu_dereference(h->active);
	if (!p) {
		rcu_read_unlock();
		return -ENOENT;
	}
	spin_lock(&p->lock);
	rcu_read_unlock();
	/* ok: RCU002 */
	if (!p->dead)
		id = p->id;
	spin_unlock(&p->lock);
	return id;
}

/* Only compared after the unlock: no access to the object. */
bool hub_is_active(struct hub *h, struct port *q)
{
	struct port *p;

	rcu_read_lock();
	p = rcu_dereference(h->active);
	rcu_read_unlock();
	/* ok: RCU002 */
	return p == q;
}

/* SRCU: the same mistake with srcu_dereference(). */
int hub_active_id(struct hub *h)
{
	struct port *p;
	int idx;

	idx = srcu_read_lock(&h->srcu);
	p = srcu_dereference(h->active, &h->srcu);
	srcu_read_unlock(&h->srcu, idx);
	/* ruleid: RCU002 */
	return p ? p->id : -1;
}

void hub_sleep(struct port *p);

/* The walk drops the section to sleep, then steps on from a cursor nothing pinned. */
void hub_walk_sleeping(struct hub *h)
{
	struct port *p;

	rcu_read_lock();
	list_for_each_entry_rcu(p, &h->ports, node) {
		rcu_read_unlock();
		/* ruleid: RCU002 */
		hub_sleep(p);
		/* ruleid: RCU002 */
		rcu_read_lock();
	}
	rcu_read_unlock();
}

/* The same with the cursor pinned first. */
void hub_walk_pinned(struct hub *h)
{
	struct port *p;

	rcu_read_lock();
	list_for_each_entry_rcu(p, &h->ports, node) {
		kref_get(&p->ref);
		rcu_read_unlock();
		hub_sleep(p);
		/* ok: RCU002 */
		rcu_read_lock();
		kref_put(&p->ref, port_release);
	}
	rcu_read_unlock();
}

/* Sweep idioms: each of these kept the object alive in real code and was reported before. */

bool hub_port_tryget(struct port *p);
void hub_port_unget(struct port *p);
int port_get_speed(struct port *p);
struct hub_ops { void (*poke)(struct port *p); };
struct hub_slot { struct hub_ops __rcu *ops; struct kref ref; };
void hub_slot_get(struct hub_slot *s);
void hub_slot_put(struct hub_slot *s);
struct port *hub_port_create(struct hub *h);

/* A reference named by the object and a verb, dropped later by its partner (get/put). */
void hub_walk_named_ref(struct hub *h)
{
	struct port *p;

	rcu_read_lock();
	list_for_each_entry_rcu(p, &h->ports, node) {
		if (!hub_port_tryget(p))
			continue;
		rcu_read_unlock();
		/* ok: RCU002 */
		hub_sleep(p);
		rcu_read_lock();
		hub_port_unget(p);
	}
	rcu_read_unlock();
}

/* A getter with no partner is not a reference: the port is still used after the unlock. */
int hub_speed_after_unlock(struct hub *h, int id)
{
	struct port *p, *found = NULL;
	int speed = 0;

	rcu_read_lock();
	list_for_each_entry_rcu(p, &h->ports, node) {
		if (p->id == id) {
			speed = port_get_speed(p);
			found = p;
			break;
		}
	}
	rcu_read_unlock();
	if (found)
		/* ruleid: RCU002 */
		found->stats += speed;
	return speed;
}

/* The success of the reference grab is kept in a flag; the port is used only when it is set. */
void hub_poke_found(struct hub *h, int id)
{
	struct port *p;
	bool got = false;

	rcu_read_lock();
	list_for_each_entry_rcu(p, &h->ports, node) {
		if (p->id == id) {
			if (hub_port_tryget(p))
				got = true;
			break;
		}
	}
	rcu_read_unlock();
	if (got) {
		/* ok: RCU002 */
		hub_sleep(p);
		hub_port_unget(p);
	}
}

/* A reference on the slot's owner: its unregistration waits for it before retiring the ops. */
void hub_slot_poke(struct hub_slot *s, struct port *p)
{
	struct hub_ops *ops;

	rcu_read_lock();
	ops = rcu_dereference(s->ops);
	if (!ops) {
		rcu_read_unlock();
		return;
	}
	hub_slot_get(s);
	rcu_read_unlock();
	/* ok: RCU002 */
	ops->poke(p);
	hub_slot_put(s);
}

/* The same without the owner's reference. */
void hub_slot_poke_bare(struct hub_slot *s, struct port *p)
{
	struct hub_ops *ops;

	rcu_read_lock();
	ops = rcu_dereference(s->ops);
	rcu_read_unlock();
	if (ops)
		/* ruleid: RCU002 */
		ops->poke(p);
}

/* The walk only checks that a port the caller already holds is on the list. */
int hub_has_port(struct hub *h, struct port *mine)
{
	struct port *p;
	bool found = false;

	rcu_read_lock();
	list_for_each_entry_rcu(p, &h->ports, node) {
		if (p == mine) {
			found = true;
			break;
		}
	}
	rcu_read_unlock();
	if (!found)
		return -ENOENT;
	/* ok: RCU002 */
	return p->stats;
}

/* After the walk: sizeof(*p) and the address of the cursor's member read nothing. */
struct port *hub_port_or_new(struct hub *h, int id)
{
	struct port *p;

	rcu_read_lock();
	list_for_each_entry_rcu(p, &h->ports, node) {
		if (p->id == id)
			break;
	}
	rcu_read_unlock();
	/* ok: RCU002 */
	if (&p->node == &h->ports) {
		/* ok: RCU002 */
		p = kzalloc(sizeof(*p), GFP_KERNEL);
		if (!p)
			return NULL;
	}
	return p;
}

/* The walk unlinks the entry it wants under the update-side lock: it owns it from then on. */
struct port *hub_take_port(struct hub *h, spinlock_t *lock, int id)
{
	struct port *p, *taken = NULL;

	rcu_read_lock();
	list_for_each_entry_rcu(p, &h->ports, node) {
		if (p->id == id) {
			spin_lock(lock);
			list_del_rcu(&p->node);
			spin_unlock(lock);
			taken = p;
			break;
		}
	}
	rcu_read_unlock();
	if (taken)
		/* ok: RCU002 */
		taken->stats = 0;
	return taken;
}

/* Dropping the section and starting the walk over from the head (goto restart) is fine. */
void hub_restart_walk(struct hub *h)
{
	struct port *p;

restart:
	/* ok: RCU002 */
	rcu_read_lock();
	list_for_each_entry_rcu(p, &h->ports, node) {
		if (p->dead) {
			rcu_read_unlock();
			hub_sleep(NULL);
			goto restart;
		}
	}
	rcu_read_unlock();
}

/* A function of the file that only compares the pointer it is handed. */
static void hub_forget(struct hub *h, struct port *old)
{
	struct port *cur = rcu_dereference_protected(h->active, 1);

	if (old && old != cur)
		return;
	RCU_INIT_POINTER(h->active, NULL);
}

void hub_reset_active(struct hub *h)
{
	struct port *p;

	rcu_read_lock();
	p = rcu_dereference(h->active);
	rcu_read_unlock();
	/* ok: RCU002 */
	hub_forget(h, p);
}

/* Every caller holds the update-side mutex; the section is there only for the lookup's lockdep. */
static int hub_bump(struct hub *h, int id)
{
	struct port *p;

	rcu_read_lock();
	p = rcu_dereference(h->active);
	rcu_read_unlock();
	if (!p)
		return -ENOENT;
	/* ok: RCU002 */
	p->stats++;
	return 0;
}

int hub_bump_locked(struct hub *h, struct mutex *m, int id)
{
	int ret;

	mutex_lock(m);
	ret = hub_bump(h, id);
	mutex_unlock(m);
	return ret;
}

/* The comment above the section says why the object outlives it. */
int hub_owned_stats(struct hub *h)
{
	struct port *p;

	/*
	 * The active port stays alive while the hub is open; the RCU locking is not necessary,
	 * it is only there for rcu_dereference().
	 */
	rcu_read_lock();
	p = rcu_dereference(h->active);
	rcu_read_unlock();
	/* ok: RCU002 */
	return p ? p->stats : 0;
}

int hub_hash(int id);

/* The section also reads the hub, but it ends inside the walk that found the port: the reference
 * comes one line too late. */
struct port *hub_port_get(struct hub *h, int id)
{
	struct port *p, *first;

	rcu_read_lock();
	first = rcu_dereference(h->active);
	if (first && first->id == hub_hash(id))
		id = first->id;
	list_for_each_entry_rcu(p, &h->ports, node) {
		if (p->id == id) {
			rcu_read_unlock();
			/* ruleid: RCU002 */
			kref_get(&p->ref);
			return p;
		}
	}
	rcu_read_unlock();
	return NULL;
}

/* The same walk with the reference taken before the unlock. */
struct port *hub_port_get_fixed(struct hub *h, int id)
{
	struct port *p, *first;

	rcu_read_lock();
	first = rcu_dereference(h->active);
	if (first && first->id == hub_hash(id))
		id = first->id;
	list_for_each_entry_rcu(p, &h->ports, node) {
		if (p->id == id) {
			kref_get(&p->ref);
			rcu_read_unlock();
			/* ok: RCU002 */
			return p;
		}
	}
	rcu_read_unlock();
	return NULL;
}

/* A reference taken only after the unlock. This file does not show how a conn is freed, but the
 * reference says it lives by its count: between the unlock and the get it may go. */
struct conn {
	struct list_head node;
	refcount_t refs;
	int addr;
};

struct conn_table {
	struct list_head conns;
};

struct conn *conn_find_late(struct conn_table *t, int addr)
{
	struct conn *c;

	rcu_read_lock();
	list_for_each_entry_rcu(c, &t->conns, node) {
		if (c->addr == addr) {
			rcu_read_unlock();
			/* ruleid: RCU002 */
			refcount_inc(&c->refs);
			return c;
		}
	}
	rcu_read_unlock();
	return NULL;
}

/* The same, with the reference taken (or refused) before the unlock. */
struct conn *conn_find(struct conn_table *t, int addr)
{
	struct conn *c;

	rcu_read_lock();
	list_for_each_entry_rcu(c, &t->conns, node) {
		if (c->addr == addr && refcount_inc_not_zero(&c->refs)) {
			rcu_read_unlock();
			/* ok: RCU002 */
			return c;
		}
	}
	rcu_read_unlock();
	return NULL;
}

/* The table's lock is held across the walk and the late reference: whoever frees a conn takes it. */
struct conn *conn_find_locked(struct conn_table *t, spinlock_t *lock, int addr)
{
	struct conn *c;

	spin_lock(lock);
	rcu_read_lock();
	list_for_each_entry_rcu(c, &t->conns, node) {
		if (c->addr == addr) {
			rcu_read_unlock();
			/* ok: RCU002 */
			refcount_inc(&c->refs);
			spin_unlock(lock);
			return c;
		}
	}
	rcu_read_unlock();
	spin_unlock(lock);
	return NULL;
}

/* A check that reads through the pointer after the unlock is a read like any other; printing the
 * pointer's value is not. */
void hub_check_active(struct hub *h)
{
	struct port *p;

	rcu_read_lock();
	p = rcu_dereference(h->active);
	rcu_read_unlock();
	/* ok: RCU002 */
	pr_debug("active port %p\n", p);
	/* ruleid: RCU002 */
	WARN_ON(p && p->dead);
}
