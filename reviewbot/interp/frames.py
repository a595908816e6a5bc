"""Threads, call frames, and what a kernel stub sees of the call it implements.

A `Thread` is one CPU running one call (its generator and the per-thread kernel state: read-side
sections, locks, atomic context); a `Frame` holds the locals of one call; a `Call` is handed to a
stub; a stub that must wait yields a `Wait`; the machine records what it saw as `Event`s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

from reviewbot.interp.errors import Fault
from reviewbot.interp.memory import Block, Opaque, Struct
from reviewbot.interp.program import FuncDef, N

if TYPE_CHECKING:
    from reviewbot.interp.machine import Machine

LATER = object()  # call_now(): a call that must run as a generator

class Wait:
    """Yielded by a stub that cannot go on until `pred()` is true."""

    __slots__ = ("pred", "what")

    def __init__(self, pred: Callable[[], bool], what: str = ""):
        self.pred = pred
        self.what = what


@dataclass
class Event:
    kind: str  # "uaf", "lockdep", "srcu-leak", "ignored-error", "unbalanced", ...
    thread: str
    line: int
    file: str
    detail: dict = field(default_factory=dict)
    step: int = 0  # the machine's step counter when it happened
    log_at: int = 0  # how many log lines there were when it happened


@dataclass(eq=False)
class Section:
    """An open read-side critical section (SRCU, RCU, ...)."""

    domain: Opaque
    thread: "Thread"
    line: int
    file: str
    idx: int


class Thread:
    """One CPU running one call: its generator, and the kernel state that is per thread."""

    def __init__(self, name: str, gen: Iterator | None = None):
        self.name = name
        self.gen = gen
        self.wait: Callable[[], bool] | None = None
        self.done = False
        self.result: Any = None
        self.fault: Fault | None = None
        self.steps = 0
        self.sections: list[Section] = []
        self.atomic = 0  # spinlocks held / preemption disabled
        self.locks: list[Opaque] = []
        self.last_load: dict[int, int] = {}  # id(block) -> line where a pointer to it was last read
        self.last_load_held: dict[int, tuple[str, ...]] = {}  # the read-side sections open at that load
        self.returned: dict[str, tuple[int, str]] = {}  # function -> (line, file) of its last return
        self.line = 0
        self.file = ""
        self.at: N | None = None  # the statement it is about to run

    def holds(self, domain: Opaque) -> bool:
        return any(s.domain is domain for s in self.sections)

    def __repr__(self) -> str:
        return f"<Thread {self.name}>"


class Frame:
    __slots__ = ("block", "types", "fd")

    def __init__(self, fd: FuncDef | None, label: str):
        self.block = Block(Struct("<frame>", False), label, kind="stack")
        self.types: dict[str, tuple] = {}
        self.fd = fd


class Call:
    """What a stub sees of the call it implements."""

    __slots__ = ("m", "th", "fr", "node", "discarded")

    def __init__(self, m: "Machine", th: Thread, fr: Frame | None, node: N | None, discarded: bool):
        self.m = m
        self.th = th
        self.fr = fr
        self.node = node
        self.discarded = discarded

    @property
    def line(self) -> int:
        return self.node.line if self.node is not None else self.th.line

    @property
    def file(self) -> str:
        return self.node.path if self.node is not None else self.th.file

    def arg_text(self, i: int) -> str:
        args = self.node.f.get("arguments") if self.node is not None else None
        if args is None or i >= len(args.kids):
            return ""
        kid = args.kids[i]
        text = kid.cache.get("arg")
        if text is None:
            text = kid.cache["arg"] = " ".join(kid.source.split())
        return text

    def event(self, kind: str, **detail: Any) -> Event:
        return self.m.event(kind, self.th, self.line, self.file, **detail)

    def log(self, text: str) -> None:
        self.m.log(self.th, self.line, text)


def stub(name: str | None = None, *, raw: bool = False, blocking: bool = False):
    """Mark a Python function as a kernel stub. `raw` stubs get argument nodes (macros such as
    WRITE_ONCE or container_of); `blocking` stubs are generators that may yield Wait."""

    def mark(fn):
        fn.stub_name = name or fn.__name__.lstrip("_")
        fn.raw = raw
        fn.blocking = blocking
        return fn

    return mark
