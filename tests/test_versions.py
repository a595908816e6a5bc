"""Across versions: v1 of the BPF OOM series against our own v2 (patch 01/14 with the lockdep
condition fixed and Suren's `ret && oc->bpf_memory_freed` point taken; see tests/list_inbox.py)."""

from __future__ import annotations

import json

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
