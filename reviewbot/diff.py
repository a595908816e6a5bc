"""The diff model: what each patch changes, file by file. The only module that imports unidiff.

A patch's body (commit message, `---`, diffstat, diff) goes in; `ChangedFile`s come out, one per file
the diff touches, with the post-image lines the patch shows and a map from post-image line numbers to
the line of the body that shows them (so a finding can quote the exact diff line).

What is known of a post-image depends on the file: a new file's whole post-image is in the patch; a
modified file's is known only inside its hunks (`post_image_complete` says which). `sparse_text()`
gives a text with every known post-image line at its own line number and every unknown line blank, so
a parser's line numbers are the file's line numbers either way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Mapping, NamedTuple

import unidiff

from reviewbot.errors import InputError

ADDED = "added"
MODIFIED = "modified"
DELETED = "deleted"
RENAMED = "renamed"


class DiffLine(NamedTuple):
    """One line of a hunk: kind is '+', '-' or ' '; text has no prefix and no newline. (A named
    tuple, not a frozen dataclass: a list replay makes 200,000 of them, and a frozen dataclass costs
    a setattr call per field.)"""

    kind: str
    text: str
    source_line: int | None
    target_line: int | None
    body_line: int  # 1-based line number in the patch body this line stands on


@dataclass(frozen=True)
class Hunk:
    source_start: int
    source_length: int
    target_start: int
    target_length: int
    section: str  # the text after the second @@: usually the enclosing function or struct
    header_body_line: int  # 1-based body line of the "@@ ... @@" header
    lines: tuple[DiffLine, ...]


@dataclass(frozen=True)
class ChangedFile:
    """One file a patch touches."""

    path: str  # the post-image path (the pre-image path for a deleted file)
    source_path: str | None  # the pre-image path; None for a new file
    status: str  # added | modified | deleted | renamed
    is_binary: bool
    hunks: tuple[Hunk, ...]
    post_image: Mapping[int, str]  # post-image line number -> text, for each line the patch shows
    body_lines: Mapping[int, int]  # post-image line number -> body line number
    added_lines: frozenset[int]  # post-image line numbers of '+' lines

    @property
    def post_image_complete(self) -> bool:
        """True when the whole post-image is in the patch (a new file); else only the hunks are."""
        return self.status == ADDED and not self.is_binary

    @property
    def post_image_length(self) -> int:
        return max(self.post_image, default=0)

    def sparse_text(self) -> str:
        """The post-image with every line the patch does not show left blank.

        Line N of the result is line N of the file whenever the patch shows it; for a new file this
        is exactly the file.
        """
        if not self.post_image:
            return ""
        out: list[str] = []
        last = 0
        for n in sorted(self.post_image):  # gaps as runs of newlines: a hunk at line 9000 is cheap
            if n - last > 1:
                out.append("\n" * (n - last - 1))
            out.append(self.post_image[n] + "\n")
            last = n
        return "".join(out)

    def removed_lines(self) -> tuple[DiffLine, ...]:
        return tuple(line for hunk in self.hunks for line in hunk.lines if line.kind == "-")

    def removals(self) -> Mapping[int, tuple[DiffLine, ...]]:
        """Where the patch deletes code: post-image line N -> the '-' lines that stood just before it.

        A patch that only deletes (a dropped unlock, a dropped synchronize_rcu()) adds no line a
        finding could stand on; the line that now follows the deleted ones is where the code
        changed (the first one that is not blank). A run of removed lines at the end of a hunk
        belongs to the line after the hunk's last one."""
        return self._removals

    @cached_property
    def _removals(self) -> Mapping[int, tuple[DiffLine, ...]]:  # computed once: finding_at asks per finding
        out: dict[int, tuple[DiffLine, ...]] = {}
        for hunk in self.hunks:
            run: list[DiffLine] = []
            last_target = hunk.target_start - 1
            for line in hunk.lines:
                if line.kind == "-":
                    run.append(line)
                    continue
                if run and line.kind == " " and not line.text.strip():
                    last_target = line.target_line if line.target_line is not None else last_target
                    continue  # a blank line after a deletion: the code it changed is further on
                if run:
                    target = line.target_line if line.target_line is not None else last_target + 1
                    out[target] = out.get(target, ()) + tuple(run)
                    run = []
                if line.target_line is not None:
                    last_target = line.target_line
            if run:
                out[last_target + 1] = out.get(last_target + 1, ()) + tuple(run)
        return MappingProxyType(out)


_DIFF_START = re.compile(r"^(diff --git |--- |Index: )", re.MULTILINE)


def parse_changed_files(body: str) -> tuple[ChangedFile, ...]:
    """Read every file diff in a patch body. Raises InputError on a diff unidiff cannot read."""
    start = _DIFF_START.search(body)
    if start is None:
        return ()
    # unidiff numbers lines from the text it is given; count the body lines before the diff so
    # every DiffLine knows where it stands in the whole body.
    offset = body.count("\n", 0, start.start())
    diff_text, body_line_of = git_view(body[start.start():])
    try:
        patch_set = unidiff.PatchSet(diff_text)
    except unidiff.UnidiffParseError as exc:
        raise InputError(f"broken diff: {_first_line(str(exc))}") from None
    for pf in patch_set:
        for hunk in pf:
            if max(hunk.source_start + hunk.source_length, hunk.target_start + hunk.target_length) > MAX_FILE_LINES:
                raise InputError(f"broken diff: a hunk of {pf.path} at line {max(hunk.source_start, hunk.target_start)}, "
                                 f"past the {MAX_FILE_LINES} lines of any source file")
    return tuple(_changed_file(pf, offset, body_line_of) for pf in patch_set)


# No kernel source file comes near this (the largest are generated headers of ~250,000 lines). A hunk
# header claiming lines past it would make every post-image text that many lines long.
MAX_FILE_LINES = 5_000_000

_HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
# Lines outside hunks that are part of a diff (git's extended headers, the file names, binary
# patches); everything else there is mail text: a signature, a list footer, a second attachment.
_FILE_HEADER = re.compile(
    r"^(?:diff --git |diff --cc |diff --combined |index |new file mode |deleted file mode |old mode |new mode "
    r"|similarity index |dissimilarity index |rename from |rename to |copy from |copy to "
    r"|Binary files |GIT binary patch|literal |delta |--- |\+\+\+ |Index: |={5,}$)")


def git_view(diff_text: str) -> tuple[str, list[int]]:
    """The diff as `git apply` reads it, and for each of its lines the line of `diff_text` it came from.

    git reads a hunk by the counts in its header: the hunk ends when they are met, an empty line
    inside it is an empty context line (mailers strip the lone space), and text between the
    last hunk of a file and the next header is ignored. unidiff is stricter: it reads a `-- `
    signature after a hunk that ends in removed lines as one more removed line, and the blank
    lines at the end of a mail as context. So this keeps exactly the lines git would use and
    gives unidiff those; a patch git applies is a patch we read.
    """
    lines = diff_text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    kept: list[str] = []
    origin: list[int] = []  # 0-based line of diff_text for each kept line
    old_left = new_left = 0  # lines the current hunk still needs on each side
    in_binary = False
    for n, line in enumerate(lines):
        if line.endswith("\r"):
            line = line[:-1]
        if old_left > 0 or new_left > 0:
            kind = line[:1]
            if line == "":
                line, kind = " ", " "
            if kind == " ":
                old_left, new_left = old_left - 1, new_left - 1
            elif kind == "-":
                old_left -= 1
            elif kind == "+":
                new_left -= 1
            elif kind == "\\":
                pass  # "\ No newline at end of file"
            else:
                old_left = new_left = 0  # a short hunk: unidiff will say so; read the line as a header
            if old_left or new_left or kind in " -+\\":
                if old_left < 0 or new_left < 0:
                    old_left = new_left = 0  # a long hunk: unidiff will say so
                kept.append(line)
                origin.append(n)
                continue
        if line.startswith("\\") and kept and not in_binary:
            kept.append(line)  # "\ No newline at end of file" right after a complete hunk
            origin.append(n)
            continue
        header = _HUNK_HEADER.match(line)
        if header is not None:
            old_left = int(header[2]) if header[2] is not None else 1
            new_left = int(header[4]) if header[4] is not None else 1
            in_binary = False
        elif line.startswith("diff "):
            in_binary = False
        elif line.startswith("GIT binary patch"):
            in_binary = True
        elif not (_FILE_HEADER.match(line) or (in_binary and line)):
            in_binary = in_binary and bool(line)
            continue
        kept.append(line)
        origin.append(n)
    return "".join(line + "\n" for line in kept), origin


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unreadable diff"


def _strip_prefix(path: str | None) -> str | None:
    if path is None or path == "/dev/null":
        return None
    return path[2:] if path.startswith(("a/", "b/")) else path


def _changed_file(pf: unidiff.PatchedFile, offset: int, body_line_of: list[int]) -> ChangedFile:
    source = _strip_prefix(pf.source_file)
    target = _strip_prefix(pf.target_file)
    if pf.is_added_file:
        status = ADDED
    elif pf.is_removed_file:
        status = DELETED
    elif pf.is_rename or (source and target and source != target):
        status = RENAMED
    else:
        status = MODIFIED
    path = target if status != DELETED else source
    if path is None:
        path = pf.path
    hunks = []
    post_image: dict[int, str] = {}
    body_lines: dict[int, int] = {}
    added: set[int] = set()
    for h in pf:
        lines = []
        for ln in h:
            if ln.line_type == "\\":
                continue  # "\ No newline at end of file" is about the line before, not a line
            kind = ln.line_type if ln.line_type in ("+", "-", " ") else " "
            text = ln.value.rstrip("\n")
            if text.endswith("\r"):
                text = text[:-1]
            # unidiff leaves diff_line_no unset on some lines of a mangled diff: keep the previous one
            body_line = (body_line_of[ln.diff_line_no - 1] + 1 + offset if ln.diff_line_no is not None
                         else (lines[-1].body_line if lines else offset))
            lines.append(DiffLine(kind, text, ln.source_line_no, ln.target_line_no, body_line))
            if ln.target_line_no is not None and status != DELETED:
                post_image[ln.target_line_no] = text
                body_lines[ln.target_line_no] = body_line
                if kind == "+":
                    added.add(ln.target_line_no)
        header_line = lines[0].body_line - 1 if lines else offset
        hunks.append(
            Hunk(
                h.source_start,
                h.source_length,
                h.target_start,
                h.target_length,
                (h.section_header or "").strip(),
                header_line,
                tuple(lines),
            )
        )
    return ChangedFile(
        path=path,
        source_path=source,
        status=status,
        is_binary=bool(getattr(pf, "is_binary_file", False)),
        hunks=tuple(hunks),
        post_image=MappingProxyType(post_image),
        body_lines=MappingProxyType(body_lines),
        added_lines=frozenset(added),
    )


def new_file_diff(path: str, text: str) -> str:
    """The diff of a patch that adds `path` with content `text`, as git format-patch writes it.

    Used to review code that did not come in a patch (a rule's cases.c, a source tree swept for
    false positives) with exactly the same machinery as a patch that adds the file.
    """
    lines = text.splitlines()
    out = [f"diff --git a/{path} b/{path}", "new file mode 100644", "--- /dev/null", f"+++ b/{path}"]
    if lines:
        out.append(f"@@ -0,0 +1,{len(lines)} @@" if len(lines) != 1 else "@@ -0,0 +1 @@")
        out.extend("+" + line for line in lines)
    return "\n".join(out) + "\n"


def change_diff(path: str, before: str, after: str, context: int = 3) -> str:
    """The diff of a patch that changes `path` from `before` to `after`, as `git diff -U<context>`
    writes it. With a context as long as the file, the whole post-image is in the patch: how a
    rule's before/after cases, or a mutant of a tree's file, are reviewed as the change they are."""
    import difflib

    a, b = before.splitlines(), after.splitlines()
    hunks = list(difflib.unified_diff(a, b, f"a/{path}", f"b/{path}", n=context, lineterm=""))
    if not hunks:
        return ""
    return "\n".join([f"diff --git a/{path} b/{path}", *hunks]) + "\n"
