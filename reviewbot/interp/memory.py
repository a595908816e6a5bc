"""Values and memory of the interpreted C: blocks, pointers into them, lazily created fields.

A `Block` is one allocation (a kmalloc'd object, a global, a string literal, the locals of a call).
Its data is a `Struct` (a dict of field -> value, whose fields are created on first access from the
struct's declared type) or a list (an array). A pointer is `Ptr(block, path)`: the path of field
names and array indexes from the block's start, so `&bpf_oom->srcu` is `Ptr(b, ("srcu",))` and
`container_of()` is walking the path back. Freed blocks keep their contents (as freed memory does
until it is reused); every access to one is reported as a use-after-free event by the machine.

Types are small tuples: ("int", name), ("ptr", T), ("array", T, n), ("struct", name), ("func", R),
("void",). Kernel objects with their own semantics (srcu_struct, spinlock, ...) are `Opaque` values
whose state the kernel stubs own.
"""

from __future__ import annotations

from typing import Any

INT = ("int", "int")
CHAR = ("int", "char")
BOOL = ("int", "bool")
VOID = ("void",)
UNKNOWN = ("unknown",)


def ptr_to(t: tuple) -> tuple:
    return ("ptr", t)


def pointee(t: tuple | None) -> tuple | None:
    if t is None:
        return None
    if t[0] in ("ptr", "array"):
        return t[1]
    return None


def is_struct(t: tuple | None) -> bool:
    return t is not None and t[0] == "struct"


def type_name(t: tuple | None) -> str:
    if t is None:
        return "?"
    kind = t[0]
    if kind == "int":
        return t[1]
    if kind == "ptr":
        return type_name(t[1]) + " *"
    if kind == "array":
        return f"{type_name(t[1])}[{t[2]}]"
    if kind == "struct":
        return f"struct {t[1]}"
    if kind == "func":
        return "function"
    return kind


class _Uninit:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNINIT"


UNINIT = _Uninit()
_MISSING = object()


class Block:
    """One allocation. `label` names it in traces ("bpf_oom of handler A")."""

    __slots__ = ("data", "label", "freed", "free_line", "free_file", "freed_by", "alloc_line",
                 "zeroed", "kind", "readonly", "owner", "__weakref__")

    def __init__(self, data: Any, label: str = "", *, zeroed: bool = True, kind: str = "heap",
                 alloc_line: int = 0, readonly: bool = False, owner: Any = None):
        self.data = data
        self.label = label
        self.freed = False
        self.free_line = 0
        self.free_file = ""
        self.freed_by = ""  # who freed it: "kfree" (the code) or a description of the framework
        self.alloc_line = alloc_line
        self.zeroed = zeroed
        self.kind = kind
        self.readonly = readonly
        self.owner = owner  # free-form: which handler/scenario object it belongs to

    def __repr__(self) -> str:
        return f"<Block {self.label or self.kind}{' freed' if self.freed else ''}>"


class Struct(dict):
    """The fields of one struct object; missing fields are created from `stype` on first access."""

    __slots__ = ("stype", "zeroed")

    def __init__(self, stype: str | None, zeroed: bool):
        super().__init__()
        self.stype = stype
        self.zeroed = zeroed


class Ptr:
    """A pointer: a block and the path of fields/indexes into it. NULL is Ptr(None)."""

    __slots__ = ("base", "path")

    def __init__(self, base: Block | None, path: tuple = ()):
        self.base = base
        self.path = path

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Ptr):
            return self.base is other.base and self.path == other.path
        if other == 0 and not isinstance(other, bool):
            return self.base is None
        return NotImplemented

    def __hash__(self) -> int:
        return hash((id(self.base), self.path))

    def __bool__(self) -> bool:
        return self.base is not None

    def field(self, name: Any) -> "Ptr":
        return Ptr(self.base, self.path + (name,))

    def __repr__(self) -> str:
        if self.base is None:
            return "NULL"
        return f"&{self.base.label or self.base.kind}{''.join(f'.{p}' if isinstance(p, str) else f'[{p}]' for p in self.path)}"


NULL = Ptr(None)


class _Lazy:
    """The `zeroed` mark of a lazy object: a world's stand-in for memory the code under review did
    not allocate (a parameter's object, what an unknown callee returned). Its fields are made on
    first access by the machine's `__lazy__` stub (reviewbot.interp.havoc): integers 0, pointers to
    further lazy objects, lists with a few entries."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return "LAZY"

    def __deepcopy__(self, memo):
        return self


LAZY = _Lazy()


class _Self:
    """The `next`/`prev` of a lazy list head nobody filled: it points to the head itself (an empty
    list). MemoryAccess.load resolves it to the head's address."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "SELF"

    def __deepcopy__(self, memo):
        return self


SELF = _Self()


class HavocPtr(Ptr):
    """A value nothing modelled says anything about (an unknown callee's result, an unknown global,
    a field of a struct the program does not declare): a pointer to a lazy object when dereferenced
    or stored into a pointer, 0 in arithmetic, `truthy` in a condition."""

    __slots__ = ("truthy", "ival")

    def __init__(self, base: "Block | None", path: tuple = (), truthy: bool = True, ival: int = 0):
        super().__init__(base, path)
        self.truthy = truthy
        self.ival = ival

    def __bool__(self) -> bool:
        return self.truthy

    def __eq__(self, other: object) -> bool:
        return Ptr.__eq__(self, other)

    __hash__ = Ptr.__hash__

    def __deepcopy__(self, memo):
        base = self.base
        return HavocPtr(clone_value(base, memo) if base is not None else None, self.path, self.truthy, self.ival)


class Func:
    """A C function of the program (by name), as a value: what a function pointer holds."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Func) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("func", self.name))

    def __repr__(self) -> str:
        return f"{self.name}()"


class Opaque:
    """A kernel object whose state the stubs own (srcu_struct, spinlock_t, ...)."""

    __slots__ = ("kind", "state", "label", "__weakref__")

    def __init__(self, kind: str, label: str = "", **state: Any):
        self.kind = kind
        self.label = label
        self.state = dict(state)

    def __repr__(self) -> str:
        return f"<{self.kind} {self.label}>"


def truth(v: Any) -> bool:
    if type(v) is HavocPtr:
        return v.truthy
    if isinstance(v, Ptr):
        return v.base is not None
    if v is UNINIT:
        raise ValueError("uninitialized")
    return bool(v)


def c_string(ptr: Ptr, limit: int = 4096) -> bytes:
    """The NUL-terminated bytes a char pointer points to (stops at the end of the array)."""
    if ptr.base is None:
        raise ValueError("NULL string")
    container = ptr.base.data
    for key in ptr.path[:-1]:
        container = container[key]
    if not ptr.path:
        raise ValueError("not a char pointer")
    start = ptr.path[-1]
    chars = container[start:min(len(container), start + limit)] if start >= 0 else [
        container[i] for i in range(start, min(len(container), start + limit))]
    if 0 in chars:
        chars = chars[:chars.index(0)]
    try:
        return bytes(chars)
    except (TypeError, ValueError):  # values outside 0..255 (or not numbers): byte by byte, as C would
        out = bytearray()
        for c in chars:
            out.append(c & 0xFF)
        return bytes(out)  # no NUL inside the array: what a reader would run past


def string_block(data: bytes, label: str = "string literal") -> Block:
    return Block(list(data) + [0], label, kind="rodata", readonly=True)


_ATOMS = frozenset((int, str, bytes, float, bool, type(None), tuple, frozenset, Func))  # Func: immutable


def clone_value(v: Any, memo: dict) -> Any:
    """A copy of a value graph (blocks, structs, arrays, kernel objects) for forking a world.

    Immutable values, syntax nodes and functions are shared; an object with `__deepcopy__` copies
    itself. Much cheaper than copy.deepcopy on these graphs (char arrays are copied as slices).
    """
    t = type(v)
    if t in _ATOMS:
        return v
    found = memo.get(id(v))
    if found is not None:
        return found
    if t is Ptr:
        base = v.base
        if base is None:
            return v
        out: Any = Ptr(memo.get(id(base)) or clone_value(base, memo), v.path)
    elif t is Block:
        out = Block.__new__(Block)
        memo[id(v)] = out
        out.label = v.label
        out.freed = v.freed
        out.free_line = v.free_line
        out.free_file = v.free_file
        out.freed_by = v.freed_by
        out.alloc_line = v.alloc_line
        out.zeroed = v.zeroed
        out.kind = v.kind
        out.readonly = v.readonly
        out.owner = v.owner
        out.data = clone_value(v.data, memo)
        return out
    elif t is Struct:
        out = Struct.__new__(Struct)
        out.stype = v.stype
        out.zeroed = v.zeroed
        memo[id(v)] = out
        atoms = _ATOMS
        for key, x in v.items():
            out[key] = x if type(x) in atoms else clone_value(x, memo)
        return out
    elif t is list:
        if set(map(type, v)) <= _INTS:
            out = v[:]
        else:
            out = []
            memo[id(v)] = out
            atoms = _ATOMS
            out.extend([x if type(x) in atoms else clone_value(x, memo) for x in v])
            return out
    elif t is dict:
        out = {}
        memo[id(v)] = out
        atoms = _ATOMS
        for key, x in v.items():
            out[key if type(key) in atoms else clone_value(key, memo)] = x if type(x) in atoms else clone_value(x, memo)
        return out
    elif t is Opaque:
        out = Opaque.__new__(Opaque)
        out.kind = v.kind
        out.label = v.label
        memo[id(v)] = out
        out.state = clone_value(v.state, memo)
        return out
    elif hasattr(v, "__deepcopy__"):
        out = v.__deepcopy__(memo)
    else:
        return v  # syntax nodes, functions, frozen scenario values: shared
    memo[id(v)] = out
    return out


_INTS = frozenset((int,))
