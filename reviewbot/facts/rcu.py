"""What a file does with RCU and SRCU: who publishes, who reads, who retires, and what each function
does to locks and grace periods. Shared by the rcu and srcu rule packs and the lifetime model.

The kernel's RCU contract, in the terms used here:

* a *slot* is where readers find an object: a pointer loaded with rcu_dereference*() (`struct
  foo::cfg` when the pointer is a member, the global's name otherwise), a list whose entries are
  walked with an _rcu/_srcu iterator (`list:struct ent::node`, by the entries' type and member),
  or a table looked up under RCU (`table:struct pool::xa` for an xarray, idr or radix tree);
* a *reader* loads from a slot inside a read-side section (rcu_read_lock() and its _bh/_sched
  flavours, srcu_read_lock(&d), or a lockdep condition naming one);
* a *publisher* stores into a slot (rcu_assign_pointer, list_add_rcu, xa_store, idr_alloc, ...);
* a *retirer* unpublishes (list_del_rcu, RCU_INIT_POINTER(slot, NULL), xa_erase, ...) and frees,
  with a grace period of the readers' flavour in between (synchronize_rcu, call_rcu, kfree_rcu,
  synchronize_srcu(&d), call_srcu(&d, ...)).

Slots are keyed by the struct type and member, not by the names of locals, so a reader in one
function and a retirer in another meet on the same key. `index(ctx)` builds this once per file.

Function summaries say, for each function of the file, what a call to it does: takes or releases a
read-side section (the `*_enter()`/`*_exit()`, `*_start()`/`*_stop()` and `__acquires()` idioms),
waits for a grace period, frees a parameter, may sleep, and which locks the calls to it are made
under. With them a check can follow a lock or a free across calls inside the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from reviewbot.facts.types import MEMBER, VariableTypes, member_key, squash

# --- vocabulary ----------------------------------------------------------------------------------

# read-side sections of classic RCU (one consolidated flavour since 4.20: preempt and irq disabling
# also hold off synchronize_rcu(), but only the rcu_read_lock*() family documents a reader)
RCU_LOCKS = {"rcu_read_lock", "rcu_read_lock_bh", "rcu_read_lock_sched", "rcu_read_lock_sched_notrace",
             "rcu_read_lock_trace"}
RCU_UNLOCKS = {"rcu_read_unlock", "rcu_read_unlock_bh", "rcu_read_unlock_sched",
               "rcu_read_unlock_sched_notrace", "rcu_read_unlock_trace"}
RCU_FLAVOURS = {"rcu", "rcu_bh", "rcu_sched", "rcu_trace"}
SRCU_LOCKS = {"srcu_read_lock", "srcu_read_lock_nmisafe", "srcu_read_lock_fast", "srcu_read_lock_notrace",
              "srcu_read_lock_lite", "__srcu_read_lock"}
SRCU_UNLOCKS = {"srcu_read_unlock", "srcu_read_unlock_nmisafe", "srcu_read_unlock_fast",
                "srcu_read_unlock_notrace", "srcu_read_unlock_lite", "__srcu_read_unlock"}

# waits for classic RCU readers (a free from call_rcu()'s callback or kfree_rcu() comes after one)
RCU_WAITS = {"synchronize_rcu", "synchronize_rcu_expedited", "synchronize_net", "synchronize_sched",
             "synchronize_rcu_bh", "synchronize_rcu_mult", "cond_synchronize_rcu", "synchronize_rcu_tasks",
             "synchronize_rcu_tasks_trace", "synchronize_rcu_tasks_rude", "wait_rcu_gp",
             "tracepoint_synchronize_unregister", "synchronize_sched_expedited", "synchronize_rcu_bh_expedited"}
# waits for the callbacks already queued (each of which came after a grace period): after one, no
# reader of an object unpublished before it remains
BARRIERS = {"rcu_barrier", "rcu_barrier_tasks", "rcu_barrier_tasks_trace", "srcu_barrier", "rcu_barrier_bh",
            "rcu_barrier_sched"}
RCU_DEFERS = {"call_rcu", "call_rcu_hurry", "kfree_rcu", "kvfree_rcu", "kfree_rcu_mightsleep",
              "kvfree_rcu_mightsleep", "queue_rcu_work", "call_rcu_tasks", "call_rcu_tasks_trace"}
SRCU_WAITS = {"synchronize_srcu", "synchronize_srcu_expedited"}
SRCU_DEFERS = {"call_srcu"}

# free call -> index of the freed pointer
FREES = {"kfree": 0, "kvfree": 0, "kfree_sensitive": 0, "kzfree": 0, "vfree": 0, "kmem_cache_free": 1,
         "free_percpu": 0, "kvfree_sensitive": 0}
DEFERRED_FREES = {"kfree_rcu": 0, "kvfree_rcu": 0, "kfree_rcu_mightsleep": 0, "kvfree_rcu_mightsleep": 0}

# unpublish call -> index of the argument naming what leaves the slot
LIST_DELS = {"list_del_rcu": 0, "list_del_init_rcu": 0, "hlist_del_rcu": 0, "hlist_del_init_rcu": 0,
             "hlist_nulls_del_rcu": 0, "hlist_nulls_del_init_rcu": 0, "list_replace_rcu": 0,
             "hlist_replace_rcu": 0, "hlist_bl_del_rcu": 0}
LIST_ADDS = {"list_add_rcu": 1, "list_add_tail_rcu": 1, "hlist_add_head_rcu": 1, "hlist_add_tail_rcu": 1,
             "hlist_add_before_rcu": None, "hlist_add_behind_rcu": None, "hlist_nulls_add_head_rcu": 1,
             "hlist_nulls_add_tail_rcu": 1, "hlist_bl_add_head_rcu": 1}
POINTER_STORES = {"rcu_assign_pointer", "RCU_INIT_POINTER", "rcu_replace_pointer"}
POINTER_LOADS = {"rcu_dereference", "rcu_dereference_bh", "rcu_dereference_sched", "rcu_dereference_check",
                 "rcu_dereference_bh_check", "rcu_dereference_sched_check", "rcu_dereference_raw",
                 "rcu_dereference_raw_check", "srcu_dereference", "srcu_dereference_check",
                 "srcu_dereference_notrace", "rcu_dereference_protected", "rcu_access_pointer",
                 "rcu_dereference_all", "rcu_dereference_all_check"}
# loads that only a reader (not the update side) makes
READER_LOADS = {"rcu_dereference", "rcu_dereference_bh", "rcu_dereference_sched", "rcu_dereference_check",
                "rcu_dereference_bh_check", "rcu_dereference_sched_check", "srcu_dereference",
                "srcu_dereference_check", "srcu_dereference_notrace", "rcu_dereference_all",
                "rcu_dereference_all_check"}
UPDATER_LOADS = {"rcu_dereference_protected", "rcu_access_pointer", "rcu_dereference_raw"}
TABLE_LOOKUPS = {"xa_load": 0, "idr_find": 0, "radix_tree_lookup": 0, "radix_tree_lookup_slot": 0,
                 "idr_get_next": 0, "xa_find": 0, "xa_find_after": 0}
TABLE_REMOVES = {"xa_erase": 0, "__xa_erase": 0, "idr_remove": 0, "radix_tree_delete": 0,
                 "radix_tree_delete_item": 0, "xa_erase_irq": 0, "xa_erase_bh": 0, "xa_release": 0}
TABLE_STORES = {"xa_store": 0, "__xa_store": 0, "xa_insert": 0, "__xa_insert": 0, "xa_alloc": 0,
                "__xa_alloc": 0, "xa_alloc_cyclic": 0, "__xa_alloc_cyclic": 0, "idr_alloc": 0,
                "idr_alloc_cyclic": 0, "idr_alloc_u32": 0, "idr_replace": 0, "radix_tree_insert": 0,
                "xa_store_irq": 0, "xa_store_bh": 0}
RCU_ITERATORS = re.compile(r"^(?:h?list|hlist_nulls|hlist_bl)_for_each_entry(?:_from|_continue)?_(?:rcu|srcu)"
                           r"(?:_notrace|_bh)?$")
LIST_LOOKUPS = {"list_first_or_null_rcu", "list_next_or_null_rcu", "list_entry_rcu", "list_first_entry_rcu",
                "hlist_first_rcu", "list_tail_rcu"}
# reference grabs that make an object outlive the read-side section it was found in
REF_GETS = re.compile(r"(?:^|_)(?:get|hold|grab|ref|tryget|get_unless_zero|inc_not_zero|inc|pin|lock)"
                      r"(?:_\w+)?$|^kref_get|^refcount_inc|^atomic_inc|^atomic_long_inc|^percpu_ref_tryget"
                      r"|^css_tryget|^get_\w+|^try_module_get|^kobject_get|^dget|^igrab|^mmget|^sock_hold")

ANNOTATION = re.compile(r"__(acquires|releases|must_hold)\s*\(\s*([^()]*(?:\([^()]*\))?[^()]*)\s*\)")


def is_null(text: str) -> bool:
    return squash(text) in ("NULL", "0", "(void*)0", "((void*)0)")


@dataclass(frozen=True)
class ReadSite:
    """Where a function loads from a slot: the call or iterator, and what protects it there."""

    slot: str
    function: str
    lines: tuple[int, int]
    how: str  # rcu_dereference, list_for_each_entry_rcu, xa_load, ...
    protection: str | None  # "rcu" / "srcu:<domain key>" / "lock" / "lockdep" / None (nothing seen)
    var: str | None = None  # the variable that receives the loaded pointer, when one does


@dataclass(frozen=True)
class CallSite:
    caller: str
    callee: str
    lines: tuple[int, int]
    held: frozenset[str]  # the lock keys held at the call on some path (kind:key)


@dataclass
class Summary:
    """What a call to a function of this file does (over its bounded paths)."""

    name: str
    takes: set[str] = field(default_factory=set)  # section/lock keys it takes ("rcu", "srcu:&d", "mutex:&m")
    releases: set[str] = field(default_factory=set)
    leaves_held: set[str] = field(default_factory=set)  # taken and still held at some return: an acquire helper
    releases_unheld: set[str] = field(default_factory=set)  # released without taking: a release helper
    waits: set[str] = field(default_factory=set)  # "rcu" or "srcu:<domain key>" it waits for (any path)
    frees_params: set[int] = field(default_factory=set)  # parameters it frees (kfree family) on some path
    sleeps: str | None = None  # the call that may sleep on some path, when one does
    annotated: set[str] = field(default_factory=set)  # __acquires/__releases/__must_hold texts
    # may end its caller's RCU section: releases it without taking it, or calls a function that
    # may (out of the file: one whose name says so, ipc_unlock(), *_put_*())
    may_release: bool = False


def lock_key(op) -> str:
    """`rcu` for classic RCU flavours, `srcu:<domain>` for SRCU, `<kind>:<expr>` for other locks."""
    if op.kind in RCU_FLAVOURS:
        return "rcu"
    return f"{op.kind}:{op.key}"


class RcuIndex:
    """The RCU view of one file (see the module documentation). Built lazily, kept per file."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.facts = ctx.facts
        self.types = VariableTypes(ctx)
        self.names = {f.name for f in self.facts.functions}
        self._calls_by_function: dict[str, list] = {}
        for c in self.facts.calls:
            if c.function:
                self._calls_by_function.setdefault(c.function, []).append(c)

    # -- keys

    @property
    def calls_by_function(self) -> dict[str, list]:
        """function -> the calls made in it, in source order."""
        return self._calls_by_function

    def calls_in(self, function: str) -> list:
        return self._calls_by_function.get(function, [])

    @cached_property
    def aliases(self) -> dict[str, dict[str, str]]:
        """function -> {local: expression it was set to}, for locals set once from a member or
        address (`xa = &pool->xa`, `sbi = sb->s_fs_info`)."""
        out: dict[str, dict[str, str]] = {}
        seen: dict[tuple[str, str], int] = {}
        for a in self.facts.assignments:
            if not a.function or not re.fullmatch(r"\w+", a.target):
                continue
            seen[(a.function, a.target)] = seen.get((a.function, a.target), 0) + 1
            if a.operator in ("=", "init"):
                out.setdefault(a.function, {})[a.target] = squash(a.value)
        for (fn, var), count in seen.items():
            if count > 1:
                out.get(fn, {}).pop(var, None)  # set twice: not an alias
        return out

    def resolve(self, function: str | None, expr: str) -> str:
        """An expression with a once-set local replaced by what it was set to."""
        text = squash(expr)
        if function is None:
            return text
        local = self.aliases.get(function, {})
        m = re.fullmatch(r"(&?)\(?(\w+)\)?((?:->|\.)\w+(?:(?:->|\.)\w+)*)?", text)
        if m and m.group(2) in local and not local[m.group(2)].startswith(("(", "kzalloc", "kmalloc")):
            base = local[m.group(2)]
            if m.group(3):
                if base.startswith("&"):
                    return f"{m.group(1)}{base[1:]}{m.group(3).replace('->', '.', 1)}"
                return f"{m.group(1)}{base}{m.group(3)}"
            if not m.group(1):
                return base
        return text

    def slot(self, function: str | None, expr: str) -> str:
        """The key of a pointer slot or table: `struct T::m` (through a local's declared type),
        else the expression itself without `&`."""
        text = self.resolve(function, expr)
        text = text[1:] if text.startswith("&") else text
        m = re.fullmatch(r"\(?(\w+)\)?(->|\.)(\w+(?:(?:\.|->)\w+)*)", text)
        if m:
            struct = self.types.struct_of(function, m.group(1), pointer=m.group(2) == "->")
            if struct:
                return f"{struct}::{m.group(3).replace('->', '.')}"
        m = re.fullmatch(r"\(?(\w+)\)?(->|\.)(\w+)\[[^\]]*\]", text)  # sdata->link[id]
        if m:
            struct = self.types.struct_of(function, m.group(1), pointer=m.group(2) == "->")
            if struct:
                return f"{struct}::{m.group(3)}[]"
        return text

    def srcu_domain(self, function: str | None, arg: str) -> tuple[str, str] | None:
        """The srcu_struct an init/cleanup argument names: (struct type or "", member) for `&v->m`,
        `v->m` (a pointer member) or `&v.m`; ("global", name) for `&name`; None otherwise."""
        text = squash(arg)
        ref = text if text.startswith("&") else "&" + text
        m = MEMBER.match(ref)
        if m:
            key = member_key(self.types, function, ref)
            return (key[0] if key else ""), m.group(3)
        if re.fullmatch(r"&?\(?\w+\)?", text):
            return "global", text.lstrip("&").strip("()")
        return None

    def entry(self, function: str | None, expr: str) -> tuple[str, str, str] | None:
        """`&obj->node` -> (obj, list key `list:struct T::node`, member) for list add/del calls."""
        m = MEMBER.match(squash(expr))
        if not m or m.group(2) != "->":
            return None
        struct = self.types.struct_of(function, m.group(1))
        return m.group(1), f"list:{struct or '?'}::{m.group(3)}", m.group(3)

    def cursor_list(self, function: str | None, cursor: str, member: str) -> str:
        struct = self.types.struct_of(function, squash(cursor))
        return f"list:{struct or '?'}::{squash(member)}"

    # -- who reads

    @cached_property
    def read_sites(self) -> list[ReadSite]:
        out: list[ReadSite] = []
        facts = self.facts
        for loop in facts.loops:
            if not loop.function or not RCU_ITERATORS.match(loop.macro) or len(loop.args) < 3:
                continue
            key = self.cursor_list(loop.function, loop.args[0], loop.args[2])
            out.append(ReadSite(key, loop.function, loop.lines, loop.macro,
                                self.protection(loop.function, loop.lines[0], loop.args[3] if len(loop.args) > 3 else None),
                                squash(loop.args[0])))
        assigned = {a.lines[0]: a for a in facts.assignments}
        for call in facts.calls:
            if not call.function or not call.args:
                continue
            if call.name in POINTER_LOADS:
                cond = call.args[1] if len(call.args) > 1 and (call.name.endswith("_check") or call.name in (
                    "srcu_dereference", "rcu_dereference_protected", "srcu_dereference_notrace")) else None
                if call.name == "rcu_dereference_protected":
                    prot = "lockdep"
                elif call.name == "rcu_access_pointer" or call.name.startswith("rcu_dereference_raw"):
                    prot = "lockdep"
                elif call.name.startswith("srcu_dereference"):
                    prot = "srcu:" + self.slot(call.function, call.args[1]) if len(call.args) > 1 else "srcu"
                    prot = self.protection(call.function, call.lines[0], None) or prot
                else:
                    prot = self.protection(call.function, call.lines[0], cond)
                a = assigned.get(call.lines[0])
                var = squash(a.target) if a is not None and a.value.startswith(call.name) else None
                out.append(ReadSite(self.slot(call.function, call.args[0]), call.function, call.lines, call.name,
                                    prot, var))
            elif call.name in TABLE_LOOKUPS:
                a = assigned.get(call.lines[0])
                var = squash(a.target) if a is not None and call.name in a.value else None
                out.append(ReadSite("table:" + self.slot(call.function, call.args[0]), call.function, call.lines,
                                    call.name, self.protection(call.function, call.lines[0], None), var))
            elif call.name in LIST_LOOKUPS and len(call.args) >= 3:
                out.append(ReadSite(f"list:?::{squash(call.args[2])}", call.function, call.lines, call.name,
                                    self.protection(call.function, call.lines[0], None)))
        return out

    def readers_of(self, slot: str, *, protected: bool = True) -> list[ReadSite]:
        """The read sites of a slot (those inside a read-side section or under a lockdep condition
        naming one when `protected`; an iterator list key with an unknown entry type matches by
        member)."""
        out = []
        for site in self.read_sites:
            if site.how in UPDATER_LOADS:
                continue
            if site.slot == slot or (slot.startswith("list:") and site.slot.startswith("list:?::")
                                     and site.slot.split("::")[-1] == slot.split("::")[-1]):
                if not protected or (site.protection or "").startswith(("rcu", "srcu")):
                    out.append(site)
        return out

    def reads_object(self, site: ReadSite) -> bool:
        """Whether the reader uses what it loaded (dereferences it, hands it to a call, returns
        it) before loading again: a lookup only tested for NULL (`e = radix_tree_lookup(..);
        rcu_read_unlock(); if (!e) ...`, then looked up again under the lock) reads nothing
        a free could take away. True when the loaded pointer has no name to follow."""
        if not site.var or not re.fullmatch(r"\w+", site.var):
            return True
        flow = self.facts.flow(site.function)
        if flow is None:
            return True
        var = site.var
        deref = re.compile(rf"(?<![\w.>]){re.escape(var)}\s*(?:->|\[)|\*\s*\(?\s*{re.escape(var)}(?!\w)")
        for path in flow.paths:
            after = False
            for e in path.events:
                if not after:
                    after = e.lines[0] == site.lines[0] and e.kind == "assign" and squash(e.name) == var
                    continue
                if e.kind == "assign" and squash(e.name) == var:
                    break
                if var not in e.text and var not in e.name:
                    continue
                if deref.search(e.text) or (e.kind == "call" and any(squash(a) == var for a in e.args)) or \
                        (e.kind == "return" and re.search(rf"(?<![\w.>]){re.escape(var)}(?!\w)", e.text)):
                    return True
        return False

    def protection(self, function: str, line: int, lockdep: str | None) -> str | None:
        """What protects a load at `line` of `function`: a read-side section it sits in, a lockdep
        condition, a lock, or what every caller in the file holds."""
        if lockdep and re.search(r"rcu_read_lock\w*_held|rcu_read_lock_any_held", lockdep):
            return "rcu"
        if lockdep and re.search(r"srcu_read_lock_held", lockdep):
            return "srcu"
        flow = self.facts.flow(function)
        if flow is not None:
            for s in flow.sections_at(line):
                if s.lock.kind in RCU_FLAVOURS:
                    return "rcu"
                if s.lock.kind == "srcu":
                    return f"srcu:{self.slot(function, s.lock.key)}"
        if lockdep and not re.fullmatch(r"\(*\s*(?:false|0)\s*\)*", lockdep):
            return "lockdep"
        if flow is not None and any(s.contains(line) for s in flow.sections):
            return "lock"
        held = self.held_by_callers(function)
        if held:
            return "rcu" if "rcu" in held else ("srcu" if any(h.startswith("srcu:") for h in held) else "lock")
        return None

    # -- function summaries

    @cached_property
    def summaries(self) -> dict[str, Summary]:
        out: dict[str, Summary] = {}
        for fn in self.facts.functions:
            if fn.name in out:
                continue
            s = Summary(fn.name)
            for spec in fn.specifiers:
                for kind, what in ANNOTATION.findall(spec):
                    s.annotated.add(f"{kind}:{squash(what)}")
            out[fn.name] = s
        self._annotations_from_source(out)
        for name, s in out.items():
            calls = self.calls_in(name)
            if not calls:
                continue
            params = self._params(name)
            for c in calls:
                if c.name in RCU_WAITS or c.name in RCU_DEFERS:
                    s.waits.add("rcu")
                elif (c.name in SRCU_WAITS or c.name in SRCU_DEFERS) and c.args:
                    s.waits.add("srcu:" + self.slot(name, c.args[0]))
                index = FREES.get(c.name)
                if index is not None and len(c.args) > index and squash(c.args[index]) in params \
                        and not self.typesafe_free(c.name, c.args):
                    s.frees_params.add(params.index(squash(c.args[index])))
                if s.sleeps is None and may_sleep(c.name, c.args):
                    s.sleeps = c.name
            if any(c.name in RCU_LOCKS or c.name in RCU_UNLOCKS or c.name in SRCU_LOCKS or c.name in SRCU_UNLOCKS
                   for c in calls):
                self._lock_effects(name, s)
            s.may_release = "rcu" in s.releases_unheld or any(
                c.name not in out and MAY_RELEASE.search(c.name) and not _lock_primitive(c.name, c.args) for c in calls)
        self._propagate(out)
        return out

    @cached_property
    def typesafe_caches(self) -> set[str]:
        """kmem_caches created SLAB_TYPESAFE_BY_RCU: their objects may be freed at once, readers
        revalidate what they find (the slab's memory stays a valid object of the type)."""
        out = set()
        for a in self.facts.assignments:
            if "SLAB_TYPESAFE_BY_RCU" in a.value and re.match(r"^(?:kmem_cache_create\w*|KMEM_CACHE\w*)\s*\(", a.value):
                out.add(squash(a.target))
        return out

    def typesafe_free(self, name: str, args) -> bool:
        return name == "kmem_cache_free" and bool(args) and squash(args[0]) in self.typesafe_caches

    def _annotations_from_source(self, out: dict[str, Summary]) -> None:
        # `static void *seq_start(...) __acquires(RCU)`: the mask blanks annotations, so they are
        # read from the source text between the parameter list and the body.
        source = self.ctx.unit.source
        for fn in self.facts.functions:
            node = self.ctx.unit.function(fn.name)
            if node is None:
                continue
            body = node.child_by_field_name("body")
            head = source[node.start_byte:body.start_byte if body is not None else node.end_byte]
            text = head.decode("utf-8", "replace")
            for kind, what in ANNOTATION.findall(text):
                out[fn.name].annotated.add(f"{kind}:{squash(what)}")

    def _params(self, name: str) -> list[str]:
        fn = self.facts.function(name)
        return [p.name or "" for p in fn.params] if fn is not None else []

    def _lock_effects(self, name: str, s: Summary) -> None:
        flow = self.facts.flow(name)
        if flow is None:
            return
        for path in flow.paths:
            held: list[str] = []
            taken: set[str] = set()
            for e in path.events:
                if e.lock is None or e.lock.kind not in RCU_FLAVOURS | {"srcu"}:
                    continue
                key = lock_key(e.lock) if e.lock.kind in RCU_FLAVOURS else "srcu:" + self.slot(name, e.lock.key)
                if e.lock.action == "acquire":
                    held.append(key)
                    taken.add(key)
                    s.takes.add(key)
                else:
                    s.releases.add(key)
                    if key in held:
                        held.remove(key)
                    elif key not in taken:  # released before this path took it: the caller's section
                        s.releases_unheld.add(key)
            if path.exit in ("return", "end"):
                s.leaves_held.update(held)

    def _propagate(self, out: dict[str, Summary]) -> None:
        """A function that calls a file-local function which waits, or may sleep, does too."""
        callees = {name: {c.name for c in self.calls_in(name) if c.name in out and c.name != name} for name in out}
        for _ in range(3):
            changed = False
            for name, called in callees.items():
                s = out[name]
                for c in called:
                    t = out[c]
                    if not t.waits <= s.waits:
                        s.waits |= t.waits
                        changed = True
                    if s.sleeps is None and t.sleeps is not None:
                        s.sleeps = f"{c}() -> {t.sleeps}" if "->" not in t.sleeps else f"{c}() -> ..."
                        changed = True
                    if t.may_release and not s.may_release and "rcu" not in s.takes:
                        s.may_release = True
                        changed = True
            if not changed:
                break

    def is_acquire_helper(self, name: str, key: str) -> bool:
        """A function that returns holding `key` by design: annotated __acquires(), or paired with
        a function of the file that releases `key` without taking it: by name (`*_enter()`/
        `*_exit()`, `*_start()`/`*_stop()`, `*_lock()`/`*_unlock()`, `acquire_*()`/`release_*()`,
        ...) or as the .start and .stop of one ops table (seq_file)."""
        s = self.summaries.get(name)
        if s is None:
            return False
        if any(a.startswith("acquires:") for a in s.annotated):
            return True
        partners = {p.lstrip("_") for p in _partner_names(name.lstrip("_"))} | {f"post_{name.lstrip('_')}"}
        partners |= {p.lstrip("_") for p in self._table_partners(name)}
        return any(key in t.releases_unheld for t in self.summaries.values() if t.name.lstrip("_") in partners)

    def _table_partners(self, name: str) -> set[str]:
        out = set()
        for init in self.facts.initializers:
            values = {e.designator: squash(e.value).lstrip("&") for e in init.entries}
            for open_, close in ((".start", ".stop"), (".enter", ".exit"), (".lock", ".unlock"),
                                 (".begin", ".end"), (".get", ".put")):
                if values.get(open_) == name and close in values:
                    out.add(values[close])
        return out

    def is_release_helper(self, name: str, key: str) -> bool:
        s = self.summaries.get(name)
        if s is None:
            return False
        return any(a.startswith("releases:") for a in s.annotated) or key in s.releases_unheld

    # -- callers

    @cached_property
    def call_sites(self) -> dict[str, list[CallSite]]:
        """callee -> the calls to it in this file, each with the locks held there on some path."""
        out: dict[str, list[CallSite]] = {}
        wanted = self.names
        calls_of: dict[str, list] = {}
        for c in self.facts.calls:
            if c.function and c.name in wanted:
                calls_of.setdefault(c.function, []).append(c)
        guarded = {loop.function for loop in self.facts.loops if loop.macro in ("scoped_guard", "scoped_cond_guard")}
        for caller in calls_of:
            if caller not in guarded and not any(_takes_lock(c.name, c.args) for c in self.calls_in(caller)):
                # nothing is ever held in it: every call there holds nothing, and no path needs walking
                # (a quarter of a tree sweep's time). This also names the calls a walk would miss: in
                # a loop condition, or past the paths of a function with too many to walk.
                seen_lines: set[tuple] = set()
                for c in calls_of[caller]:
                    if (c.name, c.lines) not in seen_lines:
                        seen_lines.add((c.name, c.lines))
                        out.setdefault(c.name, []).append(CallSite(caller, c.name, c.lines, frozenset()))
                continue
            for site in self.walked_call_sites(caller):
                out.setdefault(site.callee, []).append(site)
        return out

    def walked_call_sites(self, caller: str) -> list[CallSite]:
        """The calls of file functions in `caller`, each with the locks held there, one per lock set
        held along the caller's walked paths."""
        flow = self.facts.flow(caller)
        if flow is None:
            return []
        out: list[CallSite] = []
        seen: set[tuple] = set()
        for path in flow.paths:
            held: list[str] = []
            for e in path.events:
                if e.lock is not None:
                    key = lock_key(e.lock) if e.lock.kind in RCU_FLAVOURS else (
                        "srcu:" + self.slot(caller, e.lock.key) if e.lock.kind == "srcu" else lock_key(e.lock))
                    if e.lock.action == "acquire":
                        held.append(key)
                    elif key in held:
                        held.remove(key)
                    continue
                if e.kind == "call" and e.name in self.names:
                    k = (e.name, e.lines, frozenset(held))
                    if k not in seen:
                        seen.add(k)
                        out.append(CallSite(caller, e.name, e.lines, frozenset(held)))
        return out

    def held_by_callers(self, function: str) -> frozenset[str]:
        """The locks every call of `function` in this file holds (empty when it has no callers here,
        or any caller holds none)."""
        sites = self.call_sites.get(function, [])
        if not sites:
            return frozenset()
        common = None
        for site in sites:
            common = site.held if common is None else common & site.held
        return common or frozenset()

    def held_by_callers_chain(self, function: str, depth: int = 4) -> frozenset[str]:
        """The locks held at every call chain in the file that reaches `function` (up to `depth`
        callers up): what each call site holds, plus what its caller's callers all hold. Empty when
        the function has no caller here or is used as a value (an ops table, a callback: other
        callers out of sight)."""
        return self._held_chain(function, depth, frozenset())

    def _held_chain(self, function: str, depth: int, seen: frozenset) -> frozenset[str]:
        sites = self.call_sites.get(function, [])
        if not sites or function in self.address_taken:
            return frozenset()
        common = None
        for site in sites:
            held = site.held
            if depth > 1 and site.caller not in seen and site.caller != function:
                held = held | self._held_chain(site.caller, depth - 1, seen | {function})
            common = held if common is None else common & held
            if not common:
                return frozenset()
        return common or frozenset()

    @cached_property
    def rcu_retired_types(self) -> set[str]:
        """Struct types whose objects this file retires through RCU: freed with kfree_rcu(), handed
        to call_rcu()/call_srcu() (or an RCU callback's container_of()), or unlinked with
        list_del_rcu(): evidence that readers of such objects rely on their read-side section."""
        out: set[str] = set()
        for c in self.facts.calls:
            if not c.function or not c.args:
                continue
            if c.name in DEFERRED_FREES or c.name in LIST_DELS or c.name in ("call_rcu", "call_rcu_hurry"):
                expr = squash(c.args[0])
            elif c.name == "call_srcu" and len(c.args) > 1:
                expr = squash(c.args[1])
            elif c.name == "container_of" and len(c.args) == 3 and "rcu" in squash(c.args[2]):
                out.add(" ".join(squash(c.args[1]).replace("_", " ", 1).split()) if c.args[1].startswith("struct_")
                        else squash(c.args[1]))
                continue
            else:
                continue
            m = re.fullmatch(r"&?\(?(\w+)\)?(?:->.*)?", expr)
            if m:
                t = self.types.struct_of(c.function, m.group(1))
                if t:
                    out.add(t)
        return out

    @cached_property
    def address_taken(self) -> set[str]:
        """Functions used as values: in struct initializers (ops tables), or passed to a call."""
        out = set()
        for init in self.facts.initializers:
            for e in init.entries:
                v = squash(e.value).lstrip("&")
                if v in self.names:
                    out.add(v)
        for c in self.facts.calls:
            for a in c.args:
                a = squash(a).lstrip("&")
                if a in self.names:
                    out.add(a)
        return out


def _takes_lock(name: str, args) -> bool:
    """Whether a call takes a lock or enters a section (or might: a guard, a scoped_guard)."""
    from reviewbot.facts import locks

    if name.startswith(("guard(", "scoped_guard")) or name in ("guard", "scoped_guard"):
        return True
    op = locks.lock_op(name, tuple(args))
    return op is not None and op.action == locks.ACQUIRE


# A call out of the file that may end the caller's RCU section for it (ipc_unlock(), *_put_afinfo()):
# without its body a leak cannot be told from a hand-over.
MAY_RELEASE = re.compile(r"unlock|_put\w*$|^put_|release|_end$|_exit$|_done$|_finish$")


def _lock_primitive(name: str, args: tuple[str, ...]) -> bool:
    """One of the lock calls facts.locks knows, as called with `args` (spin_unlock(&l),
    mutex_unlock(&m), rcu_read_unlock(); and a global lock's wrapper called with no argument,
    rtnl_unlock() or cpus_read_unlock(), which ends no RCU section)."""
    from reviewbot.facts.locks import lock_op

    return lock_op(name, args) is not None


_PAIRS = (("enter", "exit"), ("start", "stop"), ("begin", "end"), ("lock", "unlock"), ("get", "put"),
          ("acquire", "release"), ("open", "close"), ("hold", "release"), ("grab", "release"))


def _partner_names(name: str):
    """The names a release partner of `name` would have: foo_enter -> foo_exit, acquire_x -> release_x."""
    for a, b in _PAIRS:
        for sep in ("_", ""):
            if name.endswith(sep + a):
                yield name[: len(name) - len(a)] + b
            if name.startswith(a + sep):
                yield b + name[len(a):]
            if f"_{a}_" in name:
                yield name.replace(f"_{a}_", f"_{b}_", 1)


# calls that may sleep, and allocation calls whose gfp argument decides (kept with RCU005, which
# measured them on the tree: schedule_work() does not sleep, cond_resched_rcu() is meant for RCU
# sections, a gfp chosen with ?: or clearing __GFP_DIRECT_RECLAIM is not known to block)
# (a set and a prefix test, not one regular expression: compiling that alternation cost 2-3 ms of
# every review's start; tests/test_facts.py holds the two equal)
SLEEPER_NAMES = frozenset("""
    mutex_lock mutex_lock_nested mutex_lock_interruptible mutex_lock_interruptible_nested mutex_lock_killable
    mutex_lock_killable_nested mutex_lock_io ww_mutex_lock ww_mutex_lock_interruptible
    down down_read down_write down_interruptible down_killable down_timeout down_read_killable
    down_write_killable down_read_interruptible down_read_nested down_write_nested
    percpu_down_write percpu_down_read
    msleep msleep_interruptible ssleep usleep_range usleep_range_state
    schedule io_schedule io_schedule_timeout schedule_preempt_disabled
    synchronize_net synchronize_irq srcu_barrier
    flush_work flush_delayed_work flush_workqueue drain_workqueue flush_scheduled_work
    cancel_work_sync cancel_delayed_work_sync destroy_workqueue alloc_workqueue
    kthread_stop kthread_park kthread_flush_work kthread_flush_worker kthread_run
    might_sleep might_fault cond_resched cond_resched_lock
    vfree vunmap vmap alloc_percpu __alloc_percpu
    copy_from_user copy_to_user get_user put_user clear_user strncpy_from_user copy_struct_from_user
    memdup_user memdup_user_nul strndup_user vmemdup_user
    request_firmware request_firmware_direct firmware_request_nowarn
    free_irq disable_irq request_irq request_threaded_irq
    rtnl_lock lock_sock lock_sock_nested device_lock mmap_read_lock mmap_write_lock
    folio_lock lock_page wait_on_page_locked sync_filesystem kmem_cache_destroy
""".split())
# families: the name, or the name followed by more of an identifier (`schedule_timeout_killable`)
SLEEPER_PREFIXES = ("rt_mutex_lock", "schedule_timeout", "schedule_hrtimeout", "wait_for_completion", "wait_event",
                    "wait_var_event", "wait_on_bit", "synchronize_rcu", "synchronize_srcu", "synchronize_sched",
                    "rcu_barrier", "kthread_create", "vmalloc", "vzalloc", "__vmalloc", "filemap_fdatawait",
                    "filemap_write_and_wait", "blk_mq_freeze_queue", "kmem_cache_create")
_WORD_TAIL = re.compile(r"\w*")


def is_sleeper(name: str) -> bool:
    """Whether `name` is a call that may sleep whatever its arguments (a sleeping lock, a wait)."""
    if name in SLEEPER_NAMES:
        return True
    return name.startswith(SLEEPER_PREFIXES) and any(
        name.startswith(p) and _WORD_TAIL.fullmatch(name, len(p)) is not None for p in SLEEPER_PREFIXES)


# allocation call -> index of its gfp argument
GFP_ARG = {
    "kmalloc": 1, "kzalloc": 1, "kcalloc": 2, "kmalloc_array": 2, "kvmalloc": 1, "kvzalloc": 1, "kvcalloc": 2,
    "kvmalloc_array": 2, "krealloc": 2, "krealloc_array": 3, "kmemdup": 2, "kmemdup_nul": 2, "kvmemdup": 2,
    "kstrdup": 1, "kstrndup": 2, "kstrdup_const": 1, "kasprintf": 0, "kvasprintf": 0,
    "kmem_cache_alloc": 1, "kmem_cache_zalloc": 1, "kmem_cache_alloc_node": 1, "kmalloc_node": 1,
    "kzalloc_node": 1, "kcalloc_node": 2, "kmalloc_array_node": 2, "kvmalloc_node": 1, "kvzalloc_node": 1,
    "kmalloc_track_caller": 1, "alloc_pages": 0, "alloc_page": 0, "alloc_pages_node": 1, "__get_free_pages": 0,
    "__get_free_page": 0, "get_zeroed_page": 0, "folio_alloc": 0,
    "xa_store": 3, "xa_insert": 3, "xa_alloc": 4, "xa_alloc_cyclic": 5, "xa_reserve": 2, "xa_cmpxchg": 4,
    "idr_alloc": 4, "idr_alloc_cyclic": 4, "idr_alloc_u32": 4, "ida_alloc": 1, "ida_alloc_min": 2,
    "ida_alloc_max": 2, "ida_alloc_range": 3, "ida_simple_get": 3, "radix_tree_preload": 0, "idr_preload": 0,
    "radix_tree_maybe_preload": 0, "mempool_alloc": 1, "dma_alloc_coherent": 3, "dma_pool_alloc": 1,
    "alloc_skb": 1, "__alloc_skb": 1, "skb_clone": 1, "skb_copy": 1, "pskb_copy": 1, "skb_copy_expand": 3,
    "pskb_expand_head": 3, "nlmsg_new": 1, "genlmsg_new": 1, "devm_kzalloc": 2, "devm_kmalloc": 2,
    "devm_kcalloc": 3, "bitmap_zalloc": 1, "bitmap_alloc": 1, "alloc_percpu_gfp": 1, "__alloc_percpu_gfp": 2,
    "sg_alloc_table": 2,
}
SLEEPING_GFP = re.compile(r"\bGFP_(?:KERNEL|KERNEL_ACCOUNT|NOFS|NOIO|USER|HIGHUSER\w*)\b")
NO_RECLAIM = re.compile(r"~\s*\(?\s*__GFP_(?:DIRECT_RECLAIM|RECLAIM)\b")


def direct_sleep(name: str, args) -> str | None:
    """`name(...)` when the call itself may sleep (with the GFP mask that makes it), else None."""
    if name in GFP_ARG:
        index = GFP_ARG[name]
        if len(args) <= index:
            return None
        gfp = args[index]
        if SLEEPING_GFP.search(gfp) and "?" not in gfp and not NO_RECLAIM.search(gfp):
            return f"{name}(..., {' '.join(gfp.split())})"
        return None
    if is_sleeper(name):
        return f"{name}()"
    return None




def may_sleep(name: str, args: tuple[str, ...]) -> bool:
    """Whether a call may sleep: a sleeping primitive, or an allocation with a GFP mask that lets
    it block (GFP_KERNEL, GFP_NOFS, ...)."""
    return direct_sleep(name, args) is not None


def index(ctx) -> RcuIndex:
    """The RcuIndex of a FileContext's file, built once and shared by every rule on the patch."""
    key = ("rcu-index", id(ctx.file))
    cache = ctx._units
    found = cache.get(key)
    if found is None:
        found = cache[key] = RcuIndex(ctx)
    return found
