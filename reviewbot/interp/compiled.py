"""Expressions with no call under them (N.pure), compiled once per node into closures.

Pure expressions compiled to closures: one per node, built once (for a whole pure subtree, children
first, without recursion), each doing exactly what the matching branch of Machine.ev / Machine.lv
does: the same order of evaluation, the same events and errors, raised at the same point (a
missing child is looked up, and fails, only when the original evaluation would look it up). What
is only known at run time but never changes afterwards for a node (its static type, once
Machine.static_type cached it, and so its fields' types; a cast's type) is kept after first use.
"""

from __future__ import annotations

from reviewbot.interp.errors import Fault, NotModelled
from reviewbot.interp.memory import NULL, Ptr, Struct, pointee
from reviewbot.interp.program import N
from reviewbot.interp.values import _arith, _char, _convert, _int, _number

_LV_TYPES = frozenset(("identifier", "field_expression", "subscript_expression", "pointer_expression",
                       "parenthesized_expression"))


def _compile_subtree(root: N) -> None:
    """Compile every node under root (post-order, iteratively: no recursion however deep the C)."""
    stack = [(root, False)]
    while stack:
        node, ready = stack.pop()
        if node.evf is not None:
            continue
        if not ready:
            stack.append((node, True))
            stack.extend((kid, False) for kid in node.kids)
            continue
        if node.type in _LV_TYPES:
            node.lvf = _lv_compiler(node)
        node.evf = _EV_COMPILERS.get(node.type, _cev_other)(node)


def _compile_ev(n: N):
    _compile_subtree(n)
    return n.evf


def _compile_lv(n: N):
    if n.evf is None:
        _compile_subtree(n)
    if n.lvf is None:
        n.lvf = _lv_other(n)
    return n.lvf


def _ev_of(n: N, name: str):
    """The evaluation of the child `name` (compiled already), or a KeyError where ev would raise it."""
    kid = n.f.get(name)
    if kid is None:
        return lambda m, th, fr: n.f[name]
    return kid.evf or _compile_ev(kid)


def _lv_of(n: N, name: str):
    kid = n.f.get(name)
    if kid is None:
        return lambda m, th, fr: n.f[name]
    return kid.lvf or _compile_lv(kid)


def _cev_ident(n: N):
    name = n.text

    def ev_ident(m, th, fr):
        data = fr.block.data
        if name in data:
            value = data[name]
            if isinstance(value, list):
                return Ptr(fr.block, (name, 0))
            return value
        return m._ident(th, fr, n)

    return ev_ident


def _cev_number(n: N):
    try:
        value = _number(n)
    except NotModelled:
        return lambda m, th, fr: _number(n)
    return lambda m, th, fr: value


def _cev_load(n: N):
    lv = n.lvf
    line = n.line

    def ev_load(m, th, fr):
        addr, _ = lv(m, th, fr)
        return m.load(th, addr, line, n.source)

    return ev_load


def _cev_paren(n: N):
    if not n.kids:
        return lambda m, th, fr: n.kids[0]
    kid = n.kids[0]
    return kid.evf or _compile_ev(kid)


def _cev_assign(n: N):
    if "left" not in n.f:
        return lambda m, th, fr: n.f["left"]
    left = n.f["left"]
    lv = left.lvf or _compile_lv(left)
    rv = _ev_of(n, "right")
    op = n.op
    line = n.line

    def ev_assign(m, th, fr):
        addr, ltype = lv(m, th, fr)
        value = rv(m, th, fr)
        if op != "=":
            old = m.load(th, addr, line, left.source)
            value = _arith(op[:-1], old, value, n)
        value = _convert(value, ltype)
        m.store(th, addr, value, line, left.source)
        return value

    return ev_assign


def _cev_binary(n: N):
    op = n.op
    a = _ev_of(n, "left")
    b = _ev_of(n, "right")
    if op == "&&":
        def ev_and(m, th, fr):
            if not m.test(a(m, th, fr), n):
                return 0
            return int(m.test(b(m, th, fr), n))
        return ev_and
    if op == "||":
        def ev_or(m, th, fr):
            if m.test(a(m, th, fr), n):
                return 1
            return int(m.test(b(m, th, fr), n))
        return ev_or

    def ev_binary(m, th, fr):
        return _arith(op, a(m, th, fr), b(m, th, fr), n)

    return ev_binary


def _cev_unary(n: N):
    op = n.op
    v = _ev_of(n, "argument")
    if op == "!":
        return lambda m, th, fr: int(not m.test(v(m, th, fr), n))
    if op == "-":
        return lambda m, th, fr: -_int(v(m, th, fr), n)
    if op == "~":
        return lambda m, th, fr: ~_int(v(m, th, fr), n)
    if op == "+":
        return v
    other = _cev_other(n)

    def ev_unary_other(m, th, fr):
        v(m, th, fr)
        return other(m, th, fr)

    return ev_unary_other


def _cev_pointer(n: N):
    if n.op == "&":
        lv = _lv_of(n, "argument")

        def ev_address(m, th, fr):
            addr, _ = lv(m, th, fr)
            return addr

        return ev_address
    v = _ev_of(n, "argument")
    line = n.line

    def ev_deref(m, th, fr):
        ptr = v(m, th, fr)
        if not isinstance(ptr, Ptr):
            raise NotModelled(n.first_line(), line, "dereference of a non-pointer", n.path)
        return m.load(th, ptr, line, n.source)

    return ev_deref


def _cev_conditional(n: N):
    c = _ev_of(n, "condition")
    gnu = "consequence" not in n.f  # GNU C's `a ?: b`
    yes = _ev_of(n, "consequence")
    no = _ev_of(n, "alternative")

    def ev_conditional(m, th, fr):
        cond = c(m, th, fr)
        if m.test(cond, n) and gnu:
            return cond
        return (yes if m.test(cond, n) else no)(m, th, fr)

    return ev_conditional


def _cev_string(n: N):
    return lambda m, th, fr: m.string(n)


def _cev_char(n: N):
    return lambda m, th, fr: _char(n)


def _cev_cast(n: N):
    v = _ev_of(n, "value")
    known: list = []

    def ev_cast(m, th, fr):
        value = v(m, th, fr)
        if known:
            ctype = known[0]
        else:
            ctype = m.p.type_descriptor(n.f["type"])
            known.append(ctype)
        return _convert(value, ctype)

    return ev_cast


def _cev_sizeof(n: N):
    def ev_sizeof(m, th, fr):
        target = n.f.get("value") or n.f.get("type")
        ctype = m.p.type_descriptor(target) if target.type == "type_descriptor" else m.static_type(fr, target)
        return m.sizeof(ctype, n)

    return ev_sizeof


def _cev_update(n: N):
    lv = _lv_of(n, "argument")
    op = n.op
    line = n.line

    def ev_update(m, th, fr):
        addr, _ = lv(m, th, fr)
        old = m.load(th, addr, line, n.source)
        new = _arith("+" if op == "++" else "-", old, 1, n)
        m.store(th, addr, new, line, n.source)
        return new if n.source.lstrip().startswith(op) else old

    return ev_update


def _cev_comma(n: N):
    a = _ev_of(n, "left")
    b = _ev_of(n, "right")

    def ev_comma(m, th, fr):
        a(m, th, fr)
        return b(m, th, fr)

    return ev_comma


def _cev_other(n: N):
    def ev_other(m, th, fr):
        t = n.type
        raise NotModelled(n.first_line(), n.line, f"a {t.replace('_', ' ')} the interpreter does not evaluate",
                          n.path)

    return ev_other


def _cev_const(value):
    return lambda n: (lambda m, th, fr: value)


_EV_COMPILERS = {
    "identifier": _cev_ident,
    "number_literal": _cev_number,
    "field_expression": _cev_load,
    "subscript_expression": _cev_load,
    "parenthesized_expression": _cev_paren,
    "assignment_expression": _cev_assign,
    "binary_expression": _cev_binary,
    "unary_expression": _cev_unary,
    "pointer_expression": _cev_pointer,
    "conditional_expression": _cev_conditional,
    "string_literal": _cev_string,
    "concatenated_string": _cev_string,
    "char_literal": _cev_char,
    "true": _cev_const(1),
    "false": _cev_const(0),
    "null": _cev_const(NULL),
    "cast_expression": _cev_cast,
    "sizeof_expression": _cev_sizeof,
    "update_expression": _cev_update,
    "comma_expression": _cev_comma,
}


def _lv_other(n: N):
    def lv_other(m, th, fr):
        t = n.type
        raise NotModelled(n.first_line(), n.line, f"a {t.replace('_', ' ')} used as an lvalue", n.path)

    return lv_other


def _lv_compiler(n: N):
    t = n.type
    if t == "identifier":
        name = n.text
        key = (name,)

        def lv_ident(m, th, fr):
            if name in fr.block.data:
                return Ptr(fr.block, key), fr.types.get(name)
            if name in m.globals.data:
                return Ptr(m.globals, key), m.global_types.get(name)
            raise NotModelled(name, n.line, "an identifier the patch does not declare", n.path)

        return lv_ident
    if t == "field_expression":
        if "argument" not in n.f or "field" not in n.f:
            return lambda m, th, fr: (n.f["argument"], n.f["field"])
        arg = n.f["argument"]
        name = n.f["field"].text
        tail = (name,)
        line = n.line
        arrow = n.op == "->"
        base_ev = (arg.evf or _compile_ev(arg)) if arrow else None
        base_lv = None if arrow else (arg.lvf or _compile_lv(arg))
        types: list = []  # (stype, ftype) of `arg->name` once known: they never change for this node

        def lv_field(m, th, fr):
            if arrow:
                base = base_ev(m, th, fr)
                if not isinstance(base, Ptr):
                    raise NotModelled(n.first_line(), line, "-> on a value that is not a pointer", n.path)
                if types:
                    stype, ftype = types[0]
                else:
                    stype = pointee(m.static_type(fr, arg))
                    ftype = _NOT_YET
            else:
                base, stype = base_lv(m, th, fr)
                ftype = _NOT_YET
            bb = base.base
            if bb is None:
                m.event("null-deref", th, line, n.path, what=n.source)
                raise Fault("null-deref", line, n.source)
            path = base.path
            last = path[-1] if path else None
            if type(last) is tuple and last[0] == "container_of" and last[1] == name:
                addr = Ptr(bb, path[:-1])
            else:
                addr = Ptr(bb, path + tail)
            is_struct = stype is not None and stype[0] == "struct"
            if is_struct and not path:
                data = bb.data
                if isinstance(data, Struct) and data.stype is None:
                    data.stype = stype[1]
            if ftype is _NOT_YET:
                ftype = m.p.field_type(stype[1], name) if is_struct else None
                if arrow:
                    types.append((stype, ftype))
            return addr, ftype

        return lv_field
    if t == "subscript_expression":
        a = _ev_of(n, "argument")
        ix = _ev_of(n, "index")

        def lv_subscript(m, th, fr):
            base = a(m, th, fr)
            index = _int(ix(m, th, fr), n)
            if not isinstance(base, Ptr) or not base.path or not isinstance(base.path[-1], int):
                raise NotModelled(n.first_line(), n.line, "indexing something that is not an array", n.path)
            return Ptr(base.base, base.path[:-1] + (base.path[-1] + index,)), pointee(m.static_type(fr, n.f["argument"]))

        return lv_subscript
    if t == "pointer_expression" and n.op == "*":
        v = _ev_of(n, "argument")

        def lv_deref(m, th, fr):
            ptr = v(m, th, fr)
            if not isinstance(ptr, Ptr):
                raise NotModelled(n.first_line(), n.line, "dereference of a non-pointer", n.path)
            return ptr, pointee(m.static_type(fr, n.f["argument"]))

        return lv_deref
    if t == "parenthesized_expression":
        if not n.kids:
            return lambda m, th, fr: n.kids[0]
        kid = n.kids[0]
        return kid.lvf or _compile_lv(kid)
    return _lv_other(n)


_NOT_YET = object()
