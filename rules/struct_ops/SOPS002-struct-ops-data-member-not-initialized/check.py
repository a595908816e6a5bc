"""SOPS002: a data member of a struct_ops type that init_member() does not handle.

bpf_struct_ops_map_update_elem() hands every member of the user's map value to the type's
`.init_member` callback. A member the callback does not claim (return 1) is, unless it is a
function pointer, required to be zero: any other value fails the update with -EINVAL. So a data
member user space is meant to set (a name, flags, a limit) that init_member does not copy can never
be set. Members marked private/internal (a comment on them, or a `/* private */` line above them)
and pointers and embedded structs (which only the kernel fills) are left alone.

The ops type is found from `.cfi_stubs = &x` (the type of x), `register_bpf_struct_ops(&var, T)`,
or `.name = "T"` when the patch defines struct T.
"""

from __future__ import annotations

import re

from reviewbot.engine import Hit

_WORD = re.compile(r"[A-Za-z_]\w*")
_PRIVATE_WORDS = re.compile(r"\b(?:private|internal|kernel[- ]only|kernel use|for the kernel|set by the kernel|"
                            r"reserved|do not use|not for bpf|implementation detail)\b", re.I)
_REGION = re.compile(r"^(?P<kind>private|internal|public)\b[\w\s:,-]*$", re.I)
_SKIP_NAMES = re.compile(r"^(?:_*(?:reserved|rsvd|pad|padding|unused)\w*)$", re.I)


def _struct_ops_initializers(facts):
    for init in facts.initializers:
        if re.search(r"\bstruct\s+bpf_struct_ops\b", init.type):
            yield init


def _ops_type(init, facts, all_structs) -> str | None:
    stubs = init.value_of(".cfi_stubs")
    if stubs:
        var = stubs.lstrip("&").strip()
        other = facts.initializer(var) or facts.global_definition(var)
        type_ = getattr(other, "type", None) or ""
        m = re.search(r"\bstruct\s+(\w+)", type_)
        if m:
            return m.group(1)
    for call in facts.calls_to("register_bpf_struct_ops"):
        if len(call.args) == 2 and call.args[0].lstrip("&").strip() == init.variable:
            return call.args[1].strip()
    name = init.value_of(".name")
    if name and re.fullmatch(r'"\w+"', name) and name.strip('"') in all_structs:
        return name.strip('"')
    return None


def _comment_texts(text: str):
    for m in re.finditer(r"/\*(.*?)\*/|//([^\n]*)", text, re.S):
        body = m.group(1) if m.group(1) is not None else m.group(2)
        yield m.start(), " ".join(re.sub(r"^\s*\*+", "", line).strip() for line in body.splitlines()).strip(" *")


def _private_lines(unit, struct) -> set[int]:
    """Lines of the struct inside a `/* private */` ... `/* public */` region."""
    first, last = struct.lines
    lines = unit.source.decode("utf-8", "replace").split("\n")[first - 1:last]
    private: set[int] = set()
    state = False
    for offset, line in enumerate(lines):
        for _, comment in _comment_texts(line):
            m = _REGION.match(comment)
            if m and len(comment.split()) <= 6:
                state = m.group("kind").lower() != "public"
        if state:
            private.add(first + offset)
    return private


def _is_data_member(field) -> bool:
    t = field.type
    if field.name is None or "(" in t or "*" in t:
        return False  # anonymous, function pointer, pointer
    # an embedded struct (list heads, locks, ...): only the kernel fills those
    return not re.match(r"^(?:const\s+)?(?:struct|union)\b", t)


def _closure_text(facts, unit, start: str, params: tuple[str, ...]) -> str | None:
    """The text of init_member and of the same-file functions it calls.

    None when it hands its arguments (or variables set from them) to a function defined elsewhere:
    then we cannot tell which members that function handles."""
    seen: set[str] = set()
    todo = [start]
    texts = []
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        node = unit.function(name)
        if node is None:
            continue
        texts.append(unit.text(node))
        fn = facts.function(name)
        tainted = {p.name for p in fn.params if p.name} if fn is not None else set()
        for a in facts.assignments:
            if a.function == name and set(_WORD.findall(a.value)) & tainted and re.fullmatch(r"\w+", a.target):
                tainted.add(a.target)
        for call in facts.calls:
            if call.function != name or not re.fullmatch(r"\w+", call.name):
                continue
            if facts.function(call.name) is not None:
                todo.append(call.name)
            elif (set(_WORD.findall(" ".join(call.args))) & tainted
                  and not call.name.startswith(_HARMLESS)):
                return None
    return "\n".join(texts)


_HARMLESS = ("__btf_", "btf_", "bpf_obj_name_cpy", "str", "mem", "offsetof", "BTF_", "__builtin", "WRITE_ONCE",
             "READ_ONCE", "sizeof", "pr_", "WARN", "BUILD_BUG", "min", "max", "clamp", "is_power_of_2",
             "copy_", "unlikely", "likely")


def _handled(text: str, struct: str, member: str) -> bool:
    flat = re.sub(r"\s+", "", text)
    if re.search(r"offsetof\((?:struct" + re.escape(struct) + r"|typeof\([^)]*\)|\w+)," + re.escape(member) + r"\)",
                 flat):
        return True
    if re.search(r"(?:->|\.)" + re.escape(member) + r"\b", flat):
        return True
    return f'"{member}"' in text


def _kernel_set(ctx) -> dict[str, set[str]]:
    """member name -> the functions of the patch that assign `x->member` / `x.member`."""
    out: dict[str, set[str]] = {}
    for fc in ctx.files:
        facts = fc.facts
        for a in facts.assignments:
            m = re.search(r"(?:->|\.)\s*(\w+)\s*$", a.target)
            if m and a.function and a.operator != "init":
                out.setdefault(m.group(1), set()).add(a.function)
        for call in facts.calls:
            if call.name in ("WRITE_ONCE", "rcu_assign_pointer", "smp_store_release", "atomic_set") and call.args:
                m = re.search(r"(?:->|\.)\s*(\w+)\s*\)*$", call.args[0])
                if m and call.function:
                    out.setdefault(m.group(1), set()).add(call.function)
    return out


def check(ctx):
    structs = {}
    for fc in ctx.files:
        complete = fc.facts.complete
        for s in fc.facts.structs:
            if s.name is None:
                continue
            if not complete and not all(n in fc.file.post_image for n in range(s.lines[0], s.lines[1] + 1)):
                continue  # only part of it is in the hunks
            structs.setdefault(s.name, (fc, s))
    kernel_set = _kernel_set(ctx)
    init_members = {i.value_of(".init_member") for fc in ctx.files if fc.path.endswith(".c")
                    for i in _struct_ops_initializers(fc.facts)}
    for fc in ctx.files:
        if not fc.path.endswith(".c"):
            continue
        facts = fc.facts
        for init in _struct_ops_initializers(facts):
            ops = _ops_type(init, facts, structs)
            if ops is None or ops not in structs:
                continue
            sfc, struct = structs[ops]
            init_member = init.value_of(".init_member")
            if init_member:
                fn = facts.function(init_member)
                if fn is None:
                    continue
                text = _closure_text(facts, fc.unit, init_member, ())
                if text is None:
                    continue
            else:
                if not facts.complete and not all(n in fc.file.post_image
                                                  for n in range(init.lines[0], init.lines[1] + 1)):
                    continue
                text = ""
            private = _private_lines(sfc.unit, struct)
            source_lines = sfc.unit.source.decode("utf-8", "replace").split("\n")
            for field in struct.fields:
                if not _is_data_member(field) or _SKIP_NAMES.match(field.name):
                    continue
                if field.lines[0] in private:
                    continue
                own = " ".join(c for _, c in _comment_texts("\n".join(source_lines[field.lines[0] - 1:field.lines[1]])))
                notes = " ".join(x for x in (field.comment, field.doc, own) if x)
                if _PRIVATE_WORDS.search(notes):
                    continue
                if init_member and _handled(text, ops, field.name):
                    continue
                if kernel_set.get(field.name, set()) - init_members:
                    continue  # the kernel sets it (in reg, at registration, ...): not user space's
                decl = f"{field.type} {field.name}" + "".join(f"[{s}]" for s in field.array_sizes)
                if init_member:
                    detail = (f"{init_member}() does not handle it, so bpf_struct_ops_map_update_elem() "
                              "fails the map update with -EINVAL whenever user space sets it to anything but "
                              f"zero. Should {init_member}() copy it (`case offsetof(struct {ops}, "
                              f"{field.name}):` ... `return 1;`), or is it for the kernel only (then a "
                              "`/* private */` comment would say so)?")
                else:
                    detail = (f"{init.variable} has no .init_member callback to copy it, so the map update "
                              "fails with -EINVAL whenever user space sets it to anything but zero. Should "
                              f"{init.variable} get an .init_member that copies it (`case offsetof(struct "
                              f"{ops}, {field.name}):` ... `return 1;`), or is it for the kernel only (then a "
                              "`/* private */` comment would say so)?")
                yield Hit(line=field.lines[0], end_line=field.lines[1], file=sfc.path,
                          args={"struct": ops, "member": field.name, "decl": decl, "detail": detail})
