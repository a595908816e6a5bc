"""The struct_ops, kerneldoc and commitmsg packs on the real v1 thread, and the commit-message cases.

On v1 01/14 ("mm: introduce bpf struct ops for OOM handling"):
- SOPS001, mm/bpf_oom.c:131: bpf_oom_ops_init_member() copies the user's name with strscpy_pad()
  and drops its result, so an unterminated name is truncated and accepted;
- KDOC001, include/linux/bpf_oom.h:32: bpf_handle_oom()'s kernel-doc starts `@bpf_handle_oom:`;
- CMSG001, mm/bpf_oom.c:37: the log promises "default" when the policy name is not specified, but
  an unnamed policy gets "bpf_defined_policy".
SOPS002 (name is handled by init_member, the rest are function pointers and a private pointer)
and SOPS003 (list_add_rcu/list_del_rcu and kmalloc/kfree pair up; the srcu_struct is the srcu
pack's) find nothing there.

Elsewhere in the series, two real kernel-doc mistakes: 04/14 copies bpf_mem_cgroup_events()'s
comment (name and @event) above bpf_mem_cgroup_page_state(int idx), and 06/14 documents
@constraint_text__nullable, a parameter only 07/14 adds.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache

import pytest

from reviewbot import engine, rulepack, thread
from reviewbot.diff import parse_changed_files
from tests.helpers import PATCH_01, v1_series

PACKS = rulepack.select(rulepack.load_rules(), "struct_ops,kerneldoc,commitmsg", None)
PATCH_04 = "20250818170136.209169-5-roman.gushchin@linux.dev"
PATCH_06 = "20250818170136.209169-7-roman.gushchin@linux.dev"


@lru_cache(maxsize=None)
def review():
    return engine.run(v1_series(), PACKS)


def on(msgid: str, rule: str | None = None):
    return [f for f in review().findings if f.patch == msgid and (rule is None or f.rule == rule)]


def patch_01():
    return next(p for p in v1_series().patches if p.msgid == PATCH_01)


def with_message(patch: thread.Patch, message: str) -> thread.Patch:
    """The same diff under another commit message."""
    diff = patch.body.split("\n---\n", 1)[1]
    body = message.rstrip("\n") + "\n---\n" + diff
    return dataclasses.replace(patch, body=body, changed_files=parse_changed_files(body))


def run(patch: thread.Patch, rule_id: str):
    rules = [r for r in PACKS if r.id == rule_id]
    return [f for f in engine.run_patch(patch, rules) if f.rule == rule_id]


def test_the_packs_have_their_rules():
    assert {r.id for r in PACKS} == {"SOPS001", "SOPS002", "SOPS003", "KDOC001", "KDOC002", "CMSG001", "CMSG002"}


# --- the v1 thread -------------------------------------------------------------------------------

def test_findings_in_the_whole_series():
    got = sorted((f.patch, f.rule, f.file, f.line) for f in review().findings)
    assert got == sorted([
        (PATCH_01, "CMSG001", "mm/bpf_oom.c", 37),
        (PATCH_01, "KDOC001", "include/linux/bpf_oom.h", 32),
        (PATCH_01, "SOPS001", "mm/bpf_oom.c", 131),
        (PATCH_04, "KDOC001", "mm/bpf_memcontrol.c", 91),
        (PATCH_06, "KDOC002", "mm/oom_kill.c", 1327),
    ])


def test_sops001_on_the_strscpy_pad_in_init_member():
    (f,) = on(PATCH_01, "SOPS001")
    assert f.quoted == ("+\t\tstrscpy_pad(ops->name, uops->name, sizeof(ops->name));",)
    assert f.message.startswith("bpf_oom_ops_init_member() copies uops->name into ops->name with strscpy_pad() "
                                "and ignores its result")
    assert "-E2BIG" in f.message and "bpf_obj_name_cpy()" in f.message and f.message.endswith("?")
    assert f.severity == "warning"


def test_kdoc001_on_the_member_form_of_bpf_handle_oom():
    (f,) = on(PATCH_01, "KDOC001")
    assert f.line == 32 and f.end_line == 33
    assert f.quoted == ("+/**", "+ * @bpf_handle_oom: handle out of memory using bpf programs")
    assert "starts with `@bpf_handle_oom:`" in f.message
    assert f.message.endswith("Should the first line be `bpf_handle_oom() - handle out of memory using bpf programs`?")


def test_cmsg001_quotes_the_claim_at_the_fallback():
    (f,) = on(PATCH_01, "CMSG001")
    assert f.quoted == ("+\t\toc->bpf_policy_name = ops->name[0] ? &ops->name[0] :",
                        "+\t\t\t\"bpf_defined_policy\";")
    assert f.message == (
        "The commit message says: '\"default\" is printed if bpf is not used or policy name is not specified.' "
        "But when ops->name is empty, this falls back to \"bpf_defined_policy\", not \"default\". "
        "Which one is intended?")


def test_the_printer_in_oom_kill_keeps_its_promise():
    # oom_policy_name() returns "default" when bpf_policy_name is NULL: that fallback agrees.
    assert all(f.file != "mm/oom_kill.c" for f in on(PATCH_01))


def test_kdoc_findings_on_patches_04_and_06():
    (f4,) = on(PATCH_04)
    assert f4.rule == "KDOC001"
    assert "written for bpf_mem_cgroup_events() but stands above bpf_mem_cgroup_page_state()" in f4.message
    assert "@event is not a parameter of bpf_mem_cgroup_page_state()" in f4.message
    (f6,) = on(PATCH_06)
    assert f6.rule == "KDOC002"
    assert "describes @constraint_text__nullable" in f6.message
    assert "its parameters are memcg__nullable, order, wait_on_oom_lock" in f6.message


def test_a_fixed_patch_01_gives_nothing():
    p = patch_01()
    body = p.body
    # line for line, so the hunk headers still hold
    body = body.replace("+\t\tstrscpy_pad(ops->name, uops->name, sizeof(ops->name));\n+\t\treturn 1;\n",
                        "+\t\treturn strscpy_pad(ops->name, uops->name, sizeof(ops->name)) < 0 ?\n"
                        "+\t\t\t-EINVAL : 1;\n")
    body = body.replace("+ * @bpf_handle_oom: handle out of memory", "+ * bpf_handle_oom() - handle out of memory")
    body = body.replace("\"default\" is printed if bpf is not\nused or policy name is not specified.",
                        "\"default\" is printed if bpf is not\nused, \"bpf_defined_policy\" if the policy name is not specified.")
    fixed = dataclasses.replace(p, body=body, changed_files=parse_changed_files(body))
    assert body.count("\n") == p.body.count("\n") and "\"bpf_defined_policy\" if the" in fixed.commit_message
    assert engine.run_patch(fixed, PACKS) == []


# --- the commit-message rule on real patches ---------------------------------------------------

CODE = """\
// SPDX-License-Identifier: GPL-2.0
struct foo_dev {
	char label[32];
	const char *owner;
};

static const char *foo_label(struct foo_dev *dev)
{
	return dev->label[0] ? dev->label : "unlabelled";
}

static const char *foo_owner(struct foo_dev *dev)
{
	if (!dev->owner)
		return "nobody";
	return dev->owner;
}
"""


def foo_patch(message: str) -> thread.Patch:
    return with_message(thread.file_patch("drivers/misc/foo.c", CODE), message)


@pytest.mark.parametrize("message, lines", [
    # the claim contradicts the label's fallback (line 9)
    ('foo: show labels\n\n"none" is printed if the label is not set.\n', [9]),
    # the condition first, then the literal; about the owner (line 14)
    ('foo: show owners\n\nIf no owner is set, "root" is reported.\n', [14]),
    # both claims wrong
    ('foo: show both\n\n"none" is shown when the label is empty. When the owner is\nmissing, '
     '"root" is printed.\n', [9, 14]),
    # "falls back to" form
    ('foo: show owners\n\nThe owner field falls back to "kernel" when no owner is given.\n', [14]),
])
def test_claims_the_code_contradicts(message, lines):
    assert sorted(f.line for f in run(foo_patch(message), "CMSG001")) == lines


@pytest.mark.parametrize("message", [
    'foo: show labels\n\n"unlabelled" is printed if the label is not set.\n',   # the claim holds
    'foo: show owners\n\nIf no owner is set, "nobody" is reported.\n',            # the claim holds
    'foo: show labels\n\n"none" is printed if the device is not bound.\n',       # about something else
    'foo: show labels\n\n"none" is printed for unbound devices.\n',              # no condition
    'foo: show labels\n\nThe label is printed if it is set.\n',                   # no literal
    "Add drivers/misc/foo.c.\n",                                                 # the placeholder
])
def test_claims_that_hold_or_do_not_apply(message):
    assert run(foo_patch(message), "CMSG001") == []


def test_patch_01_under_a_message_that_matches_the_code():
    p = with_message(patch_01(), "mm: bpf oom\n\nThe policy name is printed in the OOM report; "
                                 "\"bpf_defined_policy\" is printed\nif the policy name is not specified.\n")
    assert run(p, "CMSG001") == []


def test_claims_are_read_from_wrapped_paragraphs_and_not_from_logs():
    rule = next(r for r in PACKS if r.id == "CMSG001")
    claims = rule.module.claims(
        "x: y\n\nIt's printed in the OOM report. \"default\" is printed if bpf\nis not used or policy "
        "name is not specified.\n\n[  112.6] \"foo\" is printed if nothing is set\n")
    assert [(c.literal, c.condition) for c in claims] == [
        ("default", "bpf is not used or policy name is not specified")]


# --- struct_ops code written the way mainline writes it gives nothing ----------------------------

TCP_CA_LIKE = """\
// SPDX-License-Identifier: GPL-2.0
struct bar_congestion_ops {
	u32 (*ssthresh)(struct sock *sk);
	void (*cong_avoid)(struct sock *sk, u32 ack, u32 acked);
	char name[16];
	struct module *owner;
	struct list_head list;
	u32 key;
	u32 flags;
};

static LIST_HEAD(bar_list);
static DEFINE_SPINLOCK(bar_lock);

int bar_register_congestion_control(struct bar_congestion_ops *ca)
{
	ca->key = jhash(ca->name, sizeof(ca->name), strlen(ca->name));
	spin_lock(&bar_lock);
	list_add_tail_rcu(&ca->list, &bar_list);
	spin_unlock(&bar_lock);
	return 0;
}

void bar_unregister_congestion_control(struct bar_congestion_ops *ca)
{
	spin_lock(&bar_lock);
	list_del_rcu(&ca->list);
	spin_unlock(&bar_lock);
	synchronize_rcu();
}

static int bpf_bar_init_member(const struct btf_type *t, const struct btf_member *member,
			       void *kdata, const void *udata)
{
	const struct bar_congestion_ops *uca;
	struct bar_congestion_ops *ca;
	u32 moff;

	uca = (const struct bar_congestion_ops *)udata;
	ca = (struct bar_congestion_ops *)kdata;

	moff = __btf_member_bit_offset(t, member) / 8;
	switch (moff) {
	case offsetof(struct bar_congestion_ops, flags):
		if (uca->flags & ~BAR_CONG_MASK)
			return -EINVAL;
		ca->flags = uca->flags;
		return 1;
	case offsetof(struct bar_congestion_ops, name):
		if (bpf_obj_name_cpy(ca->name, uca->name, sizeof(ca->name)) <= 0)
			return -EINVAL;
		return 1;
	}
	return 0;
}

static int bpf_bar_reg(void *kdata, struct bpf_link *link)
{
	return bar_register_congestion_control(kdata);
}

static void bpf_bar_unreg(void *kdata, struct bpf_link *link)
{
	bar_unregister_congestion_control(kdata);
}

static struct bpf_struct_ops bpf_bar_congestion_ops = {
	.reg = bpf_bar_reg,
	.unreg = bpf_bar_unreg,
	.init_member = bpf_bar_init_member,
	.name = "bar_congestion_ops",
};
"""


def test_mainline_style_struct_ops_gives_nothing():
    patch = thread.file_patch("net/ipv4/bpf_bar_ca.c", TCP_CA_LIKE)
    assert [(f.rule, f.line) for f in engine.run_patch(patch, PACKS)] == []


def test_the_same_code_with_the_usual_mistakes():
    text = (TCP_CA_LIKE
            .replace("\t\tif (bpf_obj_name_cpy(ca->name, uca->name, sizeof(ca->name)) <= 0)\n\t\t\treturn -EINVAL;\n",
                     "\t\tstrscpy(ca->name, uca->name, sizeof(ca->name));\n")
            .replace("\tcase offsetof(struct bar_congestion_ops, flags):\n\t\tif (uca->flags & ~BAR_CONG_MASK)\n"
                     "\t\t\treturn -EINVAL;\n\t\tca->flags = uca->flags;\n\t\treturn 1;\n", "")
            .replace("\tbar_unregister_congestion_control(kdata);\n", ""))
    patch = thread.file_patch("net/ipv4/bpf_bar_ca.c", text)
    got = sorted((f.rule, f.line) for f in engine.run_patch(patch, PACKS))
    lines = text.splitlines()
    strscpy = lines.index("\t\tstrscpy(ca->name, uca->name, sizeof(ca->name));") + 1
    flags = lines.index("\tu32 flags;") + 1
    register = lines.index("\treturn bar_register_congestion_control(kdata);") + 1
    assert got == [("SOPS001", strscpy), ("SOPS002", flags), ("SOPS003", register)]


# --- modified files: only the hunks are known ----------------------------------------------------

SPARSE = """\
From: A Developer <dev@example.org>
Subject: [PATCH] foo: document foo_reset

foo: document foo_reset

---
diff --git a/lib/foo.c b/lib/foo.c
index 1111111..2222222 100644
--- a/lib/foo.c
+++ b/lib/foo.c
@@ -10,6 +10,10 @@ static int foo_count;
 
 static DEFINE_MUTEX(foo_lock);
 
+/**
+ * foo_reset() - put the counter back to zero
+ * @why: reason, for the log
+ */
 void foo_reset(const char *why)
 {
 	foo_count = 0;
@@ -30,5 +34,6 @@ static int foo_bar(int a)
 
 int foo_other(int x, int y)
 {
+	x++;
 	return x + y;
 }
"""


def test_a_comment_whose_function_is_in_the_hunk_is_read_and_one_cut_off_is_not():
    body = SPARSE.split("\n\n", 1)[1]
    patch = dataclasses.replace(thread.file_patch("lib/foo.c", ""), body=body,
                                changed_files=parse_changed_files(body))
    assert engine.run_patch(patch, PACKS) == []
    # the comment's function falls outside the hunk: the next function of the next hunk is not it
    cut = body.replace(" void foo_reset(const char *why)\n {\n \tfoo_count = 0;\n", "").replace(
        "@@ -10,6 +10,10 @@", "@@ -10,3 +10,7 @@")
    patch = dataclasses.replace(patch, body=cut, changed_files=parse_changed_files(cut))
    assert patch.changed_files[0].post_image  # the diff still parses
    assert engine.run_patch(patch, PACKS) == []
