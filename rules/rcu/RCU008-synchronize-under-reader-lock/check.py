"""RCU008: a grace period waited for under a lock that a reader of the same domain takes.

synchronize_srcu(&d) returns only when every srcu_read_lock(&d) section that started before it has
ended. If the caller holds lock L and a reader can, inside its section of d, try to take L, the
reader waits for the caller and the caller for the reader. The judge:

* finds each synchronize_srcu(&d)/synchronize_srcu_expedited(&d) (and synchronize_rcu() for
  classic RCU readers) and the locks held at it on some path (mutexes, rwsems, spinlocks);
* finds the read-side sections of d in the file and what they can reach while open: locks taken
  directly, in functions of the file they call (four levels deep), and behind calls through an ops
  member (`pmu->event_init(event)` reaches every function the file puts in an `.event_init` of an
  initializer);
* reports the wait when a lock it holds is one a reader can take, naming the reader's section,
  the chain of calls and the lock.

Locks are matched by kind and by the lock expression keyed through the struct type of the object
that holds it (`&dev->lock` in two functions is one lock when both `dev`s have the same type).
"""

from __future__ import annotations

import re

from reviewbot.engine import Hit
from reviewbot.facts import rcu
from reviewbot.facts.locks import lock_op
from reviewbot.facts.types import squash

WAITS = {"synchronize_srcu": "srcu", "synchronize_srcu_expedited": "srcu", "synchronize_rcu": "rcu",
         "synchronize_rcu_expedited": "rcu"}
SLEEPING = {"mutex", "rwsem_read", "rwsem_write"}
DEPTH = 4


def check(ctx):
    facts = ctx.facts
    waits = [c for c in facts.calls if c.function and c.name in WAITS]
    if not waits:
        return
    idx = rcu.index(ctx)
    reach = Reach(idx)
    reported = set()
    for wait in waits:
        domain = "rcu" if WAITS[wait.name] == "rcu" else "srcu:" + idx.slot(wait.function, wait.args[0]) \
            if wait.args else None
        if domain is None:
            continue
        held = _held_at(idx, wait)
        if not held:
            continue
        for reader, section_line, lock, chain in reach.reader_locks(domain):
            if lock not in held:
                continue
            kind = lock.split(":", 1)[0]
            if domain == "rcu" and kind in SLEEPING:
                continue  # a classic RCU reader cannot take a sleeping lock: that is another bug
            if (wait.lines[0], lock) in reported:
                continue
            reported.add((wait.lines[0], lock))
            yield _hit(wait, held[lock], reader, section_line, lock, chain, domain)
            break


def _held_at(idx, wait) -> dict[str, object]:
    """Lock key -> the acquire event, for the locks held at this wait on some path."""
    flow = idx.facts.flow(wait.function)
    out: dict[str, object] = {}
    if flow is None:
        return out
    for path in flow.paths:
        held: list[tuple[str, object]] = []
        for e in path.events:
            if e.lock is not None and e.lock.kind not in rcu.RCU_FLAVOURS | {"srcu", "preempt", "irq"}:
                key = _lock_key(idx, wait.function, e.lock.kind, e.args[0] if e.args else e.lock.key)
                if e.lock.action == "acquire":
                    held.append((key, e))
                else:
                    for i in range(len(held) - 1, -1, -1):
                        if held[i][0] == key:
                            del held[i]
                            break
                continue
            if e.kind == "call" and e.name == wait.name and e.lines == wait.lines:
                for key, event in held:
                    out.setdefault(key, event)
    return out


def _lock_key(idx, function: str | None, kind: str, expr: str) -> str:
    return f"{kind}:{idx.slot(function, expr)}"


class Reach:
    """Which locks the read-side sections of a domain can take, and through which calls."""

    def __init__(self, idx):
        self.idx = idx
        self.facts = idx.facts
        self.members: dict[str, set[str]] = {}  # ops member -> functions the file puts there
        for init in self.facts.initializers:
            for entry in init.entries:
                value = squash(entry.value).lstrip("&")
                if entry.designator.startswith(".") and value in idx.names:
                    self.members.setdefault(entry.designator[1:], set()).add(value)
        self._takes: dict[str, dict[str, tuple[str, ...]]] = {}

    def callees(self, call) -> set[str]:
        if call.name in self.idx.names:
            return {call.name}
        m = re.search(r"(?:->|\.)(\w+)$", call.name)
        if m:
            return self.members.get(m.group(1), set())
        return set()

    def takes(self, function: str, depth: int = 0) -> dict[str, tuple[str, ...]]:
        """Lock key -> the call chain (function names) by which `function` takes it."""
        if function in self._takes:
            return self._takes[function]
        self._takes[function] = {}  # recursion guard
        out: dict[str, tuple[str, ...]] = {}
        for c in self.idx.calls_in(function):
            op = lock_op(c.name, c.args)
            if op is not None and op.action == "acquire" and op.kind not in rcu.RCU_FLAVOURS | {"srcu", "preempt", "irq"}:
                out.setdefault(_lock_key(self.idx, function, op.kind, c.args[0] if c.args else op.key), (function,))
            elif depth < DEPTH:
                for callee in sorted(self.callees(c)):
                    via = (function,) if c.name == callee else (function, f"{c.name}()")
                    for key, chain in self.takes(callee, depth + 1).items():
                        out.setdefault(key, via + chain)
        self._takes[function] = out
        return out

    def reader_locks(self, domain: str):
        """(reader function, its section's line, lock key, call chain) for locks a reader of
        `domain` can take inside its section."""
        for fn in sorted({c.function for c in self.facts.calls if c.function and
                          (c.name in rcu.SRCU_LOCKS or c.name in rcu.RCU_LOCKS)}):
            flow = self.facts.flow(fn)
            if flow is None:
                continue
            for section in flow.sections:
                if section.lock.kind == "srcu":
                    key = "srcu:" + self.idx.slot(fn, section.lock.key)
                elif section.lock.kind in rcu.RCU_FLAVOURS:
                    key = "rcu"
                else:
                    continue
                if key != domain:
                    continue
                for c in self.idx.calls_in(fn):
                    if c.lines[0] not in section.event_lines or c.lines[0] == section.acquire_lines[0]:
                        continue
                    op = lock_op(c.name, c.args)
                    if op is not None and op.action == "acquire" and op.kind not in rcu.RCU_FLAVOURS | {"srcu", "preempt", "irq"}:
                        yield fn, section.acquire_lines[0], _lock_key(self.idx, fn, op.kind, c.args[0]), (fn,)
                        continue
                    for callee in sorted(self.callees(c)):
                        via = (fn,) if c.name == callee else (fn, f"{c.name}()")
                        for lock, chain in self.takes(callee).items():
                            yield fn, section.acquire_lines[0], lock, via + chain


def _hit(wait, acquire, reader, section_line, lock, chain, domain) -> Hit:
    lock_text = f"{acquire.name}({', '.join(acquire.args)})"
    via = " -> ".join(x if x.endswith("()") else f"{x}()" for x in chain)
    dom = "the SRCU domain" if domain.startswith("srcu") else "RCU"
    message = (f"{wait.name}({', '.join(wait.args)}) waits here for every reader of {dom} while "
               f"{lock_text} from line {acquire.lines[0]} is held, but a reader can take that lock inside "
               f"its read-side section: {via} (the section opened on line {section_line}). The grace "
               f"period waits for the reader and the reader for the lock: a deadlock. Should only the "
               f"unlinking be done under the lock, and the grace period waited for after the unlock?")
    return Hit(line=wait.lines[0], end_line=wait.lines[1], related=(acquire.lines[0], section_line),
               message=message, args={"wait": f"{wait.name}()", "lock": lock_text},
               trace=(f"{acquire.lines[0]}: updater: {lock_text}",
                      f"{section_line}: reader: read-side section opened in {reader}()",
                      f"reader: {via} takes the lock: it waits for the updater",
                      f"{wait.lines[0]}: updater: {wait.name}() waits for the reader"))
