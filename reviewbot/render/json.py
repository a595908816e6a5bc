"""The JSON report. The contract (documented in the README) is stable: keys appear in this order,
and the same input always gives the same bytes."""

from __future__ import annotations

import json as _json

from reviewbot import __version__
from reviewbot.engine import Review
from reviewbot.finding import Finding


def finding_dict(f: Finding) -> dict:
    return {
        "rule": f.rule,
        "severity": f.severity,
        "confidence": f.confidence,
        "patch": f.patch,
        "file": f.file,
        "line": f.line,
        "end_line": f.end_line,
        "message": f.message,
        "quoted": list(f.quoted),
        "trace": list(f.trace),
        "see": f.see,
        "replied_by": f.replied_by,
    }


def report(review: Review) -> dict:
    series = review.series
    return {
        "reviewbot": __version__,
        "series": {
            "title": series.title,
            "revision": series.revision,
            "total": series.total,
            "cover": series.cover.msgid if series.cover else None,
            "missing": list(series.missing),
            "revisions": list(series.revisions),
        },
        "patches": [
            {"msgid": p.msgid, "subject": p.subject, "counter": p.counter, "total": p.total}
            for p in series.patches
        ],
        "unreadable": list(review.unreadable),
        "rules": list(review.rules),
        "findings": [finding_dict(f) for f in review.findings],
        "not_modelled": list(review.not_modelled),
    }


def render(review: Review) -> str:
    return _json.dumps(report(review), indent=2, ensure_ascii=False) + "\n"
