"""SRCU001: srcu_read_lock()/srcu_read_unlock() pairing on every path, per SRCU domain.

Along each bounded path of a function (facts.flow: loops run 0 and 1 times, gotos followed), the
judge tracks which srcu_struct read-side sections are open and which index variable each
srcu_read_lock*() stored. It reports:
  * a section still open when the path leaves the function: at the break/continue that leaves the
    loop iteration which took the lock, at the goto or return that skips the unlock, or at the end
    of the function (the lock line is `related`, so an added lock with an unchanged early return is
    kept);
  * an srcu_read_unlock() of a section this path already closed (a double unlock);
  * an srcu_read_unlock(&b, idx) whose idx came from srcu_read_lock(&a) of another srcu_struct.
Functions that never release a domain they take (lock helpers, `__acquires()`), functions that
release what they never take (unlock helpers), scoped guards and srcu_down_read()/srcu_up_read()
(which may be released by another task) are left alone. A path whose branches contradict each
other (`if (x)` taken one way and then the other) is skipped.
"""

from __future__ import annotations

import re

from reviewbot.engine import Hit
from reviewbot.facts.types import squash

LOCKS = {"srcu_read_lock", "srcu_read_lock_nmisafe", "srcu_read_lock_fast", "srcu_read_lock_notrace",
         "srcu_read_lock_lite", "srcu_read_lock_fast_notrace", "__srcu_read_lock"}
UNLOCKS = {"srcu_read_unlock", "srcu_read_unlock_nmisafe", "srcu_read_unlock_fast", "srcu_read_unlock_notrace",
           "srcu_read_unlock_lite", "srcu_read_unlock_fast_notrace", "__srcu_read_unlock"}
LABEL = re.compile(r"^\s*(\w+)\s*:(?!:)")
LOCK_CALL = re.compile(r"^\(?\s*(\w+)\s*\(")


def _domain(args) -> str | None:
    return squash(args[0]) if args else None


def _condition(event) -> tuple[str, bool]:
    """A branch as (condition without a leading `!`, effective outcome)."""
    text = squash(event.name)
    taken = bool(event.taken)
    while text.startswith("!") and not text.startswith("!="):
        text = text[1:]
        taken = not taken
        if text.startswith("(") and text.endswith(")"):
            text = text[1:-1]
    return text, taken


def _feasible(path) -> bool:
    seen: dict[str, bool] = {}
    for e in path.events:
        if e.kind == "assign":
            target = squash(e.name)
            for cond in [c for c in seen if re.search(rf"(?<![\w>.]){re.escape(target)}(?!\w)", c)]:
                del seen[cond]
        elif e.kind == "branch" and not e.name.startswith("case "):
            cond, taken = _condition(e)
            if seen.get(cond, taken) != taken:
                return False
            seen[cond] = taken
    return True


def check(ctx):
    facts = ctx.facts
    functions = {c.function for c in facts.calls if c.function and (c.name in LOCKS or c.name in UNLOCKS)}
    if not functions:
        return
    index_of = {}  # line of a lock call -> the variable its result is stored in
    for a in facts.assignments:
        m = LOCK_CALL.match(a.value)
        if m and m.group(1) in LOCKS:
            index_of[a.lines[0]] = squash(a.target)
    reported = set()
    for function in sorted(functions):
        flow = facts.flow(function)
        fn = facts.function(function)
        if flow is None or fn is None or any("__acquires" in s or "__releases" in s for s in fn.specifiers):
            continue
        calls = [c for c in facts.calls if c.function == function]
        taken = {_domain(c.args) for c in calls if c.name in LOCKS}
        released = {_domain(c.args) for c in calls if c.name in UNLOCKS}
        balanced = taken & released  # domains this function both takes and releases
        if not taken or not released:
            continue
        shape = _shape(ctx, flow)
        for path in flow.paths:
            if not _feasible(path):
                continue
            for hit in _walk(path, function, balanced, index_of, shape):
                key = (hit.line, hit.message)
                if key not in reported:
                    reported.add(key)
                    yield hit


def _shape(ctx, flow) -> dict:
    """Where the function's labels are, and the line of its last statement."""
    lines = ctx.unit.source.decode("utf-8", "replace").splitlines()
    labels = {}
    for n in range(flow.lines[0], min(flow.lines[1], len(lines)) + 1):
        m = LABEL.match(lines[n - 1])
        if m and m.group(1) not in ("default", "case"):
            labels.setdefault(m.group(1), n)
    last = max((e.lines[1] for e in flow.events() if e.kind != "end"), default=flow.lines[1])
    return {"labels": labels, "last": last}


def _walk(path, function, balanced, index_of, shape):
    held: list[dict] = []  # open sections: domain, event, depth, index
    closed: dict[str, tuple] = {}  # domain -> (acquire event, release event) of the last closed section
    indexes: dict[str, tuple] = {}  # index variable -> (domain, acquire event)
    depth = 0
    escapes: list[tuple] = []  # (event, depth at the event) for break/continue/goto
    events = path.events
    for i, e in enumerate(events):
        if e.kind == "loop":
            depth += 1
        elif e.kind == "loop_exit":
            depth -= 1
        elif e.kind in ("break", "continue"):
            escapes.append((i, e, depth))
        elif e.kind == "goto" and shape["labels"].get(e.name, 0) > e.lines[0]:
            escapes.append((i, e, depth))  # a forward goto; a backward one is a retry
        if e.kind == "assign":
            before = events[i - 1] if i else None
            target = squash(e.name)
            if before is not None and before.kind == "call" and before.name in LOCKS and before.lines[0] == e.lines[0]:
                indexes[target] = (_domain(before.args), before)
            else:
                indexes.pop(target, None)
            continue
        if e.kind != "call" or e.lock is None:
            continue
        domain = _domain(e.args)
        if e.name in LOCKS:
            index = index_of.get(e.lines[0])
            held.append({"domain": domain, "event": e, "depth": depth, "index": index, "at": i})
            if index:
                indexes[index] = (domain, e)
            continue
        if e.name not in UNLOCKS:
            continue
        index = squash(e.args[1]) if len(e.args) > 1 else None
        source = indexes.get(index) if index else None
        if source is not None and source[0] != domain:
            yield _wrong_index(e, function, index, source, held)
            # the unlock meant the section the index came from: close that one
            domain = source[0]
        match = next((h for h in reversed(held) if h["domain"] == domain), None)
        if match is None:
            if domain in balanced and domain in closed and (source is None or source[0] == domain):
                acquired, first = closed[domain]
                yield Hit(line=e.lines[0], end_line=e.lines[1], related=(acquired.lines[0], first.lines[0]),
                          message=(f"{e.name}({', '.join(e.args)}) here closes the read-side section of "
                                   f"{domain} that srcu_read_lock() on line {acquired.lines[0]} opened and line "
                                   f"{first.lines[0]} already closed on this path: a double unlock corrupts the "
                                   f"srcu_struct's reader counts, so a later synchronize_srcu() may not wait for "
                                   f"readers. Is one of the two unlocks on the wrong path?"))
            continue
        held.remove(match)
        closed[domain] = (match["event"], e)
    end = events[-1] if events else None
    if end is None or end.kind not in ("return", "end"):
        return  # a goto the flow stopped following (a backward jump taken too often) is no exit
    for section in held:
        if section["domain"] in balanced:
            yield _leak(section, end, escapes, function, shape)


def _unlock_text(section) -> str:
    call = section["event"].name.replace("lock", "unlock", 1) if "unlock" not in section["event"].name else section["event"].name
    return f"{call}({section['domain']}, {section['index'] or 'idx'})"


def _leak(section, end, escapes, function, shape) -> Hit:
    """Report where the path skipped the unlock: at an early return itself, else at the last
    forward goto, or break/continue out of the lock's loop iteration, before the final exit."""
    acquire = section["event"]
    lock = f"{acquire.name}({section['domain']})"
    unlock = _unlock_text(section)
    where = None
    early = end.kind == "return" and end.lines[1] < shape["last"]
    for at, e, depth in escapes if not early else ():
        if at < section["at"]:
            continue
        if e.kind in ("break", "continue") and not section["depth"] >= depth > 0:
            continue
        where = e
    if where is not None and where.kind == "continue":
        message = (f"this continue starts the next iteration with {lock} from line {acquire.lines[0]} still "
                   f"held: every skipped iteration leaves one more read-side section open, and "
                   f"{function}() returns with it held, so synchronize_srcu() on {section['domain']} never "
                   f"completes. Is {unlock} missing before the continue?")
    elif where is not None and where.kind == "break":
        message = (f"this break leaves the loop with {lock} from line {acquire.lines[0]} still held, and "
                   f"nothing after the loop releases it before {function}() returns, so synchronize_srcu() "
                   f"on {section['domain']} never completes. Is {unlock} missing before the break?")
    elif where is not None:
        message = (f"this goto {where.name} skips the release of {lock} from line {acquire.lines[0]}: "
                   f"{function}() returns through {where.name} with the read-side section still open, so "
                   f"synchronize_srcu() on {section['domain']} never completes. Is {unlock} missing on this "
                   f"error path?")
    else:
        where = end
        leaves = "this return leaves" if end.kind == "return" else "the end of"
        message = (f"{lock} from line {acquire.lines[0]} is still held when {leaves} {function}() on this "
                   f"path, so synchronize_srcu() on {section['domain']} never completes. Is {unlock} "
                   f"missing here?")
    return Hit(line=where.lines[0], end_line=where.lines[1], related=(acquire.lines[0],), message=message,
               args={"lock": lock, "function": function})


def _wrong_index(e, function, index, source, held) -> Hit:
    domain = _domain(e.args)
    other, acquire = source
    also = ""
    if any(h["domain"] == domain for h in held):
        also = f" (a section of {domain} is open too: are the two indexes swapped?)"
    return Hit(
        line=e.lines[0], end_line=e.lines[1], related=(acquire.lines[0],),
        message=(f"{e.name}({domain}, {index}) passes {index}, which {acquire.name}({other}) on line "
                 f"{acquire.lines[0]} returned: an SRCU index only means something to the srcu_struct that "
                 f"issued it{also}. Should this be {e.name}({other}, {index})?"),
        args={"function": function},
    )
