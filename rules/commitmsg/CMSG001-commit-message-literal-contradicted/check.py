"""CMSG001: the patch promises the literal used when a value is missing; the code uses another.

Commit messages and kernel-doc often promise a fallback: `"default" is printed if the policy name
is not specified`, `Return: the label, or "none" if the device has none`, `@name: ... "none" when
not set`, `"unknown" is returned for any other state`. This rule reads such claims:

- in the commit message (about any code of the patch);
- in the kernel-doc of the functions, structs and members the patch adds or changes (a function's
  doc is held to that function and the file-local helpers it calls; an `@name:` entry adds `name`
  to what the claim is about);

and every place the patch's C code sets a fallback value, in any of the usual forms:

- `x ? x : "lit"`, `x[0] ? x : "lit"`, `!x ? "lit" : x`, GNU `x ?: "lit"` (also as an argument of
  seq_printf/pr_*/snprintf/...);
- `if (!x) y = "lit";`, `if (!x) return "lit";` (the branch may log first), the else branch of a
  presence test, `if (x) return x; return "lit";`;
- `y = "lit"; if (x) y = x;` (the default set first, then overridden);
- a branch that prints or copies the literal: `if (!x) seq_puts(m, "none\\n");`,
  `strscpy(buf, "none", len)`, `sysfs_emit(buf, "none\\n")`;
- a `switch` on the value whose `default:` returns, assigns or prints a literal (for claims about
  unknown/other values);
- a `.member = "lit"` in a struct initializer named as the defaults (`default_cfg`, `foo_defaults`);

where the literal may be written through a macro or a const (`#define DEFAULT_POLICY "default"`,
`static const char foo_none[] = "none";`) or a file-local function that returns one literal.

A fallback is compared with a claim when the last word of the tested value's name (`name` for
`ops->name[0]` and for `oc->bpf_policy_name`) is among the words of the claim's condition (for
kernel-doc, also of the text before the literal and of the `@name`); a different literal is
reported at the fallback, quoting the claim.
"""

from __future__ import annotations

import re

from reviewbot.csource import previous_statement, unparen, walk
from reviewbot.engine import Hit

_VERBS = (r"printed|shown|reported|used|returned|displayed|logged|emitted|written|chosen|selected|"
          r"assigned|set|picked|output")
_LIT = r"\"(?P<lit>[^\"\n]{1,80})\""
_BE = r"(?:is|are|will be|would be|gets|get|is then|will then be)"
_KW = r"(?P<kw>if|when|whenever|unless|in case|for)"
_CLAIM_AFTER = re.compile(_LIT + r"\s+" + _BE + r"\s+(?:\w+ly\s+)?(?P<verb>" + _VERBS + r")\b(?P<mid>[^.;]*?)\b"
                          + _KW + r"\b(?P<cond>[^.;]+)", re.I)
_CLAIM_BEFORE = re.compile(r"\b(?P<kw>if|when|whenever|unless|in case)\b(?P<cond>[^,.;\"]+),\s*(?:then\s+)?"
                           + _LIT + r"\s+" + _BE + r"\s+(?:\w+ly\s+)?(?P<verb>" + _VERBS + r")\b", re.I)
_CLAIM_ACTIVE = re.compile(r"\b(?P<verb>prints|shows|reports|returns|return|uses|falls back to|defaults to|"
                           r"displays|logs|is|are|will be|becomes|default to|fall back to)\s+"
                           + _LIT + r"\s+" + _KW + r"\b(?P<cond>[^.;]+)", re.I)
# kernel-doc also writes the bare form: `@name: the policy name, or "default" if not set`.
_CLAIM_BARE = re.compile(r"(?:^|[,:;(]\s*|\bor\s+|\band\s+)" + _LIT + r"\s+" + _KW + r"\b(?P<cond>[^.;\"]+)", re.I)
_ABSENT = re.compile(r"\b(?:not|no|empty|unset|absent|missing|null|none|without|isn't|aren't|wasn't|"
                     r"unspecified|unnamed|omitted|nothing|blank)\b", re.I)
# A claim about the values no case names: `"unknown" is returned for any other state`.
_OTHER = re.compile(r"\b(?:unknown|unrecogni[sz]ed|invalid|unsupported|unexpected|other|anything else|"
                    r"out of range|none of)\b", re.I)
_STOP = {"the", "a", "an", "is", "are", "be", "not", "no", "if", "when", "or", "and", "of", "to", "it", "its",
         "set", "used", "given", "specified", "provided", "defined", "there", "any", "this", "that", "by", "for",
         "none", "other", "unknown", "value", "was", "were", "has", "have", "one", "empty", "missing",
         "null", "in", "on", "with", "without", "as", "at", "else", "anything", "all", "case"}


class Claim:
    def __init__(self, literal: str, condition: str, sentence: str, kind: str, *, where: str = "The commit message",
                 function: str | None = None, extra: set[str] = frozenset(), line: int | None = None,
                 file: str | None = None):
        self.literal = literal
        self.condition = condition
        self.sentence = sentence
        self.kind = kind  # "absent": the value is missing; "other": none of the known values
        self.absent = kind == "absent"
        self.where = where  # "The commit message" | "The kernel-doc of foo()"
        self.function = function  # a kernel-doc claim about one function: only its code is compared
        self.line = line  # the kernel-doc line of the claim
        self.file = file
        self.words = ({_singular(w) for w in re.findall(r"[a-z]\w*", condition.lower())} - _STOP) | set(extra)


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _name_words(name: str) -> set[str]:
    return {_singular(p) for p in name.lower().split("_") if p} - _STOP


def _sentences(message: str):
    paragraphs = re.split(r"\n\s*\n", message)
    for para in paragraphs:
        lines = [line for line in para.splitlines()
                 if line.strip() and not re.match(r"^\s*(?:\[\s*\d+\.\d+\]|[\w-]+-by:|Link:|Fixes:|Cc:)", line)]
        text = " ".join(line.strip() for line in lines)
        for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z\"])", text):
            if '"' in sentence:
                yield sentence.strip()


def _kind(cond: str, kw: str) -> str | None:
    if _OTHER.search(cond):
        return "other"
    if _ABSENT.search(cond) or kw.lower() == "unless":
        return "absent"
    return None


def _claims_in(sentence: str, bare: bool = False):
    """(literal, condition, kind, text before the literal) of each claim of one sentence."""
    patterns = (_CLAIM_AFTER, _CLAIM_BEFORE, _CLAIM_ACTIVE) + ((_CLAIM_BARE,) if bare else ())
    seen = set()
    for pattern in patterns:
        for m in pattern.finditer(sentence):
            cond = m.group("cond").split('"', 1)[0].strip().rstrip(",").strip()
            kind = _kind(cond, m.group("kw"))
            if m.group("kw").lower() == "for" and kind != "other" and not re.match(r"\s*(?:an?\s+)?(?:empty|unset|missing|unnamed|null)\b", cond, re.I):
                continue  # "for" reads as a condition only as "for any other X" / "for an empty X"
            if kind is None or (m.group("lit"), cond) in seen:
                continue
            seen.add((m.group("lit"), cond))
            yield m.group("lit"), cond, kind, sentence[:m.start("lit")]


def claims(message: str) -> list[Claim]:
    """The claims of a commit message."""
    found = []
    for sentence in _sentences(message):
        for lit, cond, kind, _before in _claims_in(sentence):
            found.append(Claim(lit, cond, sentence, kind))
    return found


# --- kernel-doc ----------------------------------------------------------------------------------

_DOC_ENTRY = re.compile(r"^@(\w+)\s*:\s*(.*)$")
_DOC_SECTION = re.compile(r"^(Return|Returns|Context|Note|Locking|Description)s?\s*:\s*(.*)$", re.I)


def _doc_lines(doc) -> list[tuple[int, str]]:
    """(line, text) of a kernel-doc block without its comment marks."""
    out = []
    for i, raw in enumerate(doc.text.splitlines()):
        text = raw.split("/**", 1)[1] if i == 0 and "/**" in raw else raw
        text = re.sub(r"^\s*\*(?!/)\s?", "", text)
        text = text.split("*/", 1)[0].rstrip()
        out.append((doc.lines[0] + i, text))
    return out


_NAME_LINE = object()  # the part of a kernel-doc block that is its name line


def doc_paragraphs(doc) -> list[tuple[str | None, str, int]]:
    """(the @entry it belongs to or None, its text, its first line) of each part of a kernel-doc block:
    every `@name:` entry, every section, and the prose between them (the name line is left out)."""
    parts: list[list] = []
    current = None
    named = False
    for line, text in _doc_lines(doc):
        stripped = text.strip()
        m = _DOC_ENTRY.match(stripped)
        s = _DOC_SECTION.match(stripped)
        if not named and stripped:
            named = True
            if not m and not s:  # the name line: `foo() - what it does`
                current = [_NAME_LINE, stripped, line]
                parts.append(current)
                continue
        if m:
            current = [m.group(1), m.group(2), line]
            parts.append(current)
        elif s:
            current = [None, s.group(2), line]
            parts.append(current)
        elif not stripped:
            current = None
        elif current is None or current[0] is _NAME_LINE:
            current = [None, stripped, line]
            parts.append(current)
        else:
            current[1] = (current[1] + " " + stripped).strip()
    return [(p[0], p[1], p[2]) for p in parts if p[0] is not _NAME_LINE and p[1]]


def doc_claims(doc, path: str) -> list[Claim]:
    function = doc.target if doc.target_kind in ("function", "macro") else None
    where = f"The kernel-doc of {doc.target}()" if function else (
        f"The kernel-doc of {doc.target}" if doc.target else "The kernel-doc")
    found = []
    for entry, text, line in doc_paragraphs(doc):
        for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z\"])", text):
            if '"' not in sentence:
                continue
            for lit, cond, kind, before in _claims_in(sentence, bare=True):
                if entry:  # `@name: ...`: the entry is what the claim is about
                    extra = set(_name_words(entry))
                else:  # `Return: the label, or "none" if ...`: the words before it say what
                    clause = re.split(r"[.;]", before)[-1]
                    extra = {_singular(w) for w in re.findall(r"[a-z]\w*", clause.lower())[-6:]} - _STOP
                quoted = f"@{entry}: {sentence}" if entry else sentence
                found.append(Claim(lit, cond, quoted, kind, where=where, function=function, extra=extra,
                                   line=line, file=path))
    return found


# --- the values the code falls back to -----------------------------------------------------------

_OUTPUT = {"seq_puts", "seq_printf", "seq_write", "printk", "pr_info", "pr_warn", "pr_err", "pr_notice",
           "pr_debug", "pr_cont", "pr_emerg", "pr_crit", "pr_alert", "dev_info", "dev_warn", "dev_err",
           "dev_notice", "dev_dbg", "sysfs_emit", "sysfs_emit_at", "sprintf", "snprintf", "scnprintf",
           "strscpy", "strscpy_pad", "strcpy", "strlcpy", "strncpy", "seq_buf_puts", "seq_buf_printf"}


class Values:
    """What a name means as a string in one file: `#define NAME "lit"`, `static const char NAME[] =
    "lit";`, and file-local functions that return one literal on every path."""

    def __init__(self, unit):
        self.unit = unit
        self.consts: dict[str, str] = {}
        for node in walk(unit.root):
            if node.type == "preproc_def":
                name, value = node.child_by_field_name("name"), node.child_by_field_name("value")
                if name is not None and value is not None:
                    text = unit.text(value).strip()
                    if re.fullmatch(r'"[^"\\%\n]{1,80}"', text):
                        self.consts[unit.text(name)] = text[1:-1]
            elif node.type == "init_declarator" and node.parent is not None and node.parent.type == "declaration":
                decl = unit.text(node.parent)
                if "const" not in decl.split("=", 1)[0]:
                    continue
                ident = _declared(node.child_by_field_name("declarator"))
                lit = _plain(unit, node.child_by_field_name("value"))
                if ident is not None and lit is not None:
                    self.consts[unit.text(ident)] = lit
        self._helpers: dict[str, str | None] = {}

    def literal(self, node, depth: int = 0) -> str | None:
        node = unparen(node)
        if node is None:
            return None
        if node.type == "string_literal":
            return _plain(self.unit, node)
        if node.type == "identifier":
            return self.consts.get(self.unit.text(node))
        if node.type == "call_expression" and depth < 2:
            fn = node.child_by_field_name("function")
            if fn is not None and fn.type == "identifier":
                return self.helper(self.unit.text(fn), depth + 1)
        return None

    def helper(self, name: str, depth: int = 1) -> str | None:
        """The one literal a file-local function returns on every return, else None."""
        if name in self._helpers:
            return self._helpers[name]
        self._helpers[name] = None
        fd = self.unit.function(name)
        if fd is None:
            return None
        body = fd.child_by_field_name("body")
        returns = [n for n in walk(body)] if body is not None else []
        values = {self.literal(r.named_children[0], depth) if r.named_children else None
                  for r in returns if r.type == "return_statement"}
        value = values.pop() if len(values) == 1 else None
        self._helpers[name] = value
        return value


def _declared(declarator):
    node = declarator
    while node is not None and node.type != "identifier":
        node = node.child_by_field_name("declarator")
    return node


def _plain(unit, node) -> str | None:
    node = unparen(node)
    if node is None or node.type != "string_literal":
        return None
    text = unit.text(node)
    if not (text.startswith('"') and text.endswith('"')) or "\\" in text or "%" in text:
        return None
    return text[1:-1]


def _printed(unit, values: Values, call) -> str | None:
    """The text an output or copy call puts out when it is given a plain literal: `seq_puts(m,
    "none\\n")` -> "none", `strscpy(buf, "none", n)` -> "none", `sysfs_emit(buf, "%s\\n", "none")`."""
    fn = call.child_by_field_name("function")
    args = call.child_by_field_name("arguments")
    if fn is None or args is None or unit.text(fn) not in _OUTPUT:
        return None
    lits = []
    for arg in args.named_children:
        arg = unparen(arg)
        if arg.type == "string_literal":
            text = unit.text(arg)
            body = text[1:-1] if text.startswith('"') and text.endswith('"') else None
            if body is None:
                return None
            lits.append(body)
        elif arg.type == "identifier" and unit.text(arg) in values.consts:
            lits.append(values.consts[unit.text(arg)])
    if not lits:
        return None
    fmt, rest = lits[0], lits[1:]
    if "%" in fmt:
        if re.fullmatch(r"[^%]*%s[^%]*", fmt.replace("\\n", "")) and len(rest) == 1:
            return rest[0]
        return None
    text = fmt.replace("\\n", " ").strip()
    return text if text and "\\" not in text else None


def _operand_regex():
    return r"[&*]?\s*[A-Za-z_][\w]*(?:\s*(?:->|\.)\s*\w+|\s*\[[^\]]*\]|\s*\([^()]*\))*"


_OPERAND = _operand_regex()


def _tested(cond: str) -> tuple[str, bool] | None:
    """(subject, present) for a test of presence (`x`, `x != NULL`, `x[0]`, `strlen(x)`) or absence."""
    c = " ".join(cond.split())
    while c.startswith("(") and c.endswith(")") and c.count("(") == c.count(")"):
        c = c[1:-1].strip()
    if "&&" in c or "||" in c:
        parts = re.split(r"\s*(?:&&|\|\|)\s*", c)
        results = [_tested(p) for p in parts]
        if not all(results):
            return None
        # `x && x[0]` (presence) or `!x || !x[0]` (absence): the last part names the value best
        if len({r[1] for r in results}) != 1:
            return None
        if ("&&" in c) != results[0][1]:
            return None
        return results[-1]
    m = re.fullmatch(r"!\s*(?:strn?len\s*\(\s*(" + _OPERAND + r")\s*(?:,[^)]*)?\)|(" + _OPERAND + r"))", c)
    if m:
        return (m.group(1) or m.group(2)).strip(), False
    m = re.fullmatch(r"(?:strn?len\s*\(\s*(" + _OPERAND + r")\s*(?:,[^)]*)?\)|(" + _OPERAND + r"))\s*(==|!=|>)\s*"
                     r"(NULL|0|'\\0')", c)
    if m:
        subject = (m.group(1) or m.group(2)).strip()
        return subject, m.group(3) != "=="
    m = re.fullmatch(r"strn?len\s*\(\s*(" + _OPERAND + r")\s*(?:,[^)]*)?\)", c)
    if m:
        return m.group(1).strip(), True
    if re.fullmatch(_OPERAND, c):
        return c, True
    return None


def _head(subject: str) -> str | None:
    text = re.sub(r"\[[^\]]*\]", "", subject)
    call = re.match(r"^\s*[&*]?\s*([A-Za-z_]\w*)\s*\(", text)  # a getter: foo_name(dev) -> "name"
    words = [call.group(1)] if call else re.findall(r"[A-Za-z_]\w*", re.sub(r"\([^()]*\)", "", text))
    if not words:
        return None
    parts = [p for p in words[-1].lower().split("_") if p]
    return _singular(parts[-1]) if parts else None


def _statement(node):
    while node.parent is not None and node.type not in ("expression_statement", "return_statement", "declaration",
                                                        "init_declarator", "if_statement"):
        node = node.parent
    return node


def _stmts(node) -> list:
    if node is None:
        return []
    if node.type == "compound_statement":
        return [c for c in node.named_children if c.type != "comment"]
    return [node]


def _set_value(unit, values: Values, stmt) -> tuple[str, str | None, bool] | None:
    """(literal, what it is stored into, printed) when a statement sets a fallback literal:
    `return "lit";`, `x = "lit";`, or an output or copy call given the literal (printed)."""
    if stmt.type == "return_statement" and stmt.named_children:
        value = unparen(stmt.named_children[0])
        lit = values.literal(value)
        if lit is not None:
            return lit, None, False
        if value is not None and value.type == "call_expression":
            lit = _printed(unit, values, value)  # return sysfs_emit(buf, "none\n");
            return (lit, None, True) if lit is not None else None
        return None
    if stmt.type == "expression_statement" and stmt.named_children:
        expr = unparen(stmt.named_children[0])
        if expr.type == "assignment_expression":
            lit = values.literal(expr.child_by_field_name("right"))
            return (lit, unit.text(expr.child_by_field_name("left")), False) if lit is not None else None
        if expr.type == "call_expression":
            lit = _printed(unit, values, expr)
            if lit is not None:
                args = expr.child_by_field_name("arguments")
                first = args.named_children[0] if args is not None and args.named_children else None
                return lit, unit.text(first) if first is not None else None, True
    return None


def _branch_value(unit, values: Values, node):
    """(literal, target, the statement) a branch falls back to: its one value-setting statement, or
    the return it ends with (a branch may log before it returns)."""
    stmts = _stmts(node)
    if not stmts:
        return None
    if stmts[-1].type == "return_statement":
        got = _set_value(unit, values, stmts[-1])
        return (*got, stmts[-1]) if got else None
    setting = [(s, got) for s in stmts for got in [_set_value(unit, values, s)] if got]
    if len(setting) == 1:
        s, got = setting[0]
        return (*got, s)
    return None


def _next_statement(node):
    """The statement after `node`, stepping out of a preprocessor block it ends."""
    while node is not None:
        sib = node.next_named_sibling
        while sib is not None and sib.type == "comment":
            sib = sib.next_named_sibling
        if sib is not None:
            return sib
        parent = node.parent
        if parent is None or not parent.type.startswith("preproc_"):
            return None
        node = parent
    return None


class Fallback:
    def __init__(self, subject, literal, first, last, target, function, kind="absent", printed=False,
                 initializer=False):
        self.subject, self.literal, self.first, self.last = subject, literal, first, last
        self.target, self.function, self.kind = target, function, kind
        self.initializer = initializer  # a `.member = "lit"` of a defaults initializer
        self.printed = printed  # the literal is part of printed text: a claim literal inside it agrees


def _function_of(unit, node) -> str | None:
    while node is not None and node.type != "function_definition":
        node = node.parent
    return unit.function_name(node) if node is not None else None


def fallbacks(unit, values: Values | None = None):
    """Every fallback the file sets (see the module doc), as Fallback objects."""
    values = values or Values(unit)
    for node in walk(unit.root):
        if node.type == "conditional_expression":
            cond = node.child_by_field_name("condition")
            cons = node.child_by_field_name("consequence")
            alt = node.child_by_field_name("alternative")
            tested = _tested(unit.text(cond)) if cond is not None else None
            if tested is None:
                continue
            subject, present = tested
            lit_node = alt if present else cons
            lit = values.literal(lit_node) if lit_node is not None else None
            if lit is not None:
                yield Fallback(subject, lit, unit.lines(_statement(node))[0], unit.lines(lit_node)[1],
                               _target(unit, node), _function_of(unit, node))
        elif node.type == "if_statement":
            yield from _if_fallbacks(unit, values, node)
        elif node.type == "switch_statement":
            yield from _switch_fallbacks(unit, values, node)
        elif node.type == "init_declarator":
            yield from _default_initializer(unit, values, node)


def _if_fallbacks(unit, values: Values, node):
    cond = node.child_by_field_name("condition")
    tested = _tested(unit.text(cond)) if cond is not None else None
    if tested is None:
        return
    subject, present = tested
    cons = node.child_by_field_name("consequence")
    alt = node.child_by_field_name("alternative")
    if alt is not None and alt.type == "else_clause" and alt.named_children:
        alt = alt.named_children[0]
    function = _function_of(unit, node)
    branch = alt if present else cons
    got = _branch_value(unit, values, branch) if branch is not None else None
    if got is None and present and alt is None and cons is not None and _returns(cons):
        after = _next_statement(node)  # if (x) return x; return "lit";
        if after is not None and after.type == "return_statement":
            got = _branch_value(unit, values, after)
    if got is not None:
        lit, target, printed, stmt = got
        yield Fallback(subject, lit, unit.lines(node)[0], unit.lines(stmt)[1], target, function, printed=printed)
        return
    if present and alt is None and cons is not None:
        # y = "lit"; if (x) y = x;  (or `const char *y = "lit";` before it)
        stmts = _stmts(cons)
        if len(stmts) != 1 or stmts[0].type != "expression_statement":
            return
        expr = unparen(stmts[0].named_children[0]) if stmts[0].named_children else None
        if expr is None or expr.type != "assignment_expression":
            return
        target = unit.text(expr.child_by_field_name("left"))
        prev = previous_statement(node)
        if prev is None:
            return
        lit = None
        if prev.type == "expression_statement" and prev.named_children:
            e = unparen(prev.named_children[0])
            if e.type == "assignment_expression" and unit.text(e.child_by_field_name("left")) == target:
                lit = values.literal(e.child_by_field_name("right"))
        elif prev.type == "declaration":
            for d in prev.named_children:
                if d.type == "init_declarator":
                    ident = _declared(d.child_by_field_name("declarator"))
                    if ident is not None and unit.text(ident) == target:
                        lit = values.literal(d.child_by_field_name("value"))
        if lit is not None:
            yield Fallback(subject, lit, unit.lines(prev)[0], unit.lines(prev)[1], target, function)


def _switch_fallbacks(unit, values: Values, node):
    cond = node.child_by_field_name("condition")
    body = node.child_by_field_name("body")
    if cond is None or body is None:
        return
    subject = unit.text(cond).strip().strip("()").strip()
    if not re.fullmatch(_OPERAND, subject):
        return
    for case in body.named_children:
        if case.type != "case_statement" or case.child_by_field_name("value") is not None:
            continue
        stmts = [c for c in case.named_children if c.type not in ("comment", "break_statement")]
        setting = [(s, got) for s in stmts for got in [_set_value(unit, values, s)] if got]
        if len(setting) == 1:
            s, (lit, target, printed) = setting[0]
            yield Fallback(subject, lit, unit.lines(case)[0], unit.lines(s)[1], target, _function_of(unit, node),
                           kind="other", printed=printed)


_DEFAULTS_NAME = re.compile(r"(?:^|_)(?:default|defaults|dflt|fallback)(?:_|$)", re.I)


def _default_initializer(unit, values: Values, node):
    """`static const struct foo_cfg foo_defaults = { .policy = "lru" };`: "lru" is the policy's default."""
    ident = _declared(node.child_by_field_name("declarator"))
    init = node.child_by_field_name("value")
    if ident is None or init is None or init.type != "initializer_list":
        return
    if not _DEFAULTS_NAME.search(unit.text(ident)):
        return
    for pair in init.named_children:
        if pair.type != "initializer_pair" or not pair.named_children:
            continue
        designator = pair.named_children[0]
        if designator.type != "field_designator":
            continue
        lit = values.literal(pair.named_children[-1])
        if lit is not None:
            member = unit.text(designator).lstrip(".").strip()
            first, last = unit.lines(pair)
            yield Fallback(member, lit, first, last, f"{unit.text(ident)}.{member}", _function_of(unit, node),
                           initializer=True)


def _target(unit, node) -> str | None:
    """What a fallback expression is stored into: `oc->bpf_policy_name = x ? x : "lit"`."""
    while node.parent is not None and node.parent.type == "parenthesized_expression":
        node = node.parent
    parent = node.parent
    if parent is not None and parent.type == "assignment_expression" and parent.child_by_field_name("right") == node:
        return unit.text(parent.child_by_field_name("left"))
    if parent is not None and parent.type == "init_declarator":
        return unit.text(parent.child_by_field_name("declarator"))
    return None


def _last_name(expr: str | None) -> str | None:
    words = re.findall(r"[A-Za-z_]\w*", re.sub(r"\[[^\]]*\]", "", expr or ""))
    return words[-1] if words else None


def _returns(node) -> bool:
    if node.type == "return_statement":
        return True
    if node.type == "compound_statement":
        stmts = [c for c in node.named_children if c.type != "comment"]
        return bool(stmts) and stmts[-1].type == "return_statement"
    return False


def _state(fb: Fallback) -> str:
    """How the missing value reads: `ops->name[0]` -> "ops->name is empty", `p` -> "p is NULL"."""
    s = fb.subject.strip()
    if fb.kind == "other":
        return f"{s} is none of the values the switch names"
    m = re.fullmatch(r"&?\s*(.+?)\s*\[\s*0\s*\]", s) or re.fullmatch(r"\*\s*(.+)", s)
    if m:
        return f"{m.group(1).lstrip('&').strip()} is empty"
    if fb.target and "." in (fb.target or "") and _DEFAULTS_NAME.search(fb.target.split(".", 1)[0]):
        return f"{s} is not set ({fb.target.split('.', 1)[0]} holds the defaults)"
    return f"{s} is NULL or empty"


def _callees(unit, function: str) -> set[str]:
    """The file-local functions `function` calls (one level), and itself."""
    fd = unit.function(function)
    out = {function}
    if fd is None:
        return out
    for n in walk(fd):
        if n.type == "call_expression":
            fn = n.child_by_field_name("function")
            if fn is not None and fn.type == "identifier" and unit.function(unit.text(fn)) is not None:
                out.add(unit.text(fn))
    return out


def _agrees(fb: Fallback, claim: Claim) -> bool:
    if fb.literal == claim.literal:
        return True
    if fb.printed and re.search(r"(?<![\w-])" + re.escape(claim.literal) + r"(?![\w-])", fb.literal):
        return True  # `seq_puts(m, "label=none\n")` prints the promised "none"
    return False


def _doc_comment_with(unit, needle: bytes) -> bool:
    source = unit.source
    return any(source.startswith(b"/**", start) and needle in source[start:end]
               for start, end in unit.comment_spans())


def _doc_claims(ctx_file) -> list[Claim]:
    """The literal claims of the kernel-doc the patch adds or changes in this file."""
    if not ctx_file.mentions("/**"):
        return []  # no kernel-doc at all: spare the parse
    unit = ctx_file.unit
    if not _doc_comment_with(unit, b'"'):
        return []  # no kernel-doc quotes a literal: spare the facts
    facts = ctx_file.facts
    out = []
    for doc in facts.kernel_docs:
        changed = doc.added
        if not changed and doc.target and doc.target_kind in ("function", "macro"):
            fd = unit.function(doc.target)
            changed = fd is not None and unit.is_added(fd)
        if changed and '"' in doc.text:
            out.extend(doc_claims(doc, ctx_file.path))
    return out


def check(ctx):
    found = claims(ctx.commit_message)
    per_file = []
    for fc in ctx.files:
        docs = _doc_claims(fc)
        if not found and not docs:
            per_file.append((fc, [], []))
            continue
        values = Values(fc.unit)
        per_file.append((fc, list(fallbacks(fc.unit, values)), docs))
    doc_found = [c for _, _, docs in per_file for c in docs]
    if not found and not doc_found:
        return
    # A fallback that tests what another fallback of the patch stores (the printer's "default" for
    # oc->bpf_policy_name, which the producer fills with its own fallback) only runs when the
    # producer did not: it answers a different condition, so only the producer's is compared.
    # (Only stores count: not a copy into a local of the value's own name, a print, or a defaults
    # initializer.)
    produced = {_last_name(fb.target) for _, fbs, _ in per_file for fb in fbs
                if fb.target and not fb.printed and not fb.initializer
                and _last_name(fb.target) != _last_name(fb.subject)}
    for fc, fbs, docs in per_file:
        scoped = {}
        seen = set()
        everything = found + [c for c in doc_found if c.function is None] + [c for c in docs if c.function]
        for fb in fbs:
            head = _head(fb.subject)
            if head is None or _last_name(fb.subject) in produced:
                continue
            for claim in everything:
                if claim.function is not None:
                    if claim.function not in scoped:
                        scoped[claim.function] = _callees(fc.unit, claim.function)
                    if fb.function not in scoped[claim.function]:
                        continue
                if claim.kind != fb.kind or head not in claim.words or _agrees(fb, claim):
                    continue
                if any(c.literal == fb.literal and head in c.words and c.kind == fb.kind for c in everything):
                    continue  # another claim promises this very literal
                key = (fb.first, fb.literal)
                if key in seen:
                    continue
                seen.add(key)
                related = (claim.line,) if claim.line and claim.file == fc.path else ()
                yield Hit(line=fb.first, end_line=max(fb.first, fb.last), file=fc.path, related=related,
                          args={"claim": claim.sentence, "where": claim.where, "subject": _state(fb),
                                "literal": fb.literal, "quoted": claim.literal})
