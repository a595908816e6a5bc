"""The bpf_oom model on the series' v2 design: one handler per memory cgroup and one system-wide.

The design, as the v2 series describes it: `struct bpf_oom_ops` has `handle_out_of_memory(ctx, oc)`,
`handle_cgroup_offline(ctx, cgroup_id)` and a name; a struct_ops link attaches it to the cgroup whose
id it carries (0: system-wide), `.reg` stores it in the memcg's pointer or a system-wide one and
refuses a second one, `.unreg` clears it and waits for the SRCU readers; an OOM walks from
oc->memcg up to the root and then calls the system-wide handler, each until one returns 1 and
freed memory; a memcg going offline takes its handler away and calls its offline callback.

1. Roles, not names: the struct_ops descriptor gives .reg/.unreg/.init_member; the OOM entry is the
   function of one `struct oom_control *` from which a call of ->handle_out_of_memory is reachable
   (preferring the one an `if (...)` of another file calls); the offline hook is the function of one
   `struct mem_cgroup *` from which a call of the ops' other callback is reachable; the context is
   the handler's other struct parameter and its integer field. Where the ops pointers live is seen
   by running .reg, not read from names.
2. Worlds: the memcgs /, /x, /x/y and /z (reviewbot.interp.memcg); handlers attached to each and
   system-wide, returning 0 or 1, freeing or not, named or not, with or without the offline callback;
   an OOM in /x/y, /z, /x or system-wide; two attaches to one place; a memcg going offline and an
   OOM after it; then every handler unregistered and an OOM after that. Interleaved at every step:
   an OOM walk with an unregistration, an OOM walk with an offline (both ways), an offline with an
   unregistration (both ways, and an OOM after both).
3. The contract is contract.py's clauses of the "tree" design (and those of both designs).

This module is loaded by model.py, which sets `v1` (itself) before running it: the worlds, programs,
builders and checks both designs share are there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reviewbot.explore import EventRule, run_alone, steps_alone
from reviewbot.interp.errors import NotModelled
from reviewbot.interp.kernel import STUBS, defer, domain, free_block
from reviewbot.interp.memcg import MEMCG_STUBS, make_tree, remove
from reviewbot.interp.memory import NULL, UNINIT, Block, Func, Ptr, Struct
from reviewbot.interp.program import FuncDef, walk
from reviewbot.models import Divergence, ModelResult

v1: Any  # model.py, set by model._tree() before this module runs

contract = v1.contract
OPS_STRUCT, HANDLER, FREED_FIELD, OC, LABELS = v1.OPS_STRUCT, v1.HANDLER, v1.FREED_FIELD, v1.OC, v1.LABELS
MEMCG = ("struct", "mem_cgroup")
TREE = [("/", 1, None), ("/x", 2, "/"), ("/x/y", 3, "/x"), ("/z", 4, "/")]
IDS = {label: cgid for label, cgid, _ in TREE}
PARENT = {label: parent for label, _, parent in TREE}
NOWHERE_ID = 99  # a cgroup id no cgroup of the world has
TREE_STUBS = dict(STUBS, **MEMCG_STUBS)
H = contract.TreeHandler


def path_up(memcg: str | None) -> list[str]:
    out = []
    while memcg is not None:
        out.append(memcg)
        memcg = PARENT[memcg]
    return out


# -- recognising the pieces --------------------------------------------------------------------

@dataclass
class TreePieces(v1.Pieces):
    design: str = "tree"
    offline: FuncDef | None = None
    offline_member: str | None = None
    ctx_field: str | None = None
    ctx_index: int | None = None
    oc_index: int = 0


def _calls(fd: FuncDef, functions: dict) -> set[str]:
    out = set()
    for n in walk(fd.body):
        if n.type == "call_expression":
            fn = n.f.get("function")
            if fn is not None and fn.type == "identifier" and fn.text in functions:
                out.add(fn.text)
    return out


def _reaching(prog, member: str) -> set[str]:
    """The functions from which a call of ->member is reachable through the patch's own calls."""
    graph = {name: _calls(fd, prog.functions) for name, fd in prog.functions.items()}
    found = {name for name, fd in prog.functions.items() if v1._calls_member(fd, member)}
    changed = True
    while changed:
        changed = False
        for name, callees in graph.items():
            if name not in found and callees & found:
                found.add(name)
                changed = True
    return found


def _called_on_offline(prog, fd: FuncDef) -> bool:
    """fd is called from another file, in a function of the memcg offline path (a css_offline)."""
    for root in prog.roots:
        if root.unit is fd.unit:
            continue
        lines = root.unit.source.decode("utf-8", "replace").splitlines() if isinstance(root.unit.source, bytes) else []
        for n in walk(root):
            if n.type == "call_expression" and n.f["function"].type == "identifier" and n.f["function"].text == fd.name:
                before = "\n".join(lines[max(0, n.line - 40): n.line])
                if "offline" in before.replace(fd.name, ""):
                    return True
    return False


def recognise(patch, units, prog, files, fields) -> TreePieces:
    pc = v1.documented_pieces(TreePieces(prog, members=list(fields.items())), patch, units, fields, "tree")

    # the handler's parameters: the struct oom_control * and the context
    params = v1.member_params(prog, OPS_STRUCT, HANDLER) or []
    types = [t for _, t in params]
    if ("ptr", OC) not in types:
        pc.nm(f"{OPS_STRUCT}.{HANDLER}", "the handler does not take a struct oom_control *")
        return pc
    pc.oc_index = types.index(("ptr", OC))
    for i, t in enumerate(types):
        if t[0] == "ptr" and t[1][0] == "struct" and t != ("ptr", OC):
            cfields = prog.structs.get(t[1][1]) or {}
            ints = [f for f, ft in cfields.items() if ft[0] == "int"]
            ints.sort(key=lambda f: "cgroup" not in f)
            if ints:
                pc.ctx_index, pc.ctx_field = i, ints[0]
    if pc.ctx_field is None:
        pc.clauses.discard("ctx_id")
        pc.nm(f"the context of {HANDLER}()", "no struct parameter with an integer field (the cgroup id)")
    others = [f for f, ft in fields.items() if f != HANDLER and ft[0] == "ptr" and ft[1][0] == "func"]
    others.sort(key=lambda f: "offline" not in f)
    pc.offline_member = others[0] if others else None

    v1.find_descriptor(prog, pc)
    if pc.reg is None or pc.unreg is None:
        pc.nm(f"struct bpf_struct_ops for {OPS_STRUCT}", "no descriptor with .reg and .unreg in the patch")
        return pc

    reach = _reaching(prog, HANDLER)
    entries = [fd for name, fd in prog.functions.items() if name in reach and [t for _, t in fd.params] == [("ptr", OC)]]
    hooked = {fd.name for fd in entries if v1.find_hook(prog, fd)[0] is not None}
    entries.sort(key=lambda fd: (fd.name not in hooked, fd.node.line))
    if not entries:
        pc.nm(f"the OOM walk over {OPS_STRUCT}", f"no function of one struct oom_control * reaches a call of "
              f"->{HANDLER}()")
        return pc
    pc.entry = entries[0]
    pc.hook, pc.hook_arg = v1.find_hook(prog, pc.entry)
    if pc.hook is None:
        pc.nm(f"the caller of {pc.entry.name}()", "no `if (...)` in the patch calls it; its result is "
              "taken as the decision to skip the in-kernel OOM killer")

    if pc.offline_member is not None:
        reach_off = _reaching(prog, pc.offline_member)
        hooks = [fd for name, fd in prog.functions.items()
                 if name in reach_off and [t for _, t in fd.params] == [("ptr", MEMCG)]]
        if not hooks:  # one that never calls the callback: the memcg code's offline path calls it
            hooks = [fd for fd in prog.functions.values()
                     if [t for _, t in fd.params] == [("ptr", MEMCG)] and _called_on_offline(prog, fd)]
        pc.offline = hooks[0] if hooks else None
    if pc.offline is None and "offline" in pc.clauses:
        pc.clauses.discard("offline")
        pc.nm("the memcg offline hook", f"no function of one struct mem_cgroup * reaches a call of the ops' "
              f"offline callback ({pc.offline_member or 'none in the ops'})")

    pc.policy = v1.find_policy(prog)
    if pc.policy is None and "policy_name" in pc.clauses:
        pc.clauses.discard("policy_name")
        pc.nm("the OOM report's policy name", "no function maps a struct oom_control * to the printed name")
    for fd in (pc.entry, pc.reg, pc.unreg, pc.init_member, pc.policy, pc.offline):
        if fd is not None and not v1._covered(fd, files):
            pc.nm(f"{fd.name}()", "only part of the function is in the patch", fd.path, fd.node.line)
            if fd is pc.entry:
                pc.entry = None
            if fd is pc.offline:
                pc.offline = None
    if pc.entry is not None and not any(FREED_FIELD in prog.functions[n].node.source for n in reach | {pc.entry.name}):
        pc.clauses.discard("outcome")
        pc.nm(f"oc->{FREED_FIELD}", f"{pc.entry.name}() does not read the field the kfuncs set")
    return pc


# -- the programs ----------------------------------------------------------------------------

@dataclass
class TreeCall(v1.CallRec):
    ctx_id: Any = None
    oom_at: str | None = None


@dataclass
class OfflineCall:
    label: str
    thread: str
    line: int
    file: str
    arg: Any
    ctx_id: Any
    log_at: int


def _ctx_id(w: "TreeWorld", th, args: list, line: int) -> Any:
    pc = w.pc
    if pc.ctx_index is None or pc.ctx_index >= len(args):
        return None
    cp = args[pc.ctx_index]
    if not isinstance(cp, Ptr) or cp.base is None:
        return "NULL"
    value = w.m.load(th, cp.field(pc.ctx_field), line, f"ctx->{pc.ctx_field}")
    return "never set" if value is UNINIT else value


class TreeProgram(v1.BpfProgram):
    """handle_out_of_memory(ctx, oc) of a loaded program: as in the v1 model, and it reads the
    context's cgroup id."""

    def __deepcopy__(self, memo):
        return TreeProgram(None, self.h)

    def invoke(self, ctx, args):
        w, m, th, h = self.world, ctx.m, ctx.th, self.h
        pc = w.pc
        oc = args[pc.oc_index] if len(args) > pc.oc_index else NULL
        after = h.label in w.unreg_done
        if after:
            kd = w.kdata[h.label]
            m.event("handler-after-unreg", th, ctx.line, ctx.file, handler=h.label, block=kd.base,
                    loaded_at=th.last_load.get(id(kd.base)), held=[s.domain.label for s in th.sections],
                    held_at_load=th.last_load_held.get(id(kd.base), ()), what="handle_out_of_memory()")
        started = w.oom_started.get(th.name)
        if h.label in w.offlined and started is not None and started >= w.offlined[h.label][0]:
            m.event("handler-after-offline", th, ctx.line, ctx.file, handler=h.label,
                    memcg=w.offlined[h.label][1], place=w.offlined[h.label][2])
        if "sleepable" in pc.clauses and (th.atomic or th.holds(domain(m, "rcu"))):
            m.event("sleep-in-atomic", th, ctx.line, ctx.file, what=f"{h.label}'s sleepable handle_out_of_memory()",
                    atomic=th.atomic, rcu=th.holds(domain(m, "rcu")))
        w.seen[h.label] = (h.ret, h.frees)
        cgid = _ctx_id(w, th, args, ctx.line)
        freed_before = v1._freed(oc)
        printed = None
        if pc.policy is not None and isinstance(oc, Ptr) and oc.base is not None:
            value = yield from m.call_value(th, Func(pc.policy.name), [oc], None, None, False)
            printed = w.read_string(th, value, ctx.line)
        w.calls.append(TreeCall(h.label, th.name, ctx.line, ctx.file, freed_before, printed,
                                [s.domain.label for s in th.sections], after, len(m.logs) + 1, cgid,
                                w.oom_at.get(th.name)))
        text = f"calls {h.label}'s handle_out_of_memory()"
        if cgid is not None:
            text += f" with ctx->{pc.ctx_field} = {cgid}"
        if printed is not None:
            shown = printed if len(printed) <= 24 else f"{printed[:6]}...{printed[-3:]} ({len(printed)} bytes)"
            text += f" (the OOM report would print oom_policy={shown})"
        m.log(th, ctx.line, text)
        if h.frees and isinstance(oc, Ptr) and oc.base is not None:
            oc.base.data[FREED_FIELD] = 1
            m.log(th, ctx.line, f"{h.label} frees memory through a kfunc, which sets oc->{FREED_FIELD}")
        m.log(th, ctx.line, f"{h.label} returns {h.ret}")
        return h.ret


class OfflineProgram:
    """handle_cgroup_offline(ctx, cgroup_id) of a loaded program: records the call."""

    def __init__(self, world: "TreeWorld", h):
        self.world = world
        self.h = h

    def __deepcopy__(self, memo):
        return OfflineProgram(None, self.h)

    def invoke(self, ctx, args):
        w, m, th, h = self.world, ctx.m, ctx.th, self.h
        if h.label in w.unreg_done:
            kd = w.kdata[h.label]
            m.event("handler-after-unreg", th, ctx.line, ctx.file, handler=h.label, block=kd.base,
                    loaded_at=th.last_load.get(id(kd.base)), held=[s.domain.label for s in th.sections],
                    held_at_load=th.last_load_held.get(id(kd.base), ()), what="handle_cgroup_offline()")
        arg = args[1] if len(args) > 1 else None
        cgid = _ctx_id(w, th, args, ctx.line)
        memcg = w.offlining.get(th.name)
        w.offline_calls.append(OfflineCall(h.label, th.name, ctx.line, ctx.file, arg, cgid, len(m.logs) + 1))
        w.offlined.setdefault(h.label, (m.steps, memcg, _read_at(w, th, h.label) or (ctx.file, ctx.line)))
        m.log(th, ctx.line, f"calls {h.label}'s handle_cgroup_offline() with cgroup_id {arg}"
              + (f", ctx->{w.pc.ctx_field} = {cgid}" if cgid is not None else ""))
        return None
        yield  # a generator, as every invoke


def _read_at(w, th, label: str) -> tuple[str, int] | None:
    """Where the offline thread read the pointer to the handler's ops (file, line)."""
    kd = w.kdata.get(label)
    line = th.last_load.get(id(kd.base)) if kd is not None else None
    return (w.pc.offline.path, line) if line else None


# -- a world -----------------------------------------------------------------------------------

class TreeWorld(v1.World):
    def __init__(self, pc: TreePieces, handlers: tuple, kind: str, verbose: bool = False):
        super().__init__(pc, handlers, kind, verbose=verbose, stubs=TREE_STUBS)
        make_tree(self.m, TREE)
        for label, cgid in IDS.items():
            self.memcg(label).base.owner = f"memcg {label}"  # stores into it are recorded
        self.m.globals.owner = "globals"
        self.code_at: dict[str, list[str]] = {}  # handler -> where .reg stored its ops pointer
        self.reg_result: dict[str, Any] = {}
        self.reg_store: dict[str, tuple[str, int]] = {}  # handler -> (file, line) of that store
        self.scenario = ""
        self.oom_started: dict[str, int] = {}
        self.oom_at: dict[str, str | None] = {}
        self.offlined: dict[str, tuple] = {}  # handler -> (step, memcg, place) from which it must not run
        self.offlining: dict[str, str] = {}  # thread -> memcg it takes offline
        self.offline_calls: list[OfflineCall] = []
        self.stale: dict[str, list[str]] = {}  # handler -> places still holding its ops after unreg
        self.first_handled: bool | None = None
        self.first_calls = 0
        self.oom_memcg: str | None = None

    @property
    def size(self) -> int:
        return len(self.handlers)

    def describe(self) -> str:
        if not self.handlers:
            return f"no bpf_oom handler is attached; {self.scenario}"
        names = v1._and([h.describe() for h in self.handlers])
        return f"{names} {'is' if len(self.handlers) == 1 else 'are'} loaded in this order; {self.scenario}"

    def clone(self, handlers=None) -> "TreeWorld":
        new = super().clone(handlers)
        new.code_at, new.reg_result, new.reg_store = dict(self.code_at), dict(self.reg_result), dict(self.reg_store)
        new.oom_started, new.oom_at, new.offlined, new.offlining = {}, {}, {}, {}
        new.offline_calls, new.stale = [], {}
        for label, kd in new.kdata.items():
            prog = kd.base.data.get(self.pc.offline_member) if self.pc.offline_member else None
            if isinstance(prog, OfflineProgram):
                prog.world = new
                prog.h = next(h for h in new.loaded if h.label == label)
        return new

    def memcg(self, label: str) -> Ptr:
        return self.m.kstate["memcg"]["by_id"][IDS[label]]

    def where_attached(self, kd: Ptr) -> list[str]:
        places = []
        for label in IDS:
            for key, value in self.memcg(label).base.data.items():
                if key != "css" and isinstance(value, Ptr) and value.base is kd.base and not value.path:
                    places.append(label)
        for value in self.m.globals.data.values():
            if isinstance(value, Ptr) and value.base is kd.base and not value.path:
                places.append("system")
        return places

    def link(self, h) -> Ptr:
        cgid = 0 if h.at == "system" else IDS.get(h.at, NOWHERE_ID)
        block = Block(Struct("bpf_struct_ops_link", False), f"{h.label}'s struct_ops link (cgroup id {cgid})")
        block.data["cgroup_id"] = cgid
        return Ptr(block, ("link",))

    # loading: init_member for every member, then reg with a link carrying the cgroup id

    def load(self, h) -> bool:
        m, pc = self.m, self.pc
        before = len(m.kstate.get("allocated", []))
        kblock = Block(Struct(OPS_STRUCT, True), f"{h.label}'s {OPS_STRUCT}", owner=h.label)
        ublock = Block(Struct(OPS_STRUCT, True), f"user space's copy of {h.label}'s {OPS_STRUCT}")
        kdata, udata = Ptr(kblock), Ptr(ublock)
        if pc.name_member and h.name:
            arr = m._child(ublock.data, pc.name_member)
            for i, c in enumerate(h.name[: len(arr)]):
                arr[i] = c
        offset = 0
        for mname, mtype in pc.members:
            r = 0
            if pc.init_member is not None:
                th = self.call(pc.init_member, [v1.BtfType(OPS_STRUCT), v1.BtfMember(mname, offset * 8), kdata, udata],
                               f"load {h.label}")
                if th.fault is not None:
                    raise NotModelled(f"{pc.init_member.name}()", th.fault.line, f"faults while loading a handler "
                                      f"in the model's scenario ({th.fault.detail})", pc.init_member.path)
                r = th.result or 0
            offset += m.sizeof(mtype, pc.entry.node)
            if not isinstance(r, int):
                raise NotModelled(f"{pc.init_member.name}()", pc.init_member.node.line, "returns a non-integer",
                                  pc.init_member.path)
            if r < 0:
                self.rejected[h.label] = r  # refused before .reg: not an attach
                return False
            if r > 0:
                continue
            if mtype[0] == "ptr" and mtype[1][0] == "func":
                if mname == HANDLER:
                    kblock.data[mname] = TreeProgram(self, h)
                elif mname == pc.offline_member and h.offline:
                    kblock.data[mname] = OfflineProgram(self, h)
                continue
            if v1._nonzero(m._child(ublock.data, mname)):
                self.rejected[h.label] = -22
                return False
        writes = len(m.kstate.get("writes", []))
        th = self.call(pc.reg, [kdata, self.link(h)], f"attach {h.label}")
        if th.fault is not None:
            raise NotModelled(f"{pc.reg.name}()", th.fault.line, f"faults while attaching a handler in the model's "
                              f"scenario ({th.fault.detail}); the scenario may lack what it needs", pc.reg.path)
        r = th.result if isinstance(th.result, int) else 0
        self.reg_result[h.label] = r
        for block, path, line, thread, file, value, step in m.kstate.get("writes", [])[writes:]:
            if isinstance(value, Ptr) and value.base is kblock and not value.path and block is not kblock:
                self.reg_store[h.label] = (file, line)
        if r != 0:
            self.rejected[h.label] = r
            return False
        for block in m.kstate.get("allocated", [])[before:]:
            stype = block.data.stype if isinstance(block.data, Struct) else None
            block.label = f"{h.label}'s {stype or 'object'}"
            block.owner = h.label
        self.kdata[h.label] = kdata
        self.loaded.append(h)
        self.code_at[h.label] = self.where_attached(kdata)
        return True

    # the threads

    def start_oom(self, at: str | None = None, name: str = "CPU0"):
        block = Block(Struct("oom_control", True), "oc", owner="oc", kind="stack")
        block.data["memcg"] = self.memcg(at) if at is not None else NULL
        self.oc = Ptr(block)
        self.oom_memcg = at

        def body(th):
            self.oom_started[th.name] = self.m.steps
            self.oom_at[th.name] = at
            self.m.log(th, 0, f"an OOM {'in ' + at if at else '(system-wide)'}")
            return (yield from self.oom_body(th))

        return self.start(name, body)

    def unreg_body(self, th, h):
        m, pc = self.m, self.pc
        kd = self.kdata[h.label]
        th.file = pc.unreg.path
        self.unload_from[h.label] = len(m.logs)
        m.log(th, pc.unreg.node.line, f"unregisters {h.label}: {pc.unreg.name}()")
        yield from m.call_value(th, Func(pc.unreg.name), [kd, self.link(h)][: len(pc.unreg.params)], None, None, False)
        self.unreg_done.add(h.label)
        self.stale[h.label] = self.where_attached(kd)
        m.log(th, 0, f"{pc.unreg.name}() returns; the struct_ops map frees {h.label}'s ops after an RCU grace period")
        defer(m, domain(m, "rcu"), lambda: free_block(m, th, kd, 0, "", "the struct_ops map"), "map free")
        return None

    def start_offline(self, at: str, name: str):
        def body(th):
            m, pc = self.m, self.pc
            memcg = self.memcg(at)
            remove(m, memcg)
            self.offlining[th.name] = at
            th.file = pc.offline.path
            m.log(th, 0, f"{at} is removed (rmdir: its cgroup id no longer resolves) and goes offline: "
                         f"{pc.offline.name}()")
            yield from m.call_value(th, Func(pc.offline.name), [memcg], None, None, False)
            for label, places in self.code_at.items():
                if at in places:
                    self.offlined.setdefault(label, (m.steps, at, _read_at(self, th, label)
                                                     or (pc.offline.path, pc.offline.node.line)))
            m.log(th, 0, f"{pc.offline.name}() returns")

        return self.start(name, body)


# -- exploring ----------------------------------------------------------------------------------

COMBOS = [(r, f) for r in (0, 1) for f in (False, True)]


def handlers(*specs) -> tuple:
    """(ret, frees, name, at[, offline]) per handler, labelled A, B, C."""
    out = []
    for i, spec in enumerate(specs):
        ret, frees, name, at = spec[:4]
        out.append(H(LABELS[i], ret, frees, name, at, spec[4] if len(spec) > 4 else True))
    return tuple(out)


class TreeExplorer(v1.Explorer):
    def __init__(self, pc: TreePieces):
        super().__init__(pc)
        self.runs: dict[tuple, list] = {}

    def loaded(self, hs: tuple, kind: str) -> TreeWorld:
        key = (kind, tuple((h.label, h.name, h.at, h.offline) for h in hs))

        def build() -> TreeWorld:
            w = TreeWorld(self.pc, hs, kind)
            for h in hs:
                w.load(h)
            return w

        return self.setup(key, build, lambda w: w.clone(hs))

    # -- worlds

    def sequential(self, hs: tuple, at: str | None, probe: bool = True) -> TreeWorld:
        """hs attached in order; an OOM at `at`; every handler unregistered; an OOM again."""
        key = (tuple((h.label, h.name, h.at, h.offline) for h in hs), at, probe)
        behaviour = {h.label: (h.ret, h.frees) for h in hs}
        done = next((d for d in self.runs.get(key, ()) if all(behaviour.get(lab) == rf for lab, rf in d.seen.items())),
                    None)
        if done is not None:
            w = done.same_run(hs)
        else:
            w = self.loaded(hs, "sequential")
            w.scenario = f"an OOM in {at}" if at else "a system-wide OOM"
            w.trace_from = len(w.m.logs)
            th = run_alone(w.m, w.start_oom(at))
            w.trace_end = len(w.m.logs)
            w.oom_steps = th.steps
            w.first_handled, w.first_calls = w.handled, len(w.calls)
            for h in list(w.loaded):
                run_alone(w.m, w.start_unreg(h, "CPU0"))
            if probe and w.loaded:
                run_alone(w.m, w.start_oom(at))
            self.runs.setdefault(key, []).append(w)
        self.worlds += 1
        self.check_routing(w)
        self.check_walk(w)
        self.check_events(w)
        return w

    def explore(self) -> None:
        pc = self.pc
        self.sequential((), "/x/y")
        self.sequential((), None)
        for r, f in COMBOS:
            for name in (b"", b"policy_a"):
                self.sequential(handlers((r, f, name, "/x")), "/x/y")
                self.sequential(handlers((r, f, name, "system")), None)
        for at in ("/x/y", "/x", "/", "/z", "system", "nowhere"):
            for oom in ("/x/y", "/z", None):
                self.sequential(handlers((0, False, b"policy_a", at)), oom)
        for places in (("/x/y", "/x"), ("/x", "system"), ("/x/y", "/")):
            for c1 in COMBOS:
                for c2 in COMBOS:
                    self.sequential(handlers((*c1, b"policy_a", places[0]), (*c2, b"policy_b", places[1])), "/x/y")
        for stop in (None, 0, 1, 2):
            specs = [(1 if i == stop else 0, i == stop, f"policy_{LABELS[i].lower()}".encode(), at)
                     for i, at in enumerate(("/x/y", "/", "system"))]
            self.sequential(handlers(*specs), "/x/y")
        for place, at in (("/x", "/x"), ("system", None)):
            self.attach_twice(handlers((0, False, b"policy_a", place), (0, False, b"policy_b", place)), at)
        if pc.name_member:
            size = pc.name_size
            for name in (b"a" * size, b"b" * (size - 1)):
                w = self.sequential(handlers((0, False, name, "system")), None)
                self.check_name(w)
        if pc.offline is not None:
            for cb in (True, False):
                self.offline_world(handlers((0, False, b"policy_a", "/x", cb), (0, False, b"policy_b", "/")), "/x")
        self.races()

    def attach_twice(self, hs: tuple, at: str | None) -> None:
        w = self.loaded(hs, "sequential")
        w.scenario = f"an OOM {'in ' + at if at else '(system-wide)'}"
        w.trace_from = 0
        run_alone(w.m, w.start_oom(at))
        w.trace_end = len(w.m.logs)
        self.worlds += 1
        self.check_events(w)
        a, b = hs
        if "attach_once" not in self.pc.clauses or w.reg_result.get(a.label) != 0 or w.reg_result.get(b.label) != 0:
            return
        called = {c.label for c in w.calls}
        if {a.label, b.label} <= called:
            return  # both in effect: a design with room for two
        file, line = w.reg_store.get(b.label) or (self.pc.reg.path, self.pc.reg.node.line)
        self.offer(v1.Candidate("BPFOOM012", file, line, self.cost(w), w, build_attach,
                                {"first": a, "second": b, "called": sorted(called)}))

    def offline_world(self, hs: tuple, at: str) -> None:
        w = self.loaded(hs, "sequential")
        w.scenario = f"{at} goes offline; then an OOM in {at}"
        w.trace_from = len(w.m.logs)
        run_alone(w.m, w.start_offline(at, "CPU0"))
        run_alone(w.m, w.start_oom(at))
        w.trace_end = len(w.m.logs)
        for h in list(w.loaded):
            run_alone(w.m, w.start_unreg(h, "CPU0"))
        self.worlds += 1
        self.check_offline(w, at)
        self.check_events(w)

    def races(self) -> None:
        pc = self.pc
        a_x = handlers((0, False, b"policy_a", "/x"))
        for hs in (a_x, handlers((0, False, b"policy_a", "/x"), (0, False, b"policy_b", "system"))):
            for target in hs:
                self.race(hs, lambda w: w.start_oom("/x/y"), lambda w, t=target: w.start_unreg(t, "CPU1"),
                          f"CPU0 handles an OOM in /x/y while CPU1 unregisters {target.label}")
        if pc.offline is None:
            return
        self.race(a_x, lambda w: w.start_oom("/x"), lambda w: w.start_offline("/x", "CPU1"),
                  "CPU0 handles an OOM in /x while /x goes offline on CPU1")
        self.race(a_x, lambda w: w.start_offline("/x", "CPU0"), lambda w: w.start_oom("/x", "CPU1"),
                  "/x goes offline on CPU0 while CPU1 handles an OOM in /x")
        a = a_x[0]
        self.race(a_x, lambda w: w.start_offline("/x", "CPU0"), lambda w: w.start_unreg(a, "CPU1"),
                  "/x goes offline on CPU0 while CPU1 unregisters A; then an OOM in /x", probe="/x")
        self.race(a_x, lambda w: w.start_unreg(a, "CPU0"), lambda w: w.start_offline("/x", "CPU1"),
                  "CPU0 unregisters A while /x goes offline on CPU1; then an OOM in /x", probe="/x")

    def race(self, hs, first, second, scenario: str, probe: str | None = None) -> None:
        steps = steps_alone(lambda: self.loaded(hs, "race"), first)

        def make(k: int):
            w = self.loaded(hs, "race")
            w.scenario = scenario
            w.trace_from = len(w.m.logs)
            w.k = k
            return w

        for w in self.interleave(make, first, second, steps):
            if probe is not None:
                w.trace_end = None
                run_alone(w.m, w.start_oom(probe))
            self.check_events(w)

    # -- comparing with the contract

    def check_events(self, w) -> None:
        table = dict(EVENTS)
        after = EventRule("BPFOOM004", build_after_unreg, lambda ev: _unreg_spot(self.pc, w, ev))
        table["handler-after-unreg"] = after
        table["uaf"] = lambda ev: (EventRule("BPFOOM003", v1.build_uaf, v1.at_free) if ev.detail["block"].free_line
                                   else after)
        v1.BaseExplorer.check_events(self, w, table)

    def check_routing(self, w: TreeWorld) -> None:
        if "cgroup_id" not in self.pc.clauses:
            return
        taken: set[str] = set()
        for h in w.handlers:
            r = w.reg_result.get(h.label)
            if r is None:
                continue  # init_member refused it
            problem = None
            if h.at == "nowhere":
                if r == 0:
                    problem = "accepted"
            elif r != 0:
                if h.at not in taken:
                    problem = "refused"
            elif w.code_at.get(h.label) and w.code_at[h.label] != [h.at]:
                problem = "elsewhere"
            if r == 0:
                taken.add(h.at)
            if problem is None:
                continue
            file, line = w.reg_store.get(h.label) or self._entry_return_of(w, self.pc.reg)
            self.offer(v1.Candidate("BPFOOM013", file, line, self.cost(w), w, build_route,
                                    {"handler": h, "problem": problem, "result": r,
                                     "places": w.code_at.get(h.label, [])}))

    def check_walk(self, w: TreeWorld) -> None:
        pc = self.pc
        calls = [c for c in w.calls[: w.first_calls]]
        actual = [c.label for c in calls]
        attached = {h.label: (w.code_at.get(h.label) or [h.at])[0] for h in w.loaded}
        order = contract.expected_walk(path_up(_first_oom_at(w)), attached)
        by_label = {h.label: h for h in w.loaded}
        exp_calls, exp_handled = contract.expected_run([by_label[lab] for lab in order])
        handled = w.first_handled
        problem = None
        if actual != order[: len(actual)]:
            problem = "walk"
        elif len(actual) > len(exp_calls):
            problem = "went on"
        elif len(actual) < len(exp_calls):
            last = by_label[actual[-1]] if actual else None
            problem = "stopped" if last is not None and last.ret == 1 and handled else "walk"
        elif handled is not None and handled != exp_handled:
            problem = "result"
        if problem == "walk" and "walk" in pc.clauses:
            wrong = next((c for i, c in enumerate(calls) if i >= len(order) or order[i] != c.label), None)
            file, line = (wrong.file, wrong.line) if wrong is not None else self._entry_return(w)[::-1]
            self.offer(v1.Candidate("BPFOOM014", file, line, self.cost(w), w, build_walk,
                                    {"expected": exp_calls, "order": order, "actual": actual, "attached": attached}))
        elif problem in ("went on", "stopped", "result") and "outcome" in pc.clauses and handled is not None:
            line, file = self._entry_return(w)
            self.offer(v1.Candidate("BPFOOM002", file, line, self.cost(w), w, v1.build_outcome,
                                    {"expected": exp_handled, "exp_calls": exp_calls, "actual": actual,
                                     "problem": problem}, related=tuple(x for x in (self._freed_clear_line(w),) if x)))
        if "ctx_id" in pc.clauses:
            for c in calls:
                place = attached.get(c.label)
                expected = 0 if place == "system" else IDS.get(place)
                if expected is not None and c.ctx_id != expected:
                    self.offer(v1.Candidate("BPFOOM015", c.file, c.line, self.cost(w), w, build_ctx,
                                            {"call": c, "expected": expected, "place": place, "until": c.log_at}))
                    break
        if "policy_name" in pc.clauses:
            for rec in calls:
                h = by_label.get(rec.label)
                expected = contract.expected_policy_name(h, pc.name_size)
                if expected is not None and rec.printed is not None and rec.printed != expected:
                    file, line = _literal_at(pc.prog, rec.printed) or self._policy_write(w, rec)[::-1]
                    self.offer(v1.Candidate("BPFOOM006", file, line, self.cost(w), w, v1.build_policy,
                                            {"handler": h, "printed": rec.printed, "expected": expected,
                                             "until": rec.log_at}))
            if handled is False and w.killer_policy is not None and w.killer_policy != contract.DEFAULT_POLICY:
                file, line = _literal_at(pc.prog, w.killer_policy) or self._last_write(w, pointer=True)[::-1]
                self.offer(v1.Candidate("BPFOOM006", file, line, self.cost(w), w, v1.build_policy,
                                        {"handler": None, "printed": w.killer_policy,
                                         "expected": contract.DEFAULT_POLICY}))

    def _entry_return_of(self, w, fd) -> tuple[str, int]:
        for th in w.m.threads:
            if fd.name in th.returned:
                line, file = th.returned[fd.name]
                return file, line
        return fd.path, fd.node.line

    def check_offline(self, w: TreeWorld, at: str) -> None:
        pc = self.pc
        if "offline" not in pc.clauses:
            return
        cgid = IDS[at]
        expected = [h for h in w.loaded if at in w.code_at.get(h.label, ()) and h.offline]
        problem = None
        for h in expected:
            recs = [r for r in w.offline_calls if r.label == h.label]
            if not recs:
                problem = ("missing", h, None)
            elif len(recs) > 1:
                problem = ("twice", h, recs[1])
            elif recs[0].arg != cgid or (recs[0].ctx_id is not None and recs[0].ctx_id != cgid):
                problem = ("id", h, recs[0])
            if problem:
                break
        if problem is None:
            wrong = next((r for r in w.offline_calls if r.label not in {h.label for h in expected}), None)
            if wrong is not None:
                problem = ("foreign", next(h for h in w.loaded if h.label == wrong.label), wrong)
        if problem is None:
            return
        kind, h, rec = problem
        file, line = (rec.file, rec.line) if rec is not None else (pc.offline.path, pc.offline.node.line)
        self.offer(v1.Candidate("BPFOOM016", file, line, self.cost(w), w, build_offline,
                                {"problem": kind, "handler": h, "call": rec, "memcg": at, "cgid": cgid}))


def _literal_at(prog, text: str) -> tuple[str, int] | None:
    """Where the patch's code spells the string `text` as a literal (the printed name comes from it)."""
    from reviewbot.interp.values import _string_bytes

    for fd in prog.functions.values():
        for n in walk(fd.body):
            if n.type == "string_literal" and _string_bytes(n) == text.encode():
                return fd.path, n.line
    return None


def _first_oom_at(w: TreeWorld) -> str | None:
    return w.oom_at.get("CPU0") if w.oom_at else None


# -- wording ---------------------------------------------------------------------------------------

def _place(place: str | None) -> str:
    return "system-wide" if place == "system" else (f"to {place}" if place else "nowhere")


def build_attach(cand, ex) -> Divergence:
    pc, d = ex.pc, cand.data
    a, b = d["first"], d["second"]
    where = "the system-wide handler" if a.at == "system" else f"the handler of {a.at}"
    called = ", ".join(d["called"]) or "none"
    msg = (f"Attaching {b.label} {_place(b.at)} succeeds while {a.label} is already {where}: {pc.reg.name}() does not "
           f"refuse it, and the next OOM calls {called}, so one of two successful attaches is silently not in "
           f"effect. The commit message says only one bpf_oom_ops can be attached to a memory cgroup and one "
           f"system-wide, attaching another one failing with -EBUSY. Should {pc.reg.name}() refuse when the "
           f"pointer is already set (e.g. with cmpxchg())?")
    return Divergence("BPFOOM012", cand.file, cand.line, msg,
                      v1._trace(cand, quiet=True, last=f"both attaches returned 0; the OOM calls: {called}"),
                      related=cand.related)


def build_route(cand, ex) -> Divergence:
    pc, d = ex.pc, cand.data
    h = d["handler"]
    cgid = 0 if h.at == "system" else IDS.get(h.at, NOWHERE_ID)
    places = ", ".join(_place(p) for p in d["places"]) or "nowhere the model found"
    if d["problem"] == "accepted":
        what = (f"a link with cgroup id {cgid}, which no cgroup has, is accepted and {h.label} is attached "
                f"{places}")
    elif d["problem"] == "refused":
        what = (f"a link with cgroup id {cgid} ({_place(h.at)}) is refused ({pc.reg.name}() returns {d['result']}) "
                f"although nothing is attached there")
    else:
        what = f"a link with cgroup id {cgid} attaches {h.label} {places} instead of {_place(h.at)}"
    msg = (f"The handler lands in the wrong place: {what}. The commit message says the link carries the id of "
           f"the cgroup to attach to, and that a cgroup id of 0 means the system-wide handler.")
    return Divergence("BPFOOM013", cand.file, cand.line, msg,
                      v1._trace(cand, quiet=True, start=0, last=f"{h.label} is attached {places}; the contract: "
                                                                  f"{'refused' if h.at == 'nowhere' else _place(h.at)}"),
                      related=cand.related)


def build_walk(cand, ex) -> Divergence:
    pc, d, w = ex.pc, cand.data, cand.world
    where = {lab: _place(p) for lab, p in d["attached"].items()}
    exp = ", ".join(f"{lab} ({where[lab]})" for lab in d["expected"]) or "no handler"
    got = ", ".join(f"{lab} ({where.get(lab, '?')})" for lab in d["actual"]) or "no handler"
    oom = _first_oom_at(w)
    msg = (f"The OOM walk calls {got}, but for an OOM {'in ' + oom if oom else '(system-wide)'} the contract calls "
           f"{exp}: the handler of the OOM's memory cgroup first, then those of its ancestors up to the root, "
           f"then the system-wide handler, until one returns 1 and frees memory (commit message: \"walking up the "
           f"cgroup tree to the root, and the system-wide handler last\"). Does {pc.entry.name}() skip or reorder "
           f"a handler here?")
    return Divergence("BPFOOM014", cand.file, cand.line, msg,
                      v1._trace(cand, quiet=True, last=f"calls: {got}; the contract: {exp}"), related=cand.related)


def build_ctx(cand, ex) -> Divergence:
    pc, d = ex.pc, cand.data
    c = d["call"]
    place = d["place"]
    msg = (f"{c.label}'s handle_out_of_memory() is called here with ctx->{pc.ctx_field} = {c.ctx_id}, but "
           f"{c.label} is attached {_place(place)}, so the context must carry "
           f"{d['expected']}{' (0: the system-wide handler)' if place == 'system' else ''}: struct bpf_oom_ctx says "
           f"\"If bpf_oom_ops is attached to a cgroup, id of this cgroup\". Is it set from the wrong memcg?")
    return Divergence("BPFOOM015", cand.file, cand.line, msg,
                      v1._trace(cand, until=d["until"], quiet=True,
                                last=f"ctx->{pc.ctx_field} is {c.ctx_id}; the contract: {d['expected']}"),
                      related=cand.related)


def build_offline(cand, ex) -> Divergence:
    pc, d = ex.pc, cand.data
    h, kind, memcg, cgid = d["handler"], d["problem"], d["memcg"], d["cgid"]
    rec = d["call"]
    if kind == "missing":
        what = f"{h.label}'s handle_cgroup_offline() is never called, although {h.label} is attached to {memcg}"
    elif kind == "twice":
        what = f"{h.label}'s handle_cgroup_offline() is called more than once for {memcg}"
    elif kind == "id":
        what = (f"{h.label}'s handle_cgroup_offline() is called with cgroup_id {rec.arg}"
                f"{f' and ctx->{pc.ctx_field} = {rec.ctx_id}' if rec.ctx_id is not None else ''}, but {memcg} has "
                f"id {cgid}")
    else:
        what = (f"{h.label}'s handle_cgroup_offline() is called when {memcg} goes offline, but {h.label} is "
                f"attached {_place((cand.world.code_at.get(h.label) or [h.at])[0])}, not to {memcg}")
    msg = (f"When {memcg} goes offline, {what}. The commit message says that when a memory cgroup with an "
           f"attached bpf_oom_ops goes offline, it is detached and handle_cgroup_offline() is called with the id "
           f"of the deleted cgroup.")
    return Divergence("BPFOOM016", cand.file, cand.line, msg, v1._trace(cand, quiet=True), related=cand.related)


def build_after_offline(cand, ex) -> Divergence:
    pc, w = ex.pc, cand.world
    ev = cand.data["event"]
    h, memcg = ev.detail["handler"], ev.detail.get("memcg")
    cb = next((r for r in w.offline_calls if r.label == h), None)
    when = "its handle_cgroup_offline() was called" if cb is not None else f"{pc.offline.name}() returned"
    msg = (f"{h}'s handle_out_of_memory() is called by an OOM walk that started after {memcg} went offline and "
           f"{when}: {h} is still attached to {memcg} for the walk to find. The commit message says the "
           f"bpf_oom_ops is detached from a cgroup that goes offline and is not called for it after that. "
           f"Should {pc.offline.name}() take the pointer away (e.g. with xchg()) before it calls the callback?")
    return Divergence("BPFOOM017", cand.file, cand.line, msg,
                      v1._trace(cand, until=ev.log_at, quiet=True,
                                last=f"{v1._at(cand, ev.thread, ev.file, ev.line)}: calls {h}'s handler after {memcg} "
                                     f"went offline"),
                      related=cand.related)


def _unreg_case(pc, w, ev) -> tuple[str, list]:
    """Whose fault a use after unregistration is: ("stale", places) unreg returned with the ops still
    attached; ("reader", syncs) unreg waited, but the reader read the ops outside any read-side
    section; ("wait", syncs) unreg waited for no reader or for another domain's."""
    label = ev.detail.get("handler") or (ev.detail["block"].owner if ev.detail.get("block") is not None else None)
    stale = w.stale.get(label) if label else None
    if stale:
        return "stale", stale
    unreg = pc.unreg.name + "()"
    syncs = [e for e in w.m.events if e.kind == "sync" and v1._fn_at(pc, e.file, e.line) == unreg]
    if syncs and not ev.detail.get("held_at_load"):
        return "reader", syncs
    return "wait", syncs


def _unreg_spot(pc, w, ev) -> tuple:
    case, found = _unreg_case(pc, w, ev)
    if case == "reader":
        return v1.at_load(ev)
    used = ev.detail.get("loaded_at") or ev.line
    if case == "wait" and found:
        return found[-1].file, found[-1].line, (used, ev.line), ev.line
    for th in w.m.threads:
        if pc.unreg.name in th.returned:
            line, file = th.returned[pc.unreg.name]
            return file, line, (used, ev.line), ev.line
    return pc.unreg.path, pc.unreg.node.line, (used, ev.line), ev.line


def build_after_unreg(cand, ex) -> Divergence:
    pc, w = ex.pc, cand.world
    ev = cand.data["event"]
    label = ev.detail.get("handler") or (ev.detail["block"].owner if ev.detail.get("block") is not None else None)
    case, found = _unreg_case(pc, w, ev)
    stale = found if case == "stale" else None
    if case == "wait":
        held = list(ev.detail.get("held_at_load") or ev.detail.get("held") or ())
        waits = (f"waits only for readers of {v1._and(sorted({e.detail['label'] for e in found}))}" if found
                 else "waits for no reader")
        msg = (f"{pc.unreg.name}() {waits}, but {_fn(pc, ev)} reads {label}'s ops inside a read-side section of "
               f"{v1._and(held) if held else 'nothing it waits for'} (line {ev.detail.get('loaded_at') or ev.line}) and "
               f"uses them after {pc.unreg.name}() returned and the struct_ops map freed them. The commit message says "
               f"unregistering waits for an SRCU grace period, so that no OOM handler or offline callback uses the "
               f"bpf_oom_ops once it returns. Should it be synchronize_srcu() on the domain the readers hold?")
        last = (f"{v1._at(cand, ev.thread, ev.file, ev.line)}: uses {label}'s ops after its unregistration returned "
                f"(they were freed)")
        return Divergence("BPFOOM004", cand.file, cand.line, msg, v1._trace(cand, until=ev.log_at, last=last),
                          related=cand.related)
    if stale:
        what = ev.detail.get("what") or "the ops"
        msg = (f"{pc.unreg.name}() returned while {label}'s ops were still attached {_and_places(stale)}, so "
               f"{_fn(pc, ev)} still finds them here and uses them ({what}) after the struct_ops map freed them. "
               f"The commit message says unregistering detaches the handler and waits for an SRCU grace period, "
               f"so that nothing uses the bpf_oom_ops once it returns. Does {pc.unreg.name}() miss the pointer "
               f"(e.g. when it cannot find the cgroup again by its id)?")
        last = (f"{v1._at(cand, ev.thread, ev.file, ev.line)}: uses {label}'s ops after its unregistration returned "
                f"(they were freed)")
        return Divergence("BPFOOM004", cand.file, cand.line, msg, v1._trace(cand, until=ev.log_at, last=last),
                          related=cand.related)
    div = v1.build_after_unreg(cand, ex)
    reader = _fn(pc, ev)
    if reader != f"{pc.entry.name}()":
        div = Divergence(div.rule, div.file, div.line, div.message.replace(f"{pc.entry.name}() still holds the ops "
                         f"and goes on to use them and call their handle_out_of_memory()",
                         f"{reader} still holds the ops and goes on to use them"), div.trace, div.end_line,
                         div.related)
    return div


def _fn(pc, ev) -> str:
    return v1._fn_at(pc, ev.file, ev.line)


def _and_places(places: list[str]) -> str:
    return v1._and([_place(p) for p in places])


def build_fault(cand, ex) -> Divergence:
    div = v1.build_fault(cand, ex)
    return Divergence(div.rule, div.file, div.line,
                      div.message.replace("after a concurrent unregistration cleared it?",
                                          "after a concurrent unregistration or a cgroup going offline cleared it?"),
                      div.trace, div.end_line, div.related)


def _at_offline(ev) -> tuple:
    file, line = ev.detail.get("place") or (ev.file, ev.line)
    return file, line, (ev.line,), ev.line


_FAULT = EventRule("BPFOOM011", build_fault)
EVENTS = dict(v1.EVENTS)
EVENTS.update({
    "uaf": lambda ev: (EventRule("BPFOOM003", v1.build_uaf, v1.at_free) if ev.detail["block"].free_line
                       else EventRule("BPFOOM004", build_after_unreg, v1.at_load)),
    "handler-after-unreg": EventRule("BPFOOM004", build_after_unreg, v1.at_load),
    "handler-after-offline": EventRule("BPFOOM017", build_after_offline, _at_offline),
    "null-deref": _FAULT, "null-call": _FAULT, "overflow": _FAULT, "bug": _FAULT,
})


# -- entry point -------------------------------------------------------------------------------

def run(pc: TreePieces) -> ModelResult:
    result = ModelResult(applied=True, not_modelled=list(pc.not_modelled))
    if pc.entry is None or pc.reg is None or pc.unreg is None:
        return result
    ex = TreeExplorer(pc)
    try:
        ex.explore()
    except NotModelled as exc:
        entry = exc.as_dict(v1.MODEL)
        entry.pop("model")
        result.not_modelled.append(entry)
        return result
    result.divergences = ex.divergences()
    result.stats = {"worlds": ex.worlds}
    return result
