"""The kernel C front end: the only package that imports tree_sitter / tree_sitter_c.

    unit = parse_c(source_bytes, "mm/bpf_oom.c")       # kernel-aware parse, never raises
    unit.function("bpf_handle_oom")                    # a tree-sitter node to walk
    unit.text(node)                                    # the node's original source text
    units_from_patch(body, tree=None)                  # the post-image of each changed C file

Importing this package is cheap: tree-sitter's Language and Parser are created on first use.
"""

# `mask` the function is not re-exported: it would hide the `mask` module of this package.
from reviewbot.csource.mask import Masked, mask_source
from reviewbot.csource.parse import (CUnit, Node, declarator_identifier, error_nodes, parse_c, previous_statement,
                                     unparen, walk)
from reviewbot.csource.query import compile_query, query_matches
from reviewbot.csource.postimage import is_c_path, post_image, unit_of_changed_file, units_from_patch

__all__ = [
    "CUnit",
    "Masked",
    "Node",
    "compile_query",
    "declarator_identifier",
    "error_nodes",
    "is_c_path",
    "mask_source",
    "parse_c",
    "post_image",
    "query_matches",
    "unit_of_changed_file",
    "units_from_patch",
    "previous_statement",
    "unparen",
    "walk",
]
