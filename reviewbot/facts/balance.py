"""Read-side sections left open, closed twice, or closed with another domain's index, on some path.

Shared by SRCU001 (srcu_read_lock/srcu_read_unlock, per srcu_struct) and RCU003 (the
rcu_read_lock() family, per flavour). Along each bounded path of a function (facts.flow: loops run 0
and 1 times, gotos followed) the walker tracks which sections are open and which index variable
each srcu_read_lock*() stored, and reports:

* a section still open where the path leaves the function: at the break/continue that leaves the
  loop iteration which took it, at the goto or return that skips the unlock, or at the end;
* an unlock of a section this path already closed (a double unlock);
* srcu_read_unlock(&b, idx) whose idx came from srcu_read_lock(&a) of another srcu_struct.

Ownership the kernel hands over on purpose is not a leak:

* a function that returns holding the section by design: annotated `__acquires()`, or paired in the
  file with a function that releases it without taking it (`*_enter()`/`*_exit()`,
  seq_file `start`/`stop`, `acquire_*()`/`release_*()`);
* an SRCU index that leaves the function: stored through a pointer or into an object
  (`*idx = srcu_read_lock(...)`, `msg->idx = idx`), returned, or passed to a call that will release
  it (`return nvme_ns_head_ctrl_ioctl(..., srcu_idx)`);
* functions that never release what they take, or release what they never take (lock and unlock
  helpers), scoped guards, and srcu_down_read()/srcu_up_read() (released by another task).

A path whose branches contradict each other (`if (x)` taken one way and then the other) is skipped.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from reviewbot.facts import rcu
from reviewbot.facts.types import squash

LABEL = re.compile(r"^\s*(\w+)\s*:(?!:)")
LOCK_CALL = re.compile(r"^\(?\s*(\w+)\s*\(")

# rcu flavour lock -> its unlock
RCU_PAIRS = {"rcu_read_lock": "rcu_read_unlock", "rcu_read_lock_bh": "rcu_read_unlock_bh",
             "rcu_read_lock_sched": "rcu_read_unlock_sched",
             "rcu_read_lock_sched_notrace": "rcu_read_unlock_sched_notrace",
             "rcu_read_lock_trace": "rcu_read_unlock_trace"}


@dataclass(frozen=True)
class Family:
    name: str  # "srcu" or "rcu"
    locks: frozenset[str]
    unlocks: frozenset[str]

    def key(self, call: str, args: tuple[str, ...]) -> str | None:
        """The section a lock or unlock call is about: the srcu_struct, or the rcu flavour."""
        if self.name == "srcu":
            return squash(args[0]) if args else None
        for lock, unlock in RCU_PAIRS.items():
            if call in (lock, unlock):
                return lock
        return None

    def unlock_text(self, acquire_call: str, key: str, index: str | None) -> str:
        if self.name == "srcu":
            call = acquire_call.replace("lock", "unlock", 1)
            return f"{call}({key}, {index or 'idx'})"
        return f"{RCU_PAIRS.get(key, 'rcu_read_unlock')}()"


SRCU = Family("srcu", frozenset(rcu.SRCU_LOCKS), frozenset(rcu.SRCU_UNLOCKS))
RCU = Family("rcu", frozenset(RCU_PAIRS), frozenset(RCU_PAIRS.values()))


@dataclass(frozen=True)
class Imbalance:
    kind: str  # leak | double | wrong_index
    function: str
    key: str  # the srcu_struct expression, or the rcu flavour's lock call
    acquire: object  # the Event of the lock
    where: object  # the Event where it goes wrong (exit, break, continue, goto, unlock)
    how: str  # leak: return | end | goto | break | continue; double/wrong_index: unlock
    index: str | None = None
    other: object | None = None  # double: the first unlock; wrong_index: the lock the index came from
    exit: object | None = None  # leak: the event where the path leaves the function (its return or end)
    other_key: str | None = None  # wrong_index: that lock's srcu_struct
    also_open: bool = False  # wrong_index: a section of the unlocked domain is open too
    path_lines: tuple[int, ...] = ()  # leak: the lines the leaking path runs from the lock to its exit


def path_shown(ctx, found: Imbalance) -> bool:
    """Whether the hunks show the leaking path whole: without a tree, a path through the code
    between two hunks may pass an unlock nobody can see (a leak there is a guess, not a finding)."""
    return not found.path_lines or ctx.shows(found.path_lines[0], found.path_lines[-1])


def imbalances(ctx, family: Family):
    """Every Imbalance of `family` in the file of a FileContext (each line reported once)."""
    facts = ctx.facts
    functions = {c.function for c in facts.calls if c.function and (c.name in family.locks or c.name in family.unlocks)}
    if not functions:
        return
    idx = rcu.index(ctx)
    index_of: dict[int, str] = {}  # line of a lock call -> the plain variable its result is stored in
    handed_over: set[int] = set()  # lock lines whose index is stored through a pointer or into an object
    for a in facts.assignments:
        m = LOCK_CALL.match(a.value)
        if m and m.group(1) in family.locks:
            target = squash(a.target)
            if re.fullmatch(r"\w+", target):
                index_of[a.lines[0]] = target
            else:
                handed_over.add(a.lines[0])
    reported = set()
    for function in sorted(functions):
        flow = facts.flow(function)
        if flow is None:
            continue
        calls = idx.calls_in(function)
        taken = {family.key(c.name, c.args) for c in calls if c.name in family.locks}
        released = {family.key(c.name, c.args) for c in calls if c.name in family.unlocks}
        balanced = (taken & released) - {None}  # sections this function both opens and closes
        if not (taken - {None}) or not (released - {None}):
            continue  # a lock helper or an unlock helper
        summary = idx.summaries.get(function)
        if summary is not None and any(a.startswith(("acquires:", "releases:")) for a in summary.annotated):
            continue
        if summary is not None and summary.releases_unheld & {_summary_key(family, idx, function, k) for k in balanced}:
            continue  # entered inside the section: it drops and retakes its caller's (`rcu_read_unlock(); cond_resched(); rcu_read_lock();`)
        helper_keys = {k for k in balanced if idx.is_acquire_helper(function, _summary_key(family, idx, function, k))}
        shape = _shape(ctx, flow)
        releasers = _releasers(idx, family, function)
        for path in flow.paths:
            if not feasible(path):
                continue
            for found in _walk(path, function, family, balanced - helper_keys, index_of, handed_over, shape,
                               releasers):
                key = (found.where.lines, found.kind, found.key)
                if key not in reported:
                    reported.add(key)
                    yield found


def _releasers(idx, family: Family, function: str) -> dict[str, str | None]:
    """Calls that end an RCU section of the caller: file-local functions that release it without
    taking it (name -> the key they release), and calls that may (name -> None: out of the file,
    named like a release, or file-local and calling one)."""
    out: dict[str, str | None] = {}
    if family.name != "rcu":
        return out
    for c in idx.calls_in(function):
        s = idx.summaries.get(c.name)
        if s is not None:
            if "rcu" in s.releases_unheld and "rcu" not in s.leaves_held:  # not a drop-and-retake
                out[c.name] = "rcu_read_lock"
            elif s.may_release and "rcu" not in s.leaves_held:
                out[c.name] = None
        elif c.name not in family.unlocks and rcu.MAY_RELEASE.search(c.name) and not rcu._lock_primitive(c.name, c.args):
            out[c.name] = None
    return out


def _summary_key(family: Family, idx, function: str, key: str) -> str:
    return "rcu" if family.name == "rcu" else "srcu:" + idx.slot(function, key)


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


CONSTANT_STORE = re.compile(r"^(\w+)\s*=\s*(true|false|NULL|-?\d+)$")


def feasible(path) -> bool:
    """False when the path takes two branches on one condition different ways, or branches on a
    flag against the constant it was just set to (`unmap = true; ... if (!unmap)`)."""
    seen: dict[str, bool] = {}
    names: dict[str, set[str]] = {}  # condition -> the identifiers it reads
    for e in path.events:
        if e.kind == "assign":
            target = squash(e.name)
            base = _BASE.match(target)
            seen.pop(target, None)
            if base:
                for cond in [c for c, words in names.items() if base.group(1) in words and c in seen]:
                    del seen[cond]
            m = CONSTANT_STORE.match(squash(e.text).rstrip(";"))
            if m and m.group(1) == target:
                seen[target] = m.group(2) not in ("false", "NULL", "0", "-0")
        elif e.kind == "call":
            for arg in e.args:  # `read_seqbegin_or_lock(&lock, &seq)` may change seq
                if arg.startswith("&") and re.fullmatch(r"&\w+", squash(arg)):
                    seen.pop(squash(arg)[1:], None)
        elif e.kind == "branch" and not e.name.startswith("case "):
            cond, taken = _condition(e)
            if seen.get(cond, taken) != taken:
                return False
            seen[cond] = taken
            if cond not in names:
                names[cond] = set(_WORDS.findall(cond))
    return True


_BASE = re.compile(r"^\(*\*?(\w+)")
_WORDS = re.compile(r"\w+")


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


def _mentions(text: str, var: str) -> bool:
    return var in text and bool(_mention_pattern(var).search(text))


@functools.lru_cache(maxsize=4096)
def _mention_pattern(var: str):
    return re.compile(rf"(?<![\w>.]){re.escape(var)}(?!\w)")


def _walk(path, function, family, balanced, index_of, handed_over, shape, releasers=None):
    held: list[dict] = []  # open sections: key, event, depth, index
    closed: dict[str, tuple] = {}  # key -> (acquire event, release event) of the last closed section
    indexes: dict[str, tuple] = {}  # index variable -> (key, acquire event)
    depth = 0
    escapes: list[tuple] = []  # (position, event, depth) for break/continue/goto
    assigned: list[tuple[int, str]] = []  # (position, variable) of each assignment on the path
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
            base = _BASE.match(target)
            if base:
                assigned.append((i, base.group(1)))
            if before is not None and before.kind == "call" and before.name in family.locks and before.lines[0] == e.lines[0]:
                if re.fullmatch(r"\w+", target):
                    indexes[target] = (family.key(before.name, before.args), before)
            else:
                indexes.pop(target, None)
                _hand_over(held, e.text, indexes)  # `msg->idx = idx`: the object carries the section on
            continue
        if e.kind == "return":
            _hand_over(held, e.text, indexes)  # `return idx`
        if e.kind != "call":
            continue
        if e.name not in family.locks and e.name not in family.unlocks:
            _hand_over(held, " ".join(e.args), indexes)  # the index passed to a callee that releases it
            if releasers and e.name in releasers:
                released = releasers[e.name]
                match = next((h for h in reversed(held) if released is None or h["key"] == released), None)
                if match is not None:
                    if released is None:
                        # may have been released for us: cannot tell, unless the call is about
                        # nothing the section gave (`rdma_put_gid_attr(attr)` of an attr taken
                        # before rcu_read_lock() drops the attr, not this function's section)
                        if _about_section(e, match["at"], assigned):
                            match["handed"] = True
                    else:
                        held.remove(match)
                        closed[match["key"]] = (match["event"], e)
            continue
        key = family.key(e.name, e.args)
        if e.name in family.locks:
            if e.lines[0] in handed_over:
                continue  # `*idx = srcu_read_lock(...)`: the caller holds this section
            index = index_of.get(e.lines[0]) if family.name == "srcu" else None
            held.append({"key": key, "event": e, "depth": depth, "index": index, "at": i})
            if index:
                indexes[index] = (key, e)
            continue
        index = squash(e.args[1]) if family.name == "srcu" and len(e.args) > 1 else None
        source = indexes.get(index) if index else None
        if source is not None and source[0] != key:
            yield Imbalance("wrong_index", function, key, source[1], e, "unlock", index=index, other=source[1],
                            other_key=source[0], also_open=any(h["key"] == key for h in held))
            key = source[0]  # the unlock meant the section the index came from: close that one
        match = next((h for h in reversed(held) if h["key"] == key), None)
        if match is None:
            if key in balanced and key in closed and (source is None or source[0] == key):
                acquired, first = closed[key]
                yield Imbalance("double", function, key, acquired, e, "unlock", index=index, other=first)
            continue
        held.remove(match)
        closed[key] = (match["event"], e)
    end = events[-1] if events else None
    if end is None or end.kind not in ("return", "end"):
        return  # a goto the flow stopped following (a backward jump taken too often) is no exit
    for section in held:
        if section["key"] in balanced and not section.get("handed"):
            yield _leak(section, end, escapes, function, shape,
                        tuple(sorted({e.lines[0] for e in events[section["at"]:]})))


def _about_section(call, start: int, assigned: list[tuple[int, str]]) -> bool:
    """Whether an out-of-file call named like a release may be ending a read-side section opened at
    path position `start`: it has no argument (nothing says what it releases), or an argument names
    a variable assigned inside the section (what a lookup there gave: its put may be the section's
    end, as a getter's put ends the section its getter took)."""
    text = " ".join(call.args)
    if not text.strip():
        return True
    return any(pos > start and _mentions(text, name) for pos, name in assigned)


def _hand_over(held: list[dict], text: str, indexes: dict) -> None:
    """A section whose index variable appears in `text` (stored, returned, passed on) is no longer
    this function's to release."""
    for section in held:
        index = section.get("index")
        if index and _mentions(text, index):
            section["handed"] = True


def _leak(section, end, escapes, function, shape, path_lines=()) -> Imbalance:
    """Where the path skipped the unlock: at an early return itself, else at the last forward goto,
    or break/continue out of the lock's loop iteration, before the final exit."""
    where = None
    early = end.kind == "return" and end.lines[1] < shape["last"]
    for at, e, depth in escapes if not early else ():
        if at < section["at"]:
            continue
        if e.kind in ("break", "continue") and not section["depth"] >= depth > 0:
            continue
        where = e
    if where is None:
        return Imbalance("leak", function, section["key"], section["event"], end,
                         "return" if end.kind == "return" else "end", index=section["index"], exit=end,
                         path_lines=path_lines)
    return Imbalance("leak", function, section["key"], section["event"], where, where.kind, index=section["index"],
                     exit=end, path_lines=path_lines)
