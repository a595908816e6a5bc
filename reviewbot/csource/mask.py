"""A length-preserving rewrite of kernel C idioms so tree-sitter-c reads them as plain C.

tree-sitter-c knows C, not the kernel's macro dialect: `list_for_each_entry(pos, head, member) {`
reads as a call missing its `;`, `__rcu`/`__user` and `__must_hold(&l)` are ERROR nodes,
`static DEFINE_PER_CPU(int, x);` is a broken type, and `#ifdef` branches that each open a brace
break every function they sit in. `mask()` rewrites those spots *in place*: every byte of the
result stands where the same byte of the source stands, so a node's byte range and line in the
masked text are its byte range and line in the source (and in the diff). Checks always read the
original text through those ranges, never the masked text.

What is rewritten here (each measured on linux-source-6.1 kernel/bpf and mm, biggest first; see
docs/csource.md and bench/parse_bench.py):

* comments become spaces (their spans are returned so kernel-doc can be read from the source);
* `#if/#ifdef/#ifndef/#elif/#else/#endif` lines become blank and only the first branch is kept
  (the `#else` branch of `#if 0` instead), so every function sees one consistent set of braces;
* annotations (`__rcu`, `__user`, `__init`, `__must_hold(...)`, `__attribute__((...))`, ...) become
  spaces;
* iterator macros used as statements (`list_for_each_entry_srcu(p, h, m, c) {`, brace-less bodies
  too) get their name replaced by `while` padded with spaces: the argument list stays in place as
  a comma expression in the loop condition; `do_each_thread(g, t) {` ... `} while_each_thread(g,
  t);` becomes a do-while;
* function-defining macros (`BPF_CALL_3(name, T1, a1, ...)`, `SYSCALL_DEFINE2(...)`) become
  `int name(T1 a1, ...)` by rewriting the macro name and the separating commas only;
* type arguments of macro calls (`container_of(p, struct foo, m)`, `min_t(unsigned long, ...)`)
  become identifiers by turning the spaces between their words into `_`;
* top-level macro lines without a `;` (`BTF_ID(struct, x)`, `N(UP) N(DOWN)`, `static
  DEF_SCSI_QCMD(f)`) and member macros in structs become blank; an indented one with a
  deeper-indented body (`skb_walk_frags(skb, f)`) is a loop.

idioms.py has the rewrites found beyond kernel/bpf and mm (the 1,730 .c files that use RCU, then
the whole tree): annotations nobody listed, string-literal macros, asm templates, declaration and
board macros, odd macro arguments, loop macros not named for_each, case ranges, directives inside
initializers and the ends of directives the mask blanked.

Everything works on bytes with precompiled regexes, so non-ASCII text, invalid UTF-8 and NUL bytes
pass through unchanged in length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reviewbot.csource import idioms

# Every byte but newline becomes a space, so line numbers survive blanking.
_BLANK_TABLE = bytes(b if b == 0x0A else 0x20 for b in range(256))


def blank(text: bytes) -> bytes:
    """`text` with every byte but newline turned into a space."""
    return text.translate(_BLANK_TABLE)


@dataclass(frozen=True)
class Masked:
    """The masked text and the byte spans of the source's comments (blank in `text`)."""

    text: bytes
    comments: tuple[tuple[int, int], ...]


def mask(source: bytes) -> bytes:
    """`source` with kernel idioms rewritten; always exactly as long as `source`."""
    return mask_source(source).text


def mask_source(source: bytes) -> Masked:
    if isinstance(source, str):  # be kind to callers; offsets are bytes either way
        source = source.encode("utf-8", "surrogateescape")
    rewrite = _Rewrite(source)
    rewrite.conditionals()
    rewrite.annotations()
    idioms.column0_macros(rewrite)
    idioms.unnamed_bitfields(rewrite)
    idioms.typeof_types(rewrite)
    idioms.string_macros(rewrite)
    idioms.arguments(rewrite)
    idioms.statement_ends(rewrite)
    idioms.asm_statements(rewrite)
    rewrite.function_macros()
    rewrite.iterators()
    idioms.loop_macros(rewrite)
    rewrite.definition_macros()
    idioms.static_macros(rewrite)
    idioms.ellipses(rewrite)
    idioms.directives_in_lists(rewrite)
    rewrite.type_arguments()
    rewrite.bare_macro_lines()
    idioms.directive_ends(rewrite)
    text = bytes(rewrite.out)
    assert len(text) == len(source)
    return Masked(text, tuple(rewrite.comments))


# --- comments and literals -------------------------------------------------------------------

_COMMENT_OR_LITERAL = re.compile(
    rb"//[^\n]*"
    rb"|/\*.*?\*/"
    rb"|/\*.*"  # an unterminated comment runs to the end of the text
    rb'|"(?:\\.|[^"\\\n])*"'
    rb"|'(?:\\.|[^'\\\n])*'",
    re.S,
)


_SLASH_BEFORE_COMMENT = re.compile(rb"/(?=[/*])")
_DOUBLE_QUOTE = re.compile(rb'"')
_SINGLE_QUOTE = re.compile(rb"'")


class _Rewrite:
    """Two views of the text being rewritten, edited together.

    `out` is the result (comments blank, string literals intact); `code` is the view the
    patterns match on, where string and character literals are blank inside their quotes too, so
    a `(` or `#if` in a string or comment never counts.
    """

    def __init__(self, source: bytes):
        out = bytearray(source)
        code = bytearray(source)
        comments: list[tuple[int, int]] = []
        strings: list[tuple[int, int]] = []
        # Python's regex engine scans for a literal fast and for a set of first characters
        # slowly, so the places where a comment or literal can start are found by three literal
        # searches, and the token there is matched in place; places inside a token are skipped.
        starts = [m.start() for m in _SLASH_BEFORE_COMMENT.finditer(source)]
        starts += [m.start() for m in _DOUBLE_QUOTE.finditer(source)]
        starts += [m.start() for m in _SINGLE_QUOTE.finditer(source)]
        starts.sort()
        pos = 0
        match = _COMMENT_OR_LITERAL.match
        for at in starts:
            if at < pos:
                continue
            m = match(source, at)
            if m is None:
                continue  # a quote that opens no literal on its line
            end = m.end()
            if source[at] == 0x2F:  # '/': a comment
                out[at:end] = code[at:end] = source[at:end].translate(_BLANK_TABLE)
                comments.append((at, end))
            else:
                if end - at > 2:
                    code[at + 1:end - 1] = source[at + 1:end - 1].translate(_BLANK_TABLE)
                if source[at] == 0x22:
                    strings.append((at, end))
            pos = end
        self.out = out
        self.code = code
        self.comments = comments
        self.strings = strings  # the spans of the source's string literals

    # -- editing helpers

    def put(self, start: int, replacement: bytes) -> None:
        end = start + len(replacement)
        self.out[start:end] = replacement
        self.code[start:end] = replacement

    def erase(self, start: int, end: int) -> None:
        if end > start:
            self.put(start, bytes(self.code[start:end]).translate(_BLANK_TABLE))

    def opening_paren(self, close_at: int, limit: int = 4096) -> int:
        """Offset of the `(` matching the `)` at `close_at` (looking back at most `limit` bytes)."""
        code = self.code
        low = max(0, close_at - limit)
        # one `(` at a time, the `)` after it counted at C speed
        depth = 1
        pos = close_at
        while True:
            open_at = code.rfind(b"(", low, pos)
            if open_at < 0:
                return -1
            depth += code.count(b")", open_at + 1, pos) - 1
            if depth == 0:
                return open_at
            pos = open_at

    def closing_paren(self, open_at: int, limit: int = 8192) -> int:
        """Offset of the `)` matching the `(` at `open_at`, or -1 when it is not closed within
        `limit` bytes (no macro call, asm statement or loop header of the kernel is half that long;
        the bound keeps text full of unclosed parentheses from costing time squared)."""
        code = self.code
        end = min(len(code), open_at + limit)
        # one `)` at a time, the `(` before it counted at C speed: text without `)` ends at once
        depth = 1
        pos = open_at + 1
        while True:
            close = code.find(b")", pos, end)
            if close < 0:
                return -1
            depth += code.count(b"(", pos, close) - 1
            if depth == 0:
                return close
            pos = close + 1

    def split_arguments(self, open_at: int, close_at: int) -> list[tuple[int, int]]:
        """Byte spans of the top-level comma-separated arguments between two parens."""
        spans = []
        depth = 0
        start = open_at + 1
        for m in _ARG_PUNCT.finditer(self.code, open_at + 1, close_at):
            c = m.group()
            if c in b"([{":
                depth += 1
            elif c in b")]}":
                depth -= 1
            elif depth == 0:
                spans.append((start, m.start()))
                start = m.end()
        spans.append((start, close_at))
        return spans

    def at_line_start(self, at: int) -> bool:
        """True when only spaces and tabs stand between the line's start and `at`."""
        code = self.code
        i = at
        while i > 0 and code[i - 1] in b" \t":
            i -= 1
        return i == 0 or code[i - 1] == 0x0A

    def skip_space_back(self, at: int) -> int:
        """The offset just after the last non-whitespace byte before `at` (0 when none is)."""
        code = self.code
        # blanked comments make long runs of spaces: strip them in chunks, at C speed
        while at > 0:
            low = max(0, at - 256)
            kept = len(code[low:at].rstrip())
            if kept:
                return low + kept
            at = low
        return 0

    def word_start(self, at: int) -> int:
        """Where the identifier that ends at `at` starts (`at` when none does)."""
        code = self.code
        i = at
        while i > 0 and code[i - 1] in _WORD_BYTES:
            i -= 1
        return i

    def _word_around(self, start: int, end: int) -> tuple[int, int]:
        """The whole identifier that the match [start, end) is part of."""
        return self.word_start(start), _WORD_HEAD.match(self.code, end).end()

    def prev_token(self, at: int) -> tuple[int, bytes]:
        """The token before `at` (whitespace skipped): (its start, its text); b"" at the start."""
        code = self.code
        i = self.skip_space_back(at)
        if i == 0:
            return 0, b""
        start = self.word_start(i)
        if start < i:
            return start, bytes(code[start:i])
        return i - 1, bytes(code[i - 1:i])

    def next_token(self, at: int) -> tuple[int, bytes]:
        """The token at or after `at` (whitespace skipped): (its start, its text); b"" at the end."""
        m = _NEXT_TOKEN.match(self.code, at)
        return m.start(1), m.group(1)

    def ends_statement_before(self, at: int) -> bool:
        """True when the code before `at` ends with `;`, `{`, `}` or a label's `:`."""
        i = self.skip_space_back(at)
        return i > 0 and self.code[i - 1] in b";{}:"

    def ends_directive(self, at: int) -> bool:
        """True when the line holding `at` is a preprocessor line or continues one."""
        code = self.code
        line_start = code.rfind(b"\n", 0, at) + 1
        while _DIRECTIVE_START.match(code, line_start) is None:
            if line_start < 2 or code[line_start - 2] != 0x5C:  # the line before ends with '\\'
                return False
            line_start = code.rfind(b"\n", 0, line_start - 1) + 1
        return True

    def on_directive_line(self, at: int) -> bool:
        line_start = self.code.rfind(b"\n", 0, at) + 1
        return _DIRECTIVE_START.match(self.code, line_start) is not None

    def starts_statement(self, at: int) -> bool:
        """True when only `static`/`const`/`extern` stand between `at` and a `;`, `{`, `}` or a
        preprocessor line (`#define X 32` ends with no `;` but ends what stands before it)."""
        code = self.code
        while True:
            i = self.skip_space_back(at)
            if i == 0 or code[i - 1] in b";{}":
                return True
            if code.find(b"\n", i, at) >= 0 and self.ends_directive(i):
                return True
            at = self.word_start(i)
            if code[at:i] not in (b"static", b"const", b"extern"):
                return False

    # -- passes

    def conditionals(self) -> None:
        """Blank conditional directives, and the branches the parser should not see.

        When every branch of an `#if` chain is self-contained (braces and parens balanced, ending
        a statement, a block or a list entry), all branches are kept: both configurations get
        parsed, as `x = a; x = b;` or two definitions of one function. Otherwise only the first
        branch is kept (for `#if 0`, the next one), so braces that open in one branch and in its
        alternative are seen once. `#if 0` branches are always dropped.
        """
        code = self.code
        groups: list[list] = []  # each: [[dir_start, dir_end, is_zero], ...] + the #endif at the end
        stack: list[list] = []
        directives: list[tuple[int, int]] = []
        for m in _CONDITIONAL.finditer(code):
            if not self.at_line_start(m.start()):
                continue
            kind = m.group(1)
            start = code.rfind(b"\n", 0, m.start()) + 1
            end = _DIRECTIVE_REST.match(code, m.end()).end()
            directives.append((start, end))
            zero = bool(_IF_ZERO.match(code, m.end(1)))
            if kind in (b"if", b"ifdef", b"ifndef"):
                group = [[start, end, zero and kind == b"if"]]
                stack.append(group)
                groups.append(group)
            elif not stack:
                continue  # an #else/#endif without its #if: only its line is blanked
            elif kind in (b"elif", b"else"):
                stack[-1].append([start, end, zero and kind == b"elif"])
            else:
                stack.pop().append([start, end, False])
        for group in stack:  # an #if never closed: its last branch runs to the end of the text
            group.append([len(code), len(code), False])
        dropped: list[tuple[int, int]] = []
        for group in groups:
            branches = [(group[i][1], group[i + 1][0], group[i][2]) for i in range(len(group) - 1)]
            if any(s < e and _inside(s, dropped) for s, e, _ in branches[:1]):
                continue  # the whole chain sits in a dropped branch
            live = [(s, e) for s, e, zero in branches if not zero]
            if len(live) > 1 and all(self._self_contained(s, e) for s, e in live):
                keep = set(live)
            else:
                keep = set(live[:1])
            for s, e, _ in branches:
                if (s, e) not in keep:
                    dropped.append((s, e))
        for start, end in dropped:
            self.erase(start, end)
        for start, end in directives:
            self.erase(start, end)

    def _self_contained(self, start: int, end: int) -> bool:
        body = bytes(self.code[start:end])
        if body.count(b"{") != body.count(b"}") or body.count(b"(") != body.count(b")"):
            return False
        # the directive lines of nested chains are still in the text: ignore them
        tail = _NESTED_DIRECTIVE_LINES.sub(b"", body).rstrip()
        return not tail or tail[-1:] in (b";", b"}", b",")

    def annotations(self) -> None:
        """Blank listed annotations, with their arguments; hand the other `__words` to idioms."""
        code = self.code
        edits = []
        unlisted = []
        for m in _UNDERSCORE_WORD.finditer(code):
            if m.group() in _LISTED_ANNOTATIONS:
                edits.append(m)
            else:
                unlisted.append(m)
        for pattern in _OTHER_ANNOTATIONS:
            edits.extend(pattern.finditer(code))
        for m in edits:
            start, end = m.span()
            if start > 0 and _is_word_byte(code[start - 1]):
                if code[start - 6:start] != b"debug_" or start > 6 and _is_word_byte(code[start - 7]):
                    continue  # "__rcu" inside a longer name
                start -= 6  # mac80211's debug_noinline
            if self.ends_directive(start):
                continue  # `#define __init`: a directive names it (its body is not parsed anyway)
            args = _ARGUMENTS_OPEN.match(code, end)
            if args is not None:  # takes arguments
                close = self.closing_paren(args.end() - 1)
                if close < 0:
                    continue
                end = close + 1
            self.erase(start, end)
        idioms.unlisted_annotations(self, unlisted)

    def function_macros(self) -> None:
        """`BPF_CALL_2(name, T1, a1, T2, a2)` -> `int        name( T1  a1, T2  a2)`."""
        for hit in _matches(self.code, _FUNCTION_MACROS):
            word_start, _ = self._word_around(hit.start(), hit.end())
            m = _FUNCTION_MACRO.match(self.code, word_start)
            if m is None or not self.at_line_start(_static_start(self.code, word_start)):
                continue
            open_at = m.end() - 1
            close = self.closing_paren(open_at)
            if close < 0:
                continue
            args = self.split_arguments(open_at, close)
            if len(args) % 2 == 0:
                continue  # not name followed by (type, name) pairs
            if len(args) == 1:
                # SYSCALL_DEFINE0(name): the only parens left are around the name, so the macro's
                # last two bytes become the function's name and `name` its parameter.
                self.put(m.start(1), b"int".ljust(m.end(1) - m.start(1) - 2) + b"_0")
                continue
            self.put(m.start(1), b"int".ljust(m.end(1) - m.start(1)))
            self.put(open_at, b" ")
            for i, (_, arg_end) in enumerate(args[:-1]):
                self.put(arg_end, b"(" if i == 0 else b" " if i % 2 else b",")

    def iterators(self) -> None:
        code = self.code
        for m in _matches(code, _ITERATOR_PARTS):
            start, _ = self._word_around(m.start(), m.end())
            if start > 0 and code[start - 1] in b".>":
                continue  # a member such as ops->for_each
            name = _WORD_AND_PAREN.match(code, m.end())
            if name is None or self.on_directive_line(start):
                continue
            open_at = name.end() - 1
            close = self.closing_paren(open_at)
            if close < 0:
                continue
            follow = _NEXT_TOKEN.match(code, close + 1)
            if follow is None:
                continue
            name_end = name.start(1)
            if m.group().startswith(b"do_each"):
                # `do_each_thread(g, t) {` opens a do-while that `} while_each_thread(g, t);` closes
                if follow.group(1) == b"{" and self.starts_statement(start):
                    self.put(start, b"do".ljust(close + 1 - start))
                continue
            if follow.group(1) == b";" and m.group().startswith(b"while_each"):
                if self._after_close_brace(start):  # the tail of a do-while
                    if close == open_at + 1:  # `while_each_subsys_mask()`: no condition to keep
                        self.put(start, b"while(1)".ljust(close + 1 - start))
                    else:
                        self.put(start, b"while".ljust(name_end - start))
                continue
            if follow.group(1) in _NOT_A_LOOP_BODY:
                continue  # a call or an expression, not a loop header
            self.put(start, b"while".ljust(name_end - start))

    def _loop_without_braces(self, line) -> bool:
        """`skb_walk_frags(skb, frag)` alone on its line, the next line indented deeper: a loop
        macro with a one-statement body (or `with_intel_runtime_pm(rpm, wf)`, a scope). Its name
        becomes `while` (`if` when shorter than `while`); True when rewritten."""
        code = self.code
        close = self.closing_paren(line.start(3))
        if close < 0 or close >= line.end() or code[close + 1:line.end()].strip():
            return False  # the call does not end on this line, or does not end it
        nxt_start = line.end()
        nxt = _LINE_INDENT.match(code, nxt_start)
        if _width(nxt.group(1)) <= _width(line.group(1)):
            return False
        first = nxt.group(2)
        if not (first[:1].isalpha() or first[:1] == b"_" or first == b"{"):
            return False  # `+ c);`: the line goes on with an expression
        start, prev = self.prev_token(line.start(2))
        if prev not in (b";", b"{", b"}", b":", b")", b"else") or self.ends_directive(line.start()):
            return False
        self._rename_loop(line.start(2), line.end(2))
        return True

    def _rename_loop(self, start: int, end: int) -> None:
        """Turn the macro name at [start, end) into `while` (or `if` if it is too short)."""
        keyword = b"while" if end - start >= 5 else b"if"
        self.put(start, keyword.ljust(end - start))

    def _after_close_brace(self, at: int) -> bool:
        i = self.skip_space_back(at)
        return i > 0 and self.code[i - 1] == 0x7D  # '}'

    def type_arguments(self) -> None:
        # tree-sitter-c's offsetof() takes only a plain member; as a call it takes anything.
        for m in _OFFSETOF.finditer(self.code):
            if m.start() == 0 or not _is_word_byte(self.code[m.start() - 1]):
                self.put(m.start(), b"O")
        code = self.code
        # type words after `(` or `,` are found by patterns starting with that literal; a pointer
        # to a typedef (`u8 *`) from its `*` (few), matched backwards from there
        found = [m for pattern in _TYPE_WORD_ARGUMENTS for m in pattern.finditer(code)]
        for m in _STAR_BEFORE_END.finditer(code):
            arg = _POINTER_ARGUMENT_START.search(code, max(0, m.start() - 80), m.start() + 1)
            if arg is not None:
                pointer = _TYPE_ARGUMENT.match(code, arg.start())
                if pointer is not None:
                    found.append(pointer)
        seen = set()
        edits = []
        for m in sorted(found, key=lambda m: m.start()):
            if m.start() in seen:
                continue
            seen.add(m.start())
            opener = m.start()
            if self.code[opener] == 0x28:  # '(' must open a call, not a cast or a group
                _, word = self.prev_token(opener)
                if not word[:1].isalnum() and word[:1] != b"_" or word in _TYPE_TAKING:
                    continue
            edits.append(m.span(1))
        for start, end in edits:
            text = bytes(self.code[start:end])
            ident = _TYPE_GAP.sub(lambda g: b"_" * len(g.group()), text.rstrip(b" \t*"))
            if ident in _C_TYPE_WORDS:
                ident = ident[:1].upper() + ident[1:]
            self.put(start, ident.ljust(end - start))

    def definition_macros(self) -> None:
        """`DEFINE_PER_CPU(int, x);`, `DECLARE_BITMAP(m, N) = {0};` -> one parenthesized name.

        A declaration macro at the start of a statement keeps only the argument that names what
        it declares (the last one for per-cpu and member macros, else the first), so the parser
        reads `TYPE (name)`: a declaration. The original text still has every argument.
        """
        code = self.code
        for hit in _matches(code, _DEFINITION_PARTS):
            start, _ = self._word_around(hit.start(), hit.end())
            m = _DEFINITION_MACRO.match(code, start)
            if m is None:
                continue
            if not self.starts_statement(start):
                continue
            if self.on_directive_line(start):
                continue
            open_at = m.end() - 1
            close = self.closing_paren(open_at)
            if close < 0:
                continue
            args = self.split_arguments(open_at, close)
            if len(args) < 2:
                continue
            name = m.group(1)
            keep = len(args) - 1 if (b"PER_CPU" in name or name in _NAME_LAST) else 0
            kept_start, kept_end = args[keep]
            self.erase(open_at + 1, kept_start)
            self.erase(kept_end, close)

    def bare_macro_lines(self) -> None:
        """Blank macro lines that end without a `;` (`BTF_ID(struct, x)`, `ALU(ADD, +)`).

        Such a line expands to declarations or statements the parser cannot see; left in place it
        swallows the next line too. Only a line that is nothing but the macro, followed on a later
        line by something that cannot continue an expression, counts.
        """
        code = self.code
        for end in _LINE_ENDING_IN_PAREN.finditer(code):
            line_start = code.rfind(b"\n", 0, end.start()) + 1
            m = _BARE_MACRO_LINE.match(code, line_start)
            if m is None:
                continue
            indented = m.group(1) != b""
            if indented and m.group(2) not in _C_KEYWORDS and self._loop_without_braces(m):
                continue
            if indented and not m.group(2).isupper():
                continue  # an indented lower-case call without `;` is more likely a typo
            if self.ends_directive(line_start):
                continue  # the last line of a #define (not parsed)
            close = self.closing_paren(m.start(3))
            if close < 0:
                continue
            follow = _NEXT_TOKEN_ACROSS_LINES.match(code, close + 1)
            while follow is not None and not follow.group(1) and m.group(2).isupper():
                # `N(UP) N(DOWN) N(REBOOT)`: a line of upper-case macro calls, one after another
                call = _UPPER_CALL.match(code, close + 1)
                if call is None:
                    break
                close = self.closing_paren(call.end() - 1)
                if close < 0:
                    break
                follow = _NEXT_TOKEN_ACROSS_LINES.match(code, close + 1)
            if close < 0 or follow is None or not follow.group(1):
                continue  # something follows on the same line
            nxt = follow.group(2)
            if nxt == b"":
                pass  # the last line of the text (`module_exit(f)`)
            elif nxt == b"}" and self.ends_statement_before(line_start):
                pass  # the last statement of a block
            elif nxt in _CONTINUES_A_STATEMENT:
                continue
            if m.group(2) in _C_KEYWORDS:
                continue
            self.erase(m.end(1), close + 1)


_DIRECTIVE_START = re.compile(rb"[ \t]*#")
_WORD_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _is_word_byte(byte: int) -> bool:
    return byte in _WORD_BYTES


_ARG_PUNCT = re.compile(rb"[()\[\]{},]")
_NEXT_TOKEN = re.compile(rb"\s*(\w+|\S|)")

_CONDITIONAL = re.compile(rb"#[ \t]*(ifdef|ifndef|if|elif|else|endif)\b")
_DIRECTIVE_REST = re.compile(rb"[^\n\\]*(?:\\.[^\n\\]*)*", re.S)
_IF_ZERO = re.compile(rb"[ \t(]*0[ \t)]*(?:\n|\Z)")
_NESTED_DIRECTIVE_LINES = re.compile(rb"^[ \t]*#[^\n]*", re.M)


def _inside(at: int, spans: list[tuple[int, int]]) -> bool:
    return any(s <= at < e for s, e in spans)

# Annotations: sparse address spaces and checks, section and inlining markers, attributes.
_ANNOTATION_WORDS = rb"""
__rcu __user __iomem __percpu __kernel __force __bitwise __nocast __safe __private __must_check
__maybe_unused __always_unused __unused __used __init __exit __initdata __initconst __exitdata
__meminit __meminitdata __meminitconst __init_or_module __ref __refdata __refconst __read_mostly
__ro_after_init __weak __cold __hot __pure __noreturn __always_inline noinline __noinline
__bpf_kfunc __kprobes notrace __visible __latent_entropy __randomize_layout __packed __sched
__cacheline_aligned ____cacheline_aligned ____cacheline_aligned_in_smp __cacheline_aligned_in_smp
____cacheline_internodealigned_in_smp __net __nocfi __noclone __no_kcsan __no_sanitize_address
__no_kasan __no_kmsan __nostackprotector __irq_entry __softirq_entry __flatten __naked asmlinkage
__user_ptr __counted_by __bpf_fastcall __noinstr noinstr __always_used __attribute_const__
__initdata_or_meminfo __mustbe_array __must_be_array __deprecated __gnu_inline __no_profile
__no_sanitize_coverage __no_sanitize_undefined __noscs __alloc_size __malloc __assume_aligned
__fix_address __nosavedata __page_aligned_data __page_aligned_bss __lockfunc __ksym __kconfig
__exception_irq_entry __tracepoint_string __initconst_or_module __section __aligned __printf
__scanf __must_hold __acquires __releases __acquire __release __cond_acquires __cond_releases
__attribute__ __attribute __nonstring __designated_init __no_randomize_layout __diag_ignore_all
__cpuidle __init_memblock __initdata_memblock __meminit_or_memblock __refdata_memblock
__data_racy __guarded_by __pt_guarded_by __ro_after_init_scope
__free __cleanup __const __noendbr __head __xipram __prombss __noipa __trap_section __initmv
__realloc_size __annotate_jump_table
""".split()
# Python's regex engine finds a pattern fast when it starts with one literal, and slowly when it
# starts with an alternation, so all `__` words are found by one scan and looked up in a set, and
# the few other names get their own literal-prefixed patterns.
_LISTED_ANNOTATIONS = frozenset(w for w in _ANNOTATION_WORDS if w.startswith(b"__"))
_UNDERSCORE_WORD = re.compile(rb"__\w+")
_OTHER_ANNOTATIONS = (
    re.compile(rb"no(?:inline_for_stack|inline|trace|instr|kprobe_inline)\b"),  # also debug_noinline
    re.compile(rb"asmlinkage\b"),
    re.compile(rb"SEC\b(?=\s*\()"),  # BPF programs: SEC("struct_ops/...")
    re.compile(rb"const_debug\b"),  # sched: `const` unless SCHED_DEBUG
)
_ARGUMENTS_OPEN = re.compile(rb"\s*\(")

_FUNCTION_MACROS = (re.compile(rb"SYSCALL_DEFINE[0-6]"), re.compile(rb"BPF_CALL_[0-5]"))
_FUNCTION_MACRO = re.compile(rb"((?:COMPAT_)?SYSCALL_DEFINE[0-6]|\w*BPF_CALL_[0-5])\s*\(")
_STATIC_BEFORE = re.compile(rb"static[ \t]+\Z")


def _static_start(code: bytearray, at: int) -> int:
    m = _STATIC_BEFORE.search(code, max(0, at - 16), at)
    return m.start() if m else at


def _matches(code: bytearray, patterns) -> list:
    """Matches of several patterns, in text order."""
    found = [m for pattern in patterns for m in pattern.finditer(code)]
    found.sort(key=lambda m: m.start())
    return found

# Iterator macros: names measured on the corpus (any *for_each* name, the guard scopes, ...).
# The pattern finds the distinctive middle of the name; the rest of the word is found around it.
_ITERATOR_PARTS = (
    re.compile(rb"for_?each"), re.compile(rb"scoped_(?:cond_)?guard"), re.compile(rb"while_each_"),
    re.compile(rb"do_each_"),
)
_WORD_HEAD = re.compile(rb"\w*")
_WORD_AND_PAREN = re.compile(rb"\w*(\s*)\(")
_NOT_A_LOOP_BODY = frozenset([b";", b")", b",", b"", b"=", b".", b"-", b"?", b"]", b"}", b"|", b"&", b"+"])

# A type where an expression should be: an argument that is only type words and stars.
_C_TYPE_WORDS = frozenset(
    b"struct union enum const volatile unsigned signed int long short char void bool float double"
    b" _Bool".split()
)
_TYPE_ARGUMENT = re.compile(
    rb"[(,][ \t\n]*("
    rb"(?:(?:const|volatile)\s+)*(?:struct|union|enum)(?:\s+\w+)?(?:\s+const)?\s*\**"
    rb"|(?:(?:const|volatile)\s+)*(?:(?:unsigned|signed|int|long|short|char|void|bool|_Bool|float|double)\b\s*)+\**"
    rb"|(?:(?:const|volatile)\s+)*\w+(?:\s+const)?\s*\*+"
    rb")(?=[ \t\n]*[,)])"
)
_TYPE_WORDS_ONLY = (
    rb"(?:(?:const|volatile)\s+)*(?:struct|union|enum)(?:\s+\w+)?(?:\s+const)?\s*\**"
    rb"|(?:(?:const|volatile)\s+)*(?:(?:unsigned|signed|int|long|short|char|void|bool|_Bool|float|double)\b\s*)+\**"
)
# (the lookahead on the first letter of a type word makes most `(` and `,` fail at once)
_TYPE_WORD_ARGUMENTS = tuple(
    re.compile(opener + rb"[ \t\n]*+(?=[cvsuielbfd_])(" + _TYPE_WORDS_ONLY + rb")(?=[ \t\n]*[,)])")
    for opener in (rb"\(", rb",")
)
_OFFSETOF = re.compile(rb"offsetof(?=\s*\()")
_STAR_BEFORE_END = re.compile(rb"\*[ \t\n]*[,)]")
_POINTER_ARGUMENT_START = re.compile(rb"[(,][ \t\n]*(?:(?:const|volatile)\s+)*\w+(?:\s+const)?\s*\*+\Z")
_TYPE_GAP = re.compile(rb"[ \t*]+")
_TYPE_TAKING = frozenset(
    b"sizeof typeof __typeof__ __typeof _Alignof __alignof__ alignof va_arg _Generic"
    b" if while for switch return".split()
)

_LINE_ENDING_IN_PAREN = re.compile(rb"\)[ \t]*\n")
# (`static DEF_SCSI_QCMD(name)` defines a function without a `;` too; `if (x)` lines fail at once)
_BARE_MACRO_LINE = re.compile(
    rb"([ \t]*)(?:static[ \t]+(?=[A-Z]))?(?!(?:if|for|switch)\b)(\w+)[ \t]*(\()[^;{}\n]*\)[ \t]*\n"
)
_NEXT_TOKEN_ACROSS_LINES = re.compile(rb"[ \t]*(\n\s*)?(\w+|\S|)")
_LINE_INDENT = re.compile(rb"([ \t]*)(\w+|\S|)")


def _width(indent: bytes) -> int:
    """Columns of an indentation, tabs every 8."""
    col = 0
    for c in indent:
        col = (col // 8 + 1) * 8 if c == 0x09 else col + 1
    return col

_UPPER_CALL = re.compile(rb"[ \t]+[A-Z][A-Z0-9_]*[ \t]*\(")
_CONTINUES_A_STATEMENT = frozenset(
    [b";", b"{", b"(", b",", b"=", b"", b")", b"\\", b"?", b":", b"|", b"&", b"+", b"-", b"*", b"/",
     b".", b"[", b"<", b">", b"!", b"%", b"^", b"}"]
)
_C_KEYWORDS = frozenset(
    b"if while for switch return sizeof do else case goto typeof __typeof__ defined".split()
)

# Declaration macros: the name they declare is their first argument, or the last one for these.
_DEFINITION_PARTS = (re.compile(rb"DE(?:FINE|CLARE)_"), re.compile(rb"LIST_HEAD"), re.compile(rb"__bpf_md_ptr"))
_DEFINITION_MACRO = re.compile(rb"((?:DEFINE|DECLARE)_\w+|__bpf_md_ptr|\w*LIST_HEAD)[ \t]*\(")
_NAME_LAST = frozenset([b"__bpf_md_ptr"])
