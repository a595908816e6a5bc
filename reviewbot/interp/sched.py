"""A deterministic scheduler over interpreter steps.

A thread advances one statement at a time (each yield of the machine is a step). `run_alone`
runs one thread to its end; `run_interleaved` runs a reader thread for `k` steps, then lets the
other thread run for as long as it can (until it ends or must wait, e.g. in synchronize_srcu),
then goes on with the reader, resuming the waiting thread as soon as what it waits for is true
(the earliest moment the kernel could let it go on: the worst case for memory it frees).
Deferred callbacks (kfree_rcu) run as soon as their grace period ends.
"""

from __future__ import annotations

from reviewbot.interp.errors import Fault, NotModelled
from reviewbot.interp.kernel import run_deferred
from reviewbot.interp.machine import Machine, Thread, Wait

MAX_STEPS = 20000


def advance(m: Machine, th: Thread) -> str:
    """Run `th` up to its next step: "step", "blocked" (waiting) or "done"."""
    if th.done:
        return "done"
    if th.wait is not None:
        if not th.wait():
            return "blocked"
        th.wait = None
    try:
        y = th.gen.send(None)
    except StopIteration as stop:
        th.done = True
        th.result = stop.value
        _check_exit(m, th)
        return "done"
    except Fault as fault:
        th.done = True
        th.fault = fault
        return "done"
    if isinstance(y, Wait):
        th.wait = y.pred
        return "blocked" if not y.pred() else "step"
    th.steps += 1
    th.at = y
    if m.verbose:
        m.log(th, y.line, "runs: " + y.first_line())
    if th.steps > MAX_STEPS:
        raise NotModelled("a thread that does not end", y.line, f"more than {MAX_STEPS} steps", y.path)
    return "step"


def _check_exit(m: Machine, th: Thread) -> None:
    """A call that returns with a read-side section or a lock still held."""
    for sec in list(th.sections):
        m.event("section-left-open", th, sec.line, sec.file, domain=sec.domain, label=sec.domain.label)
    for lock in list(th.locks):
        m.event("lock-left-held", th, th.line, th.file, label=lock.label)


def _consequence(m: Machine, th: Thread) -> bool:
    """True when what `th` waits for is held by a thread that already ended (crashed, or returned
    with a read-side section or lock still held): that earlier problem is the one to report."""
    return any(t is not th and t.done and (t.fault is not None or t.sections or t.locks) for t in m.threads)


def run_alone(m: Machine, th: Thread) -> Thread:
    while True:
        state = advance(m, th)
        run_deferred(m)
        if state == "done":
            return th
        if state == "blocked" and not th.wait():
            if not run_deferred(m):
                m.event("deadlock", th, th.line, th.file, what="waits for something that cannot happen",
                        consequence=_consequence(m, th))
                th.done = True
                th.fault = Fault("deadlock", th.line, "waits forever")
                return th


def run_interleaved(m: Machine, a: Thread, b: Thread, k: int) -> bool:
    """Run `a` for k steps, then `b` as far as it can go, then both to the end (b first whenever it
    can go on). False when `a` ended before its k-th step (the schedule is one seen already)."""
    for _ in range(k):
        if advance(m, a) == "done":
            return False
        run_deferred(m)
    if a.at is not None:
        m.log(a, a.at.line, f"is about to run line {a.at.line} ({a.at.first_line()}) when {b.name} starts")
    while not (a.done and b.done):
        progressed = False
        while not b.done:
            state = advance(m, b)
            run_deferred(m)
            if state == "blocked":
                break
            progressed = True
        if not a.done:
            state = advance(m, a)
            run_deferred(m)
            if state != "blocked":
                progressed = True
        if not progressed and (b.done or (b.wait is not None and not b.wait())) and (a.done or (a.wait is not None and not a.wait())):
            if not run_deferred(m):
                stuck = [t for t in (a, b) if not t.done]
                for t in stuck:
                    m.event("deadlock", t, t.line, t.file, what="no thread can go on",
                            consequence=_consequence(m, t))
                    t.done = True
                    t.fault = Fault("deadlock", t.line, "no thread can go on")
    return True
