"""Kernel-style review replies: one plain-text draft per patch with findings, ready for git send-email.

The form follows shared/REVIEW-STYLE.md: the draft answers the patch in its own thread (Re: subject,
In-Reply-To, References), goes To the author and Cc everyone the patch went to, quotes only the lines
each comment is about (with the enclosing function or struct and `[...]` for what is cut), puts the
comment right under them, and ends with a signature that says reviewbot wrote it. A counterexample is
given as numbered steps, or, when two CPUs act in it, as a race in one column per CPU.

Findings a human already raised (`Finding.replied_by`, set by `reviewbot.dedupe.mark_replied`) are
written as building on that reply ("As <name> asked, ...") when they add something, and left out when
they do not. The rule for "adds nothing", exactly: the finding has no counterexample trace and its
severity is below "error". A trace is a concrete run the human did not give; an error is worth
repeating rather than risking that it is lost. `keep_replied=True` keeps every finding.

Every header is built by the email package; every piece of text from the thread that lands in a
header (subject, names, addresses, Message-IDs) is cleaned first: encoded words decoded, control
characters (CR, LF, ...) turned into spaces, addresses checked strictly. A draft is re-parsed before it
is returned, and one whose headers are not exactly the ones we set is a bug we refuse to write.
"""

from __future__ import annotations

import email
import email.charset
import email.header
import email.policy
import email.utils
import hashlib
import os
import re
import subprocess
import textwrap
from dataclasses import dataclass
from datetime import datetime, timezone
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path

from reviewbot import __version__
from reviewbot.diff import ChangedFile
from reviewbot.engine import Review
from reviewbot.errors import InputError
from reviewbot.finding import Finding
from reviewbot.thread import Patch, Reply

FALLBACK_IDENTITY = "reviewbot <reviewbot@localhost>"
WRAP = 72
COLUMNS = 78  # the widest line of a draft's body that we draw ourselves (a race's two columns)
MBOX_NAME = "drafts.mbox"
GIT_FOLDED = ("subject", "from", "to")  # the headers folded as git format-patch folds them
_QP_UTF8 = email.charset.Charset("utf-8")
_QP_UTF8.header_encoding = email.charset.QP  # git writes =?UTF-8?q?...?=, not base64


class _GitStylePolicy(email.policy.EmailPolicy):
    """email.policy.default, except for Subject, From and To, which are folded as git format-patch
    folds them: the value starts right after "Subject: " and breaks at spaces, each continuation
    line indented by one space; a non-ASCII value is one run of Q-encoded words; an address whose
    "<addr>" does not fit goes on the next line. Python's own folder moves a value that fits on a
    line of its own to the line after the colon ("Subject:\n Re: ..."): legal, but no mail client
    writes that. The folding itself is the email package's (email.header.Header)."""

    def fold(self, name, value):
        folded = _git_fold(name, value, self)
        return folded if folded is not None else super().fold(name, value)

    def fold_binary(self, name, value):
        folded = _git_fold(name, value, self)
        return folded.encode("ascii") if folded is not None else super().fold_binary(name, value)


def _git_fold(name: str, value, policy: email.policy.EmailPolicy) -> str | None:
    """`Name: value` folded git's way, with the line end; None for headers we leave to Python."""
    if name.lower() not in GIT_FOLDED:
        return None
    width = policy.max_line_length or 78
    if name.lower() == "subject":
        text = str(value)
        header = email.header.Header(text, "us-ascii" if text.isascii() else _QP_UTF8, header_name=name,
                                     continuation_ws=" ")
    else:
        addresses = getattr(value, "addresses", ())
        if len(addresses) != 1:
            return None
        a = addresses[0]
        header = email.header.Header(header_name=name, continuation_ws=" ")
        if not a.display_name:
            header.append(a.addr_spec, "us-ascii")
        elif a.display_name.isascii():
            header.append(str(a), "us-ascii")  # the name quoted where RFC 5322 needs it
        else:
            header.append(a.display_name, _QP_UTF8)
            header.append(f"<{a.addr_spec}>", "us-ascii")
    folded = f"{name}: {header.encode(splitchars=' ', maxlinelen=width, linesep=policy.linesep)}"
    if any(len(line) > 998 for line in folded.split(policy.linesep)):
        return None  # a word too long for any mail line: Python's folder encodes and splits it
    # Read back as a mail reader would. Python's own parser keeps the space between two encoded
    # words of a display name that RFC 2047 drops, so a name long enough to be split across
    # encoded words reads back with a doubled space there: such a header is left to Python's folder.
    parsed = policy.header_factory(*policy.header_source_parse(folded.split(policy.linesep)))
    if str(parsed) != str(value):
        return None
    return folded + policy.linesep


POLICY = _GitStylePolicy(max_line_length=78, linesep="\n")
HEADERS = (
    "From", "To", "Cc", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
    "Content-Type", "Content-Transfer-Encoding", "MIME-Version",
)
_MAX_QUOTED = 900  # a quoted line longer than this is cut: 8bit mail lines must stay under 998 bytes

_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
_ADDR = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
_MSGID = re.compile(r"^[\x21-\x7e]+$")
_DOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


@dataclass(frozen=True)
class Draft:
    patch: str  # Message-ID of the patch it answers (without <>)
    filename: str  # e.g. 0001-mm-introduce-bpf-struct-ops-for-OOM-handling.eml
    data: bytes  # the whole message, LF line ends, as git send-email reads it
    message_id: str  # the draft's own Message-ID (without <>)
    findings: tuple[Finding, ...]  # the findings the draft comments on, in the order it does

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)


# ---------------------------------------------------------------------------------------------
# Cleaning what comes from the thread


def clean_text(value: str) -> str:
    """Header-safe text: encoded words decoded, control characters to spaces, spaces collapsed.

    Python's email package decodes RFC 2047 encoded words in a value it is given, so an encoded
    "=0D=0ABcc:" in a subject would come out as a real header line; we decode first (repeatedly,
    for nested encodings), drop the control characters, and break any "=?" that is left.
    """
    text = str(value)
    for _ in range(4):
        try:
            decoded = str(email.header.make_header(email.header.decode_header(text)))
        except Exception:  # noqa: BLE001 - undecodable stays as it is, and is cleaned below
            decoded = text
        decoded = _CONTROL.sub(" ", decoded)
        if decoded == text:
            break
        text = decoded
    text = _CONTROL.sub(" ", text).replace("=?", "= ?")
    return " ".join(text.split())


def clean_msgid(value: str) -> str | None:
    mid = str(value or "").strip().strip("<>").strip()
    if not mid or not _MSGID.match(mid) or "<" in mid or ">" in mid or len(mid) > 250:
        return None
    return mid


def make_address(name: str, addr: str) -> Address | None:
    """An Address from thread text, or None when the address is not a plain addr-spec."""
    addr = (addr or "").strip()
    if not _ADDR.match(addr) or len(addr) > 254:
        return None
    try:
        return Address(display_name=clean_text(name or ""), addr_spec=addr)
    except (ValueError, IndexError, TypeError):
        return None


def parse_addresses(values) -> list[Address]:
    """Addresses from address-list strings; a string with a control character in it (a line
    break that could only come from a forged header) is dropped whole."""
    out = []
    clean = [str(v) for v in values if not _CONTROL.search(str(v))]
    for name, addr in email.utils.getaddresses(clean):
        a = make_address(name, addr)
        if a is not None:
            out.append(a)
    return out


def parse_identity(value: str) -> Address:
    """ "Name <addr>" (or a bare addr) -> Address; InputError when it is not one address."""
    if _CONTROL.search(value or ""):
        raise InputError(f"reviewer identity {value!r} contains control characters")
    pairs = email.utils.getaddresses([value or ""])
    addr = make_address(*pairs[0]) if len(pairs) == 1 else None
    if addr is None:
        raise InputError(f"reviewer identity {value!r} is not one 'Name <address>'")
    return addr


def reviewer_identity(cli_from: str | None = None) -> str:
    """The reviewer: --from if given, else git's user.name/user.email, else reviewbot@localhost."""
    if cli_from:
        return str(parse_identity(cli_from))

    def git(key: str) -> str:
        try:
            out = subprocess.run(
                ["git", "config", "--get", key], capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return out.stdout.strip() if out.returncode == 0 else ""

    addr = make_address(git("user.name"), git("user.email"))
    return str(addr) if addr is not None else FALLBACK_IDENTITY


# ---------------------------------------------------------------------------------------------
# The body


def attribution(patch: Patch) -> str:
    """`On Mon, Aug 18, 2025 at 10:01 AM Roman Gushchin <roman.gushchin@linux.dev> wrote:`"""
    who = clean_text(patch.author_name)
    addr = clean_text(patch.author_email)
    if who and addr:
        who = f"{who} <{addr}>"
    who = who or addr or "you"
    try:
        when = email.utils.parsedate_to_datetime(patch.date)
    except (TypeError, ValueError, IndexError):
        when = None
    if when is None:
        return f"{who} wrote:"
    hour = when.hour % 12 or 12
    ampm = "AM" if when.hour < 12 else "PM"
    stamp = f"{when:%a}, {when:%b} {when.day}, {when.year} at {hour}:{when.minute:02d} {ampm}"
    return f"On {stamp} {who} wrote:"


def _wrap(text: str, width: int = WRAP, indent: str = "", hang: str = "") -> list[str]:
    """Prose wrapped at `width`; a paragraph with an indented line (code, a table) stays as is."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text.strip("\n")):
        lines = para.splitlines()
        if any(line[:1] in (" ", "\t") for line in lines):
            out.extend(indent + line.rstrip() for line in lines)
        else:
            out.extend(
                textwrap.wrap(
                    " ".join(para.split()), width=width, initial_indent=indent,
                    subsequent_indent=hang or indent, break_long_words=False, break_on_hyphens=False,
                )
                or [""]
            )
        out.append("")
    while out and out[-1] == "":
        out.pop()
    return out


def _lower_first(text: str) -> str:
    """"The loop ..." -> "the loop ...", but "READ_ONCE() ..." and "I ..." stay."""
    word = text.split(" ", 1)[0]
    if len(word) > 1 and word[0].isupper() and word[1:].isalpha() and word[1:].islower():
        return text[0].lower() + text[1:]
    return text


def _steps(trace: tuple[str, ...]) -> list[str]:
    out = []
    for n, step in enumerate(trace, 1):
        step = " ".join(str(step).split())
        if re.match(r"^\(?\d+[.)]\s", step):
            out.extend(textwrap.wrap(step, WRAP, initial_indent="  ", subsequent_indent="     ",
                                     break_long_words=False, break_on_hyphens=False))
        else:
            label = f"  {n}. "
            out.extend(textwrap.wrap(step, WRAP, initial_indent=label, subsequent_indent=" " * len(label),
                                     break_long_words=False, break_on_hyphens=False))
    return out


# A trace step as the models write it: "CPU0 line 33: ...", "CPU1 mm/oom_kill.c:1179: ...", "CPU1: ..."
_CPU_STEP = re.compile(r"^(CPU\d+)(?: (line \d+|\S+:\d+))?: (.*)$")
_GAP = 2  # spaces between two columns


def _race(trace: tuple[str, ...]) -> tuple[str, list[str]] | None:
    """A trace in which two or more CPUs act, drawn the way kernel reviewers draw a race: one column
    per CPU headed by its name, one step per row in the order they happen, each step wrapped inside
    its own column. Returns (the sentence before the diagram, the diagram lines), or None when the
    trace is not a race or a word is too wide for its column (the numbered form is used then, so a
    column is never broken). Steps of no CPU ("[...]", "the kernel: ...") span the whole width."""
    steps = [" ".join(str(s).split()) for s in trace]
    parsed = [_CPU_STEP.match(s) for s in steps]
    cpus = sorted({m.group(1) for m in parsed if m}, key=lambda c: int(c[3:]))
    if len(cpus) < 2:
        return None
    # The world comes first and is said in prose; the diagram starts at the first CPU step.
    first = next(i for i, m in enumerate(parsed) if m)
    setting = " ".join(steps[:first])
    width = (COLUMNS - _GAP * (len(cpus) - 1)) // len(cpus)
    starts = [i * (width + _GAP) for i in range(len(cpus))]
    rows = ["".join(c.ljust(width + _GAP) for c in cpus).rstrip()]
    for step, m in zip(steps[first:], parsed[first:]):
        if m is None:
            rows.extend(textwrap.wrap(step, COLUMNS, break_long_words=False, break_on_hyphens=False))
            continue
        text = f"{m.group(2)}: {m.group(3)}" if m.group(2) else m.group(3)
        if any(len(word) > width - 2 for word in text.split()):
            return None
        pad = " " * starts[cpus.index(m.group(1))]
        rows.extend(pad + line for line in textwrap.wrap(text, width, subsequent_indent="  ",
                                                         break_long_words=False, break_on_hyphens=False))
    if any(len(row) > COLUMNS for row in rows):
        return None
    return setting, rows


def replier_name(reply: Reply | None) -> str:
    if reply is None:
        return "a reviewer"
    return clean_text(reply.author_name) or clean_text(reply.author_email) or "a reviewer"


def comment(finding: Finding, reply: Reply | None = None) -> list[str]:
    """The comment lines for one finding (no trailing blank line)."""
    message = finding.message.strip()
    asked = f"As {replier_name(reply)} asked, " if finding.replied_by else ""
    if finding.trace:
        race = _race(finding.trace)
        if race is not None:
            setting, diagram = race
            intro = "consider the following race." + (f" {setting}:" if setting else "")
            intro = asked + intro if asked else intro[0].upper() + intro[1:]
            return _wrap(intro) + [""] + diagram + [""] + _wrap(message)
        intro = (asked + "consider the following sequence:") if asked else "Consider the following sequence:"
        return _wrap(intro) + [""] + _steps(finding.trace) + [""] + _wrap(message)
    if asked:
        return _wrap(asked + _lower_first(message))
    return _wrap(message)


def adds_something(finding: Finding) -> bool:
    """Whether a finding a human already raised still belongs in our reply (see the module doc)."""
    return bool(finding.trace) or finding.severity == "error"


def _enclosing(cf: ChangedFile, line: int) -> int | None:
    """The post-image line that opens the top-level function or struct around `line`, if the
    patch shows it; None when `line` is at top level or the opening is outside the hunks."""
    n = line - 1
    while n >= 1:
        text = cf.post_image.get(n)
        if text is None:
            return None
        if text and not text[0].isspace():
            stripped = text.rstrip()
            if stripped.startswith("}"):
                return None
            if stripped == "{":
                m = n - 1
                while m >= 1 and cf.post_image.get(m, "")[:1].isspace():
                    m -= 1
                return m if m >= 1 and cf.post_image.get(m) else None
            if stripped.endswith("{") and not stripped.startswith(("#", "/*", "*")):
                return n
        n -= 1
    return None


def _hunk_of(cf: ChangedFile, line: int):
    for hunk in cf.hunks:
        if hunk.target_start <= line < hunk.target_start + max(hunk.target_length, 1):
            return hunk
    return None


def _body_line(patch_lines: list[str], n: int | None) -> str | None:
    if n is None or not 0 < n <= len(patch_lines):
        return None
    return patch_lines[n - 1]


def _quote(line: str) -> str:
    line = line.rstrip()
    if len(line) > _MAX_QUOTED:
        line = line[:_MAX_QUOTED] + " [...]"
    return ("> " + line) if line else ">"


def _numbered_quote(cf: ChangedFile | None, f: Finding) -> list[tuple[int | None, str]]:
    """The finding's quoted lines with the patch-body line each stands on (None when unknown)."""
    if cf is not None:
        numbers = [cf.body_lines[n] for n in range(f.line, f.end_line + 1) if n in cf.body_lines]
        if len(numbers) == len(f.quoted):
            return list(zip(numbers, f.quoted))
    return [(None, q) for q in f.quoted]


def body(patch: Patch, findings: list[Finding], rules: list[str]) -> str:
    """The plain-text body of the reply to `patch` about `findings` (already in patch order).

    Each group of findings on the same lines gets one quote: the file's `diff --git` line when the
    patch touches several files and the file changes, the line opening the enclosing function or
    struct (or the hunk header naming it), then the finding's own lines; `[...]` stands wherever
    lines of the patch are skipped. The comments follow, each followed by a blank line.
    """
    patch_lines = patch.body.splitlines()
    files = {cf.path: cf for cf in patch.changed_files}
    replies = {r.msgid: r for r in patch.replies}
    out = [attribution(patch)]
    groups: list[list[Finding]] = []
    for f in findings:
        if groups and (groups[-1][0].file, groups[-1][0].line, groups[-1][0].end_line) == (f.file, f.line, f.end_line):
            groups[-1].append(f)
        else:
            groups.append([f])
    last_file: str | None = None
    last_context: int | None = None
    last_line: int | None = 0  # body line of the last line quoted; 0: the attribution; None: unknown
    for group in groups:
        first = group[0]
        cf = files.get(first.file)
        own = _numbered_quote(cf, first)
        start = own[0][0] if own else None
        parts: list[tuple[int | None, str]] = []
        if cf is not None and len(patch.changed_files) > 1 and first.file != last_file:
            n = _diff_git_line(patch_lines, cf)
            if n is not None:
                parts.append((n, patch_lines[n - 1]))
        context = None
        if cf is not None:
            at = _enclosing(cf, first.line)
            if at is not None:
                context = cf.body_lines.get(at)
            else:
                hunk = _hunk_of(cf, first.line)
                if hunk is not None and hunk.section:
                    context = hunk.header_body_line
        if (context is not None and context != last_context and start is not None and context < start
                and _body_line(patch_lines, context) is not None):
            if not parts or parts[-1][0] != context:
                parts.append((context, patch_lines[context - 1]))
            last_context = context
        parts.extend(own)
        for n, text in parts:
            if n is None or last_line is None or n != last_line + 1:
                out.append("[...]")
            out.append(_quote(text))
            last_line = n
        out.append("")
        for f in group:
            reply = replies.get(f.replied_by) if f.replied_by else None
            out.extend(comment(f, reply))
            out.append("")
        last_file = first.file
    out.append("-- ")
    out.extend(signature(rules))
    return "\n".join(out) + "\n"


def _diff_git_line(patch_lines: list[str], cf: ChangedFile) -> int | None:
    """The body line number of the file's `diff --git` line."""
    if not cf.hunks:
        return None
    for i in range(min(cf.hunks[0].header_body_line, len(patch_lines)) - 1, -1, -1):
        if patch_lines[i].startswith("diff --git "):
            return i + 1
    return None


def signature(rules: list[str]) -> list[str]:
    ids = ", ".join(rules) if rules else "none"
    text = (f"reviewbot {__version__} (rules: {ids}), a deterministic reviewer; "
            "answer this mail to dispute a finding.")
    return textwrap.wrap(text, WRAP, break_long_words=False, break_on_hyphens=False)


# ---------------------------------------------------------------------------------------------
# The message


def _patch_order(patch: Patch):
    index = {cf.path: i for i, cf in enumerate(patch.changed_files)}

    def key(f: Finding):
        return (index.get(f.file, len(index)), f.file, f.line, f.end_line, f.rule, f.message)

    return key


def filename(patch: Patch) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", clean_text(patch.title or patch.subject)).strip("-")
    slug = slug[:52].rstrip("-") or "patch"
    return f"{max(patch.counter, 0):04d}-{slug}.eml"


def _subject(patch: Patch) -> str:
    subject = clean_text(patch.subject) or clean_text(patch.title) or "your patch"
    return subject if re.match(r"(?i)^re:", subject) else f"Re: {subject}"


def _message_id(patch: Patch, reviewer: str, date: datetime, domain: str, seed: str | None,
                deterministic: bool) -> str:
    if not deterministic:
        return email.utils.make_msgid(idstring="reviewbot", domain=domain).strip("<>")
    digest = hashlib.sha256(
        "\0".join((patch.msgid, reviewer, date.isoformat(), seed or "")).encode("utf-8", "surrogateescape")
    ).hexdigest()[:24]
    return f"reviewbot.{digest}@{domain}"


MAX_REFERENCES = 50


def message(patch: Patch, findings: list[Finding], rules: list[str], *, reviewer: Address,
            date: datetime, message_id: str) -> EmailMessage:
    msg = EmailMessage(policy=POLICY)
    msg["From"] = reviewer
    author = make_address(patch.author_name, patch.author_email)
    skip = {reviewer.addr_spec.lower()}
    if author is not None:
        msg["To"] = author
        skip.add(author.addr_spec.lower())
    cc = []
    for a in parse_addresses(list(patch.to) + list(patch.cc)):
        if a.addr_spec.lower() not in skip:
            skip.add(a.addr_spec.lower())
            cc.append(a)
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = _subject(patch)
    msg["Date"] = email.utils.format_datetime(date)
    msg["Message-ID"] = f"<{message_id}>"
    parent = clean_msgid(patch.msgid)
    if parent:
        msg["In-Reply-To"] = f"<{parent}>"
    refs: list[str] = []
    seen: set[str] = set()
    for r in list(patch.references) + [patch.msgid]:
        r = clean_msgid(r)
        if r and r not in seen:
            seen.add(r)
            refs.append(r)
    if len(refs) > MAX_REFERENCES:  # the thread's root and the nearest ancestors, as mail clients trim
        refs = refs[:1] + refs[-(MAX_REFERENCES - 1):]
    if refs:
        msg["References"] = " ".join(f"<{r}>" for r in refs)
    msg.set_content(body(patch, findings, rules), subtype="plain", charset="utf-8", cte="8bit")
    return msg


def _check(data: bytes, msg: EmailMessage) -> None:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    got = [k.lower() for k in parsed.keys()]
    want = [k.lower() for k in msg.keys()]
    if got != want or not set(got) <= {h.lower() for h in HEADERS}:
        raise AssertionError(f"draft headers came out as {got}, not {want}")
    for name in GIT_FOLDED:  # our folding must read back as exactly what was set
        if name in msg and str(parsed[name]) != str(msg[name]):
            raise AssertionError(f"draft {name} came out as {str(parsed[name])!r}, not {str(msg[name])!r}")


def drafts(review: Review, *, reviewer: str, date: datetime | None = None, msgid_domain: str | None = None,
           seed: str | None = None, keep_replied: bool = False) -> list[Draft]:
    """One reply draft per patch with findings, in patch order.

    reviewer: "Name <addr>" (see reviewer_identity()). date: the Date of every draft; when given
    (or when seed is), Message-IDs are derived from it, so the same input gives the same bytes;
    when None, now and random Message-IDs. msgid_domain: the right side of our Message-IDs
    (default: the reviewer's domain).
    """
    who = parse_identity(reviewer)
    domain = msgid_domain if msgid_domain is not None else who.domain or "localhost"
    if not _DOMAIN.match(domain or ""):
        raise InputError(f"Message-ID domain {domain!r} is not a host name")
    deterministic = date is not None or seed is not None
    when = date or datetime.now(timezone.utc).astimezone()
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    by_patch: dict[str, list[Finding]] = {}
    for f in review.findings:
        if f.replied_by and not keep_replied and not adds_something(f):
            continue
        by_patch.setdefault(f.patch, []).append(f)
    out: list[Draft] = []
    names: set[str] = set()
    for patch in review.series.patches:
        found = sorted(by_patch.get(patch.msgid, []), key=_patch_order(patch))
        if not found:
            continue
        rules = sorted({f.rule for f in found})
        mid = _message_id(patch, str(who), when, domain, seed, deterministic)
        msg = message(patch, found, rules, reviewer=who, date=when, message_id=mid)
        data = msg.as_bytes(policy=POLICY)
        _check(data, msg)
        name = filename(patch)
        stem, n = name[:-4], 2
        while name in names:
            name, n = f"{stem}-{n}.eml", n + 1
        names.add(name)
        out.append(Draft(patch=patch.msgid, filename=name, data=data, message_id=mid, findings=tuple(found)))
    return out


def mbox(drafts_: list[Draft]) -> bytes:
    """All drafts as one mboxrd (">From " escaping), as `git send-email` and mutt read it."""
    chunks = []
    for d in drafts_:
        text = re.sub(rb"(?m)^(>*From )", rb">\1", d.data)
        if not text.endswith(b"\n"):
            text += b"\n"
        chunks.append(b"From reviewbot Thu Jan  1 00:00:00 1970\n" + text + b"\n")
    return b"".join(chunks)


def write_drafts(drafts_: list[Draft], outdir: str | os.PathLike, *, overwrite: bool = False) -> list[Path]:
    """Write one .eml per draft and drafts.mbox of all of them into outdir, each atomically.

    Without overwrite, an existing file of the same name is an InputError naming it, and nothing
    is written. Returns the paths written (none when there are no drafts).
    """
    from reviewbot.outfile import write_atomic

    if not drafts_:
        return []
    root = Path(outdir)
    targets = [(root / d.filename, d.data) for d in drafts_]
    targets.append((root / MBOX_NAME, mbox(drafts_)))
    if not overwrite:
        for path, _ in targets:
            if path.exists():
                raise InputError(f"{path} exists; not overwriting it (use --overwrite)")
    for path, data in targets:
        write_atomic(str(path), data, overwrite=overwrite)
    return [p for p, _ in targets]
