"""Tree-sitter queries for rule authors: a rule's query.scm finds candidate sites, its judge decides.

Queries run over the masked tree, so kernel idioms look like plain C to them (an iterator macro is
a `while` whose condition holds the macro's arguments); captured nodes' text is read from the
original source with `CUnit.text()`.
"""

from __future__ import annotations

import functools

from reviewbot.csource.parse import CUnit, Node
from reviewbot.errors import InputError


@functools.lru_cache(maxsize=256)
def compile_query(source: str):
    """A compiled query; InputError (one line) when it does not compile."""
    import tree_sitter
    import tree_sitter_c

    try:
        return tree_sitter.Query(tree_sitter.Language(tree_sitter_c.language()), source)
    except (tree_sitter.QueryError, ValueError) as exc:
        raise InputError(f"query does not compile: {' '.join(str(exc).split())}") from None


def query_matches(unit: CUnit, source: str) -> list[dict[str, list[Node]]]:
    """Every match of the query in the unit: capture name -> captured nodes (by start byte),
    matches ordered by where their first capture starts."""
    import tree_sitter

    cursor = tree_sitter.QueryCursor(compile_query(source))
    out = []
    for _pattern, captures in cursor.matches(unit.root):
        out.append({name: sorted(nodes, key=lambda n: n.start_byte) for name, nodes in captures.items()})
    out.sort(key=lambda m: min((n[0].start_byte for n in m.values() if n), default=0))
    return out
