"""If git applies a patch, reviewbot reads it; a patch git refuses is named, not fatal to its series.

Each case is a diff of our own making in a shape real mail takes on its way through lists and
mail clients (a signature right after a hunk that ends in removed lines, blank context lines whose
space was stripped, list footers). git itself is the judge: every case is first checked with
`git apply --check` against the file it patches, then read by reviewbot.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from reviewbot import cli
from reviewbot.diff import git_view, parse_changed_files
from reviewbot.errors import InputError

BEFORE = "".join(f"int v{n};\n" if n % 4 else "\n" for n in range(1, 21))


def _hunk_tail_removed() -> str:
    # the file's last three lines go: the hunk ends in removed lines
    return ("diff --git a/f.c b/f.c\n--- a/f.c\n+++ b/f.c\n"
            "@@ -15,6 +15,3 @@\n int v15;\n \n int v17;\n-int v18;\n-int v19;\n-\n")


def _blank_context() -> str:
    # lines 3-5 are "int v3;", "", "int v5;": the empty context line lost its space in transit
    return ("diff --git a/f.c b/f.c\n--- a/f.c\n+++ b/f.c\n"
            "@@ -3,3 +3,4 @@\n int v3;\n\n+int added;\n int v5;\n")


def _blank_context_last() -> str:
    # the hunk's last context line is empty and lost its space, then the signature follows
    return ("diff --git a/f.c b/f.c\n--- a/f.c\n+++ b/f.c\n"
            "@@ -2,3 +2,4 @@\n int v2;\n int v3;\n+int added;\n\n")


CASES = {
    "signature after removed lines": _hunk_tail_removed() + "-- \n2.43.0\n\n",
    "multi-line signature and list footer": _hunk_tail_removed()
    + "-- \nA. Developer\nExample Corp\n\n_______________________________________________\n"
      "some-list mailing list\nsome-list@example.org\n",
    "signature without its space": _hunk_tail_removed() + "--\n2.43.0\n",
    "empty context line": _blank_context() + "-- \n2.43.0\n",
    "empty context line ending the hunk": _blank_context_last() + "-- \n2.43.0\n",
    "empty last context line at the end of the mail": _blank_context_last(),
    "no newline marker": ("diff --git a/f.c b/f.c\n--- a/f.c\n+++ b/f.c\n"
                          "@@ -19,2 +19,3 @@\n int v19;\n \n+int last;\n\\ No newline at end of file\n"
                          "-- \n2.43.0\n"),
}


def _git_accepts(tmp_path: Path, diff: str) -> bool:
    repo = tmp_path / "repo"
    repo.mkdir(exist_ok=True)
    (repo / "f.c").write_text(BEFORE, "utf-8")
    (repo / "p.diff").write_text(diff, "utf-8")
    run = subprocess.run(["git", "apply", "--check", "p.diff"], cwd=repo, capture_output=True, timeout=60)
    return run.returncode == 0


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_diff_git_applies_is_read(tmp_path: Path, name: str) -> None:
    diff = CASES[name]
    assert _git_accepts(tmp_path, diff), f"git refuses the case {name!r}: fix the case"
    (cf,) = parse_changed_files("Subject line\n---\n" + diff)
    assert cf.path == "f.c"
    # what we read agrees with git's own reading of the hunks
    numstat = subprocess.run(["git", "apply", "--numstat", "p.diff"], cwd=tmp_path / "repo",
                             capture_output=True, text=True, timeout=60).stdout.split()
    added = sum(1 for h in cf.hunks for x in h.lines if x.kind == "+")
    removed = sum(1 for h in cf.hunks for x in h.lines if x.kind == "-")
    assert [str(added), str(removed)] == numstat[:2]
    for hunk in cf.hunks:
        assert sum(1 for x in hunk.lines if x.kind != "-") == hunk.target_length
        assert sum(1 for x in hunk.lines if x.kind != "+") == hunk.source_length


def test_body_lines_still_point_at_the_mail_after_dropped_text() -> None:
    body = "Subject line\n---\n" + CASES["multi-line signature and list footer"].replace(
        "--- a/f.c", "index 1234567..89abcde 100644\n--- a/f.c")
    (cf,) = parse_changed_files(body)
    lines = body.splitlines()
    for n, text in cf.post_image.items():
        assert lines[cf.body_lines[n] - 1][1:] == text
    for hunk in cf.hunks:
        for x in hunk.lines:
            assert lines[x.body_line - 1] in (x.kind + x.text, "")  # "" only for a stripped blank context


def test_git_view_keeps_headers_and_drops_mail_text() -> None:
    text, origin = git_view(CASES["multi-line signature and list footer"])
    assert "A. Developer" not in text and "mailing list" not in text
    assert text.splitlines()[:4] == ["diff --git a/f.c b/f.c", "--- a/f.c", "+++ b/f.c", "@@ -15,6 +15,3 @@"]
    assert origin[:4] == [0, 1, 2, 3]


@pytest.mark.parametrize("diff", [
    # one line short: git says "corrupt patch"
    "diff --git a/f.c b/f.c\n--- a/f.c\n+++ b/f.c\n@@ -1,3 +1,4 @@\n int v1;\n+int x;\n int v2;\n",
    # a line that is no diff line inside a hunk
    "diff --git a/f.c b/f.c\n--- a/f.c\n+++ b/f.c\n@@ -1,3 +1,4 @@\n int v1;\n+int x;\n*int v2;\n int v3;\n",
])
def test_a_diff_git_refuses_is_refused(tmp_path: Path, diff: str) -> None:
    assert not _git_accepts(tmp_path, diff)
    with pytest.raises(InputError, match="broken diff"):
        parse_changed_files("Subject\n---\n" + diff)


def _mail(n: int, total: int, diff: str, subject: str = "fix things") -> str:
    return (f"From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n"
            f"From: A Developer <dev@example.org>\nDate: Thu, 1 Jan 2026 00:00:00 +0000\n"
            f"Subject: [PATCH {n}/{total}] {subject} {n}\nMessage-ID: <p{n}@example.org>\n\n"
            f"Do thing {n}.\n\nSigned-off-by: A Developer <dev@example.org>\n---\n{diff}-- \n2.43.0\n\n")


BAD = "diff --git a/f.c b/f.c\n--- a/f.c\n+++ b/f.c\n@@ -1,3 +1,4 @@\n int v1;\n+int x;\n int v2;\n"
# A kernel-doc comment that names a parameter the function does not have: KDOC002 says so.
DOC_BUG = ("diff --git a/g.c b/g.c\nnew file mode 100644\n--- /dev/null\n+++ b/g.c\n@@ -0,0 +1,7 @@\n"
           "+/**\n+ * g_set() - set g\n+ * @value: the value\n+ * @flags: unused\n+ */\n"
           "+void g_set(int value)\n+{ }\n")


def test_a_broken_patch_does_not_fail_its_series(tmp_path: Path, capsys) -> None:
    series = tmp_path / "series"
    series.mkdir()
    (series / "0001-a.patch").write_text(_mail(1, 3, DOC_BUG), "utf-8")
    (series / "0002-b.patch").write_text(_mail(2, 3, BAD), "utf-8")
    (series / "0003-c.patch").write_text(_mail(3, 3, _blank_context()), "utf-8")
    code = cli.main(["ci", str(series), "--format", "json", "--fail-on", "info"])
    report = json.loads(capsys.readouterr().out)
    assert [p["msgid"] for p in report["patches"]] == ["p1@example.org", "p2@example.org", "p3@example.org"]
    (bad,) = report["unreadable"]
    assert bad["msgid"] == "p2@example.org" and bad["reason"].startswith("broken diff: Hunk is shorter")
    assert [f["rule"] for f in report["findings"]] == ["KDOC002"]
    assert code == 1  # from the findings of the readable patches
    assert cli.main(["ci", str(series / "0002-b.patch")]) == 2  # nothing readable at all


def test_ci_reviews_every_bare_diff_of_a_folder_and_of_the_command_line(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "diffs"
    folder.mkdir()
    for n in range(7):
        (folder / f"change-{n}.diff").write_text(
            f"diff --git a/d{n}.c b/d{n}.c\nnew file mode 100644\n--- /dev/null\n+++ b/d{n}.c\n"
            f"@@ -0,0 +1 @@\n+int d{n};\n", "utf-8")
    (folder / "doc.diff").write_text(DOC_BUG, "utf-8")
    cli.main(["ci", str(folder), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert [p["subject"] for p in report["patches"]] == [
        f"[PATCH] change-{n}.diff" for n in range(7)] + ["[PATCH] doc.diff"]
    assert len({p["msgid"] for p in report["patches"]}) == 8
    assert [(f["rule"], f["file"]) for f in report["findings"]] == [("KDOC002", "g.c")]
    # files named one by one, in the order given
    given = [folder / "doc.diff", folder / "change-3.diff", folder / "change-1.diff"]
    cli.main(["ci", *map(str, given), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert [p["subject"] for p in report["patches"]] == ["[PATCH] doc.diff", "[PATCH] change-3.diff",
                                                         "[PATCH] change-1.diff"]


def test_ci_keeps_a_numbered_series_whole_and_refuses_a_file_without_a_diff(tmp_path: Path, capsys) -> None:
    for n in (1, 2):
        (tmp_path / f"000{n}.patch").write_text(_mail(n, 2, DOC_BUG if n == 1 else _blank_context()), "utf-8")
    cli.main(["ci", str(tmp_path / "0002.patch"), str(tmp_path / "0001.patch"), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    # one series: b4 orders it by its counters
    assert [p["counter"] for p in report["patches"]] == [1, 2] and report["series"]["total"] == 2
    (tmp_path / "note.eml").write_text("From: x@example.org\nSubject: Re: hello\n\nthanks\n", "utf-8")
    assert cli.main(["ci", str(tmp_path / "note.eml")]) == 2
    assert "no diff in it" in capsys.readouterr().err
