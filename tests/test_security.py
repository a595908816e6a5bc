"""Untrusted content (docs/security.md): text from a thread never writes or reads outside the output
or tree folder, never reaches a shell, never chooses code to run, and the code under review is never
compiled or run. Header injection into drafts is fuzzed in tests/test_fuzz.py.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
from pathlib import Path

import pytest

from reviewbot import cli
from reviewbot.csource.postimage import tree_file
from reviewbot.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "reviewbot"
MESSAGES = ROOT / "fixtures" / "bpf-oom-v1" / "messages"
PATCH_01_RAW = (MESSAGES / "20250818170136.209169-2-roman.gushchin@linux.dev.eml").read_bytes()


def main(argv: list[str], cwd: Path | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    try:
        if cwd:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(argv)
    finally:
        os.chdir(old)
    return code, out.getvalue(), err.getvalue()


def new_file_patch(path: str, text: str, subject: str = "[PATCH] add a file") -> bytes:
    lines = text.splitlines()
    body = "".join(f"+{line}\n" for line in lines)
    return (f"From: Dev <dev@example.com>\nTo: list@example.com\nSubject: {subject}\nMessage-ID: <sec.1@example.com>\n"
            f"Date: Mon, 18 Aug 2025 10:00:00 -0700\n\nAdd it.\n\nSigned-off-by: Dev <dev@example.com>\n---\n"
            f"diff --git a/{path} b/{path}\nnew file mode 100644\nindex 0000000..1111111\n--- /dev/null\n"
            f"+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n{body}").encode()


def modify_patch(path: str) -> bytes:
    return (f"From: Dev <dev@example.com>\nSubject: [PATCH] touch it\nMessage-ID: <sec.2@example.com>\n\n"
            f"Change.\n---\ndiff --git a/{path} b/{path}\nindex 1111111..2222222 100644\n--- a/{path}\n+++ b/{path}\n"
            f"@@ -1,2 +1,3 @@\n int a;\n+int b;\n int c;\n").encode()


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


# --------------------------------------------------------------------------------------------------
# Paths from the thread
# --------------------------------------------------------------------------------------------------

HOSTILE = ["../../etc/passwd.c", "/etc/passwd.c", "a/../../../x.c", "x\x00y.c", "..", "../outside.c",
           "dir/../../escape.c"]


@pytest.mark.parametrize("path", HOSTILE)
def test_tree_file_refuses_paths_out_of_the_tree(tmp_path: Path, path: str) -> None:
    with pytest.raises(InputError):
        tree_file(tmp_path, path)


def test_tree_file_refuses_a_symlink_out_of_the_tree(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "mm").mkdir(parents=True)
    secret = tmp_path / "secret.c"
    secret.write_text("int secret;\n")
    (tree / "mm" / "link.c").symlink_to(secret)
    with pytest.raises(InputError, match="leaves the tree"):
        tree_file(tree, "mm/link.c")


@pytest.mark.parametrize("path", ["../../secret.c", "/etc/hostname.c", "mm/../../secret.c"])
def test_review_with_tree_never_reads_outside_it(tmp_path: Path, path: str) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    patch = tmp_path / "p.patch"
    patch.write_bytes(modify_patch(path))
    code, out, err = main(["ci", str(patch), "--tree", str(tree), "--format", "json"])
    assert code == 2 and len(err.splitlines()) == 1 and "refusing path" in err, err


@pytest.mark.parametrize("subject", [
    "[PATCH] ../../../../tmp/evil", "[PATCH] /etc/passwd", "[PATCH] a\x00b", "[PATCH] ..", "[PATCH] " + "../" * 100,
])
def test_draft_file_names_stay_in_the_output_folder(tmp_path: Path, subject: str) -> None:
    # A finding in a patch whose subject and file names are hostile: the draft lands in DIR.
    raw = PATCH_01_RAW.replace(b"Subject: [PATCH v1 01/14] mm: introduce bpf_oom_ops",
                               b"Subject: " + subject.encode("utf-8"), 1)
    raw = raw.replace(b"mm/bpf_oom.c", b"../../../../tmp/evil_bpf_oom.c")
    work = tmp_path / "work"
    work.mkdir()
    patch = work / "p.patch"
    patch.write_bytes(raw)
    out = work / "drafts"
    before = files_under(tmp_path)
    code, _, err = main(["ci", str(patch), "--format", "email", "--output", str(out), "--date",
                         "2025-08-19T10:00:00+00:00", "--from", "R <r@example.com>"], cwd=work)
    assert code in (0, 1, 2) and len(err.splitlines()) <= 1, err
    created = files_under(tmp_path) - before
    assert all(c.startswith("work/drafts") for c in created), created
    for name in (p.name for p in out.glob("*")) if out.exists() else ():
        assert re.fullmatch(r"(drafts\.mbox|[0-9]{4}-[A-Za-z0-9-]+(-[0-9]+)?\.eml)", name), name


# --------------------------------------------------------------------------------------------------
# The code under review is never compiled or run; no shell; rules only from the package or --rules-dir
# --------------------------------------------------------------------------------------------------


def test_reviewing_code_never_runs_it(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    c = (f'#include "/etc/passwd"\n__attribute__((constructor)) static void boom(void)\n{{\n'
         f'\tsystem("touch {marker}");\n}}\nint main(void) {{ system("touch {marker}"); return 0; }}\n')
    files = [new_file_patch("mm/boom.c", c),
             new_file_patch("Makefile", f"all:\n\ttouch {marker}\n"),
             new_file_patch("scripts/x.sh", f"#!/bin/sh\ntouch {marker}\n"),
             new_file_patch("mm/$(touch PWNED).c", "int x;\n")]
    for n, raw in enumerate(files):
        patch = tmp_path / f"{n}.patch"
        patch.write_bytes(raw)
        code, _, err = main(["ci", str(patch), "--format", "json", "--tree", str(tmp_path)], cwd=tmp_path)
        assert code in (0, 1, 2), err
    assert not marker.exists() and not (tmp_path / "PWNED").exists()


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)]


def _name(func: ast.AST) -> str:
    if isinstance(func, ast.Attribute):
        return f"{_name(func.value)}.{func.attr}"
    return func.id if isinstance(func, ast.Name) else ""


# Every place the package starts a process, and why it is safe: an argument list (never a shell),
# with no text from a thread as an option.
ALLOWED_PROCESSES = {
    "patchfiles.py": "git format-patch --stdout RANGE: the range the user typed, refused when it starts with '-'",
    "render/email.py": "git config user.name / user.email",
    "batch.py": "git rev-list / cat-file --batch of a public-inbox folder the user names",
}


def test_no_shell_and_only_known_processes() -> None:
    found = {}
    for py in sorted(PKG.rglob("*.py")):
        tree = ast.parse(py.read_text())
        rel = str(py.relative_to(PKG))
        for call in _calls(tree):
            name = _name(call.func)
            assert name not in ("os.system", "os.popen", "eval", "exec", "os.execv", "os.execvp", "os.spawnv",
                                "pty.spawn", "compile"), f"{rel}:{call.lineno}: {name}"
            for kw in call.keywords:
                if kw.arg == "shell":
                    assert isinstance(kw.value, ast.Constant) and kw.value.value is False, f"{rel}:{call.lineno}"
            if name.startswith("subprocess.") or name in ("Popen", "run", "check_output"):
                if name.startswith("subprocess."):
                    found.setdefault(rel, []).append(call.lineno)
                    first = call.args[0] if call.args else None
                    assert not isinstance(first, (ast.Constant, ast.JoinedStr)) or isinstance(first, ast.List), (
                        f"{rel}:{call.lineno}: a command string")
    assert set(found) <= set(ALLOWED_PROCESSES), found


def test_git_range_cannot_be_an_option(tmp_path: Path) -> None:
    code, _, err = main(["ci", "--git=--output=/tmp/x", "--repo", str(tmp_path)])
    assert code == 2 and "not a git range" in err


def test_rules_load_only_from_the_package_or_a_named_folder(tmp_path: Path) -> None:
    # A rules/ folder in the working directory (e.g. in a kernel tree someone sent) is not loaded.
    marker = tmp_path / "RAN"
    evil = tmp_path / "rules" / "evil" / "EVIL001-evil"
    evil.mkdir(parents=True)
    (evil / "rule.toml").write_text('id = "EVIL001"\nname = "evil"\nseverity = "error"\nconfidence = "high"\n'
                                    'summary = "x"\nsee = "x"\n')
    (evil / "check.py").write_text(f"open({str(marker)!r}, 'w').write('x')\ndef check(ctx):\n    return []\n")
    patch = tmp_path / "p.patch"
    patch.write_bytes(PATCH_01_RAW)
    code, out, _ = main(["rules", "--format", "json"], cwd=tmp_path)
    assert code == 0 and "EVIL001" not in out
    code, out, _ = main(["ci", str(patch), "--format", "json"], cwd=tmp_path)
    assert code in (0, 1) and "EVIL001" not in out
    assert not marker.exists()
    from reviewbot import rulepack

    assert rulepack.default_rules_dir().resolve() in ((PKG / "_data" / "rules").resolve(), (ROOT / "rules").resolve())


def test_no_network_from_a_local_review(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A review of a local mbox, ci or check never opens a socket (links in a thread are not followed).
    import socket

    def refuse(self, address, *args):
        raise AssertionError(f"network access to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    patch = tmp_path / "p.patch"
    patch.write_bytes(PATCH_01_RAW.replace(b"\n---\n", b"\nLink: https://example.com/x\n---\n", 1))
    code, _, err = main(["ci", str(patch), "--format", "json"])
    assert code == 1, err
    mbox = ROOT / "fixtures" / "bpf-oom-v1" / "thread.mbox"
    code, _, err = main(["review", "20250818170136.209169-2-roman.gushchin@linux.dev", "--mbox", str(mbox)])
    assert code == 1, err
