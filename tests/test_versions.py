"""Across versions: v1 of the BPF OOM series against our own v2 (patch 01/14 with the lockdep
condition fixed and Suren's `ret && oc->bpf_memory_freed` point taken; see tests/list_inbox.py)."""

from __future__ import annotations

import json
import re

import pytest

from reviewbot import cli, dedupe, engine, rulepack, store, thread, versions
from tests import list_inbox as L

RULES = "SRCU002,SRCU004"


@pytest.fixture(scope="module")
def mboxes(tmp_path_factory):
    d = tmp_path_factory.mktemp("versions")
    return {
        "both": L.write_mbox(d / "both.mbox", L.v1_messages() + L.v2_messages(in_thread=True)),
        "v2": L.write_mbox(d / "v2.mbox", L.v2_messages()),
        "v1": L.ROOT / "fixtures" / "bpf-oom-v1" / "thread.mbox",
    }


def _msgs(path):
    from reviewbot import fetch

    return fetch.read_messages(str(path))


def _review(series):
    rules = rulepack.select(rulepack.load_rules(), RULES, None)
    return dedupe.mark_replied(engine.run(series, rules))


def test_v2_fixture_is_a_v2_of_the_series(mboxes):
    v2 = thread.assemble(_msgs(mboxes["v2"]), L.V2_P01)
    assert (v2.revision, v2.total, [p.counter for p in v2.patches]) == (2, 14, [1])
    assert v2.title == "mm: BPF OOM"
    body = v2.patches[0].body
    assert "srcu_read_lock_held(&bpf_oom_srcu)) {" in body and "node, false) {" not in body
    # Found again across threads: same identity as v1 (normalised cover subject + author).
    v1 = thread.assemble(_msgs(mboxes["v1"]), L.V1_P01)
    assert store.key_of(v1).identity == store.key_of(v2).identity


def test_one_thread_keeps_every_revision(mboxes):
    msgs = _msgs(mboxes["both"])
    latest = thread.assemble(msgs, L.V1_P01)
    assert latest.revision == 2 and latest.revisions == (1, 2)
    v1 = thread.assemble(msgs, L.V1_P01, revision=1)
    assert v1.revision == 1 and len(v1.patches) == 13
    assert sum(len(p.replies) for p in v1.patches) > 0  # replies stay with v1's patches
    with pytest.raises(Exception, match="no v7"):
        thread.assemble(msgs, L.V1_P01, revision=7)


def test_findings_and_comments_across_versions(mboxes):
    msgs = _msgs(mboxes["both"])
    items = versions.compare(_review(thread.assemble(msgs, L.V1_P01, revision=1)),
                             _review(thread.assemble(msgs, L.V1_P01)))
    ours = {(i.who, i.status) for i in items if i.kind == "finding"}
    assert ("SRCU002", versions.ADDRESSED) in ours  # the lockdep condition was fixed
    assert ("SRCU004", versions.PRESENT) in ours  # the kfree() of the srcu_struct owner was not
    comments = [i for i in items if i.kind == "comment" and i.patch == L.V1_P01]
    ret_point = [i for i in comments if "ret and oc->bpf_memory_freed" in i.text]
    assert len(ret_point) == 1 and ret_point[0].who == "Suren Baghdasaryan"
    # The quoted block was `srcu_read_unlock(...)` + `if (ret && oc->bpf_memory_freed)`: one line kept.
    assert ret_point[0].status == versions.CHANGED
    assert ret_point[0].new_patch == L.V2_P01
    assert any(i.status == versions.PRESENT for i in comments)
    # Comments on patches v2 does not carry are said to be so, not "addressed".
    others = [i for i in items if i.kind == "comment" and i.patch != L.V1_P01]
    assert others and all(i.status == versions.GONE for i in others)


def test_versions_command_across_threads(mboxes, capsys):
    rc = cli.main(["versions", L.V2_P01, "--mbox", str(mboxes["v2"]), "--old", L.V1_P01,
                   "--old-mbox", str(mboxes["v1"]), "--rules", RULES, "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["old"]["revision"] == 1 and out["new"]["revision"] == 2
    srcu002 = [i for i in out["items"] if i["who"] == "SRCU002"]
    assert [i["status"] for i in srcu002] == ["addressed"]


def test_versions_command_same_thread_text(mboxes, capsys):
    rc = cli.main(["versions", L.V1_COVER, "--mbox", str(mboxes["both"]), "--rules", RULES])
    out = capsys.readouterr().out
    assert rc == 0 and out.startswith("v1 -> v2: 1 addressed, 1 still present")
    assert "[addressed] SRCU002" in out


def test_one_version_only_is_an_input_error(mboxes, capsys):
    assert cli.main(["versions", L.V1_P01, "--mbox", str(mboxes["v1"])]) == 2
    assert "only v1" in capsys.readouterr().err


def test_compare_findings_statuses():
    p_old = [{"msgid": "a", "subject": "[PATCH v1 1/1] x: y", "counter": 1}]
    p_new = [{"msgid": "b", "subject": "[PATCH v2 1/1] x: y", "counter": 1}]

    def f(rule, quoted, patch, message="m"):
        return {"rule": rule, "file": "f.c", "patch": patch, "quoted": quoted, "message": message}

    old = {"patches": p_old, "findings": [f("R1", ["+a;"], "a"), f("R2", ["+b;", "+c;"], "a"), f("R3", ["+d;"], "a")]}
    new = {"patches": p_new, "findings": [f("R1", ["+ a;"], "b"), f("R2", ["+c;", "+e;"], "b")]}
    got = {i.who: i.status for i in versions.compare_findings(old, new)}
    assert got == {"R1": versions.PRESENT, "R2": versions.CHANGED, "R3": versions.ADDRESSED}


def test_comment_extraction():
    body = ("On Mon, X wrote:\n> +\tfoo();\n> +\n> +\tbar();\n\nWhy bar here?\n\n"
            "> This is prose, not code.\n\nAgreed.\n> > +\tnested();\nnot mine\n-- \nsig\n")
    assert versions.comments(body) == [(["+foo();", "+bar();"], "Why bar here?")]


# --------------------------------------------------------------------------------------------------
# "addressed" only on evidence: a made-up v2 whose design the bpf_oom model does not run
# --------------------------------------------------------------------------------------------------
#
# MADE UP, never sent to any list: v1's 01/14 rewritten so that each memory cgroup points at its
# own handler (`struct mem_cgroup` gains `struct bpf_oom __rcu *bpf_oom`) and the OOM walk runs the
# handlers of the OOM's cgroup and its ancestors, through a helper that takes the cgroup as a second
# argument: a design the model does not run (it reports the helper as not modelled). The rest is v1
# as it was, so rules still fire where v1's model findings stood: the kfree() of the srcu_struct's
# owner (SRCU004, BPFOOM005 in v1), the "bpf_defined_policy" fallback (CMSG001, BPFOOM006) and the
# unchecked strscpy_pad() (SOPS001, BPFOOM008). The kernel-doc of bpf_handle_oom() is fixed
# (KDOC001 ran and went silent).

PERCG_COVER = "v2-00-percg-bpf-oom@reviewbot.invalid"
PERCG_P01 = "v2-01-percg-bpf-oom@reviewbot.invalid"

PERCG_WALK = """\
// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * BPF-driven OOM killer customization
 *
 * Author: Roman Gushchin <roman.gushchin@linux.dev>
 */

#include <linux/bpf.h>
#include <linux/oom.h>
#include <linux/bpf_oom.h>
#include <linux/memcontrol.h>
#include <linux/srcu.h>

DEFINE_STATIC_SRCU(bpf_oom_srcu);
static DEFINE_SPINLOCK(bpf_oom_lock);

struct bpf_oom {
	struct bpf_oom_ops *ops;
	struct mem_cgroup *memcg;
	struct srcu_struct srcu;
};

static bool bpf_handle_memcg_oom(struct oom_control *oc, struct mem_cgroup *memcg)
{
	struct bpf_oom_ops *ops;
	struct bpf_oom *bpf_oom;
	int idx, ret = 0;

	bpf_oom = srcu_dereference(memcg->bpf_oom, &bpf_oom_srcu);
	if (!bpf_oom)
		return false;
	ops = READ_ONCE(bpf_oom->ops);
	if (!ops || !ops->handle_out_of_memory)
		return false;
	idx = srcu_read_lock(&bpf_oom->srcu);
	oc->bpf_policy_name = ops->name[0] ? &ops->name[0] :
		"bpf_defined_policy";
	ret = ops->handle_out_of_memory(oc);
	oc->bpf_policy_name = NULL;
	srcu_read_unlock(&bpf_oom->srcu, idx);

	return ret && oc->bpf_memory_freed;
}

bool bpf_handle_oom(struct oom_control *oc)
{
	struct mem_cgroup *memcg;
	bool handled = false;
	int idx;

	oc->bpf_memory_freed = false;

	idx = srcu_read_lock(&bpf_oom_srcu);
	for (memcg = oc->memcg ?: root_mem_cgroup; memcg; memcg = parent_mem_cgroup(memcg)) {
		if (bpf_handle_memcg_oom(oc, memcg)) {
			handled = true;
			break;
		}
	}
	srcu_read_unlock(&bpf_oom_srcu, idx);

	return handled;
}

"""

PERCG_MEMCG_HUNK = """\
diff --git a/include/linux/memcontrol.h b/include/linux/memcontrol.h
index 785173aa0739..3a8d4b3b2f0e 100644
--- a/include/linux/memcontrol.h
+++ b/include/linux/memcontrol.h
@@ -226,6 +226,10 @@ struct mem_cgroup {
 	 */
 	bool oom_group;
 
+#ifdef CONFIG_BPF_SYSCALL
+	struct bpf_oom __rcu *bpf_oom;
+#endif
+
 	int swappiness;
 
 	/* memory.events and memory.events.local */
"""


def _sub(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def _new_file_of(raw: str, path: str) -> str:
    """The text of a file v1 01/14 adds."""
    part = raw.split(f"+++ b/{path}\n", 1)[1].split("\ndiff --git", 1)[0]
    return "\n".join(line[1:] for line in part.split("\n")[1:]) + "\n"


def percg_v2_messages() -> list[bytes]:
    """The made-up per-cgroup v2: its cover letter and 01/14 (see above), labelled as made up."""
    from reviewbot.diff import new_file_diff

    raw = (L.V1_DIR / f"{L.V1_P01}.eml").read_bytes()
    head, _, body = raw.decode().partition("\n\n")
    c_v1 = _new_file_of(raw.decode(), "mm/bpf_oom.c")
    rest = c_v1[c_v1.index("static int __handle_out_of_memory"):]
    rest = _sub(rest, "\tops->bpf_oom = bpf_oom;\n\n\tspin_lock(&bpf_oom_lock);\n"
                      "\tlist_add_rcu(&bpf_oom->node, &bpf_oom_handlers);\n",
                "\tbpf_oom->memcg = root_mem_cgroup;\n\tops->bpf_oom = bpf_oom;\n\n\tspin_lock(&bpf_oom_lock);\n"
                "\trcu_assign_pointer(root_mem_cgroup->bpf_oom, bpf_oom);\n")
    rest = _sub(rest, "\tlist_del_rcu(&bpf_oom->node);\n\tspin_unlock(&bpf_oom_lock);\n\n",
                "\trcu_assign_pointer(bpf_oom->memcg->bpf_oom, NULL);\n\tspin_unlock(&bpf_oom_lock);\n\n"
                "\tsynchronize_srcu(&bpf_oom_srcu);\n")
    header = _sub(_new_file_of(raw.decode(), "include/linux/bpf_oom.h"),
                  " * @bpf_handle_oom: handle", " * bpf_handle_oom() - handle")
    message, diffs = body.split("\n---\n", 1)
    message = _sub(message, message[message.index("It's possible to load multiple"):message.index("Signed-off-by")],
                   "A bpf OOM handler is attached to a memory cgroup: on an OOM, the\n"
                   "handlers of the OOM's memory cgroup and of its ancestors run, the\n"
                   "closest first, until one of them returns 1 and bpf_memory_freed is\n"
                   "set to 1. This patch attaches handlers to the root memory cgroup;\n"
                   "attaching them to other cgroups comes with bpf links later.\n\n")
    sections = []
    for sec in re.split(r"(?m)^(?=diff --git )", diffs)[1:]:
        path = sec.split(" b/", 1)[1].split("\n", 1)[0]
        if path == "mm/bpf_oom.c":
            sec = new_file_diff(path, PERCG_WALK + rest)
        elif path == "include/linux/bpf_oom.h":
            sec = new_file_diff(path, header)
        elif path == "mm/Makefile":
            sections.append(PERCG_MEMCG_HUNK)
        sections.append(sec.split("\n-- \n", 1)[0] + "\n" if path == "mm/oom_kill.c" else sec)
    p01 = (head + "\n\n" + message + "\n---\n" + "".join(sections) + "-- \n2.50.1\n").encode()
    p01 = L._made_up(L._retag(p01, PERCG_P01, "[PATCH v1 01/14]", "[PATCH v2 01/14]", PERCG_COVER))
    cover = (L.V1_DIR / f"{L.V1_COVER}.eml").read_bytes()
    cover = L._made_up(L._retag(cover, PERCG_COVER, "[PATCH v1 00/14]", "[PATCH v2 00/14]", None))
    return [cover, p01]


def _all(series):
    from reviewbot import models as models_mod

    rules, models, keep = rulepack.select(rulepack.load_rules(), None, None, models_mod.load_models())
    return versions.review(series, rules, models=models, keep=keep), models


@pytest.fixture(scope="module")
def percg(tmp_path_factory):
    d = tmp_path_factory.mktemp("percg")
    path = L.write_mbox(d / "percg.mbox", percg_v2_messages())
    (old, _), models = _all(thread.assemble(_msgs(L.ROOT / "fixtures" / "bpf-oom-v1" / "thread.mbox"), L.V1_P01))
    (new, runs), _ = _all(thread.assemble(_msgs(path), PERCG_P01))
    return {"mbox": path, "old": old, "new": new, "runs": runs, "models": models,
            "items": versions.compare(old, new, models=models, runs=runs)}


def _findings_on_01(items):
    return {i.who: i for i in items if i.kind == "finding" and i.patch == L.V1_P01}


def test_percg_v2_is_made_up_and_labelled():
    cover, p01 = percg_v2_messages()
    for raw in (cover, p01):
        assert f"X-Reviewbot-Note: {L.MADE_UP}".encode() in raw
        assert b"reviewbot.invalid" in raw and b"Received:" not in raw
    assert b"struct bpf_oom __rcu *bpf_oom;" in p01 and b"list_for_each_entry_srcu" not in p01


def test_the_model_does_not_run_the_percg_design(percg):
    new = percg["new"]
    assert percg["runs"][(PERCG_P01, "bpf_oom")].applied  # it recognised the patch...
    assert not [f for f in new.findings if f.rule.startswith("BPFOOM")]  # ...and ran none of it
    walk = [e for e in new.not_modelled if e["construct"] == "bpf_handle_memcg_oom()"]
    assert walk and "per-cgroup" in walk[0]["reason"]
    # The rules that say what v1's model findings said still fire on v2's code.
    assert {f.rule for f in new.findings} >= {"SRCU004", "CMSG001", "SOPS001"}


def test_addressed_only_where_the_check_ran_and_went_silent(percg):
    got = _findings_on_01(percg["items"])
    assert {who: i.status for who, i in got.items()} == {
        "KDOC001": versions.ADDRESSED,  # the rule ran on the fixed kernel-doc and went silent
        "BPFOOM001": versions.NOT_CHECKED, "BPFOOM002": versions.NOT_CHECKED,
        "BPFOOM003": versions.NOT_CHECKED, "BPFOOM004": versions.NOT_CHECKED,
        "BPFOOM007": versions.NOT_CHECKED,  # SRCU002 is silent too, but it did not produce the finding
        "BPFOOM005": versions.PRESENT, "BPFOOM006": versions.PRESENT, "BPFOOM008": versions.PRESENT,
    }
    for who in ("BPFOOM001", "BPFOOM002", "BPFOOM003", "BPFOOM004", "BPFOOM007"):
        assert got[who].reason.startswith("the bpf_oom model does not run bpf_handle_memcg_oom(): the walk "
                                          "takes more than the struct oom_control *"), got[who].reason
    lines = {f.rule: f.line for f in percg["new"].findings}
    assert got["BPFOOM005"].reason == f"SRCU004 reports it at line {lines['SRCU004']}"
    assert got["BPFOOM006"].reason.startswith(f"CMSG001 reports it at line {lines['CMSG001']}")
    assert got["BPFOOM008"].reason == f"SOPS001 reports it at line {lines['SOPS001']}"
    assert got["KDOC001"].reason is None
    assert all(i.status == versions.GONE for i in percg["items"] if i.kind == "finding" and i.patch != L.V1_P01)


def test_versions_command_says_not_checked_with_its_reason(percg, capsys):
    argv = ["versions", PERCG_P01, "--mbox", str(percg["mbox"]), "--old", L.V1_P01,
            "--old-mbox", str(L.ROOT / "fixtures" / "bpf-oom-v1" / "thread.mbox")]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("v1 -> v2: 1 addressed, 3 still present, 5 not checked, 2 on patches the new "
                          "version lacks of our findings;")
    assert "  [not checked (the bpf_oom model does not run bpf_handle_memcg_oom(): the walk takes more " in out
    assert "  [still present (SRCU004 reports it at line " in out and "] BPFOOM005: " in out
    assert "  [addressed] KDOC001: " in out
    assert "[addressed] BPFOOM" not in out
    assert cli.main(argv + ["--format", "json"]) == 0
    items = json.loads(capsys.readouterr().out)["items"]
    b7 = next(i for i in items if i["who"] == "BPFOOM007")
    assert b7["status"] == "not checked" and "bpf_handle_memcg_oom()" in b7["reason"]
    assert next(i for i in items if i["who"] == "BPFOOM005")["reason"].startswith("SRCU004 reports it")


def test_bundled_made_up_v2_the_model_ran_and_went_silent_on_the_lockdep_condition(mboxes):
    (old, _), models = _all(thread.assemble(_msgs(mboxes["v1"]), L.V1_P01))
    (new, runs), _ = _all(thread.assemble(_msgs(mboxes["v2"]), L.V2_P01))
    assert runs[(L.V2_P01, "bpf_oom")].applied and not [n for n in new.not_modelled if n["model"] == "bpf_oom"]
    got = _findings_on_01(versions.compare(old, new, models=models, runs=runs))
    assert got.pop("BPFOOM007").status == versions.ADDRESSED
    assert {i.status for i in got.values()} == {versions.PRESENT}
    # Without the record of the run (the model went silent and left no trace), no evidence it ran.
    blind = _findings_on_01(versions.compare(old, new, models=models))
    assert blind["BPFOOM007"].status == versions.ADDRESSED  # it ran: its other findings show it
    only = engine.Review(new.series, tuple(f for f in new.findings if f.rule == "KDOC001"), new.not_modelled,
                         new.rules)
    blind = _findings_on_01(versions.compare(old, only, models=models))
    assert blind["BPFOOM007"].status == versions.NOT_CHECKED
    assert blind["BPFOOM007"].reason.startswith("nothing shows that the bpf_oom model ran on the new version")
    ran_clean = _findings_on_01(versions.compare(old, only, models=models,
                                                 runs={(L.V2_P01, "bpf_oom"): versions.ModelRun(True)}))
    assert ran_clean["BPFOOM007"].status == versions.ADDRESSED  # it ran, and reported nothing at all


def test_a_model_that_does_not_recognise_the_new_version(mboxes):
    (old, _), models = _all(thread.assemble(_msgs(mboxes["v1"]), L.V1_P01))
    # What a review of v2 gives when the model recognises nothing: the rules alone.
    (new, _), _ = _all(thread.assemble(_msgs(mboxes["v2"]), L.V2_P01))
    rules_only = engine.run(new.series, rulepack.load_rules())
    bare = engine.Review(new.series, rules_only.findings, (), new.rules)  # the model's kinds did run
    got = _findings_on_01(versions.compare(old, bare, models=models,
                                           runs={(L.V2_P01, "bpf_oom"): versions.ModelRun(False)}))
    b7 = got["BPFOOM007"]
    assert (b7.status, b7.reason) == (versions.NOT_CHECKED,
                                      "the bpf_oom model does not recognise the new version of the patch")
    # SRCU004 and SOPS001 fire where BPFOOM005 and BPFOOM008 stood: the same point, still there.
    assert got["BPFOOM005"].status == versions.PRESENT and got["BPFOOM005"].reason.startswith("SRCU004")
    assert got["BPFOOM008"].status == versions.PRESENT and got["BPFOOM008"].reason.startswith("SOPS001")


def test_a_rule_finding_the_model_now_says_is_still_present():
    p_old = [{"msgid": "a", "subject": "[PATCH v1 1/1] x: y", "counter": 1}]
    p_new = [{"msgid": "b", "subject": "[PATCH v2 1/1] x: y", "counter": 1}]

    def f(rule, quoted, patch, line=10):
        return {"rule": rule, "file": "f.c", "patch": patch, "quoted": quoted, "message": rule, "line": line,
                "end_line": line}

    old = {"patches": p_old, "findings": [f("SRCU002", ["+\tlist_for_each_entry_srcu(p, &l, node, false) {"], "a")]}
    new = {"patches": p_new, "rules": ["SRCU002", "BPFOOM007"],
           "findings": [f("BPFOOM007", ["+\tlist_for_each_entry_srcu(p, &l, node,  false) {"], "b", 12)]}
    (item,) = versions.compare_findings(old, new)
    assert (item.status, item.reason) == (versions.PRESENT, "BPFOOM007 reports it at line 12")
    new["findings"] = []
    (item,) = versions.compare_findings(old, new)
    assert item.status == versions.ADDRESSED  # SRCU002 ran (it is in the new run's rules) and is silent
    new["rules"] = ["BPFOOM007"]
    (item,) = versions.compare_findings(old, new)
    assert (item.status, item.reason) == (versions.NOT_CHECKED, "SRCU002 was not run on the new version")


def test_a_file_the_new_patch_no_longer_changes_is_not_checked(mboxes):
    v1 = thread.assemble(_msgs(mboxes["v1"]), L.V1_P01)
    v2 = thread.assemble(_msgs(mboxes["v2"]), L.V2_P01)
    old = _review(v1)
    p = v2.patches[0]
    kept = tuple(cf for cf in p.changed_files if cf.path != "mm/bpf_oom.c")
    import dataclasses

    series = dataclasses.replace(v2, patches=(dataclasses.replace(p, changed_files=kept),))
    new = engine.Review(series, (), (), tuple(RULES.split(",")))
    got = _findings_on_01(versions.compare(old, new))
    assert {(i.status, i.reason) for i in got.values()} == {
        (versions.NOT_CHECKED, "the new version of the patch does not change mm/bpf_oom.c")}
