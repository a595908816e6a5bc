"""Expressions: values (`ev`), addresses of lvalues (`lv`), their generator-free forms for
expressions with no call under them (`evp`/`lvp`, by closures compiled once per node in
reviewbot.interp.compiled), and static types (`static_type`, `sizeof`, `offsetof`)."""

from __future__ import annotations

from typing import Any

from reviewbot.interp.compiled import _compile_ev, _compile_lv
from reviewbot.interp.errors import Fault, NotModelled
from reviewbot.interp.frames import LATER, Frame, Thread
from reviewbot.interp.memory import CHAR, INT, NULL, UNKNOWN, Func, Ptr, Struct, pointee
from reviewbot.interp.program import N
from reviewbot.interp.values import (CONSTANTS, ERRNO, _arith, _char, _convert, _int, _number, member)


class Expressions:
    """Evaluating expressions: a mixin of `Machine`."""

    def ev(self, th: Thread, fr: Frame, n: N):
        """Evaluate an expression to a value (a generator: calls may run code and wait). A part with
        no call under it (N.pure) is evaluated by evp(), the same evaluation without generators."""
        t = n.type
        if t == "identifier":
            return self._ident(th, fr, n)
        if t == "number_literal":
            return _number(n)
        if t == "field_expression" or t == "subscript_expression":
            addr, _ = self.lvp(th, fr, n) if n.pure else (yield from self.lv(th, fr, n))
            return self.load(th, addr, n.line, n.source)
        if t == "call_expression":
            value = self.call_now(th, fr, n, False)
            return value if value is not LATER else (yield from self.ev_call(th, fr, n, False))
        if t == "parenthesized_expression":
            e = n.kids[0]
            return self.evp(th, fr, e) if e.pure else (yield from self.ev(th, fr, e))
        if t == "assignment_expression":
            left, right = n.f["left"], n.f["right"]
            addr, ltype = self.lvp(th, fr, left) if left.pure else (yield from self.lv(th, fr, left))
            if right.pure:
                value = self.evp(th, fr, right)
            elif right.type == "call_expression" and (value := self.call_now(th, fr, right, False)) is not LATER:
                pass
            else:
                value = yield from self.ev(th, fr, right)
            if n.op != "=":
                old = self.load(th, addr, n.line, left.source)
                value = _arith(n.op[:-1], old, value, n)
            value = _convert(value, ltype)
            self.store(th, addr, value, n.line, left.source)
            return value
        if t == "binary_expression":
            op = n.op
            left, right = n.f["left"], n.f["right"]
            if op == "&&":
                a = self.evp(th, fr, left) if left.pure else (yield from self.ev(th, fr, left))
                if not self.test(a, n):
                    return 0
                return int(self.test(self.evp(th, fr, right) if right.pure else (yield from self.ev(th, fr, right)), n))
            if op == "||":
                a = self.evp(th, fr, left) if left.pure else (yield from self.ev(th, fr, left))
                if self.test(a, n):
                    return 1
                return int(self.test(self.evp(th, fr, right) if right.pure else (yield from self.ev(th, fr, right)), n))
            a = self.evp(th, fr, left) if left.pure else (yield from self.ev(th, fr, left))
            b = self.evp(th, fr, right) if right.pure else (yield from self.ev(th, fr, right))
            return _arith(op, a, b, n)
        if t == "unary_expression":
            arg = n.f["argument"]
            value = self.evp(th, fr, arg) if arg.pure else (yield from self.ev(th, fr, arg))
            op = n.op
            if op == "!":
                return int(not self.test(value, n))
            if op == "-":
                return -_int(value, n)
            if op == "~":
                return ~_int(value, n)
            if op == "+":
                return value
        if t == "pointer_expression":
            arg = n.f["argument"]
            if n.op == "&":
                addr, _ = self.lvp(th, fr, arg) if arg.pure else (yield from self.lv(th, fr, arg))
                return addr
            ptr = self.evp(th, fr, arg) if arg.pure else (yield from self.ev(th, fr, arg))
            if not isinstance(ptr, Ptr):
                raise NotModelled(n.first_line(), n.line, "dereference of a non-pointer", n.path)
            return self.load(th, ptr, n.line, n.source)
        if t == "conditional_expression":
            c = n.f["condition"]
            cond = self.evp(th, fr, c) if c.pure else (yield from self.ev(th, fr, c))
            if self.test(cond, n) and "consequence" not in n.f:
                return cond  # GNU C's `a ?: b`
            branch = n.f["consequence"] if self.test(cond, n) else n.f["alternative"]
            return self.evp(th, fr, branch) if branch.pure else (yield from self.ev(th, fr, branch))
        if t in ("string_literal", "concatenated_string"):
            return self.string(n)
        if t == "char_literal":
            return _char(n)
        if t == "true":
            return 1
        if t == "false":
            return 0
        if t == "null":
            return NULL
        if t == "cast_expression":
            v = n.f["value"]
            value = self.evp(th, fr, v) if v.pure else (yield from self.ev(th, fr, v))
            ctype = self.p.type_descriptor(n.f["type"])
            return _convert(value, ctype)
        if t == "sizeof_expression":
            target = n.f.get("value") or n.f.get("type")
            ctype = self.p.type_descriptor(target) if target.type == "type_descriptor" else self.static_type(fr, target)
            return self.sizeof(ctype, n)
        if t == "update_expression":
            arg = n.f["argument"]
            addr, _ = self.lvp(th, fr, arg) if arg.pure else (yield from self.lv(th, fr, arg))
            old = self.load(th, addr, n.line, n.source)
            new = _arith("+" if n.op == "++" else "-", old, 1, n)
            self.store(th, addr, new, n.line, n.source)
            return new if n.source.lstrip().startswith(n.op) else old
        if t == "comma_expression":
            left, right = n.f["left"], n.f["right"]
            if left.pure:
                self.evp(th, fr, left)
            else:
                yield from self.ev(th, fr, left)
            return self.evp(th, fr, right) if right.pure else (yield from self.ev(th, fr, right))
        raise NotModelled(n.first_line(), n.line, f"a {t.replace('_', ' ')} the interpreter does not evaluate",
                          n.path)

    def _ident(self, th: Thread, fr: Frame, n: N) -> Any:
        name = n.text
        data = fr.block.data
        if name in data:
            value = data[name]
            if isinstance(value, list):
                return Ptr(fr.block, (name, 0))
            return value
        if name in self.globals.data:
            return self.load(th, Ptr(self.globals, (name,)), n.line, name)
        if name in self.p.functions:
            return Func(name)
        if name in self.p.macros:
            return self.p.macros[name]
        if name in ERRNO:
            return ERRNO[name]
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in self.stubs:
            return self.stubs[name]
        raise NotModelled(name, n.line, "an identifier the patch does not declare and no stub knows", n.path)

    def lv(self, th: Thread, fr: Frame, n: N):
        """The address an lvalue expression names, and its static type."""
        t = n.type
        if t == "identifier":
            name = n.text
            if name in fr.block.data:
                return Ptr(fr.block, (name,)), fr.types.get(name)
            if name in self.globals.data:
                return Ptr(self.globals, (name,)), self.global_types.get(name)
            raise NotModelled(name, n.line, "an identifier the patch does not declare", n.path)
        if t == "field_expression":
            arg = n.f["argument"]
            name = n.f["field"].text
            if n.op == "->":
                base = self.evp(th, fr, arg) if arg.pure else (yield from self.ev(th, fr, arg))
                if not isinstance(base, Ptr):
                    raise NotModelled(n.first_line(), n.line, "-> on a value that is not a pointer", n.path)
                stype = pointee(self.static_type(fr, arg))
            else:
                base, stype = self.lvp(th, fr, arg) if arg.pure else (yield from self.lv(th, fr, arg))
            if base.base is None:
                self.event("null-deref", th, n.line, n.path, what=n.source)
                raise Fault("null-deref", n.line, n.source)
            addr = member(base, name)
            if stype is not None and stype[0] == "struct" and not base.path:
                data = base.base.data
                if isinstance(data, Struct) and data.stype is None:
                    data.stype = stype[1]
            ftype = self.p.field_type(stype[1], name) if stype is not None and stype[0] == "struct" else None
            return addr, ftype
        if t == "subscript_expression":
            arg, ix = n.f["argument"], n.f["index"]
            base = self.evp(th, fr, arg) if arg.pure else (yield from self.ev(th, fr, arg))
            index = _int(self.evp(th, fr, ix) if ix.pure else (yield from self.ev(th, fr, ix)), n)
            if not isinstance(base, Ptr) or not base.path or not isinstance(base.path[-1], int):
                raise NotModelled(n.first_line(), n.line, "indexing something that is not an array", n.path)
            return Ptr(base.base, base.path[:-1] + (base.path[-1] + index,)), pointee(self.static_type(fr, arg))
        if t == "pointer_expression" and n.op == "*":
            arg = n.f["argument"]
            ptr = self.evp(th, fr, arg) if arg.pure else (yield from self.ev(th, fr, arg))
            if not isinstance(ptr, Ptr):
                raise NotModelled(n.first_line(), n.line, "dereference of a non-pointer", n.path)
            return ptr, pointee(self.static_type(fr, arg))
        if t == "parenthesized_expression":
            e = n.kids[0]
            return self.lvp(th, fr, e) if e.pure else (yield from self.lv(th, fr, e))
        if t == "call_expression":
            # a macro that yields an lvalue (list_entry(...)->x is through ->, not here)
            pass
        raise NotModelled(n.first_line(), n.line, f"a {t.replace('_', ' ')} used as an lvalue", n.path)

    # -- expressions with no call under them (N.pure): the same as ev/lv, without generators

    def evp(self, th: Thread, fr: Frame, n: N) -> Any:
        """ev() of a node with no call under it: the same evaluation, by a closure compiled once per
        node (`N.evf`, see _compile_ev)."""
        return (n.evf or _compile_ev(n))(self, th, fr)

    def lvp(self, th: Thread, fr: Frame, n: N):
        """lv() of a node with no call under it: the same, by a closure compiled once per node."""
        return (n.lvf or _compile_lv(n))(self, th, fr)

    # -- static types

    def static_type(self, fr: Frame | None, n: N) -> tuple | None:
        key = "t"
        if key in n.cache:
            return n.cache[key]
        t = self._static_type(fr, n)
        if fr is not None or n.type != "identifier":
            n.cache[key] = t
        return t

    def _static_type(self, fr: Frame | None, n: N) -> tuple | None:
        t = n.type
        if t == "identifier":
            if fr is not None and n.text in fr.types:
                return fr.types[n.text]
            if n.text in self.global_types:
                return self.global_types[n.text]
            if n.text in self.p.functions:
                return ("func", self.p.functions[n.text].ret)
            return INT
        if t == "field_expression":
            base = self.static_type(fr, n.f["argument"])
            stype = pointee(base) if n.op == "->" else base
            if stype is not None and stype[0] == "struct":
                return self.p.field_type(stype[1], n.f["field"].text)
            return None
        if t == "subscript_expression":
            return pointee(self.static_type(fr, n.f["argument"]))
        if t == "pointer_expression":
            inner = self.static_type(fr, n.f["argument"])
            if n.op == "&":
                return ("ptr", inner if inner is not None else UNKNOWN)
            return pointee(inner)
        if t == "cast_expression":
            return self.p.type_descriptor(n.f["type"])
        if t == "parenthesized_expression":
            return self.static_type(fr, n.kids[0])
        if t in ("string_literal", "concatenated_string"):
            return ("ptr", CHAR)
        if t == "conditional_expression":
            return self.static_type(fr, n.f["consequence"])
        if t == "call_expression":
            fn = n.f["function"]
            if fn.type == "identifier":
                s = self.stubs.get(fn.text)
                typer = getattr(s, "static_type", None)
                if typer is not None:
                    return typer(self, fr, n)
                if fn.text in self.p.functions:
                    return self.p.functions[fn.text].ret
            return None
        if t == "assignment_expression":
            return self.static_type(fr, n.f["left"])
        return INT

    def sizeof(self, ctype: tuple | None, n: N) -> int:
        if ctype is None or ctype == UNKNOWN:
            raise NotModelled(n.first_line(), n.line, "sizeof of a type the interpreter does not know", n.path)
        kind = ctype[0]
        if kind == "int":
            return {"char": 1, "bool": 1, "u8": 1, "s8": 1, "short": 2, "u16": 2, "s16": 2,
                    "long": 8, "u64": 8, "s64": 8, "size_t": 8}.get(ctype[1], 4)
        if kind in ("ptr", "func"):
            return 8
        if kind == "array":
            return ctype[2] * self.sizeof(ctype[1], n)
        if kind == "struct":
            fields = self.p.structs.get(ctype[1])
            if not fields:
                return 64  # an opaque kernel struct: any stable size will do
            return sum(self.sizeof(f, n) for f in fields.values())
        return 8

    def offsetof(self, stype: str, name: str, n: N | None = None) -> int:
        fields = self.p.structs.get(stype)
        if not fields or name not in fields:
            raise NotModelled(f"offsetof(struct {stype}, {name})", n.line if n else 0,
                              "the struct's layout is not in the patch", n.path if n else "")
        off = 0
        for fname, ftype in fields.items():
            if fname == name:
                return off
            off += self.sizeof(ftype, n)
        return off
