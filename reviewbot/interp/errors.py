"""What the interpreter raises: code it cannot run, and faults that stop a thread."""

from __future__ import annotations


class NotModelled(Exception):
    """The interpreter met code it cannot run faithfully.

    It names the construct and the line, so it can be reported as "not modelled" (never guessed):
    `as_dict(model)` is the JSON shape {"model", "file", "line", "construct", "reason"}.
    """

    def __init__(self, construct: str, line: int = 0, reason: str = "", file: str = ""):
        super().__init__(f"{file}:{line}: {construct}: {reason}")
        self.construct = construct
        self.line = line
        self.reason = reason
        self.file = file

    def as_dict(self, model: str) -> dict:
        return {"model": model, "file": self.file, "line": self.line, "construct": self.construct,
                "reason": self.reason}


class Fault(Exception):
    """The interpreted code did something the machine cannot continue from (a NULL dereference,
    a deadlock); the event describing it is in the world's event list."""

    def __init__(self, kind: str, line: int, detail: str):
        super().__init__(f"{kind} at line {line}: {detail}")
        self.kind = kind
        self.line = line
        self.detail = detail
