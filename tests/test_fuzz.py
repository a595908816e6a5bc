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
from hypothesis import HealthCheck, Phase, given, settings
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
# The mutation fuzzer, a fixed-seed share
# --------------------------------------------------------------------------------------------------

SHARE = 60  # about 20 s on one core; bench/fuzz_bench.py runs 10,000


@pytest.mark.parametrize("part", range(3))
def test_mutation_fuzz_share(part: int, tmp_path: Path) -> None:
    failures = []
    for i in range(part, SHARE, 3):
        case = fb.make_case(7, i)
        outcome = fb.run_case(case, tmp_path / "case", timeout=30)
        if outcome.problem:
            failures.append((i, case.driver, case.mutations, outcome.problem, outcome.stderr[:300]))
    assert failures == []


def test_every_mutation_applies() -> None:
    import random

    rng = random.Random(3)
    for name, fn in fb.MUTATIONS.items():
        out = fn(rng, PATCH_01_RAW)
        assert isinstance(out, bytes), name


def test_whole_process_cases(tmp_path: Path) -> None:
    for i in range(3):
        outcome = fb.run_process(fb.make_case(11, i), tmp_path / "case")
        assert outcome.problem is None, (outcome.code, outcome.stderr)


# --------------------------------------------------------------------------------------------------
# Reply-draft headers: hypothesis over subjects and names
# --------------------------------------------------------------------------------------------------

_HEADER_TEXT = st.lists(
    st.sampled_from(list("abcXYZ <>@\"\\,:;()=?_-\r\n\t\x00\x7f\u00e9\u202e\U0001f600") + ["=?utf-8?b?", "?=", "Bcc:", "\r\nBcc: x@y"]),
    max_size=30,
).map("".join)


@settings(max_examples=20, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(subject=_HEADER_TEXT, name=_HEADER_TEXT)
def test_draft_headers_cannot_be_injected(subject: str, name: str, tmp_path: Path) -> None:
    raw = with_header(PATCH_01_RAW, b"Subject", ("[PATCH v1 01/14] " + subject).encode("utf-8", "surrogateescape"))
    raw = with_header(raw, b"From", (name + " <roman.gushchin@linux.dev>").encode("utf-8", "surrogateescape"))
    path = tmp_path / "p.patch"
    path.write_bytes(raw)
    out = tmp_path / "drafts"
    code, _, err = run(["ci", str(path), "--format", "email", "--output", str(out), "--overwrite",
                        "--date", "2025-08-19T10:00:00+00:00", "--from", "R <r@example.com>"])
    assert_clean(code, err)
    for eml in out.glob("*.eml"):
        data = eml.read_bytes()
        head = data.split(b"\n\n", 1)[0]
        msg = email.message_from_bytes(data, policy=email.policy.default)
        names = [k.lower() for k in msg.keys()]
        assert "bcc" not in names and names.count("subject") == 1 and names.count("to") <= 1
        assert b"\r" not in head and b"\x00" not in head
        assert re.fullmatch(r"[0-9]{4}-[A-Za-z0-9-]+(-[0-9]+)?\.eml", eml.name)


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


def test_bare_cr_line_endings_and_long_lines_do_not_hang(tmp_path: Path) -> None:
    # b4's trailer regex is cubic in a line's length; a mail with bare-CR line endings is one line
    # to it (lore.series_mailbox now leaves out such mails, or refuses them when they carry a diff).
    import time

    long_reply = (b"From: A <a@example.com>\nSubject: Re: [PATCH v1 01/14] x\nMessage-ID: <long.1@example.com>\n"
                  b"In-Reply-To: <" + PATCH_01.encode() + b">\n\n" + b"Acked-by: a #b\r" * 3000 + b"\n")
    mbox = tmp_path / "t.mbox"
    mbox.write_bytes(fb._mbox([PATCH_01_RAW, long_reply]))
    start = time.monotonic()
    code, _, err = run(["review", PATCH_01, "--mbox", str(mbox)])
    assert_clean(code, err)
    assert code == 1 and time.monotonic() - start < 10
    start = time.monotonic()
    code, _, err = _ci(tmp_path, PATCH_01_RAW.replace(b"\n", b"\r"))
    assert_clean(code, err)
    assert time.monotonic() - start < 10


def test_undecodable_header_bytes_reach_json_output(tmp_path: Path) -> None:
    # cli._emit: a lone surrogate (an 8-bit Subject byte) could not be encoded as UTF-8.
    raw = with_header(PATCH_01_RAW, b"Subject", b"[PATCH v1 01/14] bad \xc3\x28 byte")
    out = tmp_path / "out.json"
    code, _, err = _ci(tmp_path, raw, "--output", str(out))
    assert_clean(code, err)
    assert json.loads(out.read_text("utf-8"))["patches"]


def test_hostile_from_and_deeply_nested_comments_in_headers(tmp_path: Path) -> None:
    # lore.series_mailbox: b4 reading From raised ValueError (CR/LF in an encoded address); such a
    # patch is now read without b4's LoreMailbox, and reviewed like any other;
    # thread._addresses: parentheses nested past the recursion limit in To raised RecursionError.
    raw = with_header(PATCH_01_RAW, b"From", b"=?utf-8?q?a=0D=0ABcc:=20x@example.com?= <a@example.com>")
    code, out, err = _ci(tmp_path, raw)
    assert_clean(code, err)
    report = json.loads(out)
    assert [p["subject"] for p in report["patches"]] == ["[PATCH v1 01/14] mm: introduce bpf struct ops for OOM handling"]
    assert report["unreadable"] == [] and report["findings"]
    raw = with_header(PATCH_01_RAW, b"To", b"a@example.com " + b"(" * 3000 + b")" * 3000)
    code, _, err = _ci(tmp_path, raw)
    assert_clean(code, err)


def test_hunk_header_past_any_file_is_bad_input(tmp_path: Path) -> None:
    # diff.ChangedFile.sparse_text built a text of 10**30 lines for "@@ -2,2 +10**30,2 @@": a hang.
    import time

    raw = re.sub(rb"(?m)^@@ -(\d+),(\d+) \+(\d+),(\d+) @@", b"@@ -\\1,\\2 +1000000000000000000000000000000,\\4 @@", PATCH_01_RAW, count=1)
    start = time.monotonic()
    code, _, err = _ci(tmp_path, raw)
    assert code == 2 and "past the" in err and time.monotonic() - start < 10
    assert_clean(code, err)


def test_unreadable_message_id_is_replaced_not_duplicated(tmp_path: Path) -> None:
    # patchfiles.ensure_msgid added a second Message-ID next to an unreadable one: ValueError.
    code, _, err = _ci(tmp_path, with_header(PATCH_01_RAW, b"Message-ID", b"not an id"))
    assert_clean(code, err)
    code, _, err = run(["check"], with_header(PATCH_01_RAW, b"Message-ID", b"<>"))
    assert_clean(code, err)


def test_reply_with_an_unparseable_from(tmp_path: Path) -> None:
    # lore.reply_fields: the reply's From raised ValueError in Python's header parser.
    reply = (b"From: =?utf-8?q?a=0D=0ABcc:=20x@example.com?= <a@example.com>\nSubject: Re: [PATCH v1 01/14] x\n"
             b"Message-ID: <r.1@example.com>\nIn-Reply-To: <" + PATCH_01.encode() + b">\n\nLooks odd.\n")
    mbox = tmp_path / "t.mbox"
    mbox.write_bytes(fb._mbox([PATCH_01_RAW, reply]))
    code, _, err = run(["review", PATCH_01, "--mbox", str(mbox)])
    assert_clean(code, err)
    assert code == 1


def test_gnu_conditional_without_a_middle_operand(tmp_path: Path) -> None:
    # interp.machine: `a ?: b` has no "consequence" field: KeyError in the bpf_oom model.
    case = fb.make_case(1, 4032)
    assert "not_c" in case.mutations
    outcome = fb.run_case(case, tmp_path / "case")
    assert outcome.problem is None, outcome.stderr


def test_broken_encoded_word_in_the_subject(tmp_path: Path) -> None:
    # b4 decodes Subject again with email.header.decode_header: HeaderParseError on bad base64.
    raw = with_header(PATCH_01_RAW, b"Subject", b"[PATCH v1 01/14] a=?utf-8?b?a_\\<:aa\t?=")
    code, _, err = _ci(tmp_path, raw)
    assert_clean(code, err)
    assert code == 1


def test_thousands_of_headers_and_trailer_lines_stay_fast() -> None:
    # b4's find_trailers: r'^(\S+:\s+[^<]+)\n(<...' is (Name: lines) x (body length) without a "<";
    # thread._addresses parsed every one of 5,000 To headers. Both were hangs on `check` stdin.
    import time

    head, _, body = PATCH_01_RAW.partition(b"\n\n")
    to = [ln for ln in fb._header_lines(head) if ln.lower().startswith(b"to:")][0]
    many_to = head + b"\n" + b"\n".join([to] * 5000) + b"\n\n" + body
    names = b"X-Header: value\n" * 15000
    many_names = head + b"\n\n" + names + body.replace(b"<", b"(")
    for raw in (many_to, many_names):
        start = time.monotonic()
        code, _, err = run(["check"], raw)
        assert_clean(code, err)
        assert time.monotonic() - start < 10


def test_check_with_a_content_transfer_encoding_nested_past_the_recursion_limit() -> None:
    # b4check._undo_b4_decoding read Content-Type/-Transfer-Encoding: RecursionError in the header parser.
    for name in (b"Content-Transfer-Encoding", b"Content-Type"):
        raw = with_header(PATCH_01_RAW, name, b"8bit " + b"(" * 3000)
        code, _, err = run(["check"], raw)
        assert_clean(code, err)


def test_8bit_message_id_with_reproducible_drafts(tmp_path: Path) -> None:
    # render.email._message_id hashed the patch's Message-ID as strict UTF-8: a raw 8-bit byte in it
    # (a lone surrogate once parsed) raised UnicodeEncodeError with --date.
    raw = with_header(PATCH_01_RAW, b"Message-ID", b"<20250818170136.209169-2-roman\xff\xfe@linux.dev>")
    path = tmp_path / "p.patch"
    path.write_bytes(raw)
    code, _, err = run(["ci", str(path), "--format", "email", "--output", str(tmp_path / "d"),
                        "--date", "2025-08-19T10:00:00+00:00", "--from", "R <r@example.com>"])
    assert_clean(code, err)
    assert code == 1


@pytest.mark.parametrize("seed, index, where", [
    (4, 2873, "lore.series_mailbox: b4 decoding a broken encoded word in a trailer address (HeaderParseError)"),
    (4, 3009, "diff._changed_file: unidiff left diff_line_no None on a mangled diff (TypeError)"),
    (5, 5456, "interp.machine.ev_call: a raw kernel stub called with the wrong number of arguments (TypeError)"),
    (6, 6231, "thread._addresses: a group in To has no local_part (AttributeError)"),
    (6, 6588, "lore.strict_thread: b4's get_strict_thread ran the quadratic trailer scan (a hang)"),
])
def test_fuzz_cases_that_crashed(seed: int, index: int, where: str, tmp_path: Path) -> None:
    outcome = fb.run_case(fb.make_case(seed, index), tmp_path / "case")
    assert outcome.problem is None, (where, outcome.stderr)


def test_long_trailer_like_line_without_spaces_is_not_given_to_b4() -> None:
    # b4's r'(.*\S+)(\s+#[^#]+)$' on a 1,540-character "Signed-off-by: ..." line with no space took
    # 23 s (a hang); lore.longest_line counts "Name: value" lines past 300 characters as overlong.
    import time

    sob = b"Signed-off-by: Roman Gushchin <roman.gushchin@linux.dev>\n"
    assert sob in PATCH_01_RAW
    raw = PATCH_01_RAW.replace(sob, sob.rstrip(b"\n") + b"\xef\xbf\xbd'\xef\xbf\xbd" * 420 + b"\n", 1)
    start = time.monotonic()
    code, _, err = run(["check"], raw)
    assert_clean(code, err)
    assert time.monotonic() - start < 5


def test_enormous_references_and_repeated_headers_stay_fast(tmp_path: Path) -> None:
    # b4 (LoreMessage: a list membership test per References id) and render.email (the same in the
    # drafts' References) were quadratic: 20,000 ids took 20 s each; b4 also parsed 5,000 From copies.
    import time

    refs = b"References: " + b" ".join(b"<r%d@x>" % i for i in range(20000))
    raw = with_header(PATCH_01_RAW, b"References", refs[len(b"References: "):])
    head, _, body = raw.partition(b"\n\n")
    frm = [ln for ln in fb._header_lines(head) if ln.lower().startswith(b"from:")][0]
    many = head + b"\n" + b"\n".join([frm] * 5000) + b"\n\n" + body
    start = time.monotonic()
    code, _, err = run(["check"], many)
    assert_clean(code, err)
    path = tmp_path / "p.patch"
    path.write_bytes(raw)
    out = tmp_path / "d"
    code, _, err = run(["ci", str(path), "--format", "email", "--output", str(out), "--date",
                        "2025-08-19T10:00:00+00:00", "--from", "R <r@example.com>"])
    assert_clean(code, err)
    assert time.monotonic() - start < 15
    draft = next(out.glob("0001-*.eml")).read_bytes()
    refs_line = re.search(rb"(?ms)^References: (.*?)\n(?=\S)", draft).group(1)
    assert refs_line.count(b"<") <= 50


def test_megabyte_address_header_is_dropped(tmp_path: Path) -> None:
    # Python's address parser took minutes on a To line of 200,000 backslashes (thread._addresses): lore drops
    # From/To/Cc/... values longer than 16 KiB before anything parses them.
    import time

    raw = with_header(PATCH_01_RAW, b"To", b"a@example.com, " + b"\\" * 200_000)
    mbox = tmp_path / "t.mbox"
    mbox.write_bytes(fb._mbox([raw]))
    start = time.monotonic()
    code, _, err = run(["review", PATCH_01, "--mbox", str(mbox), "--format", "json"])
    assert_clean(code, err)
    assert code == 1 and time.monotonic() - start < 10


def test_megabyte_content_type_line_is_clipped_before_parsing(tmp_path: Path) -> None:
    # The email parser itself reads Content-Type while parsing: a 2 MB continuation line of
    # backslashes took minutes (patchfiles.parse_mail, b4check, fetch). lore.clip_header_lines
    # replaces header lines past 16 KiB before anything parses.
    import time

    raw = with_header(PATCH_01_RAW, b"Content-Type", b"text/plain; charset=utf-8;\n " + b"\\" * 2_000_000)
    start = time.monotonic()
    code, _, err = _ci(tmp_path, raw)
    assert_clean(code, err)
    code, _, err = run(["check"], raw)
    assert_clean(code, err)
    mbox = tmp_path / "t.mbox"
    mbox.write_bytes(fb._mbox([raw]))
    code, _, err = run(["review", PATCH_01, "--mbox", str(mbox)])
    assert_clean(code, err)
    assert time.monotonic() - start < 15
