"""The facts a check can ask for, as frozen dataclasses: what the code declares and does.

Every fact has `lines` (first, last; 1-based, lines of the file) and `added` (True when the patch
added any of those lines). Texts are the original source text (never the masked text), with runs
of whitespace collapsed to one space where a fact holds an expression or a type.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Fact:
    lines: tuple[int, int]
    added: bool


@dataclass(frozen=True)
class Param(Fact):
    name: str | None  # None for an unnamed parameter (`void`, a prototype's `int`)
    type: str  # the declaration without the name: `struct oom_control *`


@dataclass(frozen=True)
class Function(Fact):
    name: str
    return_type: str  # "" when a macro defines the function (see `macro`)
    params: tuple[Param, ...]
    body_lines: tuple[int, int]
    is_static: bool
    is_inline: bool
    specifiers: tuple[str, ...]  # storage classes and qualifiers in front: static, inline, ...
    macro: str | None = None  # BPF_CALL_2, SYSCALL_DEFINE3, ... when a macro defines it
    has_error: bool = False  # the parser could not read all of it


@dataclass(frozen=True)
class Field(Fact):
    name: str | None
    type: str
    array_sizes: tuple[str, ...]  # `char name[BPF_OOM_NAME_MAX_LEN]` -> ("BPF_OOM_NAME_MAX_LEN",)
    bitfield: str | None
    comment: str | None  # the comment right above the field, or after it on its line
    doc: str | None  # the struct's kernel-doc description of the member (`@name: ...`)


@dataclass(frozen=True)
class Struct(Fact):
    kind: str  # struct | union
    name: str | None
    fields: tuple[Field, ...]
    doc: KernelDoc | None

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclass(frozen=True)
class Macro(Fact):
    name: str
    params: tuple[str, ...] | None  # None for an object-like macro
    value: str


@dataclass(frozen=True)
class GlobalDefinition(Fact):
    """A file-scope definition: `DEFINE_STATIC_SRCU(x);`, `static LIST_HEAD(y);`, `int z = 1;`."""

    name: str
    macro: str | None  # DEFINE_SPINLOCK, LIST_HEAD, ... or None for a plain variable
    args: tuple[str, ...]  # the macro's arguments
    type: str | None  # a plain variable's type
    is_static: bool


@dataclass(frozen=True)
class Call(Fact):
    name: str  # the callee as written: `srcu_read_lock`, `ops->handle_out_of_memory`
    args: tuple[str, ...]
    function: str | None  # the enclosing function
    text: str


@dataclass(frozen=True)
class IteratorLoop(Fact):
    macro: str  # list_for_each_entry_srcu
    args: tuple[str, ...]
    function: str | None
    body_lines: tuple[int, int]
    braces: bool  # False for a brace-less body


@dataclass(frozen=True)
class Assignment(Fact):
    target: str
    operator: str  # = += |= ... ; "init" for a declaration's initializer
    value: str
    function: str | None


@dataclass(frozen=True)
class Condition(Fact):
    kind: str  # if | while | for | do | switch | ternary | case
    text: str
    function: str | None


@dataclass(frozen=True)
class StringLiteral(Fact):
    text: str  # as written, with quotes
    function: str | None


@dataclass(frozen=True)
class Return(Fact):
    value: str | None
    function: str | None


@dataclass(frozen=True)
class KernelDoc(Fact):
    """A `/** ... */` block: its raw text and what it documents (the next declaration)."""

    text: str
    target: str | None  # the name of the documented function, struct, macro, ...
    target_kind: str | None  # function | struct | union | enum | macro | variable | typedef
    summary: str  # the text after "name - " on the first line
    params: tuple[tuple[str, str], ...]  # (@name, description), in order


@dataclass(frozen=True)
class InitializerEntry(Fact):
    designator: str  # ".reg", "[2]", or "" for a positional entry
    value: str


@dataclass(frozen=True)
class Initializer(Fact):
    """`static struct bpf_struct_ops x = { .reg = f, ... };` -> the designators and values."""

    variable: str
    type: str
    is_static: bool
    function: str | None
    entries: tuple[InitializerEntry, ...]

    def value_of(self, designator: str) -> str | None:
        """The value of `.name` (the dot is optional); None when it is not set."""
        wanted = designator if designator.startswith((".", "[")) else "." + designator
        return next((e.value for e in self.entries if e.designator == wanted), None)


@dataclass(frozen=True)
class Facts:
    """Everything known about one CUnit."""

    path: str
    complete: bool  # False when only the hunks of a modified file were parsed
    error_lines: frozenset[int]
    functions: tuple[Function, ...] = ()
    structs: tuple[Struct, ...] = ()
    macros: tuple[Macro, ...] = ()
    globals: tuple[GlobalDefinition, ...] = ()
    calls: tuple[Call, ...] = ()
    loops: tuple[IteratorLoop, ...] = ()
    assignments: tuple[Assignment, ...] = ()
    conditions: tuple[Condition, ...] = ()
    strings: tuple[StringLiteral, ...] = ()
    returns: tuple[Return, ...] = ()
    kernel_docs: tuple[KernelDoc, ...] = ()
    initializers: tuple[Initializer, ...] = ()
    # The control flow of each function is built when a check first asks for it (most checks ask
    # for a few functions; building all of them was most of the time of a file's facts).
    unit: object = field(default=None, repr=False, compare=False)
    _flows: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def flows(self) -> tuple:
        """The FunctionFlow of every function (see flow.py), in source order."""
        if self.unit is None:
            return ()
        names = [self.unit.function_name(node) for node in self.unit.functions()]
        return tuple(f for f in (self.flow(n) for n in dict.fromkeys(n for n in names if n)) if f is not None)

    def function(self, name: str) -> Function | None:
        """The function called `name`; of two definitions (an #ifdef and its #else stub), the
        longer, as CUnit.function() picks."""
        found = [f for f in self.functions if f.name == name]
        return max(found, key=lambda f: f.lines[1] - f.lines[0]) if found else None

    def struct(self, name: str) -> Struct | None:
        return next((s for s in self.structs if s.name == name), None)

    def macro(self, name: str) -> Macro | None:
        return next((m for m in self.macros if m.name == name), None)

    def global_definition(self, name: str) -> GlobalDefinition | None:
        return next((g for g in self.globals if g.name == name), None)

    def initializer(self, variable: str) -> Initializer | None:
        return next((i for i in self.initializers if i.variable == variable), None)

    def flow(self, function: str):
        """The FunctionFlow of the function called `function` (the longest of that name); None
        when there is no such function, or the parser could not read all of it (paths through
        an ERROR node are guesses, and a check must not report guesses)."""
        if function not in self._flows:
            from reviewbot.facts.flow import function_flow

            node = self.unit.function(function) if self.unit is not None else None
            ok = node is not None and not node.has_error
            self._flows[function] = function_flow(self.unit, node) if ok else None
        return self._flows[function]

    def calls_to(self, name: str, function: str | None = None) -> tuple[Call, ...]:
        return tuple(c for c in self.calls if c.name == name and (function is None or c.function == function))

    def loops_in(self, function: str) -> tuple[IteratorLoop, ...]:
        return tuple(loop for loop in self.loops if loop.function == function)
