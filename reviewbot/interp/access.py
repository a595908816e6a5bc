"""Memory access: default values of declared types, fields created on first access, and every load
and store through a pointer, with the checks that make a use after free, a NULL dereference or a
write to read-only memory an event or a fault rather than a silent value."""

from __future__ import annotations

from typing import Any

from reviewbot.interp.errors import Fault, NotModelled
from reviewbot.interp.frames import Thread
from reviewbot.interp.memory import LAZY, NULL, SELF, UNINIT, HavocPtr, Ptr, Struct, string_block
from reviewbot.interp.program import N
from reviewbot.interp.values import _string_bytes

_MISSING = object()
_CHECKED = ("poison", "unmodelled", "errptr")  # blocks every access to which touch() judges


class MemoryAccess:
    """The machine's memory: a mixin of `Machine` (it reads self.p, self.stubs, self.hooks, self.kstate)."""

    def default(self, ctype: tuple | None, zeroed: bool, label: str = "") -> Any:
        if zeroed is LAZY:  # a world's stand-in object: its fields are made by the world's stub
            return self.stubs["__lazy__"](self, ctype, label)
        if ctype is None:
            return 0 if zeroed else UNINIT
        kind = ctype[0]
        if kind == "struct":
            factory = self.stubs.get("__opaque__")
            special = factory(self, ctype[1], zeroed, label) if factory else None
            if special is not None:
                return special
            return Struct(ctype[1], zeroed)
        if kind == "array":
            if ctype[1][0] in ("int", "ptr"):
                return [(0 if ctype[1][0] == "int" else NULL) if zeroed else UNINIT] * ctype[2]
            return [self.default(ctype[1], zeroed, label) for _ in range(ctype[2])]
        if kind == "ptr":
            return NULL if zeroed else UNINIT
        return 0 if zeroed else UNINIT

    def _slot(self, addr: Ptr) -> tuple[Any, Any]:
        """(container, key) that addr names, creating fields on the way."""
        container = addr.base.data
        path = addr.path
        if len(path) > 1:
            for key in path[:-1]:
                if type(container) is Struct and key in container:  # what _child does, without a call
                    container = container[key]
                else:
                    container = self._child(container, key)
        if isinstance(container, Ptr) and container.base is not None:
            container = self._pointee(container)  # a lazy value that stood for a pointer
        if type(path[-1]) is str and isinstance(container, list) and getattr(container, "etype", 0) is None:
            container = self._child(container, 0)
        return container, path[-1]

    def _pointee(self, p: Ptr) -> Any:
        c = p.base.data
        for k in p.path:
            c = self._child(c, k)
        return c

    def _child(self, container: Any, key: Any) -> Any:
        if isinstance(container, Struct):
            v = container.get(key, _MISSING)
            if v is _MISSING:
                v = self.default(self.p.field_type(container.stype, key), container.zeroed, str(key))
                container[key] = v
            return v
        if isinstance(container, list) and type(key) is str and getattr(container, "etype", 0) is None:
            container = self._child(container, 0)  # a lazy value of unknown type: `.f` is its first entry's
            return self._child(container, key)
        if isinstance(container, Ptr) and container.base is not None and container.base.zeroed is LAZY \
                or type(container) is HavocPtr and container.base is not None:
            return self._child(self._pointee(container), key)
        if isinstance(container, list):
            if not isinstance(key, int) or not 0 <= key < len(container):
                raise NotModelled(f"index {key}", 0, "out of the bounds the interpreter knows")
            v = container[key]
            if v is LAZY:  # an entry of a lazy array, made on first access
                v = container[key] = self.stubs["__lazy__"].element(self, getattr(container, "etype", None), str(key))
            return v
        raise NotModelled(f"member {key}", 0, f"of a {type(container).__name__}, not a struct")

    def touch(self, th: Thread, addr: Ptr, line: int, what: str, write: bool = False) -> None:
        """Account one access to memory: a use-after-free event when the block is freed."""
        base = addr.base
        if base is None:
            self.event("null-deref", th, line, th.file, what=what)
            raise Fault("null-deref", line, what)
        if base.kind == "unmodelled":  # a scenario's stand-in for something it does not model
            raise NotModelled(what, line, base.label, th.file)
        if base.kind == "errptr":
            self.event("null-deref", th, line, th.file, what=f"{what} (an ERR_PTR() value)")
            raise Fault("null-deref", line, f"{what} dereferences an ERR_PTR() value")
        if base.kind == "poison":
            self.event("poison", th, line, th.file, what=what)
            raise Fault("poison", line, f"{what} follows a LIST_POISON pointer")
        if base.freed:
            self.event("uaf", th, line, th.file, what=what, block=base, write=write,
                       held=[sec.domain.label for sec in th.sections], loaded_at=th.last_load.get(id(base)),
                       held_at_load=th.last_load_held.get(id(base), ()))
            self.log(th, line, f"{'writes' if write else 'reads'} {what}: {base.label} was freed"
                     f" (line {base.free_line})" if base.free_line else
                     f"{'writes' if write else 'reads'} {what}: {base.label} was freed ({base.freed_by})")
        for hook in self.hooks:
            hook(self, th, base, line, write)

    def load(self, th: Thread, addr: Ptr, line: int = 0, what: str = "") -> Any:
        if addr.base is None or addr.base.freed or addr.base.kind in _CHECKED or self.hooks:
            self.touch(th, addr, line or th.line, what or repr(addr))
        if not addr.path:
            data = addr.base.data
            if isinstance(data, list):
                return Ptr(addr.base, (0,))
            return data
        container, key = self._slot(addr)
        if type(container) is Struct and key in container:  # what _child does, without a call
            value = container[key]
        else:
            value = self._child(container, key)
        if isinstance(value, list):
            if getattr(value, "etype", 0) is None:  # lazy, of unknown type: a havoc value
                return HavocPtr(addr.base, addr.path + (0,), True)
            return Ptr(addr.base, addr.path + (0,))  # an array decays to a pointer
        if value is SELF:  # a lazy list head: empty, pointing to itself
            return Ptr(addr.base, addr.path[:-1])
        if type(value) is Struct and value.zeroed is LAZY and value.stype is None:
            # a lazy value of unknown type read whole (`e = m->map[i]` of an undeclared struct):
            # a havoc pointer to where it lies, so `e->f` and `e[i]` go on lazily
            return HavocPtr(addr.base, addr.path, True)
        if (isinstance(value, Ptr) and value.base is not None and value.base.owner is not None
                and addr.base.kind in ("heap", "global")):
            th.last_load[id(value.base)] = line or th.line  # where a pointer was taken from shared memory
            th.last_load_held[id(value.base)] = tuple(sec.domain.label for sec in th.sections)
        return value

    def store(self, th: Thread, addr: Ptr, value: Any, line: int = 0, what: str = "") -> None:
        if addr.base is None or addr.base.freed or addr.base.kind in _CHECKED or self.hooks:
            self.touch(th, addr, line or th.line, what or repr(addr), write=True)
        if addr.base.readonly:
            raise NotModelled(what or repr(addr), line, "a write to read-only memory")
        if not addr.path:
            raise NotModelled(what or repr(addr), line, "a whole-object store")
        if addr.base.owner is not None:
            self.kstate.setdefault("writes", []).append(
                (addr.base, addr.path, line or th.line, th.name, th.file, value, self.steps))
        container, key = self._slot(addr)
        if isinstance(container, list) and not (isinstance(key, int) and 0 <= key < len(container)):
            raise NotModelled(what or repr(addr), line, "a store out of the array's bounds")
        container[key] = value

    def obj(self, addr: Ptr, th: Thread, line: int, what: str) -> Any:
        """The object (struct, opaque kernel object) a pointer points to, with an access check."""
        self.touch(th, addr, line, what)
        if not addr.path:
            return addr.base.data
        container, key = self._slot(addr)
        return self._child(container, key)

    def string(self, n: N) -> Ptr:
        block = n.cache.get("str")
        if block is None:
            block = string_block(_string_bytes(n))
            n.cache["str"] = block
        return Ptr(block, (0,))
