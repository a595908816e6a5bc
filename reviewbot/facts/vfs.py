"""What the VFS's RCU path walk reads of a filesystem: its callbacks and its sb info.

RCU path walk takes no references and no locks: a walker can be inside a filesystem's
->d_hash()/->d_compare() (always called in RCU mode), ->d_revalidate() with LOOKUP_RCU,
->permission() with MAY_NOT_BLOCK or ->get_link() with a NULL dentry while the filesystem is being
unmounted. Those callbacks commonly read `sb->s_fs_info` (the "sb info") and what hangs off it.
RCU009 (a teardown frees the sb info at once) and the lifetime model (which runs such a callback
against the teardown) both read the code through this module, on the text of the file and, with a
kernel tree, of the other files of its folder (a filesystem's dentry and inode operations often
live in dir.c/namei.c, its sb-info accessor in a header of the folder).
"""

from __future__ import annotations

import os
import re

TEARDOWN = (".kill_sb", ".put_super")
WALK_MEMBERS = (".d_hash", ".d_compare", ".d_revalidate", ".permission", ".get_link")
# what RCU mode looks like to each callback (include/linux/namei.h, include/linux/fs.h)
LOOKUP_RCU = 0x0040
MAY_NOT_BLOCK = 0x00000080
# a name-shaped accessor of the sb info: `AFFS_SB(sb)`, `proc_sb_info(sb)`, `NFS_SERVER(inode)`
ACCESSOR = re.compile(r"(?i)^\w*(?:_sb|sbi|_sb_info|_fs_info|_super|_server|_info)$")
# a callback that bails out of RCU mode (`if (mask & MAY_NOT_BLOCK) return -ECHILD;`) reads nothing
# after that in RCU walk
BAIL = re.compile(r"if\s*\(\s*(?:\(?\s*\w+\s*&\s*(?:MAY_NOT_BLOCK|LOOKUP_RCU)\s*\)?|!\s*\w+)\s*\)\s*"
                  r"(?:\{\s*)?return\s+(?:ERR_PTR\s*\(\s*)?-ECHILD")
ACCESSOR_FN = re.compile(r"\b(\w+)\s*\(\s*(?:const\s+)?struct\s+super_block\s*\*\s*\w+\s*\)\s*\{\s*"
                         r"return\s+(?:\([^()]*\)\s*)?\w+\s*->\s*s_fs_info\s*;\s*\}")
ACCESSOR_MACRO = re.compile(r"#\s*define\s+(\w+)\s*\(\s*\w+\s*\)\s+[(\s]*(?:\([^()]*\)\s*)?\(?\s*\w+\s*\)?\s*->\s*s_fs_info\b")
_CALLBACKS = re.compile(r"\.(d_hash|d_compare|d_revalidate|permission|get_link)\s*=\s*(\w+)")
_KEYWORDS = re.compile(r"(?:if|for|while|switch|return|sizeof|likely|unlikely)")


def accessors_in(text: str) -> set[str]:
    """Functions and macros that return a super_block's s_fs_info (`AFFS_SB(sb)`, `ntfs_sb(sb)`)."""
    if "s_fs_info" not in text:
        return set()
    return set(ACCESSOR_FN.findall(text)) | set(ACCESSOR_MACRO.findall(text))


def uses_info(text: str, accessors: set[str]) -> bool:
    """Whether code uses the sb info, not only computes its address: dereferences it
    (`AFFS_SB(sb)->s_flags`, `sb->s_fs_info->x`, `sbi->nls` for `sbi = XXX_SB(sb)`) or hands it to a
    call."""
    get = r"(?:\w+\s*->\s*)*s_fs_info\b"
    if accessors:
        get += "|" + "|".join(rf"\b{re.escape(a)}\s*\((?:[^()]|\([^()]*\))*\)" for a in sorted(accessors))
    if re.search(rf"(?:{get})\s*->", text):
        return True
    if re.search(rf"\w\s*\(\s*(?:{get})\s*[,)]", text) or re.search(rf",\s*(?:{get})\s*[,)]", text):
        return True
    for local in re.findall(rf"\b(\w+)\s*=\s*(?:\([^()]*\)\s*)?(?:{get})\s*;", text):
        if re.search(rf"\b{local}\s*->|\w\s*\((?:[^;()]*,)?\s*{local}\s*[,)]|,\s*{local}\s*[,)]", text):
            return True
    return False


def folder_of(ctx) -> "Folder":
    """The Folder of the file under review (an engine FileContext): the file and, with a kernel tree,
    the files beside it; read once per patch for RCU009 and the lifetime model alike."""
    def read() -> Folder:
        where = os.path.join(ctx.tree, os.path.dirname(ctx.path)) if ctx.tree else None
        return Folder(where, os.path.basename(ctx.path), ctx.unit.source.decode("utf-8", "replace"))

    return ctx.shared("vfs-folder", read)


class Folder:
    """The C files and headers of one folder, read as text: the file under review (`own`, its
    post-image text) and, with a kernel tree, the others beside it (`path`; None: the file alone)."""

    def __init__(self, path: str | None, own: str, own_text: str):
        self.path = path
        self.texts: dict[str, str] = {}
        try:
            names = sorted(os.listdir(path)) if path else []
        except OSError:
            names = []
        for name in names:
            if name.endswith((".c", ".h")) and name != own:
                try:
                    with open(os.path.join(path, name), encoding="utf-8", errors="replace") as f:
                        self.texts[name] = f.read()
                except OSError:
                    pass
        self.own = own
        self.texts[own] = own_text
        self._bodies: dict[str, tuple[str, str] | None] = {}
        self.accessors: set[str] = set()
        for text in self.texts.values():
            self.accessors |= accessors_in(text)

    def ops(self, ops: str):
        """(file, member, function) of the dentry operations `ops` defined in the folder."""
        pattern = re.compile(rf"\b{re.escape(ops)}\s*(?:\[\w*\])?\s*=\s*\{{")
        for name, text in self.texts.items():
            m = pattern.search(text)
            if m:
                end = text.find("};", m.end())
                body = text[m.end():end if end > 0 else len(text)]
                for member, fn in re.findall(r"\.(d_hash|d_compare|d_revalidate)\s*=\s*(\w+)", body):
                    yield name, member, fn
                return

    def definition(self, fn: str) -> tuple[str, str] | None:
        """(file, body text) of the function `fn` defined in the folder."""
        if fn not in self._bodies:
            self._bodies[fn] = None
            pattern = re.compile(rf"(?m)^(?:[A-Za-z_][\w \t\*]*[\s\*])?{re.escape(fn)}\s*\([^;{{}}]*?\)\s*\{{")
            for name, text in self.texts.items():
                m = pattern.search(text)
                if m:
                    depth, i = 1, m.end()
                    while i < len(text) and depth:
                        depth += {"{": 1, "}": -1}.get(text[i], 0)
                        i += 1
                    self._bodies[fn] = (name, text[m.end():i])
                    break
        return self._bodies[fn]

    def body(self, fn: str) -> str | None:
        found = self.definition(fn)
        return found[1] if found else None

    def reads(self, fn: str, accessors: set[str], always: bool, depth: int = 2) -> bool:
        """Whether `fn` (or a function of the folder it calls) uses the sb info in RCU mode: before
        any `if (<RCU mode>) return -ECHILD;` unless `always` (->d_hash/->d_compare)."""
        text = self.body(fn)
        if not text:
            return False
        if not always:
            bail = BAIL.search(text)
            if bail:
                text = text[:bail.start()]
        if uses_info(text, accessors):
            return True
        if depth:
            for callee in sorted(set(re.findall(r"\b(\w+)\s*\(", text)) - {fn}):
                if not _KEYWORDS.fullmatch(callee) and self.reads(callee, accessors, True, depth - 1):
                    return True
        return False

    def readers(self, accessors: set[str]) -> list[tuple[str, str, str]]:
        """(file of the operations table, member, function) of every callback RCU walk calls, set in
        an operations table of the folder, that reads the sb info in RCU mode; sorted."""
        found = set()
        for name, text in self.texts.items():
            for member, fn in _CALLBACKS.findall(text):
                found.add((name, member, fn))
        return [(name, member, fn) for name, member, fn in sorted(found)
                if self.reads(fn, accessors, always=member in ("d_hash", "d_compare"))]

    def files_of(self, fn: str, depth: int = 2) -> set[str]:
        """The files of the folder that define `fn` and the functions of the folder it calls, to
        `depth` calls down (what `reads()` looked at)."""
        found = self.definition(fn)
        if found is None:
            return set()
        out = {found[0]}
        if depth:
            for callee in sorted(set(re.findall(r"\b(\w+)\s*\(", found[1])) - {fn}):
                if not _KEYWORDS.fullmatch(callee):
                    out |= self.files_of(callee, depth - 1)
        return out

    def reader(self, accessors: set[str]) -> str | None:
        """The first of `readers()`, worded: "fn() (->member, in file.c)"."""
        found = self.readers(accessors)
        if not found:
            return None
        name, member, fn = found[0]
        return f"{fn}() (->{member}, in {name})"
