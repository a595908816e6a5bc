"""The bpf_oom reference model: run the patch's own code against its contract in small worlds.

1. Recognise the pieces (all from the patch, nothing by line): `struct bpf_oom_ops` with its
   `handle_out_of_memory` member; the function that calls that member (the OOM walk); the
   `struct bpf_struct_ops` descriptor and its reg/unreg/init_member; the hook in the OOM path
   (`if (walk(oc)) ...`); the function that gives the OOM report's policy name.
2. Build worlds: 0-3 handlers loaded through the struct_ops steps (init_member for every member,
   then reg), each returning 0 or 1, freeing memory through the kfunc or not, named or not (and an
   over-long name); an OOM runs the hook; then every handler is unregistered. For 1-2 handlers,
   the unregistration of each handler is interleaved at every step of a running OOM walk.
3. Compare with contract.py; every disagreement is a Divergence at the line where the behaviour
   diverges, with the smallest world (fewest handlers, then fewest steps) as its trace.

Worlds, interleavings, candidates, the cost order and traces are the shared exploration engine
(reviewbot.explore); what is here is this model's own: its role finders, its worlds' set-up and
the comparison with its contract.

Code the interpreter cannot run is reported as not modelled; the model never guesses.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from reviewbot import csource
from reviewbot.explore import Candidate, EventRule
from reviewbot.explore import Explorer as BaseExplorer
from reviewbot.explore import World as BaseWorld
from reviewbot.explore import and_list as _and
from reviewbot.explore import at as _at
from reviewbot.explore import at_free, at_load, function_at, run_alone, steps_alone
from reviewbot.explore import held_at as _held_at
from reviewbot.explore import line_ref as _line_ref
from reviewbot.explore import trace as _trace
from reviewbot.interp.errors import NotModelled
from reviewbot.interp.kernel import defer, domain, free_block
from reviewbot.interp.machine import Frame
from reviewbot.interp.memory import NULL, Block, Func, Ptr, Struct, c_string, clone_value, truth
from reviewbot.interp.program import FuncDef, N, Program, walk
from reviewbot.models import Divergence, ModelResult, sibling_module


contract = sibling_module(__file__, "contract")
Handler = contract.Handler

MODEL = "bpf_oom"
OPS_STRUCT = "bpf_oom_ops"
HANDLER = "handle_out_of_memory"
FREED_FIELD = "bpf_memory_freed"  # named by the commit message: "the bpf_memory_freed field"
OC = ("struct", "oom_control")
LABELS = "ABC"


# -- recognising the pieces --------------------------------------------------------------------

@dataclass
class Pieces:
    prog: Program
    entry: FuncDef | None = None
    reg: FuncDef | None = None
    unreg: FuncDef | None = None
    init_member: FuncDef | None = None
    hook: N | None = None
    hook_arg: str = "oc"
    policy: FuncDef | None = None
    name_member: str | None = None
    name_size: int = 0
    members: list[tuple[str, tuple]] = field(default_factory=list)
    clauses: set[str] = field(default_factory=set)
    not_modelled: list[dict] = field(default_factory=list)

    def nm(self, construct: str, reason: str, file: str = "", line: int = 0) -> None:
        self.not_modelled.append({"file": file, "line": line, "construct": construct, "reason": reason})


def _units(patch) -> list:
    units = []
    for cf in patch.changed_files:
        if cf.is_binary or cf.status == "deleted" or not csource.is_c_path(cf.path):
            continue
        units.append((cf, csource.unit_of_changed_file(cf)))
    return units


def _calls_member(fd: FuncDef, member: str) -> bool:
    for n in walk(fd.body):
        if n.type == "call_expression":
            fn = n.f.get("function")
            if fn is not None and fn.type == "field_expression" and fn.f["field"].text == member:
                return True
    return False


def _designated(init: N | None) -> dict[str, N]:
    out: dict[str, N] = {}
    if init is None or init.type != "initializer_list":
        return out
    for kid in init.kids:
        if kid.type == "initializer_pair" and kid.kids:
            des = kid.kids[0]
            if des.type == "field_designator" and des.kids:
                out[des.kids[0].text] = kid.kids[-1]
    return out


def _covered(fd: FuncDef, files: dict) -> bool:
    """True when the patch shows every line of the function (a new file, or all of it in hunks)."""
    cf = files.get(fd.path)
    if cf is None:
        return False
    if cf.post_image_complete:
        return True
    first = fd.node.line
    last = fd.unit.line_of(max(fd.node.end - 1, fd.node.start))
    return all(n in cf.post_image for n in range(first, last + 1))


def member_params(prog: Program, struct: str, member: str) -> list[tuple[str, tuple]] | None:
    """The parameters of a function-pointer member of a struct the patch defines (None: not found)."""
    for root in prog.roots:
        for n in walk(root):
            if n.type != "struct_specifier" or "body" not in n.f or n.f.get("name") is None \
                    or n.f["name"].text != struct:
                continue
            for decl in n.f["body"].kids:
                for d in walk(decl):
                    if d.type != "function_declarator":
                        continue
                    inner = d.f.get("declarator")
                    names = [x.text for x in walk(inner) if x.type == "field_identifier"] if inner else []
                    if names != [member]:
                        continue
                    out = []
                    for p in d.f["parameters"].kids if "parameters" in d.f else ():
                        if p.type == "parameter_declaration" and p.f.get("declarator") is not None:
                            out.append(prog.apply_declarator(prog.base_type(p), p.f["declarator"]))
                    return out
    return None


def _design(prog: Program) -> str:
    """"list" (v1: the handler takes the struct oom_control * alone) or "tree" (v2: it takes a
    context too, or the ops have an offline callback)."""
    params = member_params(prog, OPS_STRUCT, HANDLER)
    if params is None or [t for _, t in params] == [("ptr", OC)]:
        return "list"
    return "tree"


def _tree():
    """The tree design's module (tree.py), which builds on this one."""
    return sibling_module(__file__, "tree", v1=sys.modules[__name__])


def documented_pieces(pc, patch, units, fields, design: str):
    """pc with what every design reads first: the ops' `name` member (a char array) and the
    contract clauses of `design` that the patch's commit message and added lines document; each
    clause they do not is said as not modelled."""
    for name, ctype in fields.items():
        if ctype[0] == "array" and ctype[1] == ("int", "char"):
            pc.name_member, pc.name_size = name, ctype[2]
    documentation = patch.commit_message + "\n" + "\n".join(
        cf.post_image[n] for cf, _ in units for n in sorted(cf.added_lines))
    clauses = {cid: c for cid, c in contract.CLAUSES.items() if design in c.designs}
    pc.clauses = {cid for cid, c in clauses.items() if contract.documented(c, documentation)}
    for cid, c in clauses.items():
        if cid not in pc.clauses:
            pc.nm(f"contract clause {cid}", contract.not_documented(c))
    return pc


def find_descriptor(prog: Program, pc: Pieces) -> None:
    """.reg, .unreg and .init_member of the struct bpf_struct_ops whose cfi_stubs are the ops."""
    for g in prog.globals.values():
        if g.ctype != ("struct", "bpf_struct_ops"):
            continue
        pairs = _designated(g.init)
        stubs = pairs.get("cfi_stubs")
        target = stubs.f.get("argument") if stubs is not None and stubs.type == "pointer_expression" else None
        if target is not None and target.type == "identifier":
            tg = prog.globals.get(target.text)
            if tg is None or tg.ctype != ("struct", OPS_STRUCT):
                continue
        for key in ("reg", "unreg", "init_member"):
            node = pairs.get(key)
            if node is not None and node.type == "identifier" and node.text in prog.functions:
                setattr(pc, key, prog.functions[node.text])
        break


def find_hook(prog: Program, entry: FuncDef) -> tuple[N | None, str]:
    """The `if (entry(oc))` in another file (the OOM path), and the name of its argument."""
    for root in prog.roots:
        if root.unit is entry.unit:
            continue
        for n in walk(root):
            if n.type != "if_statement":
                continue
            calls = [c for c in walk(n.f["condition"]) if c.type == "call_expression"
                     and c.f["function"].type == "identifier" and c.f["function"].text == entry.name]
            if calls:
                args = calls[0].f["arguments"].kids
                if len(args) == 1 and args[0].type == "identifier":
                    return n, args[0].text
                break
    return None, "oc"


def find_policy(prog: Program) -> FuncDef | None:
    """The function that maps a struct oom_control * to the OOM report's policy name."""
    candidates = [fd for fd in prog.functions.values()
                  if fd.ret[0] == "ptr" and fd.ret[1][0] == "int" and fd.ret[1][1] == "char"
                  and [t for _, t in fd.params] == [("ptr", OC)]]
    candidates.sort(key=lambda fd: "policy" not in fd.name)
    return candidates[0] if candidates else None


def recognise(patch) -> Pieces | None:
    # the post-image text tells whether the struct is there; only then are the files parsed
    marker = "struct " + OPS_STRUCT
    if not any(marker in csource.post_image(cf)[0] for cf in patch.changed_files
               if not cf.is_binary and cf.status != "deleted" and csource.is_c_path(cf.path)):
        return None
    units = _units(patch)
    prog = Program.from_units([u for _, u in units])
    fields = prog.structs.get(OPS_STRUCT)
    if not fields or HANDLER not in fields or fields[HANDLER][0] != "ptr":
        return None  # not the bpf_oom struct_ops this model knows
    files = {cf.path: cf for cf, _ in units}
    if _design(prog) == "tree":  # the series' v2 design: handlers per memory cgroup (tree.py)
        return _tree().recognise(patch, units, prog, files, fields)
    pc = documented_pieces(Pieces(prog, members=list(fields.items())), patch, units, fields, "list")

    walks = [fd for fd in prog.functions.values() if _calls_member(fd, HANDLER)]
    with_oc = [fd for fd in walks if any(t == ("ptr", OC) for _, t in fd.params)]
    if not with_oc:
        pc.nm(f"the walk over {OPS_STRUCT}", f"no function calls ->{HANDLER}() with a struct oom_control *")
        return pc
    pc.entry = with_oc[0]
    if len(pc.entry.params) != 1:
        pc.nm(f"{pc.entry.name}()", "the walk takes more than the struct oom_control *; later designs "
              "(e.g. per-cgroup handlers) are not modelled", pc.entry.path, pc.entry.node.line)
        pc.entry = None
        return pc

    find_descriptor(prog, pc)
    if pc.reg is None or pc.unreg is None:
        pc.nm(f"struct bpf_struct_ops for {OPS_STRUCT}", "no descriptor with .reg and .unreg in the patch")

    hook, arg = find_hook(prog, pc.entry)
    if hook is not None:
        pc.hook, pc.hook_arg = hook, arg
    if pc.hook is None:
        pc.nm(f"the caller of {pc.entry.name}()", "no `if (...)` in the patch calls it; its result is "
              "taken as the decision to skip the in-kernel OOM killer")

    pc.policy = find_policy(prog)
    if pc.policy is None and "policy_name" in pc.clauses:
        pc.clauses.discard("policy_name")
        pc.nm("the OOM report's policy name", "no function maps a struct oom_control * to the printed name")

    for fd in (pc.entry, pc.reg, pc.unreg, pc.init_member, pc.policy):
        if fd is not None and not _covered(fd, files):
            pc.nm(f"{fd.name}()", "only part of the function is in the patch", fd.path, fd.node.line)
            if fd is pc.entry:
                pc.entry = None
    if pc.entry is not None and FREED_FIELD not in pc.entry.node.source:
        pc.clauses.discard("outcome")
        pc.nm(f"oc->{FREED_FIELD}", f"{pc.entry.name}() does not read the field the kfuncs set")
    return pc


# -- a world -------------------------------------------------------------------------------------

class BtfType:
    def __init__(self, name: str):
        self.name = name


class BtfMember:
    def __init__(self, name: str, bit_offset: int):
        self.name = name
        self.bit_offset = bit_offset


@dataclass
class CallRec:
    label: str
    thread: str
    line: int
    file: str
    freed_before: int
    printed: str | None
    held: list[str]
    after_unreg: bool
    log_at: int = 0


class BpfProgram:
    """A loaded handle_out_of_memory program: records the call, reads the OOM report's policy name
    as dump_header() would while it runs, frees memory through the kfunc (which sets
    oc->bpf_memory_freed; a program cannot set it directly), returns its value."""

    def __init__(self, world: "World", h: Handler):
        self.world = world
        self.h = h

    def __deepcopy__(self, memo):
        return BpfProgram(None, self.h)  # World.clone() points it at the new world

    def invoke(self, ctx, args):
        w, m, th, h = self.world, ctx.m, ctx.th, self.h
        oc = args[0] if args else NULL
        after = h.label in w.unreg_done
        if after:
            kd = w.kdata[h.label]
            m.event("handler-after-unreg", th, ctx.line, ctx.file, handler=h.label, block=kd.base,
                    loaded_at=th.last_load.get(id(kd.base)), held=[s.domain.label for s in th.sections],
                    held_at_load=th.last_load_held.get(id(kd.base), ()))
        if "sleepable" in w.pc.clauses and (th.atomic or th.holds(domain(m, "rcu"))):
            m.event("sleep-in-atomic", th, ctx.line, ctx.file, what=f"{h.label}'s sleepable handle_out_of_memory()",
                    atomic=th.atomic, rcu=th.holds(domain(m, "rcu")))
        w.seen[h.label] = (h.ret, h.frees)
        freed_before = _freed(oc)
        printed = None
        if w.pc.policy is not None and isinstance(oc, Ptr) and oc.base is not None:
            value = yield from m.call_value(th, Func(w.pc.policy.name), [oc], None, None, False)
            printed = w.read_string(th, value, ctx.line)
        w.calls.append(CallRec(h.label, th.name, ctx.line, ctx.file, freed_before, printed,
                               [s.domain.label for s in th.sections], after, len(m.logs) + 1))
        text = f"calls {h.label}'s handle_out_of_memory()"
        if printed is not None:
            shown = printed if len(printed) <= 24 else f"{printed[:6]}...{printed[-3:]} ({len(printed)} bytes)"
            text += f" (the OOM report would print oom_policy={shown})"
        m.log(th, ctx.line, text)
        if h.frees and isinstance(oc, Ptr) and oc.base is not None:
            oc.base.data[FREED_FIELD] = 1
            m.log(th, ctx.line, f"{h.label} frees memory through a kfunc, which sets oc->{FREED_FIELD}")
        m.log(th, ctx.line, f"{h.label} returns {h.ret}")
        return h.ret


def _freed(oc: Any) -> int:
    if isinstance(oc, Ptr) and oc.base is not None and isinstance(oc.base.data, dict):
        return int(bool(oc.base.data.get(FREED_FIELD, 0)))
    return 0


class World(BaseWorld):
    def __init__(self, pc: Pieces, handlers: tuple[Handler, ...], kind: str, verbose: bool = False,
                 stubs: dict | None = None):
        super().__init__(pc.prog, kind, stubs=stubs, verbose=verbose)
        self.pc = pc
        self.handlers = handlers
        self.kdata: dict[str, Ptr] = {}
        self.loaded: list[Handler] = []
        self.rejected: dict[str, Any] = {}
        self.calls: list[CallRec] = []
        self.unreg_done: set[str] = set()
        self.handled: bool | None = None
        self.killer_policy: str | None = None
        self.oc: Ptr | None = None
        self.target: str = ""
        self.k = 0
        self.unload_from: dict[str, int] = {}
        self.seen: dict[str, tuple[int, bool]] = {}  # what the programs that ran returned and freed
        self.oom_steps = 0  # the steps of the OOM thread (sequential worlds)

    @property
    def size(self) -> int:
        return len(self.handlers)

    def describe(self) -> str:
        return _world_line(self)

    def clone(self, handlers: tuple[Handler, ...] | None = None) -> "World":
        """A copy of this world (after loading), sharing only the program; `handlers` replaces the
        handlers' behaviour (what their programs return and free: loading cannot see it)."""
        memo: dict = {}
        new = self.fork(memo)
        new.kdata = {k: clone_value(v, memo) for k, v in self.kdata.items()}
        new.calls, new.unreg_done, new.unload_from, new.seen = [], set(), {}, {}
        new.rejected = dict(self.rejected)
        if handlers is not None:
            by_label = {h.label: h for h in handlers}
            new.handlers = handlers
            new.loaded = [by_label[h.label] for h in self.loaded]
        else:
            new.loaded = list(self.loaded)
        for label, kd in new.kdata.items():
            prog = kd.base.data.get(HANDLER)
            if isinstance(prog, BpfProgram):
                prog.world = new
                prog.h = next(h for h in new.loaded if h.label == label)
        return new

    def same_run(self, handlers: tuple[Handler, ...]) -> "World":
        """This world, already run, as the run of a world that differs only in what the programs
        that never ran return or free (`self.seen`: the run cannot depend on them, it is the same
        step by step)."""
        by_label = {h.label: h for h in handlers}
        new = World.__new__(World)
        new.__dict__.update(self.__dict__)
        new.handlers = handlers
        new.loaded = [by_label[h.label] for h in self.loaded]
        new.header = list(self.header)
        return new

    # helpers

    def read_string(self, th, value: Any, line: int) -> str:
        if not isinstance(value, Ptr):
            return "(not a string)"
        if value.base is None:
            return "(null)"
        self.m.touch(th, value, line, "the policy name")
        return c_string(value, 256).decode("utf-8", "replace")

    # loading through the struct_ops steps (kernel/bpf/bpf_struct_ops.c, map_update_elem)

    def load(self, h: Handler) -> bool:
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
            if pc.init_member is not None:
                th = self.call(pc.init_member, [BtfType(OPS_STRUCT), BtfMember(mname, offset * 8), kdata, udata],
                                   f"load {h.label}")
                if th.fault is not None:
                    raise NotModelled(f"{pc.init_member.name}()", th.fault.line, f"faults while loading a handler "
                                      f"in the model's scenario ({th.fault.detail})", pc.init_member.path)
                r = th.result or 0
            else:
                r = 0
            offset += m.sizeof(mtype, pc.entry.node)
            if not isinstance(r, int):
                raise NotModelled(f"{pc.init_member.name}()", pc.init_member.node.line, "returns a non-integer",
                                  pc.init_member.path)
            if r < 0:
                self.rejected[h.label] = r
                return False
            if r > 0:
                continue
            if mtype[0] == "ptr" and mtype[1][0] == "func":
                if mname == HANDLER:
                    kblock.data[mname] = BpfProgram(self, h)
                continue
            if _nonzero(m._child(ublock.data, mname)):
                self.rejected[h.label] = -22  # "if (memchr_inv(udata + moff, 0, msize)) err = -EINVAL"
                return False
        if pc.reg is not None:
            th = self.call(pc.reg, [kdata, _link()], f"load {h.label}")
            if th.fault is not None:
                raise NotModelled(f"{pc.reg.name}()", th.fault.line, f"faults while loading a handler in the "
                                  f"model's scenario ({th.fault.detail}); the scenario may lack what it needs",
                                  pc.reg.path)
            if isinstance(th.result, int) and th.result != 0:
                self.rejected[h.label] = th.result
                return False
        for block in m.kstate.get("allocated", [])[before:]:
            stype = block.data.stype if isinstance(block.data, Struct) else None
            block.label = f"{h.label}'s {stype or 'object'}"
            block.owner = h.label
        self.kdata[h.label] = kdata
        self.loaded.append(h)
        return True

    # the threads

    def oom_body(self, th):
        m, pc = self.m, self.pc
        oc = self.oc
        if pc.hook is not None:
            fr = Frame(None, "out_of_memory")
            fr.block.data[pc.hook_arg] = oc
            fr.types[pc.hook_arg] = ("ptr", OC)
            th.file = pc.hook.path
            sig = yield from m.exec_stmt(th, fr, pc.hook)
            handled = isinstance(sig, tuple) and sig[0] == "return"
        else:
            r = yield from m.call_value(th, Func(pc.entry.name), [oc], None, None, False)
            handled = truth(r)
        self.handled = handled
        if not handled:
            m.log(th, pc.hook.line if pc.hook is not None else 0, "the in-kernel OOM killer runs")
            if pc.policy is not None:
                value = yield from m.call_value(th, Func(pc.policy.name), [oc], None, None, False)
                self.killer_policy = self.read_string(th, value, th.line)
        else:
            m.log(th, pc.hook.line if pc.hook is not None else 0, "the in-kernel OOM killer is skipped")
        return handled

    def unreg_body(self, th, h: Handler):
        m, pc = self.m, self.pc
        kd = self.kdata[h.label]
        th.file = pc.unreg.path
        self.unload_from[h.label] = len(m.logs)
        m.log(th, pc.unreg.node.line, f"unregisters {h.label}: {pc.unreg.name}()")
        yield from m.call_value(th, Func(pc.unreg.name), [kd, _link()][: len(pc.unreg.params)], None, None, False)
        self.unreg_done.add(h.label)
        m.log(th, 0, f"{pc.unreg.name}() returns; the struct_ops map frees {h.label}'s ops after an RCU grace period")
        defer(m, domain(m, "rcu"), lambda: free_block(m, th, kd, 0, "", "the struct_ops map"), "map free")
        return None

    def start_oom(self):
        block = Block(Struct("oom_control", True), "oc", owner="oc", kind="stack")
        self.oc = Ptr(block)
        return self.start("CPU0", self.oom_body)

    def start_unreg(self, h: Handler, name: str):
        return self.start(name, self.unreg_body, h)


def _link() -> Ptr:
    """The struct bpf_link reg/unreg get: the model has no links (no per-cgroup attachment), so any
    use of it is not modelled rather than a NULL dereference."""
    return Ptr(Block(Struct("bpf_link", True), "handlers attached through a struct bpf_link (e.g. to a "
                     "cgroup) are not modelled", kind="unmodelled"))


def _nonzero(value: Any) -> bool:
    if isinstance(value, list):
        return any(_nonzero(v) for v in value)
    if isinstance(value, dict):
        return any(_nonzero(v) for v in value.values())
    if isinstance(value, Ptr):
        return value.base is not None
    if isinstance(value, int):
        return value != 0
    return False


# -- scenarios -------------------------------------------------------------------------------------

def loaded_world(ex: "Explorer", handlers: tuple[Handler, ...], kind: str) -> World:
    """A world with `handlers` loaded in order. Loading runs init_member and reg, which cannot see
    what a program returns or frees, so worlds that differ only in that share one load (cloned)."""
    key = (kind, tuple((h.label, h.name) for h in handlers))

    def build() -> World:
        w = World(ex.pc, handlers, kind)
        for h in handlers:
            w.load(h)
        return w

    return ex.setup(key, build, lambda w: w.clone(handlers))


def sequential(ex: "Explorer", handlers: tuple[Handler, ...], unload: bool = True) -> World:
    pc = ex.pc
    w = loaded_world(ex, handlers, "sequential")
    w.trace_from = len(w.m.logs)
    th = run_alone(w.m, w.start_oom())
    w.trace_end = len(w.m.logs)
    w.oom_steps = th.steps
    if pc.unreg is not None and unload:
        for h in list(w.loaded):
            run_alone(w.m, w.start_unreg(h, "CPU0"))
    return w


def races(ex: "Explorer", handlers: tuple[Handler, ...], target: Handler, steps: int):
    """The unregistration of `target` (CPU1) started at every step k = 0..steps of an OOM (CPU0)."""

    def make(k: int) -> World | None:
        w = loaded_world(ex, handlers, "race")
        if target not in w.loaded:
            return None
        w.trace_from = len(w.m.logs)
        w.target, w.k = target.label, k
        return w

    return ex.interleave(make, lambda w: w.start_oom(), lambda w: w.start_unreg(target, "CPU1"), steps)


def _handlers(spec: tuple[tuple[int, bool, bytes], ...]) -> tuple[Handler, ...]:
    return tuple(Handler(LABELS[i], ret, frees, name) for i, (ret, frees, name) in enumerate(spec))


def sequential_worlds(pc: Pieces):
    """0-3 handlers; every (return, frees) per handler; names varied where they matter (1 handler)."""
    combos = [(r, f) for r in (0, 1) for f in (False, True)]
    yield ()
    for (r, f) in combos:
        for name in (b"", b"policy_a"):
            yield _handlers(((r, f, name),))
    for n in (2, 3):
        def rec(prefix):
            if len(prefix) == n:
                yield _handlers(tuple((r, f, f"policy_{LABELS[i].lower()}".encode())
                                      for i, (r, f) in enumerate(prefix)))
                return
            for c in combos:
                yield from rec(prefix + (c,))
        yield from rec(())


# -- findings ----------------------------------------------------------------------------------

class Explorer(BaseExplorer):
    def __init__(self, pc: Pieces):
        super().__init__()
        self.pc = pc
        self.walk_lines: set[int] = set()  # lines where a freed entry's next pointer was read
        self.walk_steps: dict[tuple, int] = {}  # handlers -> steps of an OOM run alone after loading them

    def noticed(self, cand: Candidate, extra_line: int) -> None:
        ev = cand.data.get("event")
        if ev is not None and "(list walk)" in ev.detail.get("what", ""):
            self.walk_lines.add(extra_line)

    # -- running

    def explore(self) -> None:
        pc = self.pc
        unloaded: set = set()
        runs: dict[tuple, list[World]] = {}  # the worlds run so far, by what was loaded
        for handlers in sequential_worlds(pc):
            # Unloading cannot see what the programs returned or freed: with 3 handlers it runs once
            # per load (smaller worlds unload every time; they give the minimal traces).
            names = tuple(h.name for h in handlers)
            unload = len(handlers) < 3 or names not in unloaded
            unloaded.add(names)
            # A world whose programs that run behave as in a world run already is that run (e.g. the
            # handlers after one that stops the walk): it is checked against its own contract, not rerun.
            key = (tuple((h.label, h.name) for h in handlers), unload)
            behaviour = {h.label: (h.ret, h.frees) for h in handlers}
            done = next((d for d in runs.get(key, ()) if all(behaviour.get(label) == rf for label, rf in d.seen.items())),
                        None)
            if done is not None:
                w = done.same_run(handlers)
            else:
                w = sequential(self, handlers, unload)
                runs.setdefault(key, []).append(w)
            self.walk_steps.setdefault(handlers, w.oom_steps)
            self.worlds += 1
            self.check_sequential(w)
            self.check_events(w)
        if pc.name_member:
            size = pc.name_size
            for name in (b"a" * size, b"b" * (size - 1)):
                w = sequential(self, _handlers(((0, False, name),)))
                self.worlds += 1
                self.check_name(w)
                self.check_sequential(w)
                self.check_events(w)
        if pc.unreg is None:
            return
        for n in (1, 2):
            handlers = _handlers(tuple((0, False, f"policy_{LABELS[i].lower()}".encode()) for i in range(n)))
            for target in handlers:
                for w in races(self, handlers, target, self._walk_steps(handlers)):
                    self.check_events(w)

    def _walk_steps(self, handlers) -> int:
        if handlers in self.walk_steps:  # the same OOM on the same load ran in a sequential world
            return self.walk_steps[handlers]
        return steps_alone(lambda: loaded_world(self, handlers, "race"), lambda w: w.start_oom())

    # -- comparing with the contract

    def check_sequential(self, w: World) -> None:
        pc = self.pc
        loaded = w.loaded
        exp_calls, exp_handled = contract.expected_run(loaded)
        actual = [c.label for c in w.calls]
        order = {h.label: i for i, h in enumerate(loaded)}
        if "order" in pc.clauses:
            for i in range(len(actual) - 1):
                if order.get(actual[i], 0) > order.get(actual[i + 1], 0):
                    line, file = self._insertion(w, actual[i])
                    self.offer(Candidate("BPFOOM001", file, line, self.cost(w), w, build_order,
                                         {"early": actual[i], "late": actual[i + 1], "actual": actual}))
                    break
        if "outcome" in pc.clauses and w.handled is not None:
            problem = None
            by_label = {h.label: h for h in loaded}
            stops = [i for i, lab in enumerate(actual) if by_label[lab].ret == 1 and by_label[lab].frees]
            if w.handled != exp_handled:
                problem = "result"
            elif stops and stops[0] != len(actual) - 1:
                problem = "went on"  # handlers ran after one returned 1 and freed memory
            elif not stops and len(set(actual)) < len(loaded):
                problem = "stopped"  # the walk stopped before every handler had its turn
            if problem:
                line, file = self._entry_return(w)
                self.offer(Candidate("BPFOOM002", file, line, self.cost(w), w, build_outcome,
                                     {"expected": exp_handled, "exp_calls": exp_calls, "actual": actual,
                                      "problem": problem},
                                     related=tuple(x for x in (self._freed_clear_line(w),) if x)))
        if "policy_name" in pc.clauses:
            by_label = {h.label: h for h in loaded}
            for rec in w.calls:
                h = by_label.get(rec.label)
                expected = contract.expected_policy_name(h, pc.name_size)
                if expected is not None and rec.printed is not None and rec.printed != expected:
                    line, file = self._policy_write(w, rec)
                    self.offer(Candidate("BPFOOM006", file, line, self.cost(w), w, build_policy,
                                         {"handler": h, "printed": rec.printed, "expected": expected,
                                          "until": rec.log_at}))
            if w.handled is False and w.killer_policy is not None and w.killer_policy != contract.DEFAULT_POLICY:
                line, file = self._last_write(w, pointer=True)
                self.offer(Candidate("BPFOOM006", file, line, self.cost(w), w, build_policy,
                                     {"handler": None, "printed": w.killer_policy,
                                      "expected": contract.DEFAULT_POLICY}))

    def check_name(self, w: World) -> None:
        pc = self.pc
        if "name_copy" not in pc.clauses or not w.handlers:
            return
        h = w.handlers[0]
        if contract.name_fits(h.name, pc.name_size) or h not in w.loaded:
            return
        ev = next((e for e in w.m.events if e.kind == "ignored-error"), None) or \
            next((e for e in w.m.events if e.kind == "truncated"), None)
        if ev is not None:
            line, file = ev.line, ev.file
        else:
            line, file = pc.init_member.node.line if pc.init_member else pc.reg.node.line, \
                (pc.init_member or pc.reg).path
        printed = next((c.printed for c in w.calls if c.label == h.label), None)
        self.offer(Candidate("BPFOOM008", file, line, self.cost(w), w, build_name,
                             {"handler": h, "printed": printed, "event": ev}))

    def check_events(self, w: World) -> None:
        super().check_events(w, EVENTS)

    # -- where things happened

    def _insertion(self, w: World, label: str) -> tuple[int, str]:
        for ptr, (line, file, _name) in w.m.kstate.get("inserted", {}).items():
            if ptr.base is not None and ptr.base.owner == label:
                return line, file
        rec = next(c for c in w.calls if c.label == label)
        return rec.line, rec.file

    def _entry_return(self, w: World) -> tuple[int, str]:
        for th in w.m.threads:
            if th.name == "CPU0" and self.pc.entry.name in th.returned:
                return th.returned[self.pc.entry.name]
        return self.pc.entry.node.line, self.pc.entry.path

    def _freed_clear_line(self, w: World) -> int:
        for block, path, line, thread, file, value, step in w.m.kstate.get("writes", []):
            if block.owner == "oc" and path == (FREED_FIELD,) and not value:
                return line
        return 0

    def _policy_write(self, w: World, rec: CallRec) -> tuple[int, str]:
        return self._last_write(w, pointer=True, before_line=rec.line)

    def _last_write(self, w: World, pointer: bool, before_line: int | None = None) -> tuple[int, str]:
        found = None
        for block, path, line, thread, file, value, step in w.m.kstate.get("writes", []):
            if block.owner == "oc" and isinstance(value, Ptr) and value.base is not None:
                found = (line, file)
        if found is None:
            pol = self.pc.policy
            return pol.node.line, pol.path
        return found

# -- wording -------------------------------------------------------------------------------------

def _fn_at(pc: Pieces, file: str, line: int) -> str:
    return function_at(pc.prog, file, line)


def _world_line(w: World) -> str:
    if not w.handlers:
        return "no bpf_oom handler is loaded; an OOM happens"
    names = ", ".join(h.describe() for h in w.handlers)
    what = "loaded in this order" if len(w.handlers) > 1 else "loaded"
    if w.kind == "race":
        return (f"{names} {'are' if len(w.handlers) > 1 else 'is'} {what}; CPU0 handles an OOM while CPU1 "
                f"unregisters {w.target}")
    return f"{names} {'are' if len(w.handlers) > 1 else 'is'} {what}; an OOM happens"


def _q(text: str) -> str:
    return f'"{text}"'


def build_order(cand: Candidate, ex: Explorer) -> Divergence:
    pc, d = ex.pc, cand.data
    inserted = next((v for v in cand.world.m.kstate.get("inserted", {}).values() if v[0] == cand.line), None)
    how = inserted[2] if inserted else "this"
    hint = ""
    if how in ("list_add_rcu", "list_add"):
        hint = f" {how}() inserts right after the list head, so the newest handler runs first. Is {how.replace('add', 'add_tail')}() intended here?"
    msg = (f"Handlers run in a different order than they were loaded: with {d['late']} loaded before "
           f"{d['early']}, {pc.entry.name}() calls {d['early']} first. The commit message says they "
           f"\"will be executed one by one in the same order they been loaded\".{hint}")
    return Divergence("BPFOOM001", cand.file, cand.line, msg,
                      _trace(cand, quiet=True, last=f"order of calls: {', '.join(d['actual'])}; "
                                        f"load order: {', '.join(h.label for h in cand.world.loaded)}"),
                      related=cand.related)


def build_outcome(cand: Candidate, ex: Explorer) -> Divergence:
    pc, d, w = ex.pc, cand.data, cand.world
    by_label = {h.label: h for h in w.loaded}
    leftover = [c for c in w.calls if c.freed_before]
    expl = ""
    if leftover:
        c = leftover[0]
        clear = ex._freed_clear_line(w)
        where = f" (it is cleared once, at line {clear}, before the walk)" if clear else ""
        expl = (f" {c.label} is called with oc->{FREED_FIELD} already set by an earlier handler{where},"
                f" so `ret && oc->{FREED_FIELD}` mixes {c.label}'s return value with another handler's"
                f" freeing.")
    if d["problem"] == "result" and not d["expected"]:
        what = (f"{pc.entry.name}() returns true and the in-kernel OOM killer is skipped, although no handler "
                f"both returned 1 and freed memory")
    elif d["problem"] == "result":
        good = next(h for h in w.loaded if h.ret == 1 and h.frees)
        what = (f"{pc.entry.name}() returns false and the in-kernel OOM killer runs, although {good.label} "
                f"returned 1 and freed memory")
    elif d["problem"] == "went on":
        what = f"the walk goes on after a handler returned 1 and freed memory (calls: {', '.join(d['actual'])})"
    else:
        what = (f"the walk stops before every handler ran, although none returned 1 and freed memory "
                f"(calls: {', '.join(d['actual'])})")
    msg = (f"{what}. The commit message says the handlers run \"until one of them returns 1 and "
           f"bpf_memory_freed is set to 1\", and the kernel-doc that bpf_handle_oom() \"Returns true if a bpf "
           f"oom program was executed, returned 1 and some memory was actually freed\".{expl} Could you please "
           f"clarify when ret and oc->{FREED_FIELD} are meant to differ?")
    exp = contract.outcome_words(d["expected"])
    return Divergence("BPFOOM002", cand.file, cand.line, msg,
                      _trace(cand, quiet=True, last=f"the contract: {exp}"), related=cand.related)


def build_policy(cand: Candidate, ex: Explorer) -> Divergence:
    d = cand.data
    h = d["handler"]
    if h is not None:
        who = f"While {h.label}'s handler runs, an ops {'without a name' if not h.name else 'named ' + _q(h.name.decode())}"
    else:
        who = "When the in-kernel OOM killer runs after the bpf handlers,"
    msg = (f"{who} is reported as oom_policy={d['printed']}, but the commit message says: \"default\" is "
           f"printed if bpf is not used or policy name is not specified (expected oom_policy={d['expected']}). "
           f"Which one is intended?")
    return Divergence("BPFOOM006", cand.file, cand.line, msg,
                      _trace(cand, until=d.get("until"), quiet=True, last=f"the OOM report prints oom_policy={d['printed']}; the contract says "
                                        f"oom_policy={d['expected']}"), related=cand.related)


def build_name(cand: Candidate, ex: Explorer) -> Divergence:
    pc, d = ex.pc, cand.data
    h, ev = d["handler"], d["event"]
    size = pc.name_size
    func = ev.detail.get("func", "the copy") if ev is not None else "the copy"
    what = (f"{func}() returns {ev.detail.get('errname', 'an error')} here for a name of {len(h.name)} bytes "
            f"without a NUL, but the result is not checked" if ev is not None and ev.kind == "ignored-error"
            else "the name is truncated")
    printed = d["printed"]
    shown = f" and the OOM report prints a truncated name ({len(printed)} of {len(h.name)} bytes)" if printed else ""
    msg = (f"An over-long policy name is accepted silently: {what}, so loading the ops succeeds{shown}. "
           f"{OPS_STRUCT}.{pc.name_member} is a char[{size}] (a bounded, NUL-terminated copy of what user "
           f"space gave). Should a name that does not fit be rejected instead?")
    return Divergence("BPFOOM008", cand.file, cand.line, msg,
                      (f"user space loads {h.label} with a {len(h.name)}-byte name and no NUL in "
                       f"{pc.name_member}[{size}]",) + _trace(cand, quiet=True)[1:], related=cand.related)


def build_lockdep(cand: Candidate, ex: Explorer) -> Divergence:
    ev = cand.data["event"]
    held = [s for s in _held_at(cand.world, ev)]
    hint = ""
    macro = ev.detail.get("macro", "")
    if held and macro.endswith("_srcu"):
        hint = f" Should it be srcu_read_lock_held(&{held[0]})?"
    elif held:
        hint = f" The walk runs inside a read-side section of {held[0]}."
    cond = ev.detail.get("cond", "")
    msg = (f"{macro}() is given `{cond}` as its lockdep condition, which is false here: with "
           f"CONFIG_PROVE_RCU_LIST lockdep warns \"{ev.detail.get('message')}\" on every walk "
           f"(include/linux/rculist.h: \"@cond: lockdep expression for the lock required to traverse the "
           f"list\").{hint}")
    return Divergence("BPFOOM007", cand.file, cand.line, msg,
                      _trace(cand, until=ev.log_at, last=f"{_at(cand, 'CPU0', ev.file, ev.line)}: {macro}({cond}) evaluates the "
                                                         f"condition to false: lockdep warns"),
                      related=cand.related)


def build_section(cand: Candidate, ex: Explorer) -> Divergence:
    ev = cand.data["event"]
    kind = ev.kind
    label = ev.detail.get("label") or ev.detail.get("domain") or ""
    if kind == "section-left-open":
        text = (f"This read-side section of {label} is still open when {_fn_at(ex.pc, ev.file, ev.line)} "
                f"returns on one of its paths: every srcu_read_lock() needs its srcu_read_unlock() on every "
                f"path, or synchronize_srcu() on {label} never returns. Is an unlock missing on that path?")
    elif kind == "deadlock":
        text = f"This can never go on: {ev.detail.get('what')}. Is that intended?"
    elif kind == "srcu-uninit":
        text = f"A read-side section is entered on {label}, which is not initialized (or already cleaned up) here."
    else:
        text = f"Unbalanced locking: {ev.detail.get('what')}."
    return Divergence("BPFOOM009", cand.file, cand.line, text,
                      _trace(cand, until=ev.log_at, last=f"{ev.thread}: {kind.replace('-', ' ')} ({label or ev.detail.get('what', '')})"),
                      related=cand.related)


def build_uaf(cand: Candidate, ex: Explorer) -> Divergence:
    pc, w = ex.pc, cand.world
    ev = cand.data["event"]
    if ev.kind != "uaf":
        msg = f"{ev.kind.replace('-', ' ')} of {ev.detail.get('block') or ev.detail.get('what')}."
        return Divergence("BPFOOM003", cand.file, cand.line, msg, _trace(cand, until=ev.log_at), related=cand.related)
    block = ev.detail["block"]
    held = ev.detail.get("held") or []
    syncs = [e for e in w.m.events if e.kind == "sync" and e.thread != ev.thread and e.step <= ev.step]
    synced = sorted({e.detail["label"] for e in syncs})
    freer = _fn_at(pc, block.free_file, block.free_line)
    reader = pc.entry.name + "()"
    obj = block.label.split("'s ", 1)[-1]
    if held and synced:
        why = (f"{reader} reaches {obj} inside a read-side section of {', '.join(held)} only, but {freer} "
               f"waits only for readers of {', '.join(synced)} (line {syncs[0].line}) before freeing it")
    elif held:
        why = (f"{reader} reaches {obj} inside a read-side section of {', '.join(held)}, but {freer} frees "
               f"it without waiting for those readers")
    elif synced:
        why = (f"{reader} reaches {obj} outside any read-side section that {freer} waits for "
               f"({', '.join(synced)})")
    else:
        why = f"nothing makes {freer} wait for {reader}"
    seen = sorted(ex.seen_lines.get(("BPFOOM003", cand.file, cand.line), set()) - {ev.line})
    also = ""
    if seen:
        walk = [n for n in seen if n in ex.walk_lines]
        note = f" (line {_and(walk)}: the list walk reading the freed entry's next pointer)" if walk else ""
        also = f" Other interleavings read the freed {obj} at line{'s' if len(seen) > 1 else ''} {_and(seen)} too{note}."
    which = f"the list walk's next pointer" if "list walk" in ev.detail.get("what", "") else ev.detail.get("what")
    msg = (f"{freer} can free {obj} while {reader} is still using it: {why}. In the trace CPU0 then reads "
           f"{which} ({_line_ref(cand, ev.file, ev.line)}) from freed memory.{also} Should {freer} wait for the readers of "
           f"{held[0] if held else 'the walk'} before kfree()?")
    return Divergence("BPFOOM003", cand.file, cand.line, msg,
                      _trace(cand, until=ev.log_at, last=f"{_at(cand, 'CPU0', ev.file, ev.line)}: reads {ev.detail.get('what')}: "
                                                         f"{block.label} was freed at {_line_ref(cand, block.free_file, block.free_line)} (use after free)"),
                      related=cand.related)


def build_after_unreg(cand: Candidate, ex: Explorer) -> Divergence:
    pc, w = ex.pc, cand.world
    ev = cand.data["event"]
    syncs = [e for e in w.m.events if e.kind == "sync" and e.thread != ev.thread]
    synced = sorted({e.detail["label"] for e in syncs})
    held = ev.detail.get("held") or []
    wait = (f"waits only for readers of {_and(synced)}" if synced else "waits for no reader")
    seen = sorted(ex.seen_lines.get(("BPFOOM004", cand.file, cand.line), set()))
    uses = f" (then used at line{'s' if len(seen) > 1 else ''} {_and(seen)})" if seen else ""
    at_load = list(ev.detail.get("held_at_load") or ())
    inside = [d for d in synced if d in at_load]
    if synced and not inside:
        when = (f"this CPU had entered {_and(at_load) if at_load else 'no read-side section'} but not "
                f"{_and(synced)} when it read the pointer here")
    elif synced:
        when = f"this CPU left the read-side section of {_and(inside)} while still holding the pointer"
    else:
        when = "nothing makes it wait for this CPU"
    msg = (f"The ops pointer read here{uses} can outlive the unregistration: {pc.unreg.name}() {wait}, and "
           f"{when}. So {pc.unreg.name}() returns while {pc.entry.name}() still holds the ops and goes on to "
           f"use them and call their handle_out_of_memory(); once unreg returns, the struct_ops map frees "
           f"the ops and their programs. Should the ops be read only inside the read-side section that "
           f"{pc.unreg.name}() waits for?")
    last = (f"{_at(cand, 'CPU0', ev.file, ev.line)}: calls {ev.detail.get('handler')}'s handler after its unregistration returned"
            if ev.kind == "handler-after-unreg" else
            f"{_at(cand, 'CPU0', ev.file, ev.line)}: reads {ev.detail.get('what')}: {ev.detail['block'].label} was freed after "
            f"unregistration returned")
    return Divergence("BPFOOM004", cand.file, cand.line, msg, _trace(cand, until=ev.log_at, last=last),
                      related=cand.related)


def build_leak(cand: Candidate, ex: Explorer) -> Divergence:
    ev = cand.data["event"]
    label = ev.detail.get("label")
    msg = (f"{ev.detail['block'].label.split(chr(39) + 's ', 1)[-1]} is freed here with {label} still "
           f"initialized: init_srcu_struct() (line {ev.detail.get('init_line')}) is never paired with "
           f"cleanup_srcu_struct(), which \"Must invoke this after you are finished using a given srcu_struct "
           f"that was initialized via init_srcu_struct(), else you leak memory\". Is a cleanup_srcu_struct() "
           f"missing before kfree()?")
    w = cand.world
    start = min(w.unload_from.values()) if w.unload_from else None
    w.header = [f"{_and([h.describe() for h in w.loaded])} {'is' if len(w.loaded) == 1 else 'are'} loaded "
                f"(init_srcu_struct() at line {ev.detail.get('init_line')}), then unregistered"]
    return Divergence("BPFOOM005", cand.file, cand.line, msg,
                      _trace(cand, until=ev.log_at, start=start, last=f"{_at(cand, ev.thread, ev.file, ev.line)}: kfree() with {label} "
                                                         f"initialized and not cleaned up: its per-CPU state leaks"),
                      related=cand.related)


def build_atomic(cand: Candidate, ex: Explorer) -> Divergence:
    ev = cand.data["event"]
    ctx = "under rcu_read_lock()" if ev.detail.get("rcu") else "with a spinlock held"
    msg = (f"{ev.detail.get('what')} is called {ctx} here, but the commit message says \"The callback program "
           f"is sleepable to enable using iterators\": a sleepable program must not run in an RCU read-side "
           f"section or atomic context. Is SRCU or RCU Tasks Trace intended for the walk?")
    return Divergence("BPFOOM010", cand.file, cand.line, msg,
                      _trace(cand, until=ev.log_at, last=f"{_at(cand, 'CPU0', ev.file, ev.line)}: calls a sleepable handler {ctx}"),
                      related=cand.related)


def build_fault(cand: Candidate, ex: Explorer) -> Divergence:
    ev = cand.data["event"]
    what = ev.detail.get("what", "")
    msg = (f"This dereferences a NULL pointer ({what}) in the trace below. Can that pointer be NULL here, "
           f"e.g. after a concurrent unregistration cleared it?" if ev.kind.startswith("null")
           else f"The modelled code faults here: {ev.kind} ({what}).")
    return Divergence("BPFOOM011", cand.file, cand.line, msg,
                      _trace(cand, until=ev.log_at, last=f"{_at(cand, ev.thread, ev.file, ev.line)}: {ev.kind} ({what})"),
                      related=cand.related)


# The machine's events as findings (reviewbot.explore.Explorer.check_events).
_SECTION = EventRule("BPFOOM009", build_section)
_FAULT = EventRule("BPFOOM011", build_fault)
EVENTS = {
    "lockdep": EventRule("BPFOOM007", build_lockdep),
    "section-left-open": _SECTION, "unbalanced": _SECTION, "deadlock": _SECTION, "srcu-busy-cleanup": _SECTION,
    "lock-left-held": _SECTION, "srcu-uninit": _SECTION,
    # a block the code freed: at the kfree(); one the struct_ops map freed after unreg: at the load
    "uaf": lambda ev: (EventRule("BPFOOM003", build_uaf, at_free) if ev.detail["block"].free_line
                       else EventRule("BPFOOM004", build_after_unreg, at_load)),
    "handler-after-unreg": EventRule("BPFOOM004", build_after_unreg, at_load),
    "double-free": EventRule("BPFOOM003", build_uaf), "poison": EventRule("BPFOOM003", build_uaf),
    "srcu-leak": EventRule("BPFOOM005", build_leak,
                           lambda ev: (ev.file, ev.line, (ev.detail.get("init_line", 0),), None)),
    "sleep-in-atomic": EventRule("BPFOOM010", build_atomic),
    "null-deref": _FAULT, "null-call": _FAULT, "overflow": _FAULT, "bug": _FAULT,
}


# -- entry point -------------------------------------------------------------------------------

def run(patch) -> ModelResult:
    pc = recognise(patch)
    if pc is None:
        return ModelResult()
    if getattr(pc, "design", "list") == "tree":
        return _tree().run(pc)
    result = ModelResult(applied=True, not_modelled=list(pc.not_modelled))
    if pc.entry is None:
        return result
    ex = Explorer(pc)
    try:
        ex.explore()
    except NotModelled as exc:
        entry = exc.as_dict(MODEL)
        entry.pop("model")
        result.not_modelled.append(entry)
        return result
    result.divergences = ex.divergences()
    result.stats = {"worlds": ex.worlds}
    return result
