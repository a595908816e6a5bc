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

The patch is reviewed exactly as `reviewbot review` reviews a patch of a thread: the same rules,
the same reference models (`rules/<pack>/model/`, selected by --rules/--skip like the rules), the
model findings' subsumption of rule findings (engine.run), and dedupe.mark_replied (a mail on its
own has no replies, so nothing is marked, but the pipeline is the one `review` runs). On v1 01/14
of the bundled BPF OOM thread both report the same finding ids at the same lines.

Mapping: no findings -> pass; only warnings or info -> warn; any error -> fail. We exit 0 whenever
we could review the patch, and 2 (one line on stderr) when stdin is not a patch email we can read.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import re
import sys
from collections import Counter
from email.message import EmailMessage

from reviewbot.errors import InputError, ReviewbotError

TOOL = "reviewbot"


def _undo_b4_decoding(msg: EmailMessage) -> None:
    """b4 hands the check command the already-decoded body under the original
    Content-Transfer-Encoding header; decoding it again would turn the diff into garbage."""
    try:
        if msg.is_multipart():
            return
        raw = msg.get_payload(decode=False)
        cte = str(msg.get("Content-Transfer-Encoding", "")).strip().lower()
    except (ValueError, IndexError, RecursionError):  # a header Python's parser refuses: leave it be
        return
    if cte in ("base64", "quoted-printable") and isinstance(raw, str) and re.search(r"(?m)^diff --git ", raw):
        del msg["Content-Transfer-Encoding"]
        msg["Content-Transfer-Encoding"] = "8bit"


def series_from_message(msg: EmailMessage):
    """One patch email -> a Series holding that patch (thread.assemble, as for a lore thread), or
    None when the mail carries no diff."""
    from reviewbot import patchfiles, thread

    _undo_b4_decoding(msg)
    mid = patchfiles.ensure_msgid(msg, "stdin")
    try:
        return thread.assemble([msg], mid)
    except InputError as exc:
        if "no patches" in str(exc):
            return None
        raise InputError(f"check: {exc}") from None


def parse_message(raw: bytes) -> EmailMessage:
    if not raw or not raw.strip():
        raise InputError("check: no email on stdin")
    from reviewbot import lore

    try:
        msg = email.message_from_bytes(lore.clip_header_lines(raw), policy=email.policy.default)
    except RecursionError:  # the parser recurses once per level of multipart nesting
        raise InputError("check: MIME parts nested too deeply to read") from None
    if not msg.keys():
        raise InputError("check: stdin is not an email (no headers)")
    return lore.sanitize(msg)


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


def check_message(raw: bytes, rules, *, url: str = "", models=(), keep=None) -> list[dict]:
    """Review one patch email (bytes, as b4 sends it) and return b4's result list. `models` and
    `keep` are what rulepack.select gives for them: the reference models run as in `review`."""
    series = series_from_message(parse_message(raw))
    if series is None:
        return [{"tool": TOOL, "status": "pass", "summary": "no diff to review", "url": url, "details": ""}]
    return [result(review_series(series, rules, models=models, keep=keep), url=url)]


def review_series(series, rules, *, models=(), keep=None):
    """The review `reviewbot review` makes: engine.run with the rules and models, then dedupe."""
    from reviewbot import dedupe, engine

    return dedupe.mark_replied(engine.run(series, list(rules), models=list(models), keep=keep))


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

    from reviewbot import models as models_mod
    from reviewbot import rulepack

    stdin = stdin if stdin is not None else sys.stdin.buffer
    stdout = stdout if stdout is not None else sys.stdout
    rules_dir = Path(args.rules_dir) if args.rules_dir else None
    rules, models, keep = rulepack.select(rulepack.load_rules(rules_dir), args.rules, args.skip,
                                          models_mod.load_models(rules_dir))
    results = check_message(stdin.read(), rules, url=args.url, models=models, keep=keep)
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
