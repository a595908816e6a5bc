"""RCU002: a pointer found inside a read-side section is used after the section ends.

Along each bounded path of a function that opens and closes a read-side section (rcu_read_lock()
and its flavours, or srcu_read_lock()), the judge follows the pointers the section hands out:

* `p = rcu_dereference*(...)` / `srcu_dereference(...)`;
* `p = xa_load(...)`, `idr_find()`, `radix_tree_lookup()` and other lookups (`*_find*`, `*lookup*`,
  `get_*_by_*`, `*_rcu()` calls, or a function of the file that returns an rcu_dereference());
* the cursor of a list_for_each_entry_rcu()/_srcu() walk, and `found = cursor` copies of it.

After the matching unlock, the first use of such a pointer (dereferenced, passed to a call,
returned) is reported, unless something keeps the object alive: a reference taken inside the
section (kref_get(), refcount_inc_not_zero(), get_*(), *_hold(), *_tryget(), ...), a lock of the
object taken inside the section (spin_lock(&p->lock): the lock-then-revalidate idiom), or the
pointer being loaded again. Comparisons and NULL tests are not uses.

It also reports a walk that drops the section and takes it again inside the loop body
(`rcu_read_unlock(); ...; rcu_read_lock();` inside list_for_each_entry_rcu()): the iterator then
steps from a cursor that may have been freed meanwhile, unless the cursor was pinned first.
"""

from __future__ import annotations

import functools
import re

from reviewbot.engine import Hit
from reviewbot.facts import rcu
from reviewbot.facts.balance import feasible
from reviewbot.facts.types import squash

OPENS = rcu.RCU_LOCKS | rcu.SRCU_LOCKS
CLOSES = rcu.RCU_UNLOCKS | rcu.SRCU_UNLOCKS
LOOKUP = re.compile(r"(?:^|_)(?:find|lookup|search)(?:_|$)|_by_|_rcu$|^rcu_dereference|^srcu_dereference")
# reference grabs: the name ends in one of these (css_tryget(), get_task_struct(), dev_hold(), ...)
REF = re.compile(r"(?:^|_)(?:get|hold|grab|tryget|tryget_live|get_unless_zero|inc_not_zero|inc|pin|ref|getref)"
                 r"(?:_rcu)?$|^(?:kref_get|refcount_inc|atomic_inc|atomic_long_inc|percpu_ref_tryget|css_tryget|get_|"
                 r"try_module_get|kobject_get|dget|igrab|mmget|sock_hold|dev_hold|netdev_hold|in_dev_hold)")
# reference grabs named by a verb and the object (pnfs_get_layout_hdr(), i915_active_acquire_if_busy(),
# nvmet_fc_tgt_a_get()): counted only when handed the object itself or one of its members by address
REF_NAMED = re.compile(r"(?:^|_)(?:get|grab|hold|pin|tryget|acquire)(?:_(?!.*(?:_by_|first|next|last|prev|drvdata|"
                       r"data|priv|name|size|len|count|flags|id|state|info|type)(?:_|$))\w+)?$")
LOCKS = re.compile(r"^(?:spin_lock|raw_spin_lock|mutex_lock|read_lock|write_lock|down_read|down_write)\w*$")
WORD = re.compile(r"^\w+$")


def check(ctx):
    facts = ctx.facts
    functions = {c.function for c in facts.calls if c.function and c.name in CLOSES}
    if not functions:
        return
    idx = rcu.index(ctx)
    returns_protected = _returns_protected(idx)
    _SOURCE["lines"] = ctx.unit.source.decode("utf-8", "replace").splitlines()
    reported = set()
    for function in sorted(functions):
        flow = facts.flow(function)
        if flow is None:
            continue
        # a lock every caller in the file holds, or one the function asserts (lockdep_assert_held()),
        # is held across the whole body: often the update side's, which keeps the object alive
        if _held_throughout(idx, function):
            continue
        assigned = _assigned(facts, function)
        called = {c.name for c in idx.calls_in(function)}
        spans = {loop.lines[0]: loop.lines for loop in facts.loops if loop.function == function}
        for path in flow.paths:
            if not feasible(path):  # `found = true` only after the reference was taken
                continue
            for hit in _walk(path, assigned, returns_protected, spans, idx, called):
                # Reported only for objects this file itself retires through RCU (kfree_rcu(),
                # call_rcu(), list_del_rcu()): then its own updater relies on readers staying in
                # their section. Elsewhere the object may be kept alive by a lock the caller holds
                # or a reference taken out of sight, which this view cannot tell from a bug.
                if not hit.args.get("explicit") and not hit.args.get("late_ref") and \
                        idx.types.struct_of(function, hit.args["var"]) not in idx.rcu_retired_types:
                    continue
                if hit.line not in reported:
                    reported.add(hit.line)
                    yield hit


def _held_throughout(idx, function: str) -> bool:
    if any(c.name.startswith("lockdep_assert_held") or c.name in ("might_lock", "__must_hold")
           for c in idx.calls_in(function)):
        return True
    return any(not key.startswith(("rcu", "srcu:", "preempt", "irq")) for key in idx.held_by_callers_chain(function))


def _assigned(facts, function: str) -> dict[int, list[tuple[str, str]]]:
    """line -> [(variable, value)] for the plain variables set on that line."""
    out: dict[int, list[tuple[str, str]]] = {}
    for a in facts.assignments:
        if a.function == function and WORD.match(squash(a.target)) and a.operator in ("=", "init"):
            out.setdefault(a.lines[0], []).append((squash(a.target), squash(a.value)))
    return out


def _returns_protected(idx) -> set[str]:
    """Functions of the file that return a pointer loaded with rcu_dereference*()."""
    out = set()
    for r in idx.facts.returns:
        if r.function and r.value and re.match(r"^(?:rcu|srcu)_dereference\w*\(", squash(r.value)):
            out.add(r.function)
    for site in idx.read_sites:
        if site.var and any(r.function == site.function and r.value and squash(r.value) == site.var
                            for r in idx.facts.returns):
            out.add(site.function)
    return out


def _callee(value: str) -> str | None:
    """The function whose result the value is, as a whole (`(T *)f(a, b)`); None for a field read
    through it (`f(a)->size` copies a value, not the pointer) or any other expression."""
    m = re.match(r"^(?:\(\s*[\w\s\*]+\)\s*)?(\w+)\s*\(", value)
    if not m:
        return None
    depth = 0
    for i in range(m.end() - 1, len(value)):
        depth += (value[i] == "(") - (value[i] == ")")
        if depth == 0:
            return m.group(1) if not value[i + 1:].strip() else None
    return None


def _uses(text: str, var: str) -> bool:
    """Whether an expression dereferences var or hands it on (not a comparison or NULL test). A
    store through it as a whole (`*rdev = x`, an out-parameter of the same name) is not a read, nor
    is `sizeof(*p)` or an address compared (`&pos->member == head`, the end of a list walk)."""
    if var not in text or re.match(rf"^\*\s*{re.escape(var)}\s*=[^=]", text):
        return False
    if "sizeof" in text or "&" in text:
        text = _NOT_LOADED.sub("", text)
        text = _patterns(var)[2].sub("", text)
    return bool(_patterns(var)[0].search(text))


_NOT_LOADED = re.compile(r"\b(?:sizeof|typeof|__typeof__|offsetof)\s*\((?:[^()]|\([^()]*\))*\)")


def _hands(args, var: str) -> bool:
    """The call is handed the object itself, or a member of it by address (`&tl->active`)."""
    for a in args:
        a = squash(a)
        if a == var or a.startswith((f"&{var}->", f"&({var})->")):
            return True
    return False


_VERB = re.compile(r"(?:^|_)(get|grab|hold|pin|tryget|acquire)(?:_|$)")
_DROP = re.compile(r"put|release|unpin|drop|unhold|unref")


def _released_here(name: str, called) -> bool:
    """The function also drops what `name` took: a call named like it with the verb turned
    (pnfs_get_layout_hdr/pnfs_put_layout_hdr, i915_active_acquire_if_busy/i915_active_release),
    the evidence that `name` takes a reference and is not a getter (port_get_speed())."""
    m = None
    for m in _VERB.finditer(name):
        pass
    if m is None:
        return False
    prefix = name[: m.start(1)]
    return any(c.startswith(prefix) and _DROP.search(c[len(prefix):]) for c in called if c != name)


def _owner(value: str) -> str | None:
    """The object an RCU pointer is loaded from: `ulp` in rcu_dereference(ulp->ulp_ops)."""
    m = re.match(r"^\w+\(\s*&?\(?(\w+)\)?->\w+\s*[,)]", value)
    return m.group(1) if m else None


def _pin_by_identity(cond: str, found: dict) -> None:
    """`if (pos == f.file->private_data)`: the object found is one the function already holds by
    another way (its own reference, a file it has open), so what keeps that alive keeps it alive."""
    cond = squash(cond)
    for var, info in found.items():
        m = re.fullmatch(rf"\(?{re.escape(var)}\)?\s*==\s*(.+)|(.+?)\s*==\s*\(?{re.escape(var)}\)?", cond)
        if not m:
            continue
        other = (m.group(1) or m.group(2)).strip()
        if other and not re.fullmatch(r"\(*(?:NULL|0|\w+\s*\(.*)\)*", other) and \
                not any(_mentions(other, v) for v in found):
            info["pinned"] = True


def _only_compares(idx, callee: str, positions: list[int]) -> bool:
    """A function of this file whose parameter at each position is only compared or tested, never
    dereferenced or handed on (auditd_reset(ac) checks `ac != ac_old` under its lock)."""
    if not positions or callee not in idx.names:
        return False
    fn = idx.facts.function(callee)
    params = [q.name or "" for q in fn.params] if fn is not None else []
    calls = idx.calls_in(callee)
    for i in positions:
        if i >= len(params) or not params[i]:
            return False
        name = params[i]
        body = [a for a in idx.facts.assignments if a.function == callee]
        if any(_passes(c.args, name) or squash(c.name) == name for c in calls):
            return False
        if any(_uses(squash(a.value), name) or _mentions(squash(a.target), name) for a in body):
            return False
        if any(r.function == callee and r.value and _uses(squash(r.value), name) for r in idx.facts.returns):
            return False
        if any(c.function == callee and _uses(squash(c.text), name) for c in idx.facts.conditions):
            return False
    return True


def _passes(args, var: str) -> bool:
    pattern = _patterns(var)[1]
    for a in args:
        a = squash(a)
        if a == var or (var in a and pattern.match(a)):
            return True
    return False


@functools.lru_cache(maxsize=4096)
def _patterns(var: str):
    v = re.escape(var)
    return (re.compile(rf"(?<![\w.>]){v}\s*(?:->|\[)|\*\s*\(?\s*{v}(?!\w)"),
            re.compile(rf"^&?\(?{v}\)?(?:->|\.|\[)"),
            re.compile(rf"&\s*{v}\s*->\s*\w+(?=\s*[!=]=)|(?<=[!=]=)\s*&\s*{v}\s*->\s*\w+(?!\s*(?:->|\.|\[))"))


SAFE_NOTE = re.compile(r"\bsafe\b|go away|be freed|still valid|keeps? \w+ alive|stays? alive|pinned|outside (?:of )?(?:the )?rcu|"
                       r"(?:rcu|lock\w*) is not (?:necessary|needed)|(?:requires?|needs?) (?:the )?rcu(?: read)?[ -]lock",
                       re.IGNORECASE)
_SOURCE: dict = {}


def _documented_safe(unlock, above_only: bool = False) -> bool:
    """The comment right above the unlock says why dropping the section is safe here ("the device
    cannot go away", "accessing the CQ outside of rcu_read_lock is safe"), or the one above the
    lock says the section is there only for the lookup ("the RCU locking is not necessary",
    "we use a function that requires RCU lock")."""
    lines = _SOURCE.get("lines") or []
    n = unlock.lines[0] - 2
    block = []
    while n >= 0 and len(block) < 12 and re.match(r"^\s*(?:/\*|\*|//)", lines[n]):
        block.append(lines[n])
        n -= 1
    if above_only:
        return bool(SAFE_NOTE.search(" ".join(block)))
    after = []
    n = unlock.lines[0]
    while n < len(lines) and len(after) < 12 and (re.match(r"^\s*(?:/\*|\*|//)", lines[n]) or not lines[n].strip()):
        after.append(lines[n])
        n += 1
    return bool(SAFE_NOTE.search(" ".join(block + after)))


def _walk(path, assigned, returns_protected, loop_spans=None, idx=None, called=frozenset()):
    loop_spans = loop_spans or {}
    depth = 0  # open read-side sections
    found: dict[str, dict] = {}  # var -> {line, how, section (lock event), pinned}
    stale: dict[str, dict] = {}  # var -> its info, after the section that found it ended
    loops: list[dict] = []  # open _rcu walks: {cursor, event, dropped (unlock event or None)}
    other_locks: list = []  # spinlocks, mutexes... held now: they may be what keeps the object alive
    section_lines: set[int] = set()  # lines of the calls made in the current section
    opened = None  # the lock call of the current section
    walks: list[dict] = []  # every open loop, innermost last: whether the path broke out of it
    for e in path.events:
        if e.lock is not None and e.lock.kind not in rcu.RCU_FLAVOURS | {"srcu", "preempt", "irq"}:
            if e.lock.action == "acquire":
                other_locks.append(e.lock)
            else:
                for i in range(len(other_locks) - 1, -1, -1):
                    if other_locks[i].matches(e.lock):
                        del other_locks[i]
                        break
        if e.kind == "loop":
            walks.append({"lines": e.lines, "broke": False})
            if e.args:
                stale.pop(squash(e.args[0]), None)  # the iterator rebinds its cursor
            if rcu.RCU_ITERATORS.match(e.name) and e.args and depth:
                cursor = squash(e.args[0])
                found[cursor] = {"line": e.lines[0], "how": f"{e.name}()", "pinned": False, "section": None,
                                 "span": loop_spans.get(e.lines[0], e.lines)}
                loops.append({"cursor": cursor, "event": e, "dropped": None,
                              "span": loop_spans.get(e.lines[0], e.lines)})
            continue
        if e.kind == "break":
            if walks:
                walks[-1]["broke"] = True
            continue
        if e.kind == "loop_exit":
            walk = walks.pop() if walks else None
            if loops and loops[-1]["event"].lines == e.lines:
                loop = loops.pop()
                if walk is not None and not walk["broke"]:
                    # the walk ran to its end: the cursor now stands for the list head, not an entry
                    found.pop(loop["cursor"], None)
                    stale.pop(loop["cursor"], None)
            continue
        if e.kind == "assign":
            var = squash(e.name)
            for v, info in list(stale.items()):  # `x = p->field;`, `p->count++;`
                if _uses(e.text, v) and _reportable(info, other_locks):
                    yield from _use(stale, v, info, e)
            stale.pop(var, None)
            found.pop(var, None)
            if depth:
                for target, value in assigned.get(e.lines[0], ()):
                    if target != var:
                        continue
                    callee = _callee(value)
                    if callee and callee in rcu.READER_LOADS:
                        # rcu_dereference() says it in so many words: the object lives by the section
                        found[var] = {"line": e.lines[0], "how": f"{callee}()", "pinned": False, "section": None,
                                      "explicit": True, "owner": _owner(value)}
                    elif callee and (callee in rcu.TABLE_LOOKUPS or callee in returns_protected):
                        found[var] = {"line": e.lines[0], "how": f"{callee}()", "pinned": False, "section": None}
                    elif callee and LOOKUP.search(callee) and not REF.search(callee):
                        # known by its name only: many such lookups take a reference or rely on a lock
                        # the caller holds; trusted when the section was opened just for the lookup
                        found[var] = {"line": e.lines[0], "how": f"{callee}()", "pinned": False, "section": None,
                                      "by_name": True}
                    elif WORD.match(value) and value in found:
                        found[var] = dict(found[value])  # `found = cursor;`
                    elif callee and REF.search(callee) and _passes_text(value, found):
                        for v in found:
                            if _mentions(value, v):
                                found[v]["pinned"] = True
            continue
        if e.kind == "return":
            # returning the pointer itself hands it to a caller that may hold what protects it; only a
            # dereference in the return is a use here
            for var, info in list(stale.items()):
                if _uses(e.text, var) and _reportable(info, other_locks):
                    yield from _use(stale, var, info, e)
            continue
        if e.kind == "branch":
            if depth and e.taken:
                _pin_by_identity(e.name, found)
            for var, info in list(stale.items()):
                if _uses(e.name, var) and _reportable(info, other_locks):
                    yield from _use(stale, var, info, e)
            continue
        if e.kind != "call":
            continue
        if e.name in OPENS:
            depth += 1
            section_lines = set()
            opened = e
            # taken again before the walk (`goto restart`): the walk starts over from the head
            loops[:] = [loop for loop in loops if loop["span"][0] <= e.lines[0] <= loop["span"][1]]
            for loop in loops:
                if loop["dropped"] is not None:
                    if not loop.get("pinned"):
                        yield _hit_retake(loop, e)
                    loop["dropped"] = None
            continue
        if e.name in CLOSES:
            depth = max(0, depth - 1)
            if depth == 0 and (_documented_safe(e) or (opened is not None and _documented_safe(opened, above_only=True))):
                found.clear()
                loops.clear()
                continue
            if depth == 0:
                for loop in loops:
                    loop["dropped"] = e
                    loop["pinned"] = found.get(loop["cursor"], {}).get("pinned", False)
                for var, info in found.items():
                    # The section was opened for this lookup alone: the author treats the object as
                    # RCU-protected and still drops the protection before using it. A longer section
                    # that ends before a use is often the reader part of an updater that holds the
                    # writer's lock (taken by its caller), which this view cannot see.
                    span = info.get("span") or (info["line"], info["line"])
                    alone = all(span[0] <= n <= span[1] for n in section_lines)
                    # or the section ends inside the walk that found the cursor: `found it, unlock,
                    # use it`, the section plainly covered the walk and the use is left outside
                    inside_walk = info.get("span") is not None and span[0] < e.lines[0] <= span[1]
                    if not info["pinned"] and (alone or inside_walk or info.get("explicit")):
                        stale[var] = dict(info, unlock=e)
                found.clear()
            continue
        if depth:
            section_lines.add(e.lines[0])
        # a use after the section ended
        for var, info in list(stale.items()):
            if not (_passes(e.args, var) or _uses(e.text, var)):
                continue
            if RETIRES.search(e.name) or e.name in rcu.POINTER_STORES or e.name in rcu.LIST_DELS:
                stale.pop(var)  # this function retires or releases it: it is the updater, or it owns a reference
                continue
            if LOCKS.match(e.name) and _passes(e.args, var) and info.get("by_name"):
                # taking a lock inside the object after the section: whoever frees it takes that lock
                # too, so the object must outlive the section; nothing keeps it alive here
                yield _hit_use(var, info, info.get("first_use") or e, explicit=True)
                stale.pop(var)
                continue
            if PRINTS.match(e.name) and not _uses(e.text.replace(e.name, "", 1), var) or "typeof" in e.text \
                    or not _reportable(info, other_locks):
                continue  # a print of the pointer's value is no access (a BUG_ON(p->x) or a print of p->name is)
            if idx is not None and not _uses(e.text.replace(e.name, "", 1), var) and \
                    _only_compares(idx, e.name, [i for i, a in enumerate(e.args) if squash(a) == var]):
                continue  # a function of the file that only compares the pointer it is handed
            if REF.search(e.name) and _passes(e.args, var) and not info.get("by_name"):
                # a reference taken only now, after the section: the code itself says the object
                # lives by its count, and nothing kept it alive between the unlock and the get
                yield _hit_use(var, info, e, late_ref=True)
                stale.pop(var, None)
                continue
            yield from _use(stale, var, info, e)
        # pinned inside the section: a reference, or the object's own lock
        if depth:
            for var, info in found.items():
                if (REF.search(e.name) or LOCKS.match(e.name)) and _passes(e.args, var):
                    info["pinned"] = True
                elif REF_NAMED.search(e.name) and _hands(e.args, var) and _released_here(e.name, called):
                    info["pinned"] = True
                elif e.name in rcu.LIST_DELS and _hands(e.args, var):
                    # unlinked by this function inside the section (claimed under the update-side
                    # lock): it is now the owner, and whoever else finds it no longer can
                    info["pinned"] = True
                elif info.get("owner") and (REF.search(e.name) or REF_NAMED.search(e.name)) and \
                        _hands(e.args, info["owner"]) and _released_here(e.name, called):
                    # a reference on the object the pointer was loaded from: its unregistration
                    # waits for that reference before it retires what the slot points to
                    info["pinned"] = True


# calls that free, defer, unpublish or drop a reference: after the section, a function that does
# one of these to the object is its updater or owns a reference, not a reader that kept a pointer
RETIRES = re.compile(r"free|release|destroy|_put$|^put_|_put_|unregister|_rcu$|^rcu_|kfree|call_rcu")

# calls that only print or trace a pointer's value
PRINTS = re.compile(r"^(?:pr_\w+|\w*printk\w*|ASSERT\w*|\w+_ASSERT\w*|assert|dev_(?:dbg|info|warn|err|notice)\w*|netdev_\w+|trace_\w+|\w+_dbg|"
                    r"\w+_debug|WARN\w*|BUG_ON|seq_printf|snprintf|sprintf|scnprintf)$")


def _reportable(info, other_locks) -> bool:
    """A use is reported when no other lock is held at it: a spinlock or mutex held across the
    lookup and the use is often what really keeps the object alive (the updater takes it too)."""
    return not other_locks


def _passes_text(value: str, found: dict) -> bool:
    return any(_mentions(value, v) for v in found)


def _mentions(text: str, var: str) -> bool:
    return var in text and bool(re.search(rf"(?<![\w>.]){re.escape(var)}(?!\w)", text))


def _use(stale: dict, var: str, info: dict, e):
    """A use of a stale pointer: reported now, or, for an object known only by its lookup's name,
    remembered until a lock taken inside the object shows it must outlive the section."""
    if info.get("by_name"):
        info.setdefault("first_use", e)
        return
    yield _hit_use(var, info, e)
    stale.pop(var, None)


def _hit_use(var, info, use, explicit: bool = False, late_ref: bool = False) -> Hit:
    unlock = info["unlock"]
    what = use.text if len(use.text) <= 60 else use.text[:57] + "..."
    if late_ref:
        message = (f"the reference on {var} is taken here, after {unlock.name}() on line {unlock.lines[0]} ended the "
                   f"read-side section that found it ({info['how']} on line {info['line']}): between the unlock and "
                   f"`{what}` the object can be freed, and the count raised on freed memory. Should the reference be "
                   f"taken before the unlock (with a get that fails on a zero count, kref_get_unless_zero() or "
                   f"refcount_inc_not_zero(), if the count can already have dropped)?")
    else:
        message = (f"{var} was found under the read-side section ({info['how']} on line {info['line']}), but "
                   f"{unlock.name}() on line {unlock.lines[0]} ended that section and nothing keeps the object "
                   f"alive: `{what}` here can touch an object that was freed after the grace period that "
                   f"unlock allowed. Should the section extend over this use, or a reference be taken "
                   f"before the unlock?")
    return Hit(line=use.lines[0], end_line=use.lines[1], related=(unlock.lines[0], info["line"]),
               message=message, args={"var": var, "explicit": explicit or bool(info.get("explicit")),
                                      "late_ref": late_ref},
               trace=(f"{info['line']}: {var} = {info['how']} inside the read-side section",
                      f"{unlock.lines[0]}: {unlock.name}(): a grace period may now end and free {var}",
                      f"{use.lines[0]}: {what}" + (": the reference comes too late" if late_ref else "")))


def _hit_retake(loop, relock) -> Hit:
    drop = loop["dropped"]
    cursor = loop["cursor"]
    walk = loop["event"]
    message = (f"the walk over {walk.args[1] if len(walk.args) > 1 else 'the list'} ({walk.name}, line "
               f"{walk.lines[0]}) drops the read-side section on line {drop.lines[0]} and takes it again "
               f"here, then steps on from {cursor}: nothing pinned {cursor} while the section was open, so "
               f"it may have been removed and freed in between. Should {cursor} be pinned (a reference) "
               f"before the unlock, or the walk restarted?")
    return Hit(line=relock.lines[0], end_line=relock.lines[1], related=(drop.lines[0], walk.lines[0]),
               message=message, args={"var": cursor},
               trace=(f"{walk.lines[0]}: {walk.name}({', '.join(walk.args[:3])})",
                      f"{drop.lines[0]}: {drop.name}() inside the walk",
                      f"{relock.lines[0]}: {relock.name}(), then the iterator reads {cursor}->next"))
