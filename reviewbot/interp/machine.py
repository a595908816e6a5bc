"""The interpreter: runs functions of a `Program` as generators, one statement per step.

Every statement the machine is about to run is yielded (the statement's `N`), which is where a
scheduler may switch threads; a stub that must wait (synchronize_srcu, a taken spinlock) yields a
`Wait` whose predicate says when it may go on. A `Machine` holds one world: memory, globals, the
stubs' kernel state, the events it saw (use-after-free, lockdep warnings, ...) and a log of what
ran. Calls go to the patch's own functions, to kernel stubs (reviewbot.interp.kernel), or through
function pointers to those or to Python objects a scenario supplies (a "BPF program").

What the machine cannot run raises NotModelled(construct, line, reason).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from reviewbot.interp.errors import Fault, NotModelled
from reviewbot.interp.memory import (BOOL, CHAR, INT, NULL, UNINIT, UNKNOWN, VOID, Block, Func,
                                     Opaque, Ptr, Struct, pointee, string_block, truth)
from reviewbot.interp.program import FuncDef, N, Program

BREAK = "break"
CONTINUE = "continue"
LATER = object()  # call_now(): a call that must run as a generator
MAX_LOOP = 2000


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


ERRNO = {"EPERM": 1, "ENOENT": 2, "EINTR": 4, "EIO": 5, "E2BIG": 7, "EAGAIN": 11, "ENOMEM": 12,
         "EFAULT": 14, "EBUSY": 16, "EEXIST": 17, "EINVAL": 22, "ENOSPC": 28, "ERANGE": 34,
         "ENOTSUPP": 524, "EOPNOTSUPP": 95, "ENODEV": 19}
CONSTANTS = {"GFP_KERNEL": 0, "GFP_KERNEL_ACCOUNT": 0, "GFP_ATOMIC": 0, "GFP_NOWAIT": 0,
             "THIS_MODULE": 0, "U32_MAX": 0xFFFFFFFF, "INT_MAX": 2**31 - 1, "UINT_MAX": 2**32 - 1}


class Machine:
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
        new = Machine.__new__(Machine)
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

    # -- memory

    def default(self, ctype: tuple | None, zeroed: bool, label: str = "") -> Any:
        if ctype is None:
            return 0 if zeroed else UNINIT
        kind = ctype[0]
        if kind == "struct":
            factory = self.stubs.get("__opaque__")
            special = factory(self, ctype[1], zeroed, label) if factory else None
            if special is not None:
                return special
            return Struct(ctype[1], zeroed)
        if kind == "array":
            if ctype[1][0] in ("int", "ptr"):
                return [(0 if ctype[1][0] == "int" else NULL) if zeroed else UNINIT] * ctype[2]
            return [self.default(ctype[1], zeroed, label) for _ in range(ctype[2])]
        if kind == "ptr":
            return NULL if zeroed else UNINIT
        return 0 if zeroed else UNINIT

    def _slot(self, addr: Ptr) -> tuple[Any, Any]:
        """(container, key) that addr names, creating fields on the way."""
        container = addr.base.data
        path = addr.path
        if len(path) > 1:
            for key in path[:-1]:
                if type(container) is Struct and key in container:  # what _child does, without a call
                    container = container[key]
                else:
                    container = self._child(container, key)
        return container, path[-1]

    def _child(self, container: Any, key: Any) -> Any:
        if isinstance(container, Struct):
            v = container.get(key, _MISSING)
            if v is _MISSING:
                v = self.default(self.p.field_type(container.stype, key), container.zeroed, str(key))
                container[key] = v
            return v
        if isinstance(container, list):
            if not isinstance(key, int) or not 0 <= key < len(container):
                raise NotModelled(f"index {key}", 0, "out of the bounds the interpreter knows")
            return container[key]
        raise NotModelled(f"member {key}", 0, f"of a {type(container).__name__}, not a struct")

    def touch(self, th: Thread, addr: Ptr, line: int, what: str, write: bool = False) -> None:
        """Account one access to memory: a use-after-free event when the block is freed."""
        base = addr.base
        if base is None:
            self.event("null-deref", th, line, th.file, what=what)
            raise Fault("null-deref", line, what)
        if base.kind == "unmodelled":  # a scenario's stand-in for something it does not model
            raise NotModelled(what, line, base.label, th.file)
        if base.kind == "poison":
            self.event("poison", th, line, th.file, what=what)
            raise Fault("poison", line, f"{what} follows a LIST_POISON pointer")
        if base.freed:
            self.event("uaf", th, line, th.file, what=what, block=base, write=write,
                       held=[sec.domain.label for sec in th.sections], loaded_at=th.last_load.get(id(base)),
                       held_at_load=th.last_load_held.get(id(base), ()))
            self.log(th, line, f"{'writes' if write else 'reads'} {what}: {base.label} was freed"
                     f" (line {base.free_line})" if base.free_line else
                     f"{'writes' if write else 'reads'} {what}: {base.label} was freed ({base.freed_by})")
        for hook in self.hooks:
            hook(self, th, base, line, write)

    def load(self, th: Thread, addr: Ptr, line: int = 0, what: str = "") -> Any:
        if addr.base is None or addr.base.freed or addr.base.kind in ("poison", "unmodelled") or self.hooks:
            self.touch(th, addr, line or th.line, what or repr(addr))
        if not addr.path:
            data = addr.base.data
            if isinstance(data, list):
                return Ptr(addr.base, (0,))
            return data
        container, key = self._slot(addr)
        if type(container) is Struct and key in container:  # what _child does, without a call
            value = container[key]
        else:
            value = self._child(container, key)
        if isinstance(value, list):
            return Ptr(addr.base, addr.path + (0,))  # an array decays to a pointer
        if (isinstance(value, Ptr) and value.base is not None and value.base.owner is not None
                and addr.base.kind in ("heap", "global")):
            th.last_load[id(value.base)] = line or th.line  # where a pointer was taken from shared memory
            th.last_load_held[id(value.base)] = tuple(sec.domain.label for sec in th.sections)
        return value

    def store(self, th: Thread, addr: Ptr, value: Any, line: int = 0, what: str = "") -> None:
        if addr.base is None or addr.base.freed or addr.base.kind in ("poison", "unmodelled") or self.hooks:
            self.touch(th, addr, line or th.line, what or repr(addr), write=True)
        if addr.base.readonly:
            raise NotModelled(what or repr(addr), line, "a write to read-only memory")
        if not addr.path:
            raise NotModelled(what or repr(addr), line, "a whole-object store")
        if addr.base.owner is not None:
            self.kstate.setdefault("writes", []).append(
                (addr.base, addr.path, line or th.line, th.name, th.file, value, self.steps))
        container, key = self._slot(addr)
        if isinstance(container, list) and not (isinstance(key, int) and 0 <= key < len(container)):
            raise NotModelled(what or repr(addr), line, "a store out of the array's bounds")
        container[key] = value

    def obj(self, addr: Ptr, th: Thread, line: int, what: str) -> Any:
        """The object (struct, opaque kernel object) a pointer points to, with an access check."""
        self.touch(th, addr, line, what)
        if not addr.path:
            return addr.base.data
        container, key = self._slot(addr)
        return self._child(container, key)

    def string(self, n: N) -> Ptr:
        block = n.cache.get("str")
        if block is None:
            block = string_block(_string_bytes(n))
            n.cache["str"] = block
        return Ptr(block, (0,))

    # -- running

    def thread(self, name: str, fname_or_value: Any, args: list[Any]) -> Thread:
        """A thread that will run one call (not started)."""
        th = Thread(name)
        th.gen = self._thread_body(th, fname_or_value, args)
        self.threads.append(th)
        return th

    def _thread_body(self, th: Thread, target: Any, args: list[Any]):
        return (yield from self.call_value(th, target, args, None, None, False))

    def call_value(self, th: Thread, target: Any, args: list[Any], node: N | None, fr: Frame | None,
                   discarded: bool):
        if isinstance(target, str):
            if target in self.p.functions:
                return (yield from self.run_function(th, self.p.functions[target], args))
            fn = self.stubs.get(target)
            if fn is None:
                raise NotModelled(f"call to {target}()", node.line if node else 0,
                                  "not defined in the patch and no kernel stub", node.path if node else "")
            target = fn
        if isinstance(target, Func):
            fd = self.p.functions.get(target.name)
            if fd is None:
                return (yield from self.call_value(th, target.name, args, node, fr, discarded))
            return (yield from self.run_function(th, fd, args))
        if isinstance(target, Ptr):
            if target.base is None:
                line = node.line if node else th.line
                self.event("null-call", th, line, th.file, what=node.first_line() if node else "")
                raise Fault("null-call", line, "call through a NULL function pointer")
            raise NotModelled("call through a data pointer", node.line if node else 0,
                              "the pointer does not hold a function", node.path if node else "")
        if target is UNINIT:
            raise NotModelled("call through an uninitialized function pointer", node.line if node else 0,
                              "", node.path if node else "")
        invoke = getattr(target, "invoke", None)
        if invoke is not None:  # a scenario's program
            return (yield from invoke(Call(self, th, fr, node, discarded), args))
        if callable(target) and hasattr(target, "stub_name"):
            ctx = Call(self, th, fr, node, discarded)
            if target.blocking:
                return (yield from target(ctx, *args))
            return target(ctx, *args)
        raise NotModelled("call of a value that is not a function", node.line if node else 0, repr(target),
                          node.path if node else "")

    def run_function(self, th: Thread, fd: FuncDef, args: list[Any]):
        if len(args) != len(fd.params):
            raise NotModelled(f"call to {fd.name}()", th.line, "argument count differs from its definition",
                              fd.path)
        fr = Frame(fd, f"locals of {fd.name}")
        data = fr.block.data
        for (pname, ptype), value in zip(fd.params, args):
            fr.types[pname] = ptype
            data[pname] = value
        saved = th.file, th.line
        th.file = fd.path
        try:
            sig = yield from self.exec_block(th, fr, fd.body)
            th.returned[fd.name] = (th.line, fd.path)
        finally:
            th.file, th.line = saved
        if isinstance(sig, tuple) and sig[0] == "return":
            value = sig[1]
            if fd.ret == BOOL and value is not UNINIT:
                value = int(truth(value))
            return value
        if isinstance(sig, tuple) and sig[0] == "goto":
            raise NotModelled(f"goto {sig[1]}", th.line, "label not found in the function", fd.path)
        return None

    # -- statements

    def exec_block(self, th: Thread, fr: Frame, block: N):
        kids = block.kids
        i = 0
        while i < len(kids):
            n = kids[i]
            if n.type == "expression_statement" and n.kids:  # exec_stmt's branch, one generator less
                th.line = n.line
                yield n
                self.steps += 1
                e = n.kids[0]
                if e.type == "call_expression":
                    if self.call_now(th, fr, e, True) is LATER:
                        yield from self.ev_call(th, fr, e, True)
                elif e.pure:
                    self.evp(th, fr, e)
                else:
                    yield from self.ev(th, fr, e)
                sig = None
            else:
                sig = yield from self.exec_stmt(th, fr, n)
            i += 1
            if sig is None:
                continue
            if isinstance(sig, tuple) and sig[0] == "goto":
                target = _find_label(kids, sig[1])
                if target is None:
                    return sig
                i = target
                continue
            return sig
        return None

    def exec_stmt(self, th: Thread, fr: Frame, n: N):
        t = n.type
        th.line = n.line
        if t == "expression_statement":
            if not n.kids:
                return None
            yield n
            self.steps += 1
            e = n.kids[0]
            if e.type == "call_expression":
                if self.call_now(th, fr, e, True) is LATER:
                    yield from self.ev_call(th, fr, e, True)
            elif e.pure:
                self.evp(th, fr, e)
            else:
                yield from self.ev(th, fr, e)
            return None
        if t == "compound_statement":
            return (yield from self.exec_block(th, fr, n))
        if t == "declaration":
            for name, ctype, init in self.p.declarators(n):
                fr.types[name] = ctype
                if init is None:
                    fr.block.data[name] = self.default(ctype, False, name)
                    continue
                yield n
                self.steps += 1
                th.line = n.line
                if init.type == "initializer_list":
                    raise NotModelled("initializer list in a local declaration", n.line, "", n.path)
                if init.pure:
                    value = self.evp(th, fr, init)
                elif init.type == "call_expression" and (value := self.call_now(th, fr, init, False)) is not LATER:
                    pass
                else:
                    value = yield from self.ev(th, fr, init)
                fr.block.data[name] = _convert(value, ctype)
            return None
        if t == "if_statement":
            yield n
            self.steps += 1
            c = n.f["condition"]
            cond = self.evp(th, fr, c) if c.pure else (yield from self.ev(th, fr, c))
            if self.test(cond, n):
                body = n.f["consequence"]
            else:
                alt = n.f.get("alternative")
                if alt is None:
                    return None
                body = alt.kids[0] if alt.type == "else_clause" else alt
            if body.type == "compound_statement":  # what exec_stmt does with it, one generator less
                th.line = body.line
                return (yield from self.exec_block(th, fr, body))
            return (yield from self.exec_stmt(th, fr, body))
        if t == "return_statement":
            yield n
            self.steps += 1
            value = None
            if n.kids:
                e = n.kids[0]
                value = self.evp(th, fr, e) if e.pure else (yield from self.ev(th, fr, e))
            return ("return", value)
        if t == "break_statement":
            return BREAK
        if t == "continue_statement":
            return CONTINUE
        if t == "goto_statement":
            return ("goto", n.f["label"].text)
        if t == "labeled_statement":
            inner = [k for k in n.kids if k.type != "statement_identifier"]
            if inner:
                return (yield from self.exec_stmt(th, fr, inner[0]))
            return None
        if t == "while_statement":
            if not n.source.startswith("while"):
                from reviewbot.interp.iterators import run_iterator

                return (yield from run_iterator(self, th, fr, n))
            return (yield from self._loop(th, fr, n, None, n.f["condition"], None, n.f["body"]))
        if t == "for_statement":
            init = n.f.get("initializer")
            return (yield from self._loop(th, fr, n, init, n.f.get("condition"), n.f.get("update"),
                                          n.f["body"]))
        if t == "do_statement":
            return (yield from self._loop(th, fr, n, None, n.f["condition"], None, n.f["body"], True))
        if t == "switch_statement":
            return (yield from self._switch(th, fr, n))
        if t in (";", "empty_statement"):
            return None
        raise NotModelled(n.first_line(), n.line, f"a {t.replace('_', ' ')} the interpreter does not run",
                          n.path)

    def test(self, value: Any, n: N) -> bool:
        try:
            return truth(value)
        except ValueError:
            raise NotModelled(n.first_line(), n.line, "the condition reads memory the code never wrote",
                              n.path) from None

    def _loop(self, th, fr, n, init, cond, update, body, do_first=False):
        if init is not None:
            if init.type == "declaration":
                yield from self.exec_stmt(th, fr, init)
            else:
                self.evp(th, fr, init) if init.pure else (yield from self.ev(th, fr, init))
        for _ in range(MAX_LOOP):
            if not do_first:
                th.line = n.line
                yield n
                self.steps += 1
                if cond is not None and not self.test(
                        self.evp(th, fr, cond) if cond.pure else (yield from self.ev(th, fr, cond)), n):
                    return None
            do_first = False
            sig = yield from self.exec_stmt(th, fr, body)
            if sig == BREAK:
                return None
            if sig is not None and sig != CONTINUE:
                return sig
            if update is not None:
                self.evp(th, fr, update) if update.pure else (yield from self.ev(th, fr, update))
        raise NotModelled(n.first_line(), n.line, f"a loop that ran {MAX_LOOP} times", n.path)

    def _switch(self, th, fr, n):
        yield n
        self.steps += 1
        c = n.f["condition"]
        value = self.evp(th, fr, c) if c.pure else (yield from self.ev(th, fr, c))
        body = n.f["body"].kids
        start = None
        for i, case in enumerate(body):
            if case.type != "case_statement":
                continue
            cv = case.f.get("value")
            if cv is None:
                if start is None:
                    start = ("default", i)
                continue
            if (self.evp(th, fr, cv) if cv.pure else (yield from self.ev(th, fr, cv))) == value:
                start = ("case", i)
                break
        if start is None:
            return None
        for case in body[start[1]:]:
            stmts = [k for k in case.kids if k is not case.f.get("value")] if case.type == "case_statement" else [case]
            for s in stmts:
                sig = yield from self.exec_stmt(th, fr, s)
                if sig == BREAK:
                    return None
                if sig is not None:
                    return sig
        return None

    # -- expressions

    def ev(self, th: Thread, fr: Frame, n: N):
        """Evaluate an expression to a value (a generator: calls may run code and wait). A part with
        no call under it (N.pure) is evaluated by evp(), the same evaluation without generators."""
        t = n.type
        if t == "identifier":
            return self._ident(th, fr, n)
        if t == "number_literal":
            return _number(n)
        if t == "field_expression" or t == "subscript_expression":
            addr, _ = self.lvp(th, fr, n) if n.pure else (yield from self.lv(th, fr, n))
            return self.load(th, addr, n.line, n.source)
        if t == "call_expression":
            value = self.call_now(th, fr, n, False)
            return value if value is not LATER else (yield from self.ev_call(th, fr, n, False))
        if t == "parenthesized_expression":
            e = n.kids[0]
            return self.evp(th, fr, e) if e.pure else (yield from self.ev(th, fr, e))
        if t == "assignment_expression":
            left, right = n.f["left"], n.f["right"]
            addr, ltype = self.lvp(th, fr, left) if left.pure else (yield from self.lv(th, fr, left))
            if right.pure:
                value = self.evp(th, fr, right)
            elif right.type == "call_expression" and (value := self.call_now(th, fr, right, False)) is not LATER:
                pass
            else:
                value = yield from self.ev(th, fr, right)
            if n.op != "=":
                old = self.load(th, addr, n.line, left.source)
                value = _arith(n.op[:-1], old, value, n)
            value = _convert(value, ltype)
            self.store(th, addr, value, n.line, left.source)
            return value
        if t == "binary_expression":
            op = n.op
            left, right = n.f["left"], n.f["right"]
            if op == "&&":
                a = self.evp(th, fr, left) if left.pure else (yield from self.ev(th, fr, left))
                if not self.test(a, n):
                    return 0
                return int(self.test(self.evp(th, fr, right) if right.pure else (yield from self.ev(th, fr, right)), n))
            if op == "||":
                a = self.evp(th, fr, left) if left.pure else (yield from self.ev(th, fr, left))
                if self.test(a, n):
                    return 1
                return int(self.test(self.evp(th, fr, right) if right.pure else (yield from self.ev(th, fr, right)), n))
            a = self.evp(th, fr, left) if left.pure else (yield from self.ev(th, fr, left))
            b = self.evp(th, fr, right) if right.pure else (yield from self.ev(th, fr, right))
            return _arith(op, a, b, n)
        if t == "unary_expression":
            arg = n.f["argument"]
            value = self.evp(th, fr, arg) if arg.pure else (yield from self.ev(th, fr, arg))
            op = n.op
            if op == "!":
                return int(not self.test(value, n))
            if op == "-":
                return -_int(value, n)
            if op == "~":
                return ~_int(value, n)
            if op == "+":
                return value
        if t == "pointer_expression":
            arg = n.f["argument"]
            if n.op == "&":
                addr, _ = self.lvp(th, fr, arg) if arg.pure else (yield from self.lv(th, fr, arg))
                return addr
            ptr = self.evp(th, fr, arg) if arg.pure else (yield from self.ev(th, fr, arg))
            if not isinstance(ptr, Ptr):
                raise NotModelled(n.first_line(), n.line, "dereference of a non-pointer", n.path)
            return self.load(th, ptr, n.line, n.source)
        if t == "conditional_expression":
            c = n.f["condition"]
            cond = self.evp(th, fr, c) if c.pure else (yield from self.ev(th, fr, c))
            if self.test(cond, n) and "consequence" not in n.f:
                return cond  # GNU C's `a ?: b`
            branch = n.f["consequence"] if self.test(cond, n) else n.f["alternative"]
            return self.evp(th, fr, branch) if branch.pure else (yield from self.ev(th, fr, branch))
        if t in ("string_literal", "concatenated_string"):
            return self.string(n)
        if t == "char_literal":
            return _char(n)
        if t == "true":
            return 1
        if t == "false":
            return 0
        if t == "null":
            return NULL
        if t == "cast_expression":
            v = n.f["value"]
            value = self.evp(th, fr, v) if v.pure else (yield from self.ev(th, fr, v))
            ctype = self.p.type_descriptor(n.f["type"])
            return _convert(value, ctype)
        if t == "sizeof_expression":
            target = n.f.get("value") or n.f.get("type")
            ctype = self.p.type_descriptor(target) if target.type == "type_descriptor" else self.static_type(fr, target)
            return self.sizeof(ctype, n)
        if t == "update_expression":
            arg = n.f["argument"]
            addr, _ = self.lvp(th, fr, arg) if arg.pure else (yield from self.lv(th, fr, arg))
            old = self.load(th, addr, n.line, n.source)
            new = _arith("+" if n.op == "++" else "-", old, 1, n)
            self.store(th, addr, new, n.line, n.source)
            return new if n.source.lstrip().startswith(n.op) else old
        if t == "comma_expression":
            left, right = n.f["left"], n.f["right"]
            if left.pure:
                self.evp(th, fr, left)
            else:
                yield from self.ev(th, fr, left)
            return self.evp(th, fr, right) if right.pure else (yield from self.ev(th, fr, right))
        raise NotModelled(n.first_line(), n.line, f"a {t.replace('_', ' ')} the interpreter does not evaluate",
                          n.path)

    def _ident(self, th: Thread, fr: Frame, n: N) -> Any:
        name = n.text
        data = fr.block.data
        if name in data:
            value = data[name]
            if isinstance(value, list):
                return Ptr(fr.block, (name, 0))
            return value
        if name in self.globals.data:
            return self.load(th, Ptr(self.globals, (name,)), n.line, name)
        if name in self.p.functions:
            return Func(name)
        if name in self.p.macros:
            return self.p.macros[name]
        if name in ERRNO:
            return ERRNO[name]
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in self.stubs:
            return self.stubs[name]
        raise NotModelled(name, n.line, "an identifier the patch does not declare and no stub knows", n.path)

    def lv(self, th: Thread, fr: Frame, n: N):
        """The address an lvalue expression names, and its static type."""
        t = n.type
        if t == "identifier":
            name = n.text
            if name in fr.block.data:
                return Ptr(fr.block, (name,)), fr.types.get(name)
            if name in self.globals.data:
                return Ptr(self.globals, (name,)), self.global_types.get(name)
            raise NotModelled(name, n.line, "an identifier the patch does not declare", n.path)
        if t == "field_expression":
            arg = n.f["argument"]
            name = n.f["field"].text
            if n.op == "->":
                base = self.evp(th, fr, arg) if arg.pure else (yield from self.ev(th, fr, arg))
                if not isinstance(base, Ptr):
                    raise NotModelled(n.first_line(), n.line, "-> on a value that is not a pointer", n.path)
                stype = pointee(self.static_type(fr, arg))
            else:
                base, stype = self.lvp(th, fr, arg) if arg.pure else (yield from self.lv(th, fr, arg))
            if base.base is None:
                self.event("null-deref", th, n.line, n.path, what=n.source)
                raise Fault("null-deref", n.line, n.source)
            addr = member(base, name)
            if stype is not None and stype[0] == "struct" and not base.path:
                data = base.base.data
                if isinstance(data, Struct) and data.stype is None:
                    data.stype = stype[1]
            ftype = self.p.field_type(stype[1], name) if stype is not None and stype[0] == "struct" else None
            return addr, ftype
        if t == "subscript_expression":
            arg, ix = n.f["argument"], n.f["index"]
            base = self.evp(th, fr, arg) if arg.pure else (yield from self.ev(th, fr, arg))
            index = _int(self.evp(th, fr, ix) if ix.pure else (yield from self.ev(th, fr, ix)), n)
            if not isinstance(base, Ptr) or not base.path or not isinstance(base.path[-1], int):
                raise NotModelled(n.first_line(), n.line, "indexing something that is not an array", n.path)
            return Ptr(base.base, base.path[:-1] + (base.path[-1] + index,)), pointee(self.static_type(fr, arg))
        if t == "pointer_expression" and n.op == "*":
            arg = n.f["argument"]
            ptr = self.evp(th, fr, arg) if arg.pure else (yield from self.ev(th, fr, arg))
            if not isinstance(ptr, Ptr):
                raise NotModelled(n.first_line(), n.line, "dereference of a non-pointer", n.path)
            return ptr, pointee(self.static_type(fr, arg))
        if t == "parenthesized_expression":
            e = n.kids[0]
            return self.lvp(th, fr, e) if e.pure else (yield from self.lv(th, fr, e))
        if t == "call_expression":
            # a macro that yields an lvalue (list_entry(...)->x is through ->, not here)
            pass
        raise NotModelled(n.first_line(), n.line, f"a {t.replace('_', ' ')} used as an lvalue", n.path)

    # -- expressions with no call under them (N.pure): the same as ev/lv, without generators

    def evp(self, th: Thread, fr: Frame, n: N) -> Any:
        """ev() of a node with no call under it: the same evaluation, by a closure compiled once per
        node (`N.evf`, see _compile_ev)."""
        return (n.evf or _compile_ev(n))(self, th, fr)

    def lvp(self, th: Thread, fr: Frame, n: N):
        """lv() of a node with no call under it: the same, by a closure compiled once per node."""
        return (n.lvf or _compile_lv(n))(self, th, fr)

    def ev_call(self, th: Thread, fr: Frame, n: N, discarded: bool):
        fn = n.f["function"]
        argn = n.f["arguments"].kids
        if fn.type == "identifier":
            name = fn.text
            s = self.stubs.get(name)
            if s is not None and s.raw:
                if not _arity_fits(s, len(argn)):  # C from a patch may call offsetof(a, b, c)
                    raise NotModelled(f"call to {name}()", n.line, f"{len(argn)} arguments, not what the stub takes",
                                      n.path)
                return (yield from _maybe_gen(s(Call(self, th, fr, n, discarded), *argn)))
            if name in fr.block.data or name in self.globals.data:
                target = self.evp(th, fr, fn) if fn.pure else (yield from self.ev(th, fr, fn))
            elif name in self.p.functions:
                target = Func(name)
            elif s is not None:
                target = s
            else:
                raise NotModelled(f"call to {name}()", n.line, "not defined in the patch and no kernel stub",
                                  n.path)
        else:
            target = self.evp(th, fr, fn) if fn.pure else (yield from self.ev(th, fr, fn))
        args = []
        for a in argn:
            args.append(self.evp(th, fr, a) if a.pure else (yield from self.ev(th, fr, a)))
        th.line = n.line
        if type(target) is Func and target.name in self.p.functions:  # what call_value does, one generator less
            result = yield from self.run_function(th, self.p.functions[target.name], args)
        else:
            result = yield from self.call_value(th, target, args, n, fr, discarded)
        th.line = n.line
        return result

    def call_now(self, th: Thread, fr: Frame, n: N, discarded: bool) -> Any:
        """ev_call() of a call that cannot wait, as a plain function: a kernel stub that is neither raw
        nor blocking, called by name, with arguments that have no call under them. LATER (and nothing
        evaluated) for any other call: the caller runs ev_call()."""
        known = n.cache.get("now")  # what never changes for this node while the stubs stay the same
        if known is None or self.stubs.get(known[1]) is not known[0]:
            known = n.cache["now"] = self._now_target(n)
        _, name, s, argn = known
        if s is None or name in fr.block.data or name in self.globals.data:
            return LATER
        args = [self.evp(th, fr, a) for a in argn]
        th.line = n.line
        result = s(Call(self, th, fr, n, discarded), *args)
        th.line = n.line
        return result

    def _now_target(self, n: N) -> tuple:
        """(the stub named, its name, the stub call_now() may call for n or None, the argument nodes)."""
        fn = n.f["function"]
        if fn.type != "identifier":
            return None, None, None, ()
        name = fn.text
        s = self.stubs.get(name)
        if (s is None or s.raw or s.blocking or name in self.p.functions or getattr(s, "invoke", None) is not None
                or not callable(s) or not hasattr(s, "stub_name")):
            return s, name, None, ()
        argn = n.f["arguments"].kids
        if not all(a.pure for a in argn):
            return s, name, None, ()
        return s, name, s, argn

    # -- static types

    def static_type(self, fr: Frame | None, n: N) -> tuple | None:
        key = "t"
        if key in n.cache:
            return n.cache[key]
        t = self._static_type(fr, n)
        if fr is not None or n.type != "identifier":
            n.cache[key] = t
        return t

    def _static_type(self, fr: Frame | None, n: N) -> tuple | None:
        t = n.type
        if t == "identifier":
            if fr is not None and n.text in fr.types:
                return fr.types[n.text]
            if n.text in self.global_types:
                return self.global_types[n.text]
            if n.text in self.p.functions:
                return ("func", self.p.functions[n.text].ret)
            return INT
        if t == "field_expression":
            base = self.static_type(fr, n.f["argument"])
            stype = pointee(base) if n.op == "->" else base
            if stype is not None and stype[0] == "struct":
                return self.p.field_type(stype[1], n.f["field"].text)
            return None
        if t == "subscript_expression":
            return pointee(self.static_type(fr, n.f["argument"]))
        if t == "pointer_expression":
            inner = self.static_type(fr, n.f["argument"])
            if n.op == "&":
                return ("ptr", inner if inner is not None else UNKNOWN)
            return pointee(inner)
        if t == "cast_expression":
            return self.p.type_descriptor(n.f["type"])
        if t == "parenthesized_expression":
            return self.static_type(fr, n.kids[0])
        if t in ("string_literal", "concatenated_string"):
            return ("ptr", CHAR)
        if t == "conditional_expression":
            return self.static_type(fr, n.f["consequence"])
        if t == "call_expression":
            fn = n.f["function"]
            if fn.type == "identifier":
                s = self.stubs.get(fn.text)
                typer = getattr(s, "static_type", None)
                if typer is not None:
                    return typer(self, fr, n)
                if fn.text in self.p.functions:
                    return self.p.functions[fn.text].ret
            return None
        if t == "assignment_expression":
            return self.static_type(fr, n.f["left"])
        return INT

    def sizeof(self, ctype: tuple | None, n: N) -> int:
        if ctype is None or ctype == UNKNOWN:
            raise NotModelled(n.first_line(), n.line, "sizeof of a type the interpreter does not know", n.path)
        kind = ctype[0]
        if kind == "int":
            return {"char": 1, "bool": 1, "u8": 1, "s8": 1, "short": 2, "u16": 2, "s16": 2,
                    "long": 8, "u64": 8, "s64": 8, "size_t": 8}.get(ctype[1], 4)
        if kind in ("ptr", "func"):
            return 8
        if kind == "array":
            return ctype[2] * self.sizeof(ctype[1], n)
        if kind == "struct":
            fields = self.p.structs.get(ctype[1])
            if not fields:
                return 64  # an opaque kernel struct: any stable size will do
            return sum(self.sizeof(f, n) for f in fields.values())
        return 8

    def offsetof(self, stype: str, name: str, n: N | None = None) -> int:
        fields = self.p.structs.get(stype)
        if not fields or name not in fields:
            raise NotModelled(f"offsetof(struct {stype}, {name})", n.line if n else 0,
                              "the struct's layout is not in the patch", n.path if n else "")
        off = 0
        for fname, ftype in fields.items():
            if fname == name:
                return off
            off += self.sizeof(ftype, n)
        return off


_MISSING = object()


# Pure expressions compiled to closures: one per node, built once (for a whole pure subtree, children
# first, without recursion), each doing exactly what the matching branch of Machine.ev / Machine.lv
# does: the same order of evaluation, the same events and errors, raised at the same point (a
# missing child is looked up, and fails, only when the original evaluation would look it up). What
# is only known at run time but never changes afterwards for a node (its static type, once
# Machine.static_type cached it, and so its fields' types; a cast's type) is kept after first use.

_LV_TYPES = frozenset(("identifier", "field_expression", "subscript_expression", "pointer_expression",
                       "parenthesized_expression"))


def _compile_subtree(root: N) -> None:
    """Compile every node under root (post-order, iteratively: no recursion however deep the C)."""
    stack = [(root, False)]
    while stack:
        node, ready = stack.pop()
        if node.evf is not None:
            continue
        if not ready:
            stack.append((node, True))
            stack.extend((kid, False) for kid in node.kids)
            continue
        if node.type in _LV_TYPES:
            node.lvf = _lv_compiler(node)
        node.evf = _EV_COMPILERS.get(node.type, _cev_other)(node)


def _compile_ev(n: N):
    _compile_subtree(n)
    return n.evf


def _compile_lv(n: N):
    if n.evf is None:
        _compile_subtree(n)
    if n.lvf is None:
        n.lvf = _lv_other(n)
    return n.lvf


def _ev_of(n: N, name: str):
    """The evaluation of the child `name` (compiled already), or a KeyError where ev would raise it."""
    kid = n.f.get(name)
    if kid is None:
        return lambda m, th, fr: n.f[name]
    return kid.evf or _compile_ev(kid)


def _lv_of(n: N, name: str):
    kid = n.f.get(name)
    if kid is None:
        return lambda m, th, fr: n.f[name]
    return kid.lvf or _compile_lv(kid)


def _cev_ident(n: N):
    name = n.text

    def ev_ident(m, th, fr):
        data = fr.block.data
        if name in data:
            value = data[name]
            if isinstance(value, list):
                return Ptr(fr.block, (name, 0))
            return value
        return m._ident(th, fr, n)

    return ev_ident


def _cev_number(n: N):
    try:
        value = _number(n)
    except NotModelled:
        return lambda m, th, fr: _number(n)
    return lambda m, th, fr: value


def _cev_load(n: N):
    lv = n.lvf
    line = n.line

    def ev_load(m, th, fr):
        addr, _ = lv(m, th, fr)
        return m.load(th, addr, line, n.source)

    return ev_load


def _cev_paren(n: N):
    if not n.kids:
        return lambda m, th, fr: n.kids[0]
    kid = n.kids[0]
    return kid.evf or _compile_ev(kid)


def _cev_assign(n: N):
    if "left" not in n.f:
        return lambda m, th, fr: n.f["left"]
    left = n.f["left"]
    lv = left.lvf or _compile_lv(left)
    rv = _ev_of(n, "right")
    op = n.op
    line = n.line

    def ev_assign(m, th, fr):
        addr, ltype = lv(m, th, fr)
        value = rv(m, th, fr)
        if op != "=":
            old = m.load(th, addr, line, left.source)
            value = _arith(op[:-1], old, value, n)
        value = _convert(value, ltype)
        m.store(th, addr, value, line, left.source)
        return value

    return ev_assign


def _cev_binary(n: N):
    op = n.op
    a = _ev_of(n, "left")
    b = _ev_of(n, "right")
    if op == "&&":
        def ev_and(m, th, fr):
            if not m.test(a(m, th, fr), n):
                return 0
            return int(m.test(b(m, th, fr), n))
        return ev_and
    if op == "||":
        def ev_or(m, th, fr):
            if m.test(a(m, th, fr), n):
                return 1
            return int(m.test(b(m, th, fr), n))
        return ev_or

    def ev_binary(m, th, fr):
        return _arith(op, a(m, th, fr), b(m, th, fr), n)

    return ev_binary


def _cev_unary(n: N):
    op = n.op
    v = _ev_of(n, "argument")
    if op == "!":
        return lambda m, th, fr: int(not m.test(v(m, th, fr), n))
    if op == "-":
        return lambda m, th, fr: -_int(v(m, th, fr), n)
    if op == "~":
        return lambda m, th, fr: ~_int(v(m, th, fr), n)
    if op == "+":
        return v
    other = _cev_other(n)

    def ev_unary_other(m, th, fr):
        v(m, th, fr)
        return other(m, th, fr)

    return ev_unary_other


def _cev_pointer(n: N):
    if n.op == "&":
        lv = _lv_of(n, "argument")

        def ev_address(m, th, fr):
            addr, _ = lv(m, th, fr)
            return addr

        return ev_address
    v = _ev_of(n, "argument")
    line = n.line

    def ev_deref(m, th, fr):
        ptr = v(m, th, fr)
        if not isinstance(ptr, Ptr):
            raise NotModelled(n.first_line(), line, "dereference of a non-pointer", n.path)
        return m.load(th, ptr, line, n.source)

    return ev_deref


def _cev_conditional(n: N):
    c = _ev_of(n, "condition")
    gnu = "consequence" not in n.f  # GNU C's `a ?: b`
    yes = _ev_of(n, "consequence")
    no = _ev_of(n, "alternative")

    def ev_conditional(m, th, fr):
        cond = c(m, th, fr)
        if m.test(cond, n) and gnu:
            return cond
        return (yes if m.test(cond, n) else no)(m, th, fr)

    return ev_conditional


def _cev_string(n: N):
    return lambda m, th, fr: m.string(n)


def _cev_char(n: N):
    return lambda m, th, fr: _char(n)


def _cev_cast(n: N):
    v = _ev_of(n, "value")
    known: list = []

    def ev_cast(m, th, fr):
        value = v(m, th, fr)
        if known:
            ctype = known[0]
        else:
            ctype = m.p.type_descriptor(n.f["type"])
            known.append(ctype)
        return _convert(value, ctype)

    return ev_cast


def _cev_sizeof(n: N):
    def ev_sizeof(m, th, fr):
        target = n.f.get("value") or n.f.get("type")
        ctype = m.p.type_descriptor(target) if target.type == "type_descriptor" else m.static_type(fr, target)
        return m.sizeof(ctype, n)

    return ev_sizeof


def _cev_update(n: N):
    lv = _lv_of(n, "argument")
    op = n.op
    line = n.line

    def ev_update(m, th, fr):
        addr, _ = lv(m, th, fr)
        old = m.load(th, addr, line, n.source)
        new = _arith("+" if op == "++" else "-", old, 1, n)
        m.store(th, addr, new, line, n.source)
        return new if n.source.lstrip().startswith(op) else old

    return ev_update


def _cev_comma(n: N):
    a = _ev_of(n, "left")
    b = _ev_of(n, "right")

    def ev_comma(m, th, fr):
        a(m, th, fr)
        return b(m, th, fr)

    return ev_comma


def _cev_other(n: N):
    def ev_other(m, th, fr):
        t = n.type
        raise NotModelled(n.first_line(), n.line, f"a {t.replace('_', ' ')} the interpreter does not evaluate",
                          n.path)

    return ev_other


def _cev_const(value):
    return lambda n: (lambda m, th, fr: value)


_EV_COMPILERS = {
    "identifier": _cev_ident,
    "number_literal": _cev_number,
    "field_expression": _cev_load,
    "subscript_expression": _cev_load,
    "parenthesized_expression": _cev_paren,
    "assignment_expression": _cev_assign,
    "binary_expression": _cev_binary,
    "unary_expression": _cev_unary,
    "pointer_expression": _cev_pointer,
    "conditional_expression": _cev_conditional,
    "string_literal": _cev_string,
    "concatenated_string": _cev_string,
    "char_literal": _cev_char,
    "true": _cev_const(1),
    "false": _cev_const(0),
    "null": _cev_const(NULL),
    "cast_expression": _cev_cast,
    "sizeof_expression": _cev_sizeof,
    "update_expression": _cev_update,
    "comma_expression": _cev_comma,
}


def _lv_other(n: N):
    def lv_other(m, th, fr):
        t = n.type
        raise NotModelled(n.first_line(), n.line, f"a {t.replace('_', ' ')} used as an lvalue", n.path)

    return lv_other


def _lv_compiler(n: N):
    t = n.type
    if t == "identifier":
        name = n.text
        key = (name,)

        def lv_ident(m, th, fr):
            if name in fr.block.data:
                return Ptr(fr.block, key), fr.types.get(name)
            if name in m.globals.data:
                return Ptr(m.globals, key), m.global_types.get(name)
            raise NotModelled(name, n.line, "an identifier the patch does not declare", n.path)

        return lv_ident
    if t == "field_expression":
        if "argument" not in n.f or "field" not in n.f:
            return lambda m, th, fr: (n.f["argument"], n.f["field"])
        arg = n.f["argument"]
        name = n.f["field"].text
        tail = (name,)
        line = n.line
        arrow = n.op == "->"
        base_ev = (arg.evf or _compile_ev(arg)) if arrow else None
        base_lv = None if arrow else (arg.lvf or _compile_lv(arg))
        types: list = []  # (stype, ftype) of `arg->name` once known: they never change for this node

        def lv_field(m, th, fr):
            if arrow:
                base = base_ev(m, th, fr)
                if not isinstance(base, Ptr):
                    raise NotModelled(n.first_line(), line, "-> on a value that is not a pointer", n.path)
                if types:
                    stype, ftype = types[0]
                else:
                    stype = pointee(m.static_type(fr, arg))
                    ftype = _NOT_YET
            else:
                base, stype = base_lv(m, th, fr)
                ftype = _NOT_YET
            bb = base.base
            if bb is None:
                m.event("null-deref", th, line, n.path, what=n.source)
                raise Fault("null-deref", line, n.source)
            path = base.path
            last = path[-1] if path else None
            if type(last) is tuple and last[0] == "container_of" and last[1] == name:
                addr = Ptr(bb, path[:-1])
            else:
                addr = Ptr(bb, path + tail)
            is_struct = stype is not None and stype[0] == "struct"
            if is_struct and not path:
                data = bb.data
                if isinstance(data, Struct) and data.stype is None:
                    data.stype = stype[1]
            if ftype is _NOT_YET:
                ftype = m.p.field_type(stype[1], name) if is_struct else None
                if arrow:
                    types.append((stype, ftype))
            return addr, ftype

        return lv_field
    if t == "subscript_expression":
        a = _ev_of(n, "argument")
        ix = _ev_of(n, "index")

        def lv_subscript(m, th, fr):
            base = a(m, th, fr)
            index = _int(ix(m, th, fr), n)
            if not isinstance(base, Ptr) or not base.path or not isinstance(base.path[-1], int):
                raise NotModelled(n.first_line(), n.line, "indexing something that is not an array", n.path)
            return Ptr(base.base, base.path[:-1] + (base.path[-1] + index,)), pointee(m.static_type(fr, n.f["argument"]))

        return lv_subscript
    if t == "pointer_expression" and n.op == "*":
        v = _ev_of(n, "argument")

        def lv_deref(m, th, fr):
            ptr = v(m, th, fr)
            if not isinstance(ptr, Ptr):
                raise NotModelled(n.first_line(), n.line, "dereference of a non-pointer", n.path)
            return ptr, pointee(m.static_type(fr, n.f["argument"]))

        return lv_deref
    if t == "parenthesized_expression":
        if not n.kids:
            return lambda m, th, fr: n.kids[0]
        kid = n.kids[0]
        return kid.lvf or _compile_lv(kid)
    return _lv_other(n)


_NOT_YET = object()


def member(base: Ptr, name: str) -> Ptr:
    """&base->name, also for the past-the-end entry of a list walk (container_of of the head)."""
    path = base.path
    if path and isinstance(path[-1], tuple) and path[-1][0] == "container_of":
        if path[-1][1] == name:
            return Ptr(base.base, path[:-1])
    return Ptr(base.base, path + (name,))


def container_of(ptr: Ptr, name: str) -> Ptr:
    if ptr.base is None:
        return ptr
    if ptr.path and ptr.path[-1] == name:
        return Ptr(ptr.base, ptr.path[:-1])
    return Ptr(ptr.base, ptr.path + (("container_of", name),))


def _maybe_gen(value):
    if hasattr(value, "send") and hasattr(value, "throw"):
        return (yield from value)
    return value


def _find_label(kids: list[N], label: str) -> int | None:
    for i, kid in enumerate(kids):
        if kid.type == "labeled_statement" and kid.f.get("label") is not None and kid.f["label"].text == label:
            return i
    return None


def _number(n: N) -> int:
    text = n.text.rstrip("uUlL")
    try:
        return int(text, 0)
    except ValueError:
        if text.isdigit():
            return int(text, 10)
        raise NotModelled(n.text, n.line, "a number the interpreter does not read", n.path) from None


_ESCAPES = {"n": 10, "t": 9, "0": 0, "\\": 92, "'": 39, '"': 34, "r": 13}


def _char(n: N) -> int:
    body = n.source[1:-1]
    if body.startswith("\\"):
        return _ESCAPES.get(body[1:2], 0)
    return ord(body) if body else 0


def _string_bytes(n: N) -> bytes:
    out = bytearray()
    parts = n.kids if n.type == "concatenated_string" else [n]
    for part in parts:
        for kid in part.kids:
            if kid.type == "string_content":
                out.extend(kid.source.encode())
            elif kid.type == "escape_sequence":
                out.append(_ESCAPES.get(kid.source[1:2], 0))
    return bytes(out)


def _int(v: Any, n: N) -> int:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if v is UNINIT:
        raise NotModelled(n.first_line(), n.line, "arithmetic on memory the code never wrote", n.path)
    raise NotModelled(n.first_line(), n.line, f"arithmetic on {v!r}", n.path)


def _arith(op: str, a: Any, b: Any, n: N) -> Any:
    if op in ("==", "!="):
        if isinstance(a, Ptr) or isinstance(b, Ptr) or isinstance(a, Func) or isinstance(b, Func):
            eq = _ptr_eq(a, b)
        else:
            eq = _int(a, n) == _int(b, n)
        return int(eq if op == "==" else not eq)
    if isinstance(a, Ptr) and op in ("+", "-") and isinstance(b, int):
        if a.path and isinstance(a.path[-1], int):
            return Ptr(a.base, a.path[:-1] + (a.path[-1] + (b if op == "+" else -b),))
        raise NotModelled(n.first_line(), n.line, "pointer arithmetic outside an array", n.path)
    x, y = _int(a, n), _int(b, n)
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if op == "/":
        if y == 0:
            raise NotModelled(n.first_line(), n.line, "division by zero", n.path)
        return int(x / y)
    if op == "%":
        return x % y if y else 0
    if op == "<":
        return int(x < y)
    if op == ">":
        return int(x > y)
    if op == "<=":
        return int(x <= y)
    if op == ">=":
        return int(x >= y)
    if op == "&":
        return x & y
    if op == "|":
        return x | y
    if op == "^":
        return x ^ y
    if op == "<<":
        return x << y
    if op == ">>":
        return x >> y
    raise NotModelled(n.first_line(), n.line, f"operator {op}", n.path)


def _ptr_eq(a: Any, b: Any) -> bool:
    if isinstance(a, Ptr) and isinstance(b, Ptr):
        return a == b
    if isinstance(a, Ptr):
        return a.base is None and b == 0
    if isinstance(b, Ptr):
        return b.base is None and a == 0
    return a == b


def _convert(value: Any, ctype: tuple | None) -> Any:
    if ctype == BOOL and value is not UNINIT:
        return int(truth(value))
    if ctype is not None and ctype[0] == "int" and isinstance(value, bool):
        return int(value)
    return value


_ARITY: dict[int, Any] = {}


def _arity_fits(stub: Callable, nargs: int) -> bool:
    """Whether a raw stub (ctx, *argument nodes) accepts nargs argument nodes."""
    import inspect

    sig = _ARITY.get(id(stub))
    if sig is None:
        try:
            sig = _ARITY[id(stub)] = inspect.signature(stub)
        except (TypeError, ValueError):
            return True
    try:
        sig.bind(None, *([None] * nargs))
    except TypeError:
        return False
    return True
