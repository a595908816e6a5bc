"""The generic rule tests: every rule folder is well-formed, and every rule does what its cases.c says.

cases.c annotations (semgrep's convention): a comment line `/* ruleid: ID */` says the next code line
must be flagged by rule ID, `/* ok: ID */` that it must not be, `/* todoruleid: ID */` that it should
be but is a known miss (the test fails when the miss is fixed, so the annotation gets promoted).
Every line a rule flags in its cases.c must carry a `ruleid` annotation: no surprise findings.
A `cases.before.c` beside cases.c makes cases.c the post-image of a change to it (rules about what a
patch deletes). A `cases.msg` beside cases.c is the commit message cases.c is reviewed under (rules that compare
the commit message with the code); without it the message is "Add <path>.".
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from reviewbot import engine, rulepack, thread
from reviewbot.diff import parse_changed_files

RULES = rulepack.load_rules()
ANNOTATION = re.compile(r"^\s*/\*\s*(ruleid|ok|todoruleid):\s*([A-Z_0-9, ]+?)\s*\*/\s*$")


def annotations(text: str) -> dict[str, dict[str, set[int]]]:
    """{rule id: {"ruleid"|"ok"|"todoruleid": {target line numbers}}}."""
    lines = text.splitlines()
    out: dict[str, dict[str, set[int]]] = {}
    for n, line in enumerate(lines, start=1):
        m = ANNOTATION.match(line)
        if not m:
            continue
        target = n + 1
        while target <= len(lines) and ANNOTATION.match(lines[target - 1]):
            target += 1
        for rule_id in (x.strip() for x in m.group(2).split(",")):
            out.setdefault(rule_id, {"ruleid": set(), "ok": set(), "todoruleid": set()})[m.group(1)].add(target)
    return out


def flagged_lines(rule: rulepack.Rule, path: Path) -> set[int]:
    text = path.read_text(encoding="utf-8")
    before = path.with_name("cases.before.c")
    if before.is_file():
        # a rule about what a patch deletes: cases.c is the post-image of a change to cases.before.c,
        # reviewed as that change with the pre-image in a tree (as `--tree` gives it)
        import tempfile

        rel = f"cases/{rule.id}/cases.c"
        with tempfile.TemporaryDirectory() as tree:
            (Path(tree) / rel).parent.mkdir(parents=True)
            (Path(tree) / rel).write_text(before.read_text(encoding="utf-8"), encoding="utf-8")
            patch = thread.change_patch(rel, before.read_text(encoding="utf-8"), text)
            return {f.line for f in engine.run_patch(patch, [rule], tree=tree) if f.rule == rule.id}
    patch = thread.file_patch(f"cases/{rule.id}/cases.c", text)
    message = path.with_name("cases.msg")
    if message.is_file():  # the commit message to review cases.c under (for commit-message rules)
        body = message.read_text(encoding="utf-8").rstrip("\n") + "\n---\n" + patch.body.split("\n---\n", 1)[1]
        patch = dataclasses.replace(patch, body=body, changed_files=parse_changed_files(body))
    return {f.line for f in engine.run_patch(patch, [rule]) if f.rule == rule.id}


def test_there_are_rules():
    assert RULES, "no rules loaded from rules/"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_form_and_docs(rule):
    import tomllib

    data = tomllib.loads((rule.folder / "rule.toml").read_text(encoding="utf-8"))
    assert rulepack.rule_problems(rule.folder, data) == []
    assert rulepack.readme_problems(rule) == []
    assert rule.see.startswith(("https://", "Documentation/")), rule.see
    assert callable(rule.check)
    if rule.query_source is not None:
        from reviewbot import csource

        csource.compile_query(rule.query_source)  # raises on a query that does not compile


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_cases(rule):
    assert rule.cases_path.is_file(), f"{rule.id} has no cases.c"
    marks = annotations(rule.cases_path.read_text(encoding="utf-8")).get(rule.id)
    assert marks, f"cases.c of {rule.id} has no annotations for it"
    assert len(marks["ruleid"]) >= 2 and len(marks["ok"]) >= 2, "at least two ruleid and two ok cases"
    got = flagged_lines(rule, rule.cases_path)
    assert marks["ruleid"] - got == set(), f"missed: lines {sorted(marks['ruleid'] - got)}"
    assert got & marks["ok"] == set(), f"flagged ok lines {sorted(got & marks['ok'])}"
    assert got & marks["todoruleid"] == set(), f"known misses now flagged, promote them: {sorted(got & marks['todoruleid'])}"
    assert got - marks["ruleid"] == set(), f"unannotated findings on lines {sorted(got - marks['ruleid'])}"


def test_annotation_reader_on_a_sample():
    text = "/* ruleid: A001 */\nx();\n/* ok: A001, B002 */\n/* todoruleid: A001 */\ny();\n"
    assert annotations(text) == {
        "A001": {"ruleid": {2}, "ok": {5}, "todoruleid": {5}},
        "B002": {"ruleid": set(), "ok": {5}, "todoruleid": set()},
    }


def test_a_rule_is_not_run_on_a_file_without_what_it_requires(tmp_path):
    # rule.toml `requires`: the engine neither runs the rule nor parses the file for it
    folder = tmp_path / "pack" / "ZZZ001-needs-zzz"
    folder.mkdir(parents=True)
    (folder / "rule.toml").write_text(
        'id = "ZZZ001"\nname = "needs-zzz"\nseverity = "info"\nconfidence = "low"\nsummary = "s"\n'
        'message = "m"\nsee = "https://example.org"\nrequires = ["zzz_marker"]\n', "utf-8")
    (folder / "check.py").write_text(
        "from reviewbot.engine import Hit\n"
        "def check(ctx):\n"
        "    assert b'zzz_marker' in ctx.unit.source, 'run on a file without its marker'\n"
        "    yield Hit(line=1)\n", "utf-8")
    (rule,) = rulepack.load_rules(tmp_path)
    assert rule.requires == ("zzz_marker",)
    without = thread.file_patch("a.c", "int a;\n")
    with_it = thread.file_patch("b.c", "int zzz_marker;\n")
    assert engine.run_patch(without, [rule]) == []
    assert [f.file for f in engine.run_patch(with_it, [rule])] == ["b.c"]
