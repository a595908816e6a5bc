// SPDX-License-Identifier: GPL-2.0
/* Cases for KDOC002, written for the rule (not taken from any patch). */

struct foo_ctl;

/* ruleid: KDOC002 */
/**
 * foo_read_stat() - read one statistic of a foo control
 * @ctl: the foo control
 * @event: statistic index
 */
unsigned long foo_read_stat(struct foo_ctl *ctl, int idx);

/* ruleid: KDOC002 */
/**
 * foo_read_event - read one event counter of a foo control
 * @ctl: the foo control
 * @evnet: event index
 * @flags: unused
 *
 * Return: the counter, or -1 for a bad index.
 */
unsigned long foo_read_event(struct foo_ctl *ctl, int event)
{
	return 0;
}

/* ok: KDOC002 */
/**
 * foo_printk() - print a message about a foo control
 * @ctl: the foo control
 * @fmt: printf-style format
 * @...: arguments for @fmt
 */
__printf(2, 3) void foo_printk(struct foo_ctl *ctl, const char *fmt, ...);

/* ok: KDOC002 */
/**
 * foo_set_cb() - install a callback
 * @ctl: the foo control
 * @cb: called for each entry
 * @data: passed to @cb
 */
void foo_set_cb(struct foo_ctl *ctl, void (*cb)(struct foo_ctl *, void *), void *data);

/* ruleid: KDOC002 */
/**
 * FOO_ENTRIES() - entries in a buffer of @bytes bytes
 * @len: length in bytes
 */
#define FOO_ENTRIES(bytes) ((bytes) / sizeof(struct foo_entry))

/* ruleid: KDOC002 */
/**
 * struct foo_stats - counters of a foo cache
 * @hits: lookups that found an entry
 * @misess: lookups that found none
 */
struct foo_stats {
	unsigned long hits;
	unsigned long misses;
};

/* ok: KDOC002 */
/**
 * struct foo_entry - one entry of a foo cache
 * @key: lookup key
 * @u.val: the value, when @key is set
 * @lock: protects @u
 */
struct foo_entry {
	unsigned long key;
	union {
		unsigned long val;
		void *ptr;
	} u;
#ifdef CONFIG_FOO_LOCKING
	spinlock_t lock;
#endif
};

/* Member form above a function: KDOC001 reports it, this rule does not read its parameters. */
/* ok: KDOC002 */
/**
 * @foo_flush: flush a foo control
 * @ctl: the foo control
 */
void foo_flush(struct foo_ctl *ctl);
