"""Role finders of the lifetime model: who publishes, reads, retires, waits and tears down, read from
the file's RCU view (reviewbot.facts.rcu.RcuIndex) and not re-derived.

A slot (`struct T::m`, `list:struct E::node`, `table:struct P::xa`, a global's name) is where a reader
function and a retirer function meet. Every role names its function and the lines that make it one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from reviewbot.facts import rcu, vfs
from reviewbot.facts.types import squash

# the words without which a file has no role to run (checked on its text before it is parsed): RCU
# words, and a filesystem's teardown, whose reader is the VFS's RCU path walk
WORDS = ("rcu_", "_rcu", "srcu", "synchronize_", "call_rcu", "kfree_rcu", "rcu_barrier") + vfs.TEARDOWN

MAX_READERS = 3  # per slot
MAX_RETIRERS = 3  # per slot
MAX_PAIRS = 12  # per file and scenario kind


@dataclass
class Slot:
    key: str
    readers: list[str] = field(default_factory=list)  # functions with a protected read site
    retirers: list[tuple[str, int]] = field(default_factory=list)  # (function, unpublish line)
    publishers: list[tuple[str, int]] = field(default_factory=list)  # (function, publish line)
    loops: list[tuple[str, int, str, str]] = field(default_factory=list)  # (function, line, head, member)


@dataclass
class Roles:
    slots: dict[str, Slot] = field(default_factory=dict)
    # (function, line, "rcu" or "srcu:<key>") of each grace-period wait, and the functions whose
    # read-side sections of that domain it waits for
    waits: list[tuple[str, int, str]] = field(default_factory=list)
    sections: dict[str, list[str]] = field(default_factory=dict)  # domain -> functions taking it
    exits: list[str] = field(default_factory=list)  # module_exit functions
    inits: list[str] = field(default_factory=list)  # module_init functions
    queuers: list[tuple[str, int]] = field(default_factory=list)  # functions that call_rcu()/kfree_rcu()
    finders: list[str] = field(default_factory=list)  # functions with a section of their own that find objects

    def empty(self) -> bool:
        return not (any(s.readers and (s.retirers or s.publishers) for s in self.slots.values())
                    or self.waits and self.sections or self.exits and self.queuers or self.finders
                    or any(s.publishers for s in self.slots.values()))


def mentions(text: str) -> bool:
    return any(w in text for w in WORDS)


def find(idx: rcu.RcuIndex) -> Roles:
    facts = idx.facts
    roles = Roles()
    slots = roles.slots

    def slot(key: str) -> Slot:
        s = slots.get(key)
        if s is None:
            s = slots[key] = Slot(key)
        return s

    for site in idx.read_sites:
        if site.how in rcu.UPDATER_LOADS or not (site.protection or "").startswith(("rcu", "srcu")):
            continue
        s = slot(site.slot)
        if site.function not in s.readers and len(s.readers) < MAX_READERS:
            s.readers.append(site.function)
    for loop in facts.loops:
        if loop.function and rcu.RCU_ITERATORS.match(loop.macro) and len(loop.args) >= 3:
            key = idx.cursor_list(loop.function, loop.args[0], loop.args[2])
            slot(key).loops.append((loop.function, loop.lines[0], squash(loop.args[1]), squash(loop.args[2])))
    for c in facts.calls:
        if not c.function or not c.args:
            continue
        name = c.name
        if name in rcu.LIST_DELS:
            entry = idx.entry(c.function, c.args[rcu.LIST_DELS[name]])
            if entry:
                _add(slot(entry[1]).retirers, (c.function, c.lines[0]), MAX_RETIRERS)
        elif name in rcu.LIST_ADDS:
            entry = idx.entry(c.function, c.args[0])
            if entry:
                _add(slot(entry[1]).publishers, (c.function, c.lines[0]), MAX_RETIRERS)
        elif name in rcu.POINTER_STORES and len(c.args) >= 2:
            key = idx.slot(c.function, c.args[0])
            if rcu.is_null(c.args[1]) or name == "rcu_replace_pointer":
                _add(slot(key).retirers, (c.function, c.lines[0]), MAX_RETIRERS)
            else:
                _add(slot(key).publishers, (c.function, c.lines[0]), MAX_RETIRERS)
                _add(slot(key).retirers, (c.function, c.lines[0]), MAX_RETIRERS)  # a replace retires the old
        elif name in rcu.TABLE_REMOVES:
            _add(slot("table:" + idx.slot(c.function, c.args[0])).retirers, (c.function, c.lines[0]), MAX_RETIRERS)
        elif name in rcu.TABLE_STORES:
            _add(slot("table:" + idx.slot(c.function, c.args[0])).publishers, (c.function, c.lines[0]), MAX_RETIRERS)
        elif name in rcu.RCU_WAITS and name.startswith("synchronize_rcu") or name == "synchronize_net":
            roles.waits.append((c.function, c.lines[0], "rcu"))
        elif name in rcu.SRCU_WAITS:
            roles.waits.append((c.function, c.lines[0], "srcu:" + idx.slot(c.function, c.args[0])))
        elif name in ("call_rcu", "call_rcu_hurry", "kfree_rcu", "kvfree_rcu", "call_srcu"):
            roles.queuers.append((c.function, c.lines[0]))
        elif name == "module_exit":
            roles.exits.append(squash(c.args[0]))
        elif name == "module_init":
            roles.inits.append(squash(c.args[0]))
    for name, s in idx.summaries.items():
        for key in s.takes:
            if key == "rcu" or key.startswith("srcu:"):
                roles.sections.setdefault(key, []).append(name)
    for fn in sorted({c.function for c in facts.calls if c.function and c.name in rcu.RCU_UNLOCKS | rcu.SRCU_UNLOCKS}):
        if fn in roles.sections.get("rcu", ()) or any(fn in v for k, v in roles.sections.items() if k.startswith("srcu")):
            roles.finders.append(fn)
    # module_init()/module_exit() are top-level macro calls: also read them from the text
    text = idx.ctx.unit.source.decode("utf-8", "replace")
    for kind, fn in re.findall(r"^\s*module_(init|exit)\s*\(\s*(\w+)\s*\)", text, re.MULTILINE):
        (roles.inits if kind == "init" else roles.exits).append(fn)
    roles.exits = list(dict.fromkeys(f for f in roles.exits if f in idx.names))
    roles.inits = list(dict.fromkeys(f for f in roles.inits if f in idx.names))
    return roles


@dataclass
class Walk:
    """A filesystem's unmount against the VFS's RCU path walk: the teardowns of the file (->kill_sb,
    ->put_super) and the callbacks RCU walk calls that read the sb info, with the file of the folder
    that defines each (the file alone without a kernel tree; its folder with one)."""
    teardowns: list[tuple[str, str]] = field(default_factory=list)  # (function, "kill_sb")
    readers: list[tuple[str, str, str]] = field(default_factory=list)  # (function, "d_hash", "namei.c")
    files: set[str] = field(default_factory=set)  # the folder's files that define them and their callees
    accessors: set[str] = field(default_factory=set)  # callees that return the sb info (AFFS_SB())
    folder: vfs.Folder | None = None


def walk(ctx) -> Walk:
    out = Walk()
    facts = ctx.facts
    names = {f.name for f in facts.functions}
    for init in facts.initializers:
        for e in init.entries:
            if e.designator in vfs.TEARDOWN and squash(e.value) in names:
                _add(out.teardowns, (squash(e.value), e.designator[1:]), 2)
    if not out.teardowns:
        return out
    folder = out.folder = vfs.folder_of(ctx)
    out.accessors = set(folder.accessors)
    # an accessor of a header outside the folder (proc_sb_info()), as the teardown calls it on its sb
    teardowns = {fn for fn, _ in out.teardowns}
    for c in facts.calls:
        if c.function in teardowns and len(c.args) == 1 and vfs.ACCESSOR.match(c.name) and c.name not in names:
            out.accessors.add(c.name)
    # ->d_hash/->d_compare first: the VFS always calls them in RCU mode
    found = folder.readers(out.accessors)
    found.sort(key=lambda r: (r[1] not in ("d_hash", "d_compare"), r[0] != folder.own))
    for _table, member, fn in found:
        where = folder.definition(fn)
        if where is not None and len(out.readers) < MAX_READERS:
            _add(out.readers, (fn, member, where[0]), MAX_READERS)
            out.files |= folder.files_of(fn)
    out.files.discard(folder.own)
    return out


def _add(items: list, item: tuple, limit: int) -> None:
    if item not in items and len(items) < limit:
        items.append(item)


def entry_type(key: str) -> str | None:
    """`list:struct ent::node` -> "ent"; None when the entry type is unknown."""
    m = re.fullmatch(r"list:struct (\w+)::(\w+)", key)
    return m.group(1) if m else None
