"""The exploration engine of the reference models: worlds, interleavings, candidate divergences, the
smallest counterexample, and the trace that shows it.

A model pack (rules/<pack>/model/) keeps what is its own: the contract, the role finders that
recognise the patch's pieces, and the set-up of its worlds. Everything else is here, shared by every
model:

    from reviewbot.explore import Candidate, EventRule, Explorer, World, at_event, trace

    class MyWorld(World):                      # one small world: a Machine and the scenario's state
        def describe(self): return "an object is published; CPU0 reads it while CPU1 retires it"
        @property
        def size(self): return 1               # how big the world is (objects, handlers, ...)

    ex = Explorer()
    w = ex.setup(key, build)                   # a fork of the world `build()` made for `key` (once)
    th = w.start("CPU0", body)                 # a thread running the generator body(th)
    run_alone(w.m, th); ex.worlds += 1
    ex.offer(Candidate("X001", file, line, ex.cost(w), w, build_x001, {...}))
    ex.check_events(w, {"uaf": EventRule("X002", build_x002, at_free)})   # the machine's events
    for w in ex.interleave(make, first, second, steps):   # `second` started at every step of `first`
        ex.check_events(w, EVENTS)
    divergences = ex.divergences()             # one per (rule, file, line): its smallest world

Worlds and threads. A `World` owns one `Machine` (reviewbot.interp) and whatever the model records in
it. `World.fork()` copies it between runs (memory, kernel state, log), so worlds that share a set-up
(loading handlers, publishing objects) run it once. `World.start(name, body)` makes a thread of a
generator function, `World.call(fd, args, name)` runs one of the patch's functions to its end.

Interleavings. `Explorer.interleave(make, first, second, steps)` builds a world per k = 0..steps
(`make(k)`), runs `first` for k steps, then `second` as far as it can (until it ends or must wait:
synchronize_srcu, a taken lock), then both, `second` resumed as soon as what it waits for is true
(reviewbot.interp.sched.run_interleaved): every point of `first` at which `second` can start.
`steps_alone(make, first)` is how many steps `first` takes on its own (the k to go up to).

Candidates and the smallest counterexample. Comparing a world with the contract gives `Candidate`s:
a rule id, the place (file, line), a cost, the world, and a `build(candidate, explorer)` that words
the `Divergence` (reviewbot.models). `Explorer.offer` keeps, per (rule, file, line), the candidate of
least cost; `Explorer.cost(world, steps)` is (world.size, 0 for a sequential world else 1, steps):
the fewest actors, then no interleaving, then the fewest steps. The first candidate offered wins a
tie, so the order in which a model explores is the order of preference.

Events. The machine reports what it saw as events (reviewbot.interp.frames.Event: "uaf",
"double-free", "lockdep", "section-left-open", "srcu-leak", "null-deref", ... and any a model's
own stubs or programs add). `Explorer.check_events(world, table)` turns each into a candidate by the
model's table: event kind -> `EventRule(rule, build, where)` (or a function of the event returning
one, or None), where `where(event)` places it: `at_event` (the event's line), `at_free` (the
`kfree()` of a block used after it, the use related), `at_load` (where the pointer to a block freed
by the framework was read). An event marked `consequence` (a wait on a section that an earlier fault
left open) is not a finding of its own.

Traces. `trace(candidate, until=, last=, start=, quiet=)` is the counterexample: the world's
`header` lines (or `describe()`), then the log from `world.trace_from` to `until` (default
`world.trace_end`, else the end), each step as "CPU0 line 33: ..." in the finding's own file or
"CPU0 mm/oom_kill.c:1179: ..." in another (`at`, `line_ref`; render/email.py reads that shape back to
draw a race in columns), long traces elided in the middle, and `last` as its final line.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from reviewbot.interp.frames import Event, Thread
from reviewbot.interp.kernel import STUBS
from reviewbot.interp.machine import Machine
from reviewbot.interp.program import FuncDef, Program
from reviewbot.interp.memory import Func
from reviewbot.interp.sched import run_alone, run_interleaved
from reviewbot.models import Divergence

__all__ = ["Candidate", "EventRule", "Explorer", "QUIET", "World", "and_list", "at", "at_event", "at_free",
           "at_load", "function_at", "held_at", "line_ref", "run_alone", "run_interleaved", "steps_alone",
           "trace"]


# -- worlds --------------------------------------------------------------------------------------

class World:
    """One small world: a Machine running the patch's program, and what the scenario records.

    Subclasses add their own state and say what the world is (`describe()`, the first line of a
    trace) and how big it is (`size`, the first key of the cost order). `header` replaces
    describe() when a finding needs other words; `trace_from`/`trace_end` bound the part of the log
    a trace shows by default.
    """

    def __init__(self, program: Program, kind: str = "sequential", stubs: dict | None = None,
                 verbose: bool = False):
        self.m = Machine(program, STUBS if stubs is None else stubs, verbose=verbose)
        self.kind = kind  # "sequential" or the name of an interleaving ("race", ...)
        self.header: list[str] = []
        self.trace_from = 0
        self.trace_end: int | None = None

    @property
    def size(self) -> int:
        return 0

    @property
    def rank(self) -> int:
        """0 for a world with one thread at a time, 1 for an interleaving: prefer the former."""
        return 0 if self.kind == "sequential" else 1

    def describe(self) -> str:
        return "a world"

    def fork(self, memo: dict | None = None) -> "World":
        """A copy of this world between runs: its own machine (memory, kernel state, log), the other
        attributes shallow-copied; `forked(new, memo)` lets a subclass copy what points into memory
        (`reviewbot.interp.memory.clone_value(value, memo)` keeps the copies pointing at the new
        machine's blocks)."""
        memo = {} if memo is None else memo
        new = copy.copy(self)
        new.m = self.m.clone(memo)
        new.header = []
        self.forked(new, memo)
        return new

    def forked(self, new: "World", memo: dict) -> None:
        pass

    def start(self, name: str, body: Callable[..., Iterator], *args: Any) -> Thread:
        """A thread (not started) running the generator `body(thread, *args)`: a scenario's own
        sequence of calls (`yield from world.m.call_value(th, Func(name), args, None, None, False)`)."""
        th = self.m.thread(name, None, [])
        th.gen = body(th, *args)
        return th

    def call(self, fd: FuncDef | str, args: list, name: str) -> Thread:
        """Run one of the program's functions on a thread of its own, to its end."""
        fname = fd if isinstance(fd, str) else fd.name
        params = self.m.p.functions[fname].params
        th = self.m.thread(name, Func(fname), args[: len(params)])
        run_alone(self.m, th)
        return th


def steps_alone(make: Callable[[], World], first: Callable[[World], Thread]) -> int:
    """How many steps the thread `first(world)` takes when it runs alone in `make()`."""
    w = make()
    th = first(w)
    run_alone(w.m, th)
    return th.steps


# -- candidates ------------------------------------------------------------------------------------

@dataclass
class Candidate:
    """A disagreement found in one world, not yet worded: `build(candidate, explorer)` words it."""

    rule: str
    file: str
    line: int
    cost: tuple
    world: World
    build: Callable[["Candidate", "Explorer"], Divergence]
    data: dict = field(default_factory=dict)
    related: tuple[int, ...] = ()


Spot = tuple  # (file, line, related lines, extra line seen or None)


def at_event(ev: Event) -> Spot:
    """At the event's own line."""
    return ev.file, ev.line, (), None


def at_free(ev: Event) -> Spot:
    """A use of a freed block: at the line that freed it, the use related (and remembered)."""
    block = ev.detail["block"]
    return block.free_file, block.free_line, (ev.line,), ev.line


def at_load(ev: Event) -> Spot:
    """A use of what a framework freed: where the pointer to it was read, the use related."""
    return ev.file, ev.detail.get("loaded_at") or ev.line, (ev.line,), ev.line


@dataclass(frozen=True)
class EventRule:
    """What an event of the machine is as a finding: its rule id, its wording, its place."""

    rule: str
    build: Callable[[Candidate, "Explorer"], Divergence]
    where: Callable[[Event], Spot] = at_event


class Explorer:
    """Collects candidates over every world a model runs, keeps the smallest per place, words them."""

    def __init__(self) -> None:
        self.best: dict[tuple, Candidate] = {}
        self.seen_lines: dict[tuple, set[int]] = {}  # (rule, file, line) -> other lines where it showed
        self.worlds = 0
        self.cache: dict = {}  # set-up worlds, by the model's key (setup())

    # -- worlds

    def setup(self, key: Any, build: Callable[[], World],
              fork: Callable[[World], World] = lambda w: w.fork()) -> World:
        """A fork of the world `build()` makes for `key`; built once, forked for every use."""
        w = self.cache.get(key)
        if w is None:
            w = self.cache[key] = build()
        return fork(w)

    def interleave(self, make: Callable[[int], World | None], first: Callable[[World], Thread],
                   second: Callable[[World], Thread], steps: int) -> Iterator[World]:
        """For k = 0..steps, a world `make(k)` in which `first` runs k steps and then `second` starts
        (sched.run_interleaved); stops at the first k that `first` does not reach (or make gives
        None). Every world tried counts in `self.worlds`."""
        for k in range(steps + 1):
            w = make(k)
            self.worlds += 1
            if w is None:
                return
            a, b = first(w), second(w)
            if not run_interleaved(w.m, a, b, k):
                return
            yield w

    # -- candidates

    def cost(self, w: World, steps: int = 0) -> tuple:
        return (w.size, w.rank, steps or w.m.steps)

    def offer(self, cand: Candidate, extra_line: int | None = None) -> None:
        key = (cand.rule, cand.file, cand.line)
        if extra_line:
            self.seen_lines.setdefault(key, set()).add(extra_line)
            self.noticed(cand, extra_line)
        old = self.best.get(key)
        if old is None or cand.cost < old.cost:
            self.best[key] = cand

    def noticed(self, cand: Candidate, extra_line: int) -> None:
        """Called for every other line a candidate showed at (a hook for a model's wording)."""

    def check_events(self, w: World, table: dict[str, EventRule | Callable[[Event], EventRule | None]]) -> None:
        for ev in w.m.events:
            if ev.detail.get("consequence"):
                continue  # a wait on a section an earlier fault or early return left open
            entry = table.get(ev.kind)
            if entry is None:
                continue
            rule = entry if isinstance(entry, EventRule) else entry(ev)
            if rule is None:
                continue
            file, line, related, extra = rule.where(ev)
            self.offer(Candidate(rule.rule, file, line, self.cost(w, ev.step + 1), w, rule.build,
                                 {"event": ev}, related=tuple(related)), extra)

    def divergences(self) -> list[Divergence]:
        """One divergence per (rule, file, line), from its smallest world, by file, line and rule."""
        out = []
        for key in sorted(self.best, key=lambda k: (k[1], k[2], k[0])):
            cand = self.best[key]
            out.append(cand.build(cand, self))
        return out


# -- traces ----------------------------------------------------------------------------------------

QUIET = ("enters a read-side section", "leaves the read-side section", "the list walk reaches")


def trace(cand: Candidate, until: int | None = None, last: str | None = None, limit: int = 14,
          start: int | None = None, quiet: bool = False) -> tuple[str, ...]:
    """The counterexample of a candidate: what the world is, the steps, and `last`."""
    w = cand.world
    lines = list(w.header) or [w.describe()]
    if until is None:
        until = w.trace_end if w.trace_end is not None else len(w.m.logs)
    logs = w.m.logs[w.trace_from if start is None else start: until]
    body = []
    for thread, line, file, text in logs:
        if quiet and any(q in text for q in QUIET):
            continue
        who = thread or "the kernel"
        body.append(f"{at(cand, who, file, line)}: {text}")
    if len(body) > limit:
        body = body[:3] + ["[...]"] + body[-(limit - 4):]
    lines.extend(body)
    if last:
        lines.append(last)
    return tuple(lines)


def line_ref(cand: Candidate, file: str, line: int) -> str:
    """"line 33" in the finding's own file; "mm/oom_kill.c:1179" in any other, so a reader never
    looks for line 1179 in the wrong file."""
    return f"line {line}" if not file or file == cand.file else f"{file}:{line}"


def at(cand: Candidate, who: str, file: str, line: int) -> str:
    """The start of a trace step: "CPU0 line 33", "CPU0 mm/oom_kill.c:1179", or "CPU1" (no line).
    render/email.py reads this shape back to draw a race in two columns."""
    return f"{who} {line_ref(cand, file, line)}" if line else who


def and_list(items: list) -> str:
    """"A", "A and B", "A, B and C"."""
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def function_at(prog: Program, file: str, line: int) -> str:
    """"name()" of the function of `prog` at file:line, or "the code"."""
    for fd in prog.functions.values():
        if fd.path == file and fd.node.line <= line <= fd.unit.line_of(fd.node.end - 1):
            return fd.name + "()"
    return "the code"


def held_at(w: World, ev: Event) -> list[str]:
    """The read-side sections the event's thread had open when it happened (from the log of
    srcu_read_lock/unlock)."""
    open_: list[str] = []
    for thread, line, _f, text in w.m.logs[: ev.log_at]:
        if thread != ev.thread:
            continue
        if "enters a read-side section of " in text:
            open_.append(text.rsplit("enters a read-side section of ", 1)[1])
        elif "leaves the read-side section of " in text:
            label = text.rsplit("leaves the read-side section of ", 1)[1]
            if label in open_:
                open_.remove(label)
    return open_
