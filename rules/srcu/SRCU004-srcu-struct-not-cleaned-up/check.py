"""SRCU004: an object whose srcu_struct was initialised is freed without cleanup_srcu_struct().

init_srcu_struct() allocates per-CPU counters (and, in recent kernels, the srcu_usage block) and
may have grace-period work queued; only cleanup_srcu_struct() releases them. The judge matches an
`init_srcu_struct(&v->m)` with every free of an object of the same struct type (`kfree(w)`,
`kvfree(w)`, `kfree_rcu(w, ...)`, `kmem_cache_free(c, w)`...) in any function of the file, by the
type of the local or parameter, not its name, and walks the paths to that free: a path with no
cleanup_srcu_struct(&w->m) (directly or in a file-local helper it calls) is reported. Paths where
the object was never initialised are not: the init's own error branch (init failed), and a path
that allocated the object and frees it before any init. A global srcu_struct initialised in a
module (one with a module_exit()) where nothing cleans it up is reported at the init.
"""

from __future__ import annotations

import re

from reviewbot.engine import Hit
from reviewbot.facts.balance import feasible
from reviewbot.facts.types import MEMBER, VariableTypes, member_key, split_top_level, squash

INITS = {"init_srcu_struct"}
CLEANUPS = {"cleanup_srcu_struct", "cleanup_srcu_struct_quiesced"}
# a path that waits on the srcu_struct right before freeing its object is the object's teardown
USES = {"synchronize_srcu", "synchronize_srcu_expedited", "srcu_barrier"}
# free call -> index of the freed pointer among its arguments
FREES = {"kfree": 0, "kvfree": 0, "kfree_sensitive": 0, "kzfree": 0, "vfree": 0, "kfree_rcu": 0,
         "kvfree_rcu": 0, "kfree_rcu_mightsleep": 0, "kvfree_rcu_mightsleep": 0, "kmem_cache_free": 1}
ALLOC = re.compile(r"^(?:k|kv|v|kmem_cache_|devm_k)\w*alloc\w*$|^kmemdup\w*$|^kstrdup$")


def _freed(event) -> str | None:
    index = FREES.get(event.name)
    if index is None or len(event.args) <= index:
        return None
    arg = squash(event.args[index])
    return arg if re.fullmatch(r"\w+", arg) else None


def _failed_branch(event, result: str | None) -> bool | None:
    """For a branch right after an init: True when taking it means the init failed, None when
    the branch is not about the init's result."""
    text = squash(event.name)
    if "init_srcu_struct" not in text and not (result and re.search(rf"\b{re.escape(result)}\b", text)):
        return None
    disjuncts = split_top_level(text, "||")
    if len(disjuncts) > 1:
        # `if (!fd || init_srcu_struct(&fd->s))`: taken when the object is missing or the init
        # failed; either way nothing was set up on that branch
        if any("init_srcu_struct" in d and not d.startswith("!") for d in disjuncts):
            return bool(event.taken)
        return None
    negated = text.startswith("!") or text.endswith("==0")
    return bool(event.taken) != negated


def _ref(arg: str) -> str:
    """`q->srcu` (an srcu_struct array or pointer member, as block's `q->srcu`) is `&q->srcu`."""
    text = squash(arg)
    return text if text.startswith("&") or not re.fullmatch(r"\(?\w+\)?(?:->|\.)\w+", text) else "&" + text


def _cleanup_helpers(ctx) -> dict[str, set[str]]:
    """File-local function -> the srcu members it (or a function it calls, 3 levels) cleans up."""
    facts = ctx.facts
    direct: dict[str, set[str]] = {}
    callees: dict[str, set[str]] = {}
    names = {f.name for f in facts.functions}
    for call in facts.calls:
        if call.function is None:
            continue
        if call.name in CLEANUPS and call.args:
            m = MEMBER.match(_ref(call.args[0]))
            if m:
                direct.setdefault(call.function, set()).add(m.group(3))
        elif call.name in names:
            callees.setdefault(call.function, set()).add(call.name)
    result = {f: set(ms) for f, ms in direct.items()}
    for _ in range(3):
        for fn, called in callees.items():
            for c in called:
                if result.get(c):
                    result.setdefault(fn, set()).update(result[c])
    return result


def check(ctx):
    facts = ctx.facts
    inits = [c for c in facts.calls if c.name in INITS and c.args and c.function]
    if not inits:
        return
    types = VariableTypes(ctx)
    yield from _globals(ctx, inits)
    keys: dict[tuple[str, str], object] = {}  # (struct, member) -> the first init call
    for call in inits:
        key = member_key(types, call.function, _ref(call.args[0]))
        if key is not None:
            keys.setdefault(key[:2], call)
    if not keys:
        return
    helpers = _cleanup_helpers(ctx)
    yield from _never_cleaned(ctx, types, keys)
    cleaned_somewhere: dict[tuple[str, str], set[str]] = {}  # (struct, member) -> functions
    for call in facts.calls:
        if call.name in CLEANUPS and call.args and call.function:
            key = member_key(types, call.function, _ref(call.args[0]))
            if key is not None:
                cleaned_somewhere.setdefault(key[:2], set()).add(call.function)
    for key, where in cleaned_somewhere.items():
        where.update(fn for fn, members in helpers.items() if key[1] in members)
    allocs = {(a.function, a.lines[0]): squash(a.target) for a in facts.assignments
              if a.function and ALLOC.match(a.value.split("(")[0].strip())}
    frees_in = {c.function for c in facts.calls if c.name in FREES and c.function}
    reported = set()
    for function in sorted(frees_in):
        flow = facts.flow(function)
        if flow is None:
            continue
        for path in flow.paths:
            if not feasible(path):
                continue  # `if (alloc) init(...); ... if (alloc) cleanup(...)` taken two ways
            for hit in _walk(path, function, types, keys, helpers, cleaned_somewhere, allocs):
                if (hit.line, hit.args["member"]) not in reported:
                    reported.add((hit.line, hit.args["member"]))
                    yield hit


def _walk(path, function, types, keys, helpers, cleaned_somewhere, allocs):
    cleaned: set[tuple[str, str]] = set()  # (var, member)
    cleaned_any: set[str] = set()  # members a helper cleaned (object unknown)
    # (var, member) -> [result variable, state]: "unchecked", "ok" or "failed" (its error branch)
    inited: dict[tuple[str, str], list] = {}
    allocated: set[str] = set()  # variables this path set from an allocator
    used: set[tuple[str, str]] = set()  # (var, member) this path synchronizes or waits on
    events = path.events
    for i, e in enumerate(events):
        if e.kind == "assign":
            target = squash(e.name)
            for state in inited.values():
                if state[0] == target and not _same_line(e, events, i):
                    state[0] = None  # the result variable now holds something else
            continue
        if e.kind == "branch":
            for state in inited.values():
                if state[1] == "unchecked":
                    verdict = _failed_branch(e, state[0])
                    if verdict is not None:
                        state[1] = "failed" if verdict else "ok"
            continue
        if e.kind != "call":
            continue
        if ALLOC.match(e.name) and (function, e.lines[0]) in allocs:
            allocated.add(allocs[(function, e.lines[0])])
            continue
        if e.name in INITS and e.args:
            key = member_key(types, function, _ref(e.args[0]))
            if key is not None:
                inited[(key[2], key[1])] = [_result_of(events, i), "unchecked"]
            continue
        if e.name in CLEANUPS and e.args:
            m = MEMBER.match(_ref(e.args[0]))
            if m:
                cleaned.add((m.group(1), m.group(3)))
            continue
        if e.name in USES and e.args:
            m = MEMBER.match(_ref(e.args[0]))
            if m:
                used.add((m.group(1), m.group(3)))
            continue
        if e.name in helpers:
            cleaned_any.update(helpers[e.name])
            continue
        var = _freed(e)
        if var is None:
            continue
        struct = types.struct_of(function, var)
        for (kstruct, member), init in keys.items():
            if kstruct != struct or (var, member) in cleaned or member in cleaned_any:
                continue
            state = inited.get((var, member))
            if state is not None:
                if state[1] == "failed":
                    continue  # the init's own error branch: there is nothing to clean up
            elif var in allocated:
                continue  # allocated on this path and freed before any init
            elif function in cleaned_somewhere.get((kstruct, member), ()):
                pass  # this function cleans up on other paths: this one misses it
            elif (cleaned_somewhere.get((kstruct, member)) and function != init.function
                  and (var, member) not in used):
                continue  # cleaned elsewhere (a caller, before call_rcu()...): trust it
            init_text = f"init_srcu_struct({init.args[0]})"
            where = "" if init.function == function else f" in {init.function}()"
            yield Hit(
                line=e.lines[0], end_line=e.lines[1], related=(init.lines[0],),
                args={"var": var, "member": member, "struct": kstruct, "free": e.name,
                      "init": init_text, "init_function": init.function, "where": where,
                      "cleanup": f"cleanup_srcu_struct(&{var}->{member})", "function": function},
                trace=(f"{init.lines[0]}: {init_text}{where}", f"{e.lines[0]}: {e.name}({var}) in {function}()"),
            )


def _same_line(assign, events, index: int) -> bool:
    """An assign event that stores the init's own result (it directly follows the init call)."""
    before = events[index - 1] if index else None
    return before is not None and before.kind == "call" and before.name in INITS


def _result_of(events, index: int) -> str | None:
    """The variable the init's result is assigned to (the assign event right after it)."""
    call = events[index]
    for e in events[index + 1:index + 3]:
        if e.kind == "assign" and e.lines[0] <= call.lines[0] and e.lines[1] >= call.lines[1]:
            return squash(e.name)
    return None


def _never_cleaned(ctx, types, keys):
    """A member srcu_struct the file initialises and never cleans up, in a file that tears objects
    of that type down (frees them, or has a destroy/release/free/exit/remove function taking one):
    reported at the init, since no free in the file pairs with a cleanup."""
    facts = ctx.facts
    cleaned = set()
    for call in facts.calls:
        if call.name in CLEANUPS and call.args and call.function:
            key = member_key(types, call.function, _ref(call.args[0]))
            cleaned.add(key[1] if key is not None else squash(call.args[0]))
    teardown = re.compile(r"(?:destroy|release|free|exit|remove|cleanup|fini|teardown|uninit)$")
    for (struct, member), init in keys.items():
        if member in cleaned:
            continue
        tears = [f for f in facts.functions if teardown.search(f.name)
                 and any(types.struct_type_of_param(p.type) == struct for p in f.params)]
        if not tears:
            continue
        fn = tears[0]
        yield Hit(
            line=init.lines[0], end_line=init.lines[1], related=(fn.lines[0],),
            args={"var": squash(init.args[0]), "member": member, "struct": struct, "free": fn.name,
                  "init": f"init_srcu_struct({init.args[0]})", "init_function": init.function, "where": "",
                  "cleanup": f"cleanup_srcu_struct({init.args[0]})", "function": fn.name},
            message=(f"{init.function}() sets up {struct}::{member} with init_srcu_struct({init.args[0]}), but "
                     f"nothing in this file ever calls cleanup_srcu_struct() on it, while {fn.name}() tears "
                     f"{struct} objects down: the srcu_struct's per-CPU counters and any queued grace-period "
                     f"work outlive the object. Should {fn.name}() (or the path that frees the object) call "
                     f"cleanup_srcu_struct() first?"),
            trace=(f"{init.lines[0]}: init_srcu_struct({init.args[0]}) in {init.function}()",
                   f"{fn.lines[0]}: {fn.name}() tears down {struct} with no cleanup_srcu_struct()"),
        )


def _globals(ctx, inits):
    """init_srcu_struct(&g) of a global in a module (it has a module_exit()) that never cleans g up."""
    facts = ctx.facts
    exits = [c.args[0].strip() for c in facts.calls if c.name == "module_exit" and c.function is None and c.args]
    if not exits:
        return
    for call in inits:
        arg = squash(call.args[0])
        m = re.fullmatch(r"&(\w+)", arg)
        if not m or facts.global_definition(m.group(1)) is None:
            continue
        # a cleanup anywhere in the file counts: the exit may reach it through an ops table
        if any(c.name in CLEANUPS and c.args and squash(c.args[0]) == arg for c in facts.calls):
            continue
        exit_fn = facts.function(exits[0])
        yield Hit(
            line=call.lines[0], end_line=call.lines[1],
            related=(exit_fn.lines[0],) if exit_fn is not None else (),
            message=(f"{call.function}() initialises {m.group(1)} with init_srcu_struct(), but the module's "
                     f"exit function {exits[0]}() never calls cleanup_srcu_struct({arg}): unloading the module "
                     f"leaks its per-CPU state and may leave SRCU work queued on freed module memory; "
                     f"should {exits[0]}() call cleanup_srcu_struct({arg})?"),
        )
