"""CUnit: one C text parsed the kernel-aware way, with the original bytes beside the tree.

The tree is built from the masked text (see mask.py), which is byte-for-byte as long as the
source, so every node's byte range and line is the source's. Checks read what a node *says*
through `CUnit.text(node)`, which slices the original source, never the masked text.

Parsing never raises on bad C: tree-sitter always yields a tree, and the lines it could not read
are in `error_lines`. Parsing the same text twice returns the cached tree.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field
from typing import Any, Iterator

from reviewbot.csource.mask import mask_source

Node = Any  # a tree_sitter.Node; typed loosely so no other module needs to import tree_sitter


@functools.cache
def _parser():
    # Created on first use so `import reviewbot.csource` stays cheap.
    import tree_sitter
    import tree_sitter_c

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_c.language()))


def _to_bytes(source: bytes | str) -> bytes:
    if isinstance(source, str):
        return source.encode("utf-8", "surrogateescape")
    return bytes(source)


@functools.lru_cache(maxsize=128)
def _parse_bytes(source: bytes, raw: bool):
    if raw:
        masked, comments = source, ()
    else:
        result = mask_source(source)
        masked, comments = result.text, result.comments
    tree = _parser().parse(masked)
    return masked, comments, tree


@dataclass(frozen=True, eq=False)
class CUnit:
    """A parsed C text: the original source, the masked text the tree was built from, the tree.

    `added_lines` are the 1-based lines a patch added (empty when the text is not from a patch);
    `complete` is False when only the hunks of a modified file are known (the other lines blank).
    """

    path: str
    source: bytes
    masked: bytes
    tree: Any
    comments: tuple[tuple[int, int], ...]
    added_lines: frozenset[int] = frozenset()
    complete: bool = True
    raw: bool = False
    _line_starts: list[int] = field(default_factory=list, repr=False)

    # -- the tree

    @property
    def root(self) -> Node:
        return self.tree.root_node

    @functools.cached_property
    def _functions(self) -> tuple[tuple[Node, ...], dict[str, Node]]:
        """The function_definition nodes in source order, and by name (the last of a name wins)."""
        nodes = self._find_functions()
        by_name: dict[str, Node] = {}
        for node in nodes:
            name = self.function_name(node)
            # Two definitions of a name sit in exclusive #if branches (`#ifdef CONFIG_X` the real
            # one, `#else` an empty stub): the longer one is the code worth reading.
            if name is not None and (name not in by_name or
                                     node.end_byte - node.start_byte > by_name[name].end_byte - by_name[name].start_byte):
                by_name[name] = node
        return nodes, by_name

    def functions(self) -> tuple[Node, ...]:
        """Every function_definition node, in source order (nested ones in ERROR nodes too)."""
        return self._functions[0]

    def _find_functions(self) -> tuple[Node, ...]:
        found: list[Node] = []
        stack = [self.root]
        while stack:
            node = stack.pop()
            for child in reversed(node.children):
                if child.type == "function_definition":
                    found.append(child)
                elif child.type in _FUNCTION_CONTAINERS:
                    stack.append(child)
        return tuple(sorted(found, key=lambda n: n.start_byte))

    def function(self, name: str) -> Node | None:
        """The function_definition node of the function called `name` (the longest if several)."""
        return self._functions[1].get(name)

    def function_name(self, definition: Node) -> str | None:
        ident = declarator_identifier(definition.child_by_field_name("declarator"))
        return self.text(ident) if ident is not None else None

    # -- text and lines

    def text(self, node_or_span) -> str:
        """The original source text of a node (or of a (start_byte, end_byte) span)."""
        if isinstance(node_or_span, tuple):
            start, end = node_or_span
        else:
            start, end = node_or_span.start_byte, node_or_span.end_byte
        return self.source[start:end].decode("utf-8", "replace")

    def line_of(self, byte_offset: int) -> int:
        """1-based line of a byte offset."""
        import bisect

        starts = self._starts()
        return bisect.bisect_right(starts, byte_offset)

    def lines(self, node) -> tuple[int, int]:
        """1-based first and last line of a node."""
        return node.start_point[0] + 1, node.end_point[0] + 1

    def is_added(self, node_or_lines) -> bool:
        """True when the patch added any line of the node (or of a (first, last) line range)."""
        if not self.added_lines:
            return False
        first, last = node_or_lines if isinstance(node_or_lines, tuple) else self.lines(node_or_lines)
        if self._all_added:  # a new file: every line is added, so any node is
            return True
        if last - first > len(self.added_lines):
            return any(first <= n <= last for n in self.added_lines)
        return any(n in self.added_lines for n in range(first, last + 1))

    @functools.cached_property
    def _all_added(self) -> bool:
        return len(self.added_lines) >= self.line_count and all(
            n in self.added_lines for n in range(1, self.line_count + 1))

    @property
    def line_count(self) -> int:
        if not self.source:
            return 0
        return self.source.count(b"\n") + (0 if self.source.endswith(b"\n") else 1)

    @functools.cached_property
    def error_lines(self) -> frozenset[int]:
        """1-based lines that any ERROR or MISSING node covers."""
        rows: set[int] = set()
        for node in error_nodes(self.root):
            rows.update(range(node.start_point[0] + 1, node.end_point[0] + 2))
        return frozenset(rows)

    def comment_spans(self) -> tuple[tuple[int, int], ...]:
        """Byte spans of every comment of the source (found while masking)."""
        if self.raw:
            return _comments_of(self.source)
        return self.comments

    def _starts(self) -> list[int]:
        if not self._line_starts:
            # line lengths from one C-level split, summed by accumulate: no Python loop per line
            # (a modified file's sparse text is mostly empty lines, and there can be thousands)
            lengths = map(len, self.source.split(b"\n"))
            self._line_starts.extend(itertools.accumulate(lengths, lambda total, n: total + n + 1, initial=0))
            self._line_starts.pop()
        return self._line_starts


# Function definitions sit at top level, or inside these when the parser could not do better.
_FUNCTION_CONTAINERS = frozenset(
    {"ERROR", "preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif", "linkage_specification",
     "declaration_list", "preproc_elifdef"}
)


def _comments_of(source: bytes) -> tuple[tuple[int, int], ...]:
    return mask_source(source).comments


def declarator_identifier(declarator: Node | None) -> Node | None:
    """The identifier a declarator declares (through pointers, arrays, parens, functions)."""
    node = declarator
    while node is not None:
        if node.type in ("identifier", "field_identifier", "type_identifier"):
            return node
        inner = node.child_by_field_name("declarator")
        if inner is None:
            inner = next((c for c in node.named_children if c.type.endswith("declarator") or
                          c.type in ("identifier", "field_identifier")), None)
        node = inner
    return None


def walk(node: Node) -> Iterator[Node]:
    """Every node under `node` (itself first), in source order."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def unparen(node: Node | None) -> Node | None:
    """The expression inside any number of parentheses."""
    while node is not None and node.type == "parenthesized_expression" and node.named_children:
        node = node.named_children[0]
    return node


def previous_statement(node: Node) -> Node | None:
    """The named sibling before `node`, comments passed over (the statement a rule reads with it)."""
    sib = node.prev_named_sibling
    while sib is not None and sib.type == "comment":
        sib = sib.prev_named_sibling
    return sib


def error_nodes(root: Node) -> Iterator[Node]:
    """Every ERROR or MISSING node under root (not descending into ERROR nodes)."""
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            yield node
        elif node.has_error:
            stack.extend(node.children)


def parse_c(
    source: bytes | str,
    path: str = "<source>",
    *,
    added_lines: frozenset[int] | set[int] = frozenset(),
    complete: bool = True,
    raw: bool = False,
) -> CUnit:
    """Parse C text kernel-aware (or plain tree-sitter-c with raw=True). Never raises on bad C."""
    data = _to_bytes(source)
    masked, comments, tree = _parse_bytes(data, raw)
    return CUnit(path, data, masked, tree, comments, frozenset(added_lines), complete, raw)
