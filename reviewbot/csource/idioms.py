"""More length-preserving kernel idiom rewrites for mask.py, found beyond kernel/bpf and mm.

Each pass takes the `_Rewrite` of mask.py and edits it in place by its rules: every byte stays at
its offset, newlines stay newlines, patterns match the `code` view (comments and the insides of
literals blank), directive lines are left alone unless said so. They were found by ranking the
ERROR nodes of the 1,730 .c files of linux 6.1 that use RCU, then of the whole tree, by the
construct around them, and cover idioms kernel/bpf and mm use little: section and inlining
markers nobody listed, string-literal macros, asm templates built by macros, sysfs/pm/board
declaration macros, code and odd tokens as macro arguments, loop macros not named for_each, GNU
case ranges, directives inside initializers. docs/csource.md has the measured gain of each.

Speed: Python's regex engine scans fast for a pattern that starts with a literal and slowly for one
that starts with a character class or an alternation, so every pattern here starts with a literal
(checking the next byte in a lookahead when the literal is common), and passes that look at the
same literal share one scan.
"""

from __future__ import annotations

import bisect
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from reviewbot.csource.mask import _Rewrite


_TOKEN = re.compile(rb"\s*(\w+|\S|)")
_WORD_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_MEMBER_OR_WORD = _WORD_BYTES | frozenset(b".>")
_WORD_START = frozenset(
    bytes([b]) for b in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
)
_NOT_BEFORE_ANNOTATION = frozenset(
    b"return goto case sizeof else do typeof __typeof__ if while for switch".split()
)
_TYPE_KEYWORDS = frozenset(
    b"void int char short long unsigned signed float double bool _Bool".split()
)


# === annotations and declaration heads ===========================================================

def unlisted_annotations(rw: "_Rewrite", words: list) -> None:
    """`static int __net_init f(...)`, `static void __head f(...)`, `map_word __xipram f(...)`.

    Subsystems and architectures define their own section and inlining markers, too many to list.
    mask.annotations hands over the `__lower_case` words it does not know (as regex matches):

    * section words (`__net_init`, `__init_memblock`, `__meminitdata`, `__lsm_ro_after_init`:
      init/exit ending the word or before data/const/_or_x/_memblock) are blanked between a type
      or a declarator and a name, `*`, `=`, `;`, `{` or `,`;
    * any other such word only between a type (a type word, a typedef, `*`) and a declarator (a
      name followed by `(`, `=`, `;`, `[`, ... or `*`), where no variable can stand;
    * `__word(args)` only after a declarator (`x[] __alias(y);`) and before `;`, `=` or `,`;
    * `(__efiapi *name)`, and a word after `]` before `=` or `;`.

    Known type names (`__u32`, `__be16`, `__int128`, `*_t`) and linker symbols
    (`__start_ro_after_init`) are never blanked, nor a word that a call or a prototype needs.
    """
    code = rw.code
    edits = []
    for m in words:
        start, end = m.span()
        word = m.group()
        if start > 0 and code[start - 1] in _MEMBER_OR_WORD or code[start] != 0x5F:
            continue  # part of a longer name, or blank now (in a listed annotation's arguments)
        if word[2:3] not in _LOWER or _TYPE_LIKE.fullmatch(word):
            continue
        n_at, nxt = rw.next_token(end)
        p_at, prev = rw.prev_token(start)
        if not prev or prev in _NOT_BEFORE_ANNOTATION:
            continue
        if nxt == b"(":
            # `x[] __alias(y);`, `typedef int w __mode(__word__);`: after a declarator (a name
            # after a type, or `]`), an attribute with arguments; a call never stands there
            if prev != b"]":
                if prev[:1] not in _WORD_START or prev in _C_NON_TYPES or prev in _TYPE_KEYWORDS:
                    continue  # `long long __ashrdi3(long long, int);` is a prototype
                before = rw.prev_token(p_at)[1]
                if not (before == b"*" or before in _TYPE_KEYWORDS
                        or before[:1] in _WORD_START and before not in _C_NON_TYPES):
                    continue
            close = rw.closing_paren(n_at)
            if close < 0 or rw.next_token(close + 1)[1] not in (b";", b"=", b","):
                continue
            if not rw.ends_directive(start):
                edits.append((start, close + 1))
            continue
        if prev == b"(" and nxt == b"*":
            # `efi_status_t (__efiapi *get_next)(...)`: a calling convention in a declarator
            name_at, name = rw.next_token(n_at + 1)
            if name[:1] in _WORD_START and rw.next_token(name_at + len(name))[1] == b")":
                edits.append((start, end))
            continue
        if prev == b"]" and nxt in (b"=", b";"):
            # `jumptable[256] __annotate_jump_table = {`: after an array declarator
            if not rw.ends_directive(start):
                edits.append((start, end))
            continue
        if _SECTION_WORD.fullmatch(word):
            if not (prev[:1] in _WORD_START or prev in (b"*", b"]", b")")):
                continue
            if not (nxt[:1] in _WORD_START or nxt in (b"*", b"=", b";", b"{", b",")):
                continue
            if prev == b")" and nxt not in (b";", b"{"):
                continue  # `int f(void) __init;`, not a cast `(long)__x_init,`
        else:
            if not (prev == b"*" or prev in _TYPE_KEYWORDS
                    or prev[:1] in _WORD_START and prev not in _C_NON_TYPES):
                continue
            if nxt != b"*":
                if nxt[:1] not in _WORD_START or nxt in _ASM_WORDS:
                    continue
                after = rw.next_token(n_at + len(nxt))[1]
                if after not in (b"(", b"=", b";", b",", b"[", b")", b"*") and after[:1] not in _WORD_START:
                    continue
                if after == b"(" and nxt[:2] == b"__":
                    continue  # `struct s __name __alias(x);`: the next word is the attribute
        if rw.ends_directive(start):
            continue
        edits.append((start, end))
    for start, end in edits:
        rw.erase(start, end)


_LOWER = frozenset(bytes([b]) for b in b"abcdefghijklmnopqrstuvwxyz")
_SECTION_WORD = re.compile(rb"__(?!start_|end_)[a-z0-9_]*?(?:init|exit)(?:data|const|_or_[a-z]+|_memblock)?")
_TYPE_LIKE = re.compile(
    rb"__(?:[us](?:8|16|32|64|128)|be(?:16|32|64)|le(?:16|32|64)|int128|uint128_t|wsum|sum16|virtio(?:16|32|64)"
    rb"|signed__|signed|inline__|inline|volatile__|volatile|restrict__|restrict|extension__|typeof__|typeof"
    rb"|auto_type|label__|thread|complex__|real__|imag__|alignof__|asm__|asm|attribute__|attribute|int\d+|float\d+"
    rb"|bf16|fp16|poll_t|kernel_\w+|builtin_\w+)|\w+_t"
)
_C_NON_TYPES = frozenset(b"return goto case sizeof else do static extern inline const volatile struct union enum"
                         b" typedef register auto".split())
_ASM_WORDS = frozenset([b"asm", b"__asm__", b"__asm"])


def column0_macros(rw: "_Rewrite") -> None:
    r"""Macros in column 0, found by one scan of the line starts.

    * `STATIC int`, `INDIRECT_CALLABLE_SCOPE int`, `MEM_STATIC U32 f(` -> the word blank: an
      upper-case word right before `static`, `inline` or a type keyword, or before two words and
      `(`, cannot be the type itself (a typedef name is never followed by another type): it is a
      storage class or attribute macro (xfs' STATIC, net's INDIRECT_CALLABLE_SCOPE, zstd's...);
    * a call followed by lines of `.field = x,`: a struct initializer (see struct_macro);
    * a call over several lines without `;` before a declaration: a macro (multi_line_macro);
    * an upper-case word alone on its line after a `;`, `}` or directive and before a keyword
      that starts a declaration (a macro that defines functions or tables,
      `DECLARE_VM_GET_PAGE_PROT`) -> blank; before a name it is a type (`LONG\nArcRead(...)`).
    """
    code = rw.code
    first = _COLUMN0_AT_START.match(code)  # the text's first line has no newline before it
    for m in ([first] if first else []) + list(_COLUMN0_MACRO.finditer(code)):
        if m.group("alone"):
            nxt = rw.next_token(m.end())[1]
            if _END_WORD.fullmatch(m.group("alone")) or nxt[:1] in _WORD_START and nxt not in _DECLARATION_START:
                continue  # MACHINE_END (struct_macro's), or a type (`LONG\nArcRead(...)`)
            if nxt in _CONTINUES_LINE:
                continue  # an expression going on
            if rw.prev_token(m.start("alone"))[1] in (b";", b"}", b")", b"") or rw.ends_directive(m.start() - 1):
                rw.erase(m.start("alone"), m.end("alone"))
        elif m.group("storage"):
            rw.erase(m.start("storage"), m.end("storage"))
        elif m.group("call"):
            _multi_line_macro(rw, m)
        else:
            _struct_macro(rw, m)


def _multi_line_macro(rw: "_Rewrite", m) -> None:
    r"""`DEFINE_BPF_ITER_FUNC(task_file, struct bpf_iter_meta *meta,\n ...)` with no `;`, before a
    declaration: a column-0 macro over several lines that defines things -> blank (on one line
    it is mask.bare_macro_lines'). A function's name on its own line (`static int\nf(int a)\n{`)
    is followed by `{` or `;` and stays."""
    code = rw.code
    start = m.start("call")
    open_at = m.end() - 1
    close = rw.closing_paren(open_at)
    if close < 0 or code.find(b"\n", open_at, close) < 0 or m.group("call") in _NOT_LOOP_MACROS:
        return
    nxt_at, nxt = rw.next_token(close + 1)
    if code.find(b"\n", close, nxt_at) < 0 and nxt:
        return  # something follows on the same line
    if nxt not in _DECLARATION_START and nxt:
        return
    if rw.prev_token(start)[1] not in (b";", b"}", b")", b"") and not rw.ends_directive(start - 1):
        return  # after a type: a function's name (`static struct x *\nf(...)`)
    if not rw.ends_directive(start):  # (a line of a #define's body)
        rw.erase(start, close + 1)


_COLUMN0_MACRO_BODY = (
    # an upper-case word alone on its line (`DECLARE_VM_GET_PAGE_PROT`) defines things
    rb"(?:(?P<alone>[A-Z][A-Z0-9_]{2,})[ \t]*(?=\n)"
    # a storage macro: before a type keyword, or before two words and `(`
    rb"|(?P<storage>[A-Z][A-Z0-9_]+)[ \t]+(?=(?:static|inline|extern|void|int|char|short|long|unsigned"
    rb"|signed|bool|struct|union|enum)\b|\w+(?:[ \t*]+|[ \t]*\n)[ \t*]*\w+[ \t]*\()"
    # a column-0 call, `{` or the end of the line after it, then an indented `.field`
    rb"|\w+[ \t]*(?P<open>\()[^\n;{]*\)[ \t]*(?P<brace>\{)?[ \t]*\n\s*\.[a-zA-Z_]"
    # any other call: one over several lines without `;` is a macro (see multi_line_macro)
    rb"|(?P<call>\w+)[ \t]*\((?=[^\n;]*\n))"
)
_COLUMN0_MACRO = re.compile(rb"\n(?=[A-Za-z_])" + _COLUMN0_MACRO_BODY)  # indented lines fail at once
_DECLARATION_START = frozenset(
    b"static extern inline const volatile typedef struct union enum void int char short long unsigned signed"
    b" bool".split()
)
_CONTINUES_LINE = frozenset([b"=", b"(", b"[", b",", b";", b"+", b"-", b"*", b"/", b"|", b"&", b"?", b":", b".",
                             b"<", b">", b"^", b"%", b"{"])
_COLUMN0_AT_START = re.compile(_COLUMN0_MACRO_BODY)


def static_macros(rw: "_Rewrite") -> None:
    """Upper-case words after a column-0 `static`: declaration macros and inlining markers.

    * `static DEVICE_ATTR(name, 0644, show, store);` -> `static DEVICE_ATTR(name                );`:
      a file-scope `static UPPER_CASE(args);` defines an object (sysfs attributes, pm ops, radix
      trees, ...) named by its first argument; with only that one it is the declaration
      `static T (name);` the parser reads.
    * `static SBA_INLINE void f(`, `static FORCE_INLINE U32 f(` -> the word blank: before a type
      keyword, or before two more words, it cannot be the type (`static FUNC const t[]` keeps it);
      so are upper-case words between the type and the name (`static u32 INIT f(`).
    """
    code = rw.code
    for m in _STATIC_UPPER.finditer(code):
        if not rw.at_line_start(m.start()):
            continue
        if m.group(2):
            open_at = m.end() - 1
            close = rw.closing_paren(open_at)
            if close < 0 or rw.next_token(close + 1)[1] != b";":
                continue
            args = rw.split_arguments(open_at, close)
            if len(args) >= 2:
                rw.erase(args[0][1], close)
            continue
        start, end = m.span(1)
        if end - start < 3:
            continue
        n_at, nxt = rw.next_token(end)
        if nxt in (b"const", b"volatile") or nxt[:1] not in _WORD_START:
            continue  # `static FUNC const table[]`: the upper-case word is the type
        if nxt not in _TYPE_KEYWORDS and nxt not in (b"struct", b"union", b"enum", b"inline"):
            after = rw.next_token(n_at + len(nxt))[1]
            if not (after == b"*" or after[:1] in _WORD_START):
                continue
        rw.erase(start, end)
    _static_head_annotations(rw)


def _static_head_annotations(rw: "_Rewrite") -> None:
    """`static inline uint32_t INIT rc_read(`, `static void ACPI_SYSTEM_XFACE f(`: an upper-case
    word between the type and the function's name is an attribute macro (the type has its place
    before it, the name after it) -> blank."""
    code = rw.code
    for m in _STATIC_HEAD.finditer(code):
        words = [w for w in _HEAD_WORD.finditer(code, m.start(1), m.end(1))
                 if w.group() not in _HEAD_KEYWORDS]
        if len(words) < 3 or words[-1].group() == b"*":
            continue
        first = words[0].group()
        i = 1
        if first in (b"struct", b"union", b"enum"):
            i = 2
        elif first in _TYPE_KEYWORDS:
            while i < len(words) and words[i].group() in _TYPE_KEYWORDS:
                i += 1
        for w in words[i:-1]:
            word = w.group()
            if len(word) >= 3 and _is_upper_macro(word) and word[:1] != b"_":
                rw.erase(w.start(), w.end())


# a static function's head up to `(`, with an upper-case letter in it
_STATIC_HEAD = re.compile(rb"static[ \t](?=[^\n;(){}=\[\]\"A-Z]*+[A-Z])([^\n;(){}=\[\]\"]*)\(")
_HEAD_WORD = re.compile(rb"\w+|\*")
_HEAD_KEYWORDS = frozenset(b"static inline __inline __inline__ extern const volatile".split())


_STATIC_UPPER = re.compile(rb"static[ \t]+(?:const[ \t]+)?([A-Z][A-Z0-9_]*)\b(?:[ \t]*(\())?")


def _struct_macro(rw: "_Rewrite", m) -> None:
    """Column-0 macros that open a struct initializer the next lines fill with `.field = x,`.

    * `MACHINE_START(SIM_ONE, "Sim.One")` ... `MACHINE_END` (arm/arc board descriptions) ->
      `MACHINE_START SIM_ONE = {          ` ... `};         `;
    * `define_machine(efika) {` ... `};` (powerpc) -> `define_machine efika= {`.

    Either way the parser reads a declaration `T name = { ... };` with the macro as its type.
    """
    code = rw.code
    open_at = m.start("open")
    close = rw.closing_paren(open_at)
    if close < 0 or close > m.end():
        return
    args = rw.split_arguments(open_at, close)
    if m.group("brace"):  # `name(arg) {`
        if len(args) == 1:
            rw.put(open_at, b" ")
            rw.put(close, b"=")
        return
    end_line = _COLUMN0_LINE.search(code, m.end())
    if len(args) < 2 or end_line is None or not _END_WORD.fullmatch(end_line.group(1)):
        return
    tail = args[0][1]
    if close + 1 - tail < 4:
        return
    rw.put(open_at, b" ")
    rw.put(tail, b" = {".ljust(close + 1 - tail))
    word_start = end_line.start(1)
    rw.put(word_start, b"};".ljust(end_line.end(1) - word_start))


_COLUMN0_LINE = re.compile(rb"\n([^ \t\n#][^\n]*)")
_END_WORD = re.compile(rb"[A-Z][A-Z0-9_]*END[ \t]*")


def unnamed_bitfields(rw: "_Rewrite") -> None:
    """`u32 : 16;`, `int :32;` (padding in a struct) -> blank.

    tree-sitter-c wants a name before a bit-field's width; a padding field has none, and the
    struct reads the same without it.
    """
    code = rw.code
    for m in _BITFIELD_WIDTH.finditer(code):
        colon = m.start()
        start = colon
        while start > 0 and code[start - 1] not in b";{}\n":
            start -= 1
        words = bytes(code[start:colon]).split()
        if words and all(_BITFIELD_TYPE.fullmatch(w) for w in words) and not rw.ends_directive(colon):
            rw.erase(start + len(code[start:colon]) - len(bytes(code[start:colon]).lstrip()), m.end())


_BITFIELD_WIDTH = re.compile(rb":[ \t]*[0-9]+[ \t]*;")
_BITFIELD_TYPE = re.compile(
    rb"unsigned|signed|const|volatile|int|char|short|long|bool|_Bool|(?:__)?[us](?:8|16|32|64)|u?int(?:8|16|32|64)?_t"
    rb"|u?int|u_?(?:char|short|int|long)|__(?:be|le)(?:16|32|64)"
)


def typeof_types(rw: "_Rewrite") -> None:
    """`typeof(p->m) x = 0;`, `(__typeof__(a.b))y`, `typeof_member(struct s, m) f;` -> one word.

    tree-sitter-c reads `typeof(expression)` before a declarator as a call, and not at all as a
    cast type. Where it declares (at the start of a statement, before a name or `*`) or casts
    (alone in parentheses), the whole `typeof(...)` becomes one identifier, `typeof___...`.
    """
    code = rw.code
    for m in _TYPEOF.finditer(code):
        start = rw.word_start(m.start())
        word_end = m.end()
        while word_end < len(code) and code[word_end] in _WORD_BYTES:
            word_end += 1
        if bytes(code[start:word_end]) not in _TYPEOF_WORDS:
            continue
        open_at = word_end
        while open_at < len(code) and code[open_at] in b" \t":
            open_at += 1
        if code[open_at:open_at + 1] != b"(":
            continue
        close = rw.closing_paren(open_at)
        if close < 0 or code.find(b"\n", start, close) >= 0:
            continue
        _, prev = rw.prev_token(start)
        nxt_at, nxt = rw.next_token(close + 1)
        declares = prev in (b";", b"{", b"}", b"const", b"static", b"volatile", b"") and (
            nxt == b"*" or nxt[:1] in _WORD_START)
        casts = prev == b"(" and nxt == b")"
        if (declares or casts) and not rw.ends_directive(start):
            rw.put(start, bytes(code[start:word_end]).ljust(close + 1 - start, b"_"))


_TYPEOF = re.compile(rb"typeof")
_TYPEOF_WORDS = frozenset(b"typeof __typeof__ __typeof typeof_member typeof_unqual __typeof_unqual__".split())


# === strings and asm =============================================================================

def string_macros(rw: "_Rewrite") -> None:
    """`printk(KERN_ERR PFX "x")`, `"%." __stringify(N) "s"` -> string literals of the same length.

    An upper-case macro (or `__stringify(...)`, or an upper-case macro call) standing next to a
    string literal can only be a string literal itself: the parser sees `"       "` in its place
    and reads the concatenation. Directive lines are left alone (their bodies are not parsed).
    """
    code = rw.code
    edits = []
    for s_start, s_end in rw.strings:
        before = rw.skip_space_back(s_start)
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
    i = rw.skip_space_back(end)  # `printk(KERN_ERR PFX\n\t"...")` too
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


_ASM_KEYWORDS = (re.compile(rb"asm\b"), re.compile(rb"__asm(?:__)?\b"))
_ASM_QUALIFIERS = re.compile(rb"(?:\s*(?:volatile|__volatile__|__volatile|goto|inline|__inline__))*\s*\(?")
_ONLY_STRINGS = re.compile(rb'(?:\s*"[^"]*")*\s*')  # a literal may go on after a backslash-newline


# === macro arguments =============================================================================

def arguments(rw: "_Rewrite") -> None:
    """Macro arguments that are no C expressions, found after `(` and after `,` in one scan each.

    * empty ones: `CONFIGFS_ATTR(, name)`, `F(a, , b)`, `F(a, )` -> the comma blank (a call may
      not take an empty argument; with one comma fewer it has one argument fewer);
    * digit-led words the macro pastes onto a prefix: `phylink_set(m, 10000baseT_Full)`,
      `tg3_flag(tp, 5780_CLASS)` -> `_____baseT_Full` (numbers, `1e-5` included, stay);
    * code: `PP_ASSERT_WITH_CODE(c, "msg", return -EINVAL;)`, `IO_COND(a, return inb(p), ...)`
      -> a leading `return`/`break`/`continue`/`goto` blank (a trailing `;` is statement_ends');
    * operators: `ASSERTCMP(x, ==, 0)` -> the operator and the comma before it blank;
    * designated initializers: `X86_CONFIG(.event=0xc0, .umask=0x01)` -> their dots blank, which
      leaves assignments;
    * `if (cond) break;` as the last argument (nouveau's polling macros) -> `(cond)`.
    """
    code = rw.code
    for m in _OPEN_ARGUMENT.finditer(code):
        if m.group("empty"):
            rw.put(m.start("empty"), b" ")
        elif m.group("jump"):
            rw.erase(m.start("jump"), m.end("jump"))
        elif m.group("digit"):
            _digit_word(rw, m)
        elif m.group("field"):
            open_at = m.start()
            close = rw.closing_paren(open_at)
            if close < 0:
                continue
            for start, end in rw.split_arguments(open_at, close):
                d = _DESIGNATOR.match(code, start, end)
                if d is not None:
                    rw.put(d.start(1), b" ")
    for m in _NEXT_ARGUMENT.finditer(code):
        if m.group("empty"):
            if code[m.start("empty")] == 0x2C:  # `,,`: the second comma
                rw.put(m.start("empty"), b" ")
            else:  # `,)`: the comma
                rw.put(m.start(), b" ")
        elif m.group("jump"):
            rw.erase(m.start("jump"), m.end("jump"))
        elif m.group("digit"):
            _digit_word(rw, m)
        elif m.group("op"):
            rw.erase(m.start(), m.end("op"))
        elif m.group("cond"):
            _conditional_argument(rw, m)


def _conditional_argument(rw: "_Rewrite", m) -> None:
    """`nvif_msec(dev, 10, if (rd32(dev, R) & 1) break; ) < 0`: the polling macros of nouveau take
    `if (cond) break;` as their last argument -> `(cond)` alone, the if, jump and `;` blank."""
    code = rw.code
    open_at = m.end() - 1
    close = rw.closing_paren(open_at)
    if close < 0:
        return
    jump_at, jump = rw.next_token(close + 1)
    if jump not in (b"break", b"continue", b"return", b"goto"):
        return
    semicolon = code.find(b";", jump_at)
    if semicolon < 0 or code.find(b")", jump_at, semicolon) >= 0 and jump != b"return":
        return
    rw.erase(m.start("cond"), m.end("cond"))
    rw.erase(jump_at, jump_at + len(jump) if jump != b"goto" else semicolon)
    rw.put(semicolon, b" ")


def _digit_word(rw: "_Rewrite", m) -> None:
    word = m.group("digit")
    if _NUMBER.fullmatch(word):
        return
    end = m.end("digit")
    if word[-1:] in b"eE" and rw.code[end:end + 1] in (b"+", b"-"):
        return  # `1e-5`
    digits = len(word) - len(word.lstrip(b"0123456789"))
    rw.put(m.start("digit"), b"_" * digits)


# (the lookaheads on the first byte make nearly every `(` and `,` fail at once)
_OPEN_ARGUMENT = re.compile(
    rb"\([ \t\n]*+(?=[,rbcg0-9.])(?:(?P<empty>,)|(?P<jump>return|break|continue|goto)\b"
    rb"|(?P<digit>[0-9]+[a-zA-Z_]\w*)|(?P<field>\.)[a-zA-Z_]\w*[ \t]*=[^=])"
)
_NEXT_ARGUMENT = re.compile(
    rb",[ \t\n]*+(?=[,)rbcgi0-9=!<>&|^*/%+-])(?:(?P<empty>[,)])|(?P<jump>return|break|continue|goto)\b"
    rb"|(?P<digit>[0-9]+[a-zA-Z_]\w*)|(?P<op>==|!=|<=|>=|&&|\|\||[-+*/%&|^<>])[ \t]*(?=,)"
    rb"|(?P<cond>if)[ \t\n]*\()"
)
_NUMBER = re.compile(
    rb"(?:0[xX][0-9a-fA-F]+|0[bB][01]+|[0-9]+(?:[eE][0-9]+)?)(?:[uU](?:ll|LL|l|L)?|(?:ll|LL|l|L)[uU]?|[fF])?"
)
_DESIGNATOR = re.compile(rb"[ \t\n]*(\.)[a-zA-Z_]\w*[ \t]*=[^=]")


def statement_ends(rw: "_Rewrite") -> None:
    """`DLM_ASSERT(x, dump(r););`, `IF_EVENT(printk("x");)` -> the `;` before `)` blank.

    A macro that runs code takes whole statements; a `;` right before a `)` ends no for header
    and no expression, so without it the argument is an expression.
    """
    code = rw.code
    for pattern in _SEMICOLON_BEFORE_CLOSE:
        for m in pattern.finditer(code):
            at = m.start()
            _, prev = rw.prev_token(at)
            if prev in (b";", b"(", b"") or rw.ends_directive(at):
                continue  # `for (;;)`, an empty statement
            open_at = rw.opening_paren(m.end() - 1, 1024)
            if open_at < 0:
                continue
            word_end = rw.skip_space_back(open_at)
            word = code[rw.word_start(word_end):word_end]
            if word in (b"for", b""):
                continue  # a for header, or a group
            rw.put(at, b" ")


_SEMICOLON_BEFORE_CLOSE = (re.compile(rb";\)"), re.compile(rb"; +\)"))


# === statements ==================================================================================

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


# === directives ==================================================================================

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
        before = rw.skip_space_back(start)
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


def directive_ends(rw: "_Rewrite") -> None:
    r"""Directives whose text the mask blanked to the end of the line: let them end there.

    tree-sitter-c reads a line continuation followed by a blank line, and a `#define NAME` with
    only blanks after the name, as going on to the next line that has code: that line becomes the
    macro's value and is lost to the parse. The mask makes such lines: it blanks comments
    (`#define X /* off */`, `#define X \` over a comment line) and macro lines.

    * a backslash before a blank line is blanked too, so the directive ends on its own line;
    * a `#define X` whose line is blank after the name gets `/**/` at the end of those blanks (a
      comment ending the line is what tree-sitter takes there; it needs 5 blank bytes, which a
      blanked comment has).
    """
    out = rw.out
    comment_starts = [s for s, _ in rw.comments]
    hits = [m.start() for m in _CONTINUATION.finditer(out)]
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
    for m in _BLANK_DEFINE.finditer(out):
        if m.end(1) - m.start(1) >= 5:  # the comment must end the line: blanks after it count too
            rw.put(m.end(1) - 4, b"/**/")


_CONTINUATION = re.compile(rb"\\\n")
_BLANK_DEFINE = re.compile(rb"#[ \t]*define[ \t]+\w+([ \t]+)(?=\n)")
