"""KDOC001: a function's kernel-doc comment whose first line is not `name() - description`.

scripts/kernel-doc reads the first line of a `/** ... */` block as the name of what it documents:
`name() - description` (or `name - description`) for a function or a function-like macro. Two
mistakes are flagged, both on functions and function-like macros only:

- the member form `@name: description` (how struct members and parameters are written), which
  kernel-doc does not take for a function's name line;
- a name that is not the function below (`foo() - ...` above `bar()`), for which kernel-doc warns
  "expecting prototype for foo(). Prototype was for bar() instead".
"""

from __future__ import annotations

import re

from reviewbot.engine import Hit

_MEMBER_FORM = re.compile(r"^@(\w+)\s*:\s*(.*)$")
_NAME_FORM = re.compile(r"^(?:function\s+)?([A-Za-z_]\w*)\s*(\(\s*\))?\s*(?:-+\s+(.*)|-+\s*$|$)")


def first_line(doc) -> tuple[int, str] | None:
    """The first non-empty line of a kernel-doc block: (line number, text without the comment marks)."""
    for i, raw in enumerate(doc.text.splitlines()):
        text = raw
        if i == 0:
            text = text.split("/**", 1)[1] if "/**" in text else text
        text = re.sub(r"^\s*\*(?!/)\s?", "", text)
        text = text.split("*/", 1)[0].strip()
        if text:
            return doc.lines[0] + i, text
    return None


def declaration_text(lines: list[str], doc) -> str:
    """The source of the declaration after a kernel-doc block: up to the first `;` or `{` at
    parenthesis depth 0, or the end of the first #define (preprocessor lines on the way included)."""
    out: list[str] = []
    first = lines[doc.lines[1] - 1]
    rest = [first.rsplit("*/", 1)[-1]] + lines[doc.lines[1]:doc.lines[1] + 40]
    depth = 0
    i = 0
    while i < len(rest):
        line = rest[i]
        if line.lstrip().startswith("#"):
            is_define = line.lstrip().startswith(("#define", "# define"))
            while line.endswith("\\") and i + 1 < len(rest):
                out.append(line)
                i += 1
                line = rest[i]
            out.append(line)
            if is_define:
                break
            i += 1
            continue
        for j, c in enumerate(line):
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
            elif c in ";{" and depth <= 0:
                out.append(line[:j])
                return "\n".join(out)
        out.append(line)
        i += 1
    return "\n".join(out)


def names_function(decl: str, name: str) -> bool:
    """True when the declaration declares or defines `name` as a function or function-like macro."""
    return bool(re.search(r"(?<![\w$])" + re.escape(name) + r"\s*\(", decl))


def function_like(facts, doc) -> bool:
    if doc.target_kind == "function":
        return True
    if doc.target_kind == "macro":
        macro = facts.macro(doc.target)
        return macro is not None and macro.params is not None
    return False


def check(ctx):
    facts = ctx.facts
    lines = None
    for doc in facts.kernel_docs:
        if not doc.target or not function_like(facts, doc):
            continue
        if lines is None:
            lines = ctx.unit.source.decode("utf-8", "replace").split("\n")
        decl = declaration_text(lines, doc)
        if not names_function(decl, doc.target):
            continue  # we could not tell what the comment documents (a masked name, #if 0, ...)
        if not facts.complete:
            # only the hunks are known: the declaration must follow the comment inside them
            last = doc.lines[1] + decl.count("\n")
            if not all(n in ctx.file.post_image for n in range(doc.lines[0], last + 1)):
                continue
        found = first_line(doc)
        if found is None:
            continue
        line, text = found
        if text.startswith("DOC:"):
            continue
        what = "function" if doc.target_kind == "function" else "macro"
        m = _MEMBER_FORM.match(text)
        if m:
            name, summary = m.group(1), m.group(2).strip() or "..."
            if name == doc.target:
                problem = (f"starts with `@{name}:`, the form of a struct member or a parameter, so "
                           f"scripts/kernel-doc does not read it as the documentation of {doc.target}()")
            else:
                problem = (f"starts with the parameter line `@{name}:` and has no name line, so "
                           f"scripts/kernel-doc does not read it as the documentation of {doc.target}()")
                summary = "..."
            yield Hit(line=doc.lines[0], end_line=line, args={"name": doc.target, "what": what, "problem": problem,
                                       "fix": f"{doc.target}() - {summary}"})
            continue
        m = _NAME_FORM.match(text)
        if not m or (not m.group(2) and m.group(3) is None):
            continue  # prose, not a name line: not this rule's business
        name = m.group(1)
        if name == doc.target or names_function(decl, name) or name in ("struct", "union", "enum", "typedef", "DOC"):
            continue
        summary = (m.group(3) or "").strip() or "..."
        problem = (f"is written for {name}() but stands above {doc.target}(): scripts/kernel-doc warns \"expecting "
                   f"prototype for {name}(). Prototype was for {doc.target}() instead\"")
        words = set(re.findall(r"\w+", decl))
        stray = [p for p, _ in doc.params if p != "..." and not p.endswith("...") and p not in words]
        if stray:
            listed = ", ".join(f"@{p}" for p in stray)
            problem += f", and {listed} {'is not a parameter' if len(stray) == 1 else 'are not parameters'} of {doc.target}()"
        yield Hit(line=doc.lines[0], end_line=line, args={"name": doc.target, "what": what, "problem": problem,
                                   "fix": f"{doc.target}() - {summary}"})
