"""A finding: one thing a check found in one patch (a small frozen value), and how one is placed on the
patch's lines (`finding_at`, `quote`). Rendering lives elsewhere."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reviewbot.diff import ChangedFile
    from reviewbot.thread import Patch

SEVERITIES = ("info", "warning", "error")  # in rising order
CONFIDENCES = ("low", "medium", "high")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class Finding:
    rule: str  # rule id, e.g. "SRCU002"
    severity: str  # info | warning | error
    confidence: str  # low | medium | high
    patch: str  # Message-ID of the patch (without <>)
    file: str  # post-image path
    line: int  # first post-image line the finding is about
    end_line: int  # last post-image line (== line for one line)
    message: str  # one or a few sentences, worded as a reviewer would
    quoted: tuple[str, ...] = ()  # the diff lines the finding is about, with their +/-/space prefix
    trace: tuple[str, ...] = ()  # for model findings: the counterexample, step by step
    see: str = ""  # a Documentation/ path or lore link that explains the rule
    replied_by: str | None = None  # Message-ID of a human reply that already raised this point
    # Other post-image lines that make the finding (an unlock's missing partner, the check the
    # returned value repeats): a reply that quotes one of them may have raised the same point.
    related: tuple[int, ...] = field(default=(), compare=False)
    extra: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")
        if self.confidence not in CONFIDENCES:
            raise ValueError(f"unknown confidence {self.confidence!r}")
        if self.end_line < self.line:
            raise ValueError("end_line before line")

    def sort_key(self) -> tuple:
        return (self.patch, self.file, self.line, self.end_line, self.rule, self.message)


def finding_at(patch: Patch, cf: ChangedFile, rule_id: str, severity: str, confidence: str, see: str,
               line: int, end_line: int | None, message: str, trace=(), related=(), evidence=()) -> Finding | None:
    """A Finding at post-image lines line..end_line of cf, quoting the patch's own lines; None when
    neither those lines nor the `related` ones are lines the patch changed (the code was there).
    A line the patch changed is one it adds, or one that now follows lines it deletes: a patch that
    only deletes (an unlock, a synchronize_rcu()) changes the code at the line after them. The
    `evidence` lines (a leaking path) count where the patch deleted code right before them."""
    end = end_line if end_line is not None else line
    lines = set(range(line, end + 1)) | set(related)
    if not lines & cf.added_lines and not (lines | set(evidence)) & cf.removals().keys():
        return None
    return Finding(rule=rule_id, severity=severity, confidence=confidence, patch=patch.msgid, file=cf.path,
                   line=line, end_line=end, message=message, quoted=quote(patch, cf, line, end),
                   trace=tuple(trace), see=see,
                   related=tuple(sorted(n for n in set(related) if not line <= n <= end)))


def quote(patch: Patch, cf: ChangedFile, line: int, end: int) -> tuple[str, ...]:
    """The patch body's own lines (with their +/space prefix) for post-image lines line..end."""
    body = patch.body.splitlines()
    removed = cf.removals() if not set(range(line, end + 1)) <= cf.added_lines else {}
    out = []
    for n in range(line, end + 1):
        for gone in () if n in cf.added_lines else removed.get(n, ()):
            # where the patch only deletes, the deleted lines are what it changed: quote them
            if 0 < gone.body_line <= len(body):
                out.append(body[gone.body_line - 1])
        at = cf.body_lines.get(n)
        if at is not None and 0 < at <= len(body):
            out.append(body[at - 1])
    return tuple(out)
