"""Everything reviewbot asks of b4 and liblore. The only module that imports them.

b4 knows how lore works (Message-ID lookups, mboxrd, its git config, series and versions); we use
its library instead of re-implementing any of that. It is imported lazily, inside each function,
because `import b4` alone costs about 0.2 s and not every path needs it (`reviewbot rules`,
`reviewbot parse`, ...).
"""

from __future__ import annotations

import importlib
import logging
import re
import sys
import types
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

# b4 logs through the "b4" logger; its messages are for b4's own CLI, not ours.
logging.getLogger("b4").addHandler(logging.NullHandler())
logging.getLogger("b4").propagate = False


# ---------------------------------------------------------------------------------------------------
# Deferred imports. `import b4` imports requests (through liblore.node) and dkim (which pulls
# dnspython and urllib3): about 0.15 s that a review of a local mbox never uses. Before b4 or liblore
# is first imported, those two modules are put in sys.modules as stand-ins that import the real
# module on the first attribute anyone reads (a network fetch, a DKIM check), and from then on
# hand every attribute through. At import time b4 reads only `requests.Session`, in type
# annotations (b4 has no `from __future__ import annotations`); that one name is answered with a
# placeholder class until the real module is loaded. Any other attribute loads the real module.
# smtplib (and the ssl it imports) is only for b4's sending mail, which reviewbot never does; b4's
# annotations name smtplib.SMTP and smtplib.SMTP_SSL.
# ---------------------------------------------------------------------------------------------------

_DEFERRED = {"requests": ("Session",), "dkim": (), "smtplib": ("SMTP", "SMTP_SSL")}


class _Deferred(types.ModuleType):
    def __init__(self, name: str, placeholders: tuple[str, ...]) -> None:
        super().__init__(name)
        # __spec__ in the instance: `import name` reads it, and must not load the real module.
        self.__dict__.update(__spec__=None, _rb_real=None, _rb_placeholders=placeholders, _rb_stubs={})

    def _rb_load(self) -> types.ModuleType:
        real = self.__dict__["_rb_real"]
        if real is None:
            name = self.__name__
            if sys.modules.get(name) is self:
                del sys.modules[name]
            try:
                real = importlib.import_module(name)
            except BaseException:
                sys.modules.setdefault(name, self)
                raise
            self.__dict__["_rb_real"] = real
        return real

    def __getattr__(self, attr: str) -> Any:
        if _IMPORTING and self.__dict__["_rb_real"] is None and attr in self.__dict__["_rb_placeholders"]:
            stubs = self.__dict__["_rb_stubs"]
            return stubs.setdefault(attr, type(attr, (), {"__module__": self.__name__}))
        return getattr(self._rb_load(), attr)


_IMPORTING = False  # placeholders are handed out only while b4 and liblore are being imported


def _defer_heavy_imports() -> None:
    """Import b4 and liblore with the stand-ins in place (once; a no-op when b4 is imported)."""
    global _IMPORTING
    if "b4" in sys.modules:
        return
    for name, placeholders in _DEFERRED.items():
        if name not in sys.modules:
            sys.modules[name] = _Deferred(name, placeholders)
    _IMPORTING = True
    try:
        import b4  # noqa: F401
        import liblore.utils  # noqa: F401
    finally:
        _IMPORTING = False


def _b4():
    _defer_heavy_imports()
    import b4

    return b4


def _liblore_utils():
    _defer_heavy_imports()
    import liblore.utils

    return liblore.utils


# Parsed header values, shared by every message we parse: b4 and we read the same few headers of
# each message many times (Message-ID about four times, Content-Type six), and each read makes the
# email package parse the raw value again. The parsed header objects are immutable strings, so one
# per (name, raw value) serves every read. Bounded: cleared when it grows past _HEADER_CACHE_MAX.
_HEADER_CACHE: dict[tuple[str, str], Any] = {}
_HEADER_CACHE_MAX = 50_000
_POLICY = None


def _parse_policy():
    """liblore's email policy (the one liblore.utils.split_mbox parses with), with cached header parses."""
    global _POLICY
    if _POLICY is None:
        base = _liblore_utils().emlpolicy

        class _CachedHeaders(type(base)):  # type: ignore[misc]
            def header_fetch_parse(self, name, value):
                if not isinstance(value, str) or hasattr(value, "name"):
                    return super().header_fetch_parse(name, value)
                key = (name, value)
                hit = _HEADER_CACHE.get(key)
                if hit is None:
                    if len(_HEADER_CACHE) >= _HEADER_CACHE_MAX:
                        _HEADER_CACHE.clear()
                    hit = _HEADER_CACHE[key] = super().header_fetch_parse(name, value)
                return hit

        settings = {k: getattr(base, k) for k in ("utf8", "cte_type", "max_line_length", "linesep",
                                                   "raise_on_defect", "mangle_from_", "message_factory",
                                                   "refold_source", "header_factory", "content_manager")}
        _POLICY = _CachedHeaders(**settings)
    return _POLICY


def split_mbox(data: bytes) -> list[EmailMessage]:
    """Split mbox bytes (mboxrd or mboxo, as lore and git send them) into messages."""
    return [parse_message(raw) for raw in split_mbox_raw(data)]


def split_thread_mbox(data: bytes) -> list[EmailMessage]:
    """split_mbox for thread.assemble: each reply parsed only as far as threading needs it
    (parse_thread_message)."""
    return [parse_thread_message(raw) for raw in split_mbox_raw(data)]


def split_mbox_raw(data: bytes) -> list[bytes]:
    """Split mbox bytes into each message's raw bytes (the mboxrd ">From " escape undone), unparsed.

    The same bytes as liblore.utils.split_mbox_as_bytes, whose separator test (liblore's own
    _FROM_RE, on lines of 20 bytes or more) and unescaping rules it applies; tests/test_lore.py
    holds the two equal on every fixture mbox, a real list of 3,000 messages and the edge cases.
    liblore visits each of a list's 800,000 lines in Python; here only the lines that start with
    "From " are, and only bodies holding ">From " are rewritten (a replay spent a second there,
    before its workers could start)."""
    if not data:
        return []
    from_re = _liblore_utils()._FROM_RE
    starts = [0] if data.startswith(b"From ") else []
    at = data.find(b"\nFrom ")
    while at >= 0:
        starts.append(at + 1)
        at = data.find(b"\nFrom ", at + 1)
    seps: list[tuple[int, int]] = []  # (start, end) of each separator line, end at its newline
    for start in starts:
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        if end - start + 1 >= 20 and from_re.match(data[start:end]):
            seps.append((start, end))
    msgs: list[bytes] = []
    if not seps:
        return [_unescape_from(data + b"\n", in_header=False)]
    if seps[0][0] > 0:  # what precedes the first separator is a message of its own, read as a body
        msgs.append(_unescape_from(data[:seps[0][0]], in_header=False))
    for i, (_start, end) in enumerate(seps):
        if end >= len(data):
            break  # a separator on the last line, without a newline: nothing follows it
        chunk = data[end + 1:seps[i + 1][0]] if i + 1 < len(seps) else data[end + 1:] + b"\n"
        if chunk:
            msgs.append(_unescape_from(chunk, in_header=True))
    return msgs


_ESCAPED_FROM = re.compile(rb"(?m)^>(>*From )")  # liblore's ^>+From , one > taken off


def _unescape_from(chunk: bytes, in_header: bool) -> bytes:
    """mboxrd: a body line `>From `, `>>From `... loses one `>`. A message's header block ends at
    its first empty line (none: all of it is header, as liblore reads it)."""
    if b">From " not in chunk:
        return chunk
    cut = 0
    if in_header:
        if chunk[:1] != b"\n":
            cut = chunk.find(b"\n\n")
            if cut < 0:
                return chunk
            cut += 1
    return chunk[:cut] + _ESCAPED_FROM.sub(rb"\1", chunk[cut:])


def parse_message(raw: bytes) -> EmailMessage:
    """One raw message parsed as liblore.utils.parse_message does (liblore's email policy), with
    header parses cached."""
    import email.parser

    return email.parser.BytesParser(policy=_parse_policy()).parsebytes(raw)


# The header lines threading reads of a reply (clean_msgid, is_reply, thread._parents, header_date),
# each with its continuation lines; and a block of lines that are all feedparser header lines
# (email.feedparser.headerRE, here for bytes), so the feedparser reads the same headers from it.
# (A header block is 7.6 KB on average on a real list: the names are found in its lowered copy,
# a literal "\n" first, which is four times faster than a case-free search by line.)
_THREADING_HEADER = re.compile(rb"\n(?:message-id|subject|date|in-reply-to|references)[ \t]*:")
_FOLDED_LINE = re.compile(rb"[^\n]*\n(?:[ \t][^\n]*\n)*")
_HEADER_BLOCK = re.compile(rb"(?:(?:From |[\041-\071\073-\176]*:|[\t ])[^\n]*\n)*")


def parse_thread_message(raw: bytes) -> EmailMessage:
    """A message of a thread, parsed as far as thread.assemble needs it: a reply by its subject
    (is_reply) gets only its threading headers parsed, and keeps its raw bytes for whole(), which
    its author and body are read from when a finding's patch asks for them; any other message is
    parse_message(raw).

    Replies are most of a list, and a finding answers few of them: on a list replay the parse of
    every reply's every header (Received, DKIM, the list's own) and the building of its fields were
    a tenth of the time. The headers picked are the same lines, in the same order, that the whole
    parse reads, so every threading header has the same value; a header block the feedparser could
    read otherwise (a bare CR, a line that is no header line) is parsed whole."""
    import email.parser

    if b"\n+++ " in raw:
        return parse_message(raw)  # a patch, most likely: parsed whole without a first look
    end = raw.find(b"\n\n")
    head = raw[:end + 1] if end >= 0 else raw if raw.endswith(b"\n") else raw + b"\n"
    if b"\r" in head or not _HEADER_BLOCK.fullmatch(head):
        return parse_message(raw)
    head = b"\n" + head
    picked = b"".join(_FOLDED_LINE.match(head, m.start() + 1).group() for m in _THREADING_HEADER.finditer(head.lower()))
    msg = email.parser.BytesParser(policy=_parse_policy()).parsebytes(picked + b"\n")
    if not is_reply(msg):
        return parse_message(raw)
    msg.__dict__["_reviewbot_raw"] = raw
    return msg


def whole(msg: EmailMessage) -> EmailMessage:
    """The whole message of one that parse_thread_message parsed only in part (parsed once, kept);
    any other message as it is."""
    raw = msg.__dict__.get("_reviewbot_raw")
    if raw is None:
        return msg
    full = msg.__dict__.get("_reviewbot_whole")
    if full is None:
        full = msg.__dict__["_reviewbot_whole"] = parse_message(raw)
    return full


def read_maildir(path: str) -> list[EmailMessage]:
    return list(_b4().get_msgs_from_mailbox_or_maildir(path))


def is_maildir(path: str) -> bool:
    return bool(_b4().is_maildir(path))


_MSGID = re.compile(r"<([^>]+)>")  # liblore.utils._MSGID_RE


def raw_header(msg: EmailMessage, name: str) -> str | None:
    """The first `name` header's value as the mail has it (folded, encoded words undecoded)."""
    lname = name.lower()
    return next((str(v) for n, v in msg.raw_items() if n.lower() == lname), None)


def clean_msgid(msg: EmailMessage) -> str | None:
    """liblore.utils.get_clean_msgid(msg, "Message-Id"): the id in the raw value's <...>, else in the
    parsed value's. liblore parses the header even when the raw value answers (and that parse is
    most of its cost); the parse is made here only when it is needed."""
    raw = raw_header(msg, "Message-ID")
    if raw:
        m = _MSGID.search(raw)
        if m:
            return m.group(1)
    try:
        return _liblore_utils().get_clean_msgid(msg, "Message-Id")
    except (IndexError, ValueError, TypeError, RecursionError):  # Python's msg-id parser fails on e.g. "<>"
        return None


# Unstructured headers (email.headerregistry.UnstructuredHeader): without an encoded word, what
# msg.get() returns is the raw value unfolded (the policy removes every CR and LF). Reading it so
# spares the header registry's parse, the larger part of a batch's header time.
UNSTRUCTURED = frozenset({"subject", "in-reply-to", "references"})


def header_date(msg: EmailMessage) -> str:
    """str(msg.get("Date", "")), computed as email.headerregistry.DateHeader does (the date
    re-formatted by email.utils, or the value itself when it is not a date) without building the
    parse tree the registry also makes of it."""
    import email.utils

    raw = raw_header(msg, "Date")
    if raw is None:
        return ""
    value = raw.replace("\r", "").replace("\n", "")
    if not value:
        return ""
    try:
        text = email.utils.format_datetime(email.utils.parsedate_to_datetime(value))
    except ValueError:
        text = value
    if not text.isascii():  # what the registry would sanitize (surrogates): let it
        return str(msg.get("Date", ""))
    return text


def header_text(msg: EmailMessage, name: str) -> str | None:
    """str(msg.get(name)) of an unstructured header (UNSTRUCTURED), None when it is absent."""
    assert name.lower() in UNSTRUCTURED, name
    raw = raw_header(msg, name)
    if raw is None:
        return None
    if "=?" in raw:
        value = msg.get(name)
        return None if value is None else str(value)
    return raw.replace("\r", "").replace("\n", "")


def defuse_headers(msg: EmailMessage) -> None:
    """b4 decodes Subject and From again with email.header.decode_header, which raises on a broken
    encoded word ("=?utf-8?b?a_?=", bad base64). Such a header's "=?" is made plain text, in place,
    so b4 reads the words as they are."""
    import email.errors
    import email.header

    if msg.__dict__.get("_reviewbot_defused"):
        return  # once per message: b4 and thread.py ask for every mail several times
    msg.__dict__["_reviewbot_defused"] = True
    _drop_long_headers(msg)
    _trim_references(msg)
    for name in ("Subject", "From"):
        raw = raw_header(msg, name)
        if raw is None or "=?" not in raw:
            continue  # no encoded word in the raw value: none in the parsed one either
        try:
            value = msg.get(name)
        except Exception:  # noqa: BLE001 - the parser refuses it; b4 will not read it either
            continue
        if value is None or "=?" not in str(value):
            continue
        try:
            email.header.decode_header(str(value))
        except (email.errors.HeaderParseError, ValueError, LookupError, UnicodeError):
            msg.replace_header(name, str(value).replace("=?", "= ?"))


MAX_REFERENCES = 100
MAX_SAME_HEADER = 4  # copies of one addressing/threading header that are read
MAX_HEADER_LENGTH = 16 << 10  # longer From/To/...: dropped (Python's address parser is quadratic: 16 KiB of "\\" take 2 s)
_LIMITED = ("from", "to", "cc", "subject", "date", "message-id", "in-reply-to", "references")


def _drop_long_headers(msg: EmailMessage) -> None:
    """Any header longer than MAX_HEADER_LENGTH is dropped: Python's header parsers are quadratic
    on some values (a Content-Type or Subject line of a few hundred KiB takes minutes)."""
    long_names = {k.lower() for k, v in msg.raw_items() if len(v) > MAX_HEADER_LENGTH}
    if not long_names:
        return
    items = [(k, v) for k, v in msg.raw_items() if k.lower() in long_names]
    for name in long_names:
        del msg[name]
    for k, v in items:
        if len(v) <= MAX_HEADER_LENGTH:
            msg.set_raw(k, v)


def clip_header_lines(data: bytes) -> bytes:
    """Raw mail or mbox bytes with every header line longer than MAX_HEADER_LENGTH replaced by a
    short placeholder, before anything parses them: the parser itself reads Content-Type, and a
    Content-Type line of 2 MB kept it busy for minutes. Only long lines are looked at (a regex
    finds them), so this is linear and allocates nothing for normal mail."""

    out, pos = [], 0
    # anchored at line starts: unanchored, the search restarts at every byte of every line
    for m in re.finditer(rb"(?m)^[^\n]{%d,}" % (MAX_HEADER_LENGTH + 1), data):
        start = m.start()
        # In a header block: no blank line between the message's start (the data's start or an
        # mbox "From " line) and this line.
        blank = data.rfind(b"\n\n", 0, start)
        sep = max(data.rfind(b"\nFrom ", 0, start), 0 if data.startswith(b"From ") or blank < 0 else -1)
        if blank >= 0 and blank >= sep:
            continue  # a body line: MAX_LINE handles those
        line = data[start:m.end()]
        short = b" (dropped)" if line[:1] in (b" ", b"\t") else b"X-Reviewbot-Dropped: an overlong header"
        out.append(data[pos:start])
        out.append(short)
        pos = m.end()
    if not out:
        return data
    out.append(data[pos:])
    return b"".join(out)


def sanitize(msg: EmailMessage) -> EmailMessage:
    """A message from outside, made safe for Python's header parser and for b4 (see defuse_headers,
    _drop_long_headers, _trim_references): every reader of mail calls this once after parsing."""
    defuse_headers(msg)
    return msg


def b4_safe(msg: EmailMessage) -> bool:
    """Whether b4 can build its LoreMessage of msg in bounded time (see MAX_LINE, MAX_TRAILER_SCAN)."""
    try:
        return longest_line(msg) <= MAX_LINE and trailer_scan_cost(msg) <= MAX_TRAILER_SCAN
    except Exception:  # noqa: BLE001 - a body Python cannot even decode
        return False


def _trim_references(msg: EmailMessage) -> None:
    """b4 collects References into a list with a membership test per id: 20,000 ids took 20 s. A
    longer References keeps the root and the nearest MAX_REFERENCES - 1 ancestors. Thousands of
    copies of From/To/... (b4 parses every one) are cut to the first MAX_SAME_HEADER, and one longer
    than MAX_HEADER_LENGTH is dropped."""
    counts: dict[str, int] = {}
    for k, v in msg.raw_items():  # one pass finds the names that need a cut (almost never one)
        name = k.lower()
        if name in _LIMITED:
            counts[name] = counts.get(name, 0) + (1 if len(v) <= MAX_HEADER_LENGTH else MAX_SAME_HEADER + 1)
    for name in _LIMITED:
        if counts.get(name, 0) <= MAX_SAME_HEADER:
            continue
        items = [(k, v) for k, v in msg.raw_items() if k.lower() == name]
        if len(items) > MAX_SAME_HEADER or any(len(v) > MAX_HEADER_LENGTH for _, v in items):
            kept = [(k, v) for k, v in items if len(v) <= MAX_HEADER_LENGTH][:MAX_SAME_HEADER]
            del msg[name]
            for k, v in kept:
                msg.set_raw(k, v)
    raw = [v for k, v in msg.raw_items() if k.lower() == "references"]
    if not raw or sum(str(v).count("<") for v in raw) <= MAX_REFERENCES:
        return
    ids = " ".join(str(v) for v in raw).split()
    kept = ids[:1] + ids[-(MAX_REFERENCES - 1):]
    del msg["References"]
    msg.set_raw("References", " ".join(kept))


def is_reply(msg: EmailMessage) -> bool:
    """Whether b4 files this message as a reply by its subject alone ("Re: ...", "Aw: ...").

    b4's LoreMailbox puts every such message among its follow-ups whatever else it holds, so it need
    not be given to the mailbox at all (see series_mailbox)."""
    known = msg.__dict__.get("_reviewbot_is_reply")
    if known is None:
        defuse_headers(msg)
        known = msg.__dict__["_reviewbot_is_reply"] = bool(_b4().LoreSubject(header_text(msg, "Subject")).reply)
    return known


def reply_fields(msg: EmailMessage) -> tuple[str, str, str, str]:
    """(full subject, author name, author address, body) of a reply, as b4's LoreMessage has them
    (the same calls LoreMessage.__init__ makes, without its trailer and diff scanning)."""
    import email.utils

    b4 = _b4()
    defuse_headers(msg)
    lsubject = b4.LoreSubject(header_text(msg, "Subject"))
    try:
        try:
            values = [str(x) for x in msg.get_all("from", [])]
        except (ValueError, TypeError, RecursionError):  # a From Python's header parser refuses
            values = [str(v) for k, v in msg.raw_items() if k.lower() == "from"]
        name, addr = email.utils.getaddresses([b4.LoreMessage.clean_header(x) for x in values])[0]
        if not len(name.strip()):
            name = addr
    except (IndexError, RecursionError):
        name, addr = "", ""
    body, _charset = payload(msg)
    return lsubject.full_subject, name, addr, body or ""


# b4's trailer scan (LoreMessage.find_trailers) runs a regex whose time grows with the cube of a
# line's length: one 8,000-character "Name: value" line costs 5 s, and a mail whose lines end in a
# bare CR is one line to b4. Mail lines end at 998 characters (RFC 5322), so a line past this is
# hostile or broken: such a mail is not given to b4.
MAX_LINE = 4000


# find_trailers also runs r'^(\S+:\s+[^<]+)\n(<[^>]+>)$' over the body: each "Name: value" line
# scans on to the next "<", so the time is about (such lines) x (body length). A body past this
# product (a few seconds of regex) is treated like an overlong line.
MAX_TRAILER_SCAN = 2_000_000_000


def payload(msg: EmailMessage) -> tuple:
    """b4.LoreMessage.get_payload(msg): (decoded body, charset), or its exception; decoded once per
    message (the guards below, has_diff() and a reply's fields each read it, and b4 again)."""
    defuse_headers(msg)  # (its header changes come first, so every reader sees the same body)
    hit = msg.__dict__.get("_reviewbot_payload")
    if hit is None:
        try:
            hit = (True, _b4().LoreMessage.get_payload(msg))
        except Exception as exc:  # noqa: BLE001 - kept, and raised again to every reader
            hit = (False, exc)
        msg.__dict__["_reviewbot_payload"] = hit
    if not hit[0]:
        raise hit[1]
    return hit[1]


def trailer_scan_cost(msg: EmailMessage) -> int:

    body, _charset = payload(msg)
    body = body or ""
    return len(re.findall(r"(?m)^\S+:\s", body)) * len(body)


# The cubic regex runs on "Name: value" lines: on those a line of 1,540 characters with no space
# has cost 23 s, so they stop at 300 (real trailers are well under 200).
MAX_TRAILER_LINE = 300


def longest_line(msg: EmailMessage) -> int:
    """The length of the longest line of the text b4 reads from msg (its decoded body); a
    trailer-like "Name: value" line counts MAX_LINE / MAX_TRAILER_LINE times its length."""

    body, _charset = payload(msg)
    lines = (body or "").split("\n")
    longest = max(map(len, lines))
    if longest > MAX_TRAILER_LINE:  # only then can a trailer-like line count more than its length
        for line in lines:
            n = len(line)
            if n > MAX_TRAILER_LINE and re.match(r"\s*\w\S+:\s+\S", line):
                longest = max(longest, n * MAX_LINE // MAX_TRAILER_LINE)
    return longest


_DIFF_IN_BODY = re.compile(r"(?m)^(?:diff --git |--- \S)")


def has_diff(msg: EmailMessage) -> bool:
    """Whether the text b4 reads from msg carries a diff (a patch, not a cover letter or reply)."""
    try:
        body, _charset = payload(msg)
    except (ValueError, LookupError, UnicodeError, RecursionError):
        return False
    return bool(_DIFF_IN_BODY.search(body or ""))


@dataclass(frozen=True)
class PatchMail:
    """What b4 reads of a patch mail it was not asked to sort into a series."""

    msgid: str
    full_subject: str
    subject: str  # without the [PATCH ...] prefix
    counter: int
    expected: int
    revision: int
    fromname: str
    fromemail: str
    body: str
    msg: EmailMessage


def patch_mail(msg: EmailMessage) -> PatchMail:
    """A patch mail read with b4's subject and payload helpers (as LoreMessage reads them)."""
    full_subject, name, addr, body = reply_fields(msg)
    lsubject = _b4().LoreSubject(msg["Subject"])
    return PatchMail(clean_msgid(msg) or "", full_subject, lsubject.subject or full_subject,
                     int(lsubject.counter or 1), int(lsubject.expected or 1), int(lsubject.revision or 1),
                     name, addr, body, msg)


# b4's LoreMessage scans every body for trailers (find_trailers: a regex search per line, diff
# included), and keeps what it found only for a reply, or for a message without a diff (where a
# trailer makes it a reply). For a message that is not a reply by its subject and whose body has a
# diff (the has_diff test b4 makes on that same body, with its own DIFF_RE), the result is thrown
# away: the scan was 11% of a list replay's time. While series_mailbox adds such a message, the scan
# is skipped. tests/test_lore.py holds the mailboxes built with and without it equal.
_PATCH_TRAILERS_UNUSED = False


def _skip_patch_trailer_scan(b4) -> None:
    scan = b4.LoreMessage.__dict__["find_trailers"].__func__
    if getattr(scan, "reviewbot_skips", False):
        return
    diff_re = b4.DIFF_RE

    def find_trailers(body: str, followup: bool = False):
        if _PATCH_TRAILERS_UNUSED and diff_re.search(body):
            return [], []
        return scan(body, followup)

    find_trailers.reviewbot_skips = True
    find_trailers.__wrapped__ = scan
    b4.LoreMessage.find_trailers = staticmethod(find_trailers)


def series_mailbox(msgs: list[EmailMessage]) -> tuple[Any, list[tuple[EmailMessage, str]]]:
    """A b4 LoreMailbox holding these messages (b4 sorts them into versions, covers, patches), and
    the patch mails it could not be given, each with the reason.

    A mail with a line longer than MAX_LINE, or headers Python cannot parse, is left out: when it
    carries no diff (a reply or cover cannot stop the review of the series) silently, and when it
    does as a refused patch, so the series is still reviewed and names what it could not read."""
    import email.errors

    b4 = _b4()
    _skip_patch_trailer_scan(b4)
    global _PATCH_TRAILERS_UNUSED
    mailbox = b4.LoreMailbox()
    refused: list[tuple[EmailMessage, str]] = []
    for msg in msgs:
        defuse_headers(msg)
        try:
            longest = longest_line(msg)
            costly = trailer_scan_cost(msg) > MAX_TRAILER_SCAN
        except (ValueError, LookupError, UnicodeError, RecursionError):
            continue  # not even its body can be read (a Content-Type the header parser refuses)
        if longest > MAX_LINE or costly:
            if has_diff(msg):
                if longest > MAX_LINE:
                    refused.append((msg, f"a line of {longest} characters (mail lines end at 998)"))
                else:
                    refused.append((msg, "too many \"Name: value\" lines for its size"))
            continue
        try:
            _PATCH_TRAILERS_UNUSED = not is_reply(msg)
            try:
                mailbox.add_message(msg)
            finally:
                _PATCH_TRAILERS_UNUSED = False
        except (ValueError, LookupError, UnicodeError, RecursionError, email.errors.MessageError) as ex:
            # Python's header parser refuses some hostile headers (CR/LF in an encoded address,
            # parentheses nested past the recursion limit): such a mail is not part of the series.
            if has_diff(msg):
                refused.append((msg, f"headers reviewbot cannot read ({type(ex).__name__})"))
    return mailbox, refused


def mailbox_series(mailbox: Any, revision: int | None) -> Any:
    """The LoreSeries of that revision (latest when None), or None.

    codereview_trailers=False: b4 would otherwise search lore for trailers sent in other threads,
    which is a network query we do not want in a review. Nor do we use the trailers b4 carries
    over from older revisions by `git patch-id` (one `git patch-id` process per patch, ~10 ms
    each): the patch ids are set to "none known" before b4 would compute them.

    b4's get_series() changes the mailbox as it goes (it adds the cover letter to the series on
    every call, and a partial reroll fills a version with patches of the one before), so asking
    twice corrupts the series. Each revision is asked for once, without reroll (a version is the
    patches that were posted as it), and kept on the mailbox.
    """
    for lmsg in mailbox.msgid_map.values():
        if lmsg._git_patch_id is None:
            lmsg._git_patch_id = ""
    if revision is None:
        revision = mailbox.get_latest_revision()
        if revision is None:
            return None
    cache = mailbox.__dict__.setdefault("_reviewbot_series", {})
    if revision not in cache:
        cache[revision] = mailbox.get_series(revision, codereview_trailers=False, reroll=False)
    return cache[revision]


def mailbox_revisions(mailbox: Any) -> list[int]:
    """Every revision b4 found in the mailbox, in ascending order."""
    return sorted(mailbox.series)


# ---------------------------------------------------------------------------------------------------
# Fetching a thread from a public-inbox archive (lore.kernel.org or any other), through liblore's
# LoreNode, the same client b4 uses. reviewbot.fetch decides *where* to ask; this part only asks and
# turns every way the answer can go wrong into one of our two one-line errors.
# ---------------------------------------------------------------------------------------------------

# liblore logs warnings ("Request to ... failed, trying next host") for b4's CLI; with no handler
# configured Python's last-resort handler would print them on stderr, so they go nowhere.
logging.getLogger("liblore").addHandler(logging.NullHandler())
logging.getLogger("liblore").propagate = False

# Seconds to wait for a TCP connection, and for each read of the answer. A server that is down
# fails at once (connection refused); one that accepts and never answers fails after READ_TIMEOUT.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0


def b4_config() -> dict:
    """b4's main config (git config b4.*, a worktree's .b4-config), loaded once per process.

    Read-only for us: we never change b4's globals (its config or its global LoreNode), so one
    `--lore URL` cannot leak into the next fetch in the same process.
    """
    b4 = _b4()
    if not b4.MAIN_CONFIG:
        b4._setup_main_config()
    return b4.get_main_config()


def default_lore_url() -> str:
    """The archive b4 is configured to use: b4.midmask without "%s" (default lore.kernel.org/all/).

    The same derivation as b4.get_lore_node(), which we do not call because it builds b4's global
    node with b4's timeouts.
    """
    import urllib.parse

    midmask = str(b4_config().get("midmask") or "https://lore.kernel.org/all/%s")
    base = midmask.replace("/%s", "").replace("%s", "").rstrip("/")
    if not urllib.parse.urlsplit(base).path.strip("/"):
        base += "/all"
    return base + "/"


def cache_ttl() -> int:
    """Seconds a fetched thread stays fresh: b4's cache-expire (minutes, default 10)."""
    try:
        return max(0, int(str(b4_config().get("cache-expire", "10")))) * 60
    except ValueError:
        return 600


def fetch_thread_mbox(base_url: str, msgid: str, *, only_this_archive: bool, session: Any = None) -> bytes:
    """The thread holding `msgid` as mbox bytes (t.mbox.gz, decompressed) from the archive at base_url.

    only_this_archive: ask that server and nothing else (no git-config fallback hosts, no partial
    mirror's upstream); used for an explicit --lore URL. Otherwise the node is configured from git
    config the way b4 configures its own (fallbacks, useragentplus, ...).

    Nothing is cached here (reviewbot.fetch keeps its own cache, so it can answer offline).
    Raises InputError when the archive says it does not have msgid (404), ArchiveError for every
    other failure: no connection, timeout, 5xx, redirect loop, an answer that is not a gzipped mbox.
    """
    _defer_heavy_imports()
    import liblore

    from reviewbot import __version__
    from reviewbot.errors import ArchiveError, InputError

    timeout = (CONNECT_TIMEOUT, READ_TIMEOUT)
    shown = base_url if base_url.endswith("/") else base_url + "/"

    def unreachable(reason: str) -> ArchiveError:
        return ArchiveError(f"lore at {shown} could not be reached: {_one_line(reason)}")

    node = None
    try:
        kwargs: dict[str, Any] = {"request_timeout": timeout, "cache_dir": None, "auto_probe": False}
        if only_this_archive:
            kwargs.update(fallback_urls=[], follow_upstream=False)
        node = liblore.LoreNode.from_git_config(base_url.rstrip("/"), **kwargs)
        node.set_user_agent("reviewbot", __version__)
        if session is not None:  # reviewbot.fetch's session: caps, retries and a deadline
            node.set_requests_session(session)
        data = node.get_mbox_by_msgid(msgid, nocache=True)
    except liblore.RemoteError as ex:
        if ex.status_code == 404:
            raise InputError(f"Message-ID <{msgid}> not found at {shown}") from None
        raise unreachable(_remote_reason(ex, timeout)) from None
    except Exception as ex:  # noqa: BLE001 - the network boundary: every failure becomes one line
        raise unreachable(_other_reason(ex)) from None
    finally:
        if node is not None:
            node.close()
    if not data:
        raise unreachable("the archive answered with an empty thread")
    return data


def search_mbox(base_url: str, query: str, *, only_this_archive: bool = True) -> bytes:
    """The messages a public-inbox search finds, with their whole threads, as mbox bytes
    (liblore's get_mbox_by_query with full_threads; e.g. query "d:2.days.ago.." or "s:BPF").

    An empty bytes when the archive finds nothing (public-inbox answers 404). ArchiveError for
    every other failure, as fetch_thread_mbox.
    """
    def call(node):
        return node.get_mbox_by_query(query, full_threads=True, nocache=True, local_sufficient=True)

    try:
        return _node_call(base_url, call, only_this_archive=only_this_archive, what=f"search {query!r}")
    except _NotFound:
        return b""


def fetch_url(base_url: str, path: str, *, only_this_archive: bool = True) -> bytes:
    """GET `path` under the archive's base URL (e.g. "new.atom"): the body, through liblore's client
    (its user agent, timeouts and fallback hosts). InputError on 404, ArchiveError otherwise."""
    def call(node):
        resp = node.request("GET", base_url.rstrip("/") + "/" + path.lstrip("/"),
                            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
        try:
            if resp.status_code == 404:
                raise _NotFound()
            if resp.status_code != 200:
                import liblore

                raise liblore.RemoteError(f"HTTP {resp.status_code}", status_code=resp.status_code)
            return resp.content
        finally:
            resp.close()

    from reviewbot.errors import InputError

    try:
        return _node_call(base_url, call, only_this_archive=only_this_archive, what=path)
    except _NotFound:
        raise InputError(f"{base_url.rstrip('/')}/{path.lstrip('/')}: not found (HTTP 404)") from None


class _NotFound(Exception):
    pass


def _node_call(base_url: str, call, *, only_this_archive: bool, what: str):
    """Run call(node) with a LoreNode for base_url; every failure but a 404 (_NotFound) becomes one
    ArchiveError line."""
    _defer_heavy_imports()
    import liblore

    from reviewbot import __version__
    from reviewbot.errors import ArchiveError

    timeout = (CONNECT_TIMEOUT, READ_TIMEOUT)
    shown = base_url if base_url.endswith("/") else base_url + "/"
    node = None
    try:
        kwargs: dict[str, Any] = {"request_timeout": timeout, "cache_dir": None, "auto_probe": False}
        if only_this_archive:
            kwargs.update(fallback_urls=[], follow_upstream=False)
        node = liblore.LoreNode.from_git_config(base_url.rstrip("/"), **kwargs)
        node.set_user_agent("reviewbot", __version__)
        return call(node)
    except _NotFound:
        raise
    except liblore.RemoteError as ex:
        if ex.status_code == 404:
            raise _NotFound() from None
        raise ArchiveError(f"lore at {shown} could not be reached ({what}): "
                           f"{_one_line(_remote_reason(ex, timeout))}") from None
    except Exception as ex:  # noqa: BLE001 - the network boundary: every failure becomes one line
        raise ArchiveError(f"lore at {shown} could not be reached ({what}): {_one_line(_other_reason(ex))}") from None
    finally:
        if node is not None:
            node.close()


def split_and_dedupe(data: bytes) -> list[EmailMessage]:
    """Split an archive's mbox answer and drop duplicate Message-IDs the way b4 does
    (keeping the copy from the list b4's listid-preference prefers)."""
    b4 = _b4()
    b4_config()
    return list(b4.split_and_dedupe_pi_results(data))


def strict_thread(msgs: list[EmailMessage], msgid: str) -> list[EmailMessage] | None:
    """The messages of the thread holding msgid, as b4 selects them (b4.get_strict_thread): a
    series posted in reply to an unrelated discussion is cut loose from it. None if msgid is absent."""
    b4 = _b4()

    if not any(clean_msgid(m) == msgid for m in msgs):
        return None
    # b4 builds a LoreMessage (trailer scan included) of a message that is not a reply: leave out
    # those it cannot read in bounded time; assemble() then names the patch when it is one of them.
    # (A reply by its subject is never one; it may be parsed only in part, parse_thread_message.)
    safe = [m for m in msgs if clean_msgid(m) == msgid or is_reply(m) or b4_safe(m)]
    return b4.get_strict_thread(safe, msgid)


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _remote_reason(ex: Exception, timeout: tuple[float, float]) -> str:
    status = getattr(ex, "status_code", None)
    if status is not None:
        if status >= 500:
            return f"the server answered HTTP {status}"
        return f"the server answered HTTP {status} (expected 200 or 404)"
    return _other_reason(ex.__cause__ or ex, timeout)


def _other_reason(ex: BaseException, timeout: tuple[float, float] | None = None) -> str:
    import gzip
    import zlib

    import requests

    connect, read = timeout or (CONNECT_TIMEOUT, READ_TIMEOUT)
    if isinstance(ex, requests.ConnectTimeout):
        return f"no connection within {connect:g} s"
    if isinstance(ex, requests.ReadTimeout):
        return f"no answer within {read:g} s"
    if isinstance(ex, requests.TooManyRedirects):
        return "too many redirects (a redirect loop)"
    if isinstance(ex, (gzip.BadGzipFile, EOFError, zlib.error)):
        return "the answer is not a gzipped mbox"
    if isinstance(ex, requests.ConnectionError):
        text = str(ex)
        if "Connection refused" in text:
            return "connection refused"
        if "Name or service not known" in text or "NameResolutionError" in text or "getaddrinfo" in text:
            return "the host name could not be resolved"
        if "timed out" in text:
            return f"no answer within {read:g} s"
        return f"connection failed ({text})"
    if isinstance(ex, requests.RequestException):
        return f"{type(ex).__name__}: {ex}"
    return f"{type(ex).__name__}: {ex}" if str(ex) else type(ex).__name__
