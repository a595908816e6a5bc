"""CMSG001: the commit message names the literal used when a value is missing; the code uses another.

Commit messages often promise a fallback: `"default" is printed if the policy name is not
specified`. This rule reads such claims (a quoted literal, a verb of output or use, and an
if/when/unless condition saying something is absent) and the fallbacks the patch adds in C code:

- `x ? x : "lit"`, `x[0] ? x : "lit"`, `!x ? "lit" : x`, GNU `x ?: "lit"`;
- `if (!x) y = "lit";` / `if (!x) return "lit";` (and the else branch of a presence test);
- `if (x) return x; return "lit";`

A fallback whose tested value is named in the claim's condition (the last word of its name, `name`
for `ops->name[0]` and for `oc->bpf_policy_name`, appears there) but whose literal differs from
the quoted one contradicts the message. It is reported at the fallback, quoting the claim.
"""

from __future__ import annotations

import re

from reviewbot.csource import unparen, walk
from reviewbot.engine import Hit

_VERBS = (r"printed|shown|reported|used|returned|displayed|logged|emitted|written|chosen|selected|"
          r"assigned|set|picked|output")
_LIT = r"\"(?P<lit>[^\"\n]{1,80})\""
_BE = r"(?:is|are|will be|would be|gets|get|is then|will then be)"
_CLAIM_AFTER = re.compile(_LIT + r"\s+" + _BE + r"\s+(?:\w+ly\s+)?(?P<verb>" + _VERBS + r")\b(?P<mid>[^.;]*?)\b"
                          r"(?P<kw>if|when|whenever|unless|in case)\b(?P<cond>[^.;]+)", re.I)
_CLAIM_BEFORE = re.compile(r"\b(?P<kw>if|when|whenever|unless|in case)\b(?P<cond>[^,.;\"]+),\s*(?:then\s+)?"
                           + _LIT + r"\s+" + _BE + r"\s+(?:\w+ly\s+)?(?P<verb>" + _VERBS + r")\b", re.I)
_CLAIM_ACTIVE = re.compile(r"\b(?P<verb>prints|shows|reports|returns|uses|falls back to|defaults to|displays|logs|"
                           r"is|are|will be|becomes)\s+"
                           + _LIT + r"\s+(?P<kw>if|when|whenever|unless|in case)\b(?P<cond>[^.;]+)", re.I)
_ABSENT = re.compile(r"\b(?:not|no|empty|unset|absent|missing|null|none|without|isn't|aren't|wasn't|"
                     r"unspecified|unnamed|omitted|nothing|blank)\b", re.I)
_STOP = {"the", "a", "an", "is", "are", "be", "not", "no", "if", "when", "or", "and", "of", "to", "it", "its",
         "set", "used", "given", "specified", "provided", "defined", "there", "any", "this", "that", "by", "for"}


class Claim:
    def __init__(self, literal: str, condition: str, sentence: str, absent: bool):
        self.literal = literal
        self.condition = condition
        self.sentence = sentence
        self.absent = absent
        self.words = {_singular(w) for w in re.findall(r"[a-z]\w*", condition.lower())} - _STOP


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _sentences(message: str):
    paragraphs = re.split(r"\n\s*\n", message)
    for para in paragraphs:
        lines = [line for line in para.splitlines()
                 if line.strip() and not re.match(r"^\s*(?:\[\s*\d+\.\d+\]|[\w-]+-by:|Link:|Fixes:|Cc:)", line)]
        text = " ".join(line.strip() for line in lines)
        for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z\"])", text):
            if '"' in sentence:
                yield sentence.strip()


def claims(message: str) -> list[Claim]:
    found = []
    for sentence in _sentences(message):
        for pattern in (_CLAIM_AFTER, _CLAIM_BEFORE, _CLAIM_ACTIVE):
            for m in pattern.finditer(sentence):
                cond = m.group("cond").split('"', 1)[0].strip().rstrip(",").strip()
                absent = bool(_ABSENT.search(cond)) or m.group("kw").lower() == "unless"
                if absent:
                    found.append(Claim(m.group("lit"), cond, sentence, absent))
    return found


# --- the fallbacks in the code -------------------------------------------------------------------

def _literal(unit, node) -> str | None:
    node = unparen(node)
    if node is None or node.type != "string_literal":
        return None
    text = unit.text(node)
    if not (text.startswith('"') and text.endswith('"')) or "\\" in text or "%" in text:
        return None
    return text[1:-1]


_OPERAND = r"[&*]?\s*[A-Za-z_][\w]*(?:\s*(?:->|\.)\s*\w+|\s*\[[^\]]*\])*"


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
    words = re.findall(r"[A-Za-z_]\w*", re.sub(r"\[[^\]]*\]", "", subject))
    if not words:
        return None
    parts = [p for p in words[-1].lower().split("_") if p]
    return _singular(parts[-1]) if parts else None


def _statement(node):
    while node.parent is not None and node.type not in ("expression_statement", "return_statement", "declaration",
                                                        "init_declarator", "if_statement"):
        node = node.parent
    return node


def _branch_literal(unit, node) -> str | None:
    """`return "lit";` or `x = "lit";` as a branch (or the only statement of a braced branch)."""
    if node is None:
        return None
    if node.type == "compound_statement":
        stmts = [c for c in node.named_children if c.type != "comment"]
        if len(stmts) != 1:
            return None
        node = stmts[0]
    if node.type == "return_statement" and node.named_children:
        return _literal(unit, node.named_children[0])
    if node.type == "expression_statement" and node.named_children:
        expr = node.named_children[0]
        if expr.type == "assignment_expression":
            return _literal(unit, expr.child_by_field_name("right"))
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


def fallbacks(unit):
    """(subject, literal, first line, literal line, stored into) for each fallback in the file."""
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
            lit = _literal(unit, lit_node) if lit_node is not None else None
            if lit is not None:
                yield subject, lit, unit.lines(_statement(node))[0], unit.lines(lit_node)[1], _target(unit, node)
        elif node.type == "if_statement":
            cond = node.child_by_field_name("condition")
            tested = _tested(unit.text(cond)) if cond is not None else None
            if tested is None:
                continue
            subject, present = tested
            cons = node.child_by_field_name("consequence")
            alt = node.child_by_field_name("alternative")
            if alt is not None and alt.type == "else_clause" and alt.named_children:
                alt = alt.named_children[0]
            branch = alt if present else cons
            lit = _branch_literal(unit, branch)
            if lit is None and present and alt is None and cons is not None and _returns(cons):
                after = _next_statement(node)
                if after is not None and after.type == "return_statement":
                    lit = _branch_literal(unit, after)
                    branch = after
            if lit is not None and branch is not None:
                yield subject, lit, unit.lines(node)[0], unit.lines(branch)[1], _branch_target(unit, branch)


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


def _branch_target(unit, node) -> str | None:
    if node.type == "compound_statement" and len(node.named_children) == 1:
        node = node.named_children[0]
    if node.type == "expression_statement" and node.named_children:
        expr = node.named_children[0]
        if expr.type == "assignment_expression":
            return unit.text(expr.child_by_field_name("left"))
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


def _state(subject: str) -> str:
    """How the missing value reads: `ops->name[0]` -> "ops->name is empty", `p` -> "p is NULL"."""
    s = subject.strip()
    m = re.fullmatch(r"&?\s*(.+?)\s*\[\s*0\s*\]", s) or re.fullmatch(r"\*\s*(.+)", s)
    if m:
        return f"{m.group(1).lstrip('&').strip()} is empty"
    return f"{s} is NULL or empty"


def check(ctx):
    found = claims(ctx.commit_message)
    if not found:
        return
    per_file = [(fc, list(fallbacks(fc.unit))) for fc in ctx.files]
    # A fallback that tests what another fallback of the patch stores (the printer's "default" for
    # oc->bpf_policy_name, which the producer fills with its own fallback) only runs when the
    # producer did not: it answers a different condition, so only the producer's is compared.
    produced = {_last_name(f[4]) for _, fbs in per_file for f in fbs if f[4]}
    for fc, fbs in per_file:
        seen = set()
        for subject, lit, first, last, _target_expr in fbs:
            head = _head(subject)
            if head is None or _last_name(subject) in produced:
                continue
            state = _state(subject)
            for claim in found:
                if head not in claim.words or lit == claim.literal:
                    continue
                if any(c.literal == lit and head in c.words for c in found):
                    continue  # another claim promises this very literal
                key = (first, lit)
                if key in seen:
                    continue
                seen.add(key)
                yield Hit(line=first, end_line=max(first, last), file=fc.path,
                          args={"claim": claim.sentence, "subject": state, "literal": lit,
                                "quoted": claim.literal})
