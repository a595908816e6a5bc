"""The engine: run every rule on every patch of a series, keep what concerns changed code, order it.

A rule's judge sees one changed file at a time (or one patch, for rules about the commit message) and
returns `Hit`s; the engine turns hits into Findings (the rule's metadata, the patch, the quoted diff
lines) and drops every hit that touches no line the patch adds: a reviewer comments on the change,
not on the code around it. A hit may name `related` lines: the lines that make it a finding (an
added srcu_read_lock whose missing unlock is at an unchanged return); it is kept when any of them
is added.
"""

from __future__ import annotations

import fnmatch
import functools
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Iterable, Mapping

from reviewbot.diff import ChangedFile
from reviewbot.finding import Finding, finding_at, quote  # noqa: F401 (quote: tests use engine.quote)
from reviewbot.models import run_models
from reviewbot.rulepack import Rule
from reviewbot.thread import Patch, Series


@dataclass(frozen=True)
class Hit:
    """What a rule's judge reports: where, and the values for the rule's message template."""

    line: int
    end_line: int | None = None
    args: Mapping[str, Any] = field(default_factory=dict)
    trace: tuple[str, ...] = ()
    related: tuple[int, ...] = ()
    file: str | None = None  # for patch-scope rules: which file the line is in
    message: str | None = None  # overrides the template when a judge must word it itself
    # lines the finding rests on (a leaking path's lines): it stands on a modified file also when the
    # patch deleted code right before one of them (a dropped unlock), though it is not reported there
    evidence: tuple[int, ...] = ()


# The facts of recently read files, by what they are built from. A patch posted again unchanged
# (the next version of a series, a resend) has the same post-images: on a list replay one file
# review in five repeats one already made. The parse under it is cached by csource the same way.
_FACTS: dict[tuple, Any] = {}
_FACTS_MAX = 64


def facts_of_unit(unit):
    """facts.facts_of(unit), shared by units of the same text, path, added lines and kind."""
    from reviewbot import facts

    key = (unit.source, unit.path, unit.added_lines, unit.complete, unit.raw)
    found = _FACTS.pop(key, None)
    if found is None:
        found = facts.facts_of(unit)
        if len(_FACTS) >= _FACTS_MAX:
            _FACTS.pop(next(iter(_FACTS)))
    _FACTS[key] = found  # most recently used last
    return found


@dataclass
class FileContext:
    """What a judge may read about one changed file. Parsing happens on first use, once."""

    patch: Patch
    file: ChangedFile
    rule: Rule | None = None
    _units: dict = field(default_factory=dict, repr=False)
    tree: str | None = None  # a kernel tree to read a modified file's pre-image from

    @property
    def path(self) -> str:
        return self.file.path

    @property
    def added_lines(self) -> frozenset[int]:
        return self.file.added_lines

    @cached_property
    def unit(self):
        """The parsed post-image (a csource CUnit)."""
        from reviewbot import csource

        key = id(self.file)
        if key not in self._units:
            self._units[key] = csource.unit_of_changed_file(self.file, self.tree)
        return self._units[key]

    @cached_property
    def facts(self):
        key = ("facts", id(self.file))
        if key not in self._units:
            self._units[key] = facts_of_unit(self.unit)
        return self._units[key]

    def shows(self, first: int, last: int) -> bool:
        """Whether the post-image is known from line first to line last: always for a new file or
        with a tree, else only inside the hunks (a gap between two hunks is unknown code)."""
        return self.unit.complete or all(n in self.file.post_image for n in range(first, last + 1))

    def mentions(self, *needles: str) -> bool:
        """Whether what the rules will read of the file contains any of `needles` (see `_mentions`):
        a judge can know it has nothing to do before it parses the file."""
        return _mentions(self, needles)

    def shared(self, key: str, make: Callable[[], Any]) -> Any:
        """make(), computed once for this file and kept for every rule and model that asks by the
        same key (they share this patch's parses): e.g. the folder's files read under --tree."""
        slot = (key, id(self.file))
        if slot not in self._units:
            self._units[slot] = make()
        return self._units[slot]

    def query_matches(self) -> list[dict]:
        """The matches of the rule's query.scm on this file: capture name -> list of nodes."""
        from reviewbot import csource

        if self.rule is None or self.rule.query_source is None:
            return []
        return csource.query_matches(self.unit, self.rule.query_source)


@dataclass
class PatchContext:
    """What a patch-scope judge may read: the patch, its commit message and its changed files."""

    patch: Patch
    files: list[FileContext]
    rule: Rule | None = None

    @property
    def commit_message(self) -> str:
        return self.patch.commit_message


@dataclass(frozen=True)
class Review:
    series: Series
    findings: tuple[Finding, ...]
    not_modelled: tuple[dict, ...] = ()
    rules: tuple[str, ...] = ()

    @property
    def unreadable(self) -> tuple[dict, ...]:
        """The patches whose diff could not be read: {"msgid", "subject", "reason"}, in order."""
        return tuple({"msgid": p.msgid, "subject": p.subject, "reason": p.unreadable}
                     for p in self.series.patches if p.unreadable)


def wants(rule: Rule, path: str) -> bool:
    return _matches(tuple(rule.files), path.rsplit("/", 1)[-1])


@functools.lru_cache(maxsize=4096)
def _matches(patterns: tuple[str, ...], name: str) -> bool:
    """Whether a file name matches one of a rule's `files` patterns (asked for every rule and file of
    every patch; a list repeats the same few names and patterns)."""
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)


# What becomes of a rule finding that a reference model refutes (it ran the code the finding is
# about, every interleaving, and saw no divergence of a kind that confirms the rule): "low" keeps it
# at confidence low, "drop" drops it. docs/design.md says why "low".
REFUTED = "low"


def run(series: Series, rules: list[Rule], tree: str | None = None, models: list = (),
        keep=None, refuted: str | None = None, parallel: bool = False) -> Review:
    """Every rule and every reference model on every patch. `keep(rule_id)` filters model
    findings by their ids (for --rules/--skip naming model finding ids); `refuted` is "low" or
    "drop" (default REFUTED): what becomes of a rule finding a model refutes. `parallel`: the
    models that speak alone run in a forked child beside the rules (reviewbot/ahead.py)."""
    findings: list[Finding] = []
    not_modelled: list[dict] = []
    explored: list[dict] = []
    order = {p.msgid: p.counter for p in series.patches}
    readable = [p for p in series.patches if not p.unreadable]
    units_of: list[dict] = [{} for _ in readable]  # parsed files, shared by the rules and the models of a patch
    alone = [m for m in models if m.has_something_to_say(set())]
    ahead = None
    if parallel and alone:
        from reviewbot.ahead import Ahead

        def alone_models(index: int, units: dict | None = None):
            out = {}
            for m in alone:
                ran: list[dict] = []
                found, missed = run_models(readable[index], [m], tree=tree, units={} if units is None else units,
                                           explored=ran)
                out[m.id] = (found, missed, ran)
            return out

        if tree is None:
            _parse_ahead(readable)  # into csource's parse cache, which the child then shares
        ahead = Ahead.start(len(readable), alone_models, lambda i: alone_models(i, units_of[i]))
    try:
        # the rules of every patch, then the models (those that speak alone may be running ahead in a
        # child meanwhile); an unreadable patch is named in Review.unreadable: nothing of it can be read
        read = []
        for patch, units in zip(readable, units_of):
            said = run_patch(patch, rules, tree, units)
            findings.extend(said)
            read.append((patch, units, said))
        confirmed: dict[tuple[int, str], tuple] = {}
        if ahead is not None:
            # the models that only confirm rule findings run here before the parent waits for the
            # child: by the time they are done, the child has mostly finished the alone ones
            for index, (patch, units, said) in enumerate(read):
                for m in models:
                    if m not in alone and m.has_something_to_say({f.rule for f in said}):
                        ran: list[dict] = []
                        confirmed[index, m.id] = (*run_models(patch, [m], tree=tree, units=units, explored=ran), ran)
            ahead.share()
        for index, (patch, units, said) in enumerate(read):
            wanted = [m for m in models if m.has_something_to_say({f.rule for f in said})]
            if wanted:
                ran: list[dict] = []
                if ahead is None:
                    found, missed = run_models(patch, wanted, tree=tree, units=units, explored=ran)
                else:  # each model's results, in the order of `models`, as one run_models() call gives them
                    found, missed = [], []
                    for m in wanted:
                        done = ahead.result(index).get(m.id) or confirmed[index, m.id]
                        ran.extend(done[2])
                        found.extend(done[0])
                        missed.extend(done[1])
                    found.sort(key=lambda f: f.sort_key())
                explored.extend({**e, "patch": patch.msgid} for e in ran)
                findings.extend(f for f in found if keep is None or keep(f.rule))
                not_modelled.extend({**m, "patch": patch.msgid} for m in missed)
    finally:
        if ahead is not None:
            ahead.close()  # the child too, when a rule raised
    findings = drop_subsumed(set(findings), models)
    findings = confirm_refute(findings, models, explored, refuted or REFUTED)
    findings = sorted(findings, key=lambda f: (order.get(f.patch, 0), *f.sort_key()))
    ids = [r.id for r in rules] + [k.id for m in models for k in m.kinds if keep is None or keep(k.id)]
    return Review(series=series, findings=tuple(findings), not_modelled=tuple(not_modelled), rules=tuple(ids))


def drop_subsumed(findings: set[Finding], models) -> list[Finding]:
    """Drop a rule's finding when a model finding that declares it `subsumes` that rule stands on
    overlapping lines of the same file of the same patch: one point, said once, with the trace."""
    subsumes = {k.id: set(k.subsumes) for m in models for k in m.kinds if k.subsumes}
    if not subsumes:
        return list(findings)
    covering = [f for f in findings if f.rule in subsumes]

    def covered(f: Finding) -> bool:
        return any(f.rule in subsumes[m.rule] and m.patch == f.patch and m.file == f.file
                   and m.line <= f.end_line and f.line <= m.end_line for m in covering)

    return [f for f in findings if not covered(f)]


def _lines(f: Finding) -> set[int]:
    return set(range(f.line, f.end_line + 1))


def confirm_refute(findings: list[Finding], models, explored: list[dict], refuted: str = "low") -> list[Finding]:
    """Rule findings against the models that run the same code (model.toml `confirms`):

    * reproduced: a model finding of a kind that confirms the rule stands on overlapping lines of
      the same file (its lines or related lines meet the rule finding's): the rule finding becomes
      confidence "high", carries the model's trace, and the model finding is not said again;
    * refuted: no such model finding, and a model ran, to the end of every interleaving, code that
      reached the rule finding's line and every related line, in a scenario whose kinds confirm
      the rule: confidence "low" (refuted="low") or dropped (refuted="drop");
    * a model finding of a kind declared `alone = false` that confirms nothing is not reported.
    """
    from dataclasses import replace

    confirms = {k.id: set(k.confirms) for m in models for k in m.kinds if k.confirms}
    if not confirms:
        return findings
    silent_alone = {k.id for m in models for k in m.kinds if not k.alone}
    confirmable = set().union(*confirms.values())
    by_place: dict[tuple, list[Finding]] = {}
    for f in findings:
        if f.rule in confirms:
            by_place.setdefault((f.patch, f.file), []).append(f)
    out: list[Finding] = []
    said: set[Finding] = set()
    pending: list[Finding] = []
    for f in findings:
        if f.rule not in confirmable:
            pending.append(f)
            continue
        mine = _lines(f) | set(f.related)
        match = next((m for m in by_place.get((f.patch, f.file), ()) if f.rule in confirms[m.rule]
                      and (_lines(m) | set(m.related)) & mine), None)
        if match is not None:
            said.add(match)
            out.append(replace(f, confidence="high", trace=match.trace,
                               extra=f.extra + (("confirmed_by", match.rule),)))
            continue
        ran = [e for e in explored if e.get("patch") == f.patch and e.get("file") == f.file
               and f.rule in e.get("rules", ()) and {f.line, *f.related} <= set(e.get("lines", ()))]
        if ran:
            if refuted == "drop":
                continue
            out.append(replace(f, confidence="low", extra=f.extra + (("refuted_by", ran[0].get("what", "")),)))
            continue
        out.append(f)
    out.extend(f for f in pending if f not in said and f.rule not in silent_alone)
    return out


def _mentions(ctx: FileContext, needles: tuple[str, ...]) -> bool:
    """Whether the file's text (what the rules will read of it) contains any of `needles`: the
    post-image lines the patch shows, or with a tree the whole parsed file, and the lines the patch
    deletes (a rule about deletions has its words there: `kfree_rcu()` made `kfree()` in a file
    that mentions RCU nowhere else)."""
    key = ("text", id(ctx.file))
    text = ctx._units.get(key)
    if text is None:
        if ctx.tree is not None and not ctx.file.post_image_complete:
            text = ctx.unit.source.decode("utf-8", "replace")
        else:
            text = "\n".join(ctx.file.post_image.values())
        removed = ctx.file.removed_lines() if ctx.file.hunks and not ctx.file.post_image_complete else ()
        if removed:
            text += "\n" + "\n".join(line.text for line in removed)
        ctx._units[key] = text
    return any(n in text for n in needles)


def _parse_ahead(patches: list[Patch]) -> None:
    """Parse the C files of the patches before the models' child is forked: the rules need the
    parses anyway, and a child forked after them starts on the models at once."""
    from reviewbot import csource

    for patch in patches:
        for cf in patch.changed_files:
            if not cf.is_binary and cf.status != "deleted" and csource.is_c_path(cf.path):
                csource.unit_of_changed_file(cf)


def run_patch(patch: Patch, rules: list[Rule], tree: str | None = None, units: dict | None = None) -> list[Finding]:
    units = {} if units is None else units  # parsed files shared by every rule (and model) on this patch
    contexts = [FileContext(patch, cf, None, units, tree) for cf in patch.changed_files if not cf.is_binary]
    by_path = {c.path: c for c in contexts}
    out: list[Finding] = []
    for rule in rules:
        if rule.scope == "patch":
            wanted = [FileContext(patch, c.file, rule, units, tree) for c in contexts if wants(rule, c.path)]
            if rule.requires and not any(_mentions(c, rule.requires) for c in wanted):
                continue  # a patch-scope rule reads every file once one of them is its business
            for hit in rule.check(PatchContext(patch, wanted, rule)) or ():
                ctx = by_path.get(hit.file or "")
                if ctx is not None:
                    out.extend(_finding(rule, patch, ctx.file, hit))
            continue
        for base in contexts:
            if not wants(rule, base.path) or (rule.requires and not _mentions(base, rule.requires)):
                continue
            ctx = FileContext(patch, base.file, rule, units, tree)
            for hit in rule.check(ctx) or ():
                out.extend(_finding(rule, patch, base.file, hit))
    return out


def _finding(rule: Rule, patch: Patch, cf: ChangedFile, hit: Hit) -> Iterable[Finding]:
    message = hit.message if hit.message is not None else rule.message.format_map(_Args(hit.args))
    found = finding_at(patch, cf, rule.id, rule.severity, rule.confidence, rule.see, hit.line, hit.end_line,
                       message, hit.trace, hit.related, hit.evidence)
    return (found,) if found else ()


class _Args(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
