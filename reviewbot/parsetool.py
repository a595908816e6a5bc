"""`reviewbot parse`: show rule authors what the kernel-aware parser and the facts see.

    reviewbot parse mm/bpf_oom.c --tree          indented tree of the masked parse
    reviewbot parse 0001-foo.patch --facts       facts (JSON) of each changed C file's post-image
    reviewbot parse --stats mm kernel/bpf        parse robustness numbers (JSON)
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import json
import os
import sys
from pathlib import Path

from reviewbot.errors import InputError

PATCH_SUFFIXES = (".patch", ".diff", ".eml", ".mbox")
# As git decides that a file is binary: a NUL byte in its first 8000 bytes. C source and mail have none.
BINARY_PROBE = 8000


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "parse",
        help="show the kernel-aware parse tree or the facts of C files and patches",
        description="Parse .c/.h files, or the post-images of the C files a patch (.patch/.eml) "
        "changes, and print the tree, the s-expression or the facts; or measure parse robustness.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="a .c/.h file, a patch, or (with --stats) a folder")
    show = parser.add_mutually_exclusive_group()
    show.add_argument("--tree", dest="show", action="store_const", const="tree", help="print an indented tree (default)")
    show.add_argument("--sexp", dest="show", action="store_const", const="sexp", help="print the s-expression")
    show.add_argument("--facts", dest="show", action="store_const", const="facts", help="print the facts as JSON")
    show.add_argument("--stats", dest="show", action="store_const", const="stats",
                      help="print JSON parse statistics over files and folders (*.c, *.h, recursive)")
    parser.add_argument("--raw", action="store_true", help="parse with plain tree-sitter-c, without the kernel mask")
    parser.add_argument("--kernel-tree", "--source-tree", dest="kernel_tree", metavar="DIR",
                        help="a kernel tree to read pre-images from, so a patched file is parsed whole")
    parser.set_defaults(func=run, show=None)


def run(args) -> int:
    show = args.show or "tree"
    if show == "stats":
        from reviewbot.csource.stats import measure

        for p in args.paths:
            if not Path(p).exists():
                raise InputError(f"no such file or folder: {p}")
        totals = measure(args.paths, raw=args.raw)
        print(json.dumps(totals, indent=2))
        if not totals["files"]:
            # All-zero statistics look like a clean parse; say that nothing was parsed at all.
            sys.stderr.write(f"reviewbot: parse --stats: no .c or .h file in {', '.join(args.paths)}\n")
        return 0
    try:
        _show(args, show, sys.stdout)
    except BrokenPipeError:  # `reviewbot parse x.c | head`
        sys.stdout = open(os.devnull, "w")
    return 0


def _show(args, show: str, out) -> None:
    for path in args.paths:
        for unit in _units(path, args.raw, args.kernel_tree):
            if show == "facts":
                from reviewbot.facts import facts_of

                out.write(json.dumps(facts_json(facts_of(unit)), indent=2) + "\n")
            elif show == "sexp":
                out.write(f";; {unit.path}\n{unit.root}\n")
            else:
                out.write(f"# {unit.path}\n")
                write_tree(unit, out)


def _units(path: str, raw: bool, kernel_tree: str | None):
    from reviewbot.csource import parse_c, units_from_patch

    file = Path(path)
    if not file.is_file():
        raise InputError(f"no such file: {path}")
    data = file.read_bytes()
    if b"\0" in data[:BINARY_PROBE]:
        raise InputError(f"{path}: a binary file, not C source or a patch")
    if file.suffix in PATCH_SUFFIXES or data.startswith((b"From ", b"diff --git")):
        body = _patch_body(data)
        units = units_from_patch(body, kernel_tree)
        if raw:
            units = tuple(parse_c(u.source, u.path, added_lines=u.added_lines, complete=u.complete, raw=True)
                          for u in units)
        return units
    return (parse_c(data, path, raw=raw),)


def _patch_body(data: bytes) -> str:
    text = data.decode("utf-8", "replace")
    if text.startswith("diff --git") or "\n---" not in text[:200] and text.startswith("---"):
        return text
    message = email.message_from_bytes(data, policy=email.policy.default)
    if message.is_multipart() or message.get("Subject") is not None:
        body = message.get_body(("plain",))
        if body is not None:
            return body.get_content()
    return text


def write_tree(unit, out) -> None:
    """One line per named node: indent, type, field name, line range, original text if short."""
    cursor = unit.root.walk()
    depth = 0
    while True:
        node = cursor.node
        if node.is_named or node.is_missing:
            field = cursor.field_name
            first, last = node.start_point[0] + 1, node.end_point[0] + 1
            label = ("MISSING " if node.is_missing else "") + node.type
            where = f"{first}" if first == last else f"{first}-{last}"
            text = ""
            if node.child_count == 0 or node.is_error:
                snippet = " ".join(unit.text(node).split())
                text = " " + json.dumps(snippet[:60] + ("..." if len(snippet) > 60 else ""))
            out.write(f"{'  ' * depth}{field + ': ' if field else ''}{label} [{where}]{text}\n")
        if cursor.goto_first_child():
            depth += 1
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return
            depth -= 1


def facts_json(facts) -> dict:
    """Facts as plain JSON data (dataclasses to dicts, tuples to lists)."""
    data = {}
    for f in dataclasses.fields(facts):
        if not f.compare:  # the unit and the flow cache are how facts are kept, not facts
            continue
        value = getattr(facts, f.name)
        if f.name == "error_lines":
            value = sorted(value)
        data[f.name] = _plain(value)
    data["flows"] = _plain(facts.flows)
    return data


def _plain(value):
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return value
