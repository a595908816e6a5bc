// SPDX-License-Identifier: GPL-2.0
/* SRCU007 cases: a set-up function's teardown must clean up the srcu_struct it set up. */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/srcu.h>

/* A module's global domain: module_exit() forgets it. */
static struct srcu_struct widget_srcu;

static int __init widget_core_init(void)
{
	int ret = init_srcu_struct(&widget_srcu);

	if (ret)
		return ret;
	return class_register(&widget_class);
}
module_init(widget_core_init);

/* ruleid: SRCU007 */
static void __exit widget_core_exit(void)
{
	class_unregister(&widget_class);
}
module_exit(widget_core_exit);

/* A member domain: the named partner frees the object but not the domain. */
struct gadget {
	struct srcu_struct srcu;
	struct srcu_struct events_srcu;
	void *buf;
};

struct gadget *gadget_create(void)
{
	struct gadget *g = kzalloc(sizeof(*g), GFP_KERNEL);

	if (!g)
		return NULL;
	if (init_srcu_struct(&g->srcu))
		goto free;
	if (init_srcu_struct(&g->events_srcu))
		goto cleanup;
	return g;
cleanup:
	cleanup_srcu_struct(&g->srcu);
free:
	kfree(g);
	return NULL;
}

static void gadget_release_events(struct gadget *g)
{
	cleanup_srcu_struct(&g->events_srcu);
}

/* ruleid: SRCU007 */
void gadget_destroy(struct gadget *g)
{
	gadget_release_events(g);
	kfree(g->buf);
	kfree(g);
}

/* The teardown cleans up through a release callback it hands to kref_put(): no finding. */
struct sprocket {
	struct srcu_struct srcu;
	struct kref ref;
};

static void sprocket_release(struct kref *ref)
{
	struct sprocket *s = container_of(ref, struct sprocket, ref);

	cleanup_srcu_struct(&s->srcu);
	kfree(s);
}

int sprocket_init(struct sprocket *s)
{
	kref_init(&s->ref);
	return init_srcu_struct(&s->srcu);
}

/* ok: SRCU007 */
void sprocket_exit(struct sprocket *s)
{
	kref_put(&s->ref, sprocket_release);
}

/* The teardown hands the object to another file's free, which may clean the domain up. */
struct cog {
	struct srcu_struct srcu;
};

int cog_register(struct cog *c)
{
	return init_srcu_struct(&c->srcu);
}

/* ok: SRCU007 */
void cog_unregister(struct cog *c)
{
	cog_arch_free(c);
}

/* A teardown that cleans the domain up itself. */
struct flange {
	struct srcu_struct srcu;
};

int flange_setup(struct flange *f)
{
	return init_srcu_struct(&f->srcu);
}

/* ok: SRCU007 */
void flange_teardown(struct flange *f)
{
	synchronize_srcu(&f->srcu);
	cleanup_srcu_struct(&f->srcu);
}
