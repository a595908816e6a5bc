"""A bounded control-flow view of one function: the events along each path, and lock sections.

A path is the sequence of events (calls, lock operations, returns, break/continue/goto, loop
entries) from the function's entry to one of its exits. Enumeration is bounded so it never blows
up on large kernel functions: loops run 0 and 1 times, a `goto` is followed to its label at most
`MAX_JUMPS` times per path, and at most `MAX_PATHS` paths are kept (`FunctionFlow.capped` says
when some were dropped). A check asks "is every srcu_read_lock(&x) matched before each exit" with
`FunctionFlow.held_at_exits()`, and "which sections does this line sit in" with `sections_at()`.
"""

from __future__ import annotations

from dataclasses import dataclass

from reviewbot.csource import CUnit, Node
from reviewbot.facts.locks import LockOp, lock_op

MAX_PATHS = 256
MAX_JUMPS = 4

# Event kinds
CALL = "call"
RETURN = "return"
BREAK = "break"
CONTINUE = "continue"
GOTO = "goto"
LOOP = "loop"  # entering a loop body (iteration 1)
LOOP_SKIP = "loop_skip"  # a loop run 0 times
LOOP_EXIT = "loop_exit"  # leaving a loop body normally or by break/continue
BRANCH = "branch"  # a condition, with `taken` telling which way the path goes
END = "end"  # falling off the end of the function
ASSIGN = "assign"


@dataclass(frozen=True)
class Event:
    kind: str
    name: str  # callee, label, loop macro, condition text, assignment target
    args: tuple[str, ...]
    text: str
    lines: tuple[int, int]
    added: bool
    lock: LockOp | None = None
    taken: bool | None = None  # for branches


@dataclass(frozen=True)
class Path:
    events: tuple[Event, ...]
    exit: str  # return | end | goto (a label the flow could not follow) | break | continue

    def held(self, upto: int | None = None) -> tuple[LockOp, ...]:
        """The locks held before event `upto` (after the whole path when None), acquire order."""
        held: list[LockOp] = []
        for event in self.events[: len(self.events) if upto is None else upto]:
            if event.lock is None:
                continue
            if event.lock.action == "acquire":
                held.append(event.lock)
            else:
                for i in range(len(held) - 1, -1, -1):
                    if held[i].matches(event.lock):
                        del held[i]
                        break
        return tuple(held)


@dataclass(frozen=True)
class HeldAtExit:
    """A lock still held where a path leaves a scope that acquired it."""

    path: int  # index into FunctionFlow.paths
    lock: LockOp
    acquired: Event
    exit: Event  # the return, break, continue or goto (or END) where it is still held


@dataclass(frozen=True)
class LockSection:
    """The statements run while a lock is held, merged over every path from one acquire."""

    lock: LockOp  # the acquire
    acquire_lines: tuple[int, int]
    release_lines: tuple[tuple[int, int], ...]
    lines: tuple[int, int]  # first and last line of anything run while held
    event_lines: frozenset[int]  # lines of the events run while held

    def contains(self, line: int) -> bool:
        return self.lines[0] <= line <= self.lines[1]


@dataclass(frozen=True)
class FunctionFlow:
    function: str
    lines: tuple[int, int]
    paths: tuple[Path, ...]
    capped: bool  # True when paths were dropped to stay under MAX_PATHS (or jumps cut short)
    sections: tuple[LockSection, ...]

    def held_at_exits(self) -> tuple[HeldAtExit, ...]:
        """Every lock held at a return or the function's end, or at a break/continue out of
        the loop iteration that acquired it, or at a goto that could not be followed."""
        found: list[HeldAtExit] = []
        seen = set()
        for index, path in enumerate(self.paths):
            held: list[tuple[LockOp, Event, int]] = []  # lock, acquire event, loop depth
            depth = 0
            for event in path.events:
                if event.kind == LOOP:
                    depth += 1
                elif event.kind == LOOP_EXIT:
                    depth -= 1
                if event.lock is not None:
                    if event.lock.action == "acquire":
                        held.append((event.lock, event, depth))
                    else:
                        for i in range(len(held) - 1, -1, -1):
                            if held[i][0].matches(event.lock):
                                del held[i]
                                break
                exits_function = event.kind in (RETURN, END) or (event.kind == GOTO and event is path.events[-1])
                if exits_function:
                    leaks = held
                elif event.kind in (BREAK, CONTINUE):
                    leaks = [h for h in held if h[2] >= depth and depth > 0]
                else:
                    continue
                for lock, acquired, _ in leaks:
                    key = (lock, acquired.lines, event.lines, event.kind)
                    if key not in seen:
                        seen.add(key)
                        found.append(HeldAtExit(index, lock, acquired, event))
        return tuple(found)

    def sections_at(self, line: int) -> tuple[LockSection, ...]:
        return tuple(s for s in self.sections if s.contains(line))

    def events(self, kind: str | None = None) -> tuple[Event, ...]:
        """Every distinct event of any path (by kind), in line order."""
        seen: dict[tuple, Event] = {}
        for path in self.paths:
            for e in path.events:
                if kind is None or e.kind == kind:
                    seen.setdefault((e.kind, e.lines, e.text, e.taken), e)
        return tuple(sorted(seen.values(), key=lambda e: e.lines))


# --- enumeration ---------------------------------------------------------------------------------

# An outcome of running a statement: the events it produced and how it ended:
# ("next", None) falls through, ("break"|"continue"|"return", None), ("goto", label).
_Outcome = tuple  # (events: tuple[Event, ...], kind: str, label: str | None)


class _Walker:
    def __init__(self, unit: CUnit):
        self.unit = unit
        self.capped = False

    def event(self, kind: str, node: Node, name: str = "", args: tuple[str, ...] = (),
              lock: LockOp | None = None, taken: bool | None = None) -> Event:
        lines = self.unit.lines(node)
        return Event(kind, name, args, _squash(self.unit.text(node)), lines, self.unit.is_added(lines),
                     lock, taken)

    def cap(self, outcomes: list) -> list:
        if len(outcomes) > MAX_PATHS:
            self.capped = True
            return outcomes[:MAX_PATHS]
        return outcomes

    # expressions: calls and assignments in evaluation order (arguments before the call)
    def expression_events(self, node: Node | None) -> tuple[Event, ...]:
        if node is None:
            return ()
        events: list[Event] = []
        self._collect(node, events)
        return tuple(events)

    def _collect(self, root: Node, events: list[Event]) -> None:
        # Post-order (children before their node) with an explicit stack: C from a patch can nest
        # expressions deeper than Python's recursion limit.
        stack: list[tuple[Node, bool]] = [(root, False)]
        while stack:
            node, done = stack.pop()
            kind = node.type
            if done:
                self._event_of(node, kind, events)
                continue
            if kind in ("string_literal", "concatenated_string", "number_literal", "identifier", "field_identifier"):
                continue
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(node.children) if child.child_count)

    def _event_of(self, node: Node, kind: str, events: list[Event]) -> None:
        if kind == "call_expression":
            callee = node.child_by_field_name("function")
            args_node = node.child_by_field_name("arguments")
            args = tuple(_squash(self.unit.text(a)) for a in args_node.named_children) if args_node else ()
            name = _squash(self.unit.text(callee)) if callee is not None else ""
            events.append(self.event(CALL, node, name, args, lock_op(name, args)))
        elif kind == "assignment_expression":
            left = node.child_by_field_name("left")
            events.append(self.event(ASSIGN, node, _squash(self.unit.text(left)) if left else ""))
        elif kind == "update_expression":  # `p->count++`: a store like any assignment
            arg = node.child_by_field_name("argument")
            events.append(self.event(ASSIGN, node, _squash(self.unit.text(arg)) if arg is not None else ""))
        elif kind == "init_declarator":  # `bool unmap = false;`: a local's first value is an assignment too
            from reviewbot.csource import declarator_identifier

            ident = declarator_identifier(node.child_by_field_name("declarator"))
            if ident is not None:
                events.append(self.event(ASSIGN, node, self.unit.text(ident)))

    def sequence(self, statements: list[Node]) -> list[_Outcome]:
        current: list[_Outcome] = [((), "next", None)]
        for stmt in statements:
            if not any(kind == "next" for _, kind, _ in current):
                break
            step = self.statement(stmt)
            combined: list[_Outcome] = []
            for events, kind, label in current:
                if kind != "next":
                    combined.append((events, kind, label))
                    continue
                for more, more_kind, more_label in step:
                    combined.append((events + more, more_kind, more_label))
            current = self.cap(combined)
        return current

    def statement(self, node: Node) -> list[_Outcome]:
        kind = node.type
        if kind == "compound_statement":
            return self.sequence([c for c in node.named_children if c.type != "comment"])
        if kind == "if_statement":
            cond = node.child_by_field_name("condition")
            before = self.expression_events(cond)
            text = _unparen(_squash(self.unit.text(cond))) if cond is not None else ""
            then = self.statement(node.child_by_field_name("consequence"))
            alternative = node.child_by_field_name("alternative")
            if alternative is not None and alternative.type == "else_clause":
                alternative = alternative.named_children[0] if alternative.named_children else None
            other = self.statement(alternative) if alternative is not None else [((), "next", None)]
            yes = self.event(BRANCH, cond or node, text, taken=True)
            no = self.event(BRANCH, cond or node, text, taken=False)
            return self.cap([(before + (yes,) + e, k, lb) for e, k, lb in then]
                            + [(before + (no,) + e, k, lb) for e, k, lb in other])
        if kind in ("while_statement", "for_statement", "do_statement"):
            return self.loop(node)
        if kind == "switch_statement":
            return self.switch(node)
        if kind == "return_statement":
            value = node.named_children[0] if node.named_children else None
            return [(self.expression_events(value) + (self.event(RETURN, node),), "return", None)]
        if kind == "break_statement":
            return [((self.event(BREAK, node),), "break", None)]
        if kind == "continue_statement":
            return [((self.event(CONTINUE, node),), "continue", None)]
        if kind == "goto_statement":
            label = node.child_by_field_name("label")
            name = self.unit.text(label) if label is not None else ""
            return [((self.event(GOTO, node, name),), "goto", name)]
        if kind == "labeled_statement":
            inner = [c for c in node.named_children if c.type != "statement_identifier"]
            return self.sequence(inner)
        if kind in ("case_statement",):
            return self.sequence([c for c in node.named_children if c != node.child_by_field_name("value")])
        # expression statements, declarations and anything else: their calls, in order
        return [(self.expression_events(node), "next", None)]

    def loop(self, node: Node) -> list[_Outcome]:
        unit = self.unit
        keyword = node.children[0]
        macro = unit.text(keyword) if keyword.type in ("while", "for", "do") else node.type
        word = unit.text((keyword.start_byte, node.child_by_field_name("condition").start_byte)) \
            if node.type == "while_statement" and node.child_by_field_name("condition") is not None else macro
        name = word.split("(")[0].strip() or macro
        cond = node.child_by_field_name("condition")
        args: tuple[str, ...] = ()
        if name != "while" and node.type == "while_statement" and cond is not None:
            from reviewbot.facts.extract import macro_arguments

            args = macro_arguments(unit, cond)
        body = node.child_by_field_name("body")
        setup: tuple[Event, ...] = ()
        if node.type == "for_statement":
            setup = self.expression_events(node.child_by_field_name("initializer"))
        enter = self.event(LOOP, keyword, name, args)
        leave = self.event(LOOP_EXIT, keyword, name, args)
        guard = _guard_lock(name, args)
        once_events = (enter,) + ((self.event(CALL, keyword, name, args, guard),) if guard else ())
        once = self.statement(body) if body is not None else [((), "next", None)]
        outcomes: list[_Outcome] = []
        if node.type != "do_statement":
            outcomes.append((setup + (self.event(LOOP_SKIP, keyword, name, args),), "next", None))
        end_of_body = body.children[-1] if body is not None and body.children else keyword
        release = (self.event(CALL, end_of_body, name, args, guard.released()),) if guard else ()
        # a `for` loop's update expression runs after an iteration that falls through or continues
        step: tuple[Event, ...] = ()
        if node.type == "for_statement":
            step = self.expression_events(node.child_by_field_name("update"))
        for events, kind, label in once:
            if kind in ("next", "continue"):
                outcomes.append((setup + once_events + events + step + release + (leave,), "next", None))
            elif kind == "break":
                outcomes.append((setup + once_events + events + release + (leave,), "next", None))
            else:
                outcomes.append((setup + once_events + events + release, kind, label))
        return self.cap(outcomes)

    def switch(self, node: Node) -> list[_Outcome]:
        cond = node.child_by_field_name("condition")
        before = self.expression_events(cond)
        body = node.child_by_field_name("body")
        cases = [c for c in body.named_children if c.type == "case_statement"] if body is not None else []
        outcomes: list[_Outcome] = []
        has_default = False
        for i, case in enumerate(cases):
            value = case.child_by_field_name("value")
            has_default = has_default or value is None
            label = _squash(self.unit.text(value)) if value is not None else "default"
            statements = [s for c in cases[i:] for s in c.named_children if s != c.child_by_field_name("value")]
            taken = self.event(BRANCH, case, f"case {label}", taken=True)
            for events, kind, lb in self.sequence(statements):
                outcomes.append((before + (taken,) + events, "next" if kind == "break" else kind, lb))
        if not has_default:
            outcomes.append((before, "next", None))
        return self.cap(outcomes)


def function_flow(unit: CUnit, definition: Node) -> FunctionFlow:
    """The bounded paths and lock sections of one function_definition node."""
    walker = _Walker(unit)
    name = unit.function_name(definition) or ""
    body = definition.child_by_field_name("body")
    statements = [c for c in body.named_children if c.type != "comment"] if body is not None else []
    labels = {}
    for index, stmt in enumerate(statements):
        if stmt.type == "labeled_statement":
            label = stmt.child_by_field_name("label")
            if label is not None:
                labels[unit.text(label)] = index
    from_label: dict[int, list[_Outcome]] = {}
    paths: list[Path] = []
    pending = [(events, kind, label, 0) for events, kind, label in walker.sequence(statements)]
    end_node = body if body is not None else definition
    while pending:
        events, kind, label, jumps = pending.pop(0)
        if kind == "goto" and label in labels and jumps < MAX_JUMPS:
            index = labels[label]
            if index not in from_label:
                from_label[index] = walker.sequence(statements[index:])
            for more, more_kind, more_label in from_label[index]:
                pending.append((events + more, more_kind, more_label, jumps + 1))
            if len(paths) + len(pending) > MAX_PATHS:
                walker.capped = True
                pending = pending[: max(0, MAX_PATHS - len(paths))]
            continue
        if kind == "goto" and label in labels:
            walker.capped = True
        if kind == "next":
            events = events + (walker.event(END, _closing_brace(end_node)),)
            kind = "end"
        paths.append(Path(events, kind))
    paths = paths[:MAX_PATHS]
    return FunctionFlow(name, unit.lines(definition), tuple(paths), walker.capped, _sections(paths))


def _sections(paths: list[Path]) -> tuple[LockSection, ...]:
    acc: dict[tuple, dict] = {}
    for path in paths:
        open_: list[tuple[LockOp, Event]] = []
        for event in path.events:
            for lock, acquired in open_:
                entry = acc[(lock, acquired.lines)]
                entry["event_lines"].update(range(event.lines[0], event.lines[1] + 1))
                entry["last"] = max(entry["last"], event.lines[1])
            if event.lock is None:
                continue
            if event.lock.action == "acquire":
                open_.append((event.lock, event))
                acc.setdefault((event.lock, event.lines), {
                    "lock": event.lock, "acquire": event.lines, "releases": set(),
                    "event_lines": set(), "last": event.lines[1]})
            else:
                for i in range(len(open_) - 1, -1, -1):
                    if open_[i][0].matches(event.lock):
                        acc[(open_[i][0], open_[i][1].lines)]["releases"].add(event.lines)
                        del open_[i]
                        break
    return tuple(
        LockSection(lock=e["lock"], acquire_lines=e["acquire"], release_lines=tuple(sorted(e["releases"])),
                    lines=(e["acquire"][0], e["last"]), event_lines=frozenset(e["event_lines"]))
        for e in sorted(acc.values(), key=lambda e: e["acquire"])
    )


def _guard_lock(name: str, args: tuple[str, ...]) -> LockOp | None:
    """scoped_guard(spinlock, &l) { ... } holds the lock for its body."""
    if name not in ("scoped_guard", "scoped_cond_guard") or not args:
        return None
    from reviewbot.facts.locks import guard_op

    return guard_op(args[0], args[1] if len(args) > 1 else "")


def _closing_brace(body: Node) -> Node:
    return body.children[-1] if body.children else body


def _squash(text: str) -> str:
    return " ".join(text.replace("\\\n", " ").split())


def _unparen(text: str) -> str:
    return text[1:-1].strip() if text.startswith("(") and text.endswith(")") else text
