"""CMSG002: a documented error code that the function returns as another under that condition.

Kernel-doc `Return:` sections (and prose such as "Returns -EBUSY if ...") and commit messages
("foo() returns -EBUSY if ...") promise which error code a function returns when. This rule reads
such claims for the functions the patch adds or changes: a negative errno (`-EBUSY`, `%-EBUSY`)
followed by its condition (`if`/`when`/`in case`/`unless`/`on` ..., or `-EBUSY: cond` /
`-EBUSY - cond` in a list), and the errno returns of the function itself:

- `if (cond) return -E;` (the branch may do other work first), `return cond ? -E : x;`;
- `if (cond) { err = -E; goto out; }` and `err = -E; if (cond) goto out;`;
- `ERR_PTR(-E)` for `-E`.

A contradiction is reported at the code's return when all of these hold: the function never names
the documented errno (not returned, assigned, passed or compared anywhere in its body), the doc
never names the code's errno, the code's condition shares with the claim's condition two words of
four letters or more, or one that names a state (busy, full, offline, attached, ...), identifiers
split at `_`, `->` and `.` and not counting the function's parameter names, the words of its own
name (the subsystem prefix) or words like "invalid", "error"; and both conditions test it the same
way (both negated, e.g. "is not registered" and `!registered`, or neither).
"""

from __future__ import annotations

import re

from reviewbot.csource import previous_statement, unparen, walk
from reviewbot.engine import Hit

_ERRNO = r"%?-(?P<errno>E[A-Z][A-Z0-9]{1,15})\b"
_COND_END = r"(?=[,;.]\s|[,;.]$|\s+or\s+%?-E[A-Z]|\s+and\s+%?-E[A-Z]|\s*%?-E[A-Z]|$)"
# `-EBUSY if the device is busy`, `-EBUSY, if ...`, `-ENOMEM on allocation failure`
_CLAIM = re.compile(_ERRNO + r"\)?,?\s+(?P<kw>if|when|whenever|in case|unless|on|for)\b\s*(?P<cond>.+?)" + _COND_END)
# list form: `* -EBUSY: the device is busy` / `-EBUSY - the device is busy`
_LIST = re.compile(r"^\s*(?:\*\s+)?" + _ERRNO + r"\s*(?::|\s-)\s+(?P<cond>.+?)" + _COND_END)
# commit message: `foo() returns -EBUSY if ...`, `foo now fails with -EBUSY when ...`
_MSG = re.compile(r"\b(?P<func>[a-z_]\w*)(?:\(\))?\s+(?:(?:now|may|will|should|then|also)\s+)?"
                  r"(?:returns?|fails?\s+with)\s+" + _ERRNO + r"\s+(?P<kw>if|when|whenever|in case|unless)\b\s*"
                  r"(?P<cond>.+?)" + _COND_END)
_NEG = re.compile(r"\b(?:not|no|non|never|without|isn't|aren't|wasn't|doesn't|don't|didn't|cannot|can't|fails?|"
                  r"failed|unable|missing|absent|nonexistent|non-existent|lack|lacks|lacking)\b|n't\b", re.I)
# Words that name a state (a condition on their own); a noun shared alone ("region" in "lack of region
# space" and in `obj->mm.region != mr`) says what is tested, not that it is the same test.
_STATES = {"busy", "full", "empty", "online", "offline", "idle", "dead", "alive", "active", "inactive", "ready",
           "pending", "zombie", "dying", "stale", "atomic", "dirty", "clean", "live", "running", "stopped",
           "suspended", "present", "absent", "readonly", "exclusive", "shared", "closed", "open", "frozen",
           "broken", "unknown", "duplicate", "overflow", "timeout", "expired"}
_GENERIC = {"the", "a", "an", "is", "are", "be", "been", "being", "was", "were", "if", "when", "in", "on", "of",
            "to", "it", "its", "this", "that", "there", "any", "all", "not", "no", "non", "or", "and", "by", "for",
            "with", "as", "at", "has", "have", "had", "does", "do", "did", "can", "may", "will", "already",
            "invalid", "valid", "error", "fail", "failure", "failed", "case", "we", "try", "one", "some", "other",
            "ret", "err", "rc", "res", "val", "value", "ptr", "arg", "args", "argument", "input", "bad",
            "null", "true", "false", "unlikely", "likely", "too", "than", "so", "out", "set", "get", "check",
            "called", "caller", "given", "specified", "supported", "such", "only", "still", "yet", "also",
            "enough", "more", "less", "same", "new", "old", "need", "needs", "needed"}


class Claim:
    def __init__(self, errno: str, condition: str, sentence: str, function: str, where: str,
                 line: int | None = None, file: str | None = None, named: frozenset[str] = frozenset()):
        self.errno = errno
        self.condition = condition
        self.sentence = sentence
        self.function = function
        self.where = where
        self.line = line
        self.file = file
        self.named = named  # every errno the same doc (or sentence) names
        self.words = _words(condition)
        self.negated = bool(_NEG.search(condition))


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _words(text: str) -> set[str]:
    parts = re.findall(r"[A-Za-z][A-Za-z0-9]*", text.replace("_", " "))
    return {_singular(p.lower()) for p in parts if len(p) > 2} - _GENERIC


def _doc_text(doc) -> list[tuple[int, str]]:
    out = []
    for i, raw in enumerate(doc.text.splitlines()):
        text = raw.split("/**", 1)[1] if i == 0 and "/**" in raw else raw
        text = re.sub(r"^\s*\*(?!/)\s?", "", text)
        out.append((doc.lines[0] + i, text.split("*/", 1)[0].rstrip()))
    return out


def _sections(doc) -> list[tuple[int, str]]:
    """(first line, text) of the parts of a kernel-doc block that talk about what it returns: the
    Return: section and prose sentences that say "return"/"fail"; each list item on its own."""
    lines = _doc_text(doc)
    out: list[list] = []
    for line, text in lines:
        s = text.strip()
        if re.match(r"^(?:Return|Returns)\s*:", s, re.I):
            out.append([line, s])
            continue
        if re.match(r"^(?:@\w+|Context|Note|Locking|Description)\s*:", s):
            out.append([line, s if s.startswith("@") else ""])
            continue
        if not s:
            out.append([line, ""])
            continue
        wrapped = bool(out and re.search(r"(?:,|\bor|\band)$", out[-1][1]))
        if re.match(r"^\*\s", s) or (re.match(r"^%?-E[A-Z]", s) and not wrapped):
            out.append([line, s])  # a list item of its own
            continue
        if out and out[-1][1]:
            out[-1][1] += " " + s
        else:
            out.append([line, s])
    return [(line, text) for line, text in out if text and (re.search(r"-E[A-Z]", text))]


def _sentence_at(text: str, at: int) -> str:
    """The sentence of `text` that holds offset `at` (a Return: section stays whole up to its end)."""
    start = 0
    for m in re.finditer(r"(?<!\be\.g)(?<!\bi\.e)(?<=[.!?])\s+(?=[A-Z])", text):
        if m.start() >= at:
            return text[start:m.start()].strip()
        start = m.end()
    return text[start:].strip()


def doc_claims(doc, path: str) -> list[Claim]:
    if doc.target_kind != "function" or not doc.target:
        return []
    named = frozenset(re.findall(r"-(E[A-Z][A-Z0-9]{1,15})\b", doc.text))
    where = f"The kernel-doc of {doc.target}()"
    found = []
    for line, text in _sections(doc):
        if text.startswith("@") and not re.search(r"\breturns?\b", text, re.I):
            continue  # a parameter's description: its errno talk is about the parameter
        m = _LIST.match(re.sub(r"^(?:Return|Returns)\s*:\s*", "", text, flags=re.I))
        matches = [m] if m else []
        matches += [x for x in _CLAIM.finditer(text) if not m]
        returns = bool(re.match(r"^(?:Return|Returns)\b", text) or m)
        for x in matches:
            clause = re.split(r"[,.;:]", text[:x.start()])[-1]
            if not returns and not re.search(r"\b(?:return|returns|returning|fails?|failing)\b", clause, re.I):
                continue  # prose that mentions an errno: not a promise of what this function returns
            cond = x.group("cond").strip()
            if x.re is _CLAIM and x.group("kw") == "for" and not re.match(r"(?:an?\s+|the\s+)?\w", cond):
                continue
            if re.search(r"%?-E[A-Z]+\s*/\s*$", text[:x.start()]) or re.match(r"\s*/\s*%?-E", text[x.end("errno"):]):
                continue  # `-ENOENT / -EEXIST: ...`: which one goes with which condition is not said
            found.append(Claim(x.group("errno"), cond, _sentence_at(text, x.start()), doc.target, where, line,
                               path, named))
    return found


def message_claims(message: str, functions: set[str]) -> list[Claim]:
    message = "\n".join(line for line in message.splitlines()
                        if not re.match(r"^\s*(?:\[\s*\d+\.\d+\]|[\w-]+-by:|Link:|Fixes:|Cc:)", line))
    found = []
    sentences = [s for para in re.split(r"\n\s*\n", message)
                 for s in re.split(r"(?<!\be\.g\.)(?<!\bi\.e\.)(?<=[.!?])\s+", " ".join(line.strip() for line in para.splitlines()
                                                                      if line.strip()))]
    for sentence in sentences:
        named = frozenset(re.findall(r"-(E[A-Z][A-Z0-9]{1,15})\b", sentence))
        for x in _MSG.finditer(sentence):
            if x.group("func") in functions:
                found.append(Claim(x.group("errno"), x.group("cond").strip(), sentence.strip(), x.group("func"),
                                   "The commit message", named=named))
    return found


# --- the code -----------------------------------------------------------------------------------

class Return:
    def __init__(self, errno: str, condition: str, line: int, end: int):
        self.errno, self.condition, self.line, self.end = errno, condition, line, end


def _errno_of(unit, node) -> str | None:
    node = unparen(node)
    if node is None:
        return None
    if node.type == "call_expression":
        fn = node.child_by_field_name("function")
        args = node.child_by_field_name("arguments")
        if fn is not None and unit.text(fn) == "ERR_PTR" and args is not None and len(args.named_children) == 1:
            return _errno_of(unit, args.named_children[0])
        return None
    m = re.fullmatch(r"-\s*(E[A-Z][A-Z0-9]{1,15})", unit.text(node).strip())
    return m.group(1) if m else None


def _stmts(node) -> list:
    if node is None:
        return []
    if node.type == "compound_statement":
        return [c for c in node.named_children if c.type != "comment"]
    return [node]


def _assigned_errno(unit, stmt) -> str | None:
    if stmt.type == "expression_statement" and stmt.named_children:
        e = unparen(stmt.named_children[0])
        if e.type == "assignment_expression":
            return _errno_of(unit, e.child_by_field_name("right"))
    return None


def _branch_errno(unit, branch) -> tuple[str, object] | None:
    """The errno a branch leaves with: it ends in `return -E;`, or in `x = -E; goto L;`."""
    stmts = _stmts(branch)
    if not stmts:
        return None
    last = stmts[-1]
    if last.type == "return_statement" and last.named_children:
        e = _errno_of(unit, last.named_children[0])
        return (e, last) if e else None
    if last.type == "goto_statement" and len(stmts) >= 2:
        e = _assigned_errno(unit, stmts[-2])
        return (e, stmts[-2]) if e else None
    return None


def errno_returns(unit, fd) -> list[Return]:
    out = []
    for node in walk(fd):
        if node.type == "if_statement":
            cond = node.child_by_field_name("condition")
            cons = node.child_by_field_name("consequence")
            if cond is None or cons is None:
                continue
            text = " ".join(unit.text(cond).split())
            got = _branch_errno(unit, cons)
            if got:
                out.append(Return(got[0], text, unit.lines(node)[0], unit.lines(got[1])[1]))
                continue
            stmts = _stmts(cons)
            if len(stmts) == 1 and stmts[0].type == "goto_statement":
                prev = previous_statement(node)
                e = _assigned_errno(unit, prev) if prev is not None else None
                if e:  # err = -E; if (cond) goto out;
                    out.append(Return(e, text, unit.lines(prev)[0], unit.lines(node)[1]))
        elif node.type == "conditional_expression" and node.parent is not None \
                and unparen_parent(node).type == "return_statement":
            cond = node.child_by_field_name("condition")
            e = _errno_of(unit, node.child_by_field_name("consequence"))
            if cond is not None and e:
                out.append(Return(e, " ".join(unit.text(cond).split()), *unit.lines(node)))
    return out


def unparen_parent(node):
    parent = node.parent
    while parent is not None and parent.type == "parenthesized_expression":
        parent = parent.parent
    return parent


def _terms(condition: str) -> list[tuple[str, bool]]:
    """(text, negated) of each && / || term of a C condition."""
    c = condition.strip()
    while c.startswith("(") and c.endswith(")") and c.count("(") == c.count(")"):
        c = c[1:-1].strip()
    out = []
    for term in re.split(r"\s*(?:&&|\|\|)\s*", c):
        t = term.strip().strip("()").strip()
        neg = t.startswith("!") and not t.startswith("!=")
        if re.search(r"(?:==|<=|<)\s*(?:NULL|0|false)\b", t) or re.search(r"\b(?:NULL|0|false)\s*==", t):
            neg = not neg
        out.append((t, neg))
    return out


def _state_word(word: str) -> bool:
    return word in _STATES or bool(re.search(r"(?:ed|en)$", word)) and len(word) > 4


def _params(unit, fd) -> set[str]:
    decl = fd.child_by_field_name("declarator")
    params = set()
    while decl is not None and decl.type != "function_declarator":
        decl = decl.child_by_field_name("declarator")
    plist = decl.child_by_field_name("parameters") if decl is not None else None
    for p in plist.named_children if plist is not None else ():
        words = re.findall(r"[A-Za-z_]\w*", unit.text(p))
        if words:
            params |= {_singular(w.lower()) for w in words[-1].split("_") if w}
    return params


def contradiction(claim: Claim, unit, fd) -> tuple[Return, set[str]] | None:
    body = unit.text(fd)
    if re.search(r"\b" + claim.errno + r"\b", body):
        return None  # the function names the documented errno somewhere: not for this rule to judge
    # Words that say nothing about the condition: the parameters' names, the function's own name
    # (its subsystem prefix is everywhere: `iucv`, `ice`, `key`) and short words.
    ignored = _params(unit, fd) | {_singular(w) for w in claim.function.lower().split("_") if w}
    for ret in errno_returns(unit, fd):
        if ret.errno == claim.errno or ret.errno in claim.named:
            continue
        shared = set()
        polarity = set()
        for term, neg in _terms(ret.condition):
            common = {w for w in (_words(term) & claim.words) - ignored if len(w) > 3}
            if common:
                shared |= common
                polarity.add(neg)
        if polarity == {claim.negated} and (len(shared) >= 2 or any(_state_word(w) for w in shared)):
            return ret, shared
    return None


def _changed_docs(fc):
    unit = fc.unit
    source = unit.source
    if not any(source.startswith(b"/**", start) and b"-E" in source[start:end] for start, end in unit.comment_spans()):
        return  # no kernel-doc names an errno: spare the facts
    for doc in fc.facts.kernel_docs:
        if doc.target_kind != "function" or not doc.target or "-E" not in doc.text:
            continue
        fd = unit.function(doc.target)
        if fd is None:
            continue
        if doc.added or unit.is_added(fd):
            yield doc, fd


class _Anything:
    """A set of every name: the functions a message claim may be about, before any file is read."""

    def __contains__(self, name) -> bool:
        return True


def check(ctx):
    defined = {}
    # only a file that mentions a function the message makes a claim about can define it: the
    # others need no parse
    named = {c.function for c in message_claims(ctx.commit_message, _Anything())} if "-E" in ctx.commit_message else ()
    for fc in ctx.files if named else ():
        if not fc.mentions(*named):
            continue
        for fd in fc.unit.functions():
            name = fc.unit.function_name(fd)
            if name and fc.unit.is_added(fd):
                defined.setdefault(name, (fc, fd))
    msg = message_claims(ctx.commit_message, set(defined)) if "-E" in ctx.commit_message else []
    claims = [(c, defined[c.function][0], defined[c.function][1]) for c in msg]
    for fc in ctx.files:
        if not fc.mentions("-E") or not fc.mentions("/**"):
            continue  # no errno, or no kernel-doc to name one: nothing to compare, and no parse
        for doc, fd in _changed_docs(fc):
            claims += [(c, fc, fd) for c in doc_claims(doc, fc.path)]
    seen = set()
    for claim, fc, fd in claims:
        found = contradiction(claim, fc.unit, fd)
        if found is None:
            continue
        ret, shared = found
        key = (fc.path, ret.line, claim.errno)
        if key in seen:
            continue
        seen.add(key)
        related = (claim.line,) if claim.line and claim.file == fc.path else ()
        yield Hit(line=ret.line, end_line=max(ret.line, ret.end), file=fc.path, related=related,
                  args={"where": claim.where, "claim": claim.sentence, "function": claim.function,
                        "documented": f"-{claim.errno}", "returned": f"-{ret.errno}",
                        "condition": _bare(ret.condition)})


def _bare(condition: str) -> str:
    c = condition.strip()
    while c.startswith("(") and c.endswith(")") and c.count("(") == c.count(")"):
        c = c[1:-1].strip()
    return c
