"""Worlds for code whose surroundings are unknown: havoc stubs, lazy objects, and the RCU stubs the
lifetime model needs (call_rcu, rcu_barrier, the other read-side flavours, kmem caches, xarrays/idrs).

A model that runs a function out of a whole kernel file cannot declare everything the function
touches: the structs of headers it did not parse, the callees in other files, the globals of other
compilation units. `HavocStubs(base, lazy)` is a stubs table for such worlds:

* a call to a function that is neither in the program nor a stub is a *havoc stub*: it has no
  effect on modelled memory and returns a `HavocPtr`: an object (a pointer to a fresh lazy object
  when stored into a pointer), 0 when stored into an integer, and in a condition true for names of
  lookups and grabs (`*get*`, `*try*`, `*find*`, `*lookup*`, ...), false for the rest (a check that
  found nothing wrong). One value per call: the worlds do not branch on it (docs: known problems);
* an identifier nobody declares is 0 in capitals (an enum constant, a macro) and a havoc value of
  integer 1 otherwise (a global of another file: a count, a flag);
* memory a world makes up (a parameter's object, a havoc result) is *lazy* (`memory.LAZY`): its
  fields are made on first access by `Lazy.make`: integers 0, pointers to further lazy objects, a
  few array entries, and what a model adds (list heads with entries, function pointers).
"""

from __future__ import annotations

import re
from typing import Any, Callable

from reviewbot.interp.errors import Fault, NotModelled
from reviewbot.interp.frames import Call, Wait, stub
from reviewbot.interp.kernel import STUBS, domain, free_block, open_section, close_section, wait_for_readers
from reviewbot.interp.memory import LAZY, NULL, SELF, Block, Func, HavocPtr, Opaque, Ptr, Struct, truth

TRUTHY = re.compile(r"get|try|find|lookup|search|alloc|create|new|match|valid|done|ready|grab|hold|pin|_by_")


class LazyList(list):
    """An array of a lazy object: entries made on first access (`etype`: their type, if known)."""

    __slots__ = ("etype",)
    etype_default = None

    def __deepcopy__(self, memo):
        from reviewbot.interp.memory import clone_value

        out = LazyList()
        memo[id(self)] = out
        out.etype = self.etype
        out.extend(x if x is LAZY or type(x) in (int, str) else clone_value(x, memo) for x in self)
        return out


class HavocFn:
    """A stub for a callee nothing models: no effect on memory, a havoc result."""

    raw = False
    blocking = False

    def __init__(self, name: str):
        self.stub_name = name
        self.truthy = bool(TRUTHY.search(name))

    def __call__(self, ctx: Call, *args: Any) -> Any:
        lazy = ctx.m.stubs["__lazy__"]
        value = lazy.pointer(None, f"what {self.stub_name}() returned", self.truthy)
        if ctx.th.sections:
            if REF.search(self.stub_name):
                pin(ctx, args)
            elif FOUND.search(self.stub_name):
                found(ctx, value, f"{self.stub_name}()")
        return value

    def __repr__(self) -> str:
        return f"<havoc {self.stub_name}()>"

    def __deepcopy__(self, memo):
        return self


FOUND = re.compile(r"(?:^|_)(?:find|lookup|search|get)(?:_|$)|_by_|_rcu$")


REF = re.compile(r"(?:^|_)(?:get|hold|grab|tryget|tryget_live|get_unless_zero|inc_not_zero|inc|pin|ref|getref)"
                 r"(?:_rcu)?$|^(?:kref_get|refcount_inc|atomic_inc|atomic_long_inc|percpu_ref_tryget|css_tryget|"
                 r"try_module_get|kobject_get|dget|igrab|mmget|sock_hold|dev_hold|netdev_hold)")


def pin(ctx: Call, args) -> None:
    """A reference (or the object's own lock) taken inside a read-side section: the object outlives it."""
    if not ctx.th.sections:
        return
    pinned = ctx.m.kstate.setdefault("pinned", set())
    for a in args:
        if isinstance(a, Ptr) and a.base is not None:
            pinned.add(id(a.base))


def found(ctx: Call, value: Any, how: str) -> None:
    """Note an object a thread found inside a read-side section (what a reader may hold)."""
    if isinstance(value, Ptr) and value.base is not None and ctx.th.sections:
        ctx.m.kstate.setdefault("found", []).append((value.base, ctx.line, ctx.th.name, how))


class Lazy:
    """Makes the fields of lazy objects (the `__lazy__` entry of a HavocStubs). A lazy pointer points
    at the first entry of a small array (so `p[i]` and `p->f` both work); integers are 0."""

    ARRAY = 4  # entries of an array whose length is unknown (a flexible array member, p[i])

    def __init__(self, program=None):
        self.p = program

    def pointer(self, etype: tuple | None, label: str, truthy: bool | None = None) -> Ptr:
        data = LazyList([LAZY] * self.ARRAY)
        data.etype = etype
        block = Block(data, label, zeroed=LAZY, owner="world")
        if truthy is None:
            return Ptr(block, (0,))
        return HavocPtr(block, (0,), truthy)

    def __call__(self, m, ctype: tuple | None, label: str) -> Any:
        return self.make(m, ctype, label)

    def element(self, m, etype: tuple | None, label: str) -> Any:
        if etype is None or etype[0] == "unknown":
            return Struct(None, LAZY)
        return self.make(m, etype, label)

    def make(self, m, ctype: tuple | None, label: str) -> Any:
        if ctype is None or ctype[0] == "unknown":
            # a member of a struct nobody declared: a havoc pointer to a lazy object of its own, which
            # serves as a struct (`.f` goes through it), an array (`[i]`), a pointer and 0
            return self.pointer(None, f"what ->{label} holds", False)
        kind = ctype[0]
        if kind == "int":
            return 0
        if ctype in (("struct", "list_head"), ("struct", "hlist_node")):
            head = Struct(ctype[1], True)
            head["next"] = SELF
            head["prev" if ctype[1] == "list_head" else "pprev"] = SELF
            return head
        if ctype == ("struct", "hlist_head"):
            head = Struct("hlist_head", True)
            head["first"] = NULL
            return head
        if kind == "struct":
            factory = m.stubs.get("__opaque__")
            special = factory(m, ctype[1], True, label) if factory else None
            if special is not None:
                return special
            return Struct(ctype[1], LAZY)
        if kind == "array":
            etype = ctype[1]
            n = ctype[2] if len(ctype) > 2 and isinstance(ctype[2], int) and ctype[2] > 0 else self.ARRAY
            out = LazyList([0] * n if etype[0] == "int" else [LAZY] * min(n, 64))
            out.etype = etype
            return out
        if kind == "ptr":
            target = ctype[1]
            if target[0] == "func":
                return HavocFn(label)
            what = f"the struct {target[1]} at ->{label}" if target[0] == "struct" else f"what ->{label} points to"
            return self.pointer(target, what)
        if kind == "func":
            return HavocFn(label)
        return 0

    def __deepcopy__(self, memo):
        return self


class HavocStubs(dict):
    """A stubs table in which nothing is unknown: see the module documentation."""

    def __init__(self, base: dict, lazy: Lazy):
        super().__init__(base)
        self["__lazy__"] = lazy
        self._havoc: dict[str, HavocFn] = {}

    def get(self, name, default=None):
        found = dict.get(self, name)
        if found is not None:
            return found
        if not isinstance(name, str) or name.startswith("__") and name.endswith("__"):
            return default
        fn = self._havoc.get(name)
        if fn is None:
            fn = self._havoc[name] = HavocFn(name)
        return fn

    def __contains__(self, name) -> bool:
        return True

    def __missing__(self, name):
        if re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
            return 0  # an enum constant or a macro of a header
        value = self["__lazy__"].pointer(None, name, True)
        value.ival = 8  # a global of another file: a count or a flag, 8
        return value


# -- RCU flavours, callbacks, barriers ------------------------------------------------------------

RCU_STUBS: dict[str, Any] = {}


def _reg(name: str | None = None, **kw):
    def deco(fn):
        s = stub(name, **kw)(fn)
        RCU_STUBS[s.stub_name] = s
        return s

    return deco


@_reg()
def rcu_read_lock_bh(ctx):
    open_section(ctx, domain(ctx.m, "rcu"))
    ctx.log(f"{ctx.node.f['function'].text if ctx.node is not None else 'rcu_read_lock'}() enters a read-side section of RCU")


@_reg()
def rcu_read_unlock_bh(ctx):
    close_section(ctx, domain(ctx.m, "rcu"), None, "rcu_read_unlock() without rcu_read_lock()")
    ctx.log(f"{ctx.node.f['function'].text if ctx.node is not None else 'rcu_read_unlock'}() leaves the read-side section of RCU")


for _n in ("rcu_read_lock_sched", "rcu_read_lock_sched_notrace", "preempt_disable"):
    RCU_STUBS[_n] = rcu_read_lock_bh
for _n in ("rcu_read_unlock_sched", "rcu_read_unlock_sched_notrace", "preempt_enable"):
    RCU_STUBS[_n] = rcu_read_unlock_bh
for _n in ("synchronize_rcu_expedited", "synchronize_net", "synchronize_sched", "synchronize_rcu_bh",
           "synchronize_sched_expedited", "synchronize_rcu_bh_expedited"):
    RCU_STUBS[_n] = STUBS["synchronize_rcu"]


def queue_callback(ctx: Call, d: Opaque, fn: Any, arg: Any, what: str) -> None:
    """Run `fn(arg)` on a thread of its own once the readers of `d` that are in a section now have
    left it (the earliest moment a grace period can end)."""
    m = ctx.m
    before = list(d.state["readers"])
    readers = d.state["readers"]
    line, file = ctx.line, ctx.file
    item: list = []

    def run() -> None:
        th = m.thread("the RCU callback", fn, [arg])
        th.file, th.line = file, line
        m.log(th, line, f"{what}: the grace period has ended, the callback runs")
        from reviewbot.interp.sched import run_alone

        run_alone(m, th)

    item.extend((lambda: not any(any(r is s for r in readers) for s in before), run, what))
    m.kstate.setdefault("deferred", []).append(tuple(item))
    m.kstate.setdefault("queued", []).append(what)


@_reg()
def call_rcu(ctx, head, fn):
    if isinstance(head, Ptr) and head.base is not None:
        ctx.m.kstate.setdefault("retired", set()).add(id(head.base))
    ctx.log(f"call_rcu({ctx.arg_text(0)}, {ctx.arg_text(1)}) queues the callback after a grace period")
    queue_callback(ctx, domain(ctx.m, "rcu"), fn, head, f"call_rcu({ctx.arg_text(1)})")


RCU_STUBS["call_rcu_hurry"] = call_rcu


@_reg()
def call_srcu(ctx, ssp, head, fn):
    d = ctx.m.obj(ssp, ctx.th, ctx.line, "call_srcu()") if isinstance(ssp, Ptr) else None
    if not isinstance(d, Opaque) or d.kind != "srcu_struct":
        raise NotModelled("call_srcu(" + ctx.arg_text(0) + ")", ctx.line, "not an srcu_struct the world knows",
                          ctx.file)
    ctx.log(f"call_srcu({ctx.arg_text(0)}, ...) queues the callback after a grace period of {d.label}")
    queue_callback(ctx, d, fn, head, f"call_srcu({ctx.arg_text(2)})")


@_reg(blocking=True)
def rcu_barrier(ctx):
    """Waits until every callback queued before it has run."""
    pending = ctx.m.kstate.setdefault("deferred", [])
    before = list(pending)
    ctx.log(f"rcu_barrier() waits for {len(before)} queued callback(s)")
    if before:
        yield Wait(lambda: not any(any(p is b for p in pending) for b in before), "rcu_barrier()")
        ctx.log("rcu_barrier() returns: the callbacks queued before it have run")


for _n in ("srcu_barrier", "rcu_barrier_tasks", "rcu_barrier_tasks_trace"):
    RCU_STUBS[_n] = rcu_barrier


# -- frees --------------------------------------------------------------------------------------

def free(ctx: Call, ptr: Any, how: str) -> None:
    if isinstance(ptr, Ptr) and ptr.base is not None and ptr.path and ptr.path != (0,):
        # &obj->member of a lazy object: the object itself (a kfree of a member pointer is rare)
        raise NotModelled(f"{how}({ctx.arg_text(0)})", ctx.line, "frees a pointer into an object", ctx.file)
    if isinstance(ptr, Ptr) and ptr.path == (0,):
        ptr = Ptr(ptr.base, ())
    free_block(ctx.m, ctx.th, ptr, ctx.line, ctx.file, how)


@_reg()
def kfree(ctx, ptr):
    free(ctx, ptr, "kfree")


for _n in ("kvfree", "kfree_sensitive", "kzfree", "vfree", "kvfree_sensitive"):
    RCU_STUBS[_n] = kfree


@_reg(raw=True)
def kfree_rcu(ctx, ptr_node, *rest):
    ptr = yield from ctx.m.ev(ctx.th, ctx.fr, ptr_node)
    line, file, th = ctx.line, ctx.file, ctx.th
    ctx.log(f"kfree_rcu({ptr_node.source}) queues the free after an RCU grace period")
    from reviewbot.interp.kernel import defer

    p = Ptr(ptr.base, ()) if isinstance(ptr, Ptr) and ptr.path == (0,) else ptr
    if isinstance(p, Ptr) and p.base is not None:
        ctx.m.kstate.setdefault("retired", set()).add(id(p.base))
    defer(ctx.m, domain(ctx.m, "rcu"), lambda: free_block(ctx.m, th, p, line, file, "kfree_rcu"), "kfree_rcu")


for _n in ("kvfree_rcu", "kfree_rcu_mightsleep", "kvfree_rcu_mightsleep"):
    RCU_STUBS[_n] = kfree_rcu


@_reg()
def kmem_cache_create(ctx, *args):
    block = Block(Opaque("kmem_cache", ctx.arg_text(0).strip('"')), f"the kmem_cache created at line {ctx.line}",
                  alloc_line=ctx.line, owner="world")
    return Ptr(block, ())


RCU_STUBS["kmem_cache_create_usercopy"] = kmem_cache_create
RCU_STUBS["KMEM_CACHE"] = stub("KMEM_CACHE", raw=True)(lambda ctx, *nodes: kmem_cache_create(ctx))


def _cache(ctx: Call, cache: Any, what: str) -> None:
    if isinstance(cache, Ptr) and cache.base is not None:
        ctx.m.touch(ctx.th, cache, ctx.line, what)


@_reg()
def kmem_cache_destroy(ctx, cache):
    if isinstance(cache, Ptr) and cache.base is not None:
        free_block(ctx.m, ctx.th, cache, ctx.line, ctx.file, "kmem_cache_destroy")


@_reg()
def kmem_cache_alloc(ctx, cache, flags):
    _cache(ctx, cache, f"kmem_cache_alloc({ctx.arg_text(0)})")
    block = Block(Struct(None, True), f"the object allocated at line {ctx.line}", alloc_line=ctx.line)
    ctx.m.kstate.setdefault("allocated", []).append(block)
    return Ptr(block)


RCU_STUBS["kmem_cache_zalloc"] = kmem_cache_alloc


@_reg()
def kmem_cache_free(ctx, cache, ptr):
    _cache(ctx, cache, f"kmem_cache_free({ctx.arg_text(0)}, ...)")
    free(ctx, ptr, "kmem_cache_free")


# -- tables: xarray, idr, radix tree ----------------------------------------------------------------

def _table(ctx: Call, xa: Any) -> dict:
    if not isinstance(xa, Ptr) or xa.base is None:
        raise NotModelled(f"{ctx.arg_text(0)}", ctx.line, "a table the world does not know", ctx.file)
    ctx.m.touch(ctx.th, xa, ctx.line, ctx.arg_text(0))
    tables = ctx.m.kstate.setdefault("tables", {})
    key = (id(xa.base), xa.path)
    t = tables.get(key)
    if t is None:
        t = tables[key] = {"entries": {}, "erased": set(), "block": xa.base}
    return t


def _index(value: Any) -> Any:
    return value if isinstance(value, int) else 0


@_reg()
def xa_load(ctx, xa, index):
    t = _table(ctx, xa)
    i = _index(index)
    if i in t["erased"]:
        return NULL
    entry = t["entries"].get(i)
    if entry is None:  # a lazy table holds an entry at every index it is asked for
        lazy = ctx.m.stubs.get("__lazy__")
        entry = t["entries"][i] = lazy.pointer(None, f"the entry at index {i} of {ctx.arg_text(0).lstrip('&')}")
    ctx.log(f"{ctx.node.f['function'].text if ctx.node is not None else 'xa_load'}() finds "
            f"{entry.base.label if isinstance(entry, Ptr) and entry.base else 'nothing'}")
    found(ctx, entry, "xa_load()")
    return entry


for _n in ("idr_find", "radix_tree_lookup"):
    RCU_STUBS[_n] = xa_load


@_reg()
def xa_erase(ctx, xa, index):
    t = _table(ctx, xa)
    i = _index(index)
    old = t["entries"].pop(i, None)
    if old is None and i not in t["erased"]:
        lazy = ctx.m.stubs.get("__lazy__")
        old = lazy.pointer(None, f"the entry at index {i} of {ctx.arg_text(0).lstrip('&')}")
    t["erased"].add(i)
    ctx.log(f"{ctx.node.f['function'].text if ctx.node is not None else 'xa_erase'}() removes index {i}")
    return old if old is not None else NULL


for _n in ("__xa_erase", "idr_remove", "radix_tree_delete", "xa_erase_irq", "xa_erase_bh"):
    RCU_STUBS[_n] = xa_erase


@_reg()
def xa_store(ctx, xa, index, entry, *flags):
    t = _table(ctx, xa)
    i = _index(index)
    old = t["entries"].get(i, NULL)
    t["entries"][i] = entry
    t["erased"].discard(i)
    return old


for _n in ("__xa_store", "xa_store_irq", "xa_store_bh", "idr_replace", "radix_tree_insert"):
    RCU_STUBS[_n] = xa_store


@_reg()
def xa_err(ctx, entry):
    return 0


@_reg()
def kref_get_unless_zero(ctx, ref):
    if isinstance(ref, Ptr) and ref.base is not None:
        ctx.m.touch(ctx.th, ref, ctx.line, ctx.arg_text(0))
    pin(ctx, (ref,))
    return 1


for _n in ("refcount_inc_not_zero", "atomic_inc_not_zero", "kref_get", "refcount_inc", "atomic_inc"):
    RCU_STUBS[_n] = kref_get_unless_zero


def stubs_for(program=None, extra: dict | None = None, lazy: Lazy | None = None) -> HavocStubs:
    """The stubs of a havoc world: the kernel stubs, the RCU ones here, `extra`, havoc for the rest."""
    base = dict(STUBS)
    base.update(RCU_STUBS)
    if extra:
        base.update(extra)
    return HavocStubs(base, lazy or Lazy(program))


__all__ = ["HavocFn", "HavocStubs", "Lazy", "LazyList", "RCU_STUBS", "queue_callback", "stubs_for"]

_unused: Callable = (Fault, Func, truth, wait_for_readers)


# -- locks of lazy objects ----------------------------------------------------------------------------

def _as_lock(ctx: Call, ptr: Any, kind: str) -> None:
    """A lock inside a lazy object (or another file's global) becomes a lock on first use."""
    if not isinstance(ptr, Ptr) or ptr.base is None:
        return
    pin(ctx, (ptr,))  # the object's own lock taken inside the section: lock, then revalidate
    obj = ctx.m.obj(ptr, ctx.th, ctx.line, ctx.arg_text(0))
    if isinstance(obj, Opaque):
        ctx.m.kstate.setdefault("locks_taken", {}).setdefault(ctx.th.name, set()).add(id(obj))
        return
    if not ptr.path:
        raise NotModelled(f"lock {ctx.arg_text(0)}", ctx.line, "not a lock the interpreter knows", ctx.file)
    container, key = ctx.m._slot(ptr)
    lock = container[key] = Opaque(kind, ctx.arg_text(0).lstrip("&").strip(), owner=None)
    ctx.m.kstate.setdefault("locks_taken", {}).setdefault(ctx.th.name, set()).add(id(lock))


def _wrap_lock(name: str, kind: str):
    inner = STUBS[name]
    if inner.raw:
        def raw_lock(ctx, lock_node, *rest):
            lock = yield from ctx.m.ev(ctx.th, ctx.fr, lock_node)
            _as_lock(ctx, lock, kind)
            out = inner(ctx, lock_node, *rest)
            return (yield from out) if hasattr(out, "send") else out

        return stub(name, raw=True)(raw_lock)
    if inner.blocking:
        def blocking_lock(ctx, lock, *rest):
            _as_lock(ctx, lock, kind)
            return (yield from inner(ctx, lock))

        return stub(name, blocking=True)(blocking_lock)

    def plain(ctx, lock, *rest):
        _as_lock(ctx, lock, kind)
        return inner(ctx, lock)

    return stub(name)(plain)


for _n in ("spin_lock", "spin_unlock", "spin_lock_bh", "spin_lock_irq", "raw_spin_lock", "raw_spin_lock_irq",
           "spin_unlock_bh", "spin_unlock_irq", "raw_spin_unlock", "raw_spin_unlock_irq", "spin_lock_irqsave",
           "spin_unlock_irqrestore", "raw_spin_lock_irqsave", "raw_spin_unlock_irqrestore"):
    RCU_STUBS[_n] = _wrap_lock(_n, "spinlock")
for _n in ("mutex_lock", "mutex_unlock"):
    RCU_STUBS[_n] = _wrap_lock(_n, "mutex")
for _alias, _of in (("mutex_lock_interruptible", "mutex_lock"), ("mutex_lock_killable", "mutex_lock"),
                    ("down_write", "mutex_lock"), ("up_write", "mutex_unlock"), ("down_read", "mutex_lock"),
                    ("up_read", "mutex_unlock"), ("write_lock", "spin_lock"), ("write_unlock", "spin_unlock"),
                    ("read_lock", "spin_lock"), ("read_unlock", "spin_unlock"), ("write_lock_bh", "spin_lock"),
                    ("write_unlock_bh", "spin_unlock"), ("read_lock_bh", "spin_lock"), ("read_unlock_bh", "spin_unlock"),
                    ("spin_lock_nested", "spin_lock"), ("mutex_lock_nested", "mutex_lock")):
    RCU_STUBS[_alias] = RCU_STUBS[_of]


@_reg()
def lockdep_is_held(ctx, lock):
    obj = ctx.m.obj(lock, ctx.th, ctx.line, "lockdep_is_held()") if isinstance(lock, Ptr) and lock.base else None
    return int(not isinstance(obj, Opaque) or obj.state.get("owner") is ctx.th)


@_reg()
def lockdep_assert_held(ctx, lock):
    return None


RCU_STUBS["lockdep_assert_held_once"] = lockdep_assert_held
