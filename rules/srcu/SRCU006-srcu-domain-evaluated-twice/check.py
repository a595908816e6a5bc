"""SRCU006: the srcu_struct of a read-side section is evaluated once for the lock and again for the
unlock, and what the expression goes through can change in between.

`srcu_read_unlock(X, idx)` must release the srcu_struct that `srcu_read_lock(X)` took. When X is an
expression through a pointer (`(q)->srcu`, `&dev->ctx->srcu`) it is evaluated twice; if the pointer
it goes through changes between the two, the unlock hits another srcu_struct: the locked one keeps
a reader forever (synchronize_srcu() on it never returns) and the other one loses a count that a
real reader holds (its grace period ends under that reader). Two shapes are reported:

* a function-like macro that locks `srcu_read_lock(<expr of parameter p>)`, runs the code of
  another parameter (`(body);`) and unlocks the same expression: callers pass expressions such as
  `rq->q`, and the body they pass runs between the two evaluations (it can complete or requeue the
  request and so repoint `rq->q`). The macro form is only reported when the srcu_struct is reached
  through the parameter (`(q)->srcu`), or the parameter is the srcu_struct itself and a use of the
  macro in the file passes an expression through a pointer;
* a function that locks `srcu_read_lock(&a->b->srcu)`, assigns `a` or `a->b` (or moves an iterator
  cursor the expression goes through) on the path, and unlocks `srcu_read_unlock(&a->b->srcu, idx)`.

Reported at the unlock, the lock being related. Evaluating the srcu_struct pointer once into a
local and locking and unlocking that local is the fix, and stays silent.
"""

from __future__ import annotations

import re

from reviewbot.engine import Hit
from reviewbot.facts.extract import split_arguments
from reviewbot.facts.types import squash

LOCKS = {"srcu_read_lock", "srcu_read_lock_nmisafe", "srcu_read_lock_fast", "srcu_read_lock_notrace",
         "srcu_read_lock_lite", "srcu_read_lock_fast_notrace", "__srcu_read_lock", "srcu_down_read"}
UNLOCKS = {"srcu_read_unlock", "srcu_read_unlock_nmisafe", "srcu_read_unlock_fast", "srcu_read_unlock_notrace",
           "srcu_read_unlock_lite", "srcu_read_unlock_fast_notrace", "__srcu_read_unlock", "srcu_up_read"}
CALL = re.compile(r"\b((?:__)?srcu_(?:read|down|up)_(?:un)?lock\w*|srcu_(?:down|up)_read)\s*\(")
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


def check(ctx):
    source = ctx.unit.source
    if b"srcu_read_unlock" not in source and b"srcu_up_read" not in source:
        return
    facts = ctx.facts
    reported: set[int] = set()
    text = None
    for macro in facts.macros:
        if not macro.params or "srcu_" not in macro.value or "unlock" not in macro.value and "srcu_up" not in macro.value:
            continue
        if text is None:
            text = source.decode("utf-8", "replace").splitlines()
        for hit in _macro(ctx, macro, text):
            if hit.line not in reported:
                reported.add(hit.line)
                yield hit
    functions = {c.function for c in facts.calls if c.function and c.name in UNLOCKS}
    functions &= {c.function for c in facts.calls if c.function and c.name in LOCKS}
    for function in sorted(functions):
        for hit in _function(ctx, function):
            if hit.line not in reported:
                reported.add(hit.line)
                yield hit


# --- the macro form ------------------------------------------------------------------------------

def _calls(body: str):
    """(name, args, start offset, end offset) of every SRCU lock/unlock call in a macro body."""
    for m in CALL.finditer(body):
        depth, i = 1, m.end()
        while i < len(body) and depth:
            depth += {"(": 1, ")": -1}.get(body[i], 0)
            i += 1
        yield m.group(1), split_arguments(body[m.end():i - 1]), m.start(), i


def _plain(expr: str) -> str:
    """An expression without white space and without parentheses around single names."""
    text = squash(expr)
    while True:
        new = re.sub(r"\((\w+)\)", r"\1", text)
        if new == text:
            return text
        text = new


def _macro(ctx, macro, lines):
    first, last = macro.lines
    raw = "\n".join(line[:-1] if line.endswith("\\") else line for line in lines[first - 1:last])
    raw = COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), raw)
    head = re.match(r"\s*#\s*define\s+\w+\s*\([^)]*\)", raw)
    if head is None:
        return
    body_start = head.end()
    params = [p for p in macro.params if p != "..."]
    calls = [c for c in _calls(raw) if c[2] >= body_start]
    for i, (name, args, start, end) in enumerate(calls):
        if name not in LOCKS or not args:
            continue
        domain = _plain(args[0])
        through = _through_param(ctx, macro, params, domain)
        if through is None:
            continue
        unlock = next((c for c in calls[i + 1:] if c[0] in UNLOCKS and c[1] and _plain(c[1][0]) == domain), None)
        if unlock is None:
            continue
        between = raw[end:unlock[2]]
        code = [(p, at) for p in params if p != through[0] for at in [_statement(between, p)] if at is not None]
        if not code:
            continue
        lock_line = first + raw.count("\n", 0, start)
        unlock_line = first + raw.count("\n", 0, unlock[2])
        code_line = first + raw.count("\n", 0, end + code[0][1])
        yield _macro_hit(macro, name, unlock[0], args[0], through, code[0][0], lock_line, code_line, unlock_line)


def _statement(text: str, param: str) -> int | None:
    """Where the parameter stands as a statement of its own (`(dispatch_ops);`, `body;`): the
    caller's code runs there."""
    p = re.escape(param)
    m = re.search(rf"(?:^|[;{{}}]|\belse|\bdo)\s*(\(*\s*{p}\s*\)*\s*;)", text)
    return m.start(1) if m else None


def _through_param(ctx, macro, params, domain):
    """(parameter, how) when the domain expression reaches the srcu_struct through a parameter."""
    text = domain[1:] if domain.startswith("&") else domain
    for p in params:
        if re.search(rf"(?<![\w.>]){re.escape(p)}(?:->|\[)", text):
            return p, None
    bare = text in params
    if bare:
        # the parameter is the srcu_struct (or the object holding it): a use in the file shows
        # whether callers pass an expression through a pointer
        index = params.index(text)
        for c in ctx.facts.calls:
            if c.name == macro.name and len(c.args) > index and "->" in c.args[index]:
                return text, squash(c.args[index])
    return None


def _macro_hit(macro, lock, unlock, expr, through, code, lock_line, code_line, unlock_line) -> Hit:
    param, example = through
    expr = squash(expr)
    passed = f" (a use in this file passes {example})" if example else \
        f" (an expression such as rq->{param}, evaluated anew at each use)"
    message = (f"{macro.name}() evaluates {expr} for {lock}() on line {lock_line} and again for this "
               f"{unlock}(), with the caller's {code} run in between: {param} is whatever expression the "
               f"caller passed{passed}, and if {code} changes what it points to, this unlock releases "
               f"another srcu_struct than the one locked: the locked one keeps a reader forever "
               f"(synchronize_srcu() on it hangs) and the other loses a count a real reader holds. "
               f"Evaluate the srcu_struct pointer once into a local before the lock "
               f"(`struct srcu_struct *__ssp = {expr};`) and lock and unlock __ssp.")
    return Hit(line=unlock_line, related=(lock_line,), message=message,
               args={"domain": expr},
               trace=(f"{lock_line}: {lock}({expr}) evaluates {param}",
                      f"{code_line}: ({code}) runs the caller's code",
                      f"{unlock_line}: {unlock}({expr}, ...) evaluates {param} again"))


# --- the function form ---------------------------------------------------------------------------

def _pointers(domain: str) -> set[str]:
    """What the evaluation of a domain expression reads: every pointer it dereferences, the
    expression itself when it is a pointer value, and index variables."""
    text = _plain(domain)
    address = text.startswith("&")
    text = text.lstrip("&")
    out = {text[:m.start()] for m in re.finditer(r"->", text)}
    if not address:
        out.add(text)
    out.update(re.findall(r"\[(\w+)\]", text))
    return {p for p in out if p and not re.fullmatch(r"\d+", p)}


def _function(ctx, function):
    flow = ctx.facts.flow(function)
    if flow is None:
        return
    seen: set[int] = set()
    for path in flow.paths:
        open_: list[dict] = []
        for e in path.events:
            if e.kind == "assign" or (e.kind == "loop" and e.args):
                target = _plain(e.name if e.kind == "assign" else e.args[0])
                for section in open_:
                    if target in section["pointers"] and section["changed"] is None and \
                            e.lines[0] != section["event"].lines[0]:
                        section["changed"] = e
                continue
            if e.kind != "call" or not e.args:
                continue
            if e.name in LOCKS:
                domain = _plain(e.args[0])
                open_.append({"domain": domain, "event": e, "pointers": _pointers(domain), "changed": None})
            elif e.name in UNLOCKS:
                domain = _plain(e.args[0])
                match = next((s for s in reversed(open_) if s["domain"] == domain), None)
                if match is None:
                    continue
                open_.remove(match)
                if match["changed"] is not None and e.lines[0] not in seen:
                    seen.add(e.lines[0])
                    yield _function_hit(function, match, e)


def _function_hit(function, section, unlock) -> Hit:
    lock, change = section["event"], section["changed"]
    domain = section["domain"]
    what = _plain(change.name if change.kind == "assign" else change.args[0])
    how = f"{what} is assigned on line {change.lines[0]}" if change.kind == "assign" else \
        f"{change.name}() moves {what} on line {change.lines[0]}"
    message = (f"{unlock.name}({domain}, ...) evaluates {domain} again, but {how}, after "
               f"{lock.name}({domain}) on line {lock.lines[0]}: the unlock goes through the new {what} and "
               f"releases another srcu_struct than the one locked, so the locked one keeps a reader forever "
               f"(synchronize_srcu() on it hangs) and the other loses a count a real reader holds. Evaluate "
               f"the srcu_struct pointer once into a local before the lock and unlock that local.")
    return Hit(line=unlock.lines[0], end_line=unlock.lines[1], related=(lock.lines[0],), message=message,
               args={"domain": domain},
               trace=(f"{lock.lines[0]}: {lock.name}({domain})",
                      f"{change.lines[0]}: {change.text[:80]}",
                      f"{unlock.lines[0]}: {unlock.name}({domain}, ...)"))
