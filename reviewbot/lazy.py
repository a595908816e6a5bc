"""A package's exports imported on first use (PEP 562), for packages whose submodules are costly to
import and that some processes never use (a review's model child never extracts facts; a process
where no model runs never needs the interpreter)."""

from __future__ import annotations

import importlib
import sys
from typing import Callable


def exports(package: str, names: dict[str, str]) -> Callable[[str], object]:
    """A module `__getattr__` for `package`: name -> the submodule that defines it, imported when
    the name is first read, and kept on the package from then on."""

    def __getattr__(name: str) -> object:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
