"""The program: the C the interpreter runs, converted once from csource's trees.

Every tree-sitter node the interpreter needs becomes an `N`: its type, line, named children,
fields, operator and original source text. The conversion happens once per parsed unit and is
shared by every scenario step (walking py-tree-sitter nodes costs an object per child access).
The program also collects what the code declares: functions, struct layouts, `#define` constants,
and file-scope variables (including the kernel's declaration macros such as DEFINE_STATIC_SRCU).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from reviewbot.interp.errors import NotModelled
from reviewbot.interp.memory import BOOL, CHAR, INT, UNKNOWN, VOID

_LEAF_TEXT = frozenset(
    {"identifier", "field_identifier", "number_literal", "string_content", "char_literal",
     "type_identifier", "primitive_type", "statement_identifier", "escape_sequence",
     "sized_type_specifier", "system_lib_string", "preproc_arg"}
)


class N:
    """A converted syntax node."""

    __slots__ = ("type", "line", "start", "end", "kids", "f", "op", "text", "unit", "cache", "pure", "evf", "lvf")

    def __init__(self, type_: str, line: int, start: int, end: int, unit: Any):
        self.type = type_
        self.line = line
        self.start = start
        self.end = end
        self.kids: list[N] = []
        self.f: dict[str, N] = {}
        self.op = ""
        self.text = ""
        self.unit = unit
        self.cache: dict = {}
        self.pure = False  # no call under it: the machine evaluates it without generators
        self.evf = None  # the machine's compiled evaluation of a pure node (machine._compile_ev)
        self.lvf = None  # ... and of its address (machine._compile_lv)

    @property
    def source(self) -> str:
        """The node's original source text (kernel macros as written, not masked)."""
        text = self.cache.get("src")
        if text is None:
            text = self.cache["src"] = self.unit.text((self.start, self.end))
        return text

    @property
    def path(self) -> str:
        return self.unit.path

    def first_line(self) -> str:
        return " ".join(self.source.split("\n", 1)[0].split())

    def __repr__(self) -> str:
        return f"<N {self.type} line {self.line}>"


def _children_with_fields(node: Any):
    """(child, field name) for each child, in order. A cursor walks them in one pass:
    `field_name_for_child(i)` starts from the first child each time, which is quadratic on a node
    with a hundred thousand children (one hostile line)."""
    cursor = node.walk()
    if not cursor.goto_first_child():
        return
    while True:
        yield cursor.node, cursor.field_name
        if not cursor.goto_next_sibling():
            return


def convert(node: Any, unit: Any) -> N:
    """Convert a tree-sitter node (and everything under it) into `N`s."""
    out = N(node.type, node.start_point[0] + 1, node.start_byte, node.end_byte, unit)
    if node.type in _LEAF_TEXT or node.child_count == 0:
        out.text = unit.text(node)
    for child, name in _children_with_fields(node):
        if child.is_named:
            if child.type == "comment":
                continue
            conv = convert(child, unit)
            out.kids.append(conv)
            if name and name not in out.f:
                out.f[name] = conv
        elif name == "operator":
            out.op = child.type
    if node.type == "binary_expression" and not out.op:
        # operator tokens are anonymous children between the operands
        for child in node.children:
            if not child.is_named:
                out.op = child.type
                break
    out.pure = out.type != "call_expression" and all(kid.pure for kid in out.kids)
    return out


@dataclass
class FuncDef:
    name: str
    node: N  # the function_definition
    body: N
    params: list[tuple[str, tuple]]
    ret: tuple
    unit: Any

    @property
    def path(self) -> str:
        return self.unit.path


@dataclass
class GlobalDecl:
    name: str
    ctype: tuple
    init: N | None
    macro: str  # DEFINE_STATIC_SRCU, LIST_HEAD, ... or "" for a plain declaration
    line: int
    path: str


_DECL_MACRO = re.compile(
    r"\b(DEFINE_STATIC_SRCU|DEFINE_SRCU|DEFINE_SPINLOCK|DEFINE_RAW_SPINLOCK|DEFINE_MUTEX|LIST_HEAD"
    r"|HLIST_HEAD|DEFINE_STATIC_PERCPU_RWSEM|DEFINE_XARRAY|DEFINE_IDA|DEFINE_IDR)\s*\(\s*(\w+)"
)
_MACRO_TYPES = {
    "DEFINE_STATIC_SRCU": ("struct", "srcu_struct"),
    "DEFINE_SRCU": ("struct", "srcu_struct"),
    "DEFINE_SPINLOCK": ("struct", "spinlock"),
    "DEFINE_RAW_SPINLOCK": ("struct", "spinlock"),
    "DEFINE_MUTEX": ("struct", "mutex"),
    "LIST_HEAD": ("struct", "list_head"),
}
# Kernel typedefs the interpreter gives a meaning to.
TYPEDEFS = {
    "u8": CHAR, "u16": INT, "u32": INT, "u64": INT, "s8": CHAR, "s16": INT, "s32": INT, "s64": INT,
    "size_t": INT, "ssize_t": INT, "bool": BOOL, "gfp_t": INT, "__u32": INT, "__u64": INT,
    "spinlock_t": ("struct", "spinlock"), "raw_spinlock_t": ("struct", "spinlock"),
    "atomic_t": INT, "uintptr_t": INT, "loff_t": INT, "pid_t": INT,
}


@dataclass
class Program:
    """Everything the files of a patch declare, ready to run."""

    units: list[Any]
    functions: dict[str, FuncDef] = field(default_factory=dict)
    structs: dict[str, dict[str, tuple]] = field(default_factory=dict)
    macros: dict[str, int] = field(default_factory=dict)
    globals: dict[str, GlobalDecl] = field(default_factory=dict)
    roots: list[N] = field(default_factory=list)
    # an array size no #define of the program gives is 0 (unknown) rather than not modelled: for
    # worlds whose arrays are lazy (reviewbot.interp.havoc), made with a few entries on first use
    lenient: bool = False

    @classmethod
    def from_units(cls, units: list[Any], lenient: bool = False) -> "Program":
        prog = cls(list(units), lenient=lenient)
        # Headers first, so a .c file's definitions win over a header's declarations.
        ordered = sorted(units, key=lambda u: (not u.path.endswith(".h"), u.path))
        for unit in ordered:
            root = convert(unit.root, unit)
            prog.roots.append(root)
            prog._collect(root)
        return prog

    # -- collection

    def _collect(self, root: N) -> None:
        for node in _walk(root):
            t = node.type
            if t == "preproc_def":
                name = node.f.get("name")
                value = node.f.get("value")
                if name is not None and value is not None:
                    try:
                        self.macros[name.text] = int(value.text.strip().rstrip("UuLl"), 0)
                    except ValueError:
                        pass
            elif t == "struct_specifier" and "body" in node.f and "name" in node.f:
                self._struct(node)
        for node in root.kids:
            self._top(node)

    def _top(self, node: N) -> None:
        t = node.type
        if t == "function_definition":
            fd = self._function(node)
            if fd is not None:
                self.functions[fd.name] = fd
        elif t in ("declaration", "expression_statement"):
            m = _DECL_MACRO.search(node.source)
            if m and node.source.lstrip().startswith(("static", "DEFINE", "LIST_HEAD", "HLIST")):
                macro, name = m.group(1), m.group(2)
                self.globals[name] = GlobalDecl(name, _MACRO_TYPES.get(macro, UNKNOWN), None, macro,
                                                node.line, node.path)
                return
            if t == "declaration":
                for name, ctype, init in self.declarators(node):
                    if ctype[0] == "func":
                        continue  # a prototype
                    self.globals[name] = GlobalDecl(name, ctype, init, "", node.line, node.path)
        elif t in ("preproc_ifdef", "preproc_if", "preproc_else", "linkage_specification"):
            for kid in node.kids:
                self._top(kid)

    def _struct(self, node: N) -> None:
        name = node.f["name"].text
        fields: dict[str, tuple] = {}
        for decl in node.f["body"].kids:
            if decl.type != "field_declaration":
                continue
            base = self.base_type(decl)
            for kid in decl.kids:
                if kid.type in ("field_identifier", "pointer_declarator", "array_declarator",
                                "function_declarator", "parenthesized_declarator"):
                    fname, ftype = self.apply_declarator(base, kid)
                    if fname:
                        fields[fname] = ftype
        if fields or name not in self.structs:
            self.structs[name] = fields

    def _function(self, node: N) -> FuncDef | None:
        base = self.base_type(node)
        decl = node.f.get("declarator")
        body = node.f.get("body")
        if decl is None or body is None:
            return None
        # find the function_declarator (under pointer declarators for functions returning pointers)
        fdecl = decl
        ret = base
        while fdecl is not None and fdecl.type == "pointer_declarator":
            ret = ("ptr", ret)
            fdecl = fdecl.f.get("declarator")
        if fdecl is None or fdecl.type != "function_declarator":
            return None
        name_node = fdecl.f.get("declarator")
        if name_node is None or name_node.type != "identifier":
            return None
        params = []
        plist = fdecl.f.get("parameters")
        for p in plist.kids if plist is not None else ():
            if p.type != "parameter_declaration":
                continue
            pbase = self.base_type(p)
            pd = p.f.get("declarator")
            if pd is None:
                continue  # (void)
            pname, ptype = self.apply_declarator(pbase, pd)
            params.append((pname, ptype))
        return FuncDef(name_node.text, node, body, params, ret, node.unit)

    # -- types

    def base_type(self, decl: N) -> tuple:
        spec = decl.f.get("type")
        if spec is None:
            return UNKNOWN
        return self.spec_type(spec)

    def spec_type(self, spec: N) -> tuple:
        t = spec.type
        if t == "primitive_type":
            name = spec.text
            if name == "void":
                return VOID
            if name == "char":
                return CHAR
            if name in ("bool", "_Bool"):
                return BOOL
            return ("int", name)
        if t == "sized_type_specifier":
            return CHAR if "char" in spec.source else INT
        if t in ("struct_specifier", "union_specifier"):
            name = spec.f.get("name")
            return ("struct", name.text if name is not None else f"<anon@{spec.line}>")
        if t == "enum_specifier":
            return INT
        if t == "type_identifier":
            return TYPEDEFS.get(spec.text, ("int", spec.text))
        return UNKNOWN

    def apply_declarator(self, base: tuple, d: N) -> tuple[str, tuple]:
        """(name, type) of a declarator over a base type."""
        t = d.type
        if t in ("identifier", "field_identifier", "type_identifier"):
            return d.text, base
        if t == "pointer_declarator":
            return self.apply_declarator(("ptr", base), d.f["declarator"])
        if t == "array_declarator":
            size = d.f.get("size")
            try:
                n = self.const_eval(size) if size is not None else 0
            except NotModelled:
                if not self.lenient:
                    raise
                n = 0
            return self.apply_declarator(("array", base, n), d.f["declarator"])
        if t == "function_declarator":
            inner = d.f["declarator"]
            return self.apply_declarator(("func", base), inner)
        if t == "parenthesized_declarator":
            inner = d.kids[0] if d.kids else None
            if inner is None:
                return "", UNKNOWN
            return self.apply_declarator(base, inner)
        if t == "init_declarator":
            return self.apply_declarator(base, d.f["declarator"])
        if t == "abstract_pointer_declarator":
            inner = d.f.get("declarator")
            return ("", ("ptr", base)) if inner is None else self.apply_declarator(("ptr", base), inner)
        return "", UNKNOWN

    def declarators(self, decl: N) -> list[tuple[str, tuple, N | None]]:
        """Every (name, type, initializer) a declaration declares."""
        found = decl.cache.get("decls")
        if found is None:
            found = decl.cache["decls"] = self._declarators(decl)
        return found

    def _declarators(self, decl: N) -> list[tuple[str, tuple, N | None]]:
        base = self.base_type(decl)
        out = []
        for kid in decl.kids:
            if kid.type == "init_declarator":
                name, ctype = self.apply_declarator(base, kid.f["declarator"])
                out.append((name, ctype, kid.f.get("value")))
            elif kid.type in ("identifier", "pointer_declarator", "array_declarator",
                              "function_declarator", "parenthesized_declarator"):
                name, ctype = self.apply_declarator(base, kid)
                out.append((name, ctype, None))
        return out

    def type_descriptor(self, td: N) -> tuple:
        base = self.base_type(td)
        d = td.f.get("declarator")
        if d is None:
            return base
        return self.apply_declarator(base, d)[1]

    def type_from_text(self, text: str) -> tuple:
        """A type written as text: "struct bpf_oom", "struct foo *", "int"."""
        words = text.replace("*", " * ").split()
        stars = words.count("*")
        words = [w for w in words if w not in ("*", "const", "volatile")]
        if len(words) >= 2 and words[0] in ("struct", "union"):
            t: tuple = ("struct", words[1])
        elif len(words) == 1:
            w = words[0]
            t = TYPEDEFS.get(w) or (CHAR if w == "char" else VOID if w == "void" else ("int", w))
        else:
            t = INT
        for _ in range(stars):
            t = ("ptr", t)
        return t

    def const_eval(self, node: N) -> int:
        t = node.type
        if t == "number_literal":
            return int(node.text.rstrip("UuLl"), 0)
        if t == "identifier":
            if node.text in self.macros:
                return self.macros[node.text]
            raise NotModelled(f"constant {node.text}", node.line, "no #define for it in the patch",
                              node.path)
        if t == "parenthesized_expression":
            return self.const_eval(node.kids[0])
        if t == "binary_expression":
            a, b = self.const_eval(node.f["left"]), self.const_eval(node.f["right"])
            ops = {"+": a + b, "-": a - b, "*": a * b, "<<": a << b, ">>": a >> b, "|": a | b}
            if node.op in ops:
                return ops[node.op]
            if node.op == "/" and b:
                return a // b
        raise NotModelled(node.first_line(), node.line, "not a constant the interpreter evaluates",
                          node.path)

    def field_type(self, stype: str | None, name: str) -> tuple | None:
        if stype is None:
            return None
        fields = self.structs.get(stype)
        if fields is None:
            return KERNEL_STRUCTS.get(stype, {}).get(name)
        return fields.get(name)

    def field_order(self, stype: str) -> list[str]:
        return list(self.structs.get(stype) or KERNEL_STRUCTS.get(stype, {}))


# Kernel structs the stubs know the layout of (the patch does not define them).
KERNEL_STRUCTS: dict[str, dict[str, tuple]] = {
    "list_head": {"next": ("ptr", ("struct", "list_head")), "prev": ("ptr", ("struct", "list_head"))},
    "hlist_node": {"next": ("ptr", ("struct", "hlist_node")), "pprev": ("ptr", ("ptr", ("struct", "hlist_node")))},
    "rcu_head": {"next": ("ptr", ("struct", "rcu_head")), "func": ("ptr", ("func", VOID))},
}


def _walk(root: N):
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.kids))


def walk(root: N):
    """Every node under root (root first, source order)."""
    return _walk(root)
