// SPDX-License-Identifier: GPL-2.0
/* Cases for RCU008, written for the rule (not taken from any patch). */

#include <linux/mutex.h>
#include <linux/rculist.h>
#include <linux/srcu.h>

struct codec {
	struct list_head node;
	int (*probe)(struct codec *c);
	int id;
};

static DEFINE_MUTEX(codecs_lock);
static DEFINE_MUTEX(stats_lock);
DEFINE_STATIC_SRCU(codecs_srcu);
static LIST_HEAD(codecs);
static int probes;

/* A probe that takes the registration lock... */
static int soft_probe(struct codec *c)
{
	mutex_lock(&codecs_lock);
	probes++;
	mutex_unlock(&codecs_lock);
	return 0;
}

/* ...and one that takes another lock. */
static int hard_probe(struct codec *c)
{
	mutex_lock(&stats_lock);
	probes++;
	mutex_unlock(&stats_lock);
	return 0;
}

static struct codec soft_codec = {
	.probe = soft_probe,
};

static struct codec hard_codec = {
	.probe = hard_probe,
};

/* The reader: probes every codec inside the SRCU section. */
int codecs_probe_all(void)
{
	struct codec *c;
	int idx, ret = 0;

	idx = srcu_read_lock(&codecs_srcu);
	list_for_each_entry_srcu(c, &codecs, node, srcu_read_lock_held(&codecs_srcu))
		ret |= c->probe(c);
	srcu_read_unlock(&codecs_srcu, idx);
	return ret;
}

/* The updater waits for the readers with the registration lock held: deadlock. */
void codec_unregister(struct codec *c)
{
	mutex_lock(&codecs_lock);
	list_del_rcu(&c->node);
	/* ruleid: RCU008 */
	synchronize_srcu(&codecs_srcu);
	mutex_unlock(&codecs_lock);
}

/* Unlinked under the lock, waited for after it. */
void codec_unregister_fixed(struct codec *c)
{
	mutex_lock(&codecs_lock);
	list_del_rcu(&c->node);
	mutex_unlock(&codecs_lock);
	/* ok: RCU008 */
	synchronize_srcu(&codecs_srcu);
}

static void codecs_count(void)
{
	mutex_lock(&stats_lock);
	probes = 0;
	mutex_unlock(&stats_lock);
}

/* A reader that takes the stats lock through a helper of the file. */
int codecs_reset(void)
{
	int idx;

	idx = srcu_read_lock(&codecs_srcu);
	codecs_count();
	srcu_read_unlock(&codecs_srcu, idx);
	return 0;
}

/* Waiting under the stats lock: the reader above takes it in its section. */
void codecs_flush(void)
{
	mutex_lock(&stats_lock);
	/* ruleid: RCU008 */
	synchronize_srcu(&codecs_srcu);
	mutex_unlock(&stats_lock);
}

static DEFINE_MUTEX(other_lock);

/* Waiting under a lock no reader takes. */
void codecs_quiesce(void)
{
	mutex_lock(&other_lock);
	/* ok: RCU008 */
	synchronize_srcu(&codecs_srcu);
	mutex_unlock(&other_lock);
}
