"""C values and operators: numbers, characters and strings from the source, arithmetic and
comparisons on ints and pointers, conversions on assignment, the errno and constant names the
kernel code uses, and the pointer steps of struct members and container_of().

Plain functions, no machine state: the statements, expressions and compiled closures all use them.
"""

from __future__ import annotations

from typing import Any

from reviewbot.interp.errors import NotModelled
from reviewbot.interp.memory import BOOL, UNINIT, Func, HavocPtr, Ptr, truth
from reviewbot.interp.program import N

ERRNO = {"EPERM": 1, "ENOENT": 2, "EINTR": 4, "EIO": 5, "E2BIG": 7, "EAGAIN": 11, "ENOMEM": 12,
         "EFAULT": 14, "EBUSY": 16, "EEXIST": 17, "EINVAL": 22, "ENOSPC": 28, "ERANGE": 34,
         "ENOTSUPP": 524, "EOPNOTSUPP": 95, "ENODEV": 19}
CONSTANTS = {"GFP_KERNEL": 0, "GFP_KERNEL_ACCOUNT": 0, "GFP_ATOMIC": 0, "GFP_NOWAIT": 0,
             "THIS_MODULE": 0, "U32_MAX": 0xFFFFFFFF, "INT_MAX": 2**31 - 1, "UINT_MAX": 2**32 - 1}


def member(base: Ptr, name: str) -> Ptr:
    """&base->name, also for the past-the-end entry of a list walk (container_of of the head)."""
    path = base.path
    if path and isinstance(path[-1], tuple) and path[-1][0] == "container_of":
        if path[-1][1] == name:
            return Ptr(base.base, path[:-1])
    return Ptr(base.base, path + (name,))


def container_of(ptr: Ptr, name: str) -> Ptr:
    if ptr.base is None:
        return ptr
    if ptr.path and ptr.path[-1] == name:
        return Ptr(ptr.base, ptr.path[:-1])
    return Ptr(ptr.base, ptr.path + (("container_of", name),))


def _number(n: N) -> int:
    text = n.text.rstrip("uUlL")
    try:
        return int(text, 0)
    except ValueError:
        if text.isdigit():
            return int(text, 10)
        raise NotModelled(n.text, n.line, "a number the interpreter does not read", n.path) from None


_ESCAPES = {"n": 10, "t": 9, "0": 0, "\\": 92, "'": 39, '"': 34, "r": 13}


def _char(n: N) -> int:
    body = n.source[1:-1]
    if body.startswith("\\"):
        return _ESCAPES.get(body[1:2], 0)
    return ord(body) if body else 0


def _string_bytes(n: N) -> bytes:
    out = bytearray()
    parts = n.kids if n.type == "concatenated_string" else [n]
    for part in parts:
        for kid in part.kids:
            if kid.type == "string_content":
                out.extend(kid.source.encode())
            elif kid.type == "escape_sequence":
                out.append(_ESCAPES.get(kid.source[1:2], 0))
    return bytes(out)


def _int(v: Any, n: N) -> int:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if type(v) is HavocPtr:  # a value nothing modelled knows: 0 in arithmetic (1 for another file's global)
        return v.ival
    if v is UNINIT:
        raise NotModelled(n.first_line(), n.line, "arithmetic on memory the code never wrote", n.path)
    raise NotModelled(n.first_line(), n.line, f"arithmetic on {v!r}", n.path)


def _arith(op: str, a: Any, b: Any, n: N) -> Any:
    if op in ("==", "!="):
        if type(a) is HavocPtr and not isinstance(b, Ptr):
            a = a.ival
        if type(b) is HavocPtr and not isinstance(a, Ptr):
            b = b.ival
        if isinstance(a, Ptr) or isinstance(b, Ptr) or isinstance(a, Func) or isinstance(b, Func):
            eq = _ptr_eq(a, b)
        else:
            eq = _int(a, n) == _int(b, n)
        return int(eq if op == "==" else not eq)
    if isinstance(a, Ptr) and op in ("+", "-") and isinstance(b, int):
        if a.path and isinstance(a.path[-1], int):
            return Ptr(a.base, a.path[:-1] + (a.path[-1] + (b if op == "+" else -b),))
        raise NotModelled(n.first_line(), n.line, "pointer arithmetic outside an array", n.path)
    x, y = _int(a, n), _int(b, n)
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if op == "/":
        if y == 0:
            raise NotModelled(n.first_line(), n.line, "division by zero", n.path)
        return int(x / y)
    if op == "%":
        return x % y if y else 0
    if op == "<":
        return int(x < y)
    if op == ">":
        return int(x > y)
    if op == "<=":
        return int(x <= y)
    if op == ">=":
        return int(x >= y)
    if op == "&":
        return x & y
    if op == "|":
        return x | y
    if op == "^":
        return x ^ y
    if op == "<<":
        return x << y
    if op == ">>":
        return x >> y
    raise NotModelled(n.first_line(), n.line, f"operator {op}", n.path)


def _ptr_eq(a: Any, b: Any) -> bool:
    if isinstance(a, Ptr) and isinstance(b, Ptr):
        return a == b
    if isinstance(a, Ptr):
        return a.base is None and b == 0
    if isinstance(b, Ptr):
        return b.base is None and a == 0
    return a == b


def _convert(value: Any, ctype: tuple | None) -> Any:
    if type(value) is HavocPtr and ctype is not None:
        return _settle(value, ctype)
    if ctype == BOOL and value is not UNINIT:
        return int(truth(value))
    if ctype is not None and ctype[0] == "int" and isinstance(value, bool):
        return int(value)
    return value


def _settle(value: HavocPtr, ctype: tuple) -> Any:
    """A havoc value stored into a typed place: an integer 0 (a bool: its truth), or a plain pointer
    to its lazy object, which takes the pointee's struct type if it has none yet."""
    kind = ctype[0]
    if ctype == BOOL:
        return int(value.truthy)
    if kind == "int":
        return value.ival
    if kind == "ptr":
        base = value.base
        target = ctype[1]
        data = base.data if base is not None else None
        if isinstance(data, list) and getattr(data, "etype", "") is None:  # a lazy array: its entries' type
            data.etype = target
            first = data[0] if data else None
            if target[0] == "struct" and getattr(first, "stype", "") is None:
                first.stype = target[1]
        return Ptr(base, value.path)
    return value


_ARITY: dict[int, Any] = {}
