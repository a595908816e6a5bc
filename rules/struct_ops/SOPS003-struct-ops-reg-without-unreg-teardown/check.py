"""SOPS003: what a struct_ops `.reg` sets up and its `.unreg` does not undo.

When a struct_ops map is attached, bpf_struct_ops calls the type's `.reg(kdata, link)`; when it is
deleted or its link detached, `.unreg(kdata, link)`. Whatever reg does that outlives it must be
undone by unreg, or it outlives the map: a list entry that points into freed memory, an object
nobody frees, a reference nobody drops, a registration nobody removes. This rule reads the calls
written directly in reg and looks for the matching teardown in unreg and in the same-file
functions unreg reaches (called, or handed over as a callback such as call_rcu's):

- list_add*()/hlist_add*() of `&x->member` -> a list_del*()/hlist_del*()/list_replace*() naming
  the member;
- kmalloc()/kzalloc()/kvmalloc()/kcalloc()/kmem_cache_*alloc() whose result reg stores beyond its
  own locals -> some free (kfree*, kvfree*, call_rcu, *_free, *_put, *_destroy, *_release);
- a reference (X_get, get_X, X_hold, try_module_get, refcount_inc, kref_get, mmgrab, bpf_X_inc)
  -> the matching put;
- a registration (X_register_Y, register_Y) -> the matching unregister.

And a `.reg` with no `.unreg` at all. init_srcu_struct()/cleanup_srcu_struct() is the srcu pack's.
"""

from __future__ import annotations

import re

from reviewbot.engine import Hit

_WORD = re.compile(r"[A-Za-z_]\w*")
_LIST_ADD = re.compile(r"^(?:__)?h?list_(?:add|move)\w*$")
_LIST_DEL = re.compile(r"^(?:__)?h?list_(?:del|replace|move|splice|bl_del)\w*$|^list_lru_del\w*$")
_ALLOC = re.compile(r"^(?:kv?[mz]alloc|kv?calloc|kmalloc_array|kvmalloc_array|kmem_cache_z?alloc)\w*$")
_FREE = re.compile(r"(?:^kv?free\w*$|^kfree_rcu$|^call_rcu\w*$|^kmem_cache_free$|_free\w*$|_put\w*$|"
                   r"_destroy\w*$|_release\w*$|^queue_rcu_work$)")
_NOT_REFS = re.compile(r"ktime|random|jiffies|cpu|time|order|user|unaligned|bit|field|clock|smp|"
                       r"page_size|num|val|len|size|name|entry|str|opt|flags|state|sock_?opt|id$|data|info|"
                       r"type|attr|prop", re.I)
_REF_PAIRS = {
    "try_module_get": ("module_put",),
    "__module_get": ("module_put",),
    "refcount_inc": ("refcount_dec", "refcount_dec_and_test", "refcount_dec_and_lock", "refcount_sub_and_test"),
    "refcount_inc_not_zero": ("refcount_dec", "refcount_dec_and_test", "refcount_dec_and_lock"),
    "kref_get": ("kref_put", "kref_put_mutex", "kref_put_lock"),
    "kref_get_unless_zero": ("kref_put", "kref_put_mutex", "kref_put_lock"),
    "mmgrab": ("mmdrop", "mmdrop_async"),
    "mmget": ("mmput", "mmput_async"),
    "mmget_not_zero": ("mmput", "mmput_async"),
    "get_task_struct": ("put_task_struct", "put_task_struct_rcu_user"),
    "get_device": ("put_device",),
    "get_file": ("fput",),
    "get_pid": ("put_pid",),
}


def _struct_ops_initializers(facts):
    for init in facts.initializers:
        if re.search(r"\bstruct\s+bpf_struct_ops\b", init.type):
            yield init


def _known(fc, lines) -> bool:
    return fc.facts.complete or all(n in fc.file.post_image for n in range(lines[0], lines[1] + 1))


def _closure_calls(facts, start: str) -> list:
    """The calls of `start` and of every same-file function it calls or passes as an argument."""
    seen: set[str] = set()
    todo = [start]
    calls = []
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for call in facts.calls:
            if call.function != name:
                continue
            calls.append(call)
            for word in [call.name, *(w for a in call.args for w in _WORD.findall(a))]:
                if word not in seen and facts.function(word) is not None:
                    todo.append(word)
    return calls


def _member(arg: str) -> str | None:
    m = re.search(r"(?:->|\.)\s*(\w+)\s*\)*\s*$", arg)
    return m.group(1) if m else None


def _ref_release(name: str) -> tuple[tuple[str, ...], str] | None:
    """For a reference-taking call: (exact release names, stem) or None if it takes none."""
    if name in _REF_PAIRS:
        return _REF_PAIRS[name], ""
    m = re.fullmatch(r"(\w+?)_(?:get|hold|tryget)(?:_not_zero|_unless_zero)?", name)
    if m and not _NOT_REFS.search(m.group(1)) and not name.startswith(("__btf", "btf", "bpf_map_lookup")):
        stem = m.group(1)
        return (f"{stem}_put", f"__{stem}_put", f"{stem}_release", f"{stem}_unhold", f"{stem}_put_many"), stem
    m = re.fullmatch(r"bpf_(map|prog|link)_inc(?:_not_zero)?", name)
    if m:
        return (f"bpf_{m.group(1)}_put", f"bpf_{m.group(1)}_put_with_uref", f"bpf_{m.group(1)}_sub"), ""
    m = re.fullmatch(r"get_(\w+)", name)
    if m and m.group(1) in ("task_struct", "device", "pid", "net", "cred", "mnt_ns", "nsproxy", "uts_ns",
                            "ipc_ns", "user_ns", "cgroup_ns", "fs_struct", "mm_struct"):
        return (f"put_{m.group(1)}", f"put_{m.group(1)}_async"), ""
    return None


def _escapes(facts, fn: str, var: str, call_line: int) -> bool:
    """reg keeps the allocation: stores it in a member or a global, or hands it to another call."""
    globals_ = {g.name for g in facts.globals}
    for a in facts.assignments:
        if a.function != fn or a.lines[0] < call_line:
            continue
        if var in _WORD.findall(a.value) and (not re.fullmatch(r"\w+", a.target) or a.target in globals_):
            return True
    for call in facts.calls:
        if call.function != fn or call.lines[0] < call_line or _FREE.search(call.name):
            continue
        if call.name in ("IS_ERR", "PTR_ERR", "IS_ERR_OR_NULL", "unlikely", "likely", "WARN_ON", "WARN_ON_ONCE",
                         "memset", "memcpy", "strscpy", "sizeof", "init_srcu_struct", "spin_lock_init",
                         "mutex_init", "INIT_LIST_HEAD", "INIT_HLIST_NODE", "refcount_set", "atomic_set"):
            continue
        if any(var in _WORD.findall(arg) for arg in call.args):
            return True
    return False


def check(ctx):
    for fc in ctx.files:
        if not fc.path.endswith(".c"):
            continue
        facts = fc.facts
        for init in _struct_ops_initializers(facts):
            reg = init.value_of(".reg")
            if not reg or not re.fullmatch(r"\w+", reg):
                continue
            unreg = init.value_of(".unreg")
            reg_fn = facts.function(reg)
            if not unreg:
                if not _known(fc, init.lines):
                    continue
                if reg_fn is not None:
                    returns = [r for r in facts.returns if r.function == reg]
                    body_calls = [c for c in facts.calls if c.function == reg]
                    if not body_calls and returns and all((r.value or "").startswith("-E") for r in returns):
                        continue  # a reg that refuses every registration sets up nothing
                entry = next(e for e in init.entries if e.designator == ".reg")
                yield Hit(line=entry.lines[0], file=fc.path,
                          message=(f"{init.variable} sets .reg = {reg} but no .unreg: nothing undoes what "
                                   f"{reg}() sets up when the struct_ops map is deleted or its link is "
                                   "detached. Is an .unreg callback missing?"))
                continue
            if reg_fn is None or not re.fullmatch(r"\w+", unreg) or facts.function(unreg) is None:
                continue
            if not _known(fc, reg_fn.lines):
                continue
            teardown = _closure_calls(facts, unreg)
            names = {c.name for c in teardown}
            for call in facts.calls:
                if call.function != reg:
                    continue
                name = call.name
                what = undo = None
                if _LIST_ADD.match(name) and call.args:
                    member = _member(call.args[0])
                    dels = [c for c in teardown if _LIST_DEL.match(c.name)]
                    if member:
                        dels = [c for c in dels if any(member in _WORD.findall(a) for a in c.args)]
                    if not dels:
                        what = f"adds {call.args[0]} to {call.args[1] if len(call.args) > 1 else 'a list'} with {name}()"
                        undo = "removes it (no list_del*() of it)"
                        consequence = "the list still holds the entry, in memory the kernel may free"
                elif _ALLOC.match(name):
                    target = next((a.target for a in facts.assignments
                                   if a.function == reg and a.lines[0] <= call.lines[0] <= a.lines[1]
                                   and name in a.value), None)
                    if target and re.fullmatch(r"\w+", target) and _escapes(facts, reg, target, call.lines[0]):
                        if not any(_FREE.search(n) for n in names):
                            what = f"allocates {target} with {name}() and keeps it"
                            undo = "frees it (no kfree()/put/destroy at all)"
                            consequence = "it is leaked, once per attach"
                elif name.endswith(("register", "_register_notifier")) or re.search(r"(?:^|_)register(?:_|$)", name):
                    if "unregister" not in name:
                        expected = name.replace("register", "unregister", 1)
                        if expected not in names:
                            what = f"registers with {name}()"
                            undo = f"calls {expected}()"
                            consequence = "the registration stays in place"
                else:
                    release = _ref_release(name)
                    if release is not None:
                        exact, stem = release
                        ok = any(n in exact for n in names)
                        if stem and not ok:
                            ok = any(stem in n and re.search(r"put|release|drop|dec|unhold", n) for n in names)
                        if not ok:
                            what = f"takes a reference with {name}({', '.join(call.args)})"
                            undo = f"drops it ({exact[0]}())"
                            consequence = "the reference is leaked, once per attach"
                if what:
                    yield Hit(line=call.lines[0], end_line=call.lines[1], file=fc.path,
                              args={"reg": reg, "unreg": unreg, "what": what, "undo": undo,
                                    "consequence": consequence})
