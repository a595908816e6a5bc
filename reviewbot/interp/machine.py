"""The interpreter: runs functions of a `Program` as generators, one statement per step.

Every statement the machine is about to run is yielded (the statement's `N`), which is where a
scheduler may switch threads; a stub that must wait (synchronize_srcu, a taken spinlock) yields a
`Wait` whose predicate says when it may go on. A `Machine` holds one world: memory, globals, the
stubs' kernel state, the events it saw (use-after-free, lockdep warnings, ...) and a log of what
ran. Calls go to the patch's own functions, to kernel stubs (reviewbot.interp.kernel), or through
function pointers to those or to Python objects a scenario supplies (a "BPF program").

What the machine cannot run raises NotModelled(construct, line, reason).

The machine is put together from one mixin per part of the language, each in its own module:
memory access (access.py), expressions (expressions.py, with the compiled closures of
compiled.py), statements and control flow (statements.py), calls and threads (calls.py); C values
and operators are values.py, threads, frames and what a stub sees of a call frames.py. The
names other modules import from here (Machine, Thread, Frame, Call, Wait, stub, ...) stay here.
"""

from __future__ import annotations

from typing import Any, Callable

from reviewbot.interp.access import MemoryAccess
from reviewbot.interp.calls import Calls
from reviewbot.interp.errors import Fault, NotModelled  # noqa: F401
from reviewbot.interp.expressions import Expressions
from reviewbot.interp.frames import LATER, Call, Event, Frame, Section, Thread, Wait, stub  # noqa: F401
from reviewbot.interp.memory import NULL, Block, Func, Ptr, Struct
from reviewbot.interp.program import N, Program
from reviewbot.interp.statements import BREAK, CONTINUE, MAX_LOOP, Statements  # noqa: F401
from reviewbot.interp.values import CONSTANTS, ERRNO, _number, container_of, member  # noqa: F401


class Machine(Calls, Statements, Expressions, MemoryAccess):
    """One world: program, memory, kernel state, events and log."""

    def __init__(self, program: Program, stubs: dict[str, Callable], *, verbose: bool = False):
        self.p = program
        self.stubs = stubs
        self.events: list[Event] = []
        self.logs: list[tuple[str, int, str, str]] = []  # (thread, line, file, text)
        self.verbose = verbose
        self.steps = 0
        self.kstate: dict[str, Any] = {}  # the stubs' own state (lists' insertion lines, ...)
        self.hooks: list[Callable] = []  # called as hook(machine, thread, block, line, write)
        self.globals = Block(Struct("<globals>", True), "globals", kind="global")
        self.global_types: dict[str, tuple] = {}
        self.threads: list[Thread] = []
        self._init_globals()

    def clone(self, memo: dict | None = None) -> "Machine":
        """A fork of this world between runs (no thread running, nothing deferred)."""
        from dataclasses import replace

        from reviewbot.interp.memory import clone_value

        if any(not t.done for t in self.threads) or self.kstate.get("deferred"):
            raise RuntimeError("a machine is cloned only between runs")
        memo = {} if memo is None else memo
        new = type(self).__new__(type(self))
        new.p, new.stubs, new.verbose, new.steps = self.p, self.stubs, self.verbose, self.steps
        new.global_types = self.global_types
        new.globals = clone_value(self.globals, memo)
        new.kstate = clone_value(self.kstate, memo)
        new.events = [replace(e, detail=clone_value(e.detail, memo)) for e in self.events]
        new.logs = list(self.logs)
        new.hooks = list(self.hooks)
        new.threads = []
        return new

    # -- events and log

    def event(self, kind: str, th: Thread | None, line: int, file: str = "", **detail: Any) -> Event:
        ev = Event(kind, th.name if th else "", line, file or (th.file if th else ""), dict(detail),
                   self.steps, len(self.logs))
        self.events.append(ev)
        return ev

    def log(self, th: Thread | None, line: int, text: str) -> None:
        self.logs.append((th.name if th else "", line, th.file if th else "", text))

    # -- globals

    def _init_globals(self) -> None:
        init_hooks = self.stubs.get("__global_init__")
        for name, g in self.p.globals.items():
            self.global_types[name] = g.ctype
            if g.macro:
                value = init_hooks(self, g) if init_hooks else self.default(g.ctype, True, name)
                self.globals.data[name] = value
                continue
            value = self.default(g.ctype, True, name)
            self.globals.data[name] = value
            if g.init is not None:
                self._static_init(value, g.ctype, g.init, name)

    def _static_init(self, value: Any, ctype: tuple, init: N, name: str) -> None:
        if init.type == "initializer_list" and isinstance(value, Struct):
            for kid in init.kids:
                if kid.type == "initializer_pair":
                    des = kid.f.get("designator") or (kid.kids[0] if kid.kids else None)
                    fname = des.kids[0].text if des is not None and des.kids else ""
                    fnode = kid.f.get("value") or kid.kids[-1]
                    if fname:
                        value[fname] = self.const_value(fnode)
            return
        self.globals.data[name] = self.const_value(init)

    def const_value(self, n: N) -> Any:
        """A file-scope initializer: constants, function names, &globals, strings."""
        t = n.type
        if t == "identifier":
            if n.text in self.p.functions:
                return Func(n.text)
            if n.text in self.p.globals:
                return self.globals.data.get(n.text, 0)
            if n.text in self.stubs:
                return self.stubs[n.text]
            return self.p.macros.get(n.text, CONSTANTS.get(n.text, 0))
        if t == "pointer_expression" and n.op == "&" and n.f["argument"].type == "identifier":
            return Ptr(self.globals, (n.f["argument"].text,))
        if t in ("string_literal", "concatenated_string"):
            return self.string(n)
        if t == "number_literal":
            return _number(n)
        if t in ("true", "false"):
            return int(t == "true")
        if t == "null":
            return NULL
        return 0
