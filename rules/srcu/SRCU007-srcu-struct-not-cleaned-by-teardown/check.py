"""SRCU007: the teardown of a function that sets up an srcu_struct never cleans it up.

For each `init_srcu_struct(d)` in a function F, the teardowns of F in the file are its
module_exit() (when F is the module_init()/initcall function) and its named partners
(foo_init -> foo_exit/foo_fini/foo_cleanup/..., foo_create -> foo_destroy, foo_register ->
foo_unregister, ...). A teardown cleans d up when cleanup_srcu_struct() of the same domain is
called in it or in a file function it reaches (called, or handed to another call as a callback:
`kref_put(&x->ref, x_release)`), three levels deep. A teardown that hands the object to another
file's put/free/release/destroy may clean it up there: it is left alone. The domain is the member
name with its struct type when the type is known (`&kvm->srcu`), or the global's name.
"""

from __future__ import annotations

import re

from reviewbot.engine import Hit
from reviewbot.facts import rcu
from reviewbot.facts.types import squash

INITS = {"init_srcu_struct"}
CLEANUPS = {"cleanup_srcu_struct", "cleanup_srcu_struct_quiesced"}
MODULE_INITS = re.compile(r"^(?:module_init|\w*_initcall(?:_sync)?|late_initcall|subsys_initcall|fs_initcall|"
                          r"device_initcall|arch_initcall|core_initcall|postcore_initcall|module_driver)$")
MODULE_EXITS = {"module_exit"}
# (set-up word, its teardown words)
PAIRS = (("init", ("exit", "fini", "cleanup", "deinit", "uninit", "destroy", "teardown", "free")),
         ("create", ("destroy", "free", "release")),
         ("alloc", ("free", "destroy", "release")),
         ("register", ("unregister",)),
         ("add", ("remove", "del")),
         ("setup", ("teardown", "cleanup")),
         ("probe", ("remove",)),
         ("new", ("free", "destroy", "delete")))
HANDS_ON = re.compile(r"(?:^|_)(?:put|release|free|destroy)(?:_|$)")


def partner_names(name: str):
    """The names a teardown of `name` would have in the file."""
    for up, downs in PAIRS:
        for down in downs:
            if name.endswith("_" + up):
                yield name[: -len(up)] + down
            if name.startswith(up + "_"):
                yield down + name[len(up):]
            if f"_{up}_" in name:
                yield name.replace(f"_{up}_", f"_{down}_", 1)


def check(ctx):
    facts = ctx.facts
    inits = [c for c in facts.calls if c.name in INITS and c.args and c.function]
    if not inits:
        return
    names = {f.name for f in facts.functions}
    calls_in: dict[str, list] = {}
    for c in facts.calls:
        if c.function:
            calls_in.setdefault(c.function, []).append(c)
    exits = [c.args[0].strip() for c in facts.calls if c.name in MODULE_EXITS and c.args]
    module_inits = {c.args[0].strip() for c in facts.calls if MODULE_INITS.match(c.name) and c.args}

    def reach(start: str, depth: int = 3) -> set[str]:
        seen, frontier = {start}, [start]
        for _ in range(depth):
            nxt = []
            for fn in frontier:
                for c in calls_in.get(fn, ()):
                    for callee in (c.name, *(squash(a).lstrip("&") for a in c.args)):
                        if callee in names and callee not in seen:
                            seen.add(callee)
                            nxt.append(callee)
            frontier = nxt
        return seen

    def cleans(teardown: str, key) -> bool:
        for fn in reach(teardown):
            for c in calls_in.get(fn, ()):
                if c.name in CLEANUPS and c.args:
                    other = rcu.index(ctx).srcu_domain(fn, c.args[0])
                    if other is not None and other[1] == key[1] and (not key[0] or not other[0] or other[0] == key[0]):
                        return True
        return False

    def hands_on(teardown: str, key) -> bool:
        """Whether the teardown hands the object holding the domain to another file's put/free/
        release/destroy (`kvm_arch_free_vm(kvm)`, `hci_dev_put(hdev)`), which may clean it up."""
        if key[0] == "global":
            return False
        types = rcu.index(ctx).types
        for fn in reach(teardown):
            for c in calls_in.get(fn, ()):
                if c.name in names or not HANDS_ON.search(c.name):
                    continue
                for arg in c.args:
                    m = re.fullmatch(r"&?\(?(\w+)\)?(?:(?:->|\.)\w+)?", squash(arg))
                    # an object of the domain's own type (an unknown type or a function name is not one)
                    if m and key[0] and types.struct_of(fn, m.group(1)) == key[0]:
                        if squash(arg) == m.group(1):
                            return True  # the object itself: `kvm_arch_free_vm(kvm)`
                        if squash(arg).startswith("&") and "put" in c.name:
                            return True  # its embedded reference: `kref_put(&x->ref, x_release)`
        return False

    reported = set()
    for init in inits:
        key = rcu.index(ctx).srcu_domain(init.function, init.args[0])
        if key is None:
            continue
        teardowns = [n for n in dict.fromkeys(partner_names(init.function)) if n in names and n != init.function]
        if init.function in module_inits:
            teardowns += [e for e in exits if e in names and e not in teardowns]
        for teardown in teardowns:
            if cleans(teardown, key) or hands_on(teardown, key) or teardown in reported:
                continue
            fn = facts.function(teardown)
            if fn is None:
                continue
            reported.add(teardown)
            what = f"{key[1]}" if key[0] == "global" else f"->{key[1]}" + (f" of struct {key[0]}" if key[0] else "")
            message = (f"{teardown}() undoes {init.function}(), which sets up {what} with init_srcu_struct() on line "
                       f"{init.lines[0]}, but neither it nor a function of this file it calls cleans that "
                       f"srcu_struct up: its per-CPU counters leak on every teardown, and SRCU work still queued "
                       f"on it can run after its memory is freed. Should {teardown}() call "
                       f"cleanup_srcu_struct()?")
            yield Hit(line=fn.lines[0], end_line=fn.lines[0], related=(init.lines[0],), message=message,
                      args={"what": message},
                      trace=(f"{init.lines[0]}: {init.text}", f"{fn.lines[0]}: {teardown}() never calls cleanup_srcu_struct()"))
