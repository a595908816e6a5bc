"""Build Facts from a CUnit by one walk over its tree.

This module reads tree-sitter nodes (type, children, fields, byte ranges) that the CUnit hands
out; it never imports tree_sitter. Every text comes from the original source through the CUnit.
"""

from __future__ import annotations

import re

from reviewbot.csource import CUnit, Node, declarator_identifier
from reviewbot.facts.model import (
    Assignment,
    Call,
    Condition,
    Facts,
    Field,
    Function,
    GlobalDefinition,
    Initializer,
    InitializerEntry,
    IteratorLoop,
    KernelDoc,
    Macro,
    Param,
    Return,
    StringLiteral,
    Struct,
)


def facts_of(unit: CUnit, *, with_flow: bool = True) -> Facts:
    """Every fact of a CUnit; with_flow=False leaves out the control flow (built on demand)."""
    builder = _Builder(unit)
    builder.walk()
    return Facts(
        path=unit.path,
        complete=unit.complete,
        error_lines=unit.error_lines,
        functions=tuple(builder.functions),
        structs=tuple(builder.structs),
        macros=tuple(builder.macros),
        globals=tuple(builder.globals),
        calls=tuple(builder.calls),
        loops=tuple(builder.loops),
        assignments=tuple(builder.assignments),
        conditions=tuple(builder.conditions),
        strings=tuple(builder.strings),
        returns=tuple(builder.returns),
        kernel_docs=tuple(builder.docs.values()),
        initializers=tuple(builder.initializers),
        unit=unit if with_flow else None,
    )


def squash(text: str) -> str:
    """Collapse runs of whitespace (and line continuations) to one space."""
    return " ".join(text.replace("\\\n", " ").split())


def split_arguments(text: str) -> tuple[str, ...]:
    """Split `a, f(b, c), d` at top-level commas (text without the outer parens)."""
    args: list[str] = []
    depth = 0
    start = 0
    quote = ""
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            args.append(squash(text[start:i]))
            start = i + 1
        i += 1
    last = squash(text[start:])
    if last or args:
        args.append(last)
    return tuple(args)


def macro_arguments(unit: CUnit, node: Node) -> tuple[str, ...]:
    """The arguments of the macro call that `node` spans, read from the original text."""
    text = unit.text(node)
    open_at = text.find("(")
    if open_at < 0:
        return ()
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return split_arguments(text[open_at + 1:i])
    return split_arguments(text[open_at + 1:])


_DEFINITION_NAME = re.compile(r"^(?:DEFINE_\w+|DECLARE_\w+|\w*LIST_HEAD|\w+_HEAD)$")
_NAME_IS_LAST = re.compile(r"PER_CPU")
_BPF_PROGRAM_MACRO = re.compile(r"^BPF_(?:PROG\d?|KPROBE|KRETPROBE|KSYSCALL|UPROBE|URETPROBE|USDT|STRUCT_OPS\w*)$")
_LOOP_STATEMENTS = {"while_statement", "for_statement", "do_statement"}


class _Builder:
    def __init__(self, unit: CUnit):
        self.unit = unit
        self.functions: list[Function] = []
        self.structs: list[Struct] = []
        self.macros: list[Macro] = []
        self.globals: list[GlobalDefinition] = []
        self.calls: list[Call] = []
        self.loops: list[IteratorLoop] = []
        self.assignments: list[Assignment] = []
        self.conditions: list[Condition] = []
        self.strings: list[StringLiteral] = []
        self.returns: list[Return] = []
        self.initializers: list[Initializer] = []
        self.docs = _kernel_docs(unit)
        self._comments = _comment_index(unit)

    # -- helpers

    def where(self, node: Node) -> dict:
        lines = self.unit.lines(node)
        return {"lines": lines, "added": self.unit.is_added(lines)}

    def text(self, node: Node | None) -> str:
        return squash(self.unit.text(node)) if node is not None else ""

    def rewritten(self, node: Node) -> bool:
        """True when the mask changed the bytes of this node (a macro stands there)."""
        return self.unit.masked[node.start_byte:node.end_byte] != self.unit.source[node.start_byte:node.end_byte]

    # -- the walk

    def walk(self) -> None:
        unit = self.unit
        stack: list[tuple[Node, str | None]] = [(unit.root, None)]
        while stack:
            node, function = stack.pop()
            kind = node.type
            descend = True
            if kind == "function_definition":
                fact = self.function(node)
                if fact is not None:
                    self.functions.append(fact)
                    function = fact.name
            elif kind == "call_expression":
                self.call(node, function)
            elif kind in ("struct_specifier", "union_specifier"):
                if node.child_by_field_name("body") is not None:
                    self.struct(node)
            elif kind in ("preproc_def", "preproc_function_def"):
                self.macro(node)
                descend = False
            elif kind == "declaration":
                self.declaration(node, function)
            elif kind == "expression_statement" and node.parent is not None and node.parent.type == "translation_unit":
                self.top_level_macro(node)
            elif kind == "while_statement":
                self.while_loop(node, function)
            elif kind in ("if_statement", "for_statement", "do_statement", "switch_statement"):
                cond = node.child_by_field_name("condition")
                if cond is not None:
                    self.conditions.append(Condition(**self.where(cond), kind=kind.split("_")[0],
                                                     text=_unparen(self.text(cond)), function=function))
            elif kind == "conditional_expression":
                cond = node.child_by_field_name("condition")
                if cond is not None:
                    self.conditions.append(Condition(**self.where(cond), kind="ternary",
                                                     text=self.text(cond), function=function))
            elif kind == "case_statement":
                value = node.child_by_field_name("value")
                if value is not None:
                    self.conditions.append(Condition(**self.where(value), kind="case",
                                                     text=self.text(value), function=function))
            elif kind == "assignment_expression":
                left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
                op = node.child_by_field_name("operator")
                operator = self.unit.text(op) if op is not None else _operator_between(node, left, right)
                self.assignments.append(Assignment(**self.where(node), target=self.text(left),
                                                   operator=operator, value=self.text(right),
                                                   function=function))
            elif kind in ("string_literal", "concatenated_string"):
                self.strings.append(StringLiteral(**self.where(node), text=self.text(node), function=function))
                descend = False
            elif kind == "return_statement":
                value = node.named_children[0] if node.named_children else None
                self.returns.append(Return(**self.where(node), value=self.text(value) if value else None,
                                           function=function))
            if descend:
                for child in reversed(node.children):
                    if child.child_count or child.is_named:
                        stack.append((child, function))
        for facts in (self.functions, self.structs, self.macros, self.globals, self.calls, self.loops,
                      self.assignments, self.conditions, self.strings, self.returns, self.initializers):
            facts.sort(key=lambda f: f.lines)

    # -- one kind of fact each

    def function(self, node: Node) -> Function | None:
        unit = self.unit
        declarator = node.child_by_field_name("declarator")
        fdecl = _function_declarator(declarator)
        if fdecl is None:
            return None
        ident = declarator_identifier(fdecl.child_by_field_name("declarator"))
        if ident is None:
            return None
        type_node = node.child_by_field_name("type")
        specifiers = tuple(unit.text(c) for c in node.children
                           if c.type in ("storage_class_specifier", "type_qualifier", "attribute_specifier"))
        params_node = fdecl.child_by_field_name("parameters")
        params = self.params(params_node)
        name = unit.text(ident)
        macro = None
        return_type = ""
        if type_node is not None and self.rewritten(type_node):
            word = re.match(r"\w+", unit.text((type_node.start_byte, type_node.start_byte + 64)))
            macro = word.group() if word else unit.text(type_node)
            if self.rewritten(ident):  # SYSCALL_DEFINE0(name): the name is the only argument
                name = params[0].type if params else name
                params = ()
            # the macro's own first argument is the name; every (type, name) pair is a parameter
        elif type_node is not None:
            start = min([type_node.start_byte] + [c.start_byte for c in node.children
                                                  if c.type == "type_qualifier"])
            return_type = type_text(unit.text((start, type_node.end_byte)) + " " + "*" * _pointer_depth(declarator, fdecl))
        if macro is None and _BPF_PROGRAM_MACRO.match(name) and params:
            # int BPF_PROG(name, struct x *a, ...): the first "parameter" is the program's name
            macro, name, params = name, params[0].type, params[1:]
        body = node.child_by_field_name("body")
        return Function(
            **self.where(node),
            name=name,
            return_type=return_type,
            params=params,
            body_lines=unit.lines(body) if body is not None else unit.lines(node),
            is_static="static" in specifiers,
            is_inline=any(s in ("inline", "__inline", "__inline__") for s in specifiers),
            specifiers=specifiers,
            macro=macro,
            has_error=node.has_error,
        )

    def params(self, params_node: Node | None) -> tuple[Param, ...]:
        if params_node is None:
            return ()
        result = []
        for p in params_node.named_children:
            if p.type == "variadic_parameter":
                result.append(Param(**self.where(p), name=None, type="..."))
            elif p.type == "parameter_declaration":
                ident = declarator_identifier(p.child_by_field_name("declarator"))
                ptype = self.text_without(p, [ident] if ident is not None else [])
                ptype = ptype.strip(" ,")
                if ptype == "void" and ident is None:
                    continue
                result.append(Param(**self.where(p), name=self.unit.text(ident) if ident else None,
                                    type=ptype))
        return tuple(result)

    def text_without(self, node: Node, removed: list[Node], spans: list[tuple[int, int]] = ()) -> str:
        """The node's original text with some sub-nodes (or byte spans) cut out, squashed."""
        cuts = sorted([(n.start_byte, n.end_byte) for n in removed] + list(spans))
        pieces = []
        pos = node.start_byte
        for start, end in cuts:
            if start < pos:
                start = pos
            if end <= start:
                continue
            pieces.append(self.unit.text((pos, start)))
            pos = end
        pieces.append(self.unit.text((pos, node.end_byte)))
        return type_text("".join(pieces))

    def call(self, node: Node, function: str | None) -> None:
        callee = node.child_by_field_name("function")
        args_node = node.child_by_field_name("arguments")
        args = tuple(self.text(a) for a in args_node.named_children) if args_node is not None else ()
        self.calls.append(Call(**self.where(node), name=self.text(callee), args=args, function=function,
                               text=self.text(node)))

    def while_loop(self, node: Node, function: str | None) -> None:
        keyword = node.children[0]
        cond = node.child_by_field_name("condition")
        body = node.child_by_field_name("body")
        word = self.unit.text(keyword)
        if word == "while":
            if cond is not None:
                self.conditions.append(Condition(**self.where(cond), kind="while",
                                                 text=_unparen(self.text(cond)), function=function))
            return
        # An iterator macro the mask turned into `while`: the name is the original word there.
        macro = re.match(r"\w*", self.unit.text((keyword.start_byte, cond.start_byte if cond else keyword.end_byte)))
        args = macro_arguments(self.unit, cond) if cond is not None else ()
        self.loops.append(IteratorLoop(
            **self.where(node),
            macro=macro.group() if macro else word,
            args=args,
            function=function,
            body_lines=self.unit.lines(body) if body is not None else self.unit.lines(node),
            braces=body is not None and body.type == "compound_statement",
        ))

    def struct(self, node: Node) -> None:
        unit = self.unit
        name_node = node.child_by_field_name("name")
        name = unit.text(name_node) if name_node is not None else None
        doc = self.docs.get(node.start_byte) or self._doc_for_parent(node)
        member_docs = dict(doc.params) if doc else {}
        fields: list[Field] = []
        self._fields(node.child_by_field_name("body"), fields, member_docs)
        self.structs.append(Struct(**self.where(node), kind=node.type.split("_")[0], name=name,
                                   fields=tuple(fields), doc=doc))

    def _doc_for_parent(self, node: Node) -> KernelDoc | None:
        # `struct x { ... };` sits at top level itself, but `static struct x {...} y;` sits in a
        # declaration: the kernel-doc then documents the declaration.
        parent = node.parent
        if parent is not None and parent.type in ("declaration", "type_definition"):
            return self.docs.get(parent.start_byte)
        return None

    def _fields(self, body: Node | None, out: list[Field], member_docs: dict[str, str]) -> None:
        if body is None:
            return
        for decl in body.named_children:
            if decl.type != "field_declaration":
                continue
            type_node = decl.child_by_field_name("type")
            declarators = decl.children_by_field_name("declarator")
            if not declarators and type_node is not None and type_node.child_by_field_name("body") is not None:
                # an anonymous struct or union: its members are members of this one
                self._fields(type_node.child_by_field_name("body"), out, member_docs)
                continue
            prefix_end = type_node.end_byte if type_node is not None else decl.start_byte
            prefix_start = decl.start_byte
            if type_node is not None and type_node.child_by_field_name("body") is not None:
                type_prefix = f"{type_node.type.split('_')[0]} {{...}}"
            else:
                type_prefix = squash(self.unit.text((prefix_start, prefix_end)))
            bitfield = next((c for c in decl.named_children if c.type == "bitfield_clause"), None)
            comment = self._comment_for(decl)
            for index, declarator in enumerate(declarators or [None]):
                ident = declarator_identifier(declarator) if declarator is not None else None
                sizes, cuts = _array_parts(declarator)
                rest = self.text_without(declarator, [ident] if ident else [], cuts) if declarator else ""
                prefix = type_prefix
                if index == 0 and declarator is not None and not type_prefix.endswith("{...}"):
                    # keep annotations between the type and the declarator: `struct x __rcu *p`
                    prefix = self.unit.text((prefix_start, declarator.start_byte))
                ftype = type_text(f"{prefix} {rest}")
                name = self.unit.text(ident) if ident is not None else None
                doc = member_docs.get(name) if name else None
                if doc is None and name and comment and comment.startswith("/**"):
                    doc = dict(_doc_params(comment)).get(name)
                out.append(Field(
                    **self.where(decl),
                    name=name,
                    type=ftype,
                    array_sizes=tuple(self.text(s) if s is not None else "" for s in sizes),
                    bitfield=self.text(bitfield.named_children[0]) if bitfield is not None and bitfield.named_children else None,
                    comment=comment,
                    doc=doc,
                ))

    def _comment_for(self, decl: Node) -> str | None:
        """The comment ending on the line above the declaration, or starting after it on its line."""
        first, last = self.unit.lines(decl)
        above = self._comments.by_last_line.get(first - 1)
        if above is not None and self._comments.alone_on_line(above):
            return self.unit.text(above)
        trailing = self._comments.by_first_line.get(last)
        if trailing is not None and trailing[0] >= decl.end_byte:
            return self.unit.text(trailing)
        return None

    def macro(self, node: Node) -> None:
        name = node.child_by_field_name("name")
        value = node.child_by_field_name("value")
        params_node = node.child_by_field_name("parameters")
        params = None
        if params_node is not None:
            params = tuple(self.unit.text(p) for p in params_node.named_children) or ()
            if "..." in self.unit.text(params_node):
                params = params + ("...",)
        self.macros.append(Macro(**self.where(node), name=self.unit.text(name) if name is not None else "",
                                 params=params, value=self.text(value) if value is not None else ""))

    def declaration(self, node: Node, function: str | None) -> None:
        unit = self.unit
        type_node = node.child_by_field_name("type")
        is_static = any(c.type == "storage_class_specifier" and unit.text(c) == "static" for c in node.children)
        base_type = self.text(type_node)
        top_level = node.parent is not None and node.parent.type == "translation_unit"
        declarators = node.children_by_field_name("declarator")
        if (top_level and type_node is not None and type_node.type == "type_identifier"
                and len(declarators) == 1 and _is_definition_macro(base_type)
                and declarators[0].type in ("parenthesized_declarator", "init_declarator")):
            args = macro_arguments(unit, node)
            name = _definition_name(base_type, args)
            self.globals.append(GlobalDefinition(**self.where(node), name=name, macro=base_type, args=args,
                                                 type=None, is_static=is_static))
            return
        for declarator in declarators:
            value = declarator.child_by_field_name("value") if declarator.type == "init_declarator" else None
            inner = declarator.child_by_field_name("declarator") if declarator.type == "init_declarator" else declarator
            if _function_declarator(inner) is not None and value is None:
                continue  # a prototype
            ident = declarator_identifier(inner)
            if ident is None:
                continue
            name = unit.text(ident)
            full_type = type_text(f"{base_type} {'*' * _pointer_depth(inner, ident)}")
            if top_level:
                self.globals.append(GlobalDefinition(**self.where(node), name=name, macro=None, args=(),
                                                     type=full_type, is_static=is_static))
            if value is None:
                continue
            if value.type == "initializer_list":
                self.initializers.append(Initializer(**self.where(node), variable=name, type=full_type,
                                                     is_static=is_static, function=function,
                                                     entries=self.entries(value)))
            self.assignments.append(Assignment(**self.where(declarator), target=name, operator="init",
                                               value=self.text(value), function=function))

    def entries(self, init_list: Node) -> tuple[InitializerEntry, ...]:
        result = []
        for item in init_list.named_children:
            if item.type == "initializer_pair":
                designators = item.children_by_field_name("designator")
                value = item.child_by_field_name("value")
                result.append(InitializerEntry(**self.where(item),
                                               designator="".join(self.text(d).replace(" ", "") for d in designators),
                                               value=self.text(value)))
            else:
                result.append(InitializerEntry(**self.where(item), designator="", value=self.text(item)))
        return tuple(result)

    def top_level_macro(self, node: Node) -> None:
        """`DEFINE_STATIC_SRCU(x);` at file scope parses as a call statement."""
        call = node.named_children[0] if node.named_children else None
        if call is None or call.type != "call_expression":
            return
        name = self.text(call.child_by_field_name("function"))
        if not _is_definition_macro(name):
            return
        args = macro_arguments(self.unit, call)
        self.globals.append(GlobalDefinition(**self.where(node), name=_definition_name(name, args), macro=name,
                                             args=args, type=None, is_static=False))


def _is_definition_macro(name: str) -> bool:
    return bool(_DEFINITION_NAME.match(name))


def _definition_name(macro: str, args: tuple[str, ...]) -> str:
    if not args:
        return ""
    return args[-1] if _NAME_IS_LAST.search(macro) else args[0]


def type_text(text: str) -> str:
    """A C type written one way: `struct a *`, `char **`, `int (*)(int x)`."""
    text = re.sub(r"\s*\*\s*", " *", squash(text))
    return text.replace("( *", "(*").replace("* *", "**").replace("* *", "**").strip()


def _unparen(text: str) -> str:
    return text[1:-1].strip() if text.startswith("(") and text.endswith(")") else text


def _operator_between(node: Node, left: Node | None, right: Node | None) -> str:
    for child in node.children:
        if not child.is_named and child is not left and child is not right:
            return child.type
    return "="


def _function_declarator(declarator: Node | None) -> Node | None:
    node = declarator
    while node is not None:
        if node.type == "function_declarator":
            return node
        if node.type in ("pointer_declarator", "parenthesized_declarator", "attributed_declarator"):
            node = node.child_by_field_name("declarator") or (node.named_children[0] if node.named_children else None)
        else:
            return None
    return None


def _pointer_depth(declarator: Node | None, stop: Node | None) -> int:
    depth = 0
    node = declarator
    while node is not None and node != stop:
        if node.type == "pointer_declarator":
            depth += 1
        node = node.child_by_field_name("declarator")
    return depth


def _array_parts(declarator: Node | None) -> tuple[list[Node | None], list[tuple[int, int]]]:
    """The size nodes of each array dimension, outermost last, and the byte spans of `[...]`."""
    sizes: list[Node | None] = []
    cuts: list[tuple[int, int]] = []
    node = declarator
    while node is not None:
        if node.type == "array_declarator":
            inner = node.child_by_field_name("declarator")
            sizes.append(node.child_by_field_name("size"))
            if inner is not None:
                cuts.append((inner.end_byte, node.end_byte))
            node = inner
        elif node.type in ("pointer_declarator", "parenthesized_declarator", "attributed_declarator",
                           "function_declarator"):
            node = node.child_by_field_name("declarator") or (node.named_children[0] if node.named_children else None)
        else:
            break
    sizes.reverse()  # `a[2][3]`: the outer declarator holds the last dimension
    return sizes, cuts


# --- comments and kernel-doc ---------------------------------------------------------------------

class _CommentIndex:
    def __init__(self, unit: CUnit):
        self.unit = unit
        self.by_last_line: dict[int, tuple[int, int]] = {}
        self.by_first_line: dict[int, tuple[int, int]] = {}
        for span in unit.comment_spans():
            first = unit.line_of(span[0])
            last = unit.line_of(max(span[0], span[1] - 1))
            self.by_last_line[last] = span
            self.by_first_line.setdefault(first, span)

    def alone_on_line(self, span: tuple[int, int]) -> bool:
        source = self.unit.source
        line_start = source.rfind(b"\n", 0, span[0]) + 1
        return not source[line_start:span[0]].strip()


def _comment_index(unit: CUnit) -> _CommentIndex:
    return _CommentIndex(unit)


_DOC_PARAM = re.compile(r"^\s*\*?\s*@(\w+|\.\.\.)\s*:\s?(.*)$")
_DOC_NAME = re.compile(r"^(?:(struct|union|enum|typedef)\s+)?([\w.]+)(?:\(\))?\s*(?:-\s*(.*))?$")


def _kernel_docs(unit: CUnit) -> dict[int, KernelDoc]:
    """Every `/** ... */` comment, keyed by the start byte of the node it documents (or -start)."""
    docs: dict[int, KernelDoc] = {}
    for start, end in unit.comment_spans():
        if not unit.source.startswith(b"/**", start) or unit.source.startswith(b"/***", start):
            continue
        text = unit.text((start, end))
        target_node = _first_node_after(unit.root, end)
        target, kind = _documented(unit, target_node)
        lines_of_doc = [re.sub(r"^\s*\*\s?", "", line) for line in text[3:-2].splitlines()]
        lines_of_doc = [line for line in lines_of_doc]
        first = next((line.strip() for line in lines_of_doc if line.strip()), "")
        summary = ""
        named = _DOC_NAME.match(first)
        if named:
            summary = (named.group(3) or "").strip()
            if target is None:
                target = named.group(2)
        params = _doc_params(text)
        lines = (unit.line_of(start), unit.line_of(max(start, end - 1)))
        key = target_node.start_byte if target_node is not None else -start - 1
        docs[key] = KernelDoc(lines=lines, added=unit.is_added(lines), text=text, target=target,
                              target_kind=kind, summary=summary, params=tuple(params))
    return docs


def _doc_params(text: str) -> list[tuple[str, str]]:
    """The `@name: description` entries of a kernel-doc comment; a blank line ends each one."""
    params: list[tuple[str, str]] = []
    open_entry = False
    for line in text[3:-2].splitlines():
        m = _DOC_PARAM.match(line)
        stripped = re.sub(r"^\s*\*\s?", "", line).strip()
        if m:
            params.append((m.group(1), m.group(2).strip()))
            open_entry = True
        elif not stripped or _DOC_SECTION.match(stripped):
            open_entry = False
        elif open_entry:
            params[-1] = (params[-1][0], (params[-1][1] + " " + stripped).strip())
    return params


_DOC_SECTION = re.compile(r"^(Return|Returns|Context|Note|Locking)s?:", re.I)


def _first_node_after(root: Node, offset: int) -> Node | None:
    """The first node that starts at or after `offset`, at the deepest level that contains it."""
    parent = root
    while True:
        found = None
        for child in parent.named_children:
            if child.end_byte <= offset:
                continue
            if child.start_byte >= offset:
                found = child
                break
            if child.type in ("field_declaration_list", "struct_specifier", "union_specifier",
                              "compound_statement", "declaration", "enumerator_list", "enum_specifier",
                              "translation_unit", "type_definition"):
                parent = child  # the comment sits inside this one
                break
            return None
        else:
            return None
        if found is not None:
            return found


def _documented(unit: CUnit, node: Node | None) -> tuple[str | None, str | None]:
    if node is None:
        return None, None
    kind = node.type
    if kind == "function_definition":
        ident = declarator_identifier(_function_declarator(node.child_by_field_name("declarator")))
        return (unit.text(ident) if ident else None), "function"
    if kind in ("struct_specifier", "union_specifier", "enum_specifier"):
        name = node.child_by_field_name("name")
        return (unit.text(name) if name else None), kind.split("_")[0]
    if kind in ("preproc_def", "preproc_function_def"):
        return unit.text(node.child_by_field_name("name")), "macro"
    if kind == "type_definition":
        ident = declarator_identifier(node.child_by_field_name("declarator"))
        return (unit.text(ident) if ident else None), "typedef"
    if kind == "field_declaration":
        ident = declarator_identifier(node.child_by_field_name("declarator"))
        return (unit.text(ident) if ident else None), "member"
    if kind == "declaration":
        type_node = node.child_by_field_name("type")
        declarator = node.child_by_field_name("declarator")
        if declarator is not None and _function_declarator(declarator) is not None:
            ident = declarator_identifier(_function_declarator(declarator))
            return (unit.text(ident) if ident else None), "function"
        if type_node is not None and type_node.child_by_field_name("body") is not None and declarator is None:
            name = type_node.child_by_field_name("name")
            return (unit.text(name) if name else None), type_node.type.split("_")[0]
        ident = declarator_identifier(declarator)
        return (unit.text(ident) if ident else None), "variable"
    return None, None
