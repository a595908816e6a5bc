// SPDX-License-Identifier: GPL-2.0
/* Cases for RCU005, written for the rule (not taken from any patch). */

#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/rcupdate_trace.h>
#include <linux/slab.h>
#include <linux/srcu.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

struct port {
	struct mutex lock;
	struct xarray peers;
	struct port_cfg __rcu *cfg;
	spinlock_t stats_lock;
	int id;
};

struct port_cfg {
	int mtu;
	char name[16];
};

DEFINE_STATIC_SRCU(port_srcu);

/* A GFP_KERNEL store into an xarray under rcu_read_lock(): xa_store() may allocate and sleep. */
void port_remember(struct port *p, unsigned long peer, int mtu)
{
	struct port_cfg *cfg;

	rcu_read_lock();
	cfg = rcu_dereference(p->cfg);
	if (cfg)
		/* ruleid: RCU005 */
		xa_store(&p->peers, peer, xa_mk_value(cfg->mtu), GFP_KERNEL);
	rcu_read_unlock();
}

/* The same with GFP_ATOMIC: fine. */
void port_remember_atomic(struct port *p, unsigned long peer, int mtu)
{
	struct port_cfg *cfg;

	rcu_read_lock();
	cfg = rcu_dereference(p->cfg);
	if (cfg)
		/* ok: RCU005 */
		xa_store(&p->peers, peer, xa_mk_value(cfg->mtu), GFP_ATOMIC);
	rcu_read_unlock();
}

/* A mutex taken while the RCU reader is still open. */
int port_set_mtu(struct port *p, int mtu)
{
	struct port_cfg *cfg;
	int ret = -ENOENT;

	rcu_read_lock();
	cfg = rcu_dereference(p->cfg);
	if (cfg) {
		/* ruleid: RCU005 */
		mutex_lock(&p->lock);
		cfg->mtu = mtu;
		mutex_unlock(&p->lock);
		ret = 0;
	}
	rcu_read_unlock();
	return ret;
}

/* The section is left before the mutex, and entered again after: fine. */
int port_set_mtu_dropping(struct port *p, int mtu)
{
	struct port_cfg *cfg;
	int id;

	rcu_read_lock();
	cfg = rcu_dereference(p->cfg);
	id = cfg ? cfg->mtu : 0;
	rcu_read_unlock();
	/* ok: RCU005 */
	mutex_lock(&p->lock);
	p->id = id;
	mutex_unlock(&p->lock);
	rcu_read_lock();
	cfg = rcu_dereference(p->cfg);
	rcu_read_unlock();
	return id;
}

/* copy_to_user() can fault and sleep, also under the _bh flavour. */
int port_read_name(struct port *p, char __user *buf)
{
	struct port_cfg *cfg;
	int ret = 0;

	rcu_read_lock_bh();
	cfg = rcu_dereference_bh(p->cfg);
	/* ruleid: RCU005 */
	if (cfg && copy_to_user(buf, cfg->name, sizeof(cfg->name)))
		ret = -EFAULT;
	rcu_read_unlock_bh();
	return ret;
}

/* A helper of the file that sleeps, called from inside the section. */
static void port_settle(struct port *p)
{
	msleep(10);
}

void port_reset(struct port *p)
{
	rcu_read_lock();
	if (rcu_access_pointer(p->cfg))
		/* ruleid: RCU005 */
		port_settle(p);
	rcu_read_unlock();
}

/* A helper that sleeps only when asked to, called with false and with true. */
static void port_flush(struct port *p, bool sync)
{
	p->id = 0;
	if (sync)
		synchronize_rcu();
}

void port_flush_fast(struct port *p)
{
	rcu_read_lock();
	/* ok: RCU005 */
	port_flush(p, false);
	rcu_read_unlock();
}

void port_flush_slow(struct port *p)
{
	rcu_read_lock();
	/* ruleid: RCU005 */
	port_flush(p, true);
	rcu_read_unlock();
}

/* A function that asserts its caller's section, then allocates with GFP_KERNEL. */
struct port_cfg *port_cfg_copy(struct port *p)
{
	struct port_cfg *cfg;

	WARN_ON_ONCE(!rcu_read_lock_held());
	cfg = rcu_dereference(p->cfg);
	/* ruleid: RCU005 */
	return cfg ? kmemdup(cfg, sizeof(*cfg), GFP_KERNEL) : NULL;
}

/* The caller's gfp mask: not known to sleep. */
struct port_cfg *port_cfg_dup(struct port *p, gfp_t gfp)
{
	struct port_cfg *cfg, *copy = NULL;

	rcu_read_lock();
	cfg = rcu_dereference(p->cfg);
	if (cfg)
		/* ok: RCU005 */
		copy = kmemdup(cfg, sizeof(*cfg), gfp);
	rcu_read_unlock();
	return copy;
}

/* A mask chosen from the context at run time. */
struct port_cfg *port_cfg_dup_ctx(struct port *p)
{
	struct port_cfg *cfg, *copy = NULL;

	rcu_read_lock();
	cfg = rcu_dereference(p->cfg);
	if (cfg)
		/* ok: RCU005 */
		copy = kmemdup(cfg, sizeof(*cfg), in_atomic() ? GFP_ATOMIC : GFP_KERNEL);
	rcu_read_unlock();
	return copy;
}

/* SRCU readers may sleep. */
int port_srcu_mtu(struct port *p)
{
	struct port_cfg *cfg;
	int idx, mtu = 0;

	idx = srcu_read_lock(&port_srcu);
	cfg = srcu_dereference(p->cfg, &port_srcu);
	/* ok: RCU005 */
	mutex_lock(&p->lock);
	if (cfg)
		mtu = cfg->mtu;
	mutex_unlock(&p->lock);
	srcu_read_unlock(&port_srcu, idx);
	return mtu;
}

/* So may RCU Tasks Trace readers. */
void port_trace_wait(struct port *p)
{
	rcu_read_lock_trace();
	/* ok: RCU005 */
	msleep(1);
	rcu_read_unlock_trace();
}

/* A spin-locked section is not an RCU read-side section for this rule. */
void port_stats(struct port *p)
{
	void *buf;

	spin_lock(&p->stats_lock);
	/* ok: RCU005 */
	buf = kmalloc(64, GFP_KERNEL);
	spin_unlock(&p->stats_lock);
	kfree(buf);
}

/* cond_resched_rcu() leaves the section to reschedule; might_sleep_if() is conditional. */
void port_walk(struct port *p, int n, bool can_sleep)
{
	int i;

	rcu_read_lock();
	for (i = 0; i < n; i++) {
		/* ok: RCU005 */
		cond_resched_rcu();
		/* ok: RCU005 */
		might_sleep_if(can_sleep);
	}
	rcu_read_unlock();
}

/* A test of the context before the sleep. */
void port_maybe_wait(struct port *p)
{
	rcu_read_lock();
	if (!in_atomic())
		/* ok: RCU005 */
		msleep(1);
	rcu_read_unlock();
}

/* A helper that drops its caller's section: what follows in the caller is outside. */
static void port_unlock(struct port *p)
	__releases(RCU)
{
	rcu_read_unlock();
}

void port_slow_path(struct port *p)
{
	rcu_read_lock();
	p->id++;
	port_unlock(p);
	/* ok: RCU005 */
	mutex_lock(&p->lock);
	mutex_unlock(&p->lock);
}

/* A scoped guard holds the section for its block. */
void port_guarded(struct port *p)
{
	scoped_guard(rcu) {
		if (rcu_access_pointer(p->cfg))
			/* ruleid: RCU005 */
			synchronize_rcu();
	}
}
