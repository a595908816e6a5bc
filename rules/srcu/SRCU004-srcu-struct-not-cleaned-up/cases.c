// SPDX-License-Identifier: GPL-2.0
/* Cases for SRCU004, written for the rule (not taken from any patch). */

#include <linux/module.h>
#include <linux/slab.h>
#include <linux/srcu.h>

struct widget {
	struct list_head node;
	struct srcu_struct srcu;
	struct rcu_head rcu;
	int id;
};

struct sprocket {
	struct list_head node;
	struct srcu_struct srcu;
	struct rcu_head rcu;
};

struct gadget {
	struct srcu_struct gp;
	void *priv;
};

static struct kmem_cache *gadget_cache;
static struct srcu_struct table_srcu;
static struct srcu_struct other_srcu;

static int widget_register(struct widget *w);

/* The init's own error branch frees an object whose srcu_struct never got set up: fine. */
struct widget *widget_create(int id)
{
	struct widget *w;
	int err;

	w = kzalloc(sizeof(*w), GFP_KERNEL);
	if (!w)
		return NULL;
	w->id = id;
	if (id < 0) {
		/* ok: SRCU004 */
		kfree(w);
		return NULL;
	}
	err = init_srcu_struct(&w->srcu);
	if (err) {
		/* ok: SRCU004 */
		kfree(w);
		return NULL;
	}
	return w;
}

/* Another function, another variable name, same type: the destroy path forgets the cleanup. */
void widget_destroy(struct widget *victim)
{
	synchronize_srcu(&victim->srcu);
	/* ruleid: SRCU004 */
	kfree(victim);
}

/* A later error path (after a successful init) jumps to a label that only frees. */
int widget_add(int id)
{
	struct widget *w = kzalloc(sizeof(*w), GFP_KERNEL);
	int ret;

	if (!w)
		return -ENOMEM;
	ret = init_srcu_struct(&w->srcu);
	if (ret)
		goto err_free;
	ret = widget_register(w);
	if (ret)
		goto err_free;
	return 0;
err_free:
	/* ruleid: SRCU004 */
	kfree(w);
	return ret;
}

/* The right order: clean up, then free. */
void widget_release(struct widget *w)
{
	cleanup_srcu_struct(&w->srcu);
	/* ok: SRCU004 */
	kfree(w);
}

static void gadget_teardown_srcu(struct gadget *g)
{
	synchronize_srcu(&g->gp);
	cleanup_srcu_struct(&g->gp);
}

int gadget_init(struct gadget *g)
{
	if (init_srcu_struct(&g->gp))
		return -ENOMEM;
	g->priv = NULL;
	return 0;
}

/* The cleanup happens in a helper this path calls. */
void gadget_free(struct gadget *g)
{
	gadget_teardown_srcu(g);
	/* ok: SRCU004 */
	kmem_cache_free(gadget_cache, g);
}

/* kmem_cache_free() of a gadget whose srcu_struct was never cleaned up, on the early-out path only. */
void gadget_put(struct gadget *g, bool quick)
{
	if (quick) {
		/* ruleid: SRCU004 */
		kmem_cache_free(gadget_cache, g);
		return;
	}
	gadget_teardown_srcu(g);
	/* ok: SRCU004 */
	kmem_cache_free(gadget_cache, g);
}

int sprocket_setup(struct sprocket *s)
{
	return init_srcu_struct(&s->srcu);
}

/* kfree_rcu() waits for RCU readers; the srcu_struct still needs cleanup_srcu_struct(). */
static void sprocket_remove(struct sprocket *s)
{
	list_del_rcu(&s->node);
	/* ruleid: SRCU004 */
	kfree_rcu(s, rcu);
}

/* A widget freed from an RCU callback: widget_release() cleans widgets up, trust that it ran. */
static void widget_free_rcu(struct rcu_head *head)
{
	struct widget *w = container_of(head, struct widget, rcu);

	/* ok: SRCU004 */
	kfree(w);
}

/* A module-global srcu_struct: the exit function must clean it up. */
static int __init table_init(void)
{
	int ret;

	/* ok: SRCU004 */
	ret = init_srcu_struct(&other_srcu);
	if (ret)
		return ret;
	/* ruleid: SRCU004 */
	return init_srcu_struct(&table_srcu);
}

static void __exit table_exit(void)
{
	synchronize_srcu(&table_srcu);
	cleanup_srcu_struct(&other_srcu);
}

module_init(table_init);
module_exit(table_exit);

/* Looked up, not allocated, on this path: its srcu_struct was set up when it was created. */
void widget_drop(struct xarray *xa, unsigned long id)
{
	struct widget *w;

	w = xa_erase(xa, id);
	if (!w)
		return;
	synchronize_srcu(&w->srcu);
	/* ruleid: SRCU004 */
	kfree(w);
}

struct session {
	struct srcu_struct readers;
	int id;
};

/* Allocation and init checked in one condition: the free is on the path where nothing was set up. */
struct session *session_open(int id)
{
	struct session *s = kzalloc(sizeof(*s), GFP_KERNEL);

	if (!s || init_srcu_struct(&s->readers))
		goto nomem;
	s->id = id;
	return s;
nomem:
	/* ok: SRCU004 */
	kfree(s);
	return NULL;
}

struct channel {
	struct srcu_struct users;
	int id;
};

/* Set up here, and no function of the file ever cleans it up, though channel_release() tears it down. */
int channel_setup(struct channel *c)
{
	/* ruleid: SRCU004 */
	return init_srcu_struct(&c->users);
}

void channel_release(struct channel *c)
{
	c->id = -1;
}
