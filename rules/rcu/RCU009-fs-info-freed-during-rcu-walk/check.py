"""RCU009: a filesystem frees its per-superblock info at unmount while RCU path walk can still read it.

RCU path walk takes no references and no locks: a walker can be inside this filesystem's
->d_hash()/->d_compare() (always called in RCU mode), ->d_revalidate() with LOOKUP_RCU,
->permission() with MAY_NOT_BLOCK or ->get_link() with a NULL dentry while the filesystem is being
unmounted. Those callbacks commonly read `sb->s_fs_info` and what hangs off it (the nls table, the
mount options). The super_block itself is freed after an RCU grace period (destroy_super_rcu());
what ->kill_sb() and ->put_super() free must be too.

The judge finds, in one file:
* the teardown: the ->kill_sb of a file_system_type and the ->put_super of a super_operations
  initialized in the file, and the file-local helpers they hand the super_block or its info to;
* the sb info there: `sb->s_fs_info`, a local set from it or from an accessor (`XXX_SB(sb)`,
  `foo_sb_info(sb)`: a call on the super_block alone), or a helper's parameter it was passed as;
* evidence that RCU walk reaches this filesystem's callbacks: the file sets `sb->s_d_op` (or calls
  d_set_d_op()) to dentry operations with ->d_hash/->d_compare/->d_revalidate, or defines dentry or
  inode operations whose ->d_hash/->d_compare/->d_revalidate/->permission/->get_link read the sb
  info. With a kernel tree (--tree), the operations may be in the other files of the folder.

It reports a synchronous free of the sb info (kfree/kvfree/kmem_cache_free), of a member that such
a callback reads, or `unload_nls(sbi->...)`, in the teardown with no grace period before it. Frees
deferred with kfree_rcu()/call_rcu() (and those made inside RCU callbacks) are not frees here.
Without evidence of RCU-walk callbacks the rule is silent: most filesystems free their sb info at
unmount and nothing reads it in RCU mode.
"""

from __future__ import annotations

import re

from reviewbot.engine import Hit
from reviewbot.facts import rcu
from reviewbot.facts.types import balanced, squash
from reviewbot.facts.vfs import ACCESSOR, BAIL, TEARDOWN, WALK_MEMBERS, accessors_in, folder_of, uses_info

MARKERS = (b"s_d_op", b"d_set_d_op") + tuple(m.encode() for m in WALK_MEMBERS)
FREES = {"kfree": 0, "kvfree": 0, "kfree_sensitive": 0, "kzfree": 0, "vfree": 0, "kmem_cache_free": 1}
# dentry operations of the VFS or libfs that read nothing of a filesystem's sb info
GENERIC_DOPS = {"simple_dentry_operations", "ns_dentry_operations", "pipefs_dentry_operations",
                "anon_ops", "generic_ci_dentry_ops"}
WAITS = {"kern_unmount", "kern_unmount_array", "rcu_barrier"}
CAST = re.compile(r"^\((?:const\s*)?(?:struct\s*)?\w+\s*\*+\)")


def check(ctx):
    source = ctx.unit.source
    if not any(t.encode() in source for t in TEARDOWN):
        return
    if ctx.tree is None and not any(m in source for m in MARKERS):
        return
    facts = ctx.facts
    names = {f.name for f in facts.functions}
    roots = []
    for init in facts.initializers:
        for e in init.entries:
            if e.designator in TEARDOWN and squash(e.value) in names:
                roots.append((squash(e.value), e.designator[1:], e.lines[0]))
    if not roots:
        return
    judge = _Judge(ctx, names)
    frees = []
    for name, slot, line in roots:
        frees.extend(judge.teardown(name, slot))
    if not frees:
        return
    evidence = judge.evidence()
    if not evidence:
        return
    reported = set()
    for free in frees:
        if free["line"] in reported:
            continue
        if free["member"] and free["kind"] != "nls" and free["member"] not in evidence.members:
            continue
        reported.add(free["line"])
        yield _hit(free, evidence)


class _Evidence:
    def __init__(self, what: str, line: int | None, reader: str | None, members: set[str], readers: list[str],
                 install: bool = False):
        self.install = install  # `what` installs dentry operations (sb->s_d_op = &ops)
        self.what = what  # "sb->s_d_op = &affs_dentry_operations (line 539)"
        self.line = line
        self.reader = reader  # the callback that reads the sb info, when known
        self.members = members  # sb-info members the callbacks read (`->s_flags`)
        self.readers = readers


class _Judge:
    def __init__(self, ctx, names: set[str]):
        self.ctx = ctx
        self.facts = ctx.facts
        self.names = names
        self.accessors: set[str] = set()  # names of calls that return the sb info
        self.idx = rcu.index(ctx)
        self._bodies: dict[str, str] = {}
        self.defers = self._deferred_callbacks()
        self.accessors |= accessors_in(ctx.unit.source.decode("utf-8", "replace"))

    # -- teardown

    def teardown(self, root: str, slot: str):
        fn = self.facts.function(root)
        if fn is None:
            return []
        sbs = {p.name for p in fn.params if p.name and "super_block" in p.type}
        if not sbs:
            return []
        out: list[dict] = []
        self._walk(root, sbs, set(), [(root, slot)], out, {root})
        return out

    def _walk(self, function, sbs, infos, chain, out, seen):
        sbs, infos = set(sbs), set(infos)
        assignments = [a for a in self.facts.assignments if a.function == function and re.fullmatch(r"\w+", a.target)]
        for a in assignments:
            if self._is_info(squash(a.value), sbs, infos):
                infos.add(a.target)
            elif a.operator in ("=", "init") and squash(a.value) in sbs:
                sbs.add(a.target)
        waits = [c.lines[0] for c in self.idx.calls_in(function) if self._waits(c.name)]
        for c in self.idx.calls_in(function):
            index = FREES.get(c.name)
            if index is not None and len(c.args) > index:
                arg = squash(c.args[index])
                if self.idx.typesafe_free(c.name, c.args):
                    continue
                if any(w < c.lines[0] for w in waits):
                    continue
                if self._is_info(arg, sbs, infos):
                    out.append({"call": c, "line": c.lines[0], "function": function, "arg": arg, "member": None,
                                "kind": "info", "chain": list(chain)})
                    continue
                m = re.fullmatch(r"\(?(.+?)\)?->(\w+)", arg)
                if m and self._is_info(m.group(1), sbs, infos):
                    out.append({"call": c, "line": c.lines[0], "function": function, "arg": arg,
                                "member": m.group(2), "kind": "member", "chain": list(chain)})
                continue
            if c.name == "unload_nls" and c.args:
                arg = squash(c.args[0])
                m = re.fullmatch(r"\(?(.+?)\)?->(\w+)", arg)
                if m and self._is_info(m.group(1), sbs, infos) and not any(w < c.lines[0] for w in waits):
                    out.append({"call": c, "line": c.lines[0], "function": function, "arg": arg,
                                "member": m.group(2), "kind": "nls", "chain": list(chain)})
                continue
            if c.name in self.names and c.name not in seen and len(chain) < 4 and c.name not in self.defers:
                callee = self.facts.function(c.name)
                if callee is None:
                    continue
                params = [p.name for p in callee.params]
                sub_sbs, sub_infos = set(), set()
                for i, arg in enumerate(c.args[:len(params)]):
                    a = squash(arg)
                    if not params[i]:
                        continue
                    if a in sbs:
                        sub_sbs.add(params[i])
                    elif self._is_info(a, sbs, infos):
                        sub_infos.add(params[i])
                if sub_sbs or sub_infos:
                    self._walk(c.name, sub_sbs, sub_infos, chain + [(c.name, c.lines[0])], out, seen | {c.name})

    def _waits(self, name: str) -> bool:
        """A grace period: synchronize_rcu() and friends, kern_unmount()/kern_unmount_array()
        (which wait for one before dropping the mounts), or a function of the file that does."""
        if name in rcu.RCU_WAITS or name in WAITS:
            return True
        s = self.idx.summaries.get(name)
        return s is not None and "rcu" in s.waits and name not in self.defers

    def _is_info(self, expr: str, sbs: set[str], infos: set[str]) -> bool:
        expr = CAST.sub("", expr)
        while expr.startswith("(") and expr.endswith(")") and balanced(expr[1:-1]):
            expr = expr[1:-1]
            expr = CAST.sub("", expr)
        if expr in infos:
            return True
        m = re.fullmatch(r"\(?(\w+)\)?->s_fs_info", expr)
        if m and m.group(1) in sbs:
            return True
        m = re.fullmatch(r"(\w+)\((\w+)\)", expr)
        if m and m.group(2) in sbs and (ACCESSOR.match(m.group(1)) or self._returns_info(m.group(1))):
            self.accessors.add(m.group(1))
            return True
        return False

    def _returns_info(self, name: str) -> bool:
        macro = self.facts.macro(name)
        if macro is not None and macro.params and "s_fs_info" in macro.value:
            return True
        return name in self.names and "s_fs_info" in self.body(name)

    def _deferred_callbacks(self) -> set[str]:
        out = set()
        for c in self.facts.calls:
            if c.name in ("call_rcu", "call_rcu_hurry", "queue_rcu_work", "INIT_RCU_WORK") and c.args:
                out.add(squash(c.args[-1]).lstrip("&"))
        return out

    # -- the RCU-walk side

    def body(self, name: str) -> str:
        if name not in self._bodies:
            node = self.ctx.unit.function(name)
            self._bodies[name] = self.ctx.unit.text(node) if node is not None else ""
        return self._bodies[name]

    def _reads_info(self, name: str, depth: int = 2, always: bool = False) -> bool:
        """Whether the callback (or a function of the file it calls) reads the sb info in RCU mode:
        before any `if (<RCU mode>) return -ECHILD;` (->d_hash/->d_compare are always in RCU mode)."""
        text = self.body(name)
        if not always:
            bail = BAIL.search(text)
            if bail:
                text = text[:bail.start()]
        if uses_info(text, self.accessors):
            return True
        if depth:
            for callee in set(re.findall(r"\b(\w+)\s*\(", text)):
                if callee in self.names and callee != name and self._reads_info(callee, depth - 1, True):
                    return True
        return False

    def _members_read(self, name: str, depth: int = 2) -> set[str]:
        out = set(re.findall(r"->\s*(\w+)", self.body(name)))
        if depth:
            for c in self.idx.calls_in(name):
                if c.name in self.names and c.name != name:
                    out |= self._members_read(c.name, depth - 1)
        return out

    def evidence(self) -> _Evidence | None:
        facts = self.facts
        inits = {i.variable: i for i in facts.initializers}
        readers, members = [], set()
        # callbacks of this file that RCU walk calls and that read the sb info
        for init in facts.initializers:
            for e in init.entries:
                value = squash(e.value)
                if e.designator in WALK_MEMBERS and value in self.names and \
                        self._reads_info(value, always=e.designator in (".d_hash", ".d_compare")):
                    readers.append((value, e.designator[1:], e.lines[0], init.variable))
                    members |= self._members_read(value)
        # dentry operations installed for the whole superblock (or per dentry)
        installs = []
        for a in facts.assignments:
            if re.search(r"->\s*s_d_op$", squash(a.target)):
                installs.append((squash(a.value).lstrip("&"), a.lines[0], f"{squash(a.target)} = {squash(a.value)}"))
        for c in facts.calls:
            if c.name in ("d_set_d_op", "set_default_d_op") and len(c.args) > 1:
                installs.append((squash(c.args[1]).lstrip("&"), c.lines[0], f"{c.name}({', '.join(c.args)})"))
        for ops, line, text in installs:
            ops = re.sub(r"\[.*\]$", "", ops)
            if ops in GENERIC_DOPS or ops in ("NULL", "0") or not re.fullmatch(r"\w+", ops):
                continue
            callbacks = self._ops_here(ops)
            if callbacks is None:
                sibling = self._folder_ops(ops)
                if sibling:
                    return _Evidence(f"{text} (line {line})", line, sibling, members, [r[0] for r in readers], True)
                continue
            walk = [(v, d) for v, d in callbacks if v in self.names and self._reads_info(v, always=d != "d_revalidate")]
            if walk:
                members |= {m for v, _ in walk for m in self._members_read(v)}
                v, d = walk[0]
                return _Evidence(f"{text} (line {line})", line, f"{v}() (->{d})", members, [r[0] for r in readers],
                                 True)
        if readers:
            name, member, line, variable = readers[0]
            return _Evidence(f"{variable}.{member} = {name} (line {line})", line, f"{name}() (->{member})",
                             members, [r[0] for r in readers])
        folder = self.folder()
        if folder is not None:
            found = folder.reader(self.accessors | folder.accessors)
            if found:
                return _Evidence(found, None, found, members, [])
        return None

    def _ops_here(self, ops: str):
        """The (function, member) RCU walk calls of dentry operations defined in this file (arrays
        of them too); None when they are not defined here."""
        text = self.ctx.unit.source.decode("utf-8", "replace")
        m = re.search(rf"\b{re.escape(ops)}\s*(?:\[\w*\])?\s*=\s*\{{", text)
        if m is None:
            return None
        end = text.find("};", m.end())
        body = text[m.end():end if end > 0 else len(text)]
        return [(fn, member) for member, fn in re.findall(r"\.(d_hash|d_compare|d_revalidate)\s*=\s*(\w+)", body)]

    def folder(self):
        """The other files of the file's folder, with a kernel tree (--tree); None without one."""
        return folder_of(self.ctx) if self.ctx.tree is not None else None

    def _folder_ops(self, ops: str) -> str | None:
        """With a kernel tree: the callback of dentry operations defined in another file of the
        folder that reads the sb info in RCU mode ("fn() (->d_hash, in dir.c)"); else None."""
        folder = self.folder()
        if folder is None:
            return None
        for name, member, fn in folder.ops(ops):
            if folder.reads(fn, self.accessors | folder.accessors, always=member != "d_revalidate"):
                return f"{fn}() (->{member}, in {name})"
        return None


def _hit(free, evidence: _Evidence) -> Hit:
    call = free["call"]
    function = free["function"]
    root, slot = free["chain"][0]
    where = f"->{slot} {root}()" if function == root else f"{function}() (called from ->{slot} {root}())"
    if evidence.install:
        reader = (f"{evidence.what} installs dentry operations whose {evidence.reader} reads it"
                  if evidence.reader else f"{evidence.what} installs dentry operations that read it")
    else:
        reader = f"{evidence.reader} reads it"
    walk = (f"RCU path walk can still be inside this filesystem while it is unmounted: {reader}, and the VFS "
            f"calls it in RCU mode with no reference on the superblock (->d_hash/->d_compare always, "
            f"->d_revalidate with LOOKUP_RCU, ->permission with MAY_NOT_BLOCK, ->get_link with a NULL dentry)")
    if free["kind"] == "nls":
        what = f"{call.name}({free['arg']}) in {where} drops the sb info's nls table at once"
        fix = ("Unload it after a grace period, from an RCU callback that also frees the sb info "
               "(call_rcu(&sbi->rcu, ...)), the way the super_block itself is freed.")
    elif free["kind"] == "member":
        what = f"{call.name}({free['arg']}) in {where} frees, at once, what the sb info points to"
        fix = "Free it after a grace period (from an RCU callback that frees the sb info, or kfree_rcu())."
    else:
        what = f"{call.name}({free['arg']}) in {where} frees the sb info (s_fs_info) at once"
        fix = ("Free it after a grace period: kfree_rcu(sbi, rcu) with an rcu_head in the sb info, or "
               "call_rcu() to a callback that frees it and what it owns.")
    message = f"{what}, but {walk}: a walker there uses it after the free. {fix}"
    trace = [f"{evidence.line}: {evidence.what.split(' (line')[0]}" if evidence.line else evidence.reader]
    trace.append(f"{root}() is ->{slot}")
    trace += [f"{line}: {name}() called" for name, line in free["chain"][1:]]
    trace.append(f"{call.lines[0]}: {call.name}({free['arg']})")
    related = (evidence.line,) if evidence.line else ()
    return Hit(line=call.lines[0], end_line=call.lines[1], related=related, message=message,
               args={"function": function}, trace=tuple(trace))
