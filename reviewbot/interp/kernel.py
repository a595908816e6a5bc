"""Kernel stubs with the semantics reviewers rely on (not no-ops).

* SRCU: each srcu_struct is a domain; srcu_read_lock() opens a read-side section and returns an
  index, srcu_read_unlock() closes the section with that index; synchronize_srcu() waits (yields a
  Wait the scheduler honours) until every reader of *that* domain that started before it has
  finished; init_srcu_struct()/cleanup_srcu_struct() track the struct's life, and kfree() of memory
  holding an initialized srcu_struct that was never cleaned up is a leak ("Must invoke this after
  you are finished using a given srcu_struct that was initialized via init_srcu_struct(), else you
  leak memory.", kernel/rcu/srcutree.c). srcu_read_lock_held(&d) is true only inside a section of d.
* RCU and RCU Tasks Trace are domains too (rcu_read_lock, rcu_read_lock_trace, synchronize_rcu,
  synchronize_rcu_tasks_trace, kfree_rcu).
* RCU lists: list_add_rcu() inserts after the head (a stack), list_add_tail_rcu() before it (a
  queue); list_del_rcu() unlinks but leaves the entry's next pointer valid for readers on it, and
  poisons prev. Each insertion remembers its line, so an order problem can be traced to it.
* kmalloc/kzalloc/kfree: blocks are tracked, freed blocks keep their contents, every later access
  is a use-after-free event (machine.touch); a second kfree is a double free.
* spinlocks and mutexes: owner tracking, a taken lock makes the other thread wait, sleeping under
  a spinlock is reported.
* strscpy/strscpy_pad/bpf_obj_name_cpy copy as the kernel does and return -E2BIG (-EINVAL for
  bpf_obj_name_cpy) when the source does not fit; a negative result a caller drops is reported.
"""

from __future__ import annotations

from typing import Any

from reviewbot.interp.errors import Fault, NotModelled
from reviewbot.interp.machine import (ERRNO, Call, Machine, Section, Wait, container_of, member, stub)
from reviewbot.interp.memory import (BOOL, INT, NULL, UNINIT, VOID, Block, Func, Opaque, Ptr, Struct,
                                     c_string, pointee, ptr_to, truth)

POISON = Block(None, "LIST_POISON", kind="poison")
POISON1 = Ptr(POISON, ("poison1",))
POISON2 = Ptr(POISON, ("poison2",))

STUBS: dict[str, Any] = {}


def _register(fn):
    STUBS[fn.stub_name] = fn
    return fn


def reg(name: str | None = None, **kw):
    def deco(fn):
        return _register(stub(name, **kw)(fn))

    return deco


# -- object creation ---------------------------------------------------------------------------

def opaque_factory(m: Machine, stype: str, zeroed: bool, label: str) -> Any:
    if stype == "srcu_struct":
        return Opaque("srcu_struct", label, initialized=False, cleaned=False, static=False, readers=[],
                      idx=0, init_line=0, init_file="")
    if stype in ("spinlock", "raw_spinlock", "mutex", "rw_semaphore"):
        return Opaque(stype, label, owner=None)
    return None


def global_init(m: Machine, g) -> Any:
    if g.macro in ("DEFINE_STATIC_SRCU", "DEFINE_SRCU"):
        return Opaque("srcu_struct", g.name, initialized=True, cleaned=False, static=True, readers=[],
                      idx=0, init_line=g.line, init_file=g.path)
    if g.macro in ("DEFINE_SPINLOCK", "DEFINE_RAW_SPINLOCK"):
        return Opaque("spinlock", g.name, owner=None)
    if g.macro == "DEFINE_MUTEX":
        return Opaque("mutex", g.name, owner=None)
    if g.macro == "LIST_HEAD":
        head = Struct("list_head", True)
        me = Ptr(m.globals, (g.name,))
        head["next"] = me
        head["prev"] = me
        return head
    raise NotModelled(f"{g.macro}({g.name})", g.line, "a declaration macro the interpreter has no model of",
                      g.path)


STUBS["__opaque__"] = opaque_factory
STUBS["__global_init__"] = global_init


def _obj(ctx: Call, ptr: Any, kind: str, what: str) -> Opaque:
    if not isinstance(ptr, Ptr):
        raise NotModelled(what, ctx.line, "argument is not a pointer", ctx.file)
    obj = ctx.m.obj(ptr, ctx.th, ctx.line, what)
    if not isinstance(obj, Opaque) or obj.kind != kind:
        raise NotModelled(what, ctx.line, f"argument is not a {kind} the interpreter knows", ctx.file)
    return obj


def domain(m: Machine, name: str) -> Opaque:
    """The global RCU-flavour domains ("rcu", "rcu_tasks_trace")."""
    d = m.kstate.get("domain:" + name)
    if d is None:
        d = Opaque("srcu_struct", name.upper() if name == "rcu" else "RCU Tasks Trace", initialized=True,
                   cleaned=False, static=True, readers=[], idx=0, init_line=0, init_file="", flavour=name)
        m.kstate["domain:" + name] = d
    return d


# -- SRCU and RCU ------------------------------------------------------------------------------

def open_section(ctx: Call, d: Opaque) -> int:
    idx = d.state["idx"]
    sec = Section(d, ctx.th, ctx.line, ctx.file, idx)
    ctx.th.sections.append(sec)
    d.state["readers"].append(sec)
    return idx


def close_section(ctx: Call, d: Opaque, idx: int | None, what: str) -> None:
    for sec in reversed(ctx.th.sections):
        if sec.domain is d and (idx is None or sec.idx == idx):
            ctx.th.sections.remove(sec)
            d.state["readers"].remove(sec)
            return
    ctx.event("unbalanced", what=what, domain=d.label)


def wait_for_readers(ctx: Call, d: Opaque, what: str):
    th = ctx.th
    if th.atomic:
        ctx.event("sleep-in-atomic", what=what)
    if th.holds(d):
        ctx.event("deadlock", what=what, domain=d.label)
        raise Fault("deadlock", ctx.line, f"{what} inside a read-side section of {d.label}")
    before = list(d.state["readers"])
    d.state["idx"] ^= 1
    ctx.m.event("sync", th, ctx.line, ctx.file, domain=d, label=d.label, waited=len(before))
    ctx.log(f"{what} waits for {len(before)} reader(s) of {d.label}")
    if before:
        readers = d.state["readers"]
        yield Wait(lambda: not any(any(r is s for r in readers) for s in before), what)
        ctx.log(f"{what} returns: the readers of {d.label} that it waited for have finished")


@reg()
def srcu_read_lock(ctx, ssp):
    d = _obj(ctx, ssp, "srcu_struct", "srcu_read_lock(" + ctx.arg_text(0) + ")")
    if not d.state["initialized"] or d.state["cleaned"]:
        ctx.event("srcu-uninit", domain=d.label)
    idx = open_section(ctx, d)
    ctx.log(f"srcu_read_lock({ctx.arg_text(0)}) enters a read-side section of {d.label}")
    return idx


STUBS["srcu_read_lock_fast"] = srcu_read_lock
STUBS["srcu_read_lock_nmisafe"] = srcu_read_lock


@reg()
def srcu_read_unlock(ctx, ssp, idx):
    d = _obj(ctx, ssp, "srcu_struct", "srcu_read_unlock(" + ctx.arg_text(0) + ")")
    close_section(ctx, d, idx, f"srcu_read_unlock({ctx.arg_text(0)}) without a matching srcu_read_lock")
    ctx.log(f"srcu_read_unlock({ctx.arg_text(0)}) leaves the read-side section of {d.label}")
    return None


STUBS["srcu_read_unlock_fast"] = srcu_read_unlock
STUBS["srcu_read_unlock_nmisafe"] = srcu_read_unlock


@reg(blocking=True)
def synchronize_srcu(ctx, ssp):
    d = _obj(ctx, ssp, "srcu_struct", "synchronize_srcu(" + ctx.arg_text(0) + ")")
    return (yield from wait_for_readers(ctx, d, f"synchronize_srcu({ctx.arg_text(0)})"))


STUBS["synchronize_srcu_expedited"] = synchronize_srcu


@reg()
def init_srcu_struct(ctx, ssp):
    d = _obj(ctx, ssp, "srcu_struct", "init_srcu_struct(" + ctx.arg_text(0) + ")")
    d.state.update(initialized=True, cleaned=False, init_line=ctx.line, init_file=ctx.file)
    d.label = ctx.arg_text(0).lstrip("&").strip()
    return 0


@reg()
def cleanup_srcu_struct(ctx, ssp):
    d = _obj(ctx, ssp, "srcu_struct", "cleanup_srcu_struct(" + ctx.arg_text(0) + ")")
    if d.state["readers"]:
        ctx.event("srcu-busy-cleanup", domain=d.label)
    d.state["cleaned"] = True
    return None


@reg()
def srcu_read_lock_held(ctx, ssp):
    d = _obj(ctx, ssp, "srcu_struct", "srcu_read_lock_held(" + ctx.arg_text(0) + ")")
    return int(ctx.th.holds(d))


@reg()
def rcu_read_lock(ctx):
    open_section(ctx, domain(ctx.m, "rcu"))
    ctx.log("rcu_read_lock()")


@reg()
def rcu_read_unlock(ctx):
    close_section(ctx, domain(ctx.m, "rcu"), None, "rcu_read_unlock() without rcu_read_lock()")
    ctx.log("rcu_read_unlock()")


@reg()
def rcu_read_lock_trace(ctx):
    open_section(ctx, domain(ctx.m, "rcu_tasks_trace"))
    ctx.log("rcu_read_lock_trace()")


@reg()
def rcu_read_unlock_trace(ctx):
    close_section(ctx, domain(ctx.m, "rcu_tasks_trace"), None,
                  "rcu_read_unlock_trace() without rcu_read_lock_trace()")
    ctx.log("rcu_read_unlock_trace()")


@reg(blocking=True)
def synchronize_rcu(ctx):
    return (yield from wait_for_readers(ctx, domain(ctx.m, "rcu"), "synchronize_rcu()"))


@reg(blocking=True)
def synchronize_rcu_tasks_trace(ctx):
    return (yield from wait_for_readers(ctx, domain(ctx.m, "rcu_tasks_trace"), "synchronize_rcu_tasks_trace()"))


def rcu_read_lock_any_held(m: Machine, th) -> bool:
    return th.atomic > 0 or th.holds(domain(m, "rcu"))


@reg()
def rcu_read_lock_held(ctx):
    return int(ctx.th.holds(domain(ctx.m, "rcu")))


@reg()
def rcu_read_lock_trace_held(ctx):
    return int(ctx.th.holds(domain(ctx.m, "rcu_tasks_trace")))


@reg("rcu_read_lock_any_held")
def _rcu_read_lock_any_held(ctx):
    return int(rcu_read_lock_any_held(ctx.m, ctx.th))


@reg()
def lockdep_is_held(ctx, lock):
    obj = ctx.m.obj(lock, ctx.th, ctx.line, "lockdep_is_held()") if isinstance(lock, Ptr) else None
    return int(isinstance(obj, Opaque) and obj.state.get("owner") is ctx.th)


# -- deferred frees ------------------------------------------------------------------------------

def defer(m: Machine, d: Opaque, action, what: str) -> None:
    before = list(d.state["readers"])
    readers = d.state["readers"]
    m.kstate.setdefault("deferred", []).append(
        (lambda: not any(any(r is s for r in readers) for s in before), action, what))


def run_deferred(m: Machine) -> bool:
    """Run the callbacks whose grace period has ended; True when any ran."""
    pending = m.kstate.get("deferred")
    if not pending:
        return False
    ran = False
    for item in list(pending):
        if item[0]():
            pending.remove(item)
            item[1]()
            ran = True
    return ran


@reg(raw=True)
def kfree_rcu(ctx, ptr_node, *rest):
    ptr = yield from ctx.m.ev(ctx.th, ctx.fr, ptr_node)
    line, file, th = ctx.line, ctx.file, ctx.th
    ctx.log(f"kfree_rcu({ptr_node.source}) queues the free after an RCU grace period")
    defer(ctx.m, domain(ctx.m, "rcu"), lambda: free_block(ctx.m, th, ptr, line, file, "kfree_rcu"), "kfree_rcu")


STUBS["kvfree_rcu"] = kfree_rcu


# -- lists ---------------------------------------------------------------------------------------

def _rd(ctx: Call, addr: Ptr, what: str) -> Any:
    return ctx.m.load(ctx.th, addr, ctx.line, what)


def _wr(ctx: Call, addr: Ptr, value: Any, what: str) -> None:
    ctx.m.store(ctx.th, addr, value, ctx.line, what)


def _list_add(ctx: Call, new: Ptr, prev: Ptr, nxt: Ptr, name: str) -> None:
    _wr(ctx, new.field("next"), nxt, f"{ctx.arg_text(0)}->next")
    _wr(ctx, new.field("prev"), prev, f"{ctx.arg_text(0)}->prev")
    _wr(ctx, prev.field("next"), new, "prev->next")
    _wr(ctx, nxt.field("prev"), new, "next->prev")
    ctx.m.kstate.setdefault("inserted", {})[new] = (ctx.line, ctx.file, name)


@reg()
def INIT_LIST_HEAD(ctx, head):
    _wr(ctx, head.field("next"), head, "list->next")
    _wr(ctx, head.field("prev"), head, "list->prev")


@reg()
def list_add_rcu(ctx, new, head):
    _list_add(ctx, new, head, _rd(ctx, head.field("next"), f"{ctx.arg_text(1)}->next"), "list_add_rcu")
    ctx.log(f"list_add_rcu() puts {new.base.label} at the head of {ctx.arg_text(1).lstrip('&')}")


@reg()
def list_add_tail_rcu(ctx, new, head):
    _list_add(ctx, new, _rd(ctx, head.field("prev"), f"{ctx.arg_text(1)}->prev"), head, "list_add_tail_rcu")
    ctx.log(f"list_add_tail_rcu() puts {new.base.label} at the tail of {ctx.arg_text(1).lstrip('&')}")


@reg()
def list_add(ctx, new, head):
    _list_add(ctx, new, head, _rd(ctx, head.field("next"), f"{ctx.arg_text(1)}->next"), "list_add")


@reg()
def list_add_tail(ctx, new, head):
    _list_add(ctx, new, _rd(ctx, head.field("prev"), f"{ctx.arg_text(1)}->prev"), head, "list_add_tail")


def _unlink(ctx: Call, entry: Ptr) -> None:
    prev = _rd(ctx, entry.field("prev"), f"{ctx.arg_text(0)}->prev")
    nxt = _rd(ctx, entry.field("next"), f"{ctx.arg_text(0)}->next")
    _wr(ctx, nxt.field("prev"), prev, "next->prev")
    _wr(ctx, prev.field("next"), nxt, "prev->next")


@reg()
def list_del_rcu(ctx, entry):
    _unlink(ctx, entry)
    _wr(ctx, entry.field("prev"), POISON2, f"{ctx.arg_text(0)}->prev")
    ctx.log(f"list_del_rcu() unlinks {entry.base.label}; its next pointer stays valid for readers on it")


@reg()
def list_del(ctx, entry):
    _unlink(ctx, entry)
    _wr(ctx, entry.field("next"), POISON1, f"{ctx.arg_text(0)}->next")
    _wr(ctx, entry.field("prev"), POISON2, f"{ctx.arg_text(0)}->prev")


@reg()
def list_del_init(ctx, entry):
    _unlink(ctx, entry)
    _wr(ctx, entry.field("next"), entry, f"{ctx.arg_text(0)}->next")
    _wr(ctx, entry.field("prev"), entry, f"{ctx.arg_text(0)}->prev")


@reg()
def list_empty(ctx, head):
    return int(_rd(ctx, head.field("next"), f"{ctx.arg_text(0)}->next") == head)


@reg(raw=True)
def container_of_(ctx, ptr_node, type_node, member_node):
    ptr = yield from ctx.m.ev(ctx.th, ctx.fr, ptr_node)
    return container_of(ptr, member_node.source.strip())


container_of_.stub_name = "container_of"
STUBS["container_of"] = container_of_
STUBS.pop("container_of_", None)
STUBS["list_entry"] = container_of_
STUBS["list_entry_rcu"] = container_of_


@reg(raw=True)
def list_first_entry(ctx, head_node, type_node, member_node):
    head = yield from ctx.m.ev(ctx.th, ctx.fr, head_node)
    return container_of(_rd(ctx, head.field("next"), f"{head_node.source}->next"), member_node.source.strip())


@reg(raw=True)
def list_first_or_null_rcu(ctx, head_node, type_node, member_node):
    head = yield from ctx.m.ev(ctx.th, ctx.fr, head_node)
    first = _rd(ctx, head.field("next"), f"{head_node.source}->next")
    return NULL if first == head else container_of(first, member_node.source.strip())


def _type_arg(i: int):
    def typer(m, fr, n):
        args = n.f["arguments"].kids
        return ptr_to(m.p.type_from_text(args[i].source)) if len(args) > i else None

    return typer


for _name in ("container_of", "list_entry", "list_entry_rcu", "list_first_entry", "list_first_or_null_rcu"):
    STUBS[_name].static_type = _type_arg(1)


@reg(raw=True)
def offsetof(ctx, type_node, member_node):
    t = ctx.m.p.type_from_text(type_node.source)
    if t[0] != "struct":
        raise NotModelled(f"offsetof({type_node.source}, ...)", ctx.line, "not a struct type", ctx.file)
    return ctx.m.offsetof(t[1], member_node.source.strip(), ctx.node)


# -- plain memory access macros ----------------------------------------------------------------

def _same_type(i: int):
    def typer(m, fr, n):
        args = n.f["arguments"].kids
        return m.static_type(fr, args[i]) if len(args) > i else None

    return typer


@reg()
def READ_ONCE(ctx, value):
    return value


for _name in ("rcu_dereference", "rcu_dereference_raw", "smp_load_acquire", "rcu_access_pointer"):
    STUBS[_name] = READ_ONCE
READ_ONCE.static_type = _same_type(0)


@reg(raw=True)
def rcu_dereference_check(ctx, p_node, cond_node=None):
    value = yield from ctx.m.ev(ctx.th, ctx.fr, p_node)
    if cond_node is not None:
        ok = truth((yield from ctx.m.ev(ctx.th, ctx.fr, cond_node)))
        if not ok and not rcu_read_lock_any_held(ctx.m, ctx.th):
            ctx.event("lockdep", message="suspicious rcu_dereference_check() usage!", cond=cond_node.source,
                      macro="rcu_dereference_check")
    return value


STUBS["rcu_dereference_protected"] = rcu_dereference_check


@reg(raw=True)
def srcu_dereference(ctx, p_node, ssp_node, cond_node=None):
    value = yield from ctx.m.ev(ctx.th, ctx.fr, p_node)
    ssp = yield from ctx.m.ev(ctx.th, ctx.fr, ssp_node)
    d = _obj(ctx, ssp, "srcu_struct", "srcu_dereference()")
    ok = ctx.th.holds(d)
    if cond_node is not None and not ok:
        ok = truth((yield from ctx.m.ev(ctx.th, ctx.fr, cond_node)))
    if not ok:
        ctx.event("lockdep", message="suspicious rcu_dereference_check() usage!", cond=ssp_node.source,
                  macro="srcu_dereference")
    return value


STUBS["srcu_dereference_check"] = srcu_dereference
for _name in ("rcu_dereference_check", "rcu_dereference_protected", "srcu_dereference", "srcu_dereference_check"):
    STUBS[_name].static_type = _same_type(0)


@reg(raw=True)
def WRITE_ONCE(ctx, lhs, rhs):
    addr, ltype = yield from ctx.m.lv(ctx.th, ctx.fr, lhs)
    value = yield from ctx.m.ev(ctx.th, ctx.fr, rhs)
    ctx.m.store(ctx.th, addr, value, ctx.line, lhs.source)
    return None


for _name in ("rcu_assign_pointer", "smp_store_release", "RCU_INIT_POINTER"):
    STUBS[_name] = WRITE_ONCE


# -- allocation -----------------------------------------------------------------------------------

def _alloc(ctx: Call, zeroed: bool) -> Ptr:
    block = Block(Struct(None, zeroed), f"the object allocated at line {ctx.line}", zeroed=zeroed,
                  alloc_line=ctx.line)
    ctx.m.kstate.setdefault("allocated", []).append(block)
    return Ptr(block)


@reg()
def kmalloc(ctx, size, flags):
    return _alloc(ctx, False)


@reg()
def kzalloc(ctx, size, flags):
    return _alloc(ctx, True)


STUBS["kvmalloc"] = kmalloc
STUBS["kvzalloc"] = kzalloc


@reg()
def kcalloc(ctx, n, size, flags):
    return _alloc(ctx, True)


_HOLDERS = (dict, list, Opaque)  # what can hold a srcu_struct


def _srcu_structs(value: Any, out: list) -> None:
    if isinstance(value, Opaque):
        if value.kind == "srcu_struct":
            out.append(value)
    elif isinstance(value, dict):
        for v in value.values():
            if isinstance(v, _HOLDERS):
                _srcu_structs(v, out)
    elif isinstance(value, list):
        if set(map(type, value)) <= _INT:  # a char array
            return
        for v in value:
            if isinstance(v, _HOLDERS):
                _srcu_structs(v, out)


_INT = frozenset((int,))


def free_block(m: Machine, th, ptr: Any, line: int, file: str, how: str) -> None:
    if not isinstance(ptr, Ptr) or ptr.base is None:
        return
    block = ptr.base
    if ptr.path:
        raise NotModelled(f"{how} of a pointer into an object", line, "", file)
    if block.freed:
        m.event("double-free", th, line, file, block=block)
        return
    found: list = []
    _srcu_structs(block.data, found)
    for d in found:
        if d.state["initialized"] and not d.state["cleaned"] and not d.state["static"]:
            m.event("srcu-leak", th, line, file, domain=d, label=d.label, init_line=d.state["init_line"],
                    block=block)
    block.freed = True
    block.free_line = line
    block.free_file = file
    block.freed_by = how
    m.log(th, line, f"{how}() frees {block.label}" if how.isidentifier() else f"{how} frees {block.label}")


@reg()
def kfree(ctx, ptr):
    free_block(ctx.m, ctx.th, ptr, ctx.line, ctx.file, "kfree")


STUBS["kvfree"] = kfree


# -- locks --------------------------------------------------------------------------------------

def _lock(ctx: Call, ptr, kind: str, sleeps: bool):
    lock = ctx.m.obj(ptr, ctx.th, ctx.line, ctx.arg_text(0))
    if not isinstance(lock, Opaque):
        raise NotModelled(f"lock {ctx.arg_text(0)}", ctx.line, "not a lock the interpreter knows", ctx.file)
    th = ctx.th
    if sleeps and th.atomic:
        ctx.event("sleep-in-atomic", what=f"{kind}({ctx.arg_text(0)})")
    if lock.state.get("owner") is th:
        ctx.event("deadlock", what=f"{kind}({ctx.arg_text(0)}) taken twice")
        raise Fault("deadlock", ctx.line, f"{ctx.arg_text(0)} is already held by this thread")
    if lock.state.get("owner") is not None:
        yield Wait(lambda: lock.state.get("owner") is None, kind)
    lock.state["owner"] = th
    th.locks.append(lock)
    if not sleeps:
        th.atomic += 1


def _unlock(ctx: Call, ptr, sleeps: bool) -> None:
    lock = ctx.m.obj(ptr, ctx.th, ctx.line, ctx.arg_text(0))
    if not isinstance(lock, Opaque) or lock.state.get("owner") is not ctx.th:
        ctx.event("unbalanced", what=f"unlock of {ctx.arg_text(0)} not held")
        return
    lock.state["owner"] = None
    ctx.th.locks.remove(lock)
    if not sleeps:
        ctx.th.atomic -= 1


@reg(blocking=True)
def spin_lock(ctx, lock):
    return (yield from _lock(ctx, lock, "spin_lock", False))


@reg()
def spin_unlock(ctx, lock):
    _unlock(ctx, lock, False)


for _name in ("spin_lock_bh", "spin_lock_irq", "raw_spin_lock", "raw_spin_lock_irq"):
    STUBS[_name] = spin_lock
for _name in ("spin_unlock_bh", "spin_unlock_irq", "raw_spin_unlock", "raw_spin_unlock_irq"):
    STUBS[_name] = spin_unlock


@reg(raw=True)
def spin_lock_irqsave(ctx, lock_node, flags_node):
    lock = yield from ctx.m.ev(ctx.th, ctx.fr, lock_node)
    yield from _lock(ctx, lock, "spin_lock_irqsave", False)
    addr, _ = yield from ctx.m.lv(ctx.th, ctx.fr, flags_node)
    ctx.m.store(ctx.th, addr, 0, ctx.line, flags_node.source)


@reg(raw=True)
def spin_unlock_irqrestore(ctx, lock_node, flags_node):
    lock = yield from ctx.m.ev(ctx.th, ctx.fr, lock_node)
    _unlock(ctx, lock, False)


STUBS["raw_spin_lock_irqsave"] = spin_lock_irqsave
STUBS["raw_spin_unlock_irqrestore"] = spin_unlock_irqrestore


@reg(blocking=True)
def mutex_lock(ctx, lock):
    return (yield from _lock(ctx, lock, "mutex_lock", True))


@reg()
def mutex_unlock(ctx, lock):
    _unlock(ctx, lock, True)


@reg()
def lockdep_assert_held(ctx, lock):
    obj = ctx.m.obj(lock, ctx.th, ctx.line, ctx.arg_text(0))
    if not isinstance(obj, Opaque) or obj.state.get("owner") is not ctx.th:
        ctx.event("lockdep", message=f"lockdep_assert_held({ctx.arg_text(0)}) fails", cond=ctx.arg_text(0),
                  macro="lockdep_assert_held")


@reg()
def might_sleep(ctx):
    if ctx.th.atomic:
        ctx.event("sleep-in-atomic", what="might_sleep()")


# -- strings ----------------------------------------------------------------------------------

def _read_bytes(ctx: Call, ptr: Ptr, limit: int, what: str) -> tuple[bytes, bool]:
    """Up to `limit` bytes of a C string and whether a NUL was found within them."""
    ctx.m.touch(ctx.th, ptr, ctx.line, what)
    data = c_string(ptr, limit + 1)
    if len(data) >= limit:
        return data[:limit], False
    return data, True


def _write_bytes(ctx: Call, dst: Ptr, data: bytes, pad_to: int, what: str) -> None:
    ctx.m.touch(ctx.th, dst, ctx.line, what, write=True)
    container, key = ctx.m._slot(dst)
    if not isinstance(container, list) or not isinstance(key, int):
        raise NotModelled(what, ctx.line, "destination is not a char array", ctx.file)
    if key + max(len(data) + 1, pad_to) > len(container):
        ctx.event("overflow", what=what)
        raise Fault("overflow", ctx.line, f"{what} writes past the end of the destination")
    for i, c in enumerate(data):
        container[key + i] = c
    container[key + len(data)] = 0
    for i in range(len(data) + 1, pad_to):
        container[key + i] = 0


def _strscpy(ctx: Call, dst, src, size, pad: bool, name: str) -> int:
    if size <= 0:
        return -ERRNO["E2BIG"]
    data, terminated = _read_bytes(ctx, src, size, f"{name}() source")
    fits = terminated and len(data) < size
    copied = data if fits else data[: size - 1]
    _write_bytes(ctx, dst, copied, size if pad else 0, f"{name}() destination")
    ret = len(copied) if fits else -ERRNO["E2BIG"]
    if ret < 0:
        ctx.event("truncated", func=name, discarded=ctx.discarded, size=size, source=data, copied=copied)
        if ctx.discarded:
            ctx.event("ignored-error", func=name, value=ret, errname="-E2BIG")
    return ret


@reg()
def strscpy(ctx, dst, src, size):
    return _strscpy(ctx, dst, src, size, False, "strscpy")


@reg()
def strscpy_pad(ctx, dst, src, size):
    return _strscpy(ctx, dst, src, size, True, "strscpy_pad")


@reg()
def bpf_obj_name_cpy(ctx, dst, src, size):
    data, terminated = _read_bytes(ctx, src, size, "bpf_obj_name_cpy() source")
    _write_bytes(ctx, dst, b"", size, "bpf_obj_name_cpy() destination")
    for i, c in enumerate(data):
        if not (chr(c).isalnum() or c in b"_."):
            _write_bytes(ctx, dst, data[:i], 0, "bpf_obj_name_cpy() destination")
            ret = -ERRNO["EINVAL"]
            break
    else:
        if not terminated:
            _write_bytes(ctx, dst, data[: size - 1], 0, "bpf_obj_name_cpy() destination")
            ret = -ERRNO["EINVAL"]
        else:
            _write_bytes(ctx, dst, data, 0, "bpf_obj_name_cpy() destination")
            ret = len(data)
    if ret < 0 and ctx.discarded:
        ctx.event("ignored-error", func="bpf_obj_name_cpy", value=ret, errname="-EINVAL")
    return ret


@reg()
def strlen(ctx, s):
    ctx.m.touch(ctx.th, s, ctx.line, "strlen()")
    return len(c_string(s))


# -- atomics and error pointers ----------------------------------------------------------------

@reg()
def xchg(ctx, ptr, new):
    """xchg(&x, new): stores new, returns the old value, in one step."""
    old = ctx.m.load(ctx.th, ptr, ctx.line, f"*({ctx.arg_text(0)})")
    ctx.m.store(ctx.th, ptr, new, ctx.line, f"*({ctx.arg_text(0)})")
    return old


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Ptr) or isinstance(b, Ptr):
        pa = a if isinstance(a, Ptr) else (NULL if a == 0 else None)
        pb = b if isinstance(b, Ptr) else (NULL if b == 0 else None)
        return pa is not None and pb is not None and pa == pb
    return a == b


@reg()
def cmpxchg(ctx, ptr, old, new):
    """cmpxchg(&x, old, new): stores new if x is old, returns what x was, in one step."""
    cur = ctx.m.load(ctx.th, ptr, ctx.line, f"*({ctx.arg_text(0)})")
    if _same(cur, old):
        ctx.m.store(ctx.th, ptr, new, ctx.line, f"*({ctx.arg_text(0)})")
    return cur


STUBS["xchg_relaxed"] = xchg
STUBS["cmpxchg_relaxed"] = cmpxchg

ERR_BLOCK = Block(None, "an ERR_PTR() value", kind="errptr")


@reg()
def ERR_PTR(ctx, err):
    if not isinstance(err, int) or not -4095 <= err < 0:
        raise NotModelled(f"ERR_PTR({ctx.arg_text(0)})", ctx.line, "not a negative errno", ctx.file)
    return Ptr(ERR_BLOCK, (err,))


def is_err(value: Any) -> bool:
    return isinstance(value, Ptr) and value.base is ERR_BLOCK


@reg()
def IS_ERR(ctx, ptr):
    return int(is_err(ptr))


@reg()
def IS_ERR_OR_NULL(ctx, ptr):
    return int(is_err(ptr) or (isinstance(ptr, Ptr) and ptr.base is None) or ptr == 0)


@reg()
def PTR_ERR(ctx, ptr):
    if is_err(ptr):
        return ptr.path[0]
    if isinstance(ptr, Ptr) and ptr.base is None:
        return 0
    raise NotModelled(f"PTR_ERR({ctx.arg_text(0)})", ctx.line, "of a pointer that is no error", ctx.file)


@reg()
def ERR_CAST(ctx, ptr):
    return ptr


@reg(raw=True)
def IS_ENABLED(ctx, option):
    """Every kernel option a patch tests is on in the worlds (the code under #ifdef runs too)."""
    return 1


@reg()
def likely(ctx, value):
    return value


STUBS["unlikely"] = likely
likely.static_type = _same_type(0)


# -- misc -------------------------------------------------------------------------------------

@reg()
def WARN_ON(ctx, cond):
    hit = truth(cond)
    if hit:
        ctx.event("warn", what=ctx.arg_text(0))
    return int(hit)


STUBS["WARN_ON_ONCE"] = WARN_ON


@reg()
def BUG_ON(ctx, cond):
    if truth(cond):
        ctx.event("bug", what=ctx.arg_text(0))
        raise Fault("bug", ctx.line, f"BUG_ON({ctx.arg_text(0)})")


@reg("__btf_member_bit_offset")
def __btf_member_bit_offset(ctx, t, m):
    off = getattr(m, "bit_offset", None)
    if off is None:
        raise NotModelled("__btf_member_bit_offset()", ctx.line, "the member is not one the scenario made",
                          ctx.file)
    return off


STUBS["btf_member_bit_offset"] = __btf_member_bit_offset


def _noop(ctx, *args):
    return 0


for _name in ("pr_warn", "pr_info", "pr_err", "pr_debug", "pr_notice", "printk", "pr_warn_once",
              "cond_resched", "smp_mb", "smp_wmb", "smp_rmb", "barrier", "dump_stack"):
    STUBS[_name] = stub(_name)(_noop)

STUBS.pop("__opaque__ ", None)
