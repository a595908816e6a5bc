"""SRCU003: an SRCU-protected list (or pointer) traversed outside any read-side section.

A list head is SRCU-protected when the file walks it with list_for_each_entry_srcu() /
hlist_for_each_entry_srcu() (or an iterator whose lockdep condition is srcu_read_lock_held(&d)); a
pointer is when the file reads it with srcu_dereference(p, &d). A traversal of such a head with any
list_for_each*/hlist_for_each* iterator, or an srcu_dereference(), is reported when the line sits in
no lock section at all (no srcu_read_lock(), no update-side spin/mutex lock, no scoped guard), the
iterator has no lockdep condition documenting a caller's lock (one naming a lock the function itself
takes around other lines documents nothing), the function asserts no lock held,
and there is evidence that nobody holds the lock for it:
  * the function takes a lock itself, but around other lines (the walk comes before the lock or
    after the unlock), or
  * the function is a callback or entry point (a value in a struct initializer, an initcall) that
    takes no lock, or
  * it is a static helper whose every call in the file is itself such an unprotected site.
A function with no evidence (it may be called under its caller's lock) is left alone.
"""

from __future__ import annotations

import re

from reviewbot.engine import Hit
from reviewbot.facts.types import VariableTypes, member_key, squash

ITERATOR = re.compile(r"^(?:h?list|hlist_nulls)_for_each\w*$")
NAMED = re.compile(r"(?:srcu_read_lock_held|lockdep_is_held)\s*\(\s*([^()]+?)\s*\)")
HELD = re.compile(r"srcu_read_lock_held\s*\(\s*([^()]+?)\s*\)")
CONSTANT = re.compile(r"^\(*\s*(?:false|true|0|1|NULL)\s*\)*$")
UPDATES = re.compile(r"^(?:h?list|hlist_nulls)_(?:add|del|replace|splice|move|cut)\w*$")
ASSERTS = re.compile(r"^(?:lockdep_assert\w*|WARN_ON\w*|BUG_ON|rcu_lockdep_assert|RCU_LOCKDEP_WARN)$")
INITCALLS = re.compile(r"^(?:\w*_initcall|module_init|module_exit|__initcall|subsys_initcall\w*)$")
NOT_SECTIONS = {"preempt", "irq"}


def _head_key(types: VariableTypes, function: str | None, expr: str) -> str:
    """A list head (`&g`, `&v->m`) or a pointer (`g`, `v->m`), comparable across functions."""
    text = squash(expr)
    if not text.startswith("&"):
        m = re.fullmatch(r"\(?(\w+)\)?->(\w+(?:(?:\.|->)\w+)*)", text)
        if m:
            struct = types.struct_of(function, m.group(1))
            return f"*{struct}::{m.group(2)}" if struct else "*" + text
        return "*" + text
    key = member_key(types, function, text)
    return f"{key[0]}::{key[1]}" if key else text


def _head_arg(loop) -> str | None:
    index = 2 if "_safe" in loop.macro else 1
    return loop.args[index] if len(loop.args) > index else None


def _cond_arg(loop) -> str | None:
    """The lockdep condition of an _rcu/_srcu iterator (its 4th argument), if any."""
    if not (loop.macro.endswith("_rcu") or loop.macro.endswith("_srcu")) or "_safe" in loop.macro:
        return None
    return loop.args[3] if len(loop.args) >= 4 else None


class Judge:
    def __init__(self, ctx):
        self.ctx = ctx
        self.facts = ctx.facts
        self.types = VariableTypes(ctx)
        facts = self.facts
        self.calls_in: dict[str, list] = {}
        for c in facts.calls:
            self.calls_in.setdefault(c.function, []).append(c)
        self.callbacks: dict[str, str] = {}  # function -> where it is registered
        for init in facts.initializers:
            for entry in init.entries:
                value = entry.value.strip().lstrip("&")
                if re.fullmatch(r"\w+", value):
                    self.callbacks.setdefault(value, f"{entry.designator or 'an entry'} of {init.variable}")
        for c in self.calls_in.get(None, ()):
            if INITCALLS.match(c.name) and c.args:
                self.callbacks.setdefault(c.args[0].strip(), c.name)
        self.function_names = {f.name for f in facts.functions}
        self._unprotected: dict[str, str | None] = {}

    def sections(self, function: str):
        flow = self.facts.flow(function)
        if flow is None:
            return ()
        return tuple(s for s in flow.sections if s.lock.kind not in NOT_SECTIONS)

    def protected_here(self, function: str, line: int) -> bool:
        """True when the line sits in a lock section, after a guard(), or the function asserts a lock."""
        if any(s.contains(line) for s in self.sections(function)):
            return True
        fn = self.facts.function(function)
        if fn is not None and any("__must_hold" in s or "__acquires" in s for s in fn.specifiers):
            return True
        for c in self.calls_in.get(function, ()):
            if c.name.startswith("guard(") and c.lines[0] <= line:
                return True
            if ASSERTS.match(c.name) and ("held" in c.text or c.name.startswith("lockdep_assert")):
                return True
        return False

    def unprotected(self, function: str, depth: int = 0) -> str | None:
        """Why nobody holds a lock for this function's body (None when it may be its caller's job)."""
        if function in self._unprotected:
            return self._unprotected[function]
        self._unprotected[function] = None  # recursion guard
        why = None
        sections = self.sections(function)
        if sections:
            s = sections[0]
            why = f"{function}() takes {s.lock.call}({s.lock.key if s.lock.key != s.lock.kind else ''}) on line {s.acquire_lines[0]} but not around this line"
        elif function in self.callbacks:
            why = f"{function}() is a callback ({self.callbacks[function]}) and takes no lock"
        elif depth < 2:
            fn = self.facts.function(function)
            sites = [c for c in self.facts.calls if c.name == function and c.function]
            referenced = any(function in c.args for c in self.facts.calls)
            if fn is not None and fn.is_static and sites and not referenced:
                reasons = []
                for site in sites:
                    if self.protected_here(site.function, site.lines[0]):
                        reasons = []
                        break
                    reason = self.unprotected(site.function, depth + 1)
                    if reason is None:
                        reasons = []
                        break
                    reasons.append(f"its caller {site.function}() (line {site.lines[0]}) holds no lock: {reason}")
                if reasons:
                    why = reasons[0]
        self._unprotected[function] = why
        return why

    def updates_list(self, function: str) -> bool:
        return any(UPDATES.match(c.name) for c in self.calls_in.get(function, ()))


def check(ctx):
    facts = ctx.facts
    if not any(loop.macro.endswith("_srcu") or HELD.search(loop.args[-1] if loop.args else "")
               for loop in facts.loops) and not facts.calls_to("srcu_dereference"):
        return
    judge = Judge(ctx)
    types = judge.types
    protected: dict[str, dict] = {}  # head key -> {domains, reader}
    for loop in facts.loops:
        if not loop.function or len(loop.args) < 3:
            continue
        cond = _cond_arg(loop) or ""
        named = HELD.findall(cond)
        if not loop.macro.endswith("_srcu") and not named:
            continue
        head = _head_arg(loop)
        if head is None:
            continue
        domains = [squash(d) for d in named]
        flow = facts.flow(loop.function)
        inside = []
        if flow is not None:
            inside = [s.lock.key for s in flow.sections_at(loop.lines[0]) if s.lock.kind == "srcu"]
        entry = protected.setdefault(_head_key(types, loop.function, head), {"domains": [], "readers": []})
        entry["domains"] += [d for d in inside + domains if d not in entry["domains"]]
        entry["readers"].append((loop.function, loop.lines[0], bool(inside)))
    for call in facts.calls_to("srcu_dereference"):
        if call.function and len(call.args) >= 2:
            entry = protected.setdefault(_head_key(types, call.function, call.args[0]),
                                         {"domains": [], "readers": []})
            flow = facts.flow(call.function)
            inside = flow is not None and any(s.lock.kind == "srcu" for s in flow.sections_at(call.lines[0]))
            entry["readers"].append((call.function, call.lines[0], inside))
            if squash(call.args[1]) not in entry["domains"]:
                entry["domains"].append(squash(call.args[1]))
    if not protected:
        return
    for loop in facts.loops:
        if not loop.function or not ITERATOR.match(loop.macro):
            continue
        head = _head_arg(loop)
        if head is None:
            continue
        info = protected.get(_head_key(types, loop.function, head))
        if info is None:
            continue
        cond = _cond_arg(loop)
        if cond is not None and not CONSTANT.match(cond.strip()):
            # the condition documents what the caller holds, unless this very function takes that
            # lock, just not around the loop
            named = {squash(n) for n in NAMED.findall(cond)}
            if not any(s.lock.key in named for s in judge.sections(loop.function)):
                continue
        hit = _judge(judge, loop.function, loop.lines, f"{loop.macro}()", head.strip(), info, walk=True)
        if hit is not None:
            yield hit
    for call in facts.calls_to("srcu_dereference"):
        if not call.function or len(call.args) < 2:
            continue
        info = protected[_head_key(types, call.function, call.args[0])]
        hit = _judge(judge, call.function, call.lines, call.text, call.args[0], info, walk=False)
        if hit is not None:
            yield hit


def _judge(judge: Judge, function: str, lines, what: str, head: str, info: dict, walk: bool):
    if judge.protected_here(function, lines[0]):
        return None
    if not judge.sections(function) and judge.updates_list(function):
        return None  # the update side, serialized by its caller
    why = judge.unprotected(function)
    if why is None:
        return None
    domains = info["domains"]
    domain = domains[0] if domains else None
    name = head.lstrip("&")
    others = [r for r in info["readers"] if r[1] != lines[0]] or info["readers"]
    reader, reader_line, _ = next((r for r in others if r[2]), others[0])
    if walk:
        readers = (f"readers walk it under srcu_read_lock({domain}) in {reader}()" if domain
                   else f"{reader}() walks it with an _srcu iterator")
        message = (f"{what} walks {name} here outside any read-side section: {readers}, and {why}. An entry "
                   f"can be unlinked and freed while this loop still points at it; should the walk be inside "
                   f"srcu_read_lock({domain or '&<its srcu_struct>'}), or under the lock that serializes the "
                   f"updates?")
    else:
        message = (f"{what} runs outside any srcu_read_lock({domain}) section: {why}. The object it returns "
                   f"can be freed as soon as synchronize_srcu({domain}) returns; should this read move inside "
                   f"the read-side section (or use srcu_dereference_check() naming the update-side lock)?")
    return Hit(line=lines[0], end_line=lines[0], related=(reader_line,),
               args={"head": name, "function": function}, message=message)
