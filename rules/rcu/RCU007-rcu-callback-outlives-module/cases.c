// SPDX-License-Identifier: GPL-2.0
/* Cases for RCU007, written for the rule (not taken from any patch). Each exit function below
 * stands for the module_exit() of a variant of the same module. */

#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/srcu.h>
#include <net/net_namespace.h>

struct pkt {
	struct rcu_head rcu;
	int len;
};

struct sess {
	struct rcu_head rcu;
	int id;
};

struct flow {
	struct rcu_head rcu;
	u32 hash;
};

struct route {
	struct rcu_head rcu;
	u32 dst;
};

static struct kmem_cache *pkt_cache;
static struct kmem_cache *sess_cache;
static struct kmem_cache *flow_cache;
static struct kmem_cache *route_cache;
DEFINE_STATIC_SRCU(sess_srcu);
static struct pernet_operations demo_net_ops;

static void pkt_free_rcu(struct rcu_head *head)
{
	kmem_cache_free(pkt_cache, container_of(head, struct pkt, rcu));
}

void pkt_release(struct pkt *p)
{
	call_rcu(&p->rcu, pkt_free_rcu);
}

static void sess_free(struct sess *s)
{
	kmem_cache_free(sess_cache, s);
}

static void sess_free_srcu(struct rcu_head *head)
{
	sess_free(container_of(head, struct sess, rcu));
}

void sess_release(struct sess *s)
{
	call_srcu(&sess_srcu, &s->rcu, sess_free_srcu);
}

struct flow *flow_new(u32 hash)
{
	struct flow *f = kmem_cache_alloc(flow_cache, GFP_KERNEL);

	if (f)
		f->hash = hash;
	return f;
}

void flow_release(struct flow *f)
{
	kfree_rcu(f, rcu);
}

static void route_free_rcu(struct rcu_head *head)
{
	kmem_cache_free(route_cache, container_of(head, struct route, rcu));
}

void route_release(struct route *r)
{
	call_rcu(&r->rcu, route_free_rcu);
}

static int __init demo_init(void)
{
	pkt_cache = KMEM_CACHE(pkt, 0);
	sess_cache = KMEM_CACHE(sess, 0);
	flow_cache = KMEM_CACHE(flow, 0);
	route_cache = kmem_cache_create("demo_route", sizeof(struct route), 0, SLAB_TYPESAFE_BY_RCU, NULL);
	return 0;
}

/* The cache goes while pkt_free_rcu() callbacks may still be queued. */
static void __exit pkt_exit(void)
{
	srcu_barrier(&sess_srcu);
	/* ruleid: RCU007 */
	kmem_cache_destroy(pkt_cache);
}

/* The right order. */
static void __exit pkt_exit_waiting(void)
{
	rcu_barrier();
	srcu_barrier(&sess_srcu);
	/* ok: RCU007 */
	kmem_cache_destroy(pkt_cache);
}

/* A barrier after the destroy is too late. */
static void __exit pkt_exit_late(void)
{
	/* ruleid: RCU007 */
	kmem_cache_destroy(pkt_cache);
	rcu_barrier();
	srcu_barrier(&sess_srcu);
}

/* rcu_barrier() does not wait for SRCU callbacks. */
static void __exit sess_exit(void)
{
	rcu_barrier();
	/* ruleid: RCU007 */
	kmem_cache_destroy(sess_cache);
}

/* kfree_rcu() of objects from a module cache: they are freed into it after a grace period. */
static void __exit flow_exit(void)
{
	srcu_barrier(&sess_srcu);
	/* ruleid: RCU007 */
	kmem_cache_destroy(flow_cache);
}

static void demo_wait_callbacks(void)
{
	rcu_barrier();
	srcu_barrier(&sess_srcu);
}

/* The barriers in a helper of the file. */
static void __exit flow_exit_helper(void)
{
	demo_wait_callbacks();
	/* ok: RCU007 */
	kmem_cache_destroy(flow_cache);
}

/* A SLAB_TYPESAFE_BY_RCU cache: kmem_cache_destroy() defers freeing it past an rcu_barrier().
 * The barrier after it is for the callbacks' code. */
static void __exit route_exit(void)
{
	/* ok: RCU007 */
	kmem_cache_destroy(route_cache);
	rcu_barrier();
	srcu_barrier(&sess_srcu);
}

/* The module's callbacks can still be queued when its code goes. */
/* ruleid: RCU007 */
static void __exit demo_exit(void)
{
	pr_info("demo: bye\n");
}

/* unregister_pernet_subsys() runs rcu_barrier(); the SRCU callbacks are waited for here. */
/* ok: RCU007 */
static void __exit demo_exit_pernet(void)
{
	unregister_pernet_subsys(&demo_net_ops);
	srcu_barrier(&sess_srcu);
}

/* A barrier through the file's helper. */
/* ok: RCU007 */
static void __exit demo_exit_helper(void)
{
	demo_wait_callbacks();
}

module_init(demo_init);
module_exit(pkt_exit);
module_exit(pkt_exit_waiting);
module_exit(pkt_exit_late);
module_exit(sess_exit);
module_exit(flow_exit);
module_exit(flow_exit_helper);
module_exit(route_exit);
module_exit(demo_exit);
module_exit(demo_exit_pernet);
module_exit(demo_exit_helper);
MODULE_LICENSE("GPL");
