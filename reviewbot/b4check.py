"""`reviewbot check`: b4's per-patch check-command contract.

b4 (`b4 review`, b4/review/checks.py) runs each command in `b4.review-perpatch-check-cmd` once per
patch, with the patch email on stdin (its headers as received, its body decoded), in the top of the
git tree, and reads stdout as JSON: a list of objects

    [{"tool": "reviewbot", "status": "pass|warn|fail", "summary": "...", "url": "...", "details": "..."}]

A status outside pass/warn/fail counts as fail; no output with a non-zero exit becomes a "fail,
exited with error code N" result carrying stderr. b4's check view reads `details` as JSON when it
is a JSON list of {status, context, state, description, url, srcline} objects (the form its own
Patchwork and checkpatch checks use), and as plain text otherwise; we send the list, one entry per
finding.

Mapping: no findings -> pass; only warnings or info -> warn; any error -> fail. We exit 0 whenever
we could review the patch, and 2 (one line on stderr) when stdin is not a patch email we can read.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import email.utils
import json
import re
import sys
from collections import Counter
from email.message import EmailMessage

from reviewbot.errors import InputError, ReviewbotError

TOOL = "reviewbot"
_PREFIX = re.compile(r"^\s*\[(?P<prefix>[^\]]*)\]\s*(?P<title>.*)$", re.DOTALL)


def _msgids(header: str) -> list[str]:
    return [m.strip() for m in re.findall(r"<([^<>\s]+)>", header or "")]


def _addresses(msg: EmailMessage, name: str) -> tuple[str, ...]:
    values = [str(v) for v in msg.get_all(name, [])]
    return tuple(email.utils.formataddr(p) for p in email.utils.getaddresses(values) if p[1])


def _text(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",)) if msg.is_multipart() else msg
    if part is None or part.get_content_maintype() != "text":
        raise InputError("check: the message on stdin has no plain-text body")
    raw = part.get_payload(decode=False)
    cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if cte == "base64" and isinstance(raw, str) and re.search(r"(?m)^diff --git ", raw):
        return raw  # b4 hands us the decoded body under the original header
    try:
        return part.get_content()
    except (LookupError, UnicodeError, ValueError):
        data = part.get_payload(decode=True) or b""
        return data.decode("utf-8", errors="replace")


def patch_from_message(msg: EmailMessage):
    """One EmailMessage -> thread.Patch (no thread: no replies, counters from the subject)."""
    from reviewbot.diff import parse_changed_files
    from reviewbot.thread import Patch

    subject = " ".join(str(msg.get("Subject", "") or "").split())
    m = _PREFIX.match(subject)
    prefix, title = (m["prefix"], m["title"]) if m else ("", subject)
    counter, total = 1, 1
    nm = re.search(r"(\d+)\s*/\s*(\d+)", prefix)
    if nm:
        counter, total = int(nm[1]), int(nm[2])
    rev = re.search(r"\b[vV](\d+)\b", prefix)
    name, addr = email.utils.parseaddr(str(msg.get("From", "") or ""))
    mids = _msgids(str(msg.get("Message-ID", "") or ""))
    body = _text(msg)
    try:
        changed = parse_changed_files(body)
    except InputError as exc:
        raise InputError(f"check: {exc}") from None
    return Patch(
        msgid=mids[0] if mids else "",
        subject=subject,
        title=title,
        counter=counter,
        total=total,
        revision=int(rev[1]) if rev else 1,
        author_name=name,
        author_email=addr,
        date=str(msg.get("Date", "") or ""),
        to=_addresses(msg, "To"),
        cc=_addresses(msg, "Cc"),
        references=tuple(_msgids(str(msg.get("References", "") or ""))),
        body=body,
        changed_files=changed,
    )


def parse_message(raw: bytes) -> EmailMessage:
    if not raw or not raw.strip():
        raise InputError("check: no email on stdin")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    if not msg.keys():
        raise InputError("check: stdin is not an email (no headers)")
    return msg


def _srcline(quoted: tuple[str, ...]) -> str:
    for q in quoted:
        text = q[1:].strip() if q[:1] in "+- " else q.strip()
        if text:
            return text
    return ""


def result(review, *, url: str = "") -> dict:
    """The one result object for a reviewed single patch."""
    findings = review.findings
    counts = Counter(f.severity for f in findings)
    if not findings:
        status = "pass"
        n = len(review.rules)
        summary = f"no findings ({n} rule{'s' if n != 1 else ''})"
        if not any(p.changed_files for p in review.series.patches):
            summary = "no diff to review"
    else:
        status = "fail" if counts["error"] else "warn"
        parts = [f"{counts[s]} {s}{'s' if counts[s] != 1 and s != 'info' else ''}"
                 for s in ("error", "warning", "info") if counts[s]]
        summary = ", ".join(parts) + ": " + ", ".join(sorted({f.rule for f in findings}))
    details = [
        {
            "status": {"error": "fail", "warning": "warn", "info": "warn"}[f.severity],
            "context": f.rule,
            "state": f.severity,
            "description": f"{f.file}:{f.line}: {f.message}",
            "url": f.see if f.see.startswith(("https://", "http://")) else "",
            "srcline": _srcline(f.quoted),
        }
        for f in findings
    ]
    return {"tool": TOOL, "status": status, "summary": summary, "url": url,
            "details": json.dumps(details) if details else ""}


def check_message(raw: bytes, rules, *, url: str = "") -> list[dict]:
    """Review one patch email (bytes, as b4 sends it) and return b4's result list."""
    from reviewbot import engine, thread

    patch = patch_from_message(parse_message(raw))
    series = thread.single_series((patch,), title=patch.title)
    review = engine.run(series, list(rules))
    return [result(review, url=url)]


# ---------------------------------------------------------------------------------------------
# The subcommand


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "check",
        help="b4 review check: a patch email on stdin, b4's JSON results on stdout",
        description="Review the one patch email on stdin and print b4's check JSON "
                    "([{tool, status, summary, url, details}]). For b4.review-perpatch-check-cmd.",
    )
    p.add_argument("--rules", metavar="IDS", help="run only these rules (ids, names or packs, comma-separated)")
    p.add_argument("--skip", metavar="IDS", help="do not run these rules")
    p.add_argument("--rules-dir", metavar="DIR", help="load rules from this folder instead of the shipped ones")
    p.add_argument("--url", default="", help="a link to put in each result (e.g. the CI run)")
    p.set_defaults(func=cmd_check)
    return p


def cmd_check(args: argparse.Namespace, stdin=None, stdout=None) -> int:
    from pathlib import Path

    from reviewbot import rulepack

    stdin = stdin if stdin is not None else sys.stdin.buffer
    stdout = stdout if stdout is not None else sys.stdout
    rules = rulepack.load_rules(Path(args.rules_dir) if args.rules_dir else None)
    rules = rulepack.select(rules, args.rules, args.skip)
    results = check_message(stdin.read(), rules, url=args.url)
    stdout.write(json.dumps(results, ensure_ascii=False) + "\n")
    stdout.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m reviewbot.b4check check ...`: the subcommand on its own, with the CLI's exit codes."""
    parser = argparse.ArgumentParser(prog="reviewbot")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    try:
        args = parser.parse_args(argv)
        return args.func(args)
    except ReviewbotError as exc:
        sys.stderr.write("reviewbot: " + " ".join(str(exc).split()) + "\n")
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
