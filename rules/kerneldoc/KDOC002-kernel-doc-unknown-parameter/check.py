"""KDOC002: a kernel-doc `@name:` line for a parameter (or struct member) that does not exist.

For a function or function-like macro whose kernel-doc name line is right (KDOC001 reports the
others), every `@name:` must be one of its parameters; scripts/kernel-doc otherwise warns "Excess
function parameter 'name' description in 'function'". For a `struct x - ...` / `union x - ...`
comment, every `@name:` must be a member ("Excess struct member 'name' description in 'x'").

To stay exact where the parser may misread a declaration, a name counts as present when it is any
word of the parameter list (or of the struct body), so only names that appear nowhere there are
flagged.
"""

from __future__ import annotations

import difflib
import re

from reviewbot.engine import Hit

_MEMBER_FORM = re.compile(r"^@(\w+)\s*:")
_NAME_FORM = re.compile(r"^(?:(struct|union)\s+)?([A-Za-z_]\w*)\s*(\(\s*\))?\s*(?:-+\s+.*|-+\s*$|$)")
_SECTION_NAMES = {"return", "returns", "context", "note", "notes", "description", "example", "locking"}


def first_line(doc) -> tuple[int, str] | None:
    for i, raw in enumerate(doc.text.splitlines()):
        text = raw.split("/**", 1)[1] if i == 0 and "/**" in raw else raw
        text = re.sub(r"^\s*\*(?!/)\s?", "", text).split("*/", 1)[0].strip()
        if text:
            return doc.lines[0] + i, text
    return None


def following(lines: list[str], doc, stop_at_brace: bool) -> tuple[str, int]:
    """The source after the comment: up to the first `;`/`{` at paren depth 0 (a function), to the
    brace that closes the first `{` (a struct), or the end of the first #define. Returns the text and
    the number of lines it spans."""
    rest = [lines[doc.lines[1] - 1].rsplit("*/", 1)[-1]] + lines[doc.lines[1]:doc.lines[1] + 400]
    out: list[str] = []
    paren = brace = 0
    opened = False
    i = 0
    while i < len(rest):
        line = rest[i]
        if line.lstrip().startswith("#") and not opened:
            is_define = line.lstrip().startswith(("#define", "# define"))
            out.append(line)
            while line.endswith("\\") and i + 1 < len(rest):
                i += 1
                line = rest[i]
                out.append(line)
            if is_define:
                return "\n".join(out), len(out)
            i += 1
            continue
        for j, c in enumerate(line):
            if c == "(":
                paren += 1
            elif c == ")":
                paren -= 1
            elif c == "{":
                if stop_at_brace and paren <= 0:
                    out.append(line[:j])
                    return "\n".join(out), len(out)
                brace += 1
                opened = True
            elif c == "}":
                brace -= 1
                if opened and brace == 0:
                    out.append(line[:j + 1])
                    return "\n".join(out), len(out)
            elif c == ";" and paren <= 0 and brace == 0 and stop_at_brace:
                out.append(line[:j])
                return "\n".join(out), len(out)
        out.append(line)
        i += 1
    return "\n".join(out), 0  # never closed: we do not know where it ends


def _strip_comments(text: str) -> str:
    return re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)


def param_names(decl: str, name: str, macro: bool = False) -> list[str] | None:
    """The parameter names of `name(...)` in a declaration or #define, roughly; None if not found."""
    m = re.search(r"(?<![\w$])" + re.escape(name) + r"\s*\(", decl)
    if not m:
        return None
    depth, start = 1, m.end()
    for k in range(start, len(decl)):
        if decl[k] == "(":
            depth += 1
        elif decl[k] == ")":
            depth -= 1
            if depth == 0:
                inner = decl[start:k]
                break
    else:
        return None
    names = []
    depth, piece = 0, ""
    for c in inner + ",":
        if c == "," and depth == 0:
            piece = piece.strip()
            fp = re.search(r"\(\s*\*\s*(\w+)\s*\)", piece)
            if fp:
                names.append(fp.group(1))
            elif piece == "...":
                names.append("...")
            elif piece and piece != "void":
                bare = re.sub(r"\[[^\]]*\]", "", piece)
                words = re.findall(r"\w+", bare)
                if not macro and _unnamed(bare, words):
                    names.append("")  # a parameter with no name: we cannot tell what it is called
                elif words:
                    names.append(words[-1])
            piece = ""
            continue
        depth += c in "([{"
        depth -= c in ")]}"
        piece += c
    return names


_QUALIFIERS = {"const", "volatile", "restrict", "__restrict", "__user", "__iomem", "__force", "__percpu",
               "__rcu", "register", "unsigned", "signed", "struct", "union", "enum"}


def _unnamed(piece: str, words: list[str]) -> bool:
    """`const struct foo *`, `int`, `unsigned long`: a type with no parameter name after it."""
    if piece.rstrip().endswith("*"):
        return True
    rest = [w for w in words if w not in _QUALIFIERS]
    if re.search(r"\b(?:struct|union|enum)\s+\w+\s*$", piece):
        return True
    return len(rest) <= 1 and not re.search(r"\b(?:struct|union|enum)\b", piece) and (
        len(words) == 1 or all(w in _QUALIFIERS or w in ("int", "long", "char", "short") for w in words))


def _doc_line(doc, param: str) -> int:
    for i, raw in enumerate(doc.text.splitlines()):
        if re.search(r"(?:^|\s|\*)@" + re.escape(param) + r"\s*:", raw):
            return doc.lines[0] + i
    return doc.lines[0]


def _known(ctx, first: int, last: int) -> bool:
    return ctx.facts.complete or all(n in ctx.file.post_image for n in range(first, last + 1))


def check(ctx):
    facts = ctx.facts
    lines = None
    for doc in facts.kernel_docs:
        if not doc.target or doc.target_kind not in ("function", "macro", "struct", "union") or not doc.params:
            continue
        found = first_line(doc)
        if found is None or _MEMBER_FORM.match(found[1]):
            continue  # member form: KDOC001's, or an inline member comment
        m = _NAME_FORM.match(found[1])
        if not m or m.group(2) != doc.target:
            continue  # a name line for something else: KDOC001's
        if lines is None:
            lines = ctx.unit.source.decode("utf-8", "replace").split("\n")
        if doc.target_kind in ("struct", "union"):
            if m.group(1) != doc.target_kind:
                continue
            text, span = following(lines, doc, stop_at_brace=False)
            if not span or not _known(ctx, doc.lines[0], doc.lines[1] + span - 1):
                continue
            if re.search(r"^\s*#\s*include\b", text, re.M):
                continue  # members come from an included file
            words = set(re.findall(r"\w+", _strip_comments(text)))
            stray = [p for p, _ in doc.params
                     if p != "..." and p.lower() not in _SECTION_NAMES and not all(x in words for x in p.split("."))]
            if not stray:
                continue
            kind = doc.target_kind
            candidates = sorted(w for w in words if not w.isupper())
            hints = [f"@{p} be @{c[0]}" for p in stray
                     for c in [difflib.get_close_matches(p, candidates, n=1, cutoff=0.75)] if c]
            hint = f" Should {' and '.join(hints)}?" if hints else " Is it left over from an earlier version?"
            yield Hit(line=doc.lines[0], end_line=max(_doc_line(doc, p) for p in stray), args={
                "what": f"{kind} {doc.target}",
                "params": _listing(stray),
                "detail": (f"{kind} {doc.target} has no {_plural(stray, 'member')}; scripts/kernel-doc "
                           f"warns \"Excess struct member '{stray[0]}' description in '{doc.target}'\".{hint}")})
            continue
        if doc.target_kind == "macro":
            macro = facts.macro(doc.target)
            if macro is None or macro.params is None:
                continue
        text, span = following(lines, doc, stop_at_brace=True)
        if not span or not _known(ctx, doc.lines[0], doc.lines[1] + span - 1):
            continue
        names = param_names(text, doc.target, macro=doc.target_kind == "macro")
        if names is None or "" in names:
            continue
        m_args = re.search(r"(?<![\w$])" + re.escape(doc.target) + r"\s*\(", text)
        words = set(re.findall(r"\w+", _strip_comments(text[m_args.end():])))
        variadic = "..." in names or "__VA_ARGS__" in text
        stray = [p for p, _ in doc.params
                 if p.lower() not in _SECTION_NAMES and p not in words
                 and not ((p == "..." or p.endswith("...")) and variadic)]
        if not stray:
            continue
        real = [n for n in names if n != "..."]
        has = f"its parameters are {', '.join(real)}" if real else "it takes no parameters"
        documented = {p for p, _ in doc.params}
        undocumented = [n for n in real if n not in documented]
        hints = [f"@{p} be @{c[0]}" for p in stray for c in [difflib.get_close_matches(p, real, n=1, cutoff=0.6)] if c]
        if hints:
            hint = f" Should {' and '.join(hints)}?"
        elif len(stray) == len(undocumented) == 1:
            hint = f" Is it the description of `{undocumented[0]}`?"
        else:
            hint = " Is it left over from an earlier version, or does it belong to another patch?"
        yield Hit(line=doc.lines[0], end_line=max(_doc_line(doc, p) for p in stray), args={
            "what": f"{doc.target}()",
            "params": _listing(stray),
            "detail": (f"{doc.target}() has no {_plural(stray, 'parameter')} ({has}); scripts/kernel-doc "
                       f"warns \"Excess function parameter '{stray[0]}' description in '{doc.target}'\".{hint}")})


def _listing(names: list[str]) -> str:
    items = [f"@{n}" for n in names]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _plural(names: list[str], word: str) -> str:
    return f"{word} of that name" if len(names) == 1 else f"{word}s by those names"
