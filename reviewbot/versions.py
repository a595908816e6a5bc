"""Across versions: what became of v(N)'s findings and review comments in v(N+1).

For each finding reviewbot reported on v(N), and each human review comment on v(N) that quotes
patch lines (a reply's once-quoted `+` lines with the reviewer's own text right under them, as
dedupe reads replies), the report says:

- addressed: for our findings, only on evidence: the check that produced the finding (the rule,
  or the reference model) ran on v(N+1) and no longer reports it, and no check that says the same
  thing (a rule the model's finding kind `subsumes`, or the model kind that subsumes the rule)
  reports it at the same code. For a human comment: the quoted code is gone or rewritten;
- still present: the same lines are still there (our rule or model reports the same lines again,
  or a check that says the same thing reports them: the item's `reason` names it);
- changed: part of the quoted code is still there and part is not, or our check still reports the
  same thing but on lines that changed;
- not checked: the check could not run on v(N+1), so its silence is no evidence; `reason` says
  why: the model does not recognise the new version, or reports the code as not modelled where it
  ran v(N) (a later design it does not run), the new patch no longer changes the file, no longer
  adds the lines (they became context), cannot be read, or the rule was not run;
- patch not in the new version: the v(N) patch has no counterpart in v(N+1).

A model "ran" on a patch when it recognised it (models.ModelResult.applied, recorded while the
review runs: `review()` below) and reported nothing it could not model beyond what it already
could not model on v(N) (a `not_modelled` entry with a `kinds` list stops only those finding ids).
A v(N) finding's lines are found in v(N+1) by their code (whitespace normalised), so a check that
says the same thing "at the same code" is one whose finding covers one of those lines.

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
NOT_CHECKED = "not checked"  # the check could not run on v(N+1): Item.reason says why
GONE = "patch not in the new version"  # its patch has no counterpart in v(N+1) (not sent, or lost)
STATUSES = (ADDRESSED, CHANGED, PRESENT, NOT_CHECKED, GONE)
_PREFIX = re.compile(r"^\s*(\[[^\]]*\]\s*)+")


@dataclass(frozen=True)
class Item:
    kind: str  # "finding" (ours) | "comment" (a human reviewer's)
    status: str  # addressed | still present | changed | not checked | patch not in the new version
    who: str  # the rule id, or the reviewer's name
    patch: str  # the v(N) patch's Message-ID
    new_patch: str | None  # the matching v(N+1) patch's Message-ID (None: no such patch)
    file: str
    quoted: tuple[str, ...]  # the v(N) lines the item is about
    text: str  # the finding's message, or the reviewer's comment
    reply: str | None = None  # the reply's Message-ID (comments)
    # not checked: why the check could not run; still present through another check: which one
    reason: str | None = None


@dataclass(frozen=True)
class ModelRun:
    """What a reference model did with one patch while a review ran."""

    applied: bool  # it recognised the patch (models.ModelResult.applied)
    error: str | None = None  # it raised (run_models reports that as not modelled)


class _Recording:
    """A model as engine.run sees it (every attribute is the model's), which notes per patch
    whether the model recognised it: the engine's Review keeps findings and not_modelled entries,
    not which models applied, and a clean run leaves neither."""

    def __init__(self, model, runs: dict):
        self._model = model
        self._runs = runs

    def __getattr__(self, name):
        return getattr(self._model, name)

    def run(self, patch, **kwargs):
        key = (patch.msgid, self._model.id)
        try:
            result = self._model.run(patch, **kwargs)
        except Exception as exc:
            self._runs[key] = ModelRun(False, f"{type(exc).__name__}: {exc}")
            raise
        self._runs[key] = ModelRun(bool(getattr(result, "applied", False)))
        return result


def review(series, rules, *, models=(), keep=None, tree=None):
    """engine.run then dedupe.mark_replied, as `reviewbot review` does, also returning
    {(patch msgid, model id): ModelRun} for every model run on every patch."""
    from reviewbot import dedupe, engine

    runs: dict = {}
    recorded = [_Recording(m, runs) for m in models]
    result = dedupe.mark_replied(engine.run(series, rules, tree=tree, models=recorded, keep=keep))
    return result, runs


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


def _code(line: str) -> str:
    """A diff or post-image line's code, whitespace normalised, without its +/space prefix."""
    return " ".join((line[1:] if line[:1] in "+- " else line).split())


def _kinds(models) -> dict[str, tuple[str, frozenset[str]]]:
    """finding id -> (model id, the rule ids that kind subsumes), for every model finding kind."""
    return {k.id: (m.id, frozenset(k.subsumes)) for m in models for k in m.kinds}


def _new_lines(f: dict, cf) -> set[int]:
    """The v(N+1) post-image lines of cf that carry the code f quotes: where its quoted block stands
    whole, else each line carrying one of its lines."""
    want = [c for c in (_code(q) for q in f.get("quoted", ())) if c]
    if cf is None or not want:
        return set()
    image = {n: _code(t) for n, t in cf.post_image.items()}
    starts = [n for n in image if all(image.get(n + i) == w for i, w in enumerate(want))]
    if starts:
        return {n + i for n in starts for i in range(len(want))}
    return {n for n, c in image.items() if c in want}


def _same_code(f: dict, g: dict, cf) -> bool:
    """g (a v(N+1) finding) stands on the code f (a v(N) finding) was about."""
    if g["file"] != f["file"]:
        return False
    lines = _new_lines(f, cf)
    if cf is not None:
        return any(g["line"] <= n <= g["end_line"] for n in lines)
    return bool({_code(q) for q in g.get("quoted", ()) if _code(q)} & {_code(q) for q in f.get("quoted", ()) if _code(q)})


def _entry_key(e: dict) -> tuple[str, str, str]:
    return (e.get("model", ""), str(e.get("construct", "")), str(e.get("reason", "")))


def _entry_words(e: dict) -> str:
    construct, reason = str(e.get("construct") or "").strip(), str(e.get("reason") or "").strip()
    return f"{construct}: {reason}" if construct and reason else construct or reason or "unknown"


def _not_checked(f: dict, target: dict, new_report: dict, old_report: dict, kinds: dict, new_patch,
                 runs: dict | None) -> str | None:
    """Why the check that produced f could not run on the v(N+1) patch `target`; None when it ran."""
    unreadable = {u["msgid"]: u.get("reason", "") for u in new_report.get("unreadable", [])}
    if target["msgid"] in unreadable:
        return f"the new version of the patch cannot be read: {unreadable[target['msgid']]}"
    if f["rule"] not in new_report.get("rules", [f["rule"]]):
        return f"{f['rule']} was not run on the new version"
    if new_patch is not None:
        files = {cf.path: cf for cf in new_patch.changed_files}
        cf = files.get(f["file"])
        if cf is None:
            return f"the new version of the patch does not change {f['file']}"
        plus = {_code(q) for q in f.get("quoted", ()) if q.startswith("+") and _code(q)}
        added = {_code(cf.post_image[n]) for n in cf.added_lines if n in cf.post_image}
        context = {_code(t) for n, t in cf.post_image.items() if n not in cf.added_lines}
        if plus and not plus & added and plus & context:
            return ("the new version no longer adds these lines (they are context there), and checks "
                    "report only on added lines")
    if f["rule"] not in kinds:
        return None  # a rule: it ran on the file
    model = kinds[f["rule"]][0]
    mine = [e for e in new_report.get("not_modelled", [])
            if e.get("model") == model and e.get("patch") == target["msgid"]]
    run = runs.get((target["msgid"], model)) if runs is not None else None
    if runs is not None and run is None:
        return f"the {model} model was not run on the new version"
    if run is not None and not run.applied and not mine:
        return (f"the {model} model failed on the new version: {run.error}" if run.error
                else f"the {model} model does not recognise the new version of the patch")
    if run is None:  # no record of the run (a stored report): its own output is the only evidence
        own = [g for g in new_report.get("findings", []) if g["patch"] == target["msgid"] and g["rule"] in kinds
               and kinds[g["rule"]][0] == model]
        if not own and not mine:
            return f"nothing shows that the {model} model ran on the new version (it reported nothing there)"
    before = {_entry_key(e) for e in old_report.get("not_modelled", [])
              if e.get("model") == model and e.get("patch") == f["patch"]}
    fresh = [e for e in mine if _entry_key(e) not in before
             and (not e.get("kinds") or f["rule"] in e.get("kinds", ()))]
    if not fresh:
        return None
    fresh.sort(key=lambda e: (not e.get("line"), not e.get("file")))  # code it names first
    more = f" (and {len(fresh) - 1} more not modelled)" if len(fresh) > 1 else ""
    return f"the {model} model does not run {_entry_words(fresh[0])}{more}"


def compare_findings(old_report: dict, new_report: dict, new_series=None, *, models=None,
                     runs: dict | None = None) -> list[Item]:
    """Our v(N) findings against v(N+1)'s, both as JSON reports (render.json.report).

    new_series (the v(N+1) Series) lets a finding's code be found in the new patch by line, and
    the patch's files be known; runs ({(patch msgid, model id): ModelRun}, from review()) says
    which models recognised which patch. Without runs (a stored report), a model finding is
    addressed only when the model reported something else on the new patch (so it ran there).
    models: the reference models (default: the shipped ones), for their finding kinds and what
    each kind subsumes."""
    if models is None:
        from reviewbot import models as models_mod

        models = models_mod.load_models()
    kinds = _kinds(models)
    match = _match(old_report.get("patches", []), new_report.get("patches", []))
    patches = {p.msgid: p for p in new_series.patches} if new_series is not None else {}
    new_findings = new_report.get("findings", [])
    items = []
    for f in old_report.get("findings", []):
        target = match.get(f["patch"])
        item = Item("finding", GONE, f["rule"], f["patch"], target["msgid"] if target else None,
                    f["file"], tuple(f.get("quoted", [])), f["message"])
        if target is None:
            items.append(item)
            continue
        new_patch = patches.get(target["msgid"])
        cf = next((c for c in new_patch.changed_files if c.path == f["file"]), None) if new_patch else None
        on_target = [g for g in new_findings if g["patch"] == target["msgid"]]
        quoted = [q for q in (_norm(x) for x in f.get("quoted", [])) if q]
        status, reason = None, None
        for g in (g for g in on_target if g["rule"] == f["rule"] and g["file"] == f["file"]):
            gq = [q for q in (_norm(x) for x in g.get("quoted", [])) if q]
            if gq == quoted:
                status = PRESENT
                break
            if g["message"] == f["message"] or set(gq) & set(quoted) or (cf is not None and _same_code(f, g, cf)):
                status = CHANGED
        if status is None:
            # Another check that says the same thing, at the same code: the rules f's kind
            # subsumes, or the model kind that subsumes f's rule.
            same = kinds[f["rule"]][1] if f["rule"] in kinds else frozenset()
            for g in on_target:
                says_it = g["rule"] in same or (g["rule"] in kinds and f["rule"] in kinds[g["rule"]][1])
                if says_it and _same_code(f, g, cf if new_patch is not None else None):
                    status = PRESENT
                    reason = f"{g['rule']} reports it at line {g['line']}" + (
                        f"-{g['end_line']}" if g["end_line"] != g["line"] else "")
                    break
        if status is None:
            why = _not_checked(f, target, new_report, old_report, kinds, new_patch, runs)
            status, reason = (NOT_CHECKED, why) if why else (ADDRESSED, None)
        items.append(Item("finding", status, f["rule"], f["patch"], target["msgid"], f["file"],
                          tuple(f.get("quoted", [])), f["message"], reason=reason))
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


def compare(old_review, new_review, *, models=None, runs: dict | None = None) -> list[Item]:
    """Our findings and the human comments of old_review's series against new_review's. runs: what
    review() recorded for the new version (which models recognised which patch); models: the
    models that ran (default: the shipped ones)."""
    from reviewbot.render import json as json_report

    return (compare_findings(json_report.report(old_review), json_report.report(new_review), new_review.series,
                             models=models, runs=runs)
            + compare_comments(old_review.series, new_review.series))


def summary_line(items: list[Item]) -> str:
    if not items:
        return "nothing to follow up"
    parts = []
    for kind, label in (("finding", "of our findings"), ("comment", "of the review comments")):
        mine = [i for i in items if i.kind == kind]
        if mine:
            counts = {s: sum(1 for i in mine if i.status == s) for s in STATUSES}
            parts.append(", ".join(f"{n} {s if s != GONE else 'on patches the new version lacks'}"
                                   for s, n in counts.items() if n) + f" {label}")
    return "; ".join(parts)


def status_text(i: Item) -> str:
    """The status as the text report shows it: `not checked (why)`, `still present (what says it)`."""
    return f"{i.status} ({i.reason})" if i.reason else i.status


def render_text(items: list[Item], old_rev: int, new_rev: int) -> str:
    lines = [f"v{old_rev} -> v{new_rev}: {summary_line(items)}"]
    for i in items:
        who = i.who if i.kind == "finding" else f"{i.who} (review)"
        first = next((q for q in reversed(i.quoted) if q.strip()), "")
        text = " ".join(i.text.split())
        lines.append(f"  [{status_text(i)}] {who}: {text[:100]}{'...' if len(text) > 100 else ''}")
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

    from reviewbot import fetch, rulepack, thread

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
    old_review, _ = review(old, rules, models=models, keep=keep)
    new_review, runs = review(new, rules, models=models, keep=keep)
    items = compare(old_review, new_review, models=models, runs=runs)
    if args.format == "json":
        out = {"old": {"revision": old.revision, "title": old.title},
               "new": {"revision": new.revision, "title": new.title},
               "items": [{**asdict(i), "quoted": list(i.quoted)} for i in items]}
        sys.stdout.write(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(render_text(items, old.revision, new.revision))
    return EXIT_OK
