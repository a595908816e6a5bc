"""Declared types of variables, so checks can tell which struct an expression points into.

A rule that follows an object across functions (init in .reg, free in .unreg) must match it by its
struct type and member, not by the name of a local: `bpf_oom` in one function and `bpf_oom` in the
next are different variables of the same type. `VariableTypes` reads the declared types of a
function's parameters and locals (once per function) and of the file's globals; `member_key` turns
`&v->m` into (struct type of v, m, v).
"""

from __future__ import annotations

import re

from reviewbot.csource import declarator_identifier

MEMBER = re.compile(r"^&\(?(\w+)\)?(->|\.)(\w+(?:(?:\.|->)\w+)*)$")
STRUCT = re.compile(r"^(?:const\s+|volatile\s+)*(struct|union)\s+(\w+)\s*(\**)$")


def squash(text: str) -> str:
    """An expression without white space, for comparing what two places write."""
    return "".join(text.split())


def balanced(text: str) -> bool:
    """Whether every parenthesis of `text` closes, in order: `(a) && (b)` is, `a) && (b` is not
    (so stripping the outer pair of `(a) && (b)` would be wrong)."""
    depth = 0
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if depth < 0:
            return False
    return depth == 0


def split_top_level(text: str, op: str) -> list[str]:
    """The operands of `op` (`||`, `&&`) outside any parentheses: `a || (b || c)` -> [a, (b || c)]."""
    out, depth, start, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and text.startswith(op, i):
            out.append(text[start:i])
            start = i + len(op)
            i += len(op)
            continue
        i += 1
    out.append(text[start:])
    return out


def struct_type(type_text: str, pointer: bool) -> str | None:
    """`struct foo *` -> `struct foo` (pointer=True), `struct foo` -> `struct foo` (pointer=False)."""
    m = STRUCT.match(type_text.strip())
    if not m or len(m.group(3)) != (1 if pointer else 0):
        return None
    return f"{m.group(1)} {m.group(2)}"


class VariableTypes:
    """The declared types of the parameters and locals of each function, read once per function."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.cache: dict[str, dict[str, str]] = {}
        self.globals = {g.name: g.type for g in ctx.facts.globals if g.type}

    def of(self, function: str) -> dict[str, str]:
        if function not in self.cache:
            self.cache[function] = self._read(function)
        return self.cache[function]

    def _read(self, function: str) -> dict[str, str]:
        facts, unit = self.ctx.facts, self.ctx.unit
        types: dict[str, str] = {}
        fn = facts.function(function)
        if fn is not None:
            types.update({p.name: p.type for p in fn.params if p.name})
        node = unit.function(function)
        body = node.child_by_field_name("body") if node is not None else None
        stack = [body] if body is not None else []
        while stack:
            n = stack.pop()
            if n.type == "declaration":
                base = n.child_by_field_name("type")
                for d in n.children_by_field_name("declarator"):
                    inner = d.child_by_field_name("declarator") if d.type == "init_declarator" else d
                    ident = declarator_identifier(inner)
                    if base is None or ident is None:
                        continue
                    depth, walk = 0, inner
                    while walk is not None and walk != ident:
                        depth += walk.type == "pointer_declarator"
                        walk = walk.child_by_field_name("declarator")
                    quals = " ".join(unit.text(c) for c in n.children if c.type == "type_qualifier")
                    types[unit.text(ident)] = f"{quals} {unit.text(base)} {'*' * depth}".strip()
            stack.extend(c for c in n.named_children if c.child_count)
        return types

    @staticmethod
    def struct_type_of_param(type_text: str) -> str | None:
        """`struct foo *` (a parameter's type) -> `struct foo`."""
        return struct_type(" ".join(type_text.split()), True)

    def struct_of(self, function: str | None, var: str, pointer: bool = True) -> str | None:
        t = self.of(function).get(var) if function else None
        if t is None:
            t = self.globals.get(var)
        return struct_type(" ".join(t.split()), pointer) if t else None


def member_key(types: VariableTypes, function: str | None, expr: str) -> tuple[str, str, str] | None:
    """`&v->m` -> (struct type of v, m, v)."""
    m = MEMBER.match(squash(expr))
    if not m:
        return None
    var, arrow, member = m.groups()
    struct = types.struct_of(function, var, pointer=(arrow == "->"))
    return (struct, member, var) if struct else None
