"""GitHub Actions annotations: one workflow command per finding.

    ::error file=mm/bpf_oom.c,line=43,endLine=43,title=SRCU001::message

Escaping follows GitHub's workflow-command rules (actions/toolkit `issueCommand`): in the message,
`%` -> %25, CR -> %0D, LF -> %0A; in property values additionally `:` -> %3A and `,` -> %2C. A
finding's counterexample trace follows its message on lines of its own (escaped LFs).
"""

from __future__ import annotations

from reviewbot.engine import Review
from reviewbot.finding import Finding

COMMANDS = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(f: Finding) -> str:
    props = [
        ("file", f.file),
        ("line", str(f.line)),
        ("endLine", str(f.end_line)),
        ("title", f.rule),
    ]
    message = f.message.strip()
    if f.trace:
        message += "\n" + "\n".join(f"{n}. {step}" for n, step in enumerate(f.trace, 1))
    head = ",".join(f"{k}={escape_property(v)}" for k, v in props)
    return f"::{COMMANDS[f.severity]} {head}::{escape_data(message)}"


def render(review: Review) -> str:
    findings = sorted(review.findings, key=lambda f: (f.file, f.line, f.end_line, f.rule, f.message))
    return "".join(annotation(f) + "\n" for f in findings)
