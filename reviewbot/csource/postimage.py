"""The post-image of each C file a patch changes, parsed, with the lines the patch added.

What is known of a post-image depends on what we have: a new file is whole in the patch; a
modified file is known only inside its hunks (`ChangedFile.sparse_text()`, partial code that still
parses and maps line for line) unless the user gives a kernel tree, from which the pre-image is read
and the hunks applied. Paths from a patch are untrusted: a path that is absolute, has a `..`
component or a NUL byte, or resolves outside the tree, is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

from reviewbot.csource.parse import CUnit, parse_c
from reviewbot.diff import ADDED, DELETED, ChangedFile, parse_changed_files
from reviewbot.errors import InputError

C_SUFFIXES = (".c", ".h")


def is_c_path(path: str) -> bool:
    return path.endswith(C_SUFFIXES)


def tree_file(tree: str | os.PathLike, relative: str) -> Path:
    """The file `relative` inside `tree`, refusing any path that could escape it."""
    if "\0" in relative or not relative:
        raise InputError(f"refusing path from the patch: {relative!r}")
    parts = relative.replace("\\", "/").split("/")
    if relative.startswith("/") or os.path.isabs(relative) or ".." in parts:
        raise InputError(f"refusing path from the patch: {relative}")
    root = Path(tree).resolve()
    target = (root / relative).resolve()
    if target != root and root not in target.parents:
        raise InputError(f"refusing path from the patch (leaves the tree): {relative}")
    return target


def post_image(changed: ChangedFile, tree: str | os.PathLike | None = None) -> tuple[str, bool]:
    """The post-image text of a changed file and whether it is complete.

    A new file is complete from the patch. A modified or renamed file is complete when `tree` is
    given (its pre-image is read from there and the hunks applied); otherwise it is the sparse
    text: hunk lines at their line numbers, every other line blank.
    """
    if changed.status == DELETED:
        return "", True
    if changed.post_image_complete or tree is None:
        return changed.sparse_text(), changed.post_image_complete
    source = tree_file(tree, changed.source_path or changed.path)
    try:
        pre = source.read_bytes().decode("utf-8", "surrogateescape")
    except OSError as exc:
        raise InputError(f"cannot read {changed.source_path or changed.path} in the tree: {exc.strerror}") from None
    return apply_hunks(pre, changed), True


def apply_hunks(pre_image: str, changed: ChangedFile) -> str:
    """Apply a file's hunks to its pre-image; InputError when the context does not match."""
    lines = pre_image.split("\n")
    trailing_newline = lines[-1] == ""
    if trailing_newline:
        lines.pop()
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    result: list[str] = []
    pos = 0  # index of the next pre-image line
    for hunk in changed.hunks:
        start = hunk.source_start if hunk.source_length == 0 else hunk.source_start - 1
        if start < pos or start > len(lines):
            raise InputError(f"{changed.path}: hunk at line {hunk.source_start} does not apply to the tree")
        result.extend(lines[pos:start])
        pos = start
        for line in hunk.lines:
            if line.kind == "+":
                result.append(line.text)
                continue
            if pos >= len(lines) or lines[pos] != line.text:
                raise InputError(f"{changed.path}: line {pos + 1} of the tree does not match the patch")
            if line.kind == " ":
                result.append(line.text)
            pos += 1
    result.extend(lines[pos:])
    for number, text in changed.post_image.items():
        if number > len(result) or result[number - 1] != text:
            raise InputError(f"{changed.path}: the patch does not apply to the tree at line {number}")
    return "\n".join(result) + ("\n" if trailing_newline or not result else "")


def unit_of_changed_file(changed: ChangedFile, tree: str | os.PathLike | None = None) -> CUnit:
    """Parse a changed file's post-image; `added_lines` are the lines the patch added."""
    text, complete = post_image(changed, tree)
    return parse_c(text, changed.path, added_lines=changed.added_lines, complete=complete)


def units_from_patch(body: str, tree: str | os.PathLike | None = None) -> tuple[CUnit, ...]:
    """A CUnit for each .c/.h file the patch adds or modifies (deleted files have none)."""
    return tuple(
        unit_of_changed_file(changed, tree)
        for changed in parse_changed_files(body)
        if is_c_path(changed.path) and changed.status != DELETED and not changed.is_binary
    )


__all__ = ["ADDED", "apply_hunks", "is_c_path", "post_image", "tree_file", "unit_of_changed_file",
           "units_from_patch"]
