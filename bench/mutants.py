#!/usr/bin/env python3
"""Mutation benchmark: inject RCU/SRCU lifetime bugs into correct Linux 6.1 functions and count
how many the rules find.

    python bench/mutants.py [--kernel DIR] [--files LIST] [--max-per-class N] [--seed S]
                            [--jobs N] [--rules IDS] [--as-new-file [--models]] [--list FILE]

Each mutant is reviewed as the patch that makes it from the tree's 6.1 file (a deleted statement is
a deleted line, a moved one a -/+ pair, the tree gives the rules the whole post-image): that is how
such a bug reaches a maintainer, and what reviewbot reviews. `--as-new-file` reviews the mutated
file instead as a patch that adds it whole, which hides every deletion (no rule can tell a deleted
read-side section from a function whose callers hold the lock); the issue's target (>= 90% found)
is for the patches, and the new-file figure is printed for comparison in bench/real-world.md.

Six mutation classes, each written for the kernel idiom (not for particular files):

  delete-synchronize         delete a synchronize_*() that lies between an unpublish of an object
                             (list_del_rcu, rcu_assign_pointer(x, NULL), xa_erase, ...) and its free
  kfree_rcu-to-kfree         kfree_rcu(p, f) / kvfree_rcu(p) -> kfree(p) / kvfree(p), p unpublished
                             earlier in the same function
  unlock-above-use           move an rcu_read_unlock() / srcu_read_unlock() above the statement just
                             before it that uses a pointer obtained inside the section
  drop-unlock-on-error-path  delete an unlock directly followed by return/goto in an if body, when
                             another path of the function unlocks too
  drop-cleanup-srcu          delete cleanup_srcu_struct(&x) where the file init_srcu_struct()s x
  walk-outside-lock          delete the only lock/unlock pair of a function that walks an RCU list
                             (or rcu_dereference()s) inside it

Every mutation keeps line numbers: a deleted statement becomes spaces (newlines kept; `;` when it
was the whole body of an if/else/loop, so the control flow around it does not change), a replaced
call keeps its newlines, and a moved statement rotates whole lines. So a finding's line in the
mutant can be compared with the mutated lines of the original.

A mutant is "found" when a finding of one of its class's rules (CLASS_RULES) overlaps the mutated
function, and "at the site" when such a finding's line range, or a line it names (its related
lines, "line N" in its message), is within +-3 lines of the mutated lines (for walk-outside-lock
also of the walk / dereference the deleted section protected: that is where a rule points). The
original of every file is reviewed once too: each mutated function should be silent there (no
RCU*/SRCU* finding); the ones that are not are printed, never dropped.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_KERNEL = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "reviewbot" / "linux-source-6.1-full"
DEFAULT_FILES = Path("/work/data/rcufiles.txt")

# Which rules are meant to catch each class. Edited as rules land.
# RCU011 reads what a patch deletes: it is silent with --as-new-file (a new file deletes nothing).
CLASS_RULES: dict[str, set[str]] = {
    "delete-synchronize": {"RCU001", "SRCU005", "RCU011"},
    "kfree_rcu-to-kfree": {"RCU001", "SRCU005", "RCU011"},
    "unlock-above-use": {"RCU002", "RCU011"},
    "drop-unlock-on-error-path": {"SRCU001", "RCU003"},
    "drop-cleanup-srcu": {"SRCU004", "SRCU007", "RCU011"},
    "walk-outside-lock": {"RCU004", "SRCU003", "RCU011"},
}
CLASSES = tuple(CLASS_RULES)
SITE_SLACK = 3  # lines either side of a mutated line that still count as "at the site"
LIFETIME_PREFIXES = ("RCU", "SRCU")  # the packs whose silence on unmutated code is measured

# --- the kernel vocabulary ----------------------------------------------------------------------

SYNCHRONIZE = {"synchronize_rcu", "synchronize_rcu_expedited", "synchronize_srcu",
               "synchronize_srcu_expedited", "synchronize_net"}
# list unlinks: the object is the container of the first argument (&obj->member)
UNLINK = {"list_del_rcu", "hlist_del_rcu", "hlist_nulls_del_rcu", "list_del_init_rcu", "hlist_del_init_rcu",
          "hlist_nulls_del_init_rcu", "list_replace_rcu", "hlist_replace_rcu"}
POINTER_CLEAR = {"rcu_assign_pointer", "RCU_INIT_POINTER"}  # (x, NULL): the object is what x pointed to
REMOVE = {"xa_erase", "xa_erase_bh", "xa_erase_irq", "__xa_erase", "idr_remove", "radix_tree_delete",
          "rcu_replace_pointer"}  # return the removed object
FREES = {"kfree", "kvfree", "vfree", "kmem_cache_free", "kfree_sensitive"}
FREE_RCU = {"kfree_rcu": "kfree", "kvfree_rcu": "kvfree"}
LOCKS = {"rcu_read_lock": "rcu_read_unlock", "rcu_read_lock_bh": "rcu_read_unlock_bh",
         "rcu_read_lock_sched": "rcu_read_unlock_sched", "srcu_read_lock": "srcu_read_unlock"}
UNLOCKS = {v: k for k, v in LOCKS.items()}
LOOKUPS = {"xa_load", "idr_find", "radix_tree_lookup"}
LOOKUP_NAME = re.compile(r"_lookup|_find")


def is_reader_deref(name: str) -> bool:
    """rcu_dereference*() / srcu_dereference*() as a reader uses them: not the _protected forms,
    which say the update-side lock is held (then the read section is not what protects it)."""
    return name.startswith(("rcu_dereference", "srcu_dereference")) and not name.endswith("_protected")
RCU_ITERATOR = re.compile(r"^\w*for_each_entry\w*_s?rcu$")
MACRO_NAME = re.compile(rb"^\s*(\w+)\s*\(")
# lines that may sit between a moved statement and the unlock: blank or comment only
QUIET_LINE = re.compile(rb"^\s*(?:$|/\*|\*|//)")


@dataclass(frozen=True)
class Mutant:
    klass: str
    file: str
    function: str
    fn_lines: tuple[int, int]  # first and last line of the mutated function
    lines: tuple[int, ...]  # the lines the mutation changed
    edits: tuple[tuple[int, int, bytes], ...]  # (start byte, end byte, replacement) in the original
    what: str  # what was done, e.g. "deleted synchronize_rcu()"
    witness: tuple[int, ...] = ()  # lines a rule would point at besides the mutated ones
    flavor: str = "rcu"  # "srcu" when the mutated code is about an srcu_struct, else "rcu"

    @property
    def line(self) -> int:
        return self.lines[0]

    def apply(self, source: bytes) -> bytes:
        out = source
        for start, end, new in sorted(self.edits, reverse=True):
            out = out[:start] + new + out[end:]
        return out

    @property
    def site_lines(self) -> tuple[int, ...]:
        return tuple(sorted(set(self.lines) | set(self.witness)))


# --- tree helpers -------------------------------------------------------------------------------


def _blank(data: bytes) -> bytes:
    return bytes(b if b == 0x0A else 0x20 for b in data)


class FunctionScan:
    """One function body: its calls in source order and where statements sit."""

    def __init__(self, unit, fn):
        from reviewbot.csource import walk

        self.unit = unit
        self.fn = fn
        self.name = unit.function_name(fn) or "?"
        self.lines = unit.lines(fn)
        self.body = fn.child_by_field_name("body")
        self.calls: list[tuple[str, object]] = []
        self.loops: list[tuple[str, object]] = []  # (iterator macro name, while_statement)
        self.assigns: list[tuple[str, object, object]] = []  # (target text, rhs node, the assignment node)
        self.pointers: set[str] = set()  # names declared as pointers (parameters and locals)
        for node in walk(fn):
            t = node.type
            if t == "call_expression":
                f = node.child_by_field_name("function")
                if f is not None and f.type == "identifier":
                    self.calls.append((unit.text(f), node))
            elif t == "while_statement":
                m = MACRO_NAME.match(unit.source[node.start_byte:node.start_byte + 80])
                if m and m.group(1) != b"while":
                    self.loops.append((m.group(1).decode(), node))
            elif t == "assignment_expression":
                left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
                if left is not None and right is not None and _op(unit, node) == "=":
                    self.assigns.append((norm(unit, left), right, node))
            elif t == "init_declarator":
                decl, value = node.child_by_field_name("declarator"), node.child_by_field_name("value")
                ident = _declared(decl)
                if ident is not None and value is not None:
                    self.assigns.append((unit.text(ident), value, node))
            if t == "pointer_declarator":
                ident = _declared(node)
                if ident is not None:
                    self.pointers.add(unit.text(ident))

    def text(self, node) -> str:
        return self.unit.text(node)

    def args(self, call) -> list:
        arglist = call.child_by_field_name("arguments")
        return [a for a in arglist.named_children if a.type != "comment"] if arglist is not None else []

    def calls_named(self, names) -> list[tuple[str, object]]:
        return [(n, c) for n, c in self.calls if n in names]


def _op(unit, node) -> str:
    op = node.child_by_field_name("operator")
    if op is not None:
        return unit.text(op)
    left = node.child_by_field_name("left")
    return unit.text(node.children[1]) if left is not None and len(node.children) > 1 else ""


def _declared(decl):
    from reviewbot.csource import declarator_identifier

    ident = declarator_identifier(decl)
    return ident if ident is not None and ident.type == "identifier" else None


def norm(unit, node) -> str:
    """An expression's text without parentheses, casts and white space, for comparing two places."""
    from reviewbot.csource import unparen

    node = unparen(node)
    while node is not None and node.type == "cast_expression":
        node = unparen(node.child_by_field_name("value"))
    return re.sub(r"\s+", "", unit.text(node)) if node is not None else ""


def container_of_member(unit, node) -> str | None:
    """`&X->m` (or `&X->m.n`) -> "X": the object whose member an RCU list unlink names."""
    from reviewbot.csource import unparen

    node = unparen(node)
    if node is None:
        return None
    if node.type == "pointer_expression" and node.children and node.children[0].type == "&":
        node = unparen(node.child_by_field_name("argument"))
    while node is not None and node.type == "field_expression" and _field_op(node) == ".":
        node = node.child_by_field_name("argument")
    if node is not None and node.type == "field_expression" and _field_op(node) == "->":
        return norm(unit, node.child_by_field_name("argument"))
    return None


def _field_op(node) -> str:
    return next((c.type for c in node.children if c.type in (".", "->")), "")


def statement_of(call):
    """The statement a call is the whole of: `f();`, `x = f();` or `T x = f();`; else None."""
    parent = call.parent
    if parent is None:
        return None
    if parent.type == "expression_statement":
        return parent
    if parent.type == "assignment_expression" and parent.parent is not None and parent.parent.type == "expression_statement":
        return parent.parent
    if parent.type == "init_declarator" and parent.parent is not None and parent.parent.type == "declaration":
        decl = parent.parent
        return decl if sum(1 for c in decl.named_children if c.type == "init_declarator") == 1 else None
    return None


def delete_edit(unit, stmt) -> tuple[int, int, bytes]:
    """Blank a statement; a statement that is a whole if/else/loop body becomes `;` so the body the
    control statement governs is still empty, not the next statement."""
    data = unit.source[stmt.start_byte:stmt.end_byte]
    blanked = _blank(data)
    if stmt.parent is not None and stmt.parent.type != "compound_statement":
        blanked = b";" + blanked[1:]
    return stmt.start_byte, stmt.end_byte, blanked


def _alone_on_lines(unit, node) -> bool:
    """True when only white space shares the node's first and last lines with it."""
    src = unit.source
    start = src.rfind(b"\n", 0, node.start_byte) + 1
    end = src.find(b"\n", node.end_byte)
    end = len(src) if end < 0 else end
    return not src[start:node.start_byte].strip() and not src[node.end_byte:end].strip()


def _line_span(unit, first: int, last: int) -> tuple[int, int]:
    """Byte span of lines first..last (1-based), without the last newline."""
    starts = unit._starts()
    start = starts[first - 1]
    end = starts[last] - 1 if last < len(starts) else len(unit.source)
    return start, end


def _mutant(scan: FunctionScan, klass: str, lines, edits, what: str, witness=(), srcu: bool = False) -> Mutant:
    return Mutant(klass, scan.unit.path, scan.name, scan.lines, tuple(sorted(set(lines))), tuple(edits), what,
                  tuple(sorted(set(witness))), "srcu" if srcu else "rcu")


# --- what a function unpublishes and frees ------------------------------------------------------


def unpublishes(scan: FunctionScan) -> list[tuple[int, set[str], str]]:
    """(byte, objects, text) for every unpublish in the function: the objects are the texts by
    which the function names what it took out of RCU readers' reach."""
    unit = scan.unit
    out = []
    for name, call in scan.calls:
        args = scan.args(call)
        objects: set[str] = set()
        if name in UNLINK and args:
            obj = container_of_member(unit, args[0])
            if obj:
                objects.add(obj)
        elif name in POINTER_CLEAR and len(args) == 2 and norm(unit, args[1]) in ("NULL", "0"):
            slot = norm(unit, args[0])
            objects.add(slot)
            # what the slot pointed to, read earlier: old = rcu_dereference_protected(slot, c)
            for target, rhs, node in scan.assigns:
                if node.start_byte >= call.start_byte:
                    continue
                rhs_text = norm(unit, rhs)
                first = None
                if rhs.type == "call_expression":
                    rargs = scan.args(rhs)
                    first = norm(unit, rargs[0]) if rargs else None
                if rhs_text == slot or first == slot:
                    objects.add(target)
        elif name in REMOVE:
            parent = call.parent
            if parent is not None and parent.type == "assignment_expression":
                objects.add(norm(unit, parent.child_by_field_name("left")))
            elif parent is not None and parent.type == "init_declarator":
                ident = _declared(parent.child_by_field_name("declarator"))
                if ident is not None:
                    objects.add(unit.text(ident))
            elif name != "rcu_replace_pointer" and len(args) >= 2:
                obj = container_of_member(unit, args[1])  # xa_erase(&xa, obj->id)
                if obj:
                    objects.add(obj)
        if objects:
            out.append((call.start_byte, objects, f"{name}({', '.join(scan.text(a) for a in args)})"))
    return out


def local_freers(unit) -> set[str]:
    """Functions of this file named *_free / *_destroy whose body calls a free directly."""
    from reviewbot.csource import walk

    names = set()
    for fn in unit.functions():
        name = unit.function_name(fn)
        if not name or not (name.endswith("_free") or name.endswith("_destroy")):
            continue
        for node in walk(fn):
            if node.type == "call_expression":
                f = node.child_by_field_name("function")
                if f is not None and f.type == "identifier" and unit.text(f) in FREES:
                    names.add(name)
                    break
    return names


def frees(scan: FunctionScan, freers: set[str]) -> list[tuple[int, set[str], str, object]]:
    """(byte, freed texts, callee, call) for every free in the function."""
    out = []
    for name, call in scan.calls:
        args = scan.args(call)
        if name in FREES and args:
            arg = args[1] if name == "kmem_cache_free" and len(args) > 1 else args[0]
            out.append((call.start_byte, {norm(scan.unit, arg)}, name, call))
        elif name in freers and args:
            out.append((call.start_byte, {norm(scan.unit, a) for a in args}, name, call))
    return out


# --- the operators ------------------------------------------------------------------------------


def op_delete_synchronize(scan: FunctionScan, file: "FileScan") -> list[Mutant]:
    syncs = [(n, c) for n, c in scan.calls if n in SYNCHRONIZE]
    if not syncs:
        return []
    ups = unpublishes(scan)
    fs = frees(scan, file.freers)
    grace = [c.start_byte for n, c in scan.calls if n.startswith("synchronize_")]
    out = []
    for name, call in syncs:
        stmt = statement_of(call)
        if stmt is None or stmt.type != "expression_statement" or call.parent != stmt:
            continue
        pos = call.start_byte
        pair = None
        for ubyte, objects, utext in ups:
            if ubyte >= pos:
                continue
            for fbyte, freed, fname, _ in fs:
                # only this grace period separates the unpublish from the free: deleting it leaves none
                if fbyte > pos and objects & freed and all(g == pos for g in grace if ubyte < g < fbyte):
                    pair = (utext, fname, sorted(objects & freed)[0])
                    break
            if pair:
                break
        if pair is None:
            continue
        out.append(_mutant(scan, "delete-synchronize", range(scan.unit.lines(stmt)[0], scan.unit.lines(stmt)[1] + 1),
                           [delete_edit(scan.unit, stmt)],
                           f"deleted {name}() between {pair[0]} and {pair[1]}({pair[2]})",
                           srcu=name.startswith("synchronize_srcu")))
    return out


def op_kfree_rcu_to_kfree(scan: FunctionScan, file: "FileScan") -> list[Mutant]:
    unit = scan.unit
    calls = [(n, c) for n, c in scan.calls if n in FREE_RCU]
    if not calls:
        return []
    ups = unpublishes(scan)
    grace = [c.start_byte for n, c in scan.calls if n.startswith("synchronize_")]
    out = []
    for name, call in calls:
        args = scan.args(call)
        if not args:
            continue
        obj = norm(unit, args[0])
        before = [(b, t) for b, objects, t in ups if b < call.start_byte and obj in objects]
        # an unpublish with no grace period between it and the deferred free
        before = [(b, t) for b, t in before if not any(b < g < call.start_byte for g in grace)]
        if not before:
            continue
        arg_text = unit.text(args[0])
        old = unit.source[call.start_byte:call.end_byte]
        newlines = old.count(b"\n") - arg_text.count("\n")
        new = f"{FREE_RCU[name]}({arg_text}".encode("utf-8", "surrogateescape") + b"\n" * newlines + b")"
        first, last = unit.lines(call)
        out.append(_mutant(scan, "kfree_rcu-to-kfree", range(first, last + 1), [(call.start_byte, call.end_byte, new)],
                           f"{name}({arg_text}, ...) -> {FREE_RCU[name]}({arg_text}) after {before[-1][1]}"))
    return out


def _flavor(name: str) -> str:
    return LOCKS.get(name) or name  # a lock and its unlock share the unlock's name as flavor


def _domain(scan: FunctionScan, name: str, call) -> str:
    """The srcu_struct of an srcu lock/unlock ("" for RCU flavors)."""
    if not name.startswith("srcu"):
        return ""
    args = scan.args(call)
    return norm(scan.unit, args[0]) if args else ""


def _section_events(scan: FunctionScan):
    """(byte, kind, flavor, domain, name, call) of every read-side lock and unlock, in order."""
    out = []
    for name, call in scan.calls:
        if name in LOCKS:
            out.append((call.start_byte, "lock", _flavor(name), _domain(scan, name, call), name, call))
        elif name in UNLOCKS:
            out.append((call.start_byte, "unlock", name, _domain(scan, name, call), name, call))
    return out


def _section_pointers(scan: FunctionScan, lock_byte: int, before: int) -> dict[str, tuple[int, int]]:
    """Pointer variables that got their value inside a section (after lock_byte, before `before`)
    from rcu_dereference*(), a lookup, or as an RCU list cursor: name -> (line, byte) of the last."""
    unit = scan.unit
    found: dict[str, tuple[int, int]] = {}
    for target, rhs, node in scan.assigns:
        if not (lock_byte < node.start_byte < before) or not re.fullmatch(r"\w+", target):
            continue
        if target not in scan.pointers:
            continue
        value = rhs
        while value is not None and value.type == "cast_expression":
            value = value.child_by_field_name("value")
        if value is None or value.type != "call_expression":
            continue
        f = value.child_by_field_name("function")
        callee = unit.text(f) if f is not None else ""
        if (is_reader_deref(callee) or callee in LOOKUPS
                or LOOKUP_NAME.search(callee)):
            found[target] = (unit.lines(node)[0], node.start_byte)
    for macro, loop in scan.loops:
        if RCU_ITERATOR.match(macro) and lock_byte < loop.start_byte < before:
            cond = loop.child_by_field_name("condition")
            inner = cond.named_children[0] if cond is not None and cond.named_children else None
            cursor = inner.named_children[0] if inner is not None and inner.type == "comma_expression" else None
            if cursor is not None and cursor.type == "identifier":
                found.setdefault(unit.text(cursor), (unit.lines(loop)[0], loop.start_byte))
    return found


def _uses(unit, stmt, names) -> list[str]:
    """The `names` the statement dereferences (->, *, []) or passes to a call, in order."""
    from reviewbot.csource import walk

    out = []
    for node in walk(stmt):
        if node.type != "identifier" or unit.text(node) not in names:
            continue
        parent = node.parent
        if parent is None:
            continue
        if (parent.type == "field_expression" and _field_op(parent) == "->"
                and parent.child_by_field_name("argument") == node) \
                or (parent.type == "pointer_expression" and parent.children[0].type == "*") \
                or (parent.type == "subscript_expression" and parent.child_by_field_name("argument") == node) \
                or parent.type == "argument_list":
            if unit.text(node) not in out:
                out.append(unit.text(node))
    return out


# Calls that take or drop a reference on an object, or hand an RCU pointer over to refcounting: a
# pointer the section took a reference on (or a lookup returned referenced, as a later put shows)
# may be used after the unlock, so moving the unlock above its use would not be a bug.
REF_GET = re.compile(r"^(?!get_unaligned)\w*?(?:(?:^|_)(?:get|hold|tryget|grab)(?:_|$)|(?:^|_)inc(?:_not_zero)?$)")
REF_PUT = re.compile(r"(?:^|_)(?:put|release|unref)$|(?:^|_)put_")
HANDOFF = "rcu_pointer_handoff"


def _mentions(scan: FunctionScan, call, name: str) -> bool:
    """True when an argument is the object `name` itself or the address of one of its members
    (`name`, `&name->ref`): what a reference get/put is given (not `name->other_object`)."""
    pattern = re.compile(rf"{re.escape(name)}|&{re.escape(name)}(?:->|\.).*")
    return any(pattern.fullmatch(norm(scan.unit, a)) for a in scan.args(call))


def _held_by_reference(scan: FunctionScan, var: str, assigned: int, use, unlock) -> bool:
    """True when using `var` after the unlock would be fine: the use statement releases var or
    hands it off, or (unless the use statement is the very reference get the unlock must follow)
    a reference on var is taken between its assignment and the use, or dropped after the unlock."""
    inside = [(n, c) for n, c in scan.calls if use.start_byte <= c.start_byte < use.end_byte]
    if any(n == HANDOFF or (REF_PUT.search(n) and _mentions(scan, c, var)) for n, c in inside):
        return True
    if any(REF_GET.search(n) and _mentions(scan, c, var) for n, c in inside):
        return False  # moving the unlock above the get is the classic bug
    for n, c in scan.calls:
        if assigned < c.start_byte < use.start_byte and REF_GET.search(n) and _mentions(scan, c, var):
            return True
        if c.start_byte > unlock.end_byte and REF_PUT.search(n) and _mentions(scan, c, var):
            return True
    return False


def op_unlock_above_use(scan: FunctionScan, file: "FileScan") -> list[Mutant]:
    unit = scan.unit
    events = _section_events(scan)
    if not any(k == "lock" for _, k, *_ in events):
        return []
    out = []
    for byte, kind, flavor, domain, name, call in events:
        if kind != "unlock":
            continue
        stmt = statement_of(call)
        if stmt is None or stmt.type != "expression_statement" or stmt.parent is None \
                or stmt.parent.type != "compound_statement" or not _alone_on_lines(unit, stmt):
            continue
        prev = stmt.prev_named_sibling
        while prev is not None and prev.type == "comment":
            prev = prev.prev_named_sibling
        if prev is None or prev.type not in ("expression_statement", "declaration") or not _alone_on_lines(unit, prev):
            continue
        if any(c.start_byte >= prev.start_byte and c.end_byte <= prev.end_byte for n, c in scan.calls
               if n in LOCKS or n in UNLOCKS):
            continue
        # the section this unlock closes: the latest lock of its flavor (and srcu_struct) before the use
        locks = [b for b, k, fl, dom, *_ in events if k == "lock" and fl == flavor and dom == domain
                 and b < prev.start_byte]
        if not locks:
            continue
        pointers = _section_pointers(scan, locks[-1], prev.start_byte)
        used = next((v for v in _uses(unit, prev, set(pointers))
                     if not _held_by_reference(scan, v, pointers[v][1], prev, stmt)), None)
        if used is None:
            continue
        first, last = unit.lines(prev)
        ulast = unit.lines(stmt)[0]
        if unit.lines(stmt)[1] != ulast:
            continue
        between = unit.source.split(b"\n")[last:ulast - 1]
        if not all(QUIET_LINE.match(line) for line in between):
            continue
        start, end = _line_span(unit, first, ulast)
        lines = unit.source[start:end].split(b"\n")
        rotated = b"\n".join([lines[-1], *lines[:-1]])
        out.append(_mutant(scan, "unlock-above-use", range(first, ulast + 1), [(start, end, rotated)],
                           f"moved {name}() above the use of {used} (from line {pointers[used][0]})",
                           srcu=name.startswith("srcu")))
    return out


def op_drop_unlock_on_error_path(scan: FunctionScan, file: "FileScan") -> list[Mutant]:
    unit = scan.unit
    events = _section_events(scan)
    out = []
    for byte, kind, flavor, domain, name, call in events:
        if kind != "unlock":
            continue
        stmt = statement_of(call)
        if stmt is None or stmt.type != "expression_statement" or call.parent != stmt:
            continue
        block = stmt.parent
        if block is None or block.type != "compound_statement" or block.parent is None \
                or block.parent.type not in ("if_statement", "else_clause"):
            continue
        nxt = stmt.next_named_sibling
        while nxt is not None and nxt.type == "comment":
            nxt = nxt.next_named_sibling
        if nxt is None or nxt.type not in ("return_statement", "goto_statement"):
            continue
        others = [e for e in events if e[1] == "unlock" and e[2] == flavor and e[3] == domain and e[0] != byte]
        if not others:
            continue
        first, last = unit.lines(stmt)
        exit_word = "return" if nxt.type == "return_statement" else "goto"
        out.append(_mutant(scan, "drop-unlock-on-error-path", range(first, last + 1), [delete_edit(unit, stmt)],
                           f"deleted {name}() before the {exit_word} on line {unit.lines(nxt)[0]}",
                           srcu=name.startswith("srcu")))
    return out


def srcu_key(unit, node) -> str:
    """`&x->srcu` / `&d.srcu` -> "srcu"; `&my_srcu` -> "my_srcu": what an init and a cleanup share."""
    from reviewbot.csource import unparen

    node = unparen(node)
    if node is not None and node.type == "pointer_expression" and node.children[0].type == "&":
        node = unparen(node.child_by_field_name("argument"))
    if node is None:
        return ""
    if node.type == "field_expression":
        field = node.child_by_field_name("field")
        return unit.text(field) if field is not None else ""
    return norm(unit, node)


def op_drop_cleanup_srcu(scan: FunctionScan, file: "FileScan") -> list[Mutant]:
    unit = scan.unit
    out = []
    for name, call in scan.calls:
        if name != "cleanup_srcu_struct":
            continue
        stmt = statement_of(call)
        args = scan.args(call)
        if stmt is None or stmt.type != "expression_statement" or call.parent != stmt or not args:
            continue
        key = srcu_key(unit, args[0])
        if not key or key not in file.srcu_inits:
            continue
        first, last = unit.lines(stmt)
        out.append(_mutant(scan, "drop-cleanup-srcu", range(first, last + 1), [delete_edit(unit, stmt)],
                           f"deleted cleanup_srcu_struct({scan.text(args[0])}) (init_srcu_struct on line "
                           f"{file.srcu_inits[key]})", srcu=True))
    return out


def op_walk_outside_lock(scan: FunctionScan, file: "FileScan") -> list[Mutant]:
    unit = scan.unit
    events = _section_events(scan)
    locks = [e for e in events if e[1] == "lock"]
    unlocks = [e for e in events if e[1] == "unlock"]
    if len(locks) != 1 or len(unlocks) != 1:
        return []
    lock, unlock = locks[0], unlocks[0]
    if lock[2] != unlock[2] or lock[3] != unlock[3] or lock[0] >= unlock[0]:
        return []
    lock_stmt, unlock_stmt = statement_of(lock[5]), statement_of(unlock[5])
    if lock_stmt is None or unlock_stmt is None or unlock_stmt.type != "expression_statement":
        return []
    witness = [unit.lines(loop)[0] for macro, loop in scan.loops
               if RCU_ITERATOR.match(macro) and lock[0] < loop.start_byte < unlock[0]]
    what = "walk"
    if not witness:
        witness = [unit.lines(c)[0] for n, c in scan.calls
                   if is_reader_deref(n) and lock[0] < c.start_byte < unlock[0]]
        what = "dereference"
    if not witness:
        return []
    lines = [*range(unit.lines(lock_stmt)[0], unit.lines(lock_stmt)[1] + 1),
             *range(unit.lines(unlock_stmt)[0], unit.lines(unlock_stmt)[1] + 1)]
    return [_mutant(scan, "walk-outside-lock", lines, [delete_edit(unit, lock_stmt), delete_edit(unit, unlock_stmt)],
                    f"deleted {lock[4]}()/{unlock[4]}() around the {what} on line {witness[0]}", witness,
                    srcu=lock[4].startswith("srcu"))]


OPERATORS = {
    "delete-synchronize": op_delete_synchronize,
    "kfree_rcu-to-kfree": op_kfree_rcu_to_kfree,
    "unlock-above-use": op_unlock_above_use,
    "drop-unlock-on-error-path": op_drop_unlock_on_error_path,
    "drop-cleanup-srcu": op_drop_cleanup_srcu,
    "walk-outside-lock": op_walk_outside_lock,
}
assert set(OPERATORS) == set(CLASS_RULES)


class FileScan:
    """What the operators need to know about the whole file."""

    def __init__(self, unit):
        from reviewbot.csource import walk

        self.unit = unit
        self.freers = local_freers(unit)
        self.srcu_inits: dict[str, int] = {}  # srcu_key -> line of its first init_srcu_struct()
        for node in walk(unit.root):
            if node.type == "call_expression":
                f = node.child_by_field_name("function")
                if f is not None and f.type == "identifier" and unit.text(f) == "init_srcu_struct":
                    arglist = node.child_by_field_name("arguments")
                    if arglist is not None and arglist.named_children:
                        key = srcu_key(unit, arglist.named_children[0])
                        if key:
                            self.srcu_inits.setdefault(key, unit.lines(node)[0])


def mutants_of(source: bytes | str, path: str = "<source>", classes=CLASSES) -> tuple[list[Mutant], Counter]:
    """Every mutant of every class in one C text, in source order, and counts: functions read and
    functions skipped because tree-sitter could not read them (no mutant is made there)."""
    from reviewbot.csource import parse_c

    unit = parse_c(source, path)
    file = FileScan(unit)
    out: list[Mutant] = []
    counts: Counter = Counter()
    for fn in unit.functions():
        counts["functions"] += 1
        if fn.has_error:
            counts["functions with parse errors"] += 1
            continue
        scan = FunctionScan(unit, fn)
        for klass in classes:
            out.extend(OPERATORS[klass](scan, file))
    return out, counts


# --- measuring ----------------------------------------------------------------------------------

_RULES = None
_MODELS = None
_KEEP = None  # which model findings --rules asks for


_AS_PATCH = None  # the kernel tree, when each mutant is reviewed as the patch that makes it


def _init(only: str | None, use_models: bool, as_patch: str | None = None) -> None:
    global _RULES, _MODELS, _KEEP, _AS_PATCH
    from reviewbot import models, rulepack

    _AS_PATCH = as_patch

    if use_models:
        _RULES, _MODELS, _KEEP = rulepack.select(rulepack.load_rules(), only, None, models.load_models())
    else:
        _RULES, _MODELS = rulepack.select(rulepack.load_rules(), only, None), []


def review(rel: str, text: str) -> list[tuple]:
    """(rule, line, end_line, message, related) of every finding on the file as a new-file patch."""
    from reviewbot import engine, thread

    patch = thread.file_patch(rel, text)
    if _MODELS:
        found = engine.run(thread.single_series((patch,)), _RULES, models=_MODELS, keep=_KEEP).findings
    else:
        found = engine.run_patch(patch, _RULES)
    return sorted((f.rule, f.line, f.end_line, f.message, tuple(f.related)) for f in found)


def as_change(original: bytes, mutant: bytes) -> tuple[str, list[int]]:
    """The mutant as a real patch would leave the file: a line the mutation blanked is deleted, not
    left as white space. Returns that text and, for each of its lines, the original's line."""
    old, new = original.split(b"\n"), mutant.split(b"\n")
    assert len(old) == len(new), "mutations keep line numbers"
    kept, origin = [], []
    for n, (a, b) in enumerate(zip(old, new), start=1):
        if a.strip() and not b.strip():
            continue
        kept.append(b)
        origin.append(n)
    return b"\n".join(kept).decode("utf-8", "surrogateescape"), origin


def review_change(rel: str, original: bytes, mutant: bytes) -> list[tuple]:
    """The findings on the mutant reviewed as the patch that makes it from the tree's file (the
    tree gives the rules the whole post-image), with line numbers of the original file."""
    from reviewbot import engine, thread

    text, origin = as_change(original, mutant)
    patch = thread.change_patch(rel, original.decode("utf-8", "surrogateescape"), text)

    def back(n: int) -> int:
        return origin[n - 1] if 0 < n <= len(origin) else n

    out = []
    for f in engine.run_patch(patch, _RULES, tree=_AS_PATCH):
        message = LINE_REF.sub(lambda m: f"line {back(int(m.group(1)))}", f.message)
        out.append((f.rule, back(f.line), back(f.end_line), message, tuple(back(n) for n in f.related)))
    return sorted(out)


def _scan_file(job: tuple[str, str]) -> tuple[str, list[Mutant], Counter, str | None]:
    path, rel = job
    try:
        source = Path(path).read_bytes()
        found, counts = mutants_of(source, rel)
        return rel, found, counts, None
    except Exception as exc:  # counted and printed by the caller, never skipped silently
        return rel, [], Counter(), f"{type(exc).__name__}: {exc}"


def _review_file(job: tuple[str, str, list[Mutant]]):
    path, rel, mutants = job
    try:
        source = Path(path).read_bytes()
        original = review(rel, source.decode("utf-8", "surrogateescape"))
        if _AS_PATCH:
            results = [review_change(rel, source, m.apply(source)) for m in mutants]
        else:
            results = [review(rel, m.apply(source).decode("utf-8", "surrogateescape")) for m in mutants]
        return rel, original, results, None
    except Exception as exc:
        return rel, [], [], f"{type(exc).__name__}: {exc}"


LINE_REF = re.compile(r"\bline (\d+)")


def outcome(m: Mutant, findings: list[tuple], original: list[tuple]) -> dict:
    """found / at-site / any-rule / new for one mutant, from its findings and its original's."""
    lo, hi = m.fn_lines
    inside = [f for f in findings if f[1] <= hi and f[2] >= lo]
    mine = [f for f in inside if f[0] in CLASS_RULES[m.klass]]
    sites = m.site_lines

    def near(n: int) -> bool:
        return any(abs(n - s) <= SITE_SLACK for s in sites)

    def at_site(f) -> bool:
        named = [*f[4], *(int(x) for x in LINE_REF.findall(f[3]))]
        return any(near(n) for n in range(f[1], f[2] + 1)) or any(near(n) for n in named)

    before = set(original)
    return {
        "found": bool(mine),
        "at_site": any(at_site(f) for f in mine),
        "any": bool(inside),
        "new": any(f not in before for f in mine),
        "rules": sorted({f[0] for f in mine}),
        "any_rules": sorted({f[0] for f in inside}),
    }


def select(candidates: dict[str, list[Mutant]], per_class: int, seed: int) -> dict[str, list[Mutant]]:
    """Up to per_class mutants of each class, spread over as many files as possible: files in a
    seeded shuffle, one site of each file in turn (sites of a file in a seeded shuffle too)."""
    chosen = {}
    for klass in CLASSES:
        rnd = random.Random(f"{seed}:{klass}")
        by_file: dict[str, list[Mutant]] = defaultdict(list)
        for m in sorted(candidates.get(klass, []), key=lambda m: (m.file, m.lines)):
            by_file[m.file].append(m)
        files = sorted(by_file)
        rnd.shuffle(files)
        for f in files:
            rnd.shuffle(by_file[f])
        picked: list[Mutant] = []
        while len(picked) < per_class and any(by_file[f] for f in files):
            for f in files:
                if by_file[f] and len(picked) < per_class:
                    picked.append(by_file[f].pop(0))
        chosen[klass] = sorted(picked, key=lambda m: (m.file, m.lines))
    return chosen


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernel", type=Path, default=DEFAULT_KERNEL)
    ap.add_argument("--files", type=Path, default=DEFAULT_FILES, help="file list, paths relative to --kernel")
    ap.add_argument("--max-per-class", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--rules", help="only these rules (ids, names or packs); default every rule")
    ap.add_argument("--models", action="store_true", help="also run the reference models")
    ap.add_argument("--as-new-file", dest="as_patch", action="store_false",
                    help="review each mutated file as a new file that adds it whole, not as the patch that makes "
                         "the mutant from the tree's file (the default: what a maintainer sees, deleted lines too)")
    ap.add_argument("--as-patch", dest="as_patch", action="store_true", help=argparse.SUPPRESS)  # the default; kept for old command lines
    ap.set_defaults(as_patch=True)
    ap.add_argument("--list", type=Path, help="write every mutant and its outcome here")
    ap.add_argument("--sites", type=Path, help="write every candidate site of every class here")
    ap.add_argument("--flavor", choices=("rcu", "srcu"), help="only mutants of this flavor (e.g. srcu: every "
                    "SRCU site, for the srcu pack); candidate counts are printed before this filter")
    args = ap.parse_args()
    if not args.kernel.is_dir():
        print(f"no kernel tree at {args.kernel}", file=sys.stderr)
        return 2
    if args.as_patch and args.models:
        print("a mutant reviewed as a patch is reviewed with the rules only: --models needs --as-new-file",
              file=sys.stderr)
        return 2
    rels = [line.strip() for line in args.files.read_text().splitlines() if line.strip()]
    start = time.perf_counter()
    print("each mutant reviewed as " + ("the patch that makes it from the tree's file" if args.as_patch
                                        else "a new file (--as-new-file)"))

    # 1. every candidate site of every class in the file set
    candidates: dict[str, list[Mutant]] = defaultdict(list)
    counts: Counter = Counter()
    scan_errors = []
    jobs = [(str(args.kernel / rel), rel) for rel in sorted(rels)]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for rel, found, c, error in pool.map(_scan_file, jobs, chunksize=8):
            counts["files read"] += 1
            counts.update(c)
            if error:
                scan_errors.append((rel, error))
                continue
            counts["files scanned"] += 1
            for m in found:
                candidates[m.klass].append(m)
    scan_seconds = time.perf_counter() - start
    print(f"scanned {counts['files scanned']} of {counts['files read']} files ({len(rels)} listed) in "
          f"{scan_seconds:.1f} s: {counts['functions']} functions, {counts['functions with parse errors']} "
          f"with parse errors (not mutated)")
    for rel, error in scan_errors:
        print(f"  scan failed: {rel}: {error}")
    for klass in CLASSES:
        sites = candidates.get(klass, [])
        srcu = sum(m.flavor == "srcu" for m in sites)
        print(f"  {klass:26} {len(sites):5d} candidate sites in {len({m.file for m in sites}):4d} files "
              f"({srcu} srcu-flavored)")

    if args.sites:
        rows = [f"{m.file}:{m.line}\t{m.klass}\t{m.flavor}\t{m.function}\t{m.what}"
                for k in CLASSES for m in sorted(candidates.get(k, []), key=lambda m: (m.file, m.lines))]
        args.sites.write_text("\n".join(rows) + "\n")
        print(f"candidate sites listed in {args.sites}")

    # 2. a deterministic selection, reviewed mutant by mutant
    pool_of = candidates
    if args.flavor:
        pool_of = {k: [m for m in v if m.flavor == args.flavor] for k, v in candidates.items()}
        print(f"--flavor {args.flavor}: {sum(len(v) for v in pool_of.values())} of "
              f"{sum(len(v) for v in candidates.values())} candidate sites kept")
    chosen = select(pool_of, args.max_per_class, args.seed)
    by_file: dict[str, list[Mutant]] = defaultdict(list)
    for klass in CLASSES:
        for m in chosen[klass]:
            by_file[m.file].append(m)
    review_jobs = [(str(args.kernel / rel), rel, by_file[rel]) for rel in sorted(by_file)]
    outcomes: dict[Mutant, dict] = {}
    originals: dict[str, list[tuple]] = {}
    review_errors = []
    with ProcessPoolExecutor(max_workers=args.jobs, initializer=_init,
                             initargs=(args.rules, args.models, str(args.kernel) if args.as_patch else None)) as pool:
        for rel, original, results, error in pool.map(_review_file, review_jobs):
            if error:
                review_errors.append((rel, error))
                continue
            originals[rel] = original
            for m, findings in zip(by_file[rel], results):
                outcomes[m] = outcome(m, findings, original)
    seconds = time.perf_counter() - start

    # 3. the table
    total = [m for k in CLASSES for m in chosen[k]]
    print(f"\n{len(total)} mutants over {len(by_file)} files (max {args.max_per_class} per class, seed {args.seed}); "
          f"reviewed {len(outcomes)}, failed {len(total) - len(outcomes)}")
    for rel, error in review_errors:
        print(f"  review failed: {rel}: {error} ({len(by_file[rel])} mutants not measured)")
    head = f"{'class':26} {'sites':>6} {'mutants':>7} {'files':>5} {'found':>7} {'at site':>7} {'new':>7} {'any rule':>8}  rules"
    print(head)

    def pct(n: int, d: int) -> str:
        return f"{100 * n / d:6.1f}%" if d else "     - "

    for klass in CLASSES + ("all",):
        ms = total if klass == "all" else chosen[klass]
        done = [outcomes[m] for m in ms if m in outcomes]
        sites = sum(len(v) for v in pool_of.values()) if klass == "all" else len(pool_of.get(klass, []))
        rules = "" if klass == "all" else ",".join(sorted(CLASS_RULES[klass]))
        print(f"{klass:26} {sites:6d} {len(ms):7d} {len({m.file for m in ms}):5d} "
              f"{pct(sum(o['found'] for o in done), len(done))} {pct(sum(o['at_site'] for o in done), len(done))} "
              f"{pct(sum(o['new'] for o in done), len(done))} {pct(sum(o['any'] for o in done), len(done)):>8}  {rules}")

    # the same split by flavor: the srcu pack can only be measured on the SRCU-flavored mutants
    print("by flavor (mutants, found):", end="")
    for klass in CLASSES:
        parts = []
        for flavor in ("rcu", "srcu"):
            ms = [m for m in chosen[klass] if m.flavor == flavor and m in outcomes]
            if ms:
                parts.append(f"{flavor} {len(ms)} {100 * sum(outcomes[m]['found'] for m in ms) / len(ms):.0f}%")
        print(f"\n  {klass:26} {', '.join(parts) or '-'}", end="")
    print()

    # 4. the unmutated functions: silent in the original?
    functions = sorted({(m.file, m.function, m.fn_lines) for m in total if m.file in originals})
    noisy = []
    for rel, name, (lo, hi) in functions:
        hits = [f for f in originals[rel] if f[1] <= hi and f[2] >= lo and f[0].startswith(LIFETIME_PREFIXES)]
        if hits:
            noisy.append((rel, name, hits))
    print(f"\nunmutated: {len(functions) - len(noisy)} of {len(functions)} mutated functions are silent in the "
          f"original (no RCU*/SRCU* finding)")
    for rel, name, hits in noisy:
        for f in hits:
            print(f"  false positive: {rel}:{f[1]} {f[0]} in {name}(): {f[3][:120]}")
    done = [outcomes[m] for m in total if m in outcomes]
    share = sum(o["found"] for o in done) / len(done) if done else 0.0
    silent = len(functions) - len(noisy)
    if args.as_patch:
        met = share >= 0.9 and len(total) >= 300 and len(by_file) >= 30 and not noisy and len(done) == len(total)
        print(f"target (>= 300 mutants over >= 30 files, >= 90% found, unmutated silent): "
              f"{len(total)} mutants, {len(by_file)} files, {100 * share:.1f}% found, {silent} of {len(functions)} "
              f"silent: {'met' if met else 'NOT MET'}")
    print(f"\n{seconds:.1f} s with {args.jobs} processes (scan {scan_seconds:.1f} s)")

    if args.list:
        rows = []
        for m in total:
            o = outcomes.get(m)
            state = "error" if o is None else ("found" if o["found"] else "missed")
            where = "" if o is None else ("at-site" if o["at_site"] else ("" if not o["found"] else "elsewhere"))
            rules = "" if o is None else ",".join(o["rules"]) or "-"
            other = "" if o is None else ",".join(o["any_rules"]) or "-"
            rows.append(f"{m.file}:{m.line}\t{m.klass}\t{m.flavor}\t{m.function}\t{state}\t{where}\t{rules}\tany={other}\t{m.what}")
        args.list.write_text("\n".join(rows) + "\n")
        print(f"mutants listed in {args.list}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
