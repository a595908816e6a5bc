"""The command line end to end: the JSON contract, exit codes, one-line errors, ci inputs, rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from reviewbot import cli
from tests.helpers import COVER, PATCH_01, ROOT, V1, V1_MBOX

TESTRULES = str(ROOT / "tests" / "rules")


def run(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def review_json(capsys, *extra):
    code, out, err = run(["review", PATCH_01, "--mbox", str(V1_MBOX), "--format", "json", *extra], capsys)
    return code, json.loads(out), err


def test_json_contract_keys_and_order(capsys):
    code, data, err = review_json(capsys, "--rules-dir", TESTRULES)
    assert err == ""
    assert list(data)[:3] == ["reviewbot", "series", "patches"]
    assert {"findings", "not_modelled"} <= set(data)
    assert data["reviewbot"] == __import__("reviewbot").__version__
    assert [p["counter"] for p in data["patches"]] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14]
    assert list(data["patches"][0]) == ["msgid", "subject", "counter", "total"]
    assert data["patches"][0]["msgid"] == PATCH_01 and data["series"]["missing"] == [12]
    f = data["findings"][0]
    assert list(f)[:10] == ["rule", "severity", "confidence", "patch", "file", "line", "end_line", "message",
                            "quoted", "trace"]
    assert "see" in f
    assert (f["rule"], f["patch"], f["file"], f["line"]) == ("TEST001", PATCH_01, "mm/bpf_oom.c", 31)
    assert f["quoted"] == ["+\tlist_idx = srcu_read_lock(&bpf_oom_srcu);"]
    # Exit code: an error-level TEST002 finding (kfree) is present.
    assert code == 1


def test_same_input_same_bytes(capsys):
    argv = ["review", COVER, "--mbox", str(V1_MBOX), "--format", "json", "--rules-dir", TESTRULES]
    first = run(argv, capsys)[1]
    second = run(argv, capsys)[1]
    assert first == second


@pytest.mark.parametrize(
    "fail_on, skip, expected",
    [("error", None, 1), ("error", "TEST002", 0), ("warning", "TEST002", 1), ("never", None, 0),
     ("info", "testpack", 0)],
)
def test_fail_on_and_skip(capsys, fail_on, skip, expected):
    argv = ["review", PATCH_01, "--mbox", str(V1_MBOX), "--rules-dir", TESTRULES, "--fail-on", fail_on]
    if skip:
        argv += ["--skip", skip]
    assert run(argv, capsys)[0] == expected


def test_rules_selects_by_id_name_or_pack(capsys):
    _, data, _ = review_json(capsys, "--rules-dir", TESTRULES, "--rules", "added-kfree")
    assert {f["rule"] for f in data["findings"]} == {"TEST002"}
    code, _, err = run(["review", PATCH_01, "--mbox", str(V1_MBOX), "--rules-dir", TESTRULES, "--rules", "NOPE9"],
                       capsys)
    assert code == 2 and err.count("\n") == 1 and "unknown rule" in err


def test_output_file_is_written_whole(tmp_path, capsys):
    out = tmp_path / "sub" / "report.json"
    code, stdout, _ = run(["review", PATCH_01, "--mbox", str(V1_MBOX), "--format", "json", "--output", str(out),
                           "--rules-dir", TESTRULES, "--fail-on", "never"], capsys)
    assert code == 0 and stdout == ""
    assert json.loads(out.read_text())["patches"][0]["msgid"] == PATCH_01
    assert [p.name for p in out.parent.iterdir()] == ["report.json"]  # no temporary left behind


def test_text_summary_names_patches_missing_slot_and_findings(capsys):
    code, out, _ = run(["review", PATCH_01, "--mbox", str(V1_MBOX), "--rules-dir", TESTRULES], capsys)
    assert out.startswith('v1 "mm: BPF OOM": 13 of 14 patches and a cover letter\n')
    assert "missing from the archive: 12/14" in out
    assert ("mm/bpf_oom.c:31: warning: Is srcu_read_lock() on this line paired with an unlock on every path? "
            "[TEST001]") in out
    assert out.rstrip().endswith("4 findings: 2 error, 2 warning, 0 info")


@pytest.mark.parametrize(
    "argv, code, needle",
    [
        (["review", PATCH_01, "--mbox", "/nonexistent/thread.mbox"], 2, "/nonexistent/thread.mbox"),
        (["review", "nobody@example.org", "--mbox", str(V1_MBOX)], 2, "nobody@example.org"),
        (["review", "not a message id", "--offline"], 2, "not a Message-ID"),
        (["review", "unknown@example.org", "--offline"], 2, "unknown@example.org"),
        (["review"], 2, "msgid"),
        (["frobnicate"], 2, "frobnicate"),
        (["ci"], 2, "ci"),
        (["ci", "/nonexistent.patch"], 2, "/nonexistent.patch"),
        (["explain", "NOPE001"], 2, "NOPE001"),
        (["rules", "--rules-dir", "/nonexistent"], 2, "/nonexistent"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, code, needle):
    got, out, err = run(argv, capsys)
    assert got == code
    assert err.endswith("\n") and err.count("\n") == 1 and needle in err
    assert "Traceback" not in err and out == ""


def test_not_an_mbox_and_empty_file(tmp_path, capsys):
    junk = tmp_path / "junk.mbox"
    junk.write_bytes(b"\x00\x01 this is not mail\n")
    empty = tmp_path / "empty.mbox"
    empty.write_bytes(b"")
    for path in (junk, empty):
        code, _, err = run(["review", PATCH_01, "--mbox", str(path)], capsys)
        assert code == 2 and err.count("\n") == 1


def test_whole_process_never_prints_a_traceback(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "reviewbot", "review", PATCH_01, "--mbox", str(tmp_path)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_ci_on_patch_files_folder_and_git_range(tmp_path, capsys):
    # A folder of patch mails (as git format-patch writes them) reviews like the thread does.
    folder = tmp_path / "series"
    folder.mkdir()
    for n in (2, 3):
        src = V1 / "messages" / f"20250818170136.209169-{n}-roman.gushchin@linux.dev.eml"
        (folder / f"000{n - 1}-x.patch").write_bytes(src.read_bytes())
    code, out, _ = run(["ci", str(folder), "--format", "json", "--rules-dir", TESTRULES], capsys)
    data = json.loads(out)
    assert [p["counter"] for p in data["patches"]] == [1, 2] and code == 1
    assert {f["line"] for f in data["findings"] if f["rule"] == "TEST001"} == {31, 36}

    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=T", "-c", "user.email=t@example.org"]
    subprocess.run(git[:3] + ["init", "-q"], check=True)
    (repo / "a.c").write_text("int a;\n")
    subprocess.run(git + ["add", "a.c"], check=True)
    subprocess.run(git + ["commit", "-qm", "init"], check=True)
    (repo / "a.c").write_text("int a;\nvoid f(void *p)\n{\n\tkfree(p);\n}\n")
    subprocess.run(git + ["commit", "-qam", "add f"], check=True)
    code, out, _ = run(["ci", "--git", "HEAD~1..HEAD", "--repo", str(repo), "--format", "json",
                        "--rules-dir", TESTRULES], capsys)
    data = json.loads(out)
    assert code == 1 and [(f["rule"], f["file"], f["line"]) for f in data["findings"]] == [("TEST002", "a.c", 4)]
    first = out
    assert run(["ci", "--git", "HEAD~1..HEAD", "--repo", str(repo), "--format", "json", "--rules-dir", TESTRULES],
               capsys)[1] == first  # made-up Message-IDs are stable
    code, _, err = run(["ci", "--git", "nope..HEAD", "--repo", str(repo)], capsys)
    assert code == 2 and err.count("\n") == 1


def test_rules_and_explain(capsys):
    code, out, _ = run(["rules", "--format", "json", "--rules-dir", TESTRULES], capsys)
    rows = json.loads(out)
    assert code == 0 and [r["id"] for r in rows] == ["TEST001", "TEST002"]
    assert set(rows[0]) >= {"id", "name", "severity", "summary", "see"}
    code, out, _ = run(["explain", "TEST001", "--rules-dir", TESTRULES], capsys)
    assert code == 0 and out == (ROOT / "tests/rules/testpack/TEST001-srcu-read-lock/README.md").read_text()


@pytest.mark.parametrize("msgid", [PATCH_01, COVER])
def test_mbox_and_lore_give_the_same_json(capsys, public_inbox_url, msgid):
    """The issue's acceptance check: the same review from the local mbox and from a real
    public-inbox archive on loopback, through b4."""
    common = ["--format", "json", "--fail-on", "never"]
    code_mbox, from_mbox, _ = run(["review", msgid, "--mbox", str(V1_MBOX), *common], capsys)
    code_lore, from_lore, err = run(["review", msgid, "--lore", public_inbox_url, "--no-cache", *common], capsys)
    assert (code_mbox, code_lore, err) == (0, 0, "")
    assert from_mbox == from_lore
    assert json.loads(from_lore)["series"]["missing"] == [12]


def test_archive_faults_are_exit_3_with_one_line(capsys, down_url, http500_url):
    for url in (down_url, http500_url):
        code, out, err = run(["review", PATCH_01, "--lore", url, "--no-cache"], capsys)
        assert code == 3 and out == "" and err.count("\n") == 1 and "Traceback" not in err


def test_each_model_finding_kind_has_its_own_summary_and_explain(capsys):
    code, out, _ = run(["rules", "--format", "json"], capsys)
    kinds = [r for r in json.loads(out) if r["kind"] == "model bpf_oom"]
    assert [r["id"] for r in kinds] == [f"BPFOOM{n:03d}" for n in range(1, 18)]
    assert len({r["summary"] for r in kinds}) == len(kinds)  # no shared model summary
    code, text, _ = run(["rules"], capsys)
    assert "Unregistration frees an object a reader can still reach" in text
    for r in kinds:
        code, out, _ = run(["explain", r["id"]], capsys)
        assert code == 0 and out.startswith(f"### {r['id']} {r['name']}\n"), out[:80]
        others = [k["id"] for k in kinds if k["id"] != r["id"]]
        assert not any(f"### {o}" in out for o in others)
        assert all(len(line) <= 100 for line in out.splitlines())
    code, whole, _ = run(["explain", "bpf_oom"], capsys)
    assert code == 0 and whole.startswith("# bpf_oom") and "### BPFOOM011" in whole
