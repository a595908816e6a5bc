"""RCU001: an object RCU readers can still reach is freed without a grace period.

Along each bounded path of a function (facts.flow), the judge follows the objects the function
takes out of an RCU-protected place:

* an entry unlinked with list_del_rcu()/hlist_del_rcu()/list_replace_rcu()... (`&obj->node`);
* the old value of a pointer slot: loaded (rcu_dereference_protected(), rcu_access_pointer(), a
  plain read of the slot) and then cleared or replaced with rcu_assign_pointer()/RCU_INIT_POINTER(),
  or returned by rcu_replace_pointer();
* an entry removed from an xarray/idr/radix tree (`old = xa_erase(...)`) that the file looks up
  under rcu_read_lock().

It reports a free of such an object (kfree(), kvfree(), kmem_cache_free(), or a file-local
function that frees its argument) when no grace period of the readers' flavour separates the
unpublish from the free on that path: synchronize_rcu()/synchronize_net() (or a file-local function
that waits), synchronize_srcu(&d) for SRCU readers of domain d. kfree_rcu(), call_rcu() and
call_srcu() of the object itself retire it correctly. It also reports the other order: an object
loaded from a slot and freed while the slot still points to it, the slot being cleared later on
the same path (readers can load it until then).

Left alone, to stay quiet on correct teardown: paths that waited for a grace period before the
unpublish (the container was unpublished first), RCU callbacks (functions handed to call_rcu()),
objects freed through a reference put, and SRCU lists (SRCU005 checks those).
"""

from __future__ import annotations

import re

from reviewbot.engine import Hit
from reviewbot.facts import rcu
from reviewbot.facts.balance import feasible
from reviewbot.facts.types import squash

LOAD = re.compile(r"^(?:\(\s*[\w\s\*]+\)\s*)?(rcu_dereference_protected|rcu_access_pointer|rcu_dereference\w*|"
                  r"srcu_dereference\w*)\s*\((.*)\)$")
WORD = re.compile(r"^\w+$")


def check(ctx):
    facts = ctx.facts
    retires = {c.function for c in facts.calls if c.function and (
        c.name in rcu.LIST_DELS or c.name in rcu.POINTER_STORES or c.name in rcu.TABLE_REMOVES)}
    if not retires:
        return
    idx = rcu.index(ctx)
    summaries = idx.summaries
    free_helpers = {name: s.frees_params for name, s in summaries.items()
                    if s.frees_params and not s.waits and name not in callbacks(idx)}
    frees = {c.function for c in facts.calls if c.function and (c.name in rcu.FREES or c.name in free_helpers)}
    reported = set()
    yield from _conditional_grace_periods(idx, reported)
    for function in sorted(retires & frees):
        if function in callbacks(idx) or _rcu_head_param(facts, function) or _documents_grace_period(ctx, function):
            continue
        flow = facts.flow(function)
        if flow is None:
            continue
        hits, handled = [], set()
        for path in flow.paths:
            if not feasible(path):
                continue
            for retire_line, var, hit in _walk(idx, function, path, free_helpers, handled):
                hits.append((retire_line, var, hit))
        for retire_line, var, hit in hits:
            # another path of the function waits for, or defers, this object after the same
            # unpublish: the immediate free is a choice the author made (a dying namespace, a
            # sentinel value), not a forgotten grace period
            if (retire_line, var) in handled or hit.line in reported:
                continue
            reported.add(hit.line)
            yield hit


def _conditional_grace_periods(idx, reported):
    """A function that removes entries from a table the file looks up under rcu_read_lock(), and
    waits for (or defers to) a grace period after the removal on some paths only: on the others the
    entry goes back to its owner with no grace period, and the lookup's rcu_read_lock() protects
    nothing. Reported at the lookups, naming the removal and the only grace period."""
    facts = idx.facts
    removers = {c.function for c in facts.calls if c.function and c.name in rcu.TABLE_REMOVES and c.args}
    for function in sorted(removers):
        flow = facts.flow(function)
        if flow is None or function in callbacks(idx):
            continue
        with_gp, without_gp = {}, {}
        assigned = _assignments_by_line(idx, function)
        for path in flow.paths:
            removed = None
            for e in path.events:
                if e.kind == "branch" and removed and removed[2]:
                    # `if (!old)`: nothing was in the table, so nothing needs a grace period
                    cond, taken = squash(e.name), bool(e.taken)
                    var = removed[2]
                    if (cond in (f"!{var}", f"{var}==NULL", f"NULL=={var}") and taken) or (cond == var and not taken):
                        removed = None
                    continue
                if e.kind != "call":
                    continue
                if e.name in rcu.TABLE_REMOVES and e.args and removed is None:
                    slot = "table:" + idx.slot(function, e.args[0])
                    if idx.readers_of(slot):
                        removed = (slot, e, assigned.get((e.lines[0], e.name)))
                elif removed and (_waits(idx, e) or e.name in rcu.DEFERRED_FREES or e.name in rcu.RCU_DEFERS):
                    with_gp.setdefault(removed[0], (removed[1], e))
                    removed = None
            if removed and path.exit in ("return", "end"):
                without_gp.setdefault(removed[0], removed[1])
        for slot, (remove, gp) in with_gp.items():
            if slot not in without_gp:
                continue
            for reader in idx.readers_of(slot):
                if reader.how not in rcu.TABLE_LOOKUPS or (reader.lines[0], "gp") in reported:
                    continue
                reported.add((reader.lines[0], "gp"))
                yield Hit(
                    line=reader.lines[0], end_line=reader.lines[1], related=(remove.lines[0], gp.lines[0]),
                    args={"var": reader.var or "the entry"},
                    message=(f"{reader.how}() finds the entry under rcu_read_lock() here, which only protects it if "
                             f"every removal waits for a grace period before the entry is freed; but "
                             f"{function}() removes it ({remove.name}() on line {remove.lines[0]}) and waits "
                             f"({gp.name}() on line {gp.lines[0]}) only on some paths: on the others the entry "
                             f"is handed back and freed with no grace period, while this reader may still hold "
                             f"it. Should every removal path defer the free, or the lookup take the table's "
                             f"lock?"),
                    trace=(f"{reader.lines[0]}: {reader.function}(): {reader.how}() under rcu_read_lock()",
                           f"{remove.lines[0]}: {function}(): {remove.name}()",
                           f"{gp.lines[0]}: {gp.name}() on one path only"),
                )


def _documents_grace_period(ctx, function: str) -> bool:
    """The comment right above the function says who provides the grace period ("caller must
    ensure the RCU grace period has already elapsed")."""
    fn = ctx.facts.function(function)
    if fn is None:
        return False
    lines = ctx.unit.source.decode("utf-8", "replace").splitlines()
    n = fn.lines[0] - 2  # 0-based index of the line above the definition
    block = []
    while n >= 0 and re.match(r"^\s*(?:/\*|\*|//)", lines[n]):
        block.append(lines[n])
        n -= 1
    text = " ".join(reversed(block))
    return bool(re.search(r"(?:caller|must|already|after)\b.*(?:grace period|synchroni[sz]e_rcu|rcu_barrier)",
                          text, re.IGNORECASE))


def callbacks(idx) -> set[str]:
    """Functions handed to call_rcu()/call_srcu()/queue_rcu_work(): they run after a grace period."""
    cached = getattr(idx, "_rcu001_callbacks", None)
    if cached is None:
        cached = set()
        for c in idx.facts.calls:
            if c.name in ("call_rcu", "call_rcu_hurry", "call_srcu", "call_rcu_tasks", "call_rcu_tasks_trace"):
                if c.args:
                    cached.add(squash(c.args[-1]).lstrip("&"))
            elif c.name in ("INIT_RCU_WORK", "init_rcu_head") and len(c.args) > 1:
                cached.add(squash(c.args[1]).lstrip("&"))
        idx._rcu001_callbacks = cached
    return cached


def _rcu_head_param(facts, function: str) -> bool:
    fn = facts.function(function)
    return fn is not None and any("rcu_head" in p.type for p in fn.params)


def _loaded_slot(idx, function: str, expr: str) -> str | None:
    """The slot an expression loads (`rcu_access_pointer(dd->map)` -> `struct hfi1_devdata::map`)."""
    m = LOAD.match(squash(expr))
    if not m:
        return None
    from reviewbot.facts.extract import split_arguments

    args = split_arguments(m.group(2))
    return idx.slot(function, args[0]) if args else None


def _walk(idx, function, path, free_helpers, handled):
    """Yield (unpublish line, var, Hit) for each free on this path that no grace period separates
    from the unpublish; add (unpublish line, var) to `handled` where one does."""
    assigned = _assignments_by_line(idx, function)
    loaded: dict[str, tuple[str, object]] = {}  # var -> (slot, load event)
    retired: dict[str, dict] = {}  # var -> {event, slot, kind, waited}
    early_free: list[tuple[str, str, object]] = []  # (var or expr, slot, free event) freed while published
    waited_before = False
    for e in path.events:
        if e.kind == "loop" and e.args:
            cursor = squash(e.args[0])
            retired.pop(cursor, None)
            loaded.pop(cursor, None)  # the iterator rebinds its cursor
            continue
        if e.kind == "assign":
            target = squash(e.name)
            for table in (retired, loaded):
                info = table.get(target)
                line = (info["event"] if table is retired else info[1]).lines[0] if info else None
                if info and line != e.lines[0]:
                    table.pop(target)
            continue
        if e.kind != "call":
            continue
        name = e.name
        # grace periods
        waits = _waits(idx, e)
        if waits:
            for var, info in retired.items():
                info["waited"] |= waits
                handled.add((info["event"].lines[0], var))
            if not retired:
                waited_before = True
            continue
        if name in rcu.BARRIERS:
            waited_before = True
            continue
        # loads from a slot (not those whose condition says no one else can reach the object)
        if name in rcu.POINTER_LOADS and e.args:
            var = assigned.get((e.lines[0], name))
            if var and not _nobody_else(e):
                loaded[var] = (idx.slot(function, e.args[0]), e)
            continue
        # unpublish
        if name in rcu.LIST_DELS and e.args:
            entry = idx.entry(function, e.args[rcu.LIST_DELS[name]])
            if entry and not waited_before and not _locked_readers_only(idx, entry[1]) and \
                    not _list_of_a_new_object(idx, function, e.args[rcu.LIST_DELS[name]]):
                retired[entry[0]] = {"event": e, "slot": entry[1], "kind": "list", "waited": set(),
                                     "what": f"{name}({e.args[0]})"}
            continue
        if name in ("rcu_assign_pointer", "RCU_INIT_POINTER") and len(e.args) >= 2:
            slot = idx.slot(function, e.args[0])
            # a slot cleared after one of its objects was freed: the free came too early
            for what, s, free_event in list(early_free):
                if s == slot:
                    early_free.remove((what, s, free_event))
                    yield free_event.lines[0], what, _hit_before(idx, function, what, slot, free_event, e)
            for var, (s, _load) in list(loaded.items()):
                if s == slot and squash(e.args[1]) != var and not waited_before:
                    retired[var] = {"event": e, "slot": slot, "kind": "pointer", "waited": set(),
                                    "what": f"{name}({e.args[0]}, {e.args[1]})"}
            continue
        if name == "rcu_replace_pointer" and e.args:
            var = assigned.get((e.lines[0], name))
            if var and not waited_before:
                retired[var] = {"event": e, "slot": idx.slot(function, e.args[0]), "kind": "pointer",
                                "waited": set(), "what": f"{name}({e.args[0]}, ...)"}
            continue
        if name in rcu.TABLE_LOOKUPS and e.args:
            var = assigned.get((e.lines[0], name))
            if var:
                loaded[var] = ("table:" + idx.slot(function, e.args[0]), e)
            continue
        if name in rcu.TABLE_REMOVES and e.args:
            var = assigned.get((e.lines[0], name))
            slot = "table:" + idx.slot(function, e.args[0])
            if waited_before or not [r for r in idx.readers_of(slot) if idx.reads_object(r)]:
                continue
            # the entry removed: the result, or (unassigned) an object whose field is the key
            # (`xa_erase(&s->idr, dev->id)`) or that was looked up in the same table
            victims = [var] if var else (
                [v for v in re.findall(r"(\w+)->", " ".join(e.args[1:]))]
                + [v for v, (s, _ev) in loaded.items() if s == slot])
            for v in dict.fromkeys(victims):
                retired[v] = {"event": e, "slot": slot, "kind": "table", "waited": set(),
                              "what": f"{name}({', '.join(e.args)})"}
            continue
        # retired the right way
        if name in rcu.DEFERRED_FREES or name in rcu.RCU_DEFERS or name in rcu.SRCU_DEFERS or _defers(e):
            for arg in e.args:
                m = re.match(r"^&?\(?(\w+)\)?(?:->|$)", squash(arg))
                if m:
                    info = retired.pop(m.group(1), None)
                    if info:
                        handled.add((info["event"].lines[0], m.group(1)))
                    loaded.pop(m.group(1), None)
            continue
        # frees
        if idx.typesafe_free(name, e.args):
            continue
        for arg in _freed_args(e, free_helpers):
            text = squash(arg)
            if WORD.match(text) and text in retired:
                info = retired.pop(text)
                if _enough(idx, info):
                    continue
                yield info["event"].lines[0], text, _hit_after(idx, function, text, info, e)
            elif WORD.match(text) and text in loaded:
                early_free.append((text, loaded[text][0], e))
            else:
                slot = _loaded_slot(idx, function, text)
                if slot:
                    early_free.append((text, slot, e))


def _locked_readers_only(idx, slot: str) -> bool:
    """The file walks or loads the list, and every such reader holds a lock other than RCU (its
    own, or one each caller holds): no lockless reader here shows the list is read under the
    updater's lock, and `_rcu` in its primitives is not a promise to readers elsewhere."""
    sites = idx.readers_of(slot, protected=False)
    return bool(sites) and all(s.protection == "lock" or s.protection == "lockdep" and
                               not _called_in_a_section(idx, s.function) for s in sites)


def _called_in_a_section(idx, function: str) -> bool:
    """A call of the function in this file is made inside an RCU read-side section: its walk
    under `lockdep_is_held(&lock)` (RCU or the lock, as list_for_each_entry_rcu() allows) is then
    an RCU reader too (find_snap_client(), called by snap_rcv() under rcu_read_lock())."""
    return any("rcu" in site.held for site in idx.call_sites.get(function, ()))  # rcu.lock_key


ALLOCATES = re.compile(r"alloc|create|_new$|^new_|kzalloc|kmalloc|kmemdup")


def _list_of_a_new_object(idx, function: str, entry_arg: str) -> bool:
    """The entry was added, in this function, to a list inside an object this function allocated
    (`clt = alloc_clt(..); ... list_add_tail_rcu(&path->entry, &clt->paths_list)`): until the
    function hands that object out, no reader can walk its list (an error path of a constructor)."""
    entry = squash(entry_arg)
    for c in idx.calls_in(function):
        if c.name in rcu.LIST_ADDS and len(c.args) > 1 and squash(c.args[0]) == entry:
            m = re.match(r"^&\(?(\w+)\)?->", squash(c.args[1]))
            if m and any(a.function == function and squash(a.target) == m.group(1) and
                         re.match(r"^(?:\([^()]*\)\s*)?(\w+)\s*\(", squash(a.value)) and
                         ALLOCATES.search(re.match(r"^(?:\([^()]*\)\s*)?(\w+)", squash(a.value)).group(1))
                         for a in idx.facts.assignments):
                return True
    return False


def _nobody_else(load) -> bool:
    """rcu_dereference_protected(p, 1) / rcu_dereference_raw(p): the author asserts that nothing
    else can reach the object any more (a teardown)."""
    if load.name.startswith("rcu_dereference_raw"):
        return True
    return load.name == "rcu_dereference_protected" and len(load.args) > 1 and \
        bool(re.fullmatch(r"\(*\s*(?:1|true)\s*\)*", squash(load.args[1])))


def _defers(e) -> bool:
    """A call that hands an object's rcu_head or rcu_work to a deferral (tcf_queue_work(&f->rwork,
    ...), queue_rcu_work(wq, &x->rwork))."""
    return any(re.search(r"->(?:\w*rcu\w*|rwork)$", squash(a)) for a in e.args) and \
        bool(re.search(r"queue|rcu|defer", e.name))


def _assignments_by_line(idx, function):
    """(line, called function) -> the variable the call's result is assigned to."""
    cache = getattr(idx, "_rcu001_assigned", None)
    if cache is None:
        cache = idx._rcu001_assigned = {}
    if function not in cache:
        out = {}
        for a in idx.facts.assignments:
            if a.function != function or not WORD.match(squash(a.target)):
                continue
            m = re.match(r"^(?:\(\s*[\w\s\*]+\)\s*)?(\w+)\s*\(", a.value)
            if m:
                out[(a.lines[0], m.group(1))] = squash(a.target)
                out.setdefault((a.lines[1], m.group(1)), squash(a.target))
        cache[function] = out
    return cache[function]


def _waits(idx, e) -> set[str]:
    if e.name in rcu.RCU_WAITS:
        return {"rcu"}
    if e.name in rcu.SRCU_WAITS and e.args:
        return {"srcu:" + idx.slot(None, e.args[0])}
    s = idx.summaries.get(e.name)
    if s is not None and s.waits:
        return set(s.waits)
    return set()


def _enough(idx, info) -> bool:
    """Whether the grace periods seen since the unpublish cover the slot's readers (any grace
    period does when the readers are not in this file)."""
    if not info["waited"]:
        return False
    readers = idx.readers_of(info["slot"])
    if not readers:
        return True
    needed = {(r.protection or "rcu") for r in readers} or {"rcu"}
    if any(n.startswith("srcu") for n in needed):
        if needed == {"srcu"} or any(w.startswith("srcu") for w in info["waited"]):
            return True
    return "rcu" in info["waited"] or not any(n == "rcu" for n in needed)


def _freed_args(e, free_helpers) -> list[str]:
    index = rcu.FREES.get(e.name)
    if index is not None:
        return [e.args[index]] if len(e.args) > index else []
    return [e.args[i] for i in sorted(free_helpers.get(e.name, ())) if len(e.args) > i]


def _reader_text(idx, slot: str) -> str:
    readers = idx.readers_of(slot)
    if not readers:
        return ""
    r = readers[0]
    return f" {r.function}() reads it under {'rcu_read_lock()' if r.protection == 'rcu' else r.protection} " \
           f"(line {r.lines[0]}), and"


def _hit_after(idx, function, var, info, free_event) -> Hit:
    unpublish = info["event"]
    free = free_event.name
    readers = _reader_text(idx, info["slot"])
    if info["kind"] == "list":
        reach = f"a reader that fetched {var} from the list"
    elif info["kind"] == "table":
        reach = f"a reader that looked {var} up"
    else:
        reach = "a reader that loaded the old pointer"
    message = (f"{var} is freed here by {free}() right after {info['what']} on line {unpublish.lines[0]}, "
               f"with no grace period in between:{readers} {reach} just before the unpublish may still be "
               f"using it. "
               f"Should this be kfree_rcu()/call_rcu(), or wait with synchronize_rcu() before {free}()?")
    return Hit(line=free_event.lines[0], end_line=free_event.lines[1], related=(unpublish.lines[0],),
               message=message, args={"var": var},
               trace=_trace(idx, info["slot"], [(unpublish, info["what"]), (free_event, f"{free}({var})")]))


def _hit_before(idx, function, what, slot, free_event, clear_event) -> Hit:
    readers = _reader_text(idx, slot)
    message = (f"{what} is freed here while {clear_event.args[0]} still points to it: the slot is only "
               f"cleared on line {clear_event.lines[0]} ({clear_event.name}()), so until then{readers or ''} "
               f"a reader can load the freed object. Should the slot be cleared, and a grace period "
               f"waited for, before the free?")
    return Hit(line=free_event.lines[0], end_line=free_event.lines[1], related=(clear_event.lines[0],),
               message=message, args={"var": what},
               trace=_trace(idx, slot, [(free_event, f"{free_event.name}({what})"),
                                        (clear_event, f"{clear_event.name}({', '.join(clear_event.args)})")]))


def _trace(idx, slot, steps) -> tuple[str, ...]:
    out = []
    readers = idx.readers_of(slot)
    if readers:
        r = readers[0]
        out.append(f"{r.lines[0]}: {r.function}() loads {slot} ({r.how})")
    out += [f"{e.lines[0]}: {text}" for e, text in steps]
    return tuple(out)
