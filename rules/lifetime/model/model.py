"""The lifetime model: run the roles a file's RCU code plays against each other, interleaved.

1. Roles (roles.py, from the file's RcuIndex): readers of a slot, its retirers and publishers,
   grace-period waits and the read-side sections of their domain, functions that find objects
   inside a section of their own, module exit and the functions that queue RCU callbacks.
   A file whose text has no RCU word is not parsed; a file with no roles costs its RCU view.
2. Worlds (reviewbot.explore): one shared object graph: each parameter of pointer-to-struct type
   is the one lazy object of that type (so the reader's `dd` is the retirer's `dd`), integers are
   1, lists a reader walks hold the object the retirer is given; unknown callees are havoc stubs
   (reviewbot.interp.havoc).
3. Scenarios, each explored at every step (the second thread started after k steps of the first):
   retire: a retirer against a reader of the same slot (LIFE001, LIFE002);
   found: an updater that waits for a grace period and frees what the reader found so far, against
   a reader with a section of its own (LIFE002);
   wait: a grace-period wait against a reader of its domain (LIFE003);
   publish: a publisher run alone; a store to the object after it was published is a field a reader
   loading it in between reads uninitialised (LIFE004);
   teardown: a function that queues an RCU callback and then the module exit, while a reader holds
   the grace period (LIFE005).
4. Every divergence is placed at the line of the function under review that leads to it (the call
   in the retirer that freed, the use after the unlock, the wait, the publication), with the
   smallest interleaving as its trace. Scenarios that ran to the end with no divergence are
   reported as `explored` (the lines they ran), which the engine uses to refute rule findings.

Whatever the interpreter cannot run is not modelled, with the construct and the reason.
"""

from __future__ import annotations

import time
from typing import Any

from reviewbot import csource
from reviewbot.explore import Candidate, Explorer, World, at, trace
from reviewbot.facts import rcu
from reviewbot.interp.errors import NotModelled
from reviewbot.interp.frames import Call
from reviewbot.interp.havoc import Lazy, stubs_for
from reviewbot.interp.kernel import close_section, domain, free_block, open_section, wait_for_readers
from reviewbot.interp.machine import Machine
from reviewbot.interp.memory import Func, HavocPtr, Ptr
from reviewbot.interp.program import FuncDef, N, Program, walk
from reviewbot.interp.sched import run_alone, run_interleaved
from reviewbot.models import Divergence, ModelResult, sibling_module


roles_mod = sibling_module(__file__, "roles")
contract = sibling_module(__file__, "contract")

MODEL = "lifetime"
MAX_STEPS = 300  # steps of the first thread an interleaving explores
BUDGET = 2.0  # seconds of exploration per file; what is left unexplored is said as not modelled
CONFIRMS = {"LIFE001": ("RCU001", "SRCU005", "RCU009"), "LIFE002": ("RCU002",), "LIFE003": ("RCU008",),
            "LIFE004": ("RCU006",), "LIFE005": ("RCU007",)}


# -- the machine: call stacks, lines run, stores after publication ------------------------------------

class Returned:
    """A step of its own inside a read-side section: a called function has returned a pointer, and
    its caller has not used it yet. C gives the caller the pointer in a register; another CPU can run before the caller
    dereferences it (`HFSPLUS_SB(sb)->nls`: the sb info loaded, then freed, then read)."""

    __slots__ = ("line", "name")

    def __init__(self, line: int, name: str):
        self.line = line
        self.name = name

    def first_line(self) -> str:
        return f"{self.name}() has returned a pointer its caller has not used yet"


class LifetimeMachine(Machine):
    def run_function(self, th, fd, args):
        stack = th.__dict__.setdefault("stack", [])
        call_line = th.line
        stack.append((fd.name, call_line))
        try:
            result = yield from super().run_function(th, fd, args)
        finally:
            stack.pop()
        if stack and th.sections and type(result) is Ptr and result.base is not None and result.base.owner is not None:
            yield Returned(call_line, fd.name)
        return result

    def store(self, th, addr, value, line=0, what=""):
        base = addr.base
        if base is not None and th is not None:
            pub = self.kstate.get("published")
            written = self.kstate.setdefault("written", {}).setdefault(id(base), set())
            key = addr.path[:2]
            if pub and id(base) in pub and key not in written:
                at_line, who, slot_text = pub[id(base)]
                if who == th.name and what:
                    self.event("init-after-publish", th, line or th.line, th.file, block=base, what=what,
                               published=at_line, slot=slot_text, site=_site(th, line or th.line))
            written.add(key)
        return super().store(th, addr, value, line, what)


def _site(th, line: int) -> int:
    """The line of the function the thread was started on that leads to `line` (the call in it)."""
    stack = getattr(th, "stack", None) or []
    return stack[1][1] if len(stack) > 1 else line


def _covering(gen, lines: set):
    """A thread body that notes the line of every statement it runs."""
    while True:
        try:
            y = next(gen)
        except StopIteration as stop:
            return stop.value
        if type(y) is N:
            lines.add(y.line)
        yield y


# -- stubs of the model: what was published, what was freed where ---------------------------------

def _publishing(name: str, stubs: dict):
    inner = stubs[name]

    if inner.raw:
        def raw_pub(ctx, lhs, rhs, *rest):
            out = inner(ctx, lhs, rhs, *rest)
            result = (yield from out) if hasattr(out, "send") else out
            value = yield from ctx.m.ev(ctx.th, ctx.fr, rhs)
            _published(ctx, value, lhs.source)
            return result

        raw_pub.stub_name, raw_pub.raw, raw_pub.blocking = name, True, False
        return raw_pub

    def pub(ctx, new, head, *rest):
        result = inner(ctx, new, head, *rest)
        _published(ctx, new, ctx.arg_text(1))
        return result

    pub.stub_name, pub.raw, pub.blocking = name, False, False
    return pub


def _published(ctx: Call, value: Any, slot_text: str) -> None:
    if isinstance(value, Ptr) and value.base is not None:
        ctx.m.kstate.setdefault("published", {})[id(value.base)] = (ctx.line, ctx.th.name, slot_text)
        ctx.log(f"publishes {value.base.label} in {slot_text.lstrip('&')}")


def _freeing(name: str, stubs: dict):
    inner = stubs[name]

    def free(ctx, *args):
        result = inner(ctx, *args)
        for a in args:
            if isinstance(a, Ptr) and a.base is not None and a.base.freed and a.base.free_line == ctx.line:
                ctx.m.kstate.setdefault("free_site", {})[id(a.base)] = _site(ctx.th, ctx.line)
        return result

    free.stub_name, free.raw, free.blocking = name, False, False
    return free


def _stubs(prog: Program) -> dict:
    base = stubs_for(prog, lazy=Lazy(prog))
    for name in ("rcu_assign_pointer",):
        base[name] = _publishing(name, base)
    for name in ("kfree", "kvfree", "kmem_cache_free", "kmem_cache_destroy", "vfree"):
        base[name] = _freeing(name, base)
    for name in ("rcu_dereference", "rcu_dereference_bh", "rcu_dereference_sched", "rcu_dereference_check",
                 "rcu_dereference_bh_check", "rcu_dereference_sched_check", "srcu_dereference",
                 "srcu_dereference_check", "list_first_or_null_rcu", "list_entry_rcu", "rcu_access_pointer",
                 "rcu_dereference_protected", "rcu_dereference_raw"):
        if name in base:
            base[name] = _finding(name, base)
    return base


def _pointer(value: Any) -> Any:
    """What an RCU accessor returns is a pointer: a havoc value there is an object, not 0."""
    if type(value) is HavocPtr:
        return Ptr(value.base, value.path)
    return value


def _finding(name: str, stubs: dict):
    """A load a reader makes inside its section: what it found (an updater may free it after the
    grace period)."""
    inner = stubs.get(name)
    from reviewbot.interp.havoc import found

    if inner.raw:
        def raw_find(ctx, *nodes):
            out = inner(ctx, *nodes)
            value = _pointer((yield from out) if hasattr(out, "send") else out)
            found(ctx, value, f"{name}()")
            return value

        raw_find.stub_name, raw_find.raw, raw_find.blocking = name, True, False
        raw_find.static_type = getattr(inner, "static_type", None)
        return raw_find

    def find(ctx, *args):
        value = _pointer(inner(ctx, *args))
        found(ctx, value, f"{name}()")
        return value

    find.stub_name, find.raw, find.blocking = name, False, False
    find.static_type = getattr(inner, "static_type", None)
    return find


# -- worlds -------------------------------------------------------------------------------------

class LifetimeWorld(World):
    def __init__(self, program: Program, stubs: dict, kind: str, what: str, size: int = 1):
        self.m = LifetimeMachine(program, stubs)
        self.kind = kind
        self.header = []
        self.trace_from = 0
        self.trace_end = None
        self.what = what
        self._size = size
        self.shared: dict[str, Ptr] = {}
        self.lines: set[int] = set()

    @property
    def size(self) -> int:
        return self._size

    def describe(self) -> str:
        return self.what

    def forked(self, new, memo):
        from reviewbot.interp.memory import clone_value

        new.shared = {k: clone_value(v, memo) for k, v in self.shared.items()}
        new.lines = set()

    def args(self, fd: FuncDef) -> list:
        lazy = self.m.stubs["__lazy__"]
        out = []
        for name, t in fd.params:
            if t[0] == "ptr" and t[1][0] == "struct":
                obj = self.shared.get(t[1][1])
                if obj is None:
                    obj = self.shared[t[1][1]] = lazy.pointer(t[1], f"the struct {t[1][1]} ({name})")
                out.append(obj)
            elif t[0] in ("ptr", "array"):
                out.append(lazy.make(self.m, t if t[0] == "ptr" else ("ptr", t[1]), name))
            else:
                out.append(1)
        return out

    def thread(self, name: str, fd: FuncDef, wrap: str | None = None):
        """A thread calling fd with the world's arguments (inside rcu_read_lock() when `wrap`)."""
        m = self.m
        args = self.args(fd)
        th = m.thread(name, None, [])

        def body(th):
            ctx = Call(m, th, None, None, False)
            if wrap:
                open_section(ctx, domain(m, "rcu"))
                m.log(th, 0, f"is in a read-side section of RCU (its callers' rcu_read_lock()) and calls {fd.name}()")
            result = yield from m.call_value(th, Func(fd.name), args, None, None, False)
            if wrap:
                close_section(ctx, domain(m, "rcu"), None, "")
                m.log(th, 0, "leaves the read-side section")
            return result

        th.gen = _covering(body(th), self.lines)
        return th


# -- the exploration ----------------------------------------------------------------------------

class Run:
    def __init__(self, path: str, prog: Program, idx, roles, result: ModelResult, deadline: float):
        self.path = path
        self.prog = prog
        self.idx = idx
        self.roles = roles
        self.result = result
        self.ex = Explorer()
        self.deadline = deadline
        self.stubs = _stubs(prog)
        self.nm_seen: set = set()

    def nm(self, exc: NotModelled, what: str) -> None:
        key = (exc.line, exc.construct)
        if key in self.nm_seen:
            return
        self.nm_seen.add(key)
        self.result.not_modelled.append({"file": exc.file or self.path, "line": exc.line, "construct": exc.construct,
                                         "reason": f"{exc.reason} (while running {what})".strip()})

    def fd(self, name: str) -> FuncDef | None:
        fd = self.prog.functions.get(name)
        return fd if fd is not None and fd.path == self.path else None

    def explore(self, what: str, make, first, second, rules: tuple[str, ...], needs: set[int], events,
                exercised=None, start: int = 0) -> None:
        """Every interleaving of `second` started at every step of `first` from its `start`-th; an
        explored entry when every one ran to its end without a divergence and reached `needs`."""
        if time.monotonic() > self.deadline:
            self.result.not_modelled.append({"file": self.path, "line": 0, "construct": what,
                                             "reason": "not explored: the model's time for this file ran out"})
            return
        before = len(self.ex.best)
        lines: set[int] = set()
        hazard = False
        # What runs before a construct the interpreter cannot run is a real prefix of the
        # execution: its interleavings are explored and a divergence in them is said; the scenario
        # is still not modelled, so it refutes nothing.
        cut: NotModelled | None = None
        try:
            w0 = make()
            steps = 0
            th = first(w0)
            try:
                run_alone(w0.m, th)
            except NotModelled as exc:
                cut = exc
            steps = min(th.steps, MAX_STEPS)
            for k in range(start, steps + 1):
                w = make()
                a, b = first(w), second(w)
                self.ex.worlds += 1
                try:
                    if not run_interleaved(w.m, a, b, k):
                        break
                except NotModelled as exc:
                    if exc.construct == what:  # the model's own time limit
                        raise
                    cut = cut or exc
                events(w, a, b)
                lines |= w.lines
                hazard = hazard or (exercised is not None and exercised(w, a, b))
                if time.monotonic() > self.deadline:
                    raise NotModelled(what, 0, "the model's time for this file ran out", self.path)
        except NotModelled as exc:
            self.nm(exc, what)
            return
        except Exception as exc:  # noqa: BLE001 - the interpreter's own limits: said, never guessed
            self.result.not_modelled.append({"file": self.path, "line": 0, "construct": what,
                                             "reason": f"the interpreter failed: {type(exc).__name__}"})
            return
        if cut is not None:
            self.nm(cut, what)
            return
        # a refutation needs the hazard to have been there: what the reader loaded freed or queued
        # for freeing, a lock both threads take, something published
        if len(self.ex.best) == before and needs <= lines and hazard:
            self.result.explored.append({"file": self.path, "rules": list(rules), "lines": sorted(lines),
                                         "what": what})

    # -- scenarios

    def world(self, what: str, size: int = 1) -> LifetimeWorld:
        return LifetimeWorld(self.prog, self.stubs, "race", what, size)

    def retire(self) -> None:
        pairs = 0
        for key, slot in sorted(self.roles.slots.items()):
            for reader in slot.readers:
                for retirer, unpublish in slot.retirers:
                    rd, rt = self.fd(reader), self.fd(retirer)
                    if rd is None or rt is None or reader == retirer or pairs >= roles_mod.MAX_PAIRS:
                        continue
                    pairs += 1
                    self._retire(key, slot, rd, rt)

    def _wrap(self, fd: FuncDef) -> str | None:
        s = self.idx.summaries.get(fd.name)
        if s is not None and any(k == "rcu" or k.startswith("srcu") for k in s.takes):
            return None
        return "rcu"

    def _populate(self, w: LifetimeWorld, slot, reader: FuncDef) -> None:
        """Put the retirer's object on the lists the reader walks (head -> entry -> head)."""
        etype = roles_mod.entry_type(slot.key)
        if etype is None:
            return
        for fn, line, head, member in slot.loops:
            if fn != reader.name:
                continue
            node = _loop_head(reader, line)
            if node is None or not node.pure:
                continue
            th = w.m.thread("setup", None, [])
            from reviewbot.interp.frames import Frame

            fr = Frame(reader, f"locals of {reader.name}")
            for (pname, ptype), value in zip(reader.params, w.args(reader)):
                fr.types[pname] = ptype
                fr.block.data[pname] = value
            try:
                head_ptr = w.m.evp(th, fr, node)
            except NotModelled:
                continue
            finally:
                w.m.threads.remove(th)
            entry = w.shared.get(etype)
            if entry is None:
                entry = w.shared[etype] = w.m.stubs["__lazy__"].pointer(("struct", etype), f"the struct {etype} on the list")
            if not isinstance(head_ptr, Ptr) or head_ptr.base is None:
                continue
            node_ptr = Ptr(entry.base, entry.path + (member,))
            _poke(w.m, head_ptr.field("next"), node_ptr)
            _poke(w.m, head_ptr.field("prev"), node_ptr)
            _poke(w.m, node_ptr.field("next"), head_ptr)
            _poke(w.m, node_ptr.field("prev"), head_ptr)

    def _retire(self, key, slot, rd: FuncDef, rt: FuncDef) -> None:
        wrap = self._wrap(rd)
        what = f"{rt.name}() retiring {key} at every step of {rd.name}() reading it"

        def build():
            w = self.world(f"CPU0 runs {rd.name}() (a reader of {key}); CPU1 runs {rt.name}(), which retires it")
            self._populate(w, slot, rd)
            return w

        def make():
            w = self.ex.setup(("retire", rd.name, rt.name), build)
            w.trace_from = len(w.m.logs)
            return w

        needs = {site.lines[0] for site in self.idx.read_sites if site.function == rd.name and site.slot == key}
        self.explore(what, make, lambda w: w.thread("CPU0", rd, wrap), lambda w: w.thread("CPU1", rt),
                     CONFIRMS["LIFE001"] + CONFIRMS["LIFE002"], needs, self.uaf_events, _retired_what_read)

    def found(self) -> None:
        for fn in self.roles.finders[: roles_mod.MAX_PAIRS]:
            fd = self.fd(fn)
            if fd is None:
                continue
            what = f"an updater freeing what {fn}() found, at every step of {fn}()"

            def build(fd=fd):
                return self.world(f"CPU0 runs {fd.name}(); CPU1 is an updater that unpublishes what CPU0 has found "
                                  f"so far, waits for a grace period and frees it")

            def make(fd=fd):
                w = self.ex.setup(("found", fd.name), build)
                w.trace_from = len(w.m.logs)
                return w

            unlocks = {c.lines[0] for c in self.idx.calls_in(fn) if c.name in rcu.RCU_UNLOCKS | rcu.SRCU_UNLOCKS}
            self.explore(what, make, lambda w, fd=fd: w.thread("CPU0", fd), _updater,
                         CONFIRMS["LIFE002"], unlocks, self.uaf_events, lambda w, a, b: bool(w.m.kstate.get("updater_freed")))

    def waits(self) -> None:
        pairs = 0
        for fn, line, dom in self.roles.waits:
            for reader in self.roles.sections.get(dom, []):
                wt, rd = self.fd(fn), self.fd(reader)
                if wt is None or rd is None or reader == fn or pairs >= roles_mod.MAX_PAIRS:
                    continue
                pairs += 1
                what = f"{fn}() waiting for a grace period at every step of {reader}()"

                def build(wt=wt, rd=rd):
                    return self.world(f"CPU0 runs {rd.name}() (a reader); CPU1 runs {wt.name}(), which waits for "
                                      f"the readers")

                def make(wt=wt, rd=rd):
                    w = self.ex.setup(("wait", wt.name, rd.name), build)
                    w.trace_from = len(w.m.logs)
                    return w

                self.explore(what, make, lambda w, rd=rd: w.thread("CPU0", rd), lambda w, wt=wt: w.thread("CPU1", wt),
                             CONFIRMS["LIFE003"], {line}, self.wait_events, _common_lock)

    def publish(self) -> None:
        done = set()
        for key, slot in sorted(self.roles.slots.items()):
            for fn, line in slot.publishers:
                fd = self.fd(fn)
                if fd is None or fn in done or len(done) >= roles_mod.MAX_PAIRS:
                    continue
                done.add(fn)
                w = LifetimeWorld(self.prog, self.stubs, "sequential",
                                  f"CPU0 runs {fn}(), which publishes an object; CPU1 is a reader that loads it")
                try:
                    th = w.thread("CPU0", fd)
                    run_alone(w.m, th)
                except NotModelled as exc:
                    self.nm(exc, f"{fn}() publishing")
                    continue
                except Exception:  # noqa: BLE001
                    continue
                self.ex.worlds += 1
                before = len(self.ex.best)
                self.publish_events(w)
                if len(self.ex.best) == before and line in w.lines and w.m.kstate.get("published"):
                    self.result.explored.append({"file": self.path, "rules": list(CONFIRMS["LIFE004"]),
                                                 "lines": sorted(w.lines), "what": f"{fn}() publishing"})

    def teardown(self) -> None:
        for exit_fn in self.roles.exits[:1]:
            ex_fd = self.fd(exit_fn)
            for fn, line in self.roles.queuers[:4]:
                q = self.fd(fn)
                if ex_fd is None or q is None or fn == exit_fn:
                    continue
                inits = [self.fd(i) for i in self.roles.inits if self.fd(i) is not None]

                def build(q=q, ex_fd=ex_fd, inits=inits):
                    w = self.world(f"the module is loaded; CPU0 is a reader in a read-side section; CPU1 runs "
                                   f"{q.name}(), which queues an RCU callback, and then the module exit "
                                   f"{ex_fd.name}()", 1)
                    for i in inits:
                        run_alone(w.m, w.thread("init", i))
                    w.m.threads.clear()
                    return w

                def make(q=q, ex_fd=ex_fd, inits=inits):
                    w = self.ex.setup(("teardown", q.name, ex_fd.name), build)
                    w.trace_from = len(w.m.logs)
                    return w

                def second(w, q=q, ex_fd=ex_fd):
                    return w.start("CPU1", _then, w, [q, ex_fd])

                self.explore(f"{ex_fd.name}() after {q.name}() queued a callback", make, _holder, second,
                             CONFIRMS["LIFE005"], set(), self.teardown_events,
                             lambda w, a, b: bool(w.m.kstate.get("retired")))

    def walk(self, walk, ctx, units: dict) -> None:
        """The VFS's RCU path walk in a callback of the filesystem (CPU0, in a read-side section, in
        RCU mode) against its ->kill_sb/->put_super (CPU1), on one super_block: LIFE001 when the
        teardown frees what the callback reads."""
        prog = self._walk_program(walk, ctx, units)
        if prog is None:
            return
        stubs = _stubs(prog)
        for name in walk.accessors:
            if name not in prog.functions:
                stubs[name] = _sb_accessor(name)
        pairs = 0
        for td_name, td_slot in walk.teardowns:
            td = prog.functions.get(td_name)
            if td is None or td.path != self.path:
                continue
            for rd_name, member, _file in walk.readers:
                rd = prog.functions.get(rd_name)
                if rd is None or pairs >= roles_mod.MAX_PAIRS:
                    continue
                pairs += 1

                def build(td=td, rd=rd, member=member, td_slot=td_slot):
                    w = LifetimeWorld(prog, stubs, "race",
                                      f"CPU0 is the VFS's RCU path walk in {rd.name}() (->{member}, in RCU mode); "
                                      f"CPU1 unmounts: ->{td_slot} {td.name}()")
                    _mount(w)
                    return w

                def make(td=td, rd=rd, member=member, td_slot=td_slot):
                    w = self.ex.setup(("walk", td.name, rd.name), lambda: build(td, rd, member, td_slot))
                    w.trace_from = len(w.m.logs)
                    return w

                # no refutation: a callback's paths the havoc values did not take are not run
                self.explore(f"->{td_slot} {td.name}() at every step of RCU walk in {rd.name}()", make,
                             lambda w, rd=rd, member=member: _path_walk(w, rd, member),
                             lambda w, td=td: w.thread("CPU1", td), CONFIRMS["LIFE001"], set(), self.uaf_events,
                             lambda w, a, b: False, start=1)  # the walker is in the filesystem first

    def _walk_program(self, walk, ctx, units: dict) -> Program | None:
        """The file under review, the folder's files that define the callbacks, and the folder's
        headers (the sb-info accessors are static inlines there)."""
        folder = walk.folder
        names = sorted(walk.files | {n for n in folder.texts if n.endswith(".h")})
        key = ("lifetime-walk-program", self.path, tuple(names))
        if key in units:
            return units[key]
        base = self.path.rsplit("/", 1)[0] + "/" if "/" in self.path else ""
        extra = [csource.parse_c(folder.texts[n].encode("utf-8", "replace"), base + n) for n in names]
        try:
            prog = Program.from_units([ctx.unit] + extra, lenient=True)
        except NotModelled as exc:
            self.nm(exc, "the folder's callbacks of RCU walk")
            prog = None
        units[key] = prog
        return prog

    # -- events into candidates

    def uaf_events(self, w: LifetimeWorld, a, b) -> None:
        for ev in w.m.events:
            if ev.kind != "uaf" or ev.thread != "CPU0":
                continue
            block = ev.detail["block"]
            held, held_at_load = ev.detail.get("held") or [], ev.detail.get("held_at_load") or ()
            if not held and (held_at_load or _found_by(w, block)):
                cand = Candidate("LIFE002", ev.file, ev.line, self.ex.cost(w, ev.step + 1), w, build_life002,
                                 {"event": ev}, related=tuple(x for x in (ev.detail.get("loaded_at"),) if x))
                self.ex.offer(cand)
            elif held:
                site = w.m.kstate.get("free_site", {}).get(id(block), block.free_line)
                if block.free_file != self.path:
                    continue
                cand = Candidate("LIFE001", self.path, site, self.ex.cost(w, ev.step + 1), w, build_life001,
                                 {"event": ev}, related=(ev.line,))
                self.ex.offer(cand, ev.line)

    def wait_events(self, w: LifetimeWorld, a, b) -> None:
        for ev in w.m.events:
            if ev.kind != "deadlock" or ev.thread != "CPU1":
                continue  # (CPU1's is marked a consequence of CPU0's, stuck in its section: the same cycle)
            waiting = any("waits for" in text and thread == "CPU1" for thread, _l, _f, text in w.m.logs[-6:])
            if not waiting and "read-side section" not in str(ev.detail.get("what", "")):
                continue
            line = _site(b, ev.line) if getattr(b, "stack", None) else ev.line
            cand = Candidate("LIFE003", self.path, line, self.ex.cost(w, ev.step + 1), w, build_life003,
                             {"event": ev, "reader_line": a.line}, related=(a.line,) if a.line else ())
            self.ex.offer(cand)

    def publish_events(self, w: LifetimeWorld) -> None:
        seen = set()
        for ev in w.m.events:
            if ev.kind != "init-after-publish":
                continue
            pub = ev.detail["published"]
            if pub in seen:
                continue
            seen.add(pub)
            cand = Candidate("LIFE004", self.path, pub, self.ex.cost(w, ev.step + 1), w, build_life004,
                             {"event": ev}, related=(ev.detail["site"],))
            self.ex.offer(cand, ev.detail["site"])

    def teardown_events(self, w: LifetimeWorld, a, b) -> None:
        for ev in w.m.events:
            if ev.kind != "uaf" or ev.thread != "the RCU callback":
                continue
            block = ev.detail["block"]
            site = w.m.kstate.get("free_site", {}).get(id(block), block.free_line)
            cand = Candidate("LIFE005", self.path, site, self.ex.cost(w, ev.step + 1), w, build_life005,
                             {"event": ev}, related=(ev.line,))
            self.ex.offer(cand, ev.line)


def _retired_what_read(w: LifetimeWorld, a, b) -> bool:
    """CPU1 freed, or queued for freeing, an object CPU0 loaded."""
    gone = set(w.m.kstate.get("free_site", {})) | w.m.kstate.get("retired", set())
    return bool(gone & set(a.last_load))


def _common_lock(w: LifetimeWorld, a, b) -> bool:
    taken = w.m.kstate.get("locks_taken", {})
    return bool(taken.get("CPU0", set()) & taken.get("CPU1", set()))


def _found_by(w: LifetimeWorld, block) -> bool:
    return any(b is block and who == "CPU0" for b, _line, who, _how in w.m.kstate.get("found", ()))


def _poke(m: Machine, addr: Ptr, value: Any) -> None:
    container, key = m._slot(addr)
    container[key] = value


def _loop_head(fd: FuncDef, line: int) -> N | None:
    from reviewbot.interp.iterators import _args

    for n in walk(fd.body):
        if n.type == "while_statement" and n.line == line and "condition" in n.f:
            args = _args(n.f["condition"])
            return args[1] if len(args) > 1 else None
    return None


def _updater(w: LifetimeWorld):
    """CPU1: unpublishes what CPU0 has found so far (inside its section, not pinned), waits for a
    grace period, and frees it."""
    m = w.m

    def body(th):
        found = [(b, line, how) for b, line, who, how in m.kstate.get("found", ()) if who == "CPU0"
                 and not b.freed and id(b) not in m.kstate.get("pinned", set())]
        if not found:
            return None
        ctx = Call(m, th, None, None, False)
        for b, line, how in found:
            m.log(th, 0, f"unpublishes {b.label} (found by CPU0 with {how} on line {line})")
        yield from wait_for_readers(ctx, domain(m, "rcu"), "synchronize_rcu()")
        m.kstate["updater_freed"] = True
        for b, line, how in found:
            free_block(m, th, Ptr(b, ()), 0, "", "kfree")
        return None

    th = m.thread("CPU1", None, [])
    th.gen = body(th)
    return th


def _sb_accessor(name: str):
    """An sb-info accessor of a header the program does not have (`proc_sb_info(sb)`): what the
    kernel's static inline returns, `sb->s_fs_info`, for the world's super_block."""
    from reviewbot.interp.havoc import HavocFn

    havoc = HavocFn(name)

    def accessor(ctx, sb, *rest):
        if isinstance(sb, Ptr) and sb.base is not None and sb.base is ctx.m.kstate.get("vfs_sb"):
            return ctx.m.load(ctx.th, Ptr(sb.base, sb.path + ("s_fs_info",)), ctx.line, f"{name}(sb)")
        return havoc(ctx, sb, *rest)

    accessor.stub_name, accessor.raw, accessor.blocking = name, False, False
    return accessor


def _mount(w: LifetimeWorld) -> None:
    """One mounted filesystem: a super_block with its sb info, a dentry and inode of it, and the
    name a walker looks up there ("a")."""
    from reviewbot.interp.memory import string_block

    m = w.m
    lazy = m.stubs["__lazy__"]
    sb = w.shared["super_block"] = lazy.pointer(("struct", "super_block"), "the super_block (sb)")
    _poke(m, sb.field("s_fs_info"), lazy.pointer(None, "the sb info (sb->s_fs_info)"))
    inode = w.shared["inode"] = lazy.pointer(("struct", "inode"), "an inode of the filesystem")
    dentry = w.shared["dentry"] = lazy.pointer(("struct", "dentry"), "a dentry of the filesystem")
    _poke(m, inode.field("i_sb"), sb)
    _poke(m, dentry.field("d_sb"), sb)
    _poke(m, dentry.field("d_inode"), inode)
    name = w.shared["qstr"] = lazy.pointer(("struct", "qstr"), "the name looked up")
    _poke(m, name.field("name"), Ptr(string_block(b"a"), (0,)))
    _poke(m, name.field("len"), 1)
    m.kstate["vfs_sb"] = sb.base


def _path_walk(w: LifetimeWorld, rd: FuncDef, member: str):
    """CPU0: the VFS's RCU path walk (fs/namei.c) calls the callback inside rcu_read_lock(), with
    no reference on the superblock, in RCU mode: ->d_revalidate with LOOKUP_RCU, ->permission with
    MAY_NOT_BLOCK, ->get_link with a NULL dentry."""
    from reviewbot.facts import vfs
    from reviewbot.interp.memory import NULL

    m = w.m
    args = w.args(rd)  # the world's objects, as every scenario passes them; then what RCU mode changes
    for i, (_pname, t) in enumerate(rd.params):
        if member == "get_link" and t == ("ptr", ("struct", "dentry")):
            args[i] = NULL
    if rd.params and rd.params[-1][1][0] not in ("ptr", "array"):
        if member == "permission":
            args[-1] = vfs.MAY_NOT_BLOCK | 1  # MAY_EXEC, from path walk
        elif member == "d_revalidate":
            args[-1] = vfs.LOOKUP_RCU
    mode = {"permission": " with MAY_NOT_BLOCK", "d_revalidate": " with LOOKUP_RCU",
            "get_link": " with a NULL dentry"}.get(member, "")
    th = m.thread("CPU0", None, [])

    def body(th):
        ctx = Call(m, th, None, None, False)
        open_section(ctx, domain(m, "rcu"))
        m.log(th, 0, f"RCU path walk (fs/namei.c) is in rcu_read_lock() with no reference on the superblock, and "
                     f"calls {rd.name}() (->{member}{mode})")
        result = yield from m.call_value(th, Func(rd.name), args, None, None, False)
        close_section(ctx, domain(m, "rcu"), None, "")
        m.log(th, 0, "RCU path walk leaves its read-side section")
        return result

    th.gen = _covering(body(th), w.lines)
    return th


def _holder(w: LifetimeWorld):
    """CPU0: a reader that holds a read-side section of RCU for a few steps."""
    m = w.m
    th = m.thread("CPU0", None, [])
    any_node = next(iter(m.p.functions.values())).body

    def body(th):
        ctx = Call(m, th, None, None, False)
        open_section(ctx, domain(m, "rcu"))
        m.log(th, 0, "rcu_read_lock(): a reader is in a read-side section")
        for _ in range(3):
            yield any_node
        close_section(ctx, domain(m, "rcu"), None, "")
        m.log(th, 0, "rcu_read_unlock(): the reader leaves its section")

    th.gen = body(th)
    return th


def _then(th, w: LifetimeWorld, fds: list[FuncDef]):
    for fd in fds:
        yield from w.m.call_value(th, Func(fd.name), w.args(fd), None, None, False)


# -- wording ------------------------------------------------------------------------------------------

def _fn(w: World, line: int) -> str:
    from reviewbot.explore import function_at

    return function_at(w.m.p, _path(w), line)


def _path(w: World) -> str:
    fds = list(w.m.p.functions.values())
    return fds[0].path if fds else ""


def build_life001(cand: Candidate, ex: Explorer) -> Divergence:
    ev = cand.data["event"]
    block = ev.detail["block"]
    use = ev.line
    where = f"line {use}" if ev.file in ("", cand.file) else f"{ev.file}:{use}"
    msg = (f"{_fn(cand.world, cand.line)} frees {block.label} here ({block.freed_by}() on line {block.free_line}) "
           f"while a reader that found it is still in its read-side section: "
           f"{ev.thread} reads {ev.detail.get('what')} on {where} after the free. "
           f"Should the free wait for a grace period (unpublish first, then synchronize_rcu(), kfree_rcu() or "
           f"call_rcu())?")
    return Divergence("LIFE001", cand.file, cand.line, msg,
                      trace(cand, until=ev.log_at, last=f"{at(cand, ev.thread, ev.file, use)}: use after free "
                            f"of {block.label}, inside the read-side section"),
                      related=cand.related)


def build_life002(cand: Candidate, ex: Explorer) -> Divergence:
    ev = cand.data["event"]
    block = ev.detail["block"]
    msg = (f"{ev.detail.get('what')} is used here after the read-side section that found {block.label} ended: "
           f"an updater that waited for the grace period may already have freed it. Should the section "
           f"cover this use, or a reference be taken inside it?")
    return Divergence("LIFE002", cand.file, cand.line, msg,
                      trace(cand, until=ev.log_at, last=f"{at(cand, ev.thread, ev.file, ev.line)}: use after free "
                            f"of {block.label}, after the read-side section ended"),
                      related=cand.related)


def build_life003(cand: Candidate, ex: Explorer) -> Divergence:
    ev = cand.data["event"]
    msg = (f"{_fn(cand.world, cand.line)} waits here for a grace period that never ends: "
           f"{ev.detail.get('what', 'the wait')}; the reader it waits for cannot leave its read-side section "
           f"(it waits for what this function holds). Should the wait be made after the lock is released?")
    return Divergence("LIFE003", cand.file, cand.line, msg,
                      trace(cand, last="neither CPU can go on: the wait never ends"), related=cand.related)


def build_life004(cand: Candidate, ex: Explorer) -> Divergence:
    ev = cand.data["event"]
    block = ev.detail["block"]
    msg = (f"{block.label} is published here ({ev.detail['slot'].lstrip('&')}) before {ev.detail['what']} is "
           f"written (line {ev.detail['site']}): a reader that loads it in between reads that field "
           f"uninitialised. Should the publication be the last step?")
    steps = trace(cand, until=ev.log_at)
    return Divergence("LIFE004", cand.file, cand.line, msg,
                      steps + (f"CPU1: loads {ev.detail['slot'].lstrip('&')} and reads {ev.detail['what']}: not "
                               f"yet written",
                               f"{at(cand, 'CPU0', ev.file, ev.line)}: writes {ev.detail['what']} only now"),
                      related=cand.related)


def build_life005(cand: Candidate, ex: Explorer) -> Divergence:
    ev = cand.data["event"]
    block = ev.detail["block"]
    msg = (f"{_fn(cand.world, cand.line)} frees {block.label} here ({block.freed_by}()) while an RCU callback "
           f"queued before it has not run yet; the callback uses it on line {ev.line}. Should the teardown "
           f"call rcu_barrier() first?")
    return Divergence("LIFE005", cand.file, cand.line, msg,
                      trace(cand, until=ev.log_at, last=f"{at(cand, ev.thread, ev.file, ev.line)}: the callback "
                            f"uses {block.label} after it was freed"),
                      related=cand.related)


# -- entry point ---------------------------------------------------------------------------------

def run(patch, tree: str | None = None, units: dict | None = None) -> ModelResult:
    from reviewbot.engine import FileContext, _mentions

    result = ModelResult()
    units = {} if units is None else units
    worlds = 0
    for cf in patch.changed_files:
        if cf.is_binary or cf.status == "deleted" or not csource.is_c_path(cf.path):
            continue
        ctx = FileContext(patch, cf, None, units, tree)
        if not _mentions(ctx, roles_mod.WORDS):
            continue
        try:
            idx = rcu.index(ctx)
            roles = roles_mod.find(idx)
            path_walk = roles_mod.walk(ctx)
        except NotModelled as exc:
            result.not_modelled.append(exc.as_dict(MODEL))
            continue
        walks = bool(path_walk.teardowns and path_walk.readers)
        if roles.empty() and not walks:
            continue
        result.applied = True
        key = ("lifetime-program", id(cf))
        prog = units.get(key)
        if prog is None:
            try:
                prog = units[key] = Program.from_units([ctx.unit], lenient=True)
            except NotModelled as exc:
                result.not_modelled.append({"file": exc.file or cf.path, "line": exc.line,
                                            "construct": exc.construct, "reason": exc.reason})
                continue
        r = Run(cf.path, prog, idx, roles, result, time.monotonic() + BUDGET)
        for scenario in (r.retire, r.found, r.waits, r.publish, r.teardown):
            scenario()
        if walks:
            r.walk(path_walk, ctx, units)
        result.divergences.extend(r.ex.divergences())
        worlds += r.ex.worlds
    result.stats["worlds"] = worlds
    return result
