"""Dedupe against the thread: which findings a human reviewer already raised.

A finding is "already raised" by a reply to its patch when that reply quoted the finding's lines and
commented right under them, the way kernel reviewers do:

    > +               srcu_read_unlock(&bpf_oom->srcu, idx);
    > +
    > +               if (ret && oc->bpf_memory_freed)

    IIUC ret and oc->bpf_memory_freed seem to reflect the same state: ...

The rule, exactly:

1. The reply's body is cut into blocks: runs of lines quoted once (`> ...`, not `> > ...`, which
   quote someone else's quote), and runs of the reply author's own text. Blank lines, quoted or not,
   neither start nor end a block.
2. A quote block is *commented* when the next thing after it (blank lines aside) is the author's own
   non-blank text. The attribution line ("On ... wrote:") comes before its quote, never after; the
   signature (from a "-- " line on) is not a comment.
3. Lines are compared normalised: the diff prefix (`+`, `-`, or a space) is kept, every run of
   whitespace after it becomes one space, and leading/trailing whitespace goes (mail clients turn
   tabs into spaces and re-indent). Blank diff lines (`+` alone, a bare context line) are skipped on
   both sides.
4. The finding's quoted lines must be the *last* non-blank lines of a commented quote block, in the
   same order: the comment is right under them. A finding on lines the reviewer quoted only as
   context above the line they commented on is not taken as raised: wrongly hiding a finding costs
   more than repeating one. The block's last line may instead be one of the finding's `related`
   lines (the lines that make it: the lock whose unlock is missing, the check it repeats), or a line
   that states the same expression as one of the finding's lines: `if (ret && oc->bpf_memory_freed)`
   answered above is the point of a finding at `return ret && oc->bpf_memory_freed;` below.
5. Only replies to the finding's own patch are read (the thread module attaches every reply to the
   patch it answers); of several matching replies the earliest (by Date, then Message-ID) wins.

`mark_replied` sets `Finding.replied_by` to that reply's Message-ID and changes nothing else.
"""

from __future__ import annotations

import email.utils
import functools
import re
from dataclasses import replace
from typing import Iterable

from reviewbot.engine import Review
from reviewbot.finding import Finding
from reviewbot.thread import Patch, Reply
from reviewbot.facts.types import balanced

_QUOTE = re.compile(r"^((?:>[ \t]?)+)")


def normalise(line: str) -> str:
    """A diff line compared loosely: prefix kept, inner whitespace runs collapsed."""
    if line[:1] in ("+", "-"):
        prefix, rest = line[0], line[1:]
    else:
        prefix, rest = " ", line
    rest = " ".join(rest.split())
    return prefix + rest if rest else ""


def _meaningful(lines: Iterable[str]) -> list[str]:
    return [n for n in (normalise(line) for line in lines) if n]


def quoted_comments(body: str) -> list[tuple[list[str], str]]:
    """Each once-quoted block of a reply that its author commented on right below: (the block's
    lines without the quote prefix, the author's text under it). Deeper quotes (a quote of a
    quote) and the signature are not the author's words."""
    items: list[tuple[str, list[str]]] = []  # ("quote"|"text"|"other", lines)
    for raw in body.splitlines():
        if raw == "-- ":
            break  # the signature is not a comment
        m = _QUOTE.match(raw)
        if m:
            depth = m.group(1).count(">")
            kind = "quote" if depth == 1 else "other"
            text = raw[len(m.group(1)):] if depth == 1 else raw
        else:
            kind, text = "text", raw
        if not text.strip() and kind != "other":
            continue  # blank lines neither start nor end a block
        if items and items[-1][0] == kind:
            items[-1][1].append(text)
        else:
            items.append((kind, [text]))
    return [(lines, "\n".join(items[i + 1][1]).strip())
            for i, (kind, lines) in enumerate(items)
            if kind == "quote" and i + 1 < len(items) and items[i + 1][0] == "text"]


@functools.lru_cache(maxsize=256)
def commented_quotes(body: str) -> tuple[tuple[str, ...], ...]:
    """The once-quoted blocks a reply's author commented on, as normalised lines (kept per body:
    every finding of a patch is matched against the same few replies)."""
    return tuple(tuple(block) for block in (_meaningful(lines) for lines, _ in quoted_comments(body)) if block)


# A line's expression: what is left of a statement without its keyword, the parentheses of an `if`
# and the `;` or `{` at its end, without spaces. `if (ret && oc->bpf_memory_freed)` and `return ret
# && oc->bpf_memory_freed;` have the same expression.
_STATEMENT_HEAD = re.compile(r"^(?:\}\s*)?(?:else\s+)?(?:if|while|return|switch)\b\s*")
_OPERATOR = re.compile(r"&&|\|\||->|==|!=|<=|>=|\w\(|\w\.\w")


@functools.lru_cache(maxsize=4096)
def expression(line: str) -> str | None:
    """The expression a quoted code line states, or None when it states none worth matching on
    (short, or a bare name or number that many lines share). (Cached: each quoted line of a reply
    is asked about once per finding of its patch.)"""
    text = normalise(line)[1:].strip()
    text = _STATEMENT_HEAD.sub("", text)
    text = text.rstrip("{; ").strip()
    while text.startswith("(") and text.endswith(")") and balanced(text[1:-1]):
        text = text[1:-1].strip()
    text = re.sub(r"\s+", "", text)
    if len(text) < 10 or not _OPERATOR.search(text):
        return None
    return text


def _asked(quoted: Iterable[str], related: tuple[str, ...]) -> tuple[list[str], list[str], set[str]]:
    """What a reply is matched on for a finding: its lines, its related lines, their expressions."""
    wanted = _meaningful(quoted)
    others = _meaningful(related)
    expressions = {e for e in map(expression, [*quoted, *related]) if e}
    return wanted, others, expressions


def _raised(asked: tuple[list[str], list[str], set[str]], reply: Reply) -> bool:
    """Whether `reply` commented right under the finding's lines (quoted as the last lines of a
    block), under one of its related lines, or under a line that states the same expression as
    one of the finding's lines (the same check written at another line)."""
    wanted, others, expressions = asked
    if not wanted and not others:
        return False
    for block in commented_quotes(reply.body):
        if wanted and list(block[-len(wanted):]) == wanted:
            return True
        if block[-1] in others or expression(block[-1]) in expressions:
            return True
    return False


def _reply_key(reply: Reply) -> tuple:
    return (_stamp(reply.date), reply.msgid)


@functools.lru_cache(maxsize=1024)
def _stamp(date: str) -> float:
    """A Date header as a timestamp; unreadable ones last. (Cached: a patch's replies are sorted
    once for each of its findings.)"""
    try:
        return email.utils.parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError, IndexError):
        return float("inf")


def related_lines(finding: Finding, patch: Patch) -> list[str]:
    """The diff lines (with their +/space prefix) of the finding's related lines."""
    cf = next((c for c in patch.changed_files if c.path == finding.file), None)
    if cf is None:
        return []
    return [("+" if n in cf.added_lines else " ") + cf.post_image[n] for n in finding.related if n in cf.post_image]


def first_reply(finding: Finding, patch: Patch) -> Reply | None:
    asked = _asked(finding.quoted, tuple(related_lines(finding, patch)))
    for reply in sorted(patch.replies, key=_reply_key):
        if _raised(asked, reply):
            return reply
    return None


def mark_replied(review: Review) -> Review:
    """The review with `replied_by` set on every finding a human reply already raised.

    A finding that already carries a `replied_by` keeps it.
    """
    patches = {p.msgid: p for p in review.series.patches}
    if review.series.cover is not None:
        patches.setdefault(review.series.cover.msgid, review.series.cover)
    out = []
    for f in review.findings:
        patch = patches.get(f.patch)
        if f.replied_by is None and patch is not None:
            reply = first_reply(f, patch)
            if reply is not None:
                f = replace(f, replied_by=reply.msgid)
        out.append(f)
    return replace(review, findings=tuple(out))
