"""Statements and control flow: blocks, declarations, if/else, loops (and the kernel's iterator
macros, reviewbot.interp.iterators), switch, break/continue/return/goto. Each statement the machine
is about to run is yielded first: that is where a scheduler may switch threads."""

from __future__ import annotations

from typing import Any

from reviewbot.interp.errors import NotModelled
from reviewbot.interp.frames import LATER, Frame, Thread
from reviewbot.interp.memory import truth
from reviewbot.interp.program import N
from reviewbot.interp.values import _convert

BREAK = "break"
CONTINUE = "continue"
MAX_LOOP = 2000


class Statements:
    """Running statements: a mixin of `Machine`."""

    def exec_block(self, th: Thread, fr: Frame, block: N):
        kids = block.kids
        i = 0
        while i < len(kids):
            n = kids[i]
            if n.type == "expression_statement" and n.kids:  # exec_stmt's branch, one generator less
                th.line = n.line
                yield n
                self.steps += 1
                e = n.kids[0]
                if e.type == "call_expression":
                    if self.call_now(th, fr, e, True) is LATER:
                        yield from self.ev_call(th, fr, e, True)
                elif e.pure:
                    self.evp(th, fr, e)
                else:
                    yield from self.ev(th, fr, e)
                sig = None
            else:
                sig = yield from self.exec_stmt(th, fr, n)
            i += 1
            if sig is None:
                continue
            if isinstance(sig, tuple) and sig[0] == "goto":
                target = _find_label(kids, sig[1])
                if target is None:
                    return sig
                i = target
                continue
            return sig
        return None

    def exec_stmt(self, th: Thread, fr: Frame, n: N):
        t = n.type
        th.line = n.line
        if t == "expression_statement":
            if not n.kids:
                return None
            yield n
            self.steps += 1
            e = n.kids[0]
            if e.type == "call_expression":
                if self.call_now(th, fr, e, True) is LATER:
                    yield from self.ev_call(th, fr, e, True)
            elif e.pure:
                self.evp(th, fr, e)
            else:
                yield from self.ev(th, fr, e)
            return None
        if t == "compound_statement":
            return (yield from self.exec_block(th, fr, n))
        if t == "declaration":
            for name, ctype, init in self.p.declarators(n):
                fr.types[name] = ctype
                if init is None:
                    fr.block.data[name] = self.default(ctype, False, name)
                    continue
                yield n
                self.steps += 1
                th.line = n.line
                if init.type == "initializer_list":
                    raise NotModelled("initializer list in a local declaration", n.line, "", n.path)
                if init.pure:
                    value = self.evp(th, fr, init)
                elif init.type == "call_expression" and (value := self.call_now(th, fr, init, False)) is not LATER:
                    pass
                else:
                    value = yield from self.ev(th, fr, init)
                fr.block.data[name] = _convert(value, ctype)
            return None
        if t == "if_statement":
            yield n
            self.steps += 1
            c = n.f["condition"]
            cond = self.evp(th, fr, c) if c.pure else (yield from self.ev(th, fr, c))
            if self.test(cond, n):
                body = n.f["consequence"]
            else:
                alt = n.f.get("alternative")
                if alt is None:
                    return None
                body = alt.kids[0] if alt.type == "else_clause" else alt
            if body.type == "compound_statement":  # what exec_stmt does with it, one generator less
                th.line = body.line
                return (yield from self.exec_block(th, fr, body))
            return (yield from self.exec_stmt(th, fr, body))
        if t == "return_statement":
            yield n
            self.steps += 1
            value = None
            if n.kids:
                e = n.kids[0]
                value = self.evp(th, fr, e) if e.pure else (yield from self.ev(th, fr, e))
            return ("return", value)
        if t == "break_statement":
            return BREAK
        if t == "continue_statement":
            return CONTINUE
        if t == "goto_statement":
            return ("goto", n.f["label"].text)
        if t == "labeled_statement":
            inner = [k for k in n.kids if k.type != "statement_identifier"]
            if inner:
                return (yield from self.exec_stmt(th, fr, inner[0]))
            return None
        if t == "while_statement":
            if not n.source.startswith("while"):
                from reviewbot.interp.iterators import run_iterator

                return (yield from run_iterator(self, th, fr, n))
            return (yield from self._loop(th, fr, n, None, n.f["condition"], None, n.f["body"]))
        if t == "for_statement":
            init = n.f.get("initializer")
            return (yield from self._loop(th, fr, n, init, n.f.get("condition"), n.f.get("update"),
                                          n.f["body"]))
        if t == "do_statement":
            return (yield from self._loop(th, fr, n, None, n.f["condition"], None, n.f["body"], True))
        if t == "switch_statement":
            return (yield from self._switch(th, fr, n))
        if t in (";", "empty_statement"):
            return None
        raise NotModelled(n.first_line(), n.line, f"a {t.replace('_', ' ')} the interpreter does not run",
                          n.path)

    def test(self, value: Any, n: N) -> bool:
        try:
            return truth(value)
        except ValueError:
            raise NotModelled(n.first_line(), n.line, "the condition reads memory the code never wrote",
                              n.path) from None

    def _loop(self, th, fr, n, init, cond, update, body, do_first=False):
        if init is not None:
            if init.type == "declaration":
                yield from self.exec_stmt(th, fr, init)
            else:
                self.evp(th, fr, init) if init.pure else (yield from self.ev(th, fr, init))
        for _ in range(MAX_LOOP):
            if not do_first:
                th.line = n.line
                yield n
                self.steps += 1
                if cond is not None and not self.test(
                        self.evp(th, fr, cond) if cond.pure else (yield from self.ev(th, fr, cond)), n):
                    return None
            do_first = False
            sig = yield from self.exec_stmt(th, fr, body)
            if sig == BREAK:
                return None
            if sig is not None and sig != CONTINUE:
                return sig
            if update is not None:
                self.evp(th, fr, update) if update.pure else (yield from self.ev(th, fr, update))
        raise NotModelled(n.first_line(), n.line, f"a loop that ran {MAX_LOOP} times", n.path)

    def _switch(self, th, fr, n):
        yield n
        self.steps += 1
        c = n.f["condition"]
        value = self.evp(th, fr, c) if c.pure else (yield from self.ev(th, fr, c))
        body = n.f["body"].kids
        start = None
        for i, case in enumerate(body):
            if case.type != "case_statement":
                continue
            cv = case.f.get("value")
            if cv is None:
                if start is None:
                    start = ("default", i)
                continue
            if (self.evp(th, fr, cv) if cv.pure else (yield from self.ev(th, fr, cv))) == value:
                start = ("case", i)
                break
        if start is None:
            return None
        for case in body[start[1]:]:
            stmts = [k for k in case.kids if k is not case.f.get("value")] if case.type == "case_statement" else [case]
            for s in stmts:
                sig = yield from self.exec_stmt(th, fr, s)
                if sig == BREAK:
                    return None
                if sig is not None:
                    return sig
        return None


def _find_label(kids: list[N], label: str) -> int | None:
    for i, kid in enumerate(kids):
        if kid.type == "labeled_statement" and kid.f.get("label") is not None and kid.f["label"].text == label:
            return i
    return None
