"""Fuzzing: whatever a mailing list sends, reviewbot ends in exit 0, 1 or 2 with at most one line on
stderr, never a traceback (exit 4) and never a hang.

- A fixed-seed share of bench/fuzz_bench.py's mutation fuzzer (the bench runs 10,000 cases).
- hypothesis over the headers that reach reply drafts: no header injection, drafts stay parseable.
- Regression tests, one per crash the fuzzer found, each with the input that reproduced it.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import fuzz_bench as fb
from reviewbot import cli

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = ROOT / "fixtures" / "bpf-oom-v1" / "messages"
PATCH_01 = "20250818170136.209169-2-roman.gushchin@linux.dev"
PATCH_01_RAW = (MESSAGES / f"{PATCH_01}.eml").read_bytes()
COVER = "20250818170136.209169-1-roman.gushchin@linux.dev"


def run(argv: list[str], stdin: bytes = b"", timeout: float = 30.0) -> tuple[int | None, str, str]:
    return fb.run_in_process(argv, stdin, timeout)


def assert_clean(code: int | None, err: str) -> None:
    assert fb.judge(code, err) is None, (code, err)


def with_header(raw: bytes, name: bytes, value: bytes) -> bytes:
    head, sep, body = raw.partition(b"\n\n")
    lines = [ln for ln in fb._header_lines(head) if not ln.lower().startswith(name.lower() + b":")]
    return b"\n".join(lines + [name + b": " + value]) + sep + body


# --------------------------------------------------------------------------------------------------
# Regressions: each input crashed reviewbot (exit 4) or hung before its fix
# --------------------------------------------------------------------------------------------------


def _ci(tmp_path: Path, raw: bytes, *fmt: str) -> tuple[int | None, str, str]:
    path = tmp_path / "case.patch"
    path.write_bytes(raw)
    return run(["ci", str(path), "--format", "json", *fmt])


def test_non_ascii_and_crlf_addresses_do_not_crash_thread(tmp_path: Path) -> None:
    # thread._addresses: formataddr() raised UnicodeEncodeError on a non-ASCII address, and the
    # header parser ValueError on an encoded word hiding CR/LF in a name.
    for to in ("Gr\u00fc\u00df <r\u00e9mi@ex\u00e4mple.com>".encode(), b"\xe2\x80\xae <x\xff@y.com>",
               b"=?utf-8?q?a=0D=0ABcc:=20x@example.com?= <a@example.com>, b@example.com"):
        code, _, err = _ci(tmp_path, with_header(PATCH_01_RAW, b"To", to))
        assert_clean(code, err)
        assert code == 1  # still reviewed: 01/14 has findings


def test_unknown_charset_in_a_patch_file(tmp_path: Path) -> None:
    # patchfiles.first_patch_msgid: get_content() raised LookupError for charset=x-unknown.
    raw = with_header(PATCH_01_RAW, b"Content-Type", b"text/plain; charset=x-unknown")
    code, _, err = _ci(tmp_path, raw)
    assert_clean(code, err)


def _nested(raw: bytes, depth: int) -> bytes:
    import random

    class Fixed(random.Random):
        def choice(self, seq):
            return depth if isinstance(seq, tuple) and all(isinstance(x, int) for x in seq) else seq[0]

        def random(self):
            return 0.9

    return fb.m_nested_mime(Fixed(), raw)


def test_deeply_nested_mime_in_a_patch_file(tmp_path: Path) -> None:
    # patchfiles.parse_mail: the email parser's RecursionError at ~330 nested multiparts.
    code, _, err = _ci(tmp_path, _nested(PATCH_01_RAW, 1000))
    assert code == 2 and "nested too deeply" in err
    assert_clean(code, err)


def test_deeply_nested_mime_on_check_stdin() -> None:
    # b4check.parse_message: the same RecursionError.
    code, _, err = run(["check"], _nested(PATCH_01_RAW, 1000))
    assert code == 2 and "nested too deeply" in err
    assert_clean(code, err)


def test_deeply_nested_mime_in_an_mbox(tmp_path: Path) -> None:
    # fetch.read_messages: the same RecursionError inside liblore's split_mbox.
    mbox = tmp_path / "t.mbox"
    mbox.write_bytes(fb._mbox([_nested(PATCH_01_RAW, 1000)]))
    code, _, err = run(["review", PATCH_01, "--mbox", str(mbox)])
    assert code == 2 and "nested too deeply" in err
    assert_clean(code, err)


def new_file_patch(path: str, text: str, subject: str = "[PATCH] add a file") -> bytes:
    lines = text.splitlines()
    body = "".join(f"+{line}\n" for line in lines)
    return (f"From: Dev <dev@example.com>\nSubject: {subject}\nMessage-ID: <deep.1@example.com>\n"
            f"Date: Mon, 18 Aug 2025 10:00:00 -0700\n\nAdd it.\n\nSigned-off-by: Dev <dev@example.com>\n---\n"
            f"diff --git a/{path} b/{path}\nnew file mode 100644\nindex 0000000..1111111\n--- /dev/null\n"
            f"+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n{body}-- \n2.50.0\n").encode()


def test_deeply_nested_c_expression(tmp_path: Path) -> None:
    # facts.flow.FlowBuilder._collect recursed once per level of the expression tree.
    nested = "\n".join(["\tret = f(" + "g(1 + " * 40] * 30) + "0" + ")" * 2400 + ";"
    src = "int f(int);\nint g(int);\nint h(void)\n{\n\tint ret;\n" + nested + "\n\treturn ret;\n}\n"
    code, _, err = _ci(tmp_path, new_file_patch("mm/deep.c", src))
    assert_clean(code, err)
    assert code in (0, 1)


def test_hostile_from_and_deeply_nested_comments_in_headers(tmp_path: Path) -> None:
    # lore.series_mailbox: b4 reading From raised ValueError (CR/LF in an encoded address);
    # thread._addresses: parentheses nested past the recursion limit in To raised RecursionError.
    raw = with_header(PATCH_01_RAW, b"From", b"=?utf-8?q?a=0D=0ABcc:=20x@example.com?= <a@example.com>")
    code, _, err = _ci(tmp_path, raw)
    assert code == 2 and "headers reviewbot cannot read" in err
    assert_clean(code, err)
    raw = with_header(PATCH_01_RAW, b"To", b"a@example.com " + b"(" * 3000 + b")" * 3000)
    code, _, err = _ci(tmp_path, raw)
    assert_clean(code, err)
