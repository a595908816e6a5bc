// SPDX-License-Identifier: GPL-2.0
/* Cases for KDOC001, written for the rule (not taken from any patch). */

struct foo_ctl;

/* ruleid: KDOC001 */
/**
 * @foo_reclaim: reclaim memory for a foo control
 * @ctl: the foo control
 *
 * Returns the number of pages reclaimed.
 */
unsigned long foo_reclaim(struct foo_ctl *ctl);

/* ok: KDOC001 */
/**
 * foo_shrink() - shrink a foo cache
 * @ctl: the foo control
 * @nr: how many entries to drop
 *
 * Return: the number of entries dropped.
 */
int foo_shrink(struct foo_ctl *ctl, int nr);

/* ruleid: KDOC001 */
/**
 * foo_grow() - grow a foo cache
 * @ctl: the foo control
 */
int foo_expand(struct foo_ctl *ctl)
{
	return 0;
}

/* ok: KDOC001 */
/**
 * foo_reset - put a foo control back to its initial state
 * @ctl: the foo control
 */
void foo_reset(struct foo_ctl *ctl)
{
}

/* ruleid: KDOC001 */
/**
 * @ctl: the foo control
 *
 * Drops every entry.
 */
void foo_drain(struct foo_ctl *ctl);

/* ok: KDOC001 */
/**
 * FOO_PAGES() - pages needed for @n foo entries
 * @n: number of entries
 */
#define FOO_PAGES(n) DIV_ROUND_UP((n) * sizeof(long), PAGE_SIZE)

/* ruleid: KDOC001 */
/**
 * @FOO_BYTES: bytes needed for @n foo entries
 * @n: number of entries
 */
#define FOO_BYTES(n) ((n) * sizeof(long))

/* ok: KDOC001 */
/**
 * struct foo_stats - counters of a foo cache
 * @hits: lookups that found an entry
 */
struct foo_stats {
	/* ok: KDOC001 */
	/**
	 * @misses: lookups that found none
	 */
	unsigned long misses;
	unsigned long hits;
};

/* Not kernel-doc at all: prose after a double star is not this rule's business. */
/* ok: KDOC001 */
/**
 * This helper is internal; see foo_shrink() for the public one.
 */
static int __foo_shrink(struct foo_ctl *ctl)
{
	return 0;
}
