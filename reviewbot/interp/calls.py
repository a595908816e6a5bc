"""Calls and threads: a thread runs one call; calls go to the patch's functions (a new frame),
to kernel stubs (reviewbot.interp.kernel), or through function pointers to those or to Python
objects a scenario supplies (anything with `invoke(call, args)`, e.g. a BPF program)."""

from __future__ import annotations

from typing import Any, Callable

from reviewbot.interp.errors import Fault, NotModelled
from reviewbot.interp.frames import LATER, Call, Frame, Thread
from reviewbot.interp.memory import BOOL, LAZY, UNINIT, Func, Ptr, truth
from reviewbot.interp.program import FuncDef, N


class Calls:
    """Running calls: a mixin of `Machine`."""

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
            if target.base.zeroed is LAZY:  # a function pointer of a world's lazy object: a havoc callee
                fn = self.stubs.get("(*" + (node.f["function"].source if node is not None else "fn") + ")")
                return fn(Call(self, th, fr, node, discarded), *args)
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


def _maybe_gen(value):
    if hasattr(value, "send") and hasattr(value, "throw"):
        return (yield from value)
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
