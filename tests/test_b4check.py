"""`reviewbot check`: b4's per-patch check contract, unit-level and through b4's own check runner."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import pytest

from reviewbot import b4check, cli, rulepack
from reviewbot.errors import InputError
from tests.helpers import PATCH_01, V1, eml, v1_patch_ids

RULES_DIR = Path(__file__).resolve().parent / "rules"


def raw(msgid: str) -> bytes:
    return (V1 / "messages" / f"{msgid}.eml").read_bytes()


@pytest.fixture(scope="module")
def rules():
    return rulepack.load_rules(RULES_DIR)


def make_patch_email(code: str, subject="[PATCH 1/1] test: add a file", path="lib/x.c") -> bytes:
    lines = code.splitlines()
    diff = "\n".join([f"diff --git a/{path} b/{path}", "new file mode 100644", "--- /dev/null", f"+++ b/{path}",
                      f"@@ -0,0 +1,{len(lines)} @@"] + ["+" + line for line in lines])
    return (f"From: A Dev <dev@example.org>\nTo: list@example.org\nSubject: {subject}\n"
            f"Message-ID: <t1@example.org>\nDate: Tue, 19 Aug 2025 10:00:00 +0000\n"
            f"Content-Type: text/plain; charset=utf-8\n\nAdd x.\n\nSigned-off-by: A Dev <dev@example.org>\n---\n"
            f"{diff}\n-- \n2.50.1\n").encode()


def test_fail_on_an_error_finding(rules):
    [res] = b4check.check_message(raw(PATCH_01), rules)
    assert set(res) == {"tool", "status", "summary", "url", "details"}
    assert res["tool"] == "reviewbot" and res["status"] == "fail"
    assert res["summary"] == "2 errors, 2 warnings: TEST001, TEST002"
    details = json.loads(res["details"])
    assert [(d["context"], d["status"], d["state"]) for d in details] == [
        ("TEST001", "warn", "warning"), ("TEST001", "warn", "warning"),
        ("TEST002", "fail", "error"), ("TEST002", "fail", "error")]
    assert details[2]["description"] == "mm/bpf_oom.c:91: Can anything still reach bpf_oom after this kfree()?"
    assert details[2]["srcline"] == "kfree(bpf_oom);"
    assert details[2]["url"].startswith("https://lore.kernel.org/")
    assert details[0]["url"] == ""  # a Documentation/ path is not a URL


def test_warn_on_warnings_only_and_pass_on_nothing(rules):
    [res] = b4check.check_message(make_patch_email("int f(void)\n{\n\treturn srcu_read_lock(&s);\n}"), rules)
    assert res["status"] == "warn" and res["summary"] == "1 warning: TEST001"
    [res] = b4check.check_message(make_patch_email("int f(void)\n{\n\treturn 0;\n}"), rules, url="https://ci/1")
    assert res == {"tool": "reviewbot", "status": "pass", "summary": "no findings (2 rules)",
                   "url": "https://ci/1", "details": ""}


def test_series_from_message_reads_the_subject_and_headers():
    series = b4check.series_from_message(eml(PATCH_01))
    (patch,) = series.patches
    assert patch.msgid == PATCH_01
    assert (patch.counter, patch.total, patch.revision) == (1, 14, 1)
    assert patch.title == "mm: introduce bpf struct ops for OOM handling"
    assert patch.author_email == "roman.gushchin@linux.dev"
    assert [cf.path for cf in patch.changed_files][:2] == ["include/linux/bpf_oom.h", "include/linux/oom.h"]


def test_bad_input_is_an_input_error(rules):
    with pytest.raises(InputError):
        b4check.check_message(b"", rules)
    with pytest.raises(InputError):
        b4check.check_message(b"\n\njust text\n", rules)
    [res] = b4check.check_message(b"Subject: [PATCH 0/3] cover\nFrom: a@b.c\n\nHello.\n", rules)
    assert res["status"] == "pass" and res["summary"] == "no diff to review"


def test_cmd_check_prints_the_json(rules):
    out = io.StringIO()
    args = Namespace(rules_dir=str(RULES_DIR), rules="TEST001", skip=None, url="")
    assert b4check.cmd_check(args, stdin=io.BytesIO(raw(PATCH_01)), stdout=out) == 0
    [res] = json.loads(out.getvalue())
    assert res["status"] == "warn" and res["summary"] == "2 warnings: TEST001"


def _command() -> list[str]:
    """`python -m reviewbot check` once the CLI registers the subcommand; until then the module."""
    if "reviewbot.b4check" in getattr(cli, "SUBCOMMAND_MODULES", ()):
        return [sys.executable, "-m", "reviewbot", "check"]
    return [sys.executable, "-m", "reviewbot.b4check", "check"]


def test_the_command_line_exit_codes(tmp_path):
    cmd = _command() + ["--rules-dir", str(RULES_DIR)]
    ok = subprocess.run(cmd, input=raw(PATCH_01), capture_output=True, timeout=120, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)[0]["status"] == "fail"
    bad = subprocess.run(cmd, input=b"", capture_output=True, timeout=120, cwd=tmp_path)
    assert bad.returncode == 2 and bad.stdout == b""
    assert bad.stderr.decode().count("\n") == 1 and "no email on stdin" in bad.stderr.decode()


def test_b4s_own_check_runner_gets_our_results(tmp_path, monkeypatch):
    b4 = pytest.importorskip("b4")
    checks = pytest.importorskip("b4.review.checks")
    home = tmp_path / "home"
    home.mkdir()
    cmd = " ".join(_command() + ["--rules-dir", str(RULES_DIR)])
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(f"[b4]\n\treview-perpatch-check-cmd = {cmd}\n")
    for key, value in {"HOME": str(home), "GIT_CONFIG_GLOBAL": str(gitconfig), "GIT_CONFIG_NOSYSTEM": "1",
                       "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local"),
                       "XDG_CACHE_HOME": str(home / ".cache")}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(b4, "MAIN_CONFIG", dict(b4.MAIN_CONFIG))
    monkeypatch.chdir(tmp_path)
    b4._setup_main_config(topdir=str(tmp_path))

    perpatch, _series = checks.load_check_cmds()
    assert perpatch == [cmd]
    patches = [(mid, eml(mid)) for mid in v1_patch_ids()]
    results = checks.run_perpatch_checks(patches, perpatch, str(tmp_path))
    assert set(results) == set(v1_patch_ids())
    first = results[PATCH_01]
    assert len(first) == 1 and first[0]["tool"] == "reviewbot" and first[0]["status"] == "fail"
    assert first[0]["summary"] == "2 errors, 2 warnings: TEST001, TEST002"
    assert len(json.loads(first[0]["details"])) == 4
    for mid in v1_patch_ids()[1:]:
        assert [(r["tool"], r["status"]) for r in results[mid]] == [("reviewbot", "pass")], mid


def test_wired_into_the_cli(monkeypatch, capsys):
    modules = tuple(getattr(cli, "SUBCOMMAND_MODULES", ()))
    if "reviewbot.b4check" not in modules:
        monkeypatch.setattr(cli, "SUBCOMMAND_MODULES", modules + ("reviewbot.b4check",))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw(PATCH_01))))
    assert cli.main(["check", "--rules-dir", str(RULES_DIR), "--skip", "TEST002"]) == 0
    [res] = json.loads(capsys.readouterr().out)
    assert (res["status"], res["summary"]) == ("warn", "2 warnings: TEST001")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    assert cli.main(["check", "--rules-dir", str(RULES_DIR)]) == 2
    assert "no email on stdin" in capsys.readouterr().err


def test_check_reviews_a_patch_as_review_does(capsys):
    """The shipped rules and models on v1 01/14: `check` reports what `review` reports on that
    patch (the model's BPFOOM findings, the rule findings they subsume dropped), ids and lines."""
    assert cli.main(["review", PATCH_01, "--offline", "--format", "json", "--fail-on", "never"]) == 0
    reviewed = json.loads(capsys.readouterr().out)
    want = sorted((f["rule"], f["file"], f["line"]) for f in reviewed["findings"] if f["patch"] == PATCH_01)
    assert {r for r, _, _ in want} >= {"BPFOOM001", "BPFOOM002", "BPFOOM006", "BPFOOM007", "KDOC001"}
    assert not {"SRCU002", "SRCU004", "CMSG001", "SOPS001"} & {r for r, _, _ in want}  # subsumed

    out = io.StringIO()
    args = Namespace(rules_dir=None, rules=None, skip=None, url="")
    assert b4check.cmd_check(args, stdin=io.BytesIO(raw(PATCH_01)), stdout=out) == 0
    [res] = json.loads(out.getvalue())
    details = json.loads(res["details"])
    got = sorted((d["context"], *d["description"].split(":")[:2]) for d in details)
    assert got == [(r, f, str(n)) for r, f, n in want]
    assert res["status"] == "fail" and res["summary"].endswith(", ".join(sorted({r for r, _, _ in want})))


def test_check_selects_model_findings_like_review():
    out = io.StringIO()
    args = Namespace(rules_dir=None, rules="BPFOOM007,SRCU002", skip=None, url="")
    assert b4check.cmd_check(args, stdin=io.BytesIO(raw(PATCH_01)), stdout=out) == 0
    [res] = json.loads(out.getvalue())
    assert [d["context"] for d in json.loads(res["details"])] == ["BPFOOM007"]  # SRCU002's subsumed
    out = io.StringIO()
    args = Namespace(rules_dir=None, rules="srcu", skip=None, url="")
    assert b4check.cmd_check(args, stdin=io.BytesIO(raw(PATCH_01)), stdout=out) == 0
    [res] = json.loads(out.getvalue())
    assert "SRCU002" in {d["context"] for d in json.loads(res["details"])}  # no model: the rule speaks
