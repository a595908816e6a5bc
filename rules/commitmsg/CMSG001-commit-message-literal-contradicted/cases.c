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

struct foo_queue {
	const char *mode;
	const char *policy;
	const char *title;
	const char *scheduler;
	const char *user;
	const char *zone;
	const char *color;
	const char *theme;
	const char *tag;
	int state;
};

/* --- a file-local function returns the fallback ("auto" is reported when no mode is selected) --- */

static const char *foo_manual_mode(void)
{
	return "manual";
}

static const char *foo_auto_mode(void)
{
	return "auto";
}

static const char *foo_mode_of_level(int level)
{
	if (level > 2)
		return "fast";
	return "slow";
}

static const char *foo_queue_mode(struct foo_queue *q)
{
	/* ruleid: CMSG001 */
	return q->mode ?: foo_manual_mode();
}

static const char *foo_queue_mode2(struct foo_queue *q)
{
	/* ruleid: CMSG001 */
	if (!q->mode)
		return foo_manual_mode();
	return q->mode;
}

static void foo_queue_show_mode(struct foo_queue *q, struct seq_file *m)
{
	/* ruleid: CMSG001 */
	seq_printf(m, "mode=%s\n", q->mode ? q->mode : foo_manual_mode());
}

static const char *foo_queue_mode3(struct foo_queue *q)
{
	/* ok: CMSG001 */
	return q->mode ?: foo_auto_mode();
}

static const char *foo_queue_mode4(struct foo_queue *q, int level)
{
	/* ok: CMSG001 */
	return q->mode ?: foo_mode_of_level(level);
}

static const char *foo_queue_kind(struct foo_queue *q)
{
	/* ok: CMSG001 */
	return q->tag ?: foo_auto_mode();
}

/* --- a macro or a const names the literal ("fifo" is used if the policy is not set) --- */

#define FOO_DEFAULT_POLICY "lru"
#define FOO_POLICY_FIFO "fifo"
static const char foo_fallback_policy[] = "random";
static const char foo_fifo_policy[] = "fifo";

static const char *foo_policy(struct foo_queue *q)
{
	/* ruleid: CMSG001 */
	return q->policy ? q->policy : FOO_DEFAULT_POLICY;
}

static const char *foo_policy2(struct foo_queue *q)
{
	/* ruleid: CMSG001 */
	return q->policy ?: foo_fallback_policy;
}

static void foo_policy3(struct foo_queue *q, const char **out)
{
	/* ruleid: CMSG001 */
	if (!q->policy)
		*out = FOO_DEFAULT_POLICY;
	else
		*out = q->policy;
}

static const char *foo_policy4(struct foo_queue *q)
{
	/* ok: CMSG001 */
	return q->policy ?: FOO_POLICY_FIFO;
}

static const char *foo_policy5(struct foo_queue *q)
{
	/* ok: CMSG001 */
	return q->policy ? q->policy : foo_fifo_policy;
}

static const char *foo_policy6(struct foo_queue *q, const char *other)
{
	/* ok: CMSG001 */
	return q->policy ?: other;
}

/* --- printed or copied ("untitled" is printed when the device title is empty) --- */

static void foo_show_title(struct foo_queue *q, struct seq_file *m)
{
	/* ruleid: CMSG001 */
	if (!q->title)
		seq_puts(m, "notitle\n");
	else
		seq_printf(m, "%s\n", q->title);
}

static ssize_t foo_title_show(struct foo_queue *q, char *buf)
{
	/* ruleid: CMSG001 */
	if (!q->title)
		return sysfs_emit(buf, "%s\n", "(none)");
	return sysfs_emit(buf, "%s\n", q->title);
}

static void foo_copy_title(struct foo_queue *q, char *buf, size_t len)
{
	/* ruleid: CMSG001 */
	if (q->title)
		strscpy(buf, q->title, len);
	else
		strscpy(buf, "nameless", len);
}

static void foo_log_title(struct foo_queue *q)
{
	/* ok: CMSG001 */
	pr_info("foo: title %s\n", q->title ?: "untitled");
}

static void foo_show_title2(struct foo_queue *q, struct seq_file *m)
{
	/* ok: CMSG001 */
	if (!q->title)
		seq_puts(m, "title=untitled\n");
	else
		seq_printf(m, "title=%s\n", q->title);
}

static void foo_show_title3(struct foo_queue *q, struct seq_file *m)
{
	/* ok: CMSG001 */
	if (!q->title)
		seq_printf(m, "title: %d\n", q->state);
	else
		seq_printf(m, "%s\n", q->title);
}

/* --- a switch's default ("unknown" is returned for any other state) --- */

static const char *foo_state_name(struct foo_queue *q)
{
	switch (q->state) {
	case 0:
		return "idle";
	case 1:
		return "busy";
	/* ruleid: CMSG001 */
	default:
		return "invalid";
	}
}

static void foo_show_state(struct foo_queue *q, struct seq_file *m)
{
	switch (q->state) {
	case 0:
		seq_puts(m, "idle\n");
		break;
	/* ruleid: CMSG001 */
	default:
		seq_puts(m, "other\n");
		break;
	}
}

static const char *foo_state_name2(int state)
{
	const char *name;

	switch (state) {
	case 0:
		name = "idle";
		break;
	/* ruleid: CMSG001 */
	default:
		name = "bad";
		break;
	}
	return name;
}

static const char *foo_state_name3(struct foo_queue *q)
{
	switch (q->state) {
	case 0:
		return "idle";
	/* ok: CMSG001 */
	default:
		return "unknown";
	}
}

static const char *foo_level_name(int level)
{
	switch (level) {
	case 0:
		return "low";
	/* ok: CMSG001 */
	default:
		return "high";
	}
}

static const char *foo_state_name4(struct foo_queue *q)
{
	switch (q->state) {
	case 0:
		return "idle";
	/* ok: CMSG001 */
	default:
		WARN_ON_ONCE(1);
		return foo_state_name3(q);
	}
}

/* --- a struct initializer of defaults ("deadline" is used when no scheduler is given) --- */

struct foo_queue_cfg {
	const char *scheduler;
	const char *alias;
	int depth;
};

static const struct foo_queue_cfg foo_default_cfg = {
	/* ruleid: CMSG001 */
	.scheduler = "noop",
	.depth = 32,
};

static const struct foo_queue_cfg foo_cfg_defaults = {
	.depth = 64,
	/* ruleid: CMSG001 */
	.scheduler = "cfq",
};

static struct foo_queue_cfg dflt_cfg = {
	/* ruleid: CMSG001 */
	.scheduler = FOO_DEFAULT_POLICY,
};

static const struct foo_queue_cfg foo_fast_cfg = {
	/* ok: CMSG001 */
	.scheduler = "noop",
};

static const struct foo_queue_cfg foo_cfg_default = {
	/* ok: CMSG001 */
	.scheduler = "deadline",
};

static const struct foo_queue_cfg foo_default_cfg2 = {
	/* ok: CMSG001 */
	.alias = "plain",
};

/* --- the default set first, then overridden ("anon" is shown if the user is not known) --- */

static void foo_show_user(struct foo_queue *q, struct seq_file *m)
{
	/* ruleid: CMSG001 */
	const char *user = "nobody";

	if (q->user)
		user = q->user;
	seq_printf(m, "user=%s\n", user);
}

static const char *foo_user(struct foo_queue *q)
{
	const char *who;

	/* ruleid: CMSG001 */
	who = "root";
	if (q->user)
		who = q->user;
	return who;
}

static const char *foo_user2(struct foo_queue *q)
{
	/* ruleid: CMSG001 */
	const char *who = FOO_DEFAULT_POLICY;

	if (q->user && q->user[0])
		who = q->user;
	return who;
}

static const char *foo_user3(struct foo_queue *q)
{
	/* ok: CMSG001 */
	const char *who = "anon";

	if (q->user)
		who = q->user;
	return who;
}

static const char *foo_user4(struct foo_queue *q)
{
	/* ok: CMSG001 */
	const char *who = "root";

	if (q->state)
		who = q->user;
	return who;
}

static const char *foo_user5(struct foo_queue *q)
{
	/* ok: CMSG001 */
	const char *who = "root";

	foo_log_title(q);
	if (q->user)
		who = q->user;
	return who;
}

/* --- an early return after other work ("global" is reported if no zone is given) --- */

static const char *foo_zone(struct foo_queue *q)
{
	/* ruleid: CMSG001 */
	if (!q->zone) {
		pr_debug("foo: no zone\n");
		return "local";
	}
	return q->zone;
}

static const char *foo_zone2(struct foo_queue *q)
{
	/* ruleid: CMSG001 */
	if (q->zone == NULL) {
		q->state = 0;
		return "node";
	}
	return q->zone;
}

static const char *foo_zone3(struct foo_queue *q)
{
	/* ruleid: CMSG001 */
	if (!q->zone || !q->zone[0]) {
		WARN_ON_ONCE(q->state);
		return "default";
	}
	return q->zone;
}

static const char *foo_zone4(struct foo_queue *q)
{
	/* ok: CMSG001 */
	if (!q->zone) {
		pr_debug("foo: no zone\n");
		return "global";
	}
	return q->zone;
}

static const char *foo_zone5(struct foo_queue *q)
{
	/* ok: CMSG001 */
	if (!q->zone) {
		pr_debug("foo: no zone\n");
		return NULL;
	}
	return q->zone;
}

static const char *foo_zone6(struct foo_queue *q)
{
	/* ok: CMSG001 */
	if (!q->state) {
		pr_debug("foo: idle\n");
		return "local";
	}
	return q->zone;
}

/* --- kernel-doc: a Return: section --- */

/**
 * foo_color() - the color of a foo queue
 * @q: the queue
 *
 * Return: the color, or "black" if no color is set.
 */
static const char *foo_color(struct foo_queue *q)
{
	/* ruleid: CMSG001 */
	return q->color ? q->color : "white";
}

/**
 * foo_color2() - the color of a foo queue
 * @q: the queue
 *
 * Returns the queue's color; "black" when the color is missing.
 */
static const char *foo_color2(struct foo_queue *q)
{
	/* ruleid: CMSG001 */
	if (!q->color)
		return "grey";
	return q->color;
}

static const char *foo_color_or_red(struct foo_queue *q)
{
	/* ruleid: CMSG001 */
	return q->color ?: "red";
}

/**
 * foo_color3() - the color of a foo queue
 * @q: the queue
 *
 * Return: the color, or "black" if no color is set (the helper above decides).
 */
static const char *foo_color3(struct foo_queue *q)
{
	return foo_color_or_red(q);
}

/**
 * foo_color4() - the color of a foo queue
 * @q: the queue
 *
 * Return: the color, or "black" if no color is set.
 */
static const char *foo_color4(struct foo_queue *q)
{
	/* ok: CMSG001 */
	return q->color ?: "black";
}

/* Not documented: the kernel-doc above holds only foo_color4(). */
static const char *foo_paint(struct foo_queue *q)
{
	/* ok: CMSG001 */
	return q->color ?: "blue";
}

/**
 * foo_color5() - the color of a foo queue
 * @q: the queue
 *
 * Return: the color, or "black" if no color is set.
 */
static const char *foo_color5(struct foo_queue *q)
{
	/* ok: CMSG001 */
	return q->mode ?: "auto";
}

/* --- kernel-doc: an @parameter entry --- */

/**
 * foo_set_theme() - set the theme of a queue
 * @q: the queue
 * @theme: the theme name; "plain" when NULL
 */
static void foo_set_theme(struct foo_queue *q, const char *theme)
{
	/* ruleid: CMSG001 */
	q->theme = theme ?: "fancy";
}

/**
 * foo_set_theme2() - set the theme of a queue
 * @q: the queue
 * @theme: the theme name, or "plain" if it is empty
 */
static void foo_set_theme2(struct foo_queue *q, const char *theme)
{
	/* ruleid: CMSG001 */
	if (!theme || !theme[0])
		q->theme = "dark";
	else
		q->theme = theme;
}

/**
 * foo_set_theme3() - set the theme of a queue
 * @q: the queue
 * @theme: the theme name ("plain" is used if it is not given)
 */
static void foo_set_theme3(struct foo_queue *q, const char *theme)
{
	/* ruleid: CMSG001 */
	const char *t = "light";

	if (theme)
		t = theme;
	q->theme = t;
}

/**
 * foo_set_theme4() - set the theme of a queue
 * @q: the queue
 * @theme: the theme name; "plain" when NULL
 */
static void foo_set_theme4(struct foo_queue *q, const char *theme)
{
	/* ok: CMSG001 */
	q->theme = theme ?: "plain";
}

static void foo_set_theme5(struct foo_queue *q, const char *theme)
{
	/* ok: CMSG001 */
	q->theme = theme ?: "fancy";
}

/**
 * foo_set_theme6() - set the theme of a queue
 * @q: the queue
 * @theme: the theme name; "plain" when NULL
 */
static void foo_set_theme6(struct foo_queue *q, const char *theme)
{
	/* ok: CMSG001 */
	q->tag = q->tag ?: "plain";
	q->theme = theme;
}
