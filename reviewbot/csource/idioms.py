"""More length-preserving kernel idiom rewrites for mask.py (found by sweeping 1,730 files).

Each pass takes the `_Rewrite` of mask.py and edits it in place with the same rules: every byte
stays at its offset, newlines stay newlines, patterns match the `code` view (comments and the
insides of string literals blank). The passes here were found by ranking the ERROR nodes of every
.c file of linux 6.1 that uses RCU (drivers, net, fs, arch included), so they cover idioms that
kernel/bpf and mm do not use much: string-literal macros, sysfs/pm declaration macros,
`__net_init`-style section annotations, GNU case ranges and others. docs/csource.md has the
measured gain of each.
"""

from __future__ import annotations

import bisect
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from reviewbot.csource.mask import _Rewrite


_SPACE = frozenset(b" \t\n\r\f\v")
_TOKEN = re.compile(rb"\s*(\w+|\S|)")


# --- string-literal macros ---------------------------------------------------------------------

def string_macros(rw: "_Rewrite") -> None:
    """`printk(KERN_ERR PFX "x")`, `"%." __stringify(N) "s"` -> string literals of the same length.

    An upper-case macro (or `__stringify(...)`, or an upper-case macro call) standing next to a
    string literal can only be a string literal itself: the parser sees `"       "` in its place
    and reads the concatenation. Directive lines are left alone (their bodies are not parsed).
    """
    code = rw.code
    edits = []
    for s_start, s_end in rw.strings:
        before = s_start
        while before > 0 and code[before - 1] in _SPACE:
            before -= 1
        if before > 0 and (code[before - 1] in _WORD_OR_CLOSE) and not rw.ends_directive(before):
            end = s_start
            while (span := _macro_before(rw, end)) is not None:
                edits.append(span)
                end = span[0]
        if _UPPER_AFTER.match(code, s_end) and not rw.ends_directive(s_start):
            start = s_end
            while (span := _macro_after(rw, start)) is not None:
                edits.append(span)
                start = span[1]
    for start, end in edits:
        if code[start] != 0x22:  # not already a string
            rw.put(start, b'"' + b" " * (end - start - 2) + b'"')


def _macro_before(rw: "_Rewrite", end: int) -> tuple[int, int] | None:
    code = rw.code
    i = end
    while i > 0 and code[i - 1] in _SPACE:  # `printk(KERN_ERR PFX\n\t"...")` too
        i -= 1
    if i == 0:
        return None
    if code[i - 1] == 0x29:  # ')': an upper-case macro call or __stringify(...)
        open_at = _opening_paren(code, i - 1)
        if open_at < 0:
            return None
        j = open_at
        while j > 0 and code[j - 1] in b" \t":
            j -= 1
        start = rw.word_start(j)
        if not _string_macro_name(bytes(code[start:j])):
            return None
        return start, i
    start = rw.word_start(i)
    if i - start < 2 or not _is_upper_macro(bytes(code[start:i])):
        return None
    return start, i


def _opening_paren(code: bytearray, close_at: int) -> int:
    """Offset of the `(` matching the `)` at `close_at` on the same line, or -1."""
    depth = 0
    j = close_at
    while j >= 0:
        c = code[j]
        if c == 0x29:
            depth += 1
        elif c == 0x28:
            depth -= 1
            if depth == 0:
                return j
        elif c == 0x0A:
            return -1
        j -= 1
    return -1


def _macro_after(rw: "_Rewrite", start: int) -> tuple[int, int] | None:
    code = rw.code
    m = _WORD_AFTER.match(code, start)
    if m is None:
        return None
    name = m.group(1)
    if m.group(2):  # a call
        if not _string_macro_name(name):
            return None
        close = rw.closing_paren(m.end() - 1)
        if close < 0 or code.find(b"\n", m.start(1), close) >= 0:
            return None
        end = close + 1
    else:
        if not _is_upper_macro(name):
            return None
        end = m.end(1)
    follow = _TOKEN.match(code, end).group(1)
    if follow not in (b'"', b",", b")", b";", b"}", b":", b""):
        return None  # `"x" FOO + 1` would not be a string
    return (m.start(1), end) if end - m.start(1) >= 2 else None


def _is_upper_macro(word: bytes) -> bool:
    """`KERN_ERR`, `_ASM_EXTABLE`: upper case, at least one letter."""
    bare = word.lstrip(b"_")
    return bare[:1].isupper() and bare.upper() == bare


def _string_macro_name(name: bytes) -> bool:
    return name == b"__stringify" or _is_upper_macro(name)


_UPPER_AFTER = re.compile(rb"\s*[A-Z_]")
_WORD_OR_CLOSE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_)")
# A word after a string may stand on the next line (`"2:\n"` then `EX_TABLE(0b, 1b)` in asm).
_WORD_AFTER = re.compile(rb"\s*(\w+)([ \t]*\()?")


# --- section annotations named by family -------------------------------------------------------

def section_annotations(rw: "_Rewrite") -> None:
    """`static int __net_init f(...)`, `x[] __lsm_ro_after_init = {` -> the annotation blank.

    Subsystems add their own section markers (`__net_init`, `__init_memblock`, `__meminitdata`,
    `__lsm_ro_after_init`, ...), too many to list; all are `__` words with init/exit in them.
    Such a word is blanked only where no variable or call can stand: between a type (or a
    declarator) and a name, `*`, `=`, `;` or `{`, never before `(`.
    """
    code = rw.code
    edits = []
    for m in _SECTION_WORD.finditer(code):
        start, end = m.span()
        if start > 0 and code[start - 1] in _MEMBER_OR_WORD:
            continue
        _, prev = rw.prev_token(start)
        _, nxt = rw.next_token(end)
        if nxt == b"(" or not prev or prev in _NOT_BEFORE_ANNOTATION:
            continue
        if not (prev[:1] in _WORD_START or prev in (b"*", b"]", b")")):
            continue
        if not (nxt[:1] in _WORD_START or nxt in (b"*", b"=", b";", b"{", b",")):
            continue
        if prev == b")" and nxt not in (b";", b"{"):
            continue  # `int f(void) __init;`, not a cast `(long)__x_init,`
        if rw.on_directive_line(start):
            continue
        edits.append((start, end))
    for start, end in edits:
        rw.erase(start, end)


# init/exit ends the word, or data/const/_or_x/_memblock follows it (`__init_or_module`); linker
# symbols (`__start_ro_after_init`, `__init_begin`) and names like `__page_init_poisoning` are no
# annotations.
_SECTION_WORD = re.compile(rb"__(?!start_|end_)[a-z0-9_]*?(?:init|exit)(?:data|const|_or_[a-z]+|_memblock)?\b")
_MEMBER_OR_WORD = frozenset(b".>abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_WORD_START = frozenset(
    bytes([b]) for b in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
)
_NOT_BEFORE_ANNOTATION = frozenset(
    b"return goto case sizeof else do typeof __typeof__ if while for switch".split()
)


# --- upper-case storage macros at the start of a definition ---------------------------------------

def storage_macros(rw: "_Rewrite") -> None:
    """`STATIC int`, `INDIRECT_CALLABLE_SCOPE int` at the start of a line -> blank.

    An upper-case word in column 0 right before `static`, `inline` or a type keyword cannot be a
    type itself (a typedef name is never followed by another type): it is a macro for a storage
    class or an attribute (xfs' STATIC, net's INDIRECT_CALLABLE_SCOPE, zstd's FORCE_INLINE...).
    """
    for m in _STORAGE_MACRO.finditer(rw.code):
        rw.erase(m.start(1), m.end(1))


# followed by a type keyword, or by two words before `(` (`MEM_STATIC U32 f(`, `STATIC uint\nf(`)
_STORAGE_MACRO = re.compile(
    rb"\n([A-Z][A-Z0-9_]+)[ \t]+(?=(?:static|inline|extern|void|int|char|short|long|unsigned|signed|bool"
    rb"|struct|union|enum)\b|\w+(?:[ \t*]+|[ \t]*\n)[ \t*]*\w+[ \t]*\()"
)


# --- static declaration macros ----------------------------------------------------------------------

def static_declaration_macros(rw: "_Rewrite") -> None:
    """`static DEVICE_ATTR(name, 0644, show, store);` -> `static DEVICE_ATTR(name                );`.

    A file-scope `static UPPER_CASE(args);` defines an object (sysfs attributes, pm ops, radix
    trees, ...) and names it with its first argument; keeping only that one makes it the
    declaration `static T (name);` the parser reads. The source still has every argument.
    """
    code = rw.code
    for m in _STATIC_MACRO.finditer(code):
        if not rw.at_line_start(m.start()):
            continue
        open_at = m.end() - 1
        close = rw.closing_paren(open_at)
        if close < 0 or rw.next_token(close + 1)[1] != b";":
            continue
        args = rw.split_arguments(open_at, close)
        if len(args) < 2:
            continue
        rw.erase(args[0][1], close)


_STATIC_MACRO = re.compile(rb"static[ \t]+(?:const[ \t]+)?[A-Z][A-Z0-9_]*[ \t]*\(")


# --- empty macro arguments ------------------------------------------------------------------------

def empty_arguments(rw: "_Rewrite") -> None:
    """`CONFIGFS_ATTR(, name)`, `F(a, , b)`, `F(a, )` -> the comma of the empty argument blank.

    Macros may take empty arguments; C calls may not. Without the comma the call has one argument
    fewer, which the parser reads; the source keeps the comma.
    """
    code = rw.code
    edits = []
    for pattern in _EMPTY_ARGUMENT:
        for m in pattern.finditer(code):
            edits.append(m.end() - 1 if m.group()[-1:] == b"," else m.start())
    for at in edits:
        if code[at] == 0x2C:
            rw.put(at, b" ")


_EMPTY_ARGUMENT = (re.compile(rb"\([ \t]*,"), re.compile(rb",[ \t]*[,)]"))


# --- operators as macro arguments ------------------------------------------------------------------

def operator_arguments(rw: "_Rewrite") -> None:
    """`ASSERTCMP(x, ==, 0)`, `__prctl_check_order(a, <=, b)` -> the operator and its comma blank.

    A macro that takes a comparison operator as an argument pastes it between two others; as a
    call the operator alone is no expression. Without it (and the comma before it) the call has
    one argument fewer.
    """
    for m in _OPERATOR_ARGUMENT.finditer(rw.code):
        rw.erase(m.start(), m.end(1))


_OPERATOR_ARGUMENT = re.compile(rb",[ \t]*(==|!=|<=|>=|<|>|&&|\|\||[-+*/%&|^])[ \t]*(?=,)")


# --- GNU case ranges and named variadic macro parameters ---------------------------------------

def ellipses(rw: "_Rewrite") -> None:
    """`case 1 ... 3:` -> `case 1 -   3:`; `#define dprintk(args...)` -> `#define dprintk(args   )`.

    tree-sitter-c knows `...` in parameter lists and in `[a ... b]` designators only. A case range
    becomes a subtraction (one case value, same lines); a named variadic parameter of a macro loses
    its dots (the macro body is not parsed anyway).
    """
    code = rw.code
    for m in _ELLIPSIS.finditer(code):
        at = m.start()
        line_start = code.rfind(b"\n", 0, at) + 1
        if _CASE_START.match(code, line_start):
            rw.put(at, b"-  ")
        elif at > 0 and code[at - 1] in _WORD_BYTES and _DEFINE_START.match(code, line_start):
            rw.put(at, b"   ")


_ELLIPSIS = re.compile(rb"\.\.\.")
_CASE_START = re.compile(rb"[ \t]*case\b")
_DEFINE_START = re.compile(rb"[ \t]*#[ \t]*define\b")
_WORD_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


# --- directives inside initializer and enumerator lists -------------------------------------------

def directives_in_lists(rw: "_Rewrite") -> None:
    """`#define`/`#undef`/`#include` lines inside `= { ... }` or `enum { ... }` -> blank.

    tree-sitter-c takes directives between statements, declarations and struct members, not
    between the entries of an initializer or an enum (`FLAG(X), ... #undef FLAG };`, an
    `#include` of a table in an array initializer). There they become blank, continuation lines
    included; elsewhere they stay (and stay facts).
    """
    code = rw.code
    for m in _LIST_DIRECTIVE.finditer(code):
        start = m.start()
        if not rw.at_line_start(start):
            continue
        before = start
        while before > 0 and code[before - 1] in _SPACE:
            before -= 1
        if before == 0 or rw.ends_directive(before - 1):
            continue  # after another directive that stays: the same place
        c = code[before - 1]
        if c == 0x7B:  # '{': an initializer or enum opens here, or a block
            if not _opens_list(rw, before - 1):
                continue
        elif c not in b",(=":
            continue
        end = m.end()
        while True:  # the directive's continuation lines too
            eol = code.find(b"\n", end)
            if eol < 0:
                eol = len(code)
            if eol == 0 or code[eol - 1] != 0x5C or eol == len(code):
                break
            end = eol + 1
        rw.erase(start, eol)


def _opens_list(rw: "_Rewrite", brace: int) -> bool:
    """True when the `{` at `brace` opens an initializer or enumerator list, not a block."""
    at, prev = rw.prev_token(brace)
    if prev in (b"=", b",", b"{", b"(", b"enum"):
        return True
    if prev[:1] in _WORD_START:
        return rw.prev_token(at)[1] == b"enum"
    return False


_LIST_DIRECTIVE = re.compile(rb"#[ \t]*(?:define|undef|include|pragma)\b")


# --- continuation lines left blank ---------------------------------------------------------------

def dangling_continuations(rw: "_Rewrite") -> None:
    """`#define X \\` followed by a line the mask blanked -> the backslash blank too.

    When what followed a directive's line continuation was a comment or a blanked macro line,
    tree-sitter's preprocessor argument skips the blank line and takes the next line of code as
    the macro's value. Without the backslash the directive ends where its text ends.
    """
    out = rw.out
    hits = [m.start() for m in _CONTINUATION.finditer(out)]
    if not hits:
        return
    comment_starts = [s for s, _ in rw.comments]
    for at in reversed(hits):  # last first: a blanked backslash may leave the line above dangling
        eol = out.find(b"\n", at + 2)
        if eol < 0:
            eol = len(out)
        if out[at + 2:eol].strip():
            continue
        # a comment running on past the blank line keeps the directive going: leave it
        i = bisect.bisect_right(comment_starts, at + 2) - 1
        if i >= 0 and rw.comments[i][1] > eol:
            continue
        rw.put(at, b" ")


_CONTINUATION = re.compile(rb"\\\n")


# --- loop and scope macros with a block --------------------------------------------------------------

def loop_macros(rw: "_Rewrite") -> None:
    """`skb_queue_walk(&q, skb) {`, `NCSI_FOR_EACH_CHANNEL(np, nc) {` -> `while          (&q, skb) {`.

    A call at the start of an indented statement followed by `{` is no C: it is a loop or scope
    macro (the `*for_each*` names are done by mask.iterators; these are the others: `*_walk*`,
    `with_*`, ...). The name becomes `while` (`if` for a name shorter than that), the arguments
    stay as the condition, the block its body.
    """
    code = rw.code
    for m in _PAREN_BRACE.finditer(code):
        close = m.start()
        line_start = code.rfind(b"\n", 0, close) + 1
        head = _INDENTED_CALL.match(code, line_start)
        if head is not None:
            if head.group(1) in _NOT_LOOP_MACROS:
                continue
            open_at = head.end() - 1
            if rw.closing_paren(open_at) != close:
                continue
        else:
            if _CLOSING_BRACE_LINE.match(code, line_start) or line_start == close:
                continue  # `} else if (x) {`, or `)` alone: no call starts this line
            open_at = rw.opening_paren(close)
            if open_at < 0:
                continue
            line_start = code.rfind(b"\n", 0, open_at) + 1
            head = _INDENTED_CALL.match(code, line_start)
            if head is None or head.end() - 1 != open_at or head.group(1) in _NOT_LOOP_MACROS:
                continue
        _, prev = rw.prev_token(head.start(1))
        if prev not in (b";", b"{", b"}", b":", b")", b"else") or rw.ends_directive(line_start):
            continue
        rw.put(head.start(1), (b"while" if len(head.group(1)) >= 5 else b"if").ljust(len(head.group(1))))


_PAREN_BRACE = re.compile(rb"\)[ \t]*\{[ \t]*\n")
_INDENTED_CALL = re.compile(rb"[ \t]+(\w+)[ \t]*\(")
_CLOSING_BRACE_LINE = re.compile(rb"[ \t]*\}")
_NOT_LOOP_MACROS = frozenset(
    b"if for while switch return sizeof else do case goto typeof __typeof__ _Generic defined"
    b" __builtin_expect likely unlikely".split()
)


# --- arguments that are no expressions ------------------------------------------------------------

def digit_words(rw: "_Rewrite") -> None:
    """`phylink_set(mask, 10000baseT_Full)`, `tg3_flag(tp, 5780_CLASS)` -> `_____baseT_Full`.

    Macros paste such arguments onto a prefix (`ETHTOOL_LINK_MODE_##mode##_BIT`); alone they are
    no C token. An argument that starts with digits but is no number gets `_` for its digits, so
    the parser reads an identifier.
    """
    code = rw.code
    for pattern in _DIGIT_WORD_ARGUMENTS:
        for m in pattern.finditer(code):
            word = m.group(1)
            if _NUMBER.fullmatch(word):
                continue
            if word[-1:] in b"eE" and code[m.end():m.end() + 1] in (b"+", b"-"):
                continue  # `1e-5`
            digits = len(word) - len(word.lstrip(b"0123456789"))
            rw.put(m.start(1), b"_" * digits)


_DIGIT_WORD_ARGUMENTS = (
    re.compile(rb"\([ \t]*([0-9]+[a-zA-Z_]\w*)"), re.compile(rb",[ \t]*([0-9]+[a-zA-Z_]\w*)")
)
_NUMBER = re.compile(
    rb"(?:0[xX][0-9a-fA-F]+|0[bB][01]+|[0-9]+(?:[eE][0-9]+)?)(?:[uU](?:ll|LL|l|L)?|(?:ll|LL|l|L)[uU]?|[fF])?"
)


def statement_arguments(rw: "_Rewrite") -> None:
    """`PP_ASSERT_WITH_CODE(x, "msg", return -EINVAL;);`, `IO_COND(a, return inb(p), return 0)`.

    Macros that take code run it in their expansion; as call arguments a leading `return`,
    `break`, `continue` or `goto` and a trailing `;` are no expressions. Those words and that `;`
    become blank: the argument is its expression (or label, or nothing).
    """
    code = rw.code
    for pattern in _JUMP_ARGUMENTS:
        for m in pattern.finditer(code):
            rw.erase(m.start(1), m.end(1))
    for m in _SEMICOLON_BEFORE_CLOSE.finditer(code):
        at = m.start()
        _, prev = rw.prev_token(at)
        if prev in (b";", b"(", b"") or rw.ends_directive(at):
            continue  # `for (;;)`, an empty statement
        open_at = rw.opening_paren(m.end() - 1, 1024)
        if open_at < 0:
            continue
        word = code[rw.word_start(_skip_space_back(code, open_at)):_skip_space_back(code, open_at)]
        if word in (b"for", b""):
            continue  # a for header, or a group
        rw.put(at, b" ")


def _skip_space_back(code: bytearray, at: int) -> int:
    while at > 0 and code[at - 1] in _SPACE:
        at -= 1
    return at


_JUMP_ARGUMENTS = (
    re.compile(rb"\([ \t\n]*(return|break|continue|goto)\b"),
    re.compile(rb",[ \t\n]*(return|break|continue|goto)\b"),
)
_SEMICOLON_BEFORE_CLOSE = re.compile(rb";[ \t\n]*\)")


def designated_arguments(rw: "_Rewrite") -> None:
    """`X86_CONFIG(.event=0xc0, .umask=0x01)` -> `X86_CONFIG( event=0xc0,  umask=0x01)`.

    A macro that builds a struct from designated initializers takes them as arguments; without
    their dots they are assignments, which a call may take.
    """
    code = rw.code
    for m in _DESIGNATED_FIRST_ARGUMENT.finditer(code):
        open_at = m.start()
        close = rw.closing_paren(open_at)
        if close < 0:
            continue
        for start, end in rw.split_arguments(open_at, close):
            d = _DESIGNATOR.match(code, start, end)
            if d is not None:
                rw.put(d.start(1), b" ")


_DESIGNATED_FIRST_ARGUMENT = re.compile(rb"\([ \t\n]*\.[a-zA-Z_]\w*[ \t]*=[^=]")
_DESIGNATOR = re.compile(rb"[ \t\n]*(\.)[a-zA-Z_]\w*[ \t]*=[^=]")


# --- asm ----------------------------------------------------------------------------------------

def asm_statements(rw: "_Rewrite") -> None:
    """`asm volatile(ALTERNATIVE("isb", "nop", X) ::: "memory")` -> a template of string literals;
    `register long r0 asm("r0") = x;` -> the register name blank.

    tree-sitter-c takes only string literals as an asm template, where the kernel writes macros
    (`ALTERNATIVE(...)`, `PPC_TLBIEL(...)`, `__stringify(...)`). Each line of such a template
    becomes one string literal (blank inside), so the template stays where it was. An asm label
    after a declarator (a register variable) is blanked: the parser takes no initializer after it.
    """
    code = rw.code
    for pattern in _ASM_KEYWORDS:
        for m in pattern.finditer(code):
            start = m.start()
            if start > 0 and code[start - 1] in _WORD_BYTES:
                continue
            q = _ASM_QUALIFIERS.match(code, m.end())
            open_at = q.end() - 1
            if code[open_at] != 0x28:
                continue
            close = rw.closing_paren(open_at)
            if close < 0 or rw.ends_directive(start):
                continue  # (an asm in a macro body is not parsed)
            _, prev = rw.prev_token(start)
            if prev[:1] in _WORD_START and prev not in _NOT_BEFORE_ANNOTATION and prev != b"else" \
                    and rw.next_token(close + 1)[1] in (b"=", b";", b","):
                rw.erase(start, close + 1)  # `r0 asm("r0") = x`: a register variable's name
                continue
            end = rw.split_arguments(open_at, close)[0][1]
            colon = code.find(b":", open_at, end)
            end = colon if colon > 0 else end
            if _ONLY_STRINGS.fullmatch(code, open_at + 1, end):
                continue
            _stringify(rw, open_at + 1, end)


def _stringify(rw: "_Rewrite", start: int, end: int) -> None:
    """Every line piece of [start, end) becomes a blank string literal (a 1-byte piece a space)."""
    code = rw.code
    pos = start
    while pos < end:
        eol = code.find(b"\n", pos, end)
        piece_end = end if eol < 0 else eol
        text = bytes(code[pos:piece_end])
        stripped = text.strip()
        if stripped:
            lead = text.index(stripped[:1])
            s, e = pos + lead, pos + lead + len(stripped)
            rw.put(s, b'"' + b" " * (e - s - 2) + b'"' if e - s >= 2 else b" ")
        pos = piece_end + 1


_ASM_KEYWORDS = (re.compile(rb"asm\b"), re.compile(rb"__asm__\b"), re.compile(rb"__asm\b"))
_ASM_QUALIFIERS = re.compile(rb"(?:\s*(?:volatile|__volatile__|__volatile|goto|inline|__inline__))*\s*\(?")
_ONLY_STRINGS = re.compile(rb'(?:\s*"[^"]*")*\s*')  # a literal may go on after a backslash-newline


# --- annotations nobody listed -------------------------------------------------------------------

def unknown_annotations(rw: "_Rewrite") -> None:
    """`static void __head f(...)`, `map_word __xipram f(...)`, `static SBA_INLINE void f(...)`.

    Architectures and drivers define their own section and inlining markers. A `__lower_case`
    word that stands between a type and a declarator (after a type word, a typedef or `*`, before
    a name or `*`) can only be one of those, as can an UPPER_CASE word between `static` and a
    type. Both become blank; known type names (`__u32`, `__be16`, `__int128`, `*_t`) never do.
    """
    code = rw.code
    edits = []
    for m in _LOWER_ANNOTATION.finditer(code):
        start, end = m.span(1)
        if start > 0 and code[start - 1] in _MEMBER_OR_WORD:
            continue
        word = m.group(1)
        if _TYPE_LIKE.fullmatch(word):
            continue
        p_at, prev = rw.prev_token(start)
        if not (prev == b"*" or prev in _TYPE_KEYWORDS
                or prev[:1] in _WORD_START and prev not in _NOT_BEFORE_ANNOTATION and prev not in _C_NON_TYPES):
            continue
        n_at, nxt = rw.next_token(end)
        if nxt != b"*":
            if nxt[:1] not in _WORD_START or nxt in _ASM_WORDS:
                continue
            after = rw.next_token(n_at + len(nxt))[1]
            if after not in (b"(", b"=", b";", b",", b"[", b")", b"*") and after[:1] not in _WORD_START:
                continue
        if rw.ends_directive(start):
            continue
        edits.append((start, end))
    for m in _STATIC_UPPER.finditer(code):
        start, end = m.span(1)
        n_at, nxt = rw.next_token(end)
        if nxt in (b"const", b"volatile"):
            continue  # `static FUNC const table[]`: the upper-case word is the type
        if nxt not in _TYPE_KEYWORDS and nxt not in (b"struct", b"union", b"enum", b"inline"):
            after = rw.next_token(n_at + len(nxt))[1]
            if not (after == b"*" or after[:1] in _WORD_START):
                continue
        if not rw.ends_directive(start):
            edits.append((start, end))
    for start, end in edits:
        rw.erase(start, end)


_LOWER_ANNOTATION = re.compile(rb"(__[a-z][a-z0-9_]*+)(?=[ \t\n]+[*a-zA-Z_])")
_STATIC_UPPER = re.compile(rb"static[ \t]+([A-Z][A-Z0-9_]{2,})[ \t]+(?=[a-zA-Z_])")
_TYPE_LIKE = re.compile(
    rb"__(?:[us](?:8|16|32|64|128)|be(?:16|32|64)|le(?:16|32|64)|int128|uint128_t|wsum|sum16|virtio(?:16|32|64)"
    rb"|signed__|signed|inline__|inline|volatile__|volatile|restrict__|restrict|extension__|typeof__|typeof"
    rb"|auto_type|label__|thread|complex__|real__|imag__|alignof__|asm__|asm|attribute__|attribute|int\d+|float\d+"
    rb"|bf16|fp16|poll_t|kernel_\w+|builtin_\w+)|\w+_t"
)
_TYPE_KEYWORDS = frozenset(
    b"void int char short long unsigned signed float double bool _Bool".split()
)
_C_NON_TYPES = frozenset(b"return goto case sizeof else do static extern inline const volatile struct union enum"
                         b" typedef register auto".split())
_ASM_WORDS = frozenset([b"asm", b"__asm__", b"__asm"])
