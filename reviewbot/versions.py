"""Across versions: what became of v(N)'s findings and review comments in v(N+1).

For each finding reviewbot reported on v(N), and each human review comment on v(N) that quotes
patch lines (a reply's once-quoted `+` lines with the reviewer's own text right under them, as
dedupe reads replies), the report says:

- addressed: the quoted code is gone or rewritten in v(N+1) (for our findings: the rule no longer
  reports it);
- still present: the same lines are still there (our rule reports the same lines again);
- changed: part of the quoted code is still there and part is not, or our rule still reports the
  same thing but on lines that changed.

Patches are matched between versions by their title (the subject without "[PATCH ...]"), else by
their number in the series. Versions come from b4's grouping: a thread with several revisions
(LoreMailbox keeps them all; thread.assemble(revision=N)), or two threads of one series matched by
b4's change-id or by the normalised subject and author (store.key_of identity).

`reviewbot versions MSGID` compares the thread's latest version with the one before it, or, with
`--old MSGID` (and `--old-mbox PATH`), with the version in another thread.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import asdict, dataclass

from reviewbot.errors import EXIT_OK, InputError

ADDRESSED, PRESENT, CHANGED = "addressed", "still present", "changed"
GONE = "patch not in the new version"  # its patch has no counterpart in v(N+1) (not sent, or lost)
_PREFIX = re.compile(r"^\s*(\[[^\]]*\]\s*)+")


@dataclass(frozen=True)
class Item:
    kind: str  # "finding" (ours) | "comment" (a human reviewer's)
    status: str  # addressed | still present | changed
    who: str  # the rule id, or the reviewer's name
    patch: str  # the v(N) patch's Message-ID
    new_patch: str | None  # the matching v(N+1) patch's Message-ID (None: no such patch)
    file: str
    quoted: tuple[str, ...]  # the v(N) lines the item is about
    text: str  # the finding's message, or the reviewer's comment
    reply: str | None = None  # the reply's Message-ID (comments)


def title_of(subject: str) -> str:
    return " ".join(_PREFIX.sub("", subject or "").lower().split())


def _norm(line: str) -> str:
    from reviewbot.dedupe import normalise

    return normalise(line)


def _match(old: list[dict], new: list[dict]) -> dict[str, dict | None]:
    """old patch msgid -> the new patch dict ({"msgid", "subject", "counter"}) it continues."""
    by_title = {title_of(p["subject"]): p for p in new}
    by_counter = {p["counter"]: p for p in new}
    out = {}
    for p in old:
        out[p["msgid"]] = by_title.get(title_of(p["subject"])) or by_counter.get(p["counter"])
    return out


def _added_lines(body: str) -> list[str]:
    return [n for n in (_norm(line) for line in body.splitlines()
                        if line.startswith("+") and not line.startswith("+++")) if n]


def _status(quoted: list[str], added: set[str]) -> str:
    if not quoted:
        return ADDRESSED
    kept = sum(1 for q in quoted if q in added)
    return PRESENT if kept == len(quoted) else ADDRESSED if kept == 0 else CHANGED


# --------------------------------------------------------------------------------------------------
# Our findings (JSON reports: from a review, or from the store)
# --------------------------------------------------------------------------------------------------


def compare_findings(old_report: dict, new_report: dict, new_bodies: dict[str, str] | None = None) -> list[Item]:
    """Our v(N) findings against v(N+1)'s (both as JSON reports; new_bodies: new patch msgid -> body,
    to tell "changed" code when the rule no longer matches exactly)."""
    match = _match(old_report.get("patches", []), new_report.get("patches", []))
    new_findings = new_report.get("findings", [])
    items = []
    for f in old_report.get("findings", []):
        target = match.get(f["patch"])
        quoted = [q for q in (_norm(x) for x in f.get("quoted", [])) if q]
        cands = [g for g in new_findings if g["rule"] == f["rule"] and g["file"] == f["file"]
                 and (target is None or g["patch"] == target["msgid"])]
        status = ADDRESSED if target is not None else GONE
        for g in (cands if target is not None else ()):
            gq = [q for q in (_norm(x) for x in g.get("quoted", [])) if q]
            if gq == quoted:
                status = PRESENT
                break
            if g["message"] == f["message"] or set(gq) & set(quoted):
                status = CHANGED
        items.append(Item("finding", status, f["rule"], f["patch"], target["msgid"] if target else None,
                          f["file"], tuple(f.get("quoted", [])), f["message"]))
    return items


# --------------------------------------------------------------------------------------------------
# Human review comments
# --------------------------------------------------------------------------------------------------


def comments(body: str) -> list[tuple[list[str], str]]:
    """(normalised `+` lines of a once-quoted block, the reviewer's text right under it) of a reply."""
    from reviewbot.dedupe import quoted_comments

    out = []
    for lines, text in quoted_comments(body):
        plus = [n for n in (_norm(x) for x in lines if x.startswith("+") and not x.startswith("+++")) if n]
        if plus:
            out.append((plus, text))
    return out


def compare_comments(old_series, new_series) -> list[Item]:
    """Each human comment on a v(N) patch's lines, against the matching v(N+1) patch."""
    old_p = [{"msgid": p.msgid, "subject": p.subject, "counter": p.counter} for p in old_series.patches]
    new_p = [{"msgid": p.msgid, "subject": p.subject, "counter": p.counter} for p in new_series.patches]
    match = _match(old_p, new_p)
    bodies = {p.msgid: p.body for p in new_series.patches}
    items = []
    for patch in old_series.patches:
        target = match.get(patch.msgid)
        added = set(_added_lines(bodies[target["msgid"]])) if target else set()
        for reply in patch.replies:
            for quoted, text in comments(reply.body):
                status = _status(quoted, added) if target is not None else GONE
                items.append(Item("comment", status, reply.author_name or reply.author_email,
                                  patch.msgid, target["msgid"] if target else None, "",
                                  tuple(quoted), text, reply.msgid))
    return items


def compare(old_review, new_review) -> list[Item]:
    """Our findings and the human comments of old_review's series against new_review's."""
    from reviewbot.render import json as json_report

    bodies = {p.msgid: p.body for p in new_review.series.patches}
    return (compare_findings(json_report.report(old_review), json_report.report(new_review), bodies)
            + compare_comments(old_review.series, new_review.series))


def summary_line(items: list[Item]) -> str:
    if not items:
        return "nothing to follow up"
    parts = []
    for kind, label in (("finding", "of our findings"), ("comment", "of the review comments")):
        mine = [i for i in items if i.kind == kind]
        if mine:
            counts = {s: sum(1 for i in mine if i.status == s) for s in (ADDRESSED, CHANGED, PRESENT, GONE)}
            parts.append(", ".join(f"{n} {s if s != GONE else 'on patches the new version lacks'}"
                                   for s, n in counts.items() if n) + f" {label}")
    return "; ".join(parts)


def render_text(items: list[Item], old_rev: int, new_rev: int) -> str:
    lines = [f"v{old_rev} -> v{new_rev}: {summary_line(items)}"]
    for i in items:
        who = i.who if i.kind == "finding" else f"{i.who} (review)"
        first = next((q for q in reversed(i.quoted) if q.strip()), "")
        text = " ".join(i.text.split())
        lines.append(f"  [{i.status}] {who}: {text[:100]}{'...' if len(text) > 100 else ''}")
        if first:
            lines.append(f"      {first.strip()[:100]}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------------


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("versions", help="which findings and review comments of the previous version "
                                               "the latest one addressed")
    p.add_argument("msgid", help="a message of the newer version's thread")
    p.add_argument("--mbox", metavar="PATH", help="a local mbox or maildir holding it")
    p.add_argument("--lore", metavar="URL", help="a public-inbox base URL")
    p.add_argument("--offline", action="store_true", help="never touch the network")
    p.add_argument("--old", metavar="MSGID", help="a message of the older version's thread (default: the "
                                                  "revision before the latest in the same thread)")
    p.add_argument("--old-mbox", metavar="PATH", help="where --old is (default: where MSGID is)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--rules", metavar="IDS", help="run only these rules")
    p.add_argument("--skip", metavar="IDS", help="do not run these rules")
    p.add_argument("--rules-dir", metavar="DIR", help="load rules from this folder instead")
    p.set_defaults(func=cmd_versions)


def cmd_versions(args: argparse.Namespace) -> int:
    import json
    import sys
    from pathlib import Path

    from reviewbot import dedupe, engine, fetch, rulepack, thread

    msgid = fetch.parse_msgid(args.msgid)
    source = fetch.Source(mbox=args.mbox, lore=args.lore, offline=args.offline)
    new = thread.assemble(fetch.fetch_thread(msgid, source), msgid)
    if args.old:
        old_id = fetch.parse_msgid(args.old)
        old_source = fetch.Source(mbox=args.old_mbox or args.mbox, lore=args.lore, offline=args.offline)
        old_msgs = fetch.fetch_thread(old_id, old_source)
        old = thread.assemble(old_msgs, old_id)
        if old.revision >= new.revision:
            earlier = [r for r in old.revisions if r < new.revision]
            if not earlier:
                raise InputError(f"the thread of <{old_id}> has no version before v{new.revision}")
            old = thread.assemble(old_msgs, old_id, revision=earlier[-1])
    else:
        earlier = [r for r in new.revisions if r < new.revision]
        if not earlier:
            raise InputError(f"the thread of <{msgid}> has only v{new.revision}; name the older one with --old")
        old = thread.assemble(fetch.fetch_thread(msgid, source), msgid, revision=earlier[-1])
    from reviewbot import models as models_mod

    rules_dir = Path(args.rules_dir) if args.rules_dir else None
    rules, models, keep = rulepack.select(rulepack.load_rules(rules_dir), args.rules, args.skip,
                                          models_mod.load_models(rules_dir))
    old_review = dedupe.mark_replied(engine.run(old, rules, models=models, keep=keep))
    new_review = dedupe.mark_replied(engine.run(new, rules, models=models, keep=keep))
    items = compare(old_review, new_review)
    if args.format == "json":
        out = {"old": {"revision": old.revision, "title": old.title},
               "new": {"revision": new.revision, "title": new.title},
               "items": [{**asdict(i), "quoted": list(i.quoted)} for i in items]}
        sys.stdout.write(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(render_text(items, old.revision, new.revision))
    return EXIT_OK
