"""The bpf_oom model on the series' v2 design (handlers per memory cgroup, the walk up the cgroup tree,
the offline callback), on a made-up v2 of our own (tests/model_variants/v2/): the corrected patch,
the patch as a first v2 might have been sent, one-bug variants, renamed pieces, and designs it cannot
run."""

from __future__ import annotations

import re
import time
from functools import lru_cache

import pytest

from reviewbot.models import load_models, run_models
from tests.model_variants import v2

C = "mm/bpf_oom.c"


@pytest.fixture(scope="module")
def models():
    return [m for m in load_models() if m.id == "bpf_oom"]


@lru_cache(maxsize=None)
def _result(name: str):
    models = [m for m in load_models() if m.id == "bpf_oom"]
    if name == "fixed":
        return run_models(v2.make_patch(v2.fixed_files()), models)
    variant = next(v for v in (v2.SENT,) + v2.VARIANTS if v.name == name)
    return run_models(v2.make_patch(v2.variant_files(variant)), models)


def test_the_made_up_patch_is_a_v2_mail_with_hunks():
    patch = v2.make_patch(v2.fixed_files())
    status = {cf.path: cf.status for cf in patch.changed_files}
    assert status == {"include/linux/bpf_oom.h": "added", "mm/bpf_oom.c": "added",
                      "include/linux/memcontrol.h": "modified", "include/linux/oom.h": "modified",
                      "mm/memcontrol.c": "modified", "mm/oom_kill.c": "modified"}
    assert patch.revision == 2 and "MADE UP" in (v2.HERE / "__init__.py").read_text()


def test_corrected_v2_is_silent():
    findings, not_modelled = _result("fixed")
    assert findings == [] and not_modelled == []


def test_the_sent_v2_gets_its_two_findings():
    findings, not_modelled = _result("sent")
    assert not_modelled == []
    by = {f.rule: f for f in findings}
    assert sorted(by) == ["BPFOOM004", "BPFOOM006"]
    race = by["BPFOOM004"]
    assert race.file == C and "synchronize_srcu(&bpf_oom_srcu);" in race.quoted[0]
    assert "still attached to /x" in race.message and "by its id" in race.message
    trace = "\n".join(race.trace)
    assert "goes offline on CPU0 while CPU1 unregisters A" in race.trace[0]
    assert "no cgroup with id 2 (it is being removed)" in trace
    assert "the struct_ops map frees A's bpf_oom_ops" in trace
    assert race.trace[-1].startswith("CPU0 line ") and "after its unregistration returned" in race.trace[-1]
    name = by["BPFOOM006"]
    assert '"bpf_defined_policy";' in name.quoted[0] and "oom_policy=bpf_defined_policy" in name.message
    assert name.trace[0].startswith("A (attached system-wide, with no name")


@pytest.mark.parametrize("variant", v2.VARIANTS, ids=[v.name for v in v2.VARIANTS])
def test_each_injected_v2_bug_gets_its_finding(variant):
    findings, not_modelled = _result(variant.name)
    assert tuple(sorted(f.rule for f in findings)) == variant.expect, \
        [(f.rule, f.line, f.message) for f in findings]
    assert not_modelled == []
    for f in findings:
        assert f.trace and f.quoted and f.quoted[0].startswith("+"), f.rule


def test_v2_findings_say_what_happened():
    def one(name):
        (f,), _ = _result(name)
        return f

    f = one("reg-no-refuse")
    assert "WRITE_ONCE(*bpf_oom_ops_ptr, bpf_oom_ops);" in f.quoted[0] and "-EBUSY" in f.message
    f = one("lookup-fallback")
    assert "cgroup id 99, which no cgroup has, is accepted" in f.message and "system-wide" in f.message
    f = one("walk-skips-system")
    assert "the contract calls A (system-wide)" in f.message
    f = one("walk-stops-early")
    assert "A (to /x/y), B (to /x)" in f.message
    f = one("ctx-oom-memcg")
    assert "ctx->cgroup_id = 3" in f.message and "attached to /x" in f.message
    f = one("offline-callback-first")
    assert "READ_ONCE(memcg->bpf_oom)" in f.quoted[0] and "started after /x went offline" in f.message
    assert "/x goes offline on CPU0 while CPU1 handles an OOM in /x" in f.trace[0]
    f = one("offline-keeps-pointer")
    assert "READ_ONCE(memcg->bpf_oom)" in f.quoted[0] and "started after /x went offline" in f.message
    f = one("offline-no-callback")
    assert "never called" in f.message
    f = one("unreg-wrong-domain")
    assert "synchronize_rcu();" in f.quoted[0] and "readers of RCU" in f.message and "bpf_oom_srcu" in f.message
    f = one("offline-outside-srcu")
    assert "xchg(&memcg->bpf_oom, NULL);" in f.quoted[0]
    f = one("walk-reads-twice")
    assert "NULL" in f.message and "cgroup going offline" in f.message
    f = one("ret-only")
    assert "returns true" in f.message


# -- roles, not names --------------------------------------------------------------------------

RENAMES = {"bpf_handle_oom": "bpf_oom_handle", "bpf_oom_memcg_offline": "bpf_oom_cgroup_offline",
           "system_bpf_oom": "bpf_oom_system_ops", "bpf_ops_handle_oom": "__bpf_oom_call",
           "bpf_oom_ops_reg": "bpf_oom_attach", "bpf_oom_ops_unreg": "bpf_oom_detach",
           "bpf_oom_srcu": "oom_ops_srcu", "exec_ctx": "octx", "oom_policy_name": "oom_report_policy"}


def _renamed(files: dict[str, str]) -> dict[str, str]:
    out = {}
    for path, text in files.items():
        for old, new in RENAMES.items():
            text = re.sub(rf"\b{old}\b", new, text)
        out[path] = text
    return out


def test_renamed_pieces_are_recognised_by_their_roles(models):
    assert run_models(v2.make_patch(_renamed(v2.fixed_files())), models) == ([], [])
    variant = next(v for v in v2.VARIANTS if v.name == "walk-skips-system")
    findings, not_modelled = run_models(v2.make_patch(_renamed(v2.variant_files(variant))), models)
    assert [f.rule for f in findings] == ["BPFOOM014"] and not_modelled == []
    assert "bpf_oom_handle()" in findings[0].message


# -- what it cannot run: said, with the reason --------------------------------------------------

def _edit(files, path, old, new):
    assert files[path].count(old) == 1, old
    files[path] = files[path].replace(old, new)
    return files


def test_an_offline_hook_on_the_css_is_not_modelled(models):
    files = v2.fixed_files()
    files = _edit(files, C, "void bpf_oom_memcg_offline(struct mem_cgroup *memcg)\n{\n",
                  "void bpf_oom_memcg_offline(struct cgroup_subsys_state *css)\n{\n"
                  "\tstruct mem_cgroup *memcg = mem_cgroup_from_css(css);\n")
    findings, not_modelled = run_models(v2.make_patch(files), models)
    assert findings == []
    assert [n["construct"] for n in not_modelled] == ["the memcg offline hook"]
    assert "struct mem_cgroup *" in not_modelled[0]["reason"]


def test_an_undocumented_walk_is_not_checked(models):
    variant = next(v for v in v2.VARIANTS if v.name == "walk-skips-system")
    message = (v2.HERE / "commit-message.txt").read_text()
    message = message.replace("runs first, then the handlers attached to its ancestors, walking up\nthe cgroup tree to "
                              "the root, and the system-wide handler last. In case\nof a system-wide OOM only the "
                              "system-wide handler runs.", "runs.")
    files = v2.variant_files(variant)
    files["include/linux/bpf_oom.h"] = files["include/linux/bpf_oom.h"].replace(
        " * Calls the handlers attached to the OOM's memory cgroup and to its\n * ancestors, the nearest first, then "
        "the system-wide handler.\n", "")
    files[C] = files[C].replace("\t/* Find bpf_oom_ops traversing the cgroup tree upwards */\n", "")
    findings, not_modelled = run_models(v2.make_patch(files, message=message), models)
    assert [f.rule for f in findings] == []
    assert [n["construct"] for n in not_modelled] == ["contract clause walk"]
    assert "the patch does not document it" in not_modelled[0]["reason"]


def test_a_link_read_another_way_is_not_modelled_not_guessed(models):
    files = _edit(v2.fixed_files(), C, "\tif (ops_link->cgroup_id) {\n\t\t/* Attach to a memory cgroup */\n"
                  "\t\tmemcg = mem_cgroup_get_from_ino(ops_link->cgroup_id);",
                  "\tif (ops_link->target_cgroup) {\n\t\t/* Attach to a memory cgroup */\n"
                  "\t\tmemcg = mem_cgroup_get_from_ino(ops_link->target_cgroup);")
    findings, not_modelled = run_models(v2.make_patch(files), models)
    assert findings == []
    (entry,) = not_modelled
    assert entry["file"] == C and entry["line"] > 0 and entry["reason"]


def test_the_v1_design_is_still_the_v1_model(models):
    from tests.model_variants import fixed_files, make_patch

    assert run_models(make_patch(fixed_files()), models) == ([], [])


def test_v2_exploration_is_fast(models):
    patch = v2.make_patch(v2.fixed_files())
    run_models(patch, models)
    start = time.perf_counter()
    run_models(patch, models)
    assert time.perf_counter() - start < 3.0  # bench/model_bench.py measures well under 1 s
