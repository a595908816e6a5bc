"""SRCU005: an entry removed from an SRCU-protected list is freed with no grace period of the readers' domain.

Readers of an SRCU list walk it with list_for_each_entry_srcu() (or an _rcu iterator whose lockdep
condition is srcu_read_lock_held(&d)) inside srcu_read_lock(&d). A reader may have fetched an entry
just before list_del_rcu() unlinked it, so the updater must wait for an SRCU grace period of that
same domain d (synchronize_srcu(&d), synchronize_srcu_expedited(&d), or free from call_srcu(&d, ...))
before freeing the entry. kfree_rcu() and synchronize_rcu() wait for RCU readers, and
synchronize_srcu() of another srcu_struct waits for other readers: none of them protect this list.

The entry is tied to its list by the list_head member and the entry's struct type:
`list_del_rcu(&obj->node)` removes from the heads that list_add*_rcu(&x->node, head) fills or that
an _srcu iterator walks with member `node`, for x and the iterator's cursor of obj's type.
"""

from __future__ import annotations

import re

from reviewbot.engine import Hit
from reviewbot.facts.types import MEMBER, VariableTypes, member_key, squash

DELS = {"list_del_rcu": 0, "hlist_del_rcu": 0, "hlist_del_init_rcu": 0, "list_del_init_rcu": 0,
        "list_replace_rcu": 0, "hlist_replace_rcu": 0, "hlist_nulls_del_rcu": 0, "hlist_nulls_del_init_rcu": 0}
ADDS = {"list_add_rcu", "list_add_tail_rcu", "hlist_add_head_rcu", "hlist_add_tail_rcu",
        "hlist_add_before_rcu", "hlist_add_behind_rcu", "hlist_nulls_add_head_rcu"}
FREES = {"kfree": 0, "kvfree": 0, "kfree_sensitive": 0, "kzfree": 0, "vfree": 0, "kfree_rcu": 0,
         "kvfree_rcu": 0, "kfree_rcu_mightsleep": 0, "kvfree_rcu_mightsleep": 0, "kmem_cache_free": 1}
RCU_DEFERRED = {"kfree_rcu", "kvfree_rcu", "kfree_rcu_mightsleep", "kvfree_rcu_mightsleep"}
RCU_WAITS = {"synchronize_rcu", "synchronize_rcu_expedited", "synchronize_rcu_tasks", "synchronize_net"}
WAITS = {"synchronize_srcu", "synchronize_srcu_expedited", "call_srcu"}
HELD = re.compile(r"srcu_read_lock_held\s*\(\s*([^()]+?)\s*\)")


def _key(types: VariableTypes, function: str | None, expr: str) -> str:
    """A list head or srcu_struct expression, comparable across functions: `&g` stays `&g`,
    `&v->m` becomes `struct T::m` when v's type is known."""
    text = squash(expr)
    key = member_key(types, function, text)
    return f"{key[0]}::{key[1]}" if key else text


def _entry(types: VariableTypes, function: str | None, expr: str) -> tuple[str, str | None, str] | None:
    """`&obj->node` -> (obj, struct type of obj, node)."""
    m = MEMBER.match(squash(expr))
    if not m or m.group(2) != "->":
        return None
    return m.group(1), types.struct_of(function, m.group(1)), m.group(3)


def _readers(ctx, types: VariableTypes) -> dict[tuple[str | None, str], list[dict]]:
    """(entry struct, member) -> the SRCU readers of the lists such entries sit on:
    [{head, domain (key), domain_text, function, line}]."""
    facts = ctx.facts
    heads: dict[str, list[dict]] = {}  # head key -> readers
    entries: dict[str, set[tuple[str | None, str]]] = {}  # head key -> (entry struct, member)
    for loop in facts.loops:
        if len(loop.args) < 3 or not loop.function:
            continue
        srcu_iter = loop.macro.endswith("_srcu")
        named = HELD.findall(loop.args[-1]) if len(loop.args) >= 4 else []
        if not srcu_iter and not named:
            continue
        head = _key(types, loop.function, loop.args[1])
        entries.setdefault(head, set()).add((types.struct_of(loop.function, squash(loop.args[0])),
                                             squash(loop.args[2])))
        domains = [d for d in named]
        flow = facts.flow(loop.function)
        if flow is not None:
            domains += [s.lock.key for s in flow.sections_at(loop.lines[0]) if s.lock.kind == "srcu"]
        for d in dict.fromkeys(domains):
            heads.setdefault(head, []).append({
                "head": loop.args[1].strip().lstrip("&"), "domain": _key(types, loop.function, d),
                "domain_text": squash(d), "function": loop.function, "line": loop.lines[0]})
    for call in facts.calls:
        if call.name in ADDS and len(call.args) >= 2 and call.function:
            entry = _entry(types, call.function, call.args[0])
            if entry is not None:
                entries.setdefault(_key(types, call.function, call.args[1]), set()).add(entry[1:])
    by_entry: dict[tuple[str | None, str], list[dict]] = {}
    for head, readers in heads.items():
        for entry in entries.get(head, ()):
            by_entry.setdefault(entry, []).extend(readers)
    return by_entry


def _helpers(ctx, types: VariableTypes):
    """File-local functions that free a parameter (index -> True) without waiting for any SRCU
    grace period, and the SRCU domains each function (3 levels deep) waits for."""
    facts = ctx.facts
    names = {f.name for f in facts.functions}
    waits: dict[str, set[str]] = {}
    callees: dict[str, set[str]] = {}
    frees: dict[str, set[int]] = {}
    for call in facts.calls:
        fn = call.function
        if fn is None:
            continue
        if call.name in WAITS and call.args:
            waits.setdefault(fn, set()).add(_key(types, fn, call.args[0]))
        elif call.name in names:
            callees.setdefault(fn, set()).add(call.name)
        index = FREES.get(call.name)
        if index is not None and len(call.args) > index:
            function = facts.function(fn)
            params = [p.name for p in function.params] if function else []
            arg = squash(call.args[index])
            if arg in params:
                frees.setdefault(fn, set()).add(params.index(arg))
    for _ in range(3):
        for fn, called in callees.items():
            for c in called:
                if waits.get(c):
                    waits.setdefault(fn, set()).update(waits[c])
    frees = {fn: idx for fn, idx in frees.items() if not waits.get(fn)}
    return frees, waits


def check(ctx):
    facts = ctx.facts
    dels = [c for c in facts.calls if c.name in DELS and c.args and c.function]
    if not dels:
        return
    types = VariableTypes(ctx)
    readers = _readers(ctx, types)
    if not readers:
        return
    free_helpers, wait_helpers = _helpers(ctx, types)
    reported = set()
    for function in dict.fromkeys(c.function for c in dels):
        flow = facts.flow(function)
        if flow is None:
            continue
        for path in flow.paths:
            for hit in _walk(path, function, types, readers, free_helpers, wait_helpers):
                if hit.line not in reported:
                    reported.add(hit.line)
                    yield hit


def _walk(path, function, types, readers, free_helpers, wait_helpers):
    removed: dict[str, tuple] = {}  # var -> (del event, readers of its list)
    waited: dict[str, list[str]] = {}  # var -> texts of the SRCU waits since its removal
    waited_keys: dict[str, set[str]] = {}
    for e in path.events:
        if e.kind != "call":
            continue
        if e.name in DELS and e.args:
            entry = _entry(types, function, e.args[DELS[e.name]])
            if entry is None:
                continue
            var, struct, member = entry
            found = readers.get((struct, member)) or (readers.get((None, member)) if struct is None else None)
            if found:
                removed[var] = (e, found)
                waited[var], waited_keys[var] = [], set()
            continue
        if e.name in RCU_WAITS:
            for var in removed:
                waited[var].append(f"{e.name}()")
            continue
        if e.name in WAITS and e.args:
            for var in removed:
                waited[var].append(e.args[0] if e.name != "call_srcu" else f"call_srcu({e.args[0]}, ...)")
                waited_keys[var].add(_key(types, function, e.args[0]))
            continue
        if e.name in wait_helpers:
            for var in removed:
                waited[var].append(f"what {e.name}() waits for")
                waited_keys[var].update(wait_helpers[e.name])
            continue
        freed = _freed(e, free_helpers)
        if freed is None or freed not in removed:
            continue
        del_event, found = removed.pop(freed)
        domains = {r["domain"] for r in found}
        if domains & waited_keys.pop(freed):
            continue
        yield _hit(e, freed, del_event, found, waited.pop(freed))


def _freed(event, free_helpers) -> str | None:
    index = FREES.get(event.name)
    indexes = [index] if index is not None else sorted(free_helpers.get(event.name, ()))
    for i in indexes:
        if len(event.args) > i:
            arg = squash(event.args[i])
            if re.fullmatch(r"\w+", arg):
                return arg
    return None


def _hit(event, var, del_event, readers, waits) -> Hit:
    reader = readers[0]
    domain = reader["domain_text"]
    name = domain.lstrip("&")
    free = event.name
    if free in RCU_DEFERRED:
        how = f"{free}() waits for an RCU grace period, not an SRCU one"
    elif waits:
        how = f"this path only waits for {', '.join(dict.fromkeys(w for w in waits))}"
        if all(w.endswith("()") and w[:-2] in RCU_WAITS for w in waits):
            how += ", which waits for RCU readers, not SRCU ones"
    else:
        how = "this path waits for no SRCU grace period"
    free_text = f"by {free}()" if free in FREES else f"in {free}()"
    message = (f"{var} is freed here {free_text} after {del_event.name}({del_event.args[0]}) on line "
               f"{del_event.lines[0]}, but readers walk {reader['head']} under {name} ({reader['function']}()) "
               f"and {how}: a reader that fetched {var} before the {del_event.name}() can still touch it "
               f"after it is freed. Should this wait with synchronize_srcu({domain}) (or free from "
               f"call_srcu({domain}, ...)) before {free}()?")
    return Hit(
        line=event.lines[0], end_line=event.lines[1], related=(del_event.lines[0],),
        args={"var": var, "head": reader["head"], "domain": domain, "free": free},
        trace=(f"{reader['line']}: {reader['function']}() walks {reader['head']} under srcu_read_lock({domain})",
               f"{del_event.lines[0]}: {del_event.name}({del_event.args[0]})",
               f"{event.lines[0]}: {free}({var})"),
        message=message,
    )
