// SPDX-License-Identifier: GPL-2.0
/*
 * Cases for CMSG001, written for the rule (not taken from any patch). This file is reviewed under
 * the commit message in cases.msg beside it, which promises:
 *   "none" is printed if the device label is not set.
 *   If no owner name is given, "kernel" is shown as the owner of a cache.
 *   The log prefix is "foo" when the prefix is not configured.
 */

struct foo_dev {
	char label[32];
	const char *prefix;
	int id;
};

struct foo_cache {
	const char *owner_name;
	const char *kind;
};

static void foo_show_status(struct foo_dev *dev, struct seq_file *m)
{
	/* ruleid: CMSG001 */
	seq_printf(m, "label=%s\n", dev->label[0] ? dev->label : "unknown");
}

static const char *foo_cache_owner(struct foo_cache *c)
{
	/* ruleid: CMSG001 */
	if (!c->owner_name)
		return "root";
	return c->owner_name;
}

static const char *foo_label(struct foo_dev *dev)
{
	/* ok: CMSG001 */
	if (dev->label[0])
		return dev->label;
	return "none";
}

static const char *foo_cache_owner_name(struct foo_cache *c)
{
	/* ok: CMSG001 */
	return c->owner_name ?: "kernel";
}

static const char *foo_log_prefix(struct foo_dev *dev)
{
	/* ruleid: CMSG001 */
	return !dev->prefix ? "foo:" : dev->prefix;
}

/* A fallback for a value no claim talks about. */
static const char *foo_cache_kind(struct foo_cache *c)
{
	/* ok: CMSG001 */
	return c->kind ? c->kind : "generic";
}
