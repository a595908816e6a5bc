"""RCU007: RCU callbacks of a module can still be pending when the module is unloaded.

call_rcu(), call_srcu() and kfree_rcu() only queue work: the callback runs after a grace period,
which can be after the module's exit function returned. Two things then go away under it:

* a kmem_cache the exit function destroys, that a callback frees into (kmem_cache_free(cache, ...)
  in a function handed to call_rcu()/call_srcu(), or kfree_rcu() of an object allocated from that
  cache): the finding is at the kmem_cache_destroy() that no rcu_barrier() precedes;
* the callback's code itself, when the module passes one of its own functions to call_rcu() /
  call_srcu() and the exit path never waits for pending callbacks: the finding is at the first
  line of the exit function.

The exit path is the function named in module_exit() (and `__exit` functions), with the functions
of the file it calls inlined in call order. A wait is rcu_barrier() (srcu_barrier(&d) for callbacks
of SRCU domain d, rcu_barrier_tasks*() for the Tasks flavours), directly, in a function of the file
it calls, or in a kernel function known to run one (unregister_pernet_subsys(),
unregister_pernet_device(), ...). Caches created SLAB_TYPESAFE_BY_RCU are left alone:
kmem_cache_destroy() waits for them itself. A file without a module exit cannot be unloaded.
"""

from __future__ import annotations

import re

from reviewbot.engine import Hit
from reviewbot.facts import rcu
from reviewbot.facts.types import squash

# queueing call -> the barrier that waits for what it queued ("srcu" is per domain)
QUEUES = {"call_rcu": "rcu", "call_rcu_hurry": "rcu", "call_srcu": "srcu", "call_rcu_tasks": "tasks",
          "call_rcu_tasks_trace": "tasks_trace", "call_rcu_tasks_rude": "tasks_rude"}
BARRIERS = {"rcu_barrier": "rcu", "rcu_barrier_bh": "rcu", "rcu_barrier_sched": "rcu",
            "rcu_barrier_tasks": "tasks", "rcu_barrier_tasks_trace": "tasks_trace",
            "rcu_barrier_tasks_rude": "tasks_rude", "srcu_barrier": "srcu"}
# kernel functions that run rcu_barrier() on every call (read from their Linux sources)
BARRIER_CALLERS = {"unregister_pernet_subsys", "unregister_pernet_device", "unregister_tcf_proto_ops",
                   "tcf_unregister_action", "elv_unregister", "target_backend_unregister",
                   "target_unregister_template"}
KFREE_RCU = {"kfree_rcu", "kvfree_rcu", "kfree_rcu_mightsleep", "kvfree_rcu_mightsleep"}
ALLOCS = re.compile(r"^(?:\(\s*[\w\s\*]+\)\s*)?(kmem_cache_z?alloc\w*)\s*\(\s*([^,()]+)")
EXIT = re.compile(r"\b__exit\b")
MAX_DEPTH = 4


def check(ctx):
    facts = ctx.facts
    names = {c.name for c in facts.calls}
    if not names & (set(QUEUES) | KFREE_RCU) or not ("module_exit" in names or b"__exit" in ctx.unit.source):
        return
    # a file that can be built as a module declares its license; one without (a bool Kconfig
    # symbol, its module_exit() kept for symmetry) is never unloaded
    if "MODULE_LICENSE" not in names:
        return
    exits = _exit_functions(ctx)
    if not exits:
        return
    judge = _Judge(ctx)
    queued = judge.queued()  # (call, callback or None, flavour, domain)
    if not queued:
        return
    reported_exits, lines = set(), set()
    for exit_fn in exits:
        path = judge.flatten(exit_fn)
        for hit in judge.cache_hits(exit_fn, path, queued):
            reported_exits.add(exit_fn)
            if hit.line not in lines:
                lines.add(hit.line)
                yield hit
    own = [q for q in queued if q[1] is not None]
    if not own:
        return
    # the code form, for each module_exit() function (an `__exit` helper is called from an exit
    # elsewhere, which may wait): does its path wait for the callbacks at all?
    for exit_fn in exits:
        if exit_fn not in judge.module_exits or exit_fn in reported_exits:
            continue
        waits = set()
        for call, _ in judge.flatten(exit_fn):
            waits |= judge.waits(call)
        missing = [q for q in own if not _covered(q, waits)]
        if missing:
            yield judge.code_hit(exit_fn, missing)


def _exit_functions(ctx) -> list[str]:
    """module_exit(fn) targets, then the file's `__exit` functions."""
    facts = ctx.facts
    out = [squash(c.args[0]) for c in facts.calls if c.name == "module_exit" and c.function is None and c.args]
    source = ctx.unit.source
    if b"__exit" in source:
        for node in ctx.unit.functions():
            name = ctx.unit.function_name(node)
            if not name or name in out:
                continue
            body = node.child_by_field_name("body")
            head = source[node.start_byte:body.start_byte if body is not None else node.end_byte]
            if EXIT.search(head.decode("utf-8", "replace")):
                out.append(name)
    return [name for name in out if facts.function(name) is not None]


ANY = {("*", None)}


def _covered(q, waits) -> bool:
    _, _, flavour, domain = q
    if ("*", None) in waits:
        return True
    if flavour == "srcu":
        return ("srcu", domain) in waits or ("srcu", "*") in waits
    return (flavour, None) in waits


class _Judge:
    def __init__(self, ctx):
        self.ctx = ctx
        self.facts = ctx.facts
        index = rcu.index(ctx)  # the file's calls by function and its function names, shared
        self.local = index.names
        self.by_function = index.calls_by_function
        for calls in self.by_function.values():
            calls.sort(key=lambda c: c.lines)
        self.module_exits = {squash(c.args[0]) for c in self.facts.calls
                             if c.name == "module_exit" and c.function is None and c.args}
        self._flat: dict[str, list] = {}
        self._idx = None

    @property
    def idx(self):
        if self._idx is None:
            self._idx = rcu.index(self.ctx)
        return self._idx

    def queued(self) -> list[tuple]:
        """(queueing call, the file's callback function or None, flavour, SRCU domain)."""
        out = []
        for c in self.facts.calls:
            if c.function is None:
                continue
            flavour = QUEUES.get(c.name)
            if flavour is not None and c.args:
                cb = squash(c.args[-1]).lstrip("&")
                domain = squash(c.args[0]) if flavour == "srcu" else None
                out.append((c, cb if cb in self.local else None, flavour, domain))
            elif c.name in KFREE_RCU and c.args:
                out.append((c, None, "rcu", None))
        return out

    # -- the exit path

    def flatten(self, function: str, depth: int = 0, seen: frozenset = frozenset()) -> list[tuple]:
        """The calls an exit function makes, in order, with the file's functions it calls
        inlined: [(call, (caller chain...))]."""
        if depth == 0 and function in self._flat:
            return self._flat[function]
        out = []
        for c in self.by_function.get(function, []):
            out.append((c, seen | {function}))
            if c.name in self.local and c.name not in seen and c.name != function and depth < MAX_DEPTH:
                out += self.flatten(c.name, depth + 1, seen | {function})
        if depth == 0:
            self._flat[function] = out
        return out

    def waits(self, call) -> set:
        flavour = BARRIERS.get(call.name)
        if flavour == "srcu":
            return {("srcu", squash(call.args[0]) if call.args else "*")}
        if flavour is not None:
            return {(flavour, None)}
        if call.name in BARRIER_CALLERS:
            return {("rcu", None)}
        if "barrier" in call.name and call.name not in ("barrier", "smp_mb", "wmb"):
            return ANY  # cur_ops->cb_barrier(), a wrapper of the subsystem: taken as a wait
        return set()

    # -- the cache form

    def cache_hits(self, exit_fn, path, queued):
        frees = self.callback_caches(queued)
        if not frees:
            return
        waits: set = set()
        for call, chain in path:
            waits |= self.waits(call)
            if call.name != "kmem_cache_destroy" or not call.args:
                continue
            cache = squash(call.args[0])
            if cache in self.idx.typesafe_caches:
                continue
            pending = [f for f in frees.get(cache, []) if not _covered(f[0], waits)]
            if pending:
                yield self._cache_hit(exit_fn, call, chain, cache, pending)

    def callback_caches(self, queued) -> dict[str, list]:
        """cache -> [(queued entry, how the callback frees into it, line)] for callbacks that free
        into a cache of the file, and kfree_rcu() of objects allocated from one."""
        out: dict[str, list] = {}
        for q in queued:
            call, cb, flavour, domain = q
            if cb is not None:
                for free, via in self._frees_in(cb, 0, frozenset()):
                    out.setdefault(squash(free.args[0]), []).append((q, f"{via}kmem_cache_free({free.args[0]}, ...)",
                                                                     free.lines[0]))
            elif call.name in KFREE_RCU:
                cache = self._cache_of(call.function, call.args[0])
                if cache:
                    out.setdefault(cache, []).append((q, f"{call.name}({', '.join(call.args)})", call.lines[0]))
        return out

    def _frees_in(self, function, depth, seen):
        for c in self.by_function.get(function, []):
            if c.name == "kmem_cache_free" and len(c.args) >= 2:
                yield c, f"{function}() calls " if depth else ""
            elif c.name in self.local and c.name not in seen and c.name != function and depth < MAX_DEPTH:
                for free, via in self._frees_in(c.name, depth + 1, seen | {function}):
                    yield free, f"{function}() -> {via}"

    def _cache_of(self, function, expr) -> str | None:
        """The cache an object passed to kfree_rcu() comes from: the cache the file allocates
        objects of its struct type from."""
        text = squash(expr)
        m = re.fullmatch(r"\(?(\w+)\)?", text)
        if not m:
            return None
        struct = self.idx.types.struct_of(function, m.group(1))
        if struct is None:
            return None
        for a in self.facts.assignments:
            found = ALLOCS.match(a.value)
            if found and a.function and re.fullmatch(r"\w+", squash(a.target)) and \
                    self.idx.types.struct_of(a.function, squash(a.target)) == struct:
                return squash(found.group(2))
        return None

    def _cache_hit(self, exit_fn, destroy, chain, cache, pending) -> Hit:
        q, how, line = pending[0]
        call, cb, flavour, domain = q
        barrier = _barrier(q)
        if cb is not None:
            what = (f"{cb}(), queued with {call.name}() on line {call.lines[0]}, frees into it "
                    f"({how}, line {line}): callbacks still pending at unload then free into a destroyed "
                    f"cache, and run code the module no longer has")
        else:
            what = (f"objects from it are freed with {how} on line {call.lines[0]}: those still waiting for "
                    f"their grace period at unload are then freed into a destroyed cache")
        where = exit_fn + "()" if destroy.function == exit_fn else f"{exit_fn}() (through {destroy.function}())"
        message = (f"{where} destroys {cache} here, but {what}. Should {barrier} come before "
                   f"kmem_cache_destroy({cache})?")
        trace = (f"{call.lines[0]}: {call.name}() queues {cb + '()' if cb else call.args[0]}",)
        if cb is not None:
            trace += (f"{line}: {how}",)
        trace += (f"{destroy.lines[0]}: kmem_cache_destroy({cache}) with no {barrier} before it",)
        return Hit(line=destroy.lines[0], end_line=destroy.lines[1], related=(call.lines[0], line),
                   message=message, trace=trace)

    # -- the code form

    def code_hit(self, exit_fn, missing) -> Hit:
        fn = self.facts.function(exit_fn)
        call, cb, _, _ = missing[0]
        barriers = list(dict.fromkeys(_barrier(q) for q in missing))
        queues = list(dict.fromkeys(f"{q[0].name}()" for q in missing))
        others = list(dict.fromkeys(q[1] + "()" for q in missing[1:] if q[1] != cb))
        more = f" (and {', '.join(others)})" if others else ""
        message = (f"The module hands its own function {cb}(){more} to {'/'.join(queues)} (line {call.lines[0]}), "
                   f"but its exit function {exit_fn}() never waits for pending callbacks: one still queued "
                   f"at unload runs {cb}() after the module's code has been freed. Should {exit_fn}() call "
                   f"{' and '.join(barriers)} once no new callback can be queued?")
        trace = tuple(f"{q[0].lines[0]}: {q[0].name}(..., {q[1]}) queues a callback of this module" for q in missing[:4]) + \
            (f"{fn.lines[0]}: {exit_fn}() returns without {' or '.join(barriers)}",)
        return Hit(line=fn.lines[0], end_line=fn.lines[0], related=tuple(q[0].lines[0] for q in missing),
                   message=message, trace=trace)


def _barrier(q) -> str:
    _, _, flavour, domain = q
    if flavour == "srcu":
        return f"srcu_barrier({domain})"
    return "rcu_barrier()" if flavour == "rcu" else f"rcu_barrier_{flavour}()"
