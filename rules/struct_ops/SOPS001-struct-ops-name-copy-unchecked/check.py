"""SOPS001: a struct_ops init_member() that copies a member from user space without checking it.

The `.init_member` callback of a `struct bpf_struct_ops` copies the data members user space set in
the map value (`udata`) into the kernel's copy (`kdata`). A name copied there must come out
NUL-terminated and whole, or be refused: tcp_congestion_ops and sched_ext_ops use
`bpf_obj_name_cpy()` and return -EINVAL when it returns <= 0. This rule looks at the string copies
in init_member whose source reads `udata` (directly or through a variable set from it) and flags:

- strscpy()/strscpy_pad()/bpf_obj_name_cpy()/strlcpy() whose result is ignored (or stored in a
  variable that no later condition or return reads): a truncated or invalid name is accepted;
- strncpy() and memcpy() into a char array, when nothing afterwards NUL-terminates the
  destination (and, for memcpy, nothing checks the length with strnlen()/memchr()).
"""

from __future__ import annotations

import re

from reviewbot.csource import walk
from reviewbot.engine import Hit

COPIES = ("strscpy", "strscpy_pad", "strncpy", "strlcpy", "bpf_obj_name_cpy", "memcpy")
_WORD = re.compile(r"[A-Za-z_]\w*")
_LAST_MEMBER = re.compile(r"(?:->|\.)\s*(\w+)\s*(?:\[[^\]]*\])?\s*$")


def _struct_ops_initializers(facts):
    for init in facts.initializers:
        if re.search(r"\bstruct\s+bpf_struct_ops\b", init.type):
            yield init


def _char_arrays(ctx) -> set[str]:
    """Names of char-array members of every struct the patch's C files define."""
    names = set()
    for fc in ctx.files:
        for struct in fc.facts.structs:
            for f in struct.fields:
                if f.name and f.array_sizes and re.search(r"\bchar\b", f.type) and "*" not in f.type:
                    names.add(f.name)
    return names


def _user_names(unit, fn_node, udata: str) -> set[str]:
    """udata and the local variables set from it (`uops = (const struct x *)udata`)."""
    names = {udata}
    for n in walk(fn_node):
        if n.type == "init_declarator":
            value = n.child_by_field_name("value")
            decl = n.child_by_field_name("declarator")
        elif n.type == "assignment_expression":
            value = n.child_by_field_name("right")
            decl = n.child_by_field_name("left")
        else:
            continue
        if value is None or decl is None:
            continue
        if set(_WORD.findall(unit.text(value))) & names:
            ident = decl
            while ident is not None and ident.type not in ("identifier",):
                ident = ident.child_by_field_name("declarator")
            if ident is not None:
                names.add(unit.text(ident))
    return names


def _result_use(unit, call, fn_node) -> str:
    """"ignored", "used", or "stored:<var>" for a call's return value."""
    node = call
    parent = node.parent
    while parent is not None and parent.type == "parenthesized_expression":
        node, parent = parent, parent.parent
    if parent is None:
        return "used"
    if parent.type == "expression_statement":
        return "ignored"
    if parent.type == "cast_expression" and re.match(r"\(\s*void\s*\)", unit.text(parent)):
        return "ignored"
    if parent.type == "comma_expression" and parent.child_by_field_name("left") == node:
        return "ignored"
    target = None
    if parent.type == "assignment_expression" and parent.child_by_field_name("right") == node:
        target = parent.child_by_field_name("left")
    elif parent.type == "init_declarator" and parent.child_by_field_name("value") == node:
        target = parent.child_by_field_name("declarator")
    if target is None:
        return "used"
    var = unit.text(target).strip()
    if not re.fullmatch(r"\w+", var):
        return "used"  # stored into a member or an array: someone else reads it
    after = call.end_byte
    for n in walk(fn_node):
        if n.start_byte < after:
            continue
        if n.type in ("if_statement", "while_statement", "switch_statement", "for_statement"):
            cond = n.child_by_field_name("condition")
            if cond is not None and var in _WORD.findall(unit.text(cond)):
                return "used"
        elif n.type in ("return_statement", "conditional_expression", "call_expression"):
            if var in _WORD.findall(unit.text(n)):
                return "used"
    return f"stored:{var}"


def _terminated_after(unit, call, fn_node, dst: str) -> bool:
    """A later `dst[...] = '\\0'` / `= 0`, or a length check with strnlen()/memchr()/strlen() on it."""
    key = re.sub(r"\s+", "", dst)
    body = unit.text((call.end_byte, fn_node.end_byte))
    flat = re.sub(r"\s+", "", body)
    if re.search(re.escape(key) + r"\[[^\]]*\]=(?:'\\0'|0|'\\x00')", flat):
        return True
    return bool(re.search(r"\b(?:strnlen|memchr|strnchr)\(" + re.escape(key) + r"\b", flat))


def _checked_before(unit, call, fn_node, src: str) -> bool:
    """strnlen()/memchr() on the source before the copy: the author checks termination first."""
    key = re.sub(r"\s+", "", src)
    flat = re.sub(r"\s+", "", unit.text((fn_node.start_byte, call.start_byte)))
    return bool(re.search(r"\b(?:strnlen|memchr|strnchr)\(" + re.escape(key) + r"\b", flat))


def _detail(callee: str, use: str) -> str:
    if callee in ("strscpy", "strscpy_pad"):
        how = "and ignores its result" if use == "ignored" else f"and stores its result in `{use[7:]}` but never tests it"
        return (f"{how}: a name that user space did not NUL-terminate within the array is cut short "
                "(-E2BIG) and accepted as if it were valid. tcp_congestion_ops and sched_ext_ops use "
                "bpf_obj_name_cpy() and return -EINVAL when it returns <= 0; should this reject such a name "
                "too?")
    if callee == "bpf_obj_name_cpy":
        how = "and ignores its result" if use == "ignored" else f"and stores its result in `{use[7:]}` but never tests it"
        return (f"{how}: bpf_obj_name_cpy() returns -EINVAL for a name that is not NUL-terminated or has "
                "characters other than [a-zA-Z0-9_.], and 0 for an empty one. tcp_congestion_ops returns "
                "-EINVAL when it returns <= 0; should this check it too?")
    if callee == "strlcpy":
        how = "and ignores its result" if use == "ignored" else f"and stores its result in `{use[7:]}` but never tests it"
        return (f"{how}: strlcpy() runs strlen() over the user's array, which need not be NUL-terminated, "
                "and truncation goes unnoticed. Would bpf_obj_name_cpy() (<= 0 -> -EINVAL, as in "
                "tcp_congestion_ops) fit here?")
    if callee == "strncpy":
        return ("and nothing NUL-terminates the destination afterwards: a name that fills the whole array "
                "stays unterminated and later string reads run past it. Would bpf_obj_name_cpy() "
                "(<= 0 -> -EINVAL, as in tcp_congestion_ops) fit here?")
    return ("and copies the bytes as they are: nothing checks that the name is NUL-terminated within the "
            "array, so later string reads can run past it. Would bpf_obj_name_cpy() (<= 0 -> -EINVAL, as in "
            "tcp_congestion_ops) fit here?")


def check(ctx):
    char_arrays = None
    for fc in ctx.files:
        if not fc.path.endswith(".c"):
            continue
        facts = fc.facts
        for init in _struct_ops_initializers(facts):
            name = init.value_of(".init_member")
            if not name or not re.fullmatch(r"\w+", name):
                continue
            fn = facts.function(name)
            node = fc.unit.function(name)
            if fn is None or node is None or len(fn.params) < 4 or not fn.params[3].name:
                continue
            users = _user_names(fc.unit, node, fn.params[3].name)
            for call in walk(node):
                if call.type != "call_expression":
                    continue
                callee = fc.unit.text(call.child_by_field_name("function")).strip()
                if callee not in COPIES:
                    continue
                args_node = call.child_by_field_name("arguments")
                args = [fc.unit.text(a) for a in args_node.named_children] if args_node is not None else []
                if len(args) < 2:
                    continue
                dst, src = " ".join(args[0].split()), " ".join(args[1].split())
                if not set(_WORD.findall(src)) & users:
                    continue  # not a copy of what user space wrote
                use = _result_use(fc.unit, call, node)
                if callee in ("strscpy", "strscpy_pad", "bpf_obj_name_cpy", "strlcpy"):
                    if use == "used":
                        continue
                elif callee == "strncpy":
                    if _terminated_after(fc.unit, call, node, dst):
                        continue
                else:  # memcpy: only of a char array member
                    if char_arrays is None:
                        char_arrays = _char_arrays(ctx)
                    m = _LAST_MEMBER.search(dst.lstrip("&"))
                    if m is None or m.group(1) not in char_arrays:
                        continue
                    if _terminated_after(fc.unit, call, node, dst) or _checked_before(fc.unit, call, node, src):
                        continue
                first, last = fc.unit.lines(call)
                yield Hit(line=first, end_line=last, file=fc.path,
                          args={"function": name, "callee": callee, "dst": dst, "src": src,
                                "detail": _detail(callee, use)})
