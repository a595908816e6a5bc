"""A made-up v2 of the bpf_oom patch, for developing the reference model against the series' v2
design (handlers per memory cgroup and system-wide, attached through a struct_ops link that carries
the cgroup id, a walk up the cgroup tree, an offline callback).

MADE UP: written by reviewbot's tests from a description of that design, never sent to any list.
The real v2 differs in names, helpers, where the walk lives and the link plumbing; the model must
recognise the design by its roles, not by these names.

`fixed/` is the corrected patch (the code matches its own documentation: commit-message.txt and the
kernel-doc in bpf_oom.h). mm/bpf_oom.c and include/linux/bpf_oom.h are new files; the other files
are excerpts of the kernel files the patch modifies (`*.orig` before, the file after), turned into
hunks at the lines below. `SENT` is the patch as a first v2 might have been sent (two bugs);
`VARIANTS` each inject exactly one bug into the corrected patch and name the finding the model must
report for it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXED = HERE / "fixed"
NEW = {"include/linux/bpf_oom.h": "bpf_oom.h", "mm/bpf_oom.c": "bpf_oom.c"}
MODIFIED = {  # path -> (file in fixed/, the line of the kernel file the excerpt starts at)
    "include/linux/memcontrol.h": ("memcontrol.h", 187),
    "include/linux/oom.h": ("oom.h", 24),
    "mm/memcontrol.c": ("memcontrol.c", 3858),
    "mm/oom_kill.c": ("oom_kill.c", 45),
}
SUBJECT = "[PATCH v2 05/23] mm: introduce BPF OOM struct ops"


@dataclass(frozen=True)
class Variant:
    name: str
    expect: tuple[str, ...]  # the finding ids the model must report, sorted
    edits: tuple[tuple[str, str, str], ...]  # (path, old, new)
    why: str


def _in(path: str, *pairs: tuple[str, str]) -> tuple[tuple[str, str, str], ...]:
    return tuple((path, old, new) for old, new in pairs)


C = "mm/bpf_oom.c"

_REG_BY_ID = (
    ("\tstruct bpf_oom_ops *bpf_oom_ops = kdata;\n\tstruct mem_cgroup *memcg = bpf_oom_ops->memcg;\n"
     "\tstruct bpf_oom_ops **bpf_oom_ops_ptr;\n\n\tif (memcg)\n\t\tbpf_oom_ops_ptr = &memcg->bpf_oom;\n"
     "\telse\n\t\tbpf_oom_ops_ptr = &system_bpf_oom;\n\n"
     "\t/* Detach, unless the memcg went offline and took it already */\n"
     "\tcmpxchg(bpf_oom_ops_ptr, bpf_oom_ops, NULL);\n\n"
     "\t/* Wait for the OOM handlers and offline callbacks using it */\n\tsynchronize_srcu(&bpf_oom_srcu);\n\n"
     "\tbpf_oom_ops->memcg = NULL;\n\tmem_cgroup_put(memcg);\n}",
     "\tstruct bpf_struct_ops_link *ops_link = container_of(link, struct bpf_struct_ops_link, link);\n"
     "\tstruct bpf_oom_ops **bpf_oom_ops_ptr;\n\tstruct bpf_oom_ops *bpf_oom_ops = kdata;\n"
     "\tstruct mem_cgroup *memcg = NULL;\n\n\tif (ops_link->cgroup_id) {\n"
     "\t\t/* Detach from a memory cgroup */\n\t\tmemcg = mem_cgroup_get_from_ino(ops_link->cgroup_id);\n"
     "\t\tif (IS_ERR(memcg))\n\t\t\tgoto exit;\n\t\tbpf_oom_ops_ptr = &memcg->bpf_oom;\n\t} else {\n"
     "\t\t/* System-wide OOM handler */\n\t\tbpf_oom_ops_ptr = &system_bpf_oom;\n\t}\n\n"
     "\t/* Hide bpf_oom_ops from new callers */\n\tcmpxchg(bpf_oom_ops_ptr, bpf_oom_ops, NULL);\n\n"
     "\tmem_cgroup_put(memcg);\nexit:\n\t/* Release bpf_oom_ops after a srcu grace period */\n"
     "\tsynchronize_srcu(&bpf_oom_srcu);\n}"),
    ("\t/* The memcg reference is kept until unreg */\n\tbpf_oom_ops->memcg = memcg;\n\treturn 0;",
     "\tmem_cgroup_put(memcg);\n\treturn 0;"),
)

# The patch as a first v2 might have been sent: unreg finds the memcg again by the link's cgroup id,
# which no longer resolves once the cgroup is being removed (so it leaves the pointer behind and the
# offline callback later calls freed ops), and an unnamed policy is reported under a made-up name.
SENT = Variant("sent", ("BPFOOM004", "BPFOOM006"),
               _in(C, *_REG_BY_ID, ("&bpf_oom_ops->name[0] : NULL;", "&bpf_oom_ops->name[0] :\n\t\t\t\"bpf_defined_policy\";")),
               "unreg looks the memcg up by id; an unnamed policy is not reported as \"default\"")

VARIANTS = (
    Variant("ret-only", ("BPFOOM002",),
            _in(C, ("\t\tret = bpf_ops_handle_oom(bpf_oom_ops, memcg, oc);\n\t\tif (ret && oc->bpf_memory_freed) {",
                    "\t\tret = bpf_ops_handle_oom(bpf_oom_ops, memcg, oc);\n\t\tif (ret) {")),
            "the walk up the tree stops at a handler that returned 1 without freeing memory"),
    Variant("policy-literal", ("BPFOOM006",),
            _in("mm/oom_kill.c", ("\treturn \"default\";", "\treturn \"kernel\";")),
            "the OOM report names the in-kernel policy \"kernel\", not \"default\""),
    Variant("name-unchecked", ("BPFOOM008",),
            _in(C, ("\t\tif (strscpy_pad(ops->name, uops->name, sizeof(ops->name)) < 0)\n\t\t\treturn -E2BIG;\n",
                    "\t\tstrscpy_pad(ops->name, uops->name, sizeof(ops->name));\n")),
            "the name copy's -E2BIG is ignored"),
    Variant("reg-no-refuse", ("BPFOOM012",),
            _in(C, ("\tif (cmpxchg(bpf_oom_ops_ptr, NULL, bpf_oom_ops)) {\n\t\tmem_cgroup_put(memcg);\n\t\treturn -EBUSY;\n\t}\n",
                    "\tWRITE_ONCE(*bpf_oom_ops_ptr, bpf_oom_ops);\n")),
            ".reg replaces a handler already attached instead of refusing"),
    Variant("lookup-fallback", ("BPFOOM013",),
            _in(C, ("\tif (ops_link->cgroup_id) {\n\t\t/* Attach to a memory cgroup */\n"
                    "\t\tmemcg = mem_cgroup_get_from_ino(ops_link->cgroup_id);\n\t\tif (IS_ERR(memcg))\n"
                    "\t\t\treturn PTR_ERR(memcg);\n\t\tbpf_oom_ops_ptr = &memcg->bpf_oom;\n\t} else {",
                    "\tif (ops_link->cgroup_id)\n\t\tmemcg = mem_cgroup_get_from_ino(ops_link->cgroup_id);\n"
                    "\tif (ops_link->cgroup_id && !IS_ERR(memcg)) {\n\t\t/* Attach to a memory cgroup */\n"
                    "\t\tbpf_oom_ops_ptr = &memcg->bpf_oom;\n\t} else {\n\t\tmemcg = NULL;")),
            "a cgroup id that does not resolve is attached as the system-wide handler"),
    Variant("walk-skips-system", ("BPFOOM014",),
            _in(C, ("\t/* Then the system-wide handler */\n\tbpf_oom_ops = READ_ONCE(system_bpf_oom);\n",
                    "\t/* Then the system-wide handler, for a system-wide OOM */\n\tbpf_oom_ops = oc->memcg ? NULL : READ_ONCE(system_bpf_oom);\n")),
            "the system-wide handler is not called for a memcg OOM the cgroup handlers did not handle"),
    Variant("walk-stops-early", ("BPFOOM014",),
            _in(C, ("\t\tif (ret && oc->bpf_memory_freed) {\n\t\t\thandled = true;\n\t\t\tgoto exit;\n\t\t}\n\t}\n",
                    "\t\thandled = ret && oc->bpf_memory_freed;\n\t\tgoto exit;\n\t}\n")),
            "the walk stops at the nearest handler whatever it returned"),
    Variant("ctx-oom-memcg", ("BPFOOM015",),
            _in(C, ("\t\tret = bpf_ops_handle_oom(bpf_oom_ops, memcg, oc);", "\t\tret = bpf_ops_handle_oom(bpf_oom_ops, oc->memcg, oc);")),
            "the handler's context carries the OOM'ing memcg's id instead of the one it is attached to"),
    Variant("offline-no-callback", ("BPFOOM016",),
            _in(C, ("\tif (bpf_oom_ops->handle_cgroup_offline) {\n\t\tcgrp_id = cgroup_id(memcg->css.cgroup);\n"
                    "\t\texec_ctx.cgroup_id = cgrp_id;\n\t\tbpf_oom_ops->handle_cgroup_offline(&exec_ctx, cgrp_id);\n\t}\n", "")),
            "offline takes the handler away but never calls its handle_cgroup_offline()"),
    Variant("offline-keeps-pointer", ("BPFOOM017",),
            _in(C, ("\tbpf_oom_ops = xchg(&memcg->bpf_oom, NULL);", "\tbpf_oom_ops = READ_ONCE(memcg->bpf_oom);")),
            "offline calls the callback but leaves the handler attached to the offline memcg"),
    Variant("offline-callback-first", ("BPFOOM017",),
            _in(C, ("\tbpf_oom_ops = xchg(&memcg->bpf_oom, NULL);\n\tif (!bpf_oom_ops)\n\t\tgoto exit;\n\n"
                    "\tif (bpf_oom_ops->handle_cgroup_offline) {\n\t\tcgrp_id = cgroup_id(memcg->css.cgroup);\n"
                    "\t\texec_ctx.cgroup_id = cgrp_id;\n\t\tbpf_oom_ops->handle_cgroup_offline(&exec_ctx, cgrp_id);\n\t}\n",
                    "\tbpf_oom_ops = READ_ONCE(memcg->bpf_oom);\n\tif (!bpf_oom_ops)\n\t\tgoto exit;\n\n"
                    "\tif (bpf_oom_ops->handle_cgroup_offline) {\n\t\tcgrp_id = cgroup_id(memcg->css.cgroup);\n"
                    "\t\texec_ctx.cgroup_id = cgrp_id;\n\t\tbpf_oom_ops->handle_cgroup_offline(&exec_ctx, cgrp_id);\n\t}\n"
                    "\tWRITE_ONCE(memcg->bpf_oom, NULL);\n")),
            "offline calls the callback before it takes the handler away: an OOM walk in between still calls it"),
    Variant("offline-outside-srcu", ("BPFOOM004",),
            _in(C, ("\t/* All bpf_oom_ops structures are protected using bpf_oom_srcu */\n\tidx = srcu_read_lock(&bpf_oom_srcu);\n\n"
                    "\tbpf_oom_ops = xchg(&memcg->bpf_oom, NULL);\n",
                    "\tbpf_oom_ops = xchg(&memcg->bpf_oom, NULL);\n\n"
                    "\t/* All bpf_oom_ops structures are protected using bpf_oom_srcu */\n\tidx = srcu_read_lock(&bpf_oom_srcu);\n")),
            "offline takes the ops before it enters the SRCU section: unreg does not wait for it"),
    Variant("offline-unchecked-callback", ("BPFOOM011",),
            _in(C, ("\tif (bpf_oom_ops->handle_cgroup_offline) {\n\t\tcgrp_id = cgroup_id(memcg->css.cgroup);\n"
                    "\t\texec_ctx.cgroup_id = cgrp_id;\n\t\tbpf_oom_ops->handle_cgroup_offline(&exec_ctx, cgrp_id);\n\t}\n",
                    "\tcgrp_id = cgroup_id(memcg->css.cgroup);\n\texec_ctx.cgroup_id = cgrp_id;\n"
                    "\tbpf_oom_ops->handle_cgroup_offline(&exec_ctx, cgrp_id);\n")),
            "a program without handle_cgroup_offline is called through a NULL pointer"),
    Variant("walk-reads-twice", ("BPFOOM011",),
            _in(C, ("\t\tbpf_oom_ops = READ_ONCE(memcg->bpf_oom);\n\t\tif (!bpf_oom_ops)\n\t\t\tcontinue;\n\n"
                    "\t\tret = bpf_ops_handle_oom(bpf_oom_ops, memcg, oc);",
                    "\t\tif (!READ_ONCE(memcg->bpf_oom))\n\t\t\tcontinue;\n\n"
                    "\t\tret = bpf_ops_handle_oom(READ_ONCE(memcg->bpf_oom), memcg, oc);")),
            "the walk reads the memcg's pointer twice: an offline in between makes the second read NULL"),
    Variant("unreg-no-sync", ("BPFOOM004",),
            _in(C, ("\t/* Wait for the OOM handlers and offline callbacks using it */\n\tsynchronize_srcu(&bpf_oom_srcu);\n", "")),
            "unreg returns without waiting for the SRCU readers"),
    Variant("unreg-wrong-domain", ("BPFOOM004",),
            _in(C, ("\tsynchronize_srcu(&bpf_oom_srcu);\n\n\tbpf_oom_ops->memcg", "\tsynchronize_rcu();\n\n\tbpf_oom_ops->memcg")),
            "unreg waits for RCU readers, but the walk and the offline callback are SRCU readers"),
    Variant("unreg-no-clear", ("BPFOOM004",),
            _in(C, ("\t/* Detach, unless the memcg went offline and took it already */\n"
                    "\tcmpxchg(bpf_oom_ops_ptr, bpf_oom_ops, NULL);\n\n", "")),
            "unreg leaves the handler attached: an OOM after it returned calls freed ops"),
)


def fixed_files() -> dict[str, str]:
    files = {path: (FIXED / name).read_text() for path, name in NEW.items()}
    files.update({path: (FIXED / name).read_text() for path, (name, _) in MODIFIED.items()})
    return files


def variant_files(variant: Variant) -> dict[str, str]:
    files = fixed_files()
    for path, old, new in variant.edits:
        if files[path].count(old) != 1:
            raise ValueError(f"variant {variant.name}: {old!r} is not in {path} exactly once")
        files[path] = files[path].replace(old, new)
    return files


def _modified_diff(path: str, before: str, after: str, start: int) -> str:
    out = [f"diff --git a/{path} b/{path}", "index 1111111..2222222 100644"]
    for line in difflib.unified_diff(before.splitlines(), after.splitlines(), f"a/{path}", f"b/{path}",
                                     n=3, lineterm=""):
        if line.startswith("@@"):
            head, _, tail = line[3:].partition(" @@")
            old, new = head.split(" ")
            def shift(r: str) -> str:
                sign, _, rest = r[0], None, r[1:]
                first, comma, count = rest.partition(",")
                return f"{sign}{int(first) + start - 1}{comma}{count}"
            line = f"@@ {shift(old)} {shift(new)} @@{tail}"
        out.append(line)
    return "\n".join(out) + "\n"


def make_patch(files: dict[str, str], message: str | None = None, msgid: str = "v2-variant@reviewbot.invalid"):
    """A patch mail with the made-up v2 commit message: the new files added, the kernel files
    modified by hunks."""
    from reviewbot.diff import new_file_diff, parse_changed_files
    from reviewbot.thread import Patch

    message = message if message is not None else (HERE / "commit-message.txt").read_text()
    diffs = []
    for path in sorted(files):
        if path in NEW:
            diffs.append(new_file_diff(path, files[path]))
        else:
            name, start = MODIFIED[path]
            diffs.append(_modified_diff(path, (FIXED / f"{name}.orig").read_text(), files[path], start))
    body = message.rstrip("\n") + "\n---\n" + "".join(diffs)
    title = SUBJECT.split("] ", 1)[1]
    return Patch(msgid=msgid, subject=SUBJECT, title=title, counter=5, total=23, revision=2,
                 author_name="A. U. Thor", author_email="author@reviewbot.invalid", date="", to=(), cc=(),
                 references=(), body=body, changed_files=parse_changed_files(body))
