"""RCU006: an object is made visible to RCU readers before it is fully initialised.

A publish hands a new object to readers: rcu_assign_pointer(slot, obj) / rcu_replace_pointer(),
list_add_rcu(&obj->m, head) and the other _rcu list adds and replaces, or a store into an xarray,
idr or radix tree that the file reads under RCU (xa_store(), xa_insert(), xa_alloc(), idr_alloc(),
idr_replace(), radix_tree_insert()). The publish's release barrier orders only the stores made
*before* it: a reader that finds the object right after the publish may see every later store
not done yet.

Along each bounded path of a function (facts.flow), the judge reports a publish followed, on the
same path, by initialisation of the same object:

* a plain store `obj->f = v` (or `obj->a.b = v`) when it is the first store to that field in the
  function (an earlier one makes the later store an update of live state);
* an initialiser on one of its members: INIT_WORK(&obj->w, ...), INIT_LIST_HEAD(), spin_lock_init(),
  mutex_init(), refcount_set(), kref_init(), init_completion(), timer_setup(), ...;
* a copy into it: memcpy(obj->f, ...), strscpy(obj->name, ...), memset(obj, ...).

Only objects this function set up are followed: allocated in the function (kzalloc(),
kmem_cache_alloc(), a *_alloc()/*_create() helper, ...), or passed in as a parameter when the
function initialises them (an initialiser call on a member, or stores to the object's fields
before the publish too). Left alone: stores with WRITE_ONCE()/atomic ops/rcu_assign_pointer() (live
updates), stores of the value the publish returned (`id = idr_alloc(...); obj->id = id;`, the id is
only known then), everything after the object is unpublished again on the path or the variable is
reassigned, and RCU_INIT_POINTER() (not a publish).
"""

from __future__ import annotations

import re

from reviewbot.engine import Hit
from reviewbot.facts import rcu
from reviewbot.facts.types import squash

# publish call -> index of the argument that is (or points into) the new object
PUBLISHES = {"rcu_assign_pointer": 1, "rcu_replace_pointer": 1, "list_replace_rcu": 1, "hlist_replace_rcu": 1,
             **{name: 0 for name in rcu.LIST_ADDS}}
TABLE_PUBLISHES = {"xa_store": 2, "__xa_store": 2, "xa_store_irq": 2, "xa_store_bh": 2, "xa_insert": 2,
                   "__xa_insert": 2, "xa_insert_irq": 2, "xa_insert_bh": 2, "xa_alloc": 2, "__xa_alloc": 2,
                   "xa_alloc_cyclic": 2, "__xa_alloc_cyclic": 2, "xa_alloc_irq": 2, "xa_alloc_bh": 2,
                   "idr_alloc": 1, "idr_alloc_u32": 1, "idr_alloc_cyclic": 1, "idr_replace": 1,
                   "radix_tree_insert": 2}
# member initialisers: call -> index of the `&obj->member` argument
INITIALISERS = {
    "INIT_WORK": 0, "INIT_DELAYED_WORK": 0, "INIT_DEFERRABLE_WORK": 0, "INIT_RCU_WORK": 0, "INIT_LIST_HEAD": 0,
    "INIT_HLIST_HEAD": 0, "INIT_HLIST_NODE": 0, "INIT_HLIST_NULLS_HEAD": 0, "INIT_LIST_HEAD_RCU": 0,
    "spin_lock_init": 0, "raw_spin_lock_init": 0, "rwlock_init": 0, "mutex_init": 0, "init_rwsem": 0,
    "seqcount_init": 0, "seqlock_init": 0, "refcount_set": 0, "kref_init": 0, "init_completion": 0,
    "reinit_completion": 0, "init_waitqueue_head": 0, "timer_setup": 0, "hrtimer_init": 0,
    "skb_queue_head_init": 0, "__skb_queue_head_init": 0, "atomic_set": 0, "atomic64_set": 0,
    "atomic_long_set": 0, "percpu_ref_init": 0, "init_llist_head": 0, "xa_init": 0, "xa_init_flags": 0,
    "idr_init": 0, "ida_init": 0, "RB_CLEAR_NODE": 0, "INIT_KFIFO": 0, "init_srcu_struct": 0,
    "init_irq_work": 0, "tasklet_init": 0, "tasklet_setup": 0, "kthread_init_work": 0,
    "memcpy": 0, "memset": 0, "strscpy": 0, "strlcpy": 0, "strncpy": 0, "strcpy": 0, "ether_addr_copy": 0,
    "eth_zero_addr": 0, "bacpy": 0, "bitmap_zero": 0, "bitmap_copy": 0, "cpumask_copy": 0, "refcount_set_release": 0,
}
# initialisers that only a function setting an object up calls (not copies or counters)
SETUP = {name for name in INITIALISERS if re.match(r"^(?:INIT_|init_|\w+_init$|\w+_init_flags$|timer_setup|tasklet_setup|"
                                                  r"kref_init|refcount_set|RB_CLEAR_NODE)", name)}
COUNTERS = {"refcount_set", "refcount_set_release", "atomic_set", "atomic64_set", "atomic_long_set"}
TEARDOWN = re.compile(r"(?:shutdown|exit|destroy|remove|release|free|cleanup|uninit|unregister|flush|teardown|"
                      r"fini|_del|_stop|_put)", re.IGNORECASE)
FRESH = re.compile(r"^(?:\(\s*[\w\s\*]+\)\s*)?(?:\w*(?:alloc|kmemdup|kstrdup|create|_new|new_|clone|_dup)\w*|"
                   r"new|kzalloc\w*|kmalloc\w*|kcalloc\w*|kvzalloc\w*|kvmalloc\w*)\s*\(")
NOT_FRESH = re.compile(r"^(?:\(\s*[\w\s\*]+\)\s*)?(?:xa_alloc|idr_alloc|ida_alloc|__xa_alloc)\w*\s*\(")
UNPUBLISH = set(rcu.LIST_DELS) | set(rcu.TABLE_REMOVES)
# the new object: `obj`, `(void *)obj`, or an address inside it (`&obj->node`, `&obj->a.b`)
OBJ = re.compile(r"^(?:\(\s*[\w\s\*]+\)\s*)?(?:(\w+)|&\(?(\w+)\)?->\w+(?:\.\w+|\[[^\]]*\])*)$")
# a field of the object itself (`obj->a.b[i]`), not of another object it points to (`obj->a->b`)
FIELD = re.compile(r"^\(?(\w+)\)?->(\w+(?:\.\w+|\[[^\]]*\])*)$")
# the object a slot, list head or table lives in (`x->slot`, `&x->head`, `&x->xa`)
CONTAINER = re.compile(r"^&?\(?(\w+)\)?(?:->|\.)")


def check(ctx):
    facts = ctx.facts
    names = {c.name for c in facts.calls}
    if not names & (set(PUBLISHES) | set(TABLE_PUBLISHES)):
        return
    publishers = sorted({c.function for c in facts.calls
                         if c.function and (c.name in PUBLISHES or c.name in TABLE_PUBLISHES)})
    judge = _Judge(ctx)
    for function in publishers:
        candidates = judge.candidates(function)
        if not candidates:
            continue
        flow = facts.flow(function)
        if flow is None:
            continue
        yield from judge.walk(function, flow, candidates)


class _Judge:
    def __init__(self, ctx):
        self.ctx = ctx
        self.facts = ctx.facts
        self._idx = None
        self._gates = None
        self._calls = None
        self._readers = []
        self._by_function: dict[str, list] = {}
        for a in self.facts.assignments:
            if a.function:
                self._by_function.setdefault(a.function, []).append(a)

    @property
    def idx(self):
        if self._idx is None:
            self._idx = rcu.index(self.ctx)
        return self._idx

    def calls_of(self, function: str) -> list:
        if self._calls is None:
            self._calls = {}
            for c in self.facts.calls:
                if c.function:
                    self._calls.setdefault(c.function, []).append(c)
        return self._calls.get(function, [])

    def assignments(self, function: str) -> list:
        return self._by_function.get(function, [])

    # -- which publishes to follow

    def published(self, function: str, call, readers: bool = True) -> str | None:
        """The variable naming the object a publish call hands to readers, or None (a table
        store counts when the file reads that table under RCU; `readers=False` skips that test)."""
        index = PUBLISHES.get(call.name, TABLE_PUBLISHES.get(call.name))
        if index is None or len(call.args) <= index or rcu.is_null(call.args[index]):
            return None
        m = OBJ.match(squash(call.args[index]))
        if not m:
            return None
        if readers and call.name in TABLE_PUBLISHES and \
                not self.idx.readers_of("table:" + self.idx.slot(function, call.args[0])):
            return None
        return m.group(1) or m.group(2)

    def candidates(self, function: str) -> dict[str, str]:
        """obj -> "fresh"/"param": the objects published in `function` that it set up itself and
        that have stores or initialisers after some publish (by line)."""
        calls = self.calls_of(function)
        publishes = [(c, self.published(function, c, readers=False)) for c in calls
                     if c.name in PUBLISHES or c.name in TABLE_PUBLISHES]
        publishes = [(c, obj) for c, obj in publishes if obj]
        if not publishes:
            return {}
        fn = self.facts.function(function)
        params = {p.name for p in fn.params if p.name} if fn is not None else set()
        out = {}
        for call, obj in publishes:
            if obj in out:
                continue
            later = [a for a in self.assignments(function) if a.lines[0] > call.lines[1] and _field(a.target, obj)] or \
                [c for c in calls if c.lines[0] > call.lines[1] and _init_target(c, obj)]
            if not later or not self.published(function, call) or self.hidden_container(function, call) \
                    or self.marked(call):
                continue
            kind = self._kind(function, obj, call.lines[0], params, calls)
            if kind:
                out[obj] = kind
        return out

    def _kind(self, function, obj, line, params, calls) -> str | None:
        """"fresh" for an object allocated in the function, "param" for a parameter the function
        initialises (an initialiser call on one of its members), else None."""
        if self._fresh(function, obj, line):
            return "fresh"
        if obj in params and not any(squash(a.target) == obj for a in self.assignments(function)
                                     if a.lines[0] < line):
            if sum(1 for c in calls if c.name in SETUP and c.name not in COUNTERS and _init_target(c, obj)) >= 2:
                return "param"
        return None

    def _fresh(self, function, var, line) -> bool:
        """The last assignment to `var` before `line` is an allocation."""
        sets = [a for a in self.assignments(function) if squash(a.target) == var and a.lines[0] < line]
        if not sets:
            return False
        last = max(sets, key=lambda a: a.lines)
        return bool(FRESH.match(last.value)) and not NOT_FRESH.match(last.value)

    def hidden_container(self, function, call) -> bool:
        """The slot, list head or table lives in an object allocated in this function: readers
        cannot reach the container yet, so they cannot reach what is published in it."""
        if call.name in ("rcu_assign_pointer", "rcu_replace_pointer") or call.name in TABLE_PUBLISHES:
            index = 0
        else:
            index = rcu.LIST_ADDS.get(call.name)
        if index is None or len(call.args) <= index:
            return False
        m = CONTAINER.match(squash(call.args[index]))
        return bool(m) and self._fresh(function, m.group(1), call.lines[0])

    def marked(self, call) -> bool:
        """An xarray whose entries the file marks (xa_set_mark()): readers look up marked entries
        (DEVLINK_REGISTERED), and the mark goes on when the object is ready."""
        if call.name not in TABLE_PUBLISHES or not call.name.startswith(("xa_", "__xa_")):
            return False
        table = squash(call.args[0])
        return any(c.name in ("xa_set_mark", "__xa_set_mark") and c.args and squash(c.args[0]) == table
                   for c in self.facts.calls)

    def gated(self, function, obj, line) -> bool:
        """A field of `obj` set before the publish and set again after it: the object is published
        in a state readers check (`intf->intf_num = -1; list_add_rcu(); ... intf->intf_num = i;`),
        and what is set up before the switch is not visible to them."""
        before, after = set(), set()
        for a in self.assignments(function):
            f = _field(a.target, obj)
            if f and a.operator == "=":
                (before if a.lines[0] < line else after).add(f)
        return bool(before & after)

    # -- the paths

    def walk(self, function: str, flow, candidates: dict[str, str]):
        assigns = {(a.lines[0], squash(a.target)): a for a in self.assignments(function)}
        first_store: dict[tuple[str, str], int] = {}
        for a in self.assignments(function):
            f = _field(a.target, None)
            if f:
                key = (f[0], f[1])
                first_store[key] = min(first_store.get(key, a.lines[0]), a.lines[0])
        for c in self.calls_of(function):
            if c.name in INITIALISERS:
                f = _init_field(c)
                if f:
                    first_store[f] = min(first_store.get(f, c.lines[0]), c.lines[0])
        results: dict[int, dict] = {}  # publish line -> {event, obj, late: {line: text}}
        for path in flow.paths:
            live: dict[str, dict] = {}  # obj -> {event, slot, result}
            for e in path.events:
                if e.kind == "assign":
                    target = squash(e.name)
                    if target in live and e.lines[0] != live[target]["event"].lines[0]:
                        live.pop(target)
                        continue
                    f = _field(target, None)
                    if f and f[0] in live:
                        a = assigns.get((e.lines[0], target))
                        self._late_store(live[f[0]], f, a, e, first_store, results)
                    continue
                if e.kind != "call":
                    continue
                if e.name in PUBLISHES or e.name in TABLE_PUBLISHES:
                    obj = self.published(function, e)
                    if obj in candidates:
                        result = self._result_var(function, e)
                        live[obj] = {"event": e, "result": result}
                        results.setdefault(e.lines[0], {"event": e, "obj": obj, "late": {}})
                    # a slot cleared or switched away from an object unpublishes it
                    if e.name in ("rcu_assign_pointer", "rcu_replace_pointer") and e.args:
                        for other, info in list(live.items()):
                            if info["event"].name in ("rcu_assign_pointer", "rcu_replace_pointer") \
                                    and info["event"].args[0] == e.args[0] and other != obj:
                                live.pop(other)
                    continue
                if e.name == "RCU_INIT_POINTER" and e.args:
                    for other, info in list(live.items()):
                        if info["event"].name == "rcu_assign_pointer" and info["event"].args[0] == e.args[0]:
                            live.pop(other)
                    continue
                if e.name in UNPUBLISH and e.args:
                    for arg in e.args[:3]:
                        m = OBJ.match(squash(arg))
                        if m and (m.group(1) or m.group(2)) in live:
                            live.pop(m.group(1) or m.group(2))
                    continue
                if e.name in INITIALISERS:
                    f = _init_field(e)
                    if f and f[0] in live:
                        self._late_init(live[f[0]], f, e, first_store, results)
                    continue
                index = rcu.FREES.get(e.name)
                if index is not None and len(e.args) > index and squash(e.args[index]) in live:
                    # freed at once while still published (an error path): the author knows no
                    # reader can reach the object yet (its container is not visible either); a
                    # table insert that failed published nothing
                    publish = live.pop(squash(e.args[index]))["event"]
                    if publish.name in PUBLISHES:
                        results[publish.lines[0]]["unshared"] = True
        for line in sorted(results):
            r = results[line]
            if not r["late"] or r.get("unshared") or self.gated(function, r["obj"], line) \
                    or self.copied(function, r["obj"], line):
                continue
            late = self.initialisation(function, r, how=candidates[r["obj"]])
            if late:
                yield _hit(function, dict(r, late=late), candidates[r["obj"]], self._readers)

    def copied(self, function, obj, line) -> bool:
        """The whole object was copied in before the publish (`*obj = *old`, memcpy(obj, old, ...),
        obj = kmemdup(old, ...)): later stores update a copy of a live object's state."""
        for a in self.assignments(function):
            if a.lines[0] < line and (squash(a.target) == f"*{obj}" or
                                      (squash(a.target) == obj and re.match(r"^kmemdup\b", a.value))):
                return True
        return any(c.name == "memcpy" and c.lines[0] < line and c.args and squash(c.args[0]) == obj
                   for c in self.calls_of(function))

    def initialisation(self, function, r, how: str = "fresh") -> dict:
        """The late stores of a publish that are initialisation readers can trip on (empty when
        none is): not refcount-gated, not live fields other functions of the file update, and
        either reached by the file's RCU readers of that slot or, when the readers are elsewhere,
        made by an init function handed the object (`how` is "param")."""
        late = dict(r["late"])
        # a counter readers take with *_inc_not_zero(): zero keeps them away until it is set
        gates = self.gate_fields()
        for line in sorted(late):
            text, f, kind = late[line]
            if f.split(".")[0].split("[")[0] in gates and re.match(r"^(?:refcount_set|atomic_set|atomic_long_set|"
                                                                    r"kref_init|refcount_set_release)\(", text):
                late = {n: v for n, v in late.items() if n > line}
        # fields other functions of the file store too: live state, not initialisation
        struct = self.idx.types.struct_of(function, r["obj"])
        if struct:
            live = self.stored_elsewhere(function, struct)
            late = {n: v for n, v in late.items() if v[2] == "setup" or v[1].split(".")[0].split("[")[0] not in live}
        if not late:
            return {}
        readers = self.readers(function, r["event"])
        self._readers = readers
        if readers:
            used = self.reader_fields(tuple(sorted({site.function for site in readers})))
            if not any(v[1] == "*" or v[1].split(".")[0].split("[")[0] in used for v in late.values()):
                return {}
            return late
        # the readers are elsewhere: what they read is not known. Measured on the 6.1 sweep, late
        # stores into an object the function allocated, whose readers were all in other files,
        # were mostly harmless (found only by identity fields set before the publish, or used only
        # by its creator). An init function handed the object to build ("param": it sets up its
        # members) that publishes it halfway and goes on initialising it publishes a half-built
        # object by construction (ieee80211_link_init()).
        return late if how == "param" else {}

    def readers(self, function, e) -> list:
        """The file's RCU read sites of the slot a publish stores into (by member name when the
        slot's struct type is not known: `dev->port->apps[i]` meets `port->apps[type]`), leaving
        out teardown walks (they do not race with the setup of a new object)."""
        slot = self.slot_of(function, e)
        if not slot:
            return []
        # rcu_dereference() and the _rcu iterators are readers' loads even where the section is
        # the caller's (a packet handler runs under rcu_read_lock() taken by the core)
        sites = self.idx.readers_of(slot, protected=False)
        if "::" not in slot:
            m = re.search(r"->(\w+)(\[[^\]]*\])?$", slot)
            if m:
                suffix = f"::{m.group(1)}{'[]' if m.group(2) else ''}"
                sites = [site for site in self.idx.read_sites if site.slot.endswith(suffix)
                         and site.how not in rcu.UPDATER_LOADS]
        return [site for site in sites if site.function != function and not TEARDOWN.search(site.function)]

    def slot_of(self, function, e) -> str | None:
        if e.name in rcu.LIST_ADDS or e.name in ("list_replace_rcu", "hlist_replace_rcu"):
            arg = e.args[1] if e.name.endswith("replace_rcu") else e.args[0]
            entry = self.idx.entry(function, arg)
            return entry[1] if entry else None
        if e.name in TABLE_PUBLISHES:
            return "table:" + self.idx.slot(function, e.args[0])
        return self.idx.slot(function, e.args[0]) if e.args else None

    def gate_fields(self) -> set[str]:
        if self._gates is None:
            self._gates = set()
            for c in self.facts.calls:
                if c.args and re.match(r"^(?:refcount_inc_not_zero|atomic_inc_not_zero|atomic_long_inc_not_zero|"
                                       r"kref_get_unless_zero|refcount_inc_not_zero_\w+|atomic_add_unless)$", c.name):
                    m = re.match(r"^&?\(?\w+\)?(?:->|\.)(\w+)", squash(c.args[0]))
                    if m:
                        self._gates.add(m.group(1))
        return self._gates

    def stored_elsewhere(self, function, struct) -> set[str]:
        """Fields of `struct` that other functions of the file update (store to without
        allocating the object themselves): live state, such as a timestamp a lookup refreshes."""
        out = set()
        for a in self.facts.assignments:
            if a.function and a.function != function and a.operator == "=":
                m = FIELD.match(squash(a.target))
                if m and self.idx.types.struct_of(a.function, m.group(1)) == struct \
                        and not self._fresh(a.function, m.group(1), a.lines[0]):
                    out.add(m.group(2).split(".")[0].split("[")[0])
        return out

    def reader_fields(self, functions: tuple) -> set[str]:
        """The member names the reader functions (and the file's functions they call, a few
        levels deep) mention."""
        out, seen, todo = set(), set(), [(f, 0) for f in functions]
        local = {f.name for f in self.facts.functions}
        while todo:
            name, depth = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            node = self.ctx.unit.function(name)
            if node is None:
                continue
            out |= set(re.findall(r"(?:->|\.)\s*(\w+)", self.ctx.unit.text(node)))
            if depth < 3:
                todo += [(c.name, depth + 1) for c in self.calls_of(name) if c.name in local]
        return out

    def _result_var(self, function, e) -> str | None:
        for a in self.assignments(function):
            if a.lines[0] <= e.lines[0] <= a.lines[1] and re.fullmatch(r"\w+", squash(a.target)) \
                    and e.name in a.value:
                return squash(a.target)
        return None

    def _late_store(self, info, f, a, e, first_store, results):
        if a is None or a.operator != "=":
            return  # compound assignments update what is there
        if first_store.get(f, e.lines[0]) < info["event"].lines[0]:
            return  # stored before the publish too: an update of live state
        value = a.value
        if info["result"] and re.search(rf"\b{re.escape(info['result'])}\b", value):
            return  # the value the publish returned (an id): only known after it
        if re.match(r"^(?:WRITE_ONCE|smp_store_release)\b", value):
            return
        results[info["event"].lines[0]]["late"].setdefault(e.lines[0], (f"{squash(a.target)} = ...", f[1], "store"))

    def _late_init(self, info, f, e, first_store, results):
        if first_store.get(f, e.lines[0]) < info["event"].lines[0]:
            return
        what = f"{e.name}({e.args[0]}{', ...' if len(e.args) > 1 else ''})"
        kind = "setup" if e.name in SETUP else "store"
        results[info["event"].lines[0]]["late"].setdefault(e.lines[0], (what, f[1], kind))


def _field(target: str, obj: str | None):
    """`obj->f.g` -> (obj, "f.g"); None for other targets (or another object)."""
    m = FIELD.match(squash(target))
    if not m or (obj is not None and m.group(1) != obj):
        return None
    return m.group(1), m.group(2).replace("->", ".")


def _init_field(call):
    index = INITIALISERS.get(call.name)
    if index is None or len(call.args) <= index:
        return None
    text = squash(call.args[index])
    if call.name == "memset" and re.fullmatch(r"\(?(\w+)\)?", text):
        return text.strip("()"), "*"
    m = re.fullmatch(r"&?\(?(\w+)\)?->(\w+(?:(?:\.|->)\w+|\[[^\]]*\])*)", text)
    return (m.group(1), m.group(2).replace("->", ".")) if m else None


def _init_target(call, obj: str) -> bool:
    f = _init_field(call) if call.name in INITIALISERS else None
    return bool(f) and f[0] == obj


def _hit(function, r, kind, readers) -> Hit:
    e, obj, late = r["event"], r["obj"], r["late"]
    lines = sorted(late)
    texts = list(dict.fromkeys(late[n][0] for n in lines))
    shown = ", ".join(texts[:6]) + (", ..." if len(texts) > 6 else "")
    at = ", ".join(str(n) for n in lines[:8]) + ("..." if len(lines) > 8 else "")
    how = f"{e.name}({', '.join(e.args)})"
    if len(how) > 90:
        how = f"{e.name}(...)"
    origin = f"allocated in {function}()" if kind == "fresh" else f"set up by {function}()"
    reader = ""
    if readers:
        site = readers[0]
        reader = f" ({site.function}() finds it with {site.how}() on line {site.lines[0]})"
    message = (f"{obj} ({origin}) is made visible to RCU readers by {how} on line {e.lines[0]}, but it is "
               f"only initialised afterwards: {shown} (line{'s' if len(lines) > 1 else ''} {at}). The "
               f"publish's release barrier orders only the stores made before it, so a reader that finds {obj} "
               f"now{reader} can see these uninitialised. Should {e.name}() move after the initialisation?")
    trace = ((f"{readers[0].lines[0]}: {readers[0].function}() reads the slot under RCU",) if readers else ()) + \
        (f"{e.lines[0]}: {how} publishes {obj}",) + tuple(f"{n}: {late[n][0]} after the publish" for n in lines[:6])
    return Hit(line=e.lines[0], end_line=e.lines[1], related=tuple(lines), message=message, trace=trace)
