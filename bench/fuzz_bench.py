#!/usr/bin/env python3
"""Mutation fuzzing of everything reviewbot reads from a mailing list.

    python bench/fuzz_bench.py [--cases 10000] [--seed 1] [--jobs 2] [--timeout 20] [--procs 20]

Seeds are the real mails of fixtures/bpf-oom-v1 (its thread.mbox and messages/*.eml). Each case
takes a seed (one patch mail, a small thread of cover + patches + replies, or the whole thread),
applies one to four mutations (truncation, byte flips, dropped headers, wrong charsets, base64 and
quoted-printable bodies, HTML-only mail, 8-bit headers, encoded words, huge lines, deeply nested
MIME, binary diffs, wrong hunk counts, hostile file names, C that is not C, ...) and runs
`reviewbot.cli.main([...])` in-process on it: `ci FILE`, `review ID --mbox FILE` or `check` with
the mail on stdin, in one of the output formats (drafts with --date into a folder).

Every case must end in exit 0, 1 or 2 with at most one line on stderr, no traceback, within the
per-case time bound (signal.alarm). Exit 4 is a bug in reviewbot: the case is rerun with
REVIEWBOT_DEBUG=1 and its traceback and input are saved under --save (default /tmp/reviewbot-fuzz).
A few cases (--procs) also run as whole `python -m reviewbot` processes.

Prints: cases, outcomes by exit code, by driver and by mutation, max and median time per case,
tracebacks (must be 0), hangs (must be 0). Exit status 1 when any case failed.

tests/test_fuzz.py runs a small fixed-seed share of the same cases.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import os
import quopri
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

V1 = ROOT / "fixtures" / "bpf-oom-v1"
THREAD_MBOX = V1 / "thread.mbox"
MESSAGES = V1 / "messages"
COVER = "20250818170136.209169-1-roman.gushchin@linux.dev"

OK_EXITS = (0, 1, 2)
FORMATS = ("json", "sarif", "text", "github", "email")


class CaseTimeout(BaseException):
    """Raised by the per-case alarm; a BaseException so cli.main's last line of defence lets it by."""


# --------------------------------------------------------------------------------------------------
# Seeds
# --------------------------------------------------------------------------------------------------


@dataclass
class Seeds:
    patches: list[bytes]  # single patch mails (have a diff)
    others: list[bytes]  # covers and replies
    thread: bytes  # the whole mbox
    small_threads: list[bytes] = field(default_factory=list)  # cover + a few patches + replies, as mboxes


def _msgid_of(raw: bytes) -> str | None:
    m = re.search(rb"(?im)^message-id:\s*<([^>\s]+)>", raw)
    return m.group(1).decode("ascii", "replace") if m else None


def _mbox(mails: list[bytes]) -> bytes:
    out = []
    for raw in mails:
        body = re.sub(rb"(?m)^(>*From )", rb">\1", raw)
        out.append(b"From mboxrd@z Thu Jan  1 00:00:00 1970\n" + body.rstrip(b"\n") + b"\n\n")
    return b"".join(out)


_SEEDS: Seeds | None = None


def load_seeds() -> Seeds:
    global _SEEDS
    if _SEEDS is not None:
        return _SEEDS
    patches, others = [], []
    for f in sorted(MESSAGES.glob("*.eml")):
        raw = f.read_bytes()
        (patches if re.search(rb"(?m)^diff --git ", raw) else others).append(raw)
    cover = next(r for r in others if _msgid_of(r) == COVER)
    replies = [r for r in others if r is not cover]
    small = []
    rng = random.Random(0)
    for _ in range(8):
        picked = rng.sample(patches, rng.randint(1, 3)) + rng.sample(replies, rng.randint(0, 2))
        small.append(_mbox([cover] + picked))
    _SEEDS = Seeds(patches=patches, others=others, thread=THREAD_MBOX.read_bytes(), small_threads=small)
    return _SEEDS


# --------------------------------------------------------------------------------------------------
# Mutations: each takes (rng, mail bytes) and returns new bytes
# --------------------------------------------------------------------------------------------------


def _split(raw: bytes) -> tuple[bytes, bytes, bytes]:
    """headers, separator, body of one mail (lenient)."""
    for sep in (b"\n\n", b"\r\n\r\n"):
        i = raw.find(sep)
        if i >= 0:
            return raw[:i], sep, raw[i + len(sep):]
    return raw, b"", b""


def _header_lines(head: bytes) -> list[bytes]:
    lines: list[bytes] = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and lines:
            lines[-1] += b"\n" + line
        else:
            lines.append(line)
    return lines


def m_truncate(rng: random.Random, raw: bytes) -> bytes:
    return raw[: rng.randint(0, len(raw))]


def m_byteflip(rng: random.Random, raw: bytes) -> bytes:
    b = bytearray(raw)
    for _ in range(rng.choice((1, 2, 8, 64))):
        if b:
            b[rng.randrange(len(b))] ^= rng.randint(1, 255)
    return bytes(b)


def m_insert_bytes(rng: random.Random, raw: bytes) -> bytes:
    junk = bytes(rng.choice((0, 0x0D, 0x0A, 0x1B, 0x7F, 0x80, 0xFF, 0xC3, ord("@"), ord("<"))) for _ in range(rng.randint(1, 16)))
    i = rng.randint(0, len(raw))
    return raw[:i] + junk + raw[i:]


DROPPABLE = (b"from", b"subject", b"message-id", b"content-type", b"in-reply-to", b"references", b"date",
             b"to", b"cc", b"mime-version", b"content-transfer-encoding")


def m_drop_header(rng: random.Random, raw: bytes) -> bytes:
    head, sep, body = _split(raw)
    lines = _header_lines(head)
    if rng.random() < 0.5:
        name = rng.choice(DROPPABLE)
        lines = [ln for ln in lines if not ln.lower().startswith(name + b":")]
    elif lines:
        del lines[rng.randrange(len(lines))]
    return b"\n".join(lines) + sep + body


CHARSETS = ("utf-16", "utf-32", "x-unknown", "", "iso-2022-jp", "\"utf-8", "utf-7", "latin1", "cp1252",
            "utf-8''", "us-ascii", "big5", "unicode-1-1-utf-7", "\u00e9", "base64", "gb18030")


def m_charset(rng: random.Random, raw: bytes) -> bytes:
    cs = rng.choice(CHARSETS).encode("utf-8")
    head, sep, body = _split(raw)
    lines = [ln for ln in _header_lines(head) if not ln.lower().startswith(b"content-type:")]
    lines.append(b"Content-Type: text/plain; charset=" + cs)
    if rng.random() < 0.3:
        body = body.decode("utf-8", "replace").encode("utf-16")
    return b"\n".join(lines) + (sep or b"\n\n") + body


def _set_cte(raw: bytes, cte: bytes, new_body: bytes) -> bytes:
    head, sep, _ = _split(raw)
    lines = [ln for ln in _header_lines(head) if not ln.lower().startswith(b"content-transfer-encoding:")]
    lines.append(b"Content-Transfer-Encoding: " + cte)
    return b"\n".join(lines) + (sep or b"\n\n") + new_body


def m_base64(rng: random.Random, raw: bytes) -> bytes:
    _, _, body = _split(raw)
    enc = base64.encodebytes(body)
    if rng.random() < 0.4:  # broken base64
        b = bytearray(enc)
        for _ in range(rng.randint(1, 10)):
            if b:
                b[rng.randrange(len(b))] = rng.choice(b"!*=-_\n\x00\xff")
        enc = bytes(b[: rng.randint(0, len(b))]) if rng.random() < 0.5 else bytes(b)
    return _set_cte(raw, rng.choice((b"base64", b"BASE64", b"base64 ")), enc)


def m_qp(rng: random.Random, raw: bytes) -> bytes:
    _, _, body = _split(raw)
    enc = quopri.encodestring(body)
    if rng.random() < 0.4:
        enc = enc.replace(b"=", rng.choice((b"=Z", b"=\n", b"==", b"=0")), rng.randint(1, 50))
    return _set_cte(raw, b"quoted-printable", enc)


def m_html_only(rng: random.Random, raw: bytes) -> bytes:
    head, sep, body = _split(raw)
    lines = [ln for ln in _header_lines(head)
             if not ln.lower().startswith((b"content-type:", b"content-transfer-encoding:"))]
    html = b"<html><body><pre>" + body.replace(b"<", b"&lt;") + b"</pre></body></html>"
    if rng.random() < 0.5:
        lines.append(b"Content-Type: text/html; charset=utf-8")
        return b"\n".join(lines) + (sep or b"\n\n") + html
    lines += [b"MIME-Version: 1.0", b'Content-Type: multipart/alternative; boundary="zz"']
    return (b"\n".join(lines) + b"\n\n--zz\nContent-Type: text/html\n\n" + html + b"\n--zz--\n")


def m_8bit_header(rng: random.Random, raw: bytes) -> bytes:
    head, sep, body = _split(raw)
    lines = _header_lines(head)
    junk = rng.choice((b"\xff\xfe", b"R\xe9mi", b"\xc3\x28", b"\x00", b"\xe2\x80\xae", b"\x1b[31m", "Gr\u00fc\u00df".encode()))
    targets = [i for i, ln in enumerate(lines) if ln.lower().startswith((b"subject:", b"from:", b"to:", b"cc:", b"message-id:", b"in-reply-to:"))]
    if targets:
        i = rng.choice(targets)
        cut = rng.randint(len(lines[i].split(b":", 1)[0]) + 1, len(lines[i]))
        lines[i] = lines[i][:cut] + junk + lines[i][cut:]
    return b"\n".join(lines) + sep + body


ENCODED_WORDS = (
    b"=?utf-8?b?" + base64.b64encode(b"evil\r\nBcc: victim@example.com") + b"?=",
    b"=?utf-8?q?a=0D=0ABcc:=20x@example.com?=",
    b"=?utf-8?b?" + base64.b64encode("\u202eRTL \u0000 nul".encode()) + b"?=",
    b"=?x-unknown?q?what?=",
    b"=?utf-8?b?!!!not-base64?=",
    b"=?utf-8?q?unterminated",
    b"=?iso-8859-1?q?=E9t=E9?= =?utf-8?b?w6k=?=",
    b"=?utf-8*en?q?lang?=",
)


def m_encoded_word(rng: random.Random, raw: bytes) -> bytes:
    head, sep, body = _split(raw)
    lines = _header_lines(head)
    word = rng.choice(ENCODED_WORDS)
    name = rng.choice((b"Subject", b"From", b"To", b"Cc"))
    for i, ln in enumerate(lines):
        if ln.lower().startswith(name.lower() + b":"):
            if name == b"Subject":
                lines[i] = ln + b" " + word
            else:
                lines[i] = name + b": " + word + b" <x@example.com>, " + ln.split(b":", 1)[1].strip()
            break
    else:
        lines.append(name + b": " + word)
    return b"\n".join(lines) + sep + body


def m_subject(rng: random.Random, raw: bytes) -> bytes:
    subj = rng.choice((
        b"[PATCH 999999999/0] x", b"[PATCH v-1 1/1] x", b"[PATCH 0/0]", b"[PATCH v99999999999999999999 1/2] big",
        b"[PATCH 3/2] over", b"[RFC PATCH v2 07/14]", b"", b"Re: Re: Re: [PATCH 1/1] y", b"[PATCH 1/1]\r\nBcc: x@y",
        b"[" * 500, b"[PATCH " + b"v" * 2000 + b"]", b"[PATCH v1 01/14] " + b"A" * 5000,
    ))
    head, sep, body = _split(raw)
    lines = [ln for ln in _header_lines(head) if not ln.lower().startswith(b"subject:")]
    lines.append(b"Subject: " + subj)
    return b"\n".join(lines) + sep + body


def m_huge_line(rng: random.Random, raw: bytes) -> bytes:
    n = rng.choice((10_000, 200_000, 2_000_000))
    lines = raw.split(b"\n")
    i = rng.randrange(len(lines)) if lines else 0
    char = rng.choice((b"+", b" ", b"x", b"-"))
    filler = rng.choice((b"a", b"(", b"{", b"/*", b"\\", b"\t"))
    line = char + filler * (n // len(filler))
    return b"\n".join(lines[:i] + [line] + lines[i:])


def m_nested_mime(rng: random.Random, raw: bytes) -> bytes:
    head, sep, body = _split(raw)
    depth = rng.choice((5, 50, 200, 1000, 3000))
    lines = [ln for ln in _header_lines(head)
             if not ln.lower().startswith((b"content-type:", b"content-transfer-encoding:", b"mime-version:"))]
    lines += [b"MIME-Version: 1.0", b'Content-Type: multipart/mixed; boundary="b0"']
    parts = []
    for d in range(1, depth):
        parts.append(b'--b%d\nContent-Type: multipart/mixed; boundary="b%d"\n\n' % (d - 1, d))
    inner = b"--b%d\nContent-Type: text/plain\n\n" % (depth - 1) + body + b"\n--b%d--\n" % (depth - 1)
    closing = b"".join(b"--b%d--\n" % d for d in range(depth - 2, -1, -1))
    if rng.random() < 0.3:
        closing = b""  # unterminated
    return b"\n".join(lines) + b"\n\n" + b"".join(parts) + inner + closing


BINARY = (
    b"diff --git a/fw.bin b/fw.bin\nnew file mode 100644\nindex 0000000..1234567\n"
    b"GIT binary patch\nliteral 12\nTcmZ?l1`uFmVPs%n000&M02Ke3\n\nliteral 0\nHcmV?d00001\n\n",
    b"diff --git a/img.png b/img.png\nindex 1111111..2222222 100644\nBinary files a/img.png and b/img.png differ\n",
    b"diff --git a/x.c b/x.c\nGIT binary patch\ndelta 5\nZ\n\n",
)


def m_binary_diff(rng: random.Random, raw: bytes) -> bytes:
    blob = rng.choice(BINARY)
    m = re.search(rb"(?m)^diff --git ", raw)
    if m and rng.random() < 0.7:
        return raw[: m.start()] + blob + raw[m.start():]
    return raw.rstrip(b"\n") + b"\n" + blob


def m_hunk_counts(rng: random.Random, raw: bytes) -> bytes:
    hunks = list(re.finditer(rb"(?m)^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", raw))
    if not hunks:
        return raw
    h = rng.choice(hunks)
    vals = [rng.choice((0, 1, 2, 999999, 10**30, int(g or 1) + rng.randint(-3, 3))) for g in h.groups()]
    vals = [max(v, 0) for v in vals]
    repl = b"@@ -%d,%d +%d,%d @@" % tuple(vals)
    if rng.random() < 0.2:
        repl = rng.choice((b"@@ -a,b +c,d @@", b"@@ @@", b"@@ -1 +1", b"@@ --1,-1 ++1,-1 @@"))
    return raw[: h.start()] + repl + raw[h.end():]


HOSTILE_PATHS = (b"../../etc/passwd", b"/etc/passwd", b"a/../../../x.c", b"x\x00y.c", b"..", b"",
                 b"~/.ssh/id_rsa.c", b"C:\\Windows\\x.c", b"-rf.c", b"$(touch /tmp/pwn).c", b"`id`.c",
                 b"a b/c d.c", b"\xff\xfe.c", b"dir/" * 300 + b"deep.c", b"./././x.c", b"x.c\nfoo")


def m_paths(rng: random.Random, raw: bytes) -> bytes:
    p = rng.choice(HOSTILE_PATHS)
    m = list(re.finditer(rb"(?m)^diff --git a/(\S+) b/(\S+)$", raw))
    if not m:
        return raw
    h = rng.choice(m)
    old = h.group(1)
    return raw.replace(b"a/" + old, b"a/" + p).replace(b"b/" + old, b"b/" + p)


NOT_C = (
    b"+" + b"(" * 5000,
    b"+" + b"{" * 3000 + b"}" * 10,
    b"+#if 1\n" * 500,
    b"+#define X(a) X(X(a))\n+X(X(X(1)))",
    b"+int f() { return " + b"1+" * 20000 + b"1; }",
    b"+\x00\x01\x02\x03 binary \xff\xfe",
    b"+struct { struct { struct { int a; }; }; };" * 50,
    b"+SRCU_READ_LOCK srcu_read_lock(&s); srcu_read_lock(&s); list_for_each_entry_srcu(p, h, m, 1) {",
    b"+static int x = sizeof(struct bpf_oom_ops) ? : ({ goto out; });",
    b"+\"unterminated string\n+'c\n+/* open comment",
    b"+\\\n" * 1000,
    b"+" + b"a->" * 10000 + b"b;",
    b"+for(;;) for(;;) while(1) do { } while(0);" * 100,
    b"+int main() { system(\"rm -rf /\"); }",
)


def m_not_c(rng: random.Random, raw: bytes) -> bytes:
    lines = raw.split(b"\n")
    added = [i for i, ln in enumerate(lines) if ln.startswith(b"+") and not ln.startswith(b"+++")]
    junk = rng.choice(NOT_C)
    if not added:
        return raw + b"\n" + junk
    i = rng.choice(added)
    if rng.random() < 0.5:
        lines[i] = junk  # breaks the hunk counts too
    else:  # replace the line's text but keep one line: counts stay right
        lines[i] = b"+" + junk.split(b"\n")[0][1:][:200000]
    return b"\n".join(lines)


def m_splice(rng: random.Random, raw: bytes) -> bytes:
    other = rng.choice(load_seeds().patches + load_seeds().others)
    a, b = rng.randint(0, len(raw)), rng.randint(0, len(other))
    return raw[:a] + other[b:]


def m_crlf(rng: random.Random, raw: bytes) -> bytes:
    if rng.random() < 0.5:
        return raw.replace(b"\n", b"\r\n")
    return raw.replace(b"\n", b"\r")


def m_duplicate_headers(rng: random.Random, raw: bytes) -> bytes:
    head, sep, body = _split(raw)
    lines = _header_lines(head)
    if not lines:
        return raw
    dup = rng.choice(lines)
    n = rng.choice((2, 100, 5000))
    return b"\n".join(lines + [dup] * n) + sep + body


def m_thread_refs(rng: random.Random, raw: bytes) -> bytes:
    """References/In-Reply-To that loop, point at themselves or are enormous."""
    head, sep, body = _split(raw)
    lines = [ln for ln in _header_lines(head) if not ln.lower().startswith((b"in-reply-to:", b"references:"))]
    mid = (_msgid_of(raw) or "x@y").encode()
    choice = rng.randrange(4)
    if choice == 0:
        lines.append(b"In-Reply-To: <" + mid + b">")
    elif choice == 1:
        lines.append(b"References: " + b" ".join(b"<r%d@x>" % i for i in range(20000)))
    elif choice == 2:
        lines.append(b"In-Reply-To: <" + COVER.encode() + b">\nReferences: <" + mid + b"> <" + COVER.encode() + b">")
    else:
        lines.append(b"In-Reply-To: <<<>>> garbage @@")
    return b"\n".join(lines) + sep + body


MUTATIONS = {
    "truncate": m_truncate,
    "byteflip": m_byteflip,
    "insert_bytes": m_insert_bytes,
    "drop_header": m_drop_header,
    "charset": m_charset,
    "base64": m_base64,
    "qp": m_qp,
    "html_only": m_html_only,
    "8bit_header": m_8bit_header,
    "encoded_word": m_encoded_word,
    "subject": m_subject,
    "huge_line": m_huge_line,
    "nested_mime": m_nested_mime,
    "binary_diff": m_binary_diff,
    "hunk_counts": m_hunk_counts,
    "paths": m_paths,
    "not_c": m_not_c,
    "splice": m_splice,
    "crlf": m_crlf,
    "duplicate_headers": m_duplicate_headers,
    "thread_refs": m_thread_refs,
}
NAMES = sorted(MUTATIONS)


def mutate(rng: random.Random, raw: bytes, n: int | None = None) -> tuple[bytes, list[str]]:
    applied = []
    for _ in range(n if n is not None else rng.choice((1, 1, 1, 2, 2, 3, 4))):
        name = rng.choice(NAMES)
        raw = MUTATIONS[name](rng, raw)
        applied.append(name)
    return raw, applied


def mutate_mbox(rng: random.Random, mbox: bytes) -> tuple[bytes, list[str]]:
    """Mutate one or two messages of an mbox (or, sometimes, the mbox bytes as a whole)."""
    if rng.random() < 0.15:
        name = rng.choice(("truncate", "byteflip", "insert_bytes", "splice", "crlf"))
        return MUTATIONS[name](rng, mbox), ["mbox:" + name]
    chunks = re.split(rb"(?m)^(?=From mboxrd@z )", mbox)
    chunks = [c for c in chunks if c]
    applied = []
    for _ in range(rng.choice((1, 1, 2))):
        i = rng.randrange(len(chunks))
        first, _, rest = chunks[i].partition(b"\n")
        mutated, names = mutate(rng, rest)
        mutated = re.sub(rb"(?m)^From ", b">From ", mutated)  # keep the mbox split where it was
        chunks[i] = first + b"\n" + mutated.rstrip(b"\n") + b"\n\n"
        applied += names
    return b"".join(chunks), applied


# --------------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------------


@dataclass
class Case:
    index: int
    driver: str  # ci | review | check | review-thread
    fmt: str
    data: bytes
    msgid: str
    mutations: list[str]


def make_case(seed: int, index: int) -> Case:
    rng = random.Random(f"{seed}:{index}")
    seeds = load_seeds()
    r = rng.random()
    fmt = rng.choice(FORMATS)
    if r < 0.45:
        raw = rng.choice(seeds.patches)
        data, muts = mutate(rng, raw)
        return Case(index, "ci", fmt, data, "", muts)
    if r < 0.75:
        raw = rng.choice(seeds.patches + seeds.others[:3])
        data, muts = mutate(rng, raw)
        return Case(index, "check", "json", data, "", muts)
    if r < 0.97:
        mbox = rng.choice(seeds.small_threads)
        data, muts = mutate_mbox(rng, mbox)
        ids = re.findall(rb"(?im)^message-id:\s*<([^>\s]+)>", mbox)
        msgid = rng.choice(ids).decode() if ids else COVER
        return Case(index, "review", fmt, data, msgid, muts)
    data, muts = mutate_mbox(rng, seeds.thread)
    return Case(index, "review-thread", fmt, data, COVER, muts)


@dataclass
class Outcome:
    case: Case
    code: int | None  # None: hang
    stderr: str
    seconds: float
    problem: str | None  # why the case failed, or None


def _argv(case: Case, work: Path) -> list[str]:
    fmt = ["--format", case.fmt]
    if case.fmt == "email":
        out = work / "drafts"
        fmt += ["--output", str(out), "--date", "2025-08-19T10:00:00+00:00", "--from", "Fuzz <fuzz@example.com>",
                "--overwrite"]
    elif case.fmt in ("json", "sarif") and case.index % 2:
        fmt += ["--output", str(work / f"out.{case.fmt}")]
    if case.driver == "ci":
        path = work / "case.patch"
        path.write_bytes(case.data)
        return ["ci", str(path), *fmt]
    if case.driver == "check":
        return ["check"]
    path = work / "case.mbox"
    path.write_bytes(case.data)
    return ["review", case.msgid, "--mbox", str(path), *fmt]


class _Stdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)

    def read(self, *a):
        return self.buffer.read(*a).decode("utf-8", "replace")


def run_in_process(argv: list[str], stdin: bytes = b"", timeout: float = 20.0) -> tuple[int | None, str, str]:
    """cli.main(argv) with captured stdout/stderr, a fake stdin and an alarm; (code or None on timeout,
    stdout, stderr)."""
    from reviewbot import cli

    out, err = io.StringIO(), io.StringIO()

    def on_alarm(signum, frame):
        raise CaseTimeout()

    old = signal.signal(signal.SIGALRM, on_alarm)
    old_stdin = sys.stdin
    sys.stdin = _Stdin(stdin)  # type: ignore[assignment]
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(argv)
    except CaseTimeout:
        code = None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        sys.stdin = old_stdin
    return code, out.getvalue(), err.getvalue()


def judge(code: int | None, stderr: str) -> str | None:
    if code is None:
        return "hang"
    if "Traceback" in stderr:
        return "traceback"
    if code not in OK_EXITS:
        return f"exit {code}"
    lines = stderr.splitlines()
    if len(lines) > 1:
        return f"{len(lines)} lines on stderr"
    return None


def run_case(case: Case, work: Path, timeout: float = 20.0) -> Outcome:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    argv = _argv(case, work)
    start = time.monotonic()
    code, _, err = run_in_process(argv, case.data if case.driver == "check" else b"", timeout)
    seconds = time.monotonic() - start
    return Outcome(case, code, err, seconds, judge(code, err))


def debug_traceback(case: Case, work: Path, timeout: float = 60.0) -> str:
    """Rerun a failed case with REVIEWBOT_DEBUG=1 and return the traceback."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    argv = _argv(case, work)
    os.environ["REVIEWBOT_DEBUG"] = "1"
    try:
        run_in_process(argv, case.data if case.driver == "check" else b"", timeout)
        return "(no exception on rerun)"
    except BaseException:  # noqa: BLE001
        return traceback.format_exc()
    finally:
        os.environ.pop("REVIEWBOT_DEBUG", None)


def run_process(case: Case, work: Path, timeout: float = 60.0) -> Outcome:
    """The case as a whole `python -m reviewbot` process."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    argv = _argv(case, work)
    env = {k: v for k, v in os.environ.items() if k != "REVIEWBOT_DEBUG"}
    env["PYTHONPATH"] = str(ROOT)
    start = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "reviewbot", *argv], input=case.data if case.driver == "check" else b"",
                              capture_output=True, timeout=timeout, env=env, cwd=work)
        code, err = proc.returncode, proc.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        code, err = None, ""
    return Outcome(case, code, err, time.monotonic() - start, judge(code, err))


# --------------------------------------------------------------------------------------------------
# The bench
# --------------------------------------------------------------------------------------------------


def _worker(args: tuple[int, list[int], float, str]) -> list[dict]:
    seed, indices, timeout, save = args
    os.environ.setdefault("XDG_CACHE_HOME", tempfile.mkdtemp(prefix="reviewbot-fuzz-cache-"))
    work = Path(tempfile.mkdtemp(prefix="reviewbot-fuzz-"))
    rows = []
    try:
        for i in indices:
            case = make_case(seed, i)
            o = run_case(case, work / "case", timeout)
            row = {"index": i, "driver": case.driver, "fmt": case.fmt, "mutations": case.mutations,
                   "code": o.code, "seconds": o.seconds, "problem": o.problem, "stderr": o.stderr.strip()[:300]}
            if o.problem:
                row["traceback"] = debug_traceback(case, work / "case") if o.code == 4 else ""
                dest = Path(save)
                dest.mkdir(parents=True, exist_ok=True)
                (dest / f"case-{seed}-{i}.{ 'eml' if case.driver in ('ci', 'check') else 'mbox'}").write_bytes(case.data)
                (dest / f"case-{seed}-{i}.txt").write_text(json.dumps({k: v for k, v in row.items()}, indent=1))
            rows.append(row)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--timeout", type=float, default=20.0, help="per-case bound in seconds (a hang past it fails)")
    ap.add_argument("--procs", type=int, default=20, help="cases also run as whole processes")
    ap.add_argument("--save", default="/tmp/reviewbot-fuzz", help="where failing cases are saved")
    args = ap.parse_args(argv)

    import multiprocessing

    start = time.monotonic()
    chunks = [list(range(j, args.cases, args.jobs * 4)) for j in range(args.jobs * 4)]
    rows: list[dict] = []
    if args.jobs > 1:
        with multiprocessing.get_context("fork").Pool(args.jobs, maxtasksperchild=1) as pool:
            for part in pool.imap_unordered(_worker, [(args.seed, c, args.timeout, args.save) for c in chunks]):
                rows.extend(part)
    else:
        for c in chunks:
            rows.extend(_worker((args.seed, c, args.timeout, args.save)))
    wall = time.monotonic() - start

    procs = []
    work = Path(tempfile.mkdtemp(prefix="reviewbot-fuzz-proc-"))
    try:
        for i in range(args.procs):
            procs.append(run_process(make_case(args.seed + 1, i), work / "case"))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    codes = Counter(r["code"] for r in rows)
    times = [r["seconds"] for r in rows]
    failed = [r for r in rows if r["problem"]]
    print(f"cases: {len(rows)} in-process (+{len(procs)} whole-process), seed {args.seed}, {args.jobs} jobs, "
          f"{wall:.0f} s wall")
    print("exit codes: " + ", ".join(f"{k}: {v}" for k, v in sorted(codes.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))))
    by_driver = Counter((r["driver"], r["code"]) for r in rows)
    for d in ("ci", "check", "review", "review-thread"):
        print(f"  {d:14s} " + ", ".join(f"exit {c}: {n}" for (dd, c), n in sorted(by_driver.items(), key=str) if dd == d))
    per_mut = Counter(m for r in rows for m in set(r["mutations"]))
    print("mutations (cases using each): " + ", ".join(f"{k} {v}" for k, v in sorted(per_mut.items())))
    slow = max(rows, key=lambda r: r["seconds"])
    print(f"time per case: median {statistics.median(times) * 1000:.0f} ms, max {slow['seconds']:.2f} s "
          f"(case {slow['index']}, {slow['driver']}, {'+'.join(slow['mutations'])})")
    print(f"whole-process: exits {dict(Counter(o.code for o in procs))}, max {max((o.seconds for o in procs), default=0):.2f} s, "
          f"failures {sum(1 for o in procs if o.problem)}")
    tracebacks = sum(1 for r in failed if r["problem"] in ("traceback", "exit 4")) + sum(1 for o in procs if o.problem == "traceback" or o.code == 4)
    hangs = sum(1 for r in failed if r["problem"] == "hang") + sum(1 for o in procs if o.problem == "hang")
    print(f"tracebacks={tracebacks} hangs={hangs} other failures={len(failed) + sum(1 for o in procs if o.problem) - tracebacks - hangs}")
    for r in failed[:20]:
        print(f"  FAIL case {r['index']} {r['driver']} {r['fmt']} {'+'.join(r['mutations'])}: {r['problem']}: {r['stderr'][:200]}")
        if r.get("traceback"):
            print("    " + r["traceback"].strip().splitlines()[-1])
    if failed:
        print(f"failing inputs saved in {args.save}")
    return 1 if failed or any(o.problem for o in procs) else 0


if __name__ == "__main__":
    sys.exit(main())
