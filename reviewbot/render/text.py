"""The terminal summary: the series, then each patch with its findings and the lines they quote."""

from __future__ import annotations

from collections import Counter

from reviewbot.engine import Review


def render(review: Review) -> str:
    series = review.series
    out = []
    have = len(series.patches)
    head = f"v{series.revision} \"{series.title}\": {have} of {series.total} patches"
    if series.cover is not None:
        head += " and a cover letter"
    out.append(head)
    if series.missing:
        width = len(str(series.total))
        slots = ", ".join(f"{n:0{width}d}/{series.total}" for n in series.missing)
        out.append(f"missing from the archive: {slots} (not reviewed)")
    by_patch: dict[str, list] = {}
    for f in review.findings:
        by_patch.setdefault(f.patch, []).append(f)
    for patch in series.patches:
        found = by_patch.get(patch.msgid, [])
        width = len(str(patch.total))
        status = f"{len(found)} finding{'s' if len(found) != 1 else ''}" if found else "ok"
        if patch.unreadable:
            status = f"not reviewed: {patch.unreadable}"
        out.append("")
        out.append(f"[{patch.counter:0{width}d}/{patch.total}] {patch.title}  ({status})")
        for f in found:
            where = f"{f.file}:{f.line}" + (f"-{f.end_line}" if f.end_line != f.line else "")
            out.append(f"  {where}: {f.severity}: {f.message} [{f.rule}]")
            for q in f.quoted[:6]:
                out.append(f"    | {q}")
            if len(f.quoted) > 6:
                out.append(f"    | [... {len(f.quoted) - 6} more lines]")
            for step in f.trace:
                out.append(f"      {step}")
            if f.replied_by:
                out.append(f"    (already raised in <{f.replied_by}>)")
    counts = Counter(f.severity for f in review.findings)
    total = len(review.findings)
    out.append("")
    unreadable = len(review.unreadable)
    out.append(
        f"{total} finding{'s' if total != 1 else ''}: "
        f"{counts['error']} error, {counts['warning']} warning, {counts['info']} info"
        + (f"; {unreadable} unreadable patch{'es' if unreadable != 1 else ''} not reviewed" if unreadable else "")
    )
    return "\n".join(out) + "\n"
