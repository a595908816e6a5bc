"""RCU011: the patch deletes what made RCU readers safe, and puts nothing in its place.

The other RCU rules judge the post-image; a maintainer reads the `-` lines too. A deleted
read-side section, grace period, deferred free, late unlock or srcu cleanup was the reason the code
around it was correct, so a patch that drops one needs evidence of its replacement. This rule looks
only at what the patch removes (`ChangedFile.removals()`) and at the post-image around it:

* section removed: a read lock call among the deleted lines of a function whose post-image still
  reads (an `_rcu`/`_srcu` walk without a lockdep condition, `rcu_dereference()`, `srcu_dereference()`)
  after that point, outside any section, lock, preemption- or irq-off region, with no assertion in
  the function and no caller in the file holding the section;
* grace period removed: a `synchronize_*()` among the deleted lines, with an unpublish before it and
  a free of the same object after it that both stay, and no other wait or deferral between them;
* deferral removed: `kfree_rcu(x)`/`call_rcu(&x->...)` deleted and `x` freed directly on a line the
  patch adds in that function, with no wait before it there (the deferral is the evidence of
  readers: an sb info's are the VFS path walk, in another file);
* unlock moved up: an unlock deleted and the same unlock added above it, with a use of a pointer
  loaded in the section between the two, and no reference taken on it first;
* cleanup removed: `cleanup_srcu_struct(&d)` deleted where the file still calls init_srcu_struct()
  on the same domain, the function no longer cleans it up, and the patch adds no cleanup of it.

A new file deletes nothing, so on a new-file patch (a swept tree) the rule is silent by design.
"""

from __future__ import annotations

import re
from functools import cached_property

from reviewbot.engine import Hit
from reviewbot.facts import locks, rcu
from reviewbot.facts.types import squash

CALL = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
READS = {"rcu_dereference", "rcu_dereference_bh", "rcu_dereference_sched", "srcu_dereference",
         "srcu_dereference_notrace"}
CONSTANT = re.compile(r"^\(*\s*(?:false|true|0|1|NULL)\s*\)*$")
READER_COND = re.compile(r"\b(?:s?rcu_read_lock\w*_held|rcu_read_lock_any_held)\b")
ASSERTS = re.compile(r"^(?:lockdep_assert\w*|RCU_LOCKDEP_WARN|WARN_ON\w*|BUG_ON|rcu_lockdep_assert|"
                     r"lockdep_is_held)$")
# a call out of the file named for finding an entry (called inside the section, it returns one the
# section protects): `mpp_path_lookup_by_idx()`, `mr_mfc_find()`, `__ip_dev_find()`
LOOKUP = re.compile(r"(?:^|_)(?:find|lookup|search)(?:_|$)|_find\w*$|_lookup\w*$")
SLEEPING_LOCKS = {"mutex", "rwsem_read", "rwsem_write"}
WAITS = rcu.RCU_WAITS | rcu.SRCU_WAITS | rcu.BARRIERS
DEFERS = rcu.RCU_DEFERS | rcu.SRCU_DEFERS
UNPUBLISH = set(rcu.LIST_DELS) | set(rcu.TABLE_REMOVES) | {"rcu_replace_pointer"}
LOCKS = rcu.RCU_LOCKS | rcu.SRCU_LOCKS
UNLOCKS = rcu.RCU_UNLOCKS | rcu.SRCU_UNLOCKS
DEFERS_OF_OBJECTS = {"call_rcu", "call_rcu_hurry", "call_srcu"}
# the calls whose deletion (or move, for an unlock) this rule judges (an unlock also stays while a use moves below it)
RELEVANT = re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, LOCKS | UNLOCKS | rcu.RCU_WAITS | rcu.SRCU_WAITS
                                                      | set(rcu.DEFERRED_FREES) | DEFERS_OF_OBJECTS
                                                      | {"cleanup_srcu_struct"}), key=len, reverse=True))
                      + r")\s*\(")


def _flavour(call: str) -> str:
    return "srcu" if "srcu" in call else call.replace("unlock", "lock")


def _pins(arg: str, var: str) -> bool:
    """Whether a get's argument is the object itself (`obj`, `&obj->ref`), not an object it points
    to (`obj->net`: a reference on that one)."""
    text = squash(arg)
    return text == var or bool(re.fullmatch(rf"&\(?{re.escape(var)}\)?(?:->|\.)\w+(?:\.\w+)*", text))


def removed_calls(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """(name, args) of each call written in deleted lines, outer calls first."""
    out = []
    for m in CALL.finditer(text):
        depth, start, args, i = 0, m.end(), [], m.end()
        while i < len(text):
            ch = text[i]
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                if depth == 0:
                    args.append(text[start:i])
                    break
                depth -= 1
            elif ch == "," and depth == 0:
                args.append(text[start:i])
                start = i + 1
            i += 1
        else:
            continue  # the call goes on past the deleted lines: not a call we can read
        out.append((m.group(1), tuple(a.strip() for a in args if a.strip())))
    return out


def base_of(expr: str) -> str:
    """`&obj->node` / `(struct x *)obj` / `obj` -> `obj`: the variable an argument is about."""
    text = squash(expr)
    text = re.sub(r"^\((?:const)?(?:struct)?\w+\*+\)", "", text).lstrip("&(")
    m = re.match(r"(\w+)", text)
    return m.group(1) if m else ""


def srcu_domain(expr: str) -> str:
    """`&x->srcu` / `&d.srcu` -> "srcu"; `&my_srcu` -> "my_srcu": what an init and a cleanup share.
    Looser than RcuIndex.srcu_domain() on purpose: an array element's domain
    (`&vmd->irqs[i].srcu`) and one reached through a cursor (`*(sspp++)`) are matched by their last
    name, which is all a deleted line and the file's init can be compared by."""
    text = squash(expr).lstrip("&").strip("()")
    return re.split(r"->|\.", text)[-1]


class Change:
    """The post-image of one changed file, as this rule reads it: functions, calls, lines."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.facts = ctx.facts
        self.idx = rcu.index(ctx)
        self.cf = ctx.file
        self.text = ctx.unit.source.decode("utf-8", "replace").split("\n")

    def function_at(self, line: int):
        for fn in self.facts.functions:
            if fn.body_lines[0] <= line <= fn.body_lines[1]:
                return fn
        return None

    def shown(self, first: int, last: int) -> bool:
        return self.ctx.shows(first, last)

    def line(self, n: int) -> str:
        return self.text[n - 1] if 0 < n <= len(self.text) else ""

    def asserts(self, function: str) -> bool:
        summary = self.idx.summaries.get(function)
        if summary is not None and any(a.startswith(("must_hold:", "acquires:")) for a in summary.annotated):
            return True
        return any(c.name.startswith(("guard(", "scoped_guard")) or
                   (ASSERTS.match(c.name) and ("held" in c.text or c.name.startswith("lockdep_assert")))
                   for c in self.idx.calls_in(function))

    def callers_all_hold(self, function: str) -> bool:
        """Whether every call of the function in the file is made inside a read-side section (there,
        or up its callers' chain). A function that took its own section had callers that need it;
        while one of them holds none, the deleted section was that caller's protection."""
        sites = self.idx.call_sites.get(function, ())

        def holds(held) -> bool:
            return any(h == "rcu" or h.startswith("srcu:") for h in held)

        return bool(sites) and all(holds(site.held) or holds(self.idx.held_by_callers_chain(site.caller))
                                   for site in sites)

    def unprotected(self, flow, function: str, line: int, walk: bool) -> bool:
        """Whether nothing makes a read at `line` an RCU reader once the section is gone. A walk
        under a spinlock, or with preemption, interrupts or bottom halves off, is one
        (rcu_read_lock_any_held()); a sleeping lock makes none, and rcu_dereference() asserts
        rcu_read_lock_held() under any lock. Where the function has more paths than the flow
        follows, any lock or section taken before the line counts as one."""
        if flow.capped:
            taken = [op.kind for c in self.idx.calls_in(function) if c.lines[0] < line
                     for op in (locks.lock_op(c.name, c.args),) if op is not None and op.action == locks.ACQUIRE]
        else:
            taken = [s.lock.kind for s in flow.sections_at(line)]
        for kind in taken:
            if kind in rcu.RCU_FLAVOURS or kind == "srcu":
                return False
            if walk and kind not in SLEEPING_LOCKS:
                return False
        return True

    def frees(self, function: str, first: int, last: int):
        """(call, freed variable) of each free in function between lines first and last."""
        for c in self.idx.calls_in(function):
            if not first <= c.lines[0] <= last or not c.args:
                continue
            if c.name in rcu.FREES and len(c.args) > rcu.FREES[c.name]:
                yield c, base_of(c.args[rcu.FREES[c.name]])
            elif c.name in self.idx.summaries and self.idx.summaries[c.name].frees_params:
                for i in sorted(self.idx.summaries[c.name].frees_params):
                    if i < len(c.args):
                        yield c, base_of(c.args[i])

    def sb_info_alias(self, function: str, free, names) -> str | None:
        """The local among `names` that holds what `free` frees through a super block: `sbi` set from
        `FOO_SB(sb)` (or `sb->s_fs_info`) when the free is `kfree(sb->s_fs_info)`, the file-system
        idiom of an sb info and its accessor."""
        arg = squash(free.args[0]) if free.args else ""
        m = re.fullmatch(r"\(?(\w+)\)?->s_fs_info", arg)
        if not m:
            return None
        sb = m.group(1)
        for a in self.facts.assignments:
            if a.function != function or squash(a.target).split(" ")[-1].lstrip("*") not in names:
                continue
            value = squash(a.value)
            if value == arg or re.fullmatch(rf"\w*_(?:SB|sb|info)\(\(?{re.escape(sb)}\)?\)", value):
                return squash(a.target).split(" ")[-1].lstrip("*")
        return None

    def unpublishes_of(self, function: str, var: str, before: int):
        """The calls in function before line `before` that unpublish var's object."""
        assigned = {a.lines[0]: a for a in self.facts.assignments if a.function == function}
        sources = {squash(a.value) for a in self.facts.assignments
                   if a.function == function and squash(a.target) == var and a.lines[0] < before}
        for c in self.idx.calls_in(function):
            if c.lines[0] >= before or not c.args:
                continue
            store_null = c.name in ("rcu_assign_pointer", "RCU_INIT_POINTER") and len(c.args) > 1 and rcu.is_null(c.args[1])
            if c.name not in UNPUBLISH and not store_null:
                continue
            a = assigned.get(c.lines[0])
            if base_of(c.args[0]) == var or (a is not None and squash(a.target) == var):
                yield c
            elif (store_null or c.name == "rcu_replace_pointer") and any(squash(c.args[0]) in s for s in sources):
                yield c

    def sections(self, function: str):
        """(lock call, unlock call) of each read-side section the function opens and closes, as
        written: each unlock pairs with the last open lock of its flavour before it."""
        open_: dict[str, list] = {}
        for c in self.idx.calls_in(function):
            if c.name in LOCKS:
                open_.setdefault(_flavour(c.name), []).append(c)
            elif c.name in UNLOCKS and open_.get(_flavour(c.name)):
                yield open_[_flavour(c.name)][-1], c
                # a lone lock stays open: each of its unlocks (the error paths' too) pairs with it
                if len(open_[_flavour(c.name)]) > 1:
                    open_[_flavour(c.name)].pop()

    def loaded_in(self, function: str, first: int, last: int) -> dict:
        """var -> how it was loaded, for local pointers set between lines first and last from an RCU
        load, a lookup, a walk, or a call of this file that returns what it found by one."""
        out = {}
        for site in self.idx.read_sites:
            if site.function == function and site.var and re.fullmatch(r"\w+", site.var) and first < site.lines[0] < last:
                out[site.var] = (site.how, site.lines[0])
        finders = self.finders
        for a in self.facts.assignments:
            if a.function == function and first < a.lines[0] < last and re.fullmatch(r"\w+", a.target):
                m = re.match(r"(\w+)\s*\(", a.value.strip())
                if m and (m.group(1) in finders or (LOOKUP.search(m.group(1)) and not rcu.REF_GETS.search(m.group(1)))):
                    out.setdefault(a.target, (m.group(1), a.lines[0]))
        return out

    @cached_property
    def finders(self) -> set[str]:
        """Functions of the file that return a pointer they found under RCU (a walk's cursor, an
        rcu_dereference()'s result, a lookup's) without taking a reference: `ipmr_cache_find()`."""
        found = set()
        for site in self.idx.read_sites:
            if site.var and any(r.function == site.function and r.value and
                                re.fullmatch(rf"\(?\s*{re.escape(site.var)}\s*\)?", r.value.strip())
                                for r in self.facts.returns):
                fn = self.facts.function(site.function)
                if fn is not None and fn.return_type.endswith("*"):
                    found.add(site.function)
        return found

    def waits_between(self, function: str, first: int, last: int) -> bool:
        return any(first < c.lines[0] < last and (c.name in WAITS or c.name in DEFERS)
                   for c in self.idx.calls_in(function))


def check(ctx):
    cf = ctx.file
    if cf.post_image_complete or not cf.hunks:
        return  # a new file deletes nothing
    removals = cf.removals()
    relevant = {p for p, gone in removals.items() if any(RELEVANT.search(line.text) for line in gone)}
    unlocks = ctx.mentions("_read_unlock")  # a use may move below an unlock that stays
    if not relevant and not unlocks:
        return  # it deletes none of the calls this rule is about: no need to read the file
    change = Change(ctx)
    seen: set[int] = set()
    functions = {}
    hits = []
    for point, gone in sorted(removals.items()):
        fn = change.function_at(point)
        if fn is None:
            continue
        functions.setdefault(fn.name, fn)
        if point not in relevant:
            continue
        calls = removed_calls("\n".join(line.text for line in gone))
        hits += [*_section_removed(change, fn, point, calls, removals), *_grace_period_removed(change, fn, point, calls),
                 *_deferral_removed(change, fn, point, calls), *_cleanup_removed(change, fn, point, calls)]
    for fn in functions.values() if unlocks else ():
        hits += _unlock_moved(change, fn, removals)
    for hit in hits:
        if hit.line not in seen:
            seen.add(hit.line)
            yield hit


def _hit(point: int, line: int, message: str, trace: tuple[str, ...], related=()) -> Hit:
    """A finding from the deleted lines at `point` through `line` when they are close, else at the
    point with `line` named."""
    if point <= line <= point + 6:
        return Hit(line=point, end_line=line, message=message, trace=trace, related=tuple(related),
                   args={"what": message})
    return Hit(line=point, end_line=point, message=message, trace=trace,
               related=tuple(sorted({line, *related} - {point})), args={"what": message})


def _section_removed(change: Change, fn, point: int, calls, removals):
    locks = [name for name, _ in calls if name in LOCKS]
    if not locks:
        return
    name = fn.name
    srcu = locks[0].startswith(("srcu", "__srcu"))
    unlock_points = [p for p, gone in removals.items() if p > point and fn.body_lines[0] <= p <= fn.body_lines[1]
                     and any(n in UNLOCKS for n, _ in removed_calls("\n".join(g.text for g in gone)))]
    end = min(unlock_points) if unlock_points else fn.body_lines[1]
    if change.asserts(name) or change.callers_all_hold(name):
        return
    if any(c.name in LOCKS and c.lines[0] in change.cf.added_lines for c in change.idx.calls_in(name)):
        return  # the patch takes a section itself somewhere in the function: moved, not dropped
    flow = change.facts.flow(name)
    if flow is None:
        return
    reads = []
    for loop in change.facts.loops:
        if loop.function != name or not rcu.RCU_ITERATORS.match(loop.macro) or len(loop.args) < 3:
            continue
        cond = loop.args[3].strip() if len(loop.args) > 3 else ""
        if cond and not CONSTANT.match(cond) and not READER_COND.search(cond):
            continue  # a lockdep condition naming a lock says what protects the walk
        reads.append((loop.lines[0], f"{loop.macro}()", squash(loop.args[1])))
    for c in change.idx.calls_in(name):
        if c.name in READS and c.args:
            reads.append((c.lines[0], f"{c.name}()", squash(c.args[0])))
    for line, what, subject in sorted(reads):
        if not point <= line < end or not change.shown(fn.lines[0], line):
            continue
        if not change.unprotected(flow, name, line, walk="for_each" in what):
            continue
        lock = locks[0]
        unlock = f"{lock.replace('lock', 'unlock', 1)}()"
        message = (f"This removes the {lock}()/{unlock} around {what} on line {line}, which stays: {name}() now "
                   f"reads {subject} outside any {'SRCU' if srcu else 'RCU'} read-side section, asserts no lock, "
                   f"and no caller in this file holds one for it. An updater's grace period can end while the "
                   f"{'walk stands on an entry' if 'for_each' in what else 'pointer is in use'}, and the entry "
                   f"be freed under it. If every caller now holds the section, should {name}() say so "
                   f"(RCU_LOCKDEP_WARN(!{'srcu' if srcu else 'rcu'}_read_lock_held(...))), or should the section stay?")
        yield _hit(point, line, message, (f"{point}: {lock}() deleted by the patch",
                                          f"{line}: {what} of {subject} with no read-side section"))
        return


def _grace_period_removed(change: Change, fn, point: int, calls):
    waits = [n for n, _ in calls if n in rcu.RCU_WAITS or n in rcu.SRCU_WAITS]
    if not waits:
        return
    name = fn.name
    for free, var in change.frees(name, point, fn.body_lines[1]):
        if not var:
            continue
        unpublishes = list(change.unpublishes_of(name, var, point))
        if not unpublishes:
            continue
        last = unpublishes[-1]
        if change.waits_between(name, last.lines[0], free.lines[0]) or not change.shown(last.lines[0], free.lines[0]):
            continue
        message = (f"This removes the {waits[0]}() that stood between {last.name}() on line {last.lines[0]} and "
                   f"{free.name}() of {var} on line {free.lines[0]}, and nothing else waits in between: a "
                   f"reader that found {var} before it was unpublished can still be using it when it is "
                   f"freed. Should the grace period stay, or the free be deferred (kfree_rcu(), call_rcu())?")
        yield _hit(point, free.lines[0], message, (f"{last.lines[0]}: {last.text}", f"{point}: {waits[0]}() deleted",
                                                   f"{free.lines[0]}: {free.text}"), related=(last.lines[0],))
        return


def _deferral_removed(change: Change, fn, point: int, calls):
    deferred = {}
    for n, args in calls:
        if n in rcu.DEFERRED_FREES and args:
            deferred[base_of(args[0])] = n
        elif n in DEFERS_OF_OBJECTS - {"call_srcu"} and args:
            deferred[base_of(args[0])] = n
        elif n == "call_srcu" and len(args) > 1:
            deferred[base_of(args[1])] = n
    deferred.pop("", None)
    if not deferred:
        return
    name = fn.name
    # the direct free the patch adds in its place, anywhere in the function (a call_rcu() at the end
    # may become a kfree() where the object's other fields are freed)
    for free, var in change.frees(name, fn.body_lines[0], fn.body_lines[1]):
        if free.lines[0] not in change.cf.added_lines:
            continue
        var = var if var in deferred else change.sb_info_alias(name, free, deferred)
        if var not in deferred:
            continue
        if change.waits_between(name, fn.body_lines[0], free.lines[0]):
            continue  # a grace period before the free in this function
        unpublished = list(change.unpublishes_of(name, var, free.lines[0]))
        # The deferral itself says readers may hold the object (the author paid for a grace period);
        # an unpublish just before makes it plain.
        why = (f"it was unpublished by {unpublished[-1].name}() on line {unpublished[-1].lines[0]}, and "
               if unpublished else "")
        message = (f"This turns {deferred[var]}() of {var} into {free.name}() on line {free.lines[0]}, with no "
                   f"grace period before it in {name}(): {why}a reader that found {var} under rcu_read_lock() "
                   f"can still be using it when it is freed (the deferral was there for such readers). Should "
                   f"the free stay deferred, or what makes the grace period unnecessary now?")
        trace = (f"{point}: {deferred[var]}({var}) deleted", f"{free.lines[0]}: {free.text} at once")
        if free.lines[0] < point:  # the free the patch adds above: the finding stands on it
            yield Hit(line=free.lines[0], end_line=free.lines[0], related=(point,), message=message,
                      trace=trace, args={"what": message})
        else:
            yield _hit(point, free.lines[0], message, trace)
        return


def _unlock_moved(change: Change, fn, removals):
    """An unlock and a use of a pointer loaded in its section change order: the unlock is added above
    where a deleted unlock stood, or the use is added below the unlock where a deleted copy of it
    stood above. (A diff of a moved line may show either.)"""
    name = fn.name
    mine = {p: gone for p, gone in removals.items() if fn.body_lines[0] <= p <= fn.body_lines[1]}
    gone_unlocks = {p: n for p, gone in mine.items() for n, _ in removed_calls("\n".join(g.text for g in gone))
                    if n in UNLOCKS}
    gone_texts = [(p, squash(g.text)) for p, gone in mine.items() for g in gone if g.text.strip()]
    added = change.cf.added_lines
    for lock, unlock in change.sections(name):
        unlock_line = unlock.lines[0]
        loaded = change.loaded_in(name, lock.lines[0], unlock_line)
        for var, (how, loaded_line) in loaded.items():
            if any(rcu.REF_GETS.search(c.name) and any(_pins(arg, var) for arg in c.args)
                   for c in change.idx.calls_in(name) if loaded_line <= c.lines[0] < unlock_line):
                continue  # a reference taken on it inside the section: the object outlives it
            use_re = re.compile(rf"(?<![\w.>]){re.escape(var)}\s*(?:->|\[)|\*\s*\(?\s*{re.escape(var)}\b|"
                                rf"[(,]\s*{re.escape(var)}\s*[,)]")
            later = [p for p in gone_unlocks if p > unlock_line]
            for n in range(unlock_line + 1, min(unlock_line + 12, fn.body_lines[1])):
                text = change.line(n)
                if re.search(rf"\b{re.escape(var)}\s*=[^=]", text):
                    break  # set again: what follows is another object
                if not use_re.search(text):
                    continue
                moved_unlock = unlock_line in added and any(p > n for p in later)
                moved_use = n in added and any(p <= unlock_line and t == squash(text) for p, t in gone_texts)
                if not (moved_unlock or moved_use):
                    continue
                message = (f"This moves {unlock.name}() on line {unlock_line} "
                           f"above line {n}, which uses {var}: {var} came from {how}() on line "
                           f"{loaded_line} inside the section, and nothing holds a reference on it, so after "
                           f"the unlock a grace period can end and the object be freed before line {n} uses it. "
                           f"Should the unlock stay after the use, or a reference be taken first?")
                yield Hit(line=n, end_line=n, related=(unlock_line,), message=message, args={"what": message},
                          trace=(f"{loaded_line}: {var} = {how}()",
                                 f"{unlock_line}: {unlock.name}() (moved up)",
                                 f"{n}: {text.strip()}"))
                return


def _cleanup_removed(change: Change, fn, point: int, calls):
    domains = [srcu_domain(args[0]) for n, args in calls if n == "cleanup_srcu_struct" and args]
    if not domains:
        return
    name = fn.name
    for domain in domains:
        inits = [c for c in change.facts.calls if c.name == "init_srcu_struct" and c.args
                 and srcu_domain(c.args[0]) == domain]
        if not inits:
            continue
        cleanups = [c for c in change.facts.calls if c.name == "cleanup_srcu_struct" and c.args
                    and srcu_domain(c.args[0]) == domain]
        if any(c.function == name or c.lines[0] in change.cf.added_lines for c in cleanups):
            continue  # still cleaned up here, or the patch moves the cleanup
        if not change.shown(fn.lines[0], fn.lines[1]):
            continue
        init = inits[0]
        message = (f"This removes cleanup_srcu_struct() of {domain} from {name}(), which no longer cleans it up, "
                   f"while {init.function or 'this file'}() still sets it up with init_srcu_struct() on line "
                   f"{init.lines[0]}: the domain's per-CPU state leaks, and its delayed work can run after the "
                   f"structure is freed. Should the cleanup stay?")
        yield Hit(line=point, end_line=point, related=(init.lines[0],), message=message, args={"what": message},
                  trace=(f"{init.lines[0]}: {init.text}", f"{point}: cleanup_srcu_struct() deleted"))
        return
