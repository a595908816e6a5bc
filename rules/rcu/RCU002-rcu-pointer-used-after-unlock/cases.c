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
