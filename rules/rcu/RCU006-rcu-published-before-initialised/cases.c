// SPDX-License-Identifier: GPL-2.0
/* Cases for RCU006, written for the rule (not taken from any patch). */

#include <linux/idr.h>
#include <linux/rculist.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

struct flow_rule {
	struct list_head node;
	struct rcu_head rcu;
	u32 key;
	u32 action;
	refcount_t ref;
	int state;
	int id;
};

struct flow_table {
	spinlock_t lock;
	struct list_head rules;
	struct flow_rule __rcu *fallback;
	struct xarray by_id;
	struct idr ids;
	struct flow_stats __rcu *stats;
};

struct flow_stats {
	spinlock_t lock;
	struct work_struct flush;
	u64 hits;
};

struct flow_port {
	struct hlist_node hnode;
	struct work_struct reset;
	struct delayed_work poll;
	struct list_head pending;
	int port_id;
};

static struct hlist_head flow_ports[64];

/* the readers */
u32 flow_lookup(struct flow_table *t, u32 key)
{
	struct flow_rule *r;
	u32 action = 0;

	rcu_read_lock();
	list_for_each_entry_rcu(r, &t->rules, node)
		if (r->key == key)
			action = r->action;
	rcu_read_unlock();
	return action;
}

u32 flow_fallback(struct flow_table *t)
{
	struct flow_rule *r;
	u32 action;

	rcu_read_lock();
	r = rcu_dereference(t->fallback);
	action = r ? r->action : 0;
	rcu_read_unlock();
	return action;
}

u32 flow_by_id(struct flow_table *t, unsigned long id)
{
	struct flow_rule *r;
	u32 key = 0;

	rcu_read_lock();
	r = xa_load(&t->by_id, id);
	if (r && refcount_inc_not_zero(&r->ref))
		key = r->key;
	rcu_read_unlock();
	return key;
}

/* A rule added to the list before its key and action are set: a lookup sees zeroes. */
int flow_add(struct flow_table *t, u32 key, u32 action)
{
	struct flow_rule *r = kzalloc(sizeof(*r), GFP_KERNEL);

	if (!r)
		return -ENOMEM;
	spin_lock(&t->lock);
	/* ruleid: RCU006 */
	list_add_tail_rcu(&r->node, &t->rules);
	r->key = key;
	r->action = action;
	spin_unlock(&t->lock);
	return 0;
}

/* The right order. */
int flow_add_ordered(struct flow_table *t, u32 key, u32 action)
{
	struct flow_rule *r = kzalloc(sizeof(*r), GFP_KERNEL);

	if (!r)
		return -ENOMEM;
	r->key = key;
	r->action = action;
	spin_lock(&t->lock);
	/* ok: RCU006 */
	list_add_tail_rcu(&r->node, &t->rules);
	spin_unlock(&t->lock);
	return 0;
}

/* rcu_assign_pointer() orders only the stores before it. */
int flow_set_fallback(struct flow_table *t, u32 action)
{
	struct flow_rule *r = kzalloc(sizeof(*r), GFP_KERNEL);

	if (!r)
		return -ENOMEM;
	/* ruleid: RCU006 */
	rcu_assign_pointer(t->fallback, r);
	r->action = action;
	return 0;
}

/* RCU_INIT_POINTER() is no publish: the caller makes the table visible later. */
int flow_table_prepare(struct flow_table *t, u32 action)
{
	struct flow_rule *r = kzalloc(sizeof(*r), GFP_KERNEL);

	if (!r)
		return -ENOMEM;
	/* ok: RCU006 */
	RCU_INIT_POINTER(t->fallback, r);
	r->action = action;
	return 0;
}

/* An xarray entry the file looks up under RCU, published before its key is set. */
int flow_index(struct flow_table *t, unsigned long id, u32 key)
{
	struct flow_rule *r = kzalloc(sizeof(*r), GFP_KERNEL);
	int err;

	if (!r)
		return -ENOMEM;
	refcount_set(&r->ref, 1);
	/* ruleid: RCU006 */
	err = xa_insert(&t->by_id, id, r, GFP_KERNEL);
	if (err) {
		kfree(r);
		return err;
	}
	r->key = key;
	return 0;
}

/* Readers take a reference with refcount_inc_not_zero(): a zero count keeps them away until it
 * is set, so what comes before the refcount_set() is not seen by them. */
int flow_index_gated(struct flow_table *t, unsigned long id, u32 key)
{
	struct flow_rule *r = kzalloc(sizeof(*r), GFP_KERNEL);
	int err;

	if (!r)
		return -ENOMEM;
	/* ok: RCU006 */
	err = xa_insert(&t->by_id, id, r, GFP_KERNEL);
	if (err) {
		kfree(r);
		return err;
	}
	r->key = key;
	refcount_set(&r->ref, 1);
	return 0;
}

/* The id is only known once idr_alloc() returns: storing it afterwards is the idiom. */
int flow_number(struct flow_table *t, struct flow_rule *r)
{
	int id;

	refcount_set(&r->ref, 1);
	/* ok: RCU006 */
	id = idr_alloc(&t->ids, r, 1, 0, GFP_KERNEL);
	if (id < 0)
		return id;
	r->id = id;
	return 0;
}

/* A rule published in a state readers check, then switched on. */
int flow_add_disabled(struct flow_table *t, u32 key)
{
	struct flow_rule *r = kzalloc(sizeof(*r), GFP_KERNEL);

	if (!r)
		return -ENOMEM;
	r->state = 0;
	/* ok: RCU006 */
	list_add_rcu(&r->node, &t->rules);
	r->key = key;
	r->state = 1;
	return 0;
}

/* A live rule updated after it was re-added: not its initialisation. */
void flow_move(struct flow_table *t, u32 key)
{
	struct flow_rule *r = list_first_entry(&t->rules, struct flow_rule, node);

	list_del_rcu(&r->node);
	/* ok: RCU006 */
	list_add_tail_rcu(&r->node, &t->rules);
	r->id = key;
}

/* WRITE_ONCE() of live state after the publish. */
int flow_add_once(struct flow_table *t, u32 key, u32 action)
{
	struct flow_rule *r = kzalloc(sizeof(*r), GFP_KERNEL);

	if (!r)
		return -ENOMEM;
	r->key = key;
	/* ok: RCU006 */
	list_add_rcu(&r->node, &t->rules);
	WRITE_ONCE(r->action, action);
	return 0;
}

/* Stats with a lock and a work item set up after they are published, the readers in another file:
 * whether they take the lock is not known here (left to the lifetime model). */
int flow_stats_attach(struct flow_table *t, void (*fn)(struct work_struct *))
{
	struct flow_stats *s = kzalloc(sizeof(*s), GFP_KERNEL);

	if (!s)
		return -ENOMEM;
	/* ok: RCU006 */
	rcu_assign_pointer(t->stats, s);
	spin_lock_init(&s->lock);
	INIT_WORK(&s->flush, fn);
	return 0;
}

/* A container allocated here: nothing can reach it, nor what it points to, yet. */
struct flow_table *flow_table_create(void)
{
	struct flow_table *t = kzalloc(sizeof(*t), GFP_KERNEL);
	struct flow_stats *s = kzalloc(sizeof(*s), GFP_KERNEL);

	if (!t || !s)
		return NULL;
	/* ok: RCU006 */
	rcu_assign_pointer(t->stats, s);
	spin_lock_init(&s->lock);
	return t;
}

/* A port handed in to be set up, hashed before its work items exist: the init function publishes
 * a half-built port, whatever the readers elsewhere do with it. */
void flow_port_init(struct flow_port *p, int id, void (*reset)(struct work_struct *),
		    void (*poll)(struct work_struct *))
{
	p->port_id = id;
	/* ruleid: RCU006 */
	hlist_add_head_rcu(&p->hnode, &flow_ports[id % 64]);
	INIT_WORK(&p->reset, reset);
	INIT_DELAYED_WORK(&p->poll, poll);
	INIT_LIST_HEAD(&p->pending);
}

/* The same port set up before it is hashed. */
void flow_port_init_ordered(struct flow_port *p, int id, void (*reset)(struct work_struct *),
			    void (*poll)(struct work_struct *))
{
	p->port_id = id;
	INIT_WORK(&p->reset, reset);
	INIT_DELAYED_WORK(&p->poll, poll);
	INIT_LIST_HEAD(&p->pending);
	/* ok: RCU006 */
	hlist_add_head_rcu(&p->hnode, &flow_ports[id % 64]);
}

/* Published, then only read. */
u32 flow_add_and_report(struct flow_table *t, u32 key)
{
	struct flow_rule *r = kzalloc(sizeof(*r), GFP_KERNEL);

	if (!r)
		return 0;
	r->key = key;
	/* ok: RCU006 */
	list_add_rcu(&r->node, &t->rules);
	return r->key;
}

/* An init function handed the port publishes it, then fills in the fields readers use. */
void flow_port_setup(struct flow_port *p, int id, void (*reset)(struct work_struct *),
		     void (*poll)(struct work_struct *))
{
	INIT_WORK(&p->reset, reset);
	INIT_DELAYED_WORK(&p->poll, poll);
	/* ruleid: RCU006 */
	hlist_add_head_rcu(&p->hnode, &flow_ports[id % 64]);
	p->port_id = id;
	INIT_LIST_HEAD(&p->pending);
}
