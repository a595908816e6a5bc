"""Variants of the bpf_oom patch (v1 01/14) for the reference model.

`fixed/` is the patch corrected so that the code matches its own documentation and the SRCU rules
(handlers in load order, bpf_memory_freed cleared per handler, one SRCU domain that readers hold and
unregistration waits for, a checked name copy, "default" for an unnamed policy). Each variant below
injects exactly one bug into fixed/bpf_oom.c, as (old, new) text replacements, and names the one
finding the model must report for it. The commit message is v1's own (commit-message.txt): the
contract is written from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXED = HERE / "fixed"
FILES = {  # path in the patch -> file in fixed/
    "include/linux/bpf_oom.h": "bpf_oom.h",
    "include/linux/oom.h": "oom.h",
    "mm/bpf_oom.c": "bpf_oom.c",
    "mm/oom_kill.c": "oom_kill.c",
}


@dataclass(frozen=True)
class Variant:
    name: str
    expect: str  # the one finding id the model must report
    edits: tuple[tuple[str, str], ...]
    why: str


VARIANTS = (
    Variant("newest-first", "BPFOOM001",
            (("list_add_tail_rcu(&bpf_oom->node", "list_add_rcu(&bpf_oom->node"),),
            "handlers are added at the head of the list, so they run newest first"),
    Variant("freed-once", "BPFOOM002",
            (("\t\toc->bpf_memory_freed = false;\n", ""),
             ("\tidx = srcu_read_lock(&bpf_oom_srcu);\n", "\toc->bpf_memory_freed = false;\n\tidx = srcu_read_lock(&bpf_oom_srcu);\n")),
            "bpf_memory_freed is cleared once before the walk, not per handler"),
    Variant("free-before-sync", "BPFOOM003",
            (("\tsynchronize_srcu(&bpf_oom_srcu);\n\n\tkfree(bpf_oom);\n",
              "\tkfree(bpf_oom);\n\n\tsynchronize_srcu(&bpf_oom_srcu);\n"),),
            "unregistration frees the list entry before waiting for the readers"),
    Variant("no-sync", "BPFOOM004",
            (("\tsynchronize_srcu(&bpf_oom_srcu);\n\n\tkfree(bpf_oom);\n", "\tops->bpf_oom = NULL;\n"),),
            "unregistration returns without waiting for readers (and leaves the entry to be freed later)"),
    Variant("srcu-leak", "BPFOOM005",
            (("\tstruct list_head node;\n};", "\tstruct list_head node;\n\tstruct srcu_struct srcu;\n};"),
             ("\tWRITE_ONCE(bpf_oom->ops, ops);\n",
              "\tif (init_srcu_struct(&bpf_oom->srcu)) {\n\t\tkfree(bpf_oom);\n\t\treturn -ENOMEM;\n\t}\n\n"
              "\tWRITE_ONCE(bpf_oom->ops, ops);\n")),
            "a per-object srcu_struct is initialized and never cleaned up"),
    Variant("policy-name", "BPFOOM006",
            (("&ops->name[0] : NULL;", "&ops->name[0] :\n\t\t\t\"bpf_defined_policy\";"),),
            "an unnamed policy is reported under a made-up name instead of \"default\""),
    Variant("lockdep-false", "BPFOOM007",
            (("node,\n\t\t\t\t srcu_read_lock_held(&bpf_oom_srcu)) {", "node, false) {"),),
            "the list walk's lockdep condition is a constant false"),
    Variant("name-unchecked", "BPFOOM008",
            (("\t\tif (strscpy_pad(ops->name, uops->name, sizeof(ops->name)) < 0)\n\t\t\treturn -E2BIG;\n",
              "\t\tstrscpy_pad(ops->name, uops->name, sizeof(ops->name));\n"),),
            "the name copy's -E2BIG is ignored"),
    Variant("early-return", "BPFOOM009",
            (("\t\tif (ret && oc->bpf_memory_freed) {\n\t\t\thandled = true;\n\t\t\tbreak;\n\t\t}\n",
              "\t\tif (ret && oc->bpf_memory_freed)\n\t\t\treturn true;\n"),),
            "a return inside the walk leaves the SRCU read-side section open"),
    Variant("rcu-walk", "BPFOOM010",
            (("\tidx = srcu_read_lock(&bpf_oom_srcu);\n\tlist_for_each_entry_srcu(bpf_oom, &bpf_oom_handlers, node,\n"
              "\t\t\t\t srcu_read_lock_held(&bpf_oom_srcu)) {",
              "\trcu_read_lock();\n\tlist_for_each_entry_rcu(bpf_oom, &bpf_oom_handlers, node) {"),
             ("\tsrcu_read_unlock(&bpf_oom_srcu, idx);\n\n\treturn handled;", "\trcu_read_unlock();\n\n\treturn handled;"),
             ("\tsynchronize_srcu(&bpf_oom_srcu);\n", "\tsynchronize_rcu();\n")),
            "the walk runs under rcu_read_lock(), where the sleepable handler must not run"),
    Variant("no-null-check", "BPFOOM011",
            (("\t\tif (!ops || !ops->handle_out_of_memory)\n", "\t\tif (!ops->handle_out_of_memory)\n"),),
            "the walk does not check for an ops pointer a concurrent unregistration cleared"),
)


def fixed_files() -> dict[str, str]:
    return {path: (FIXED / name).read_text() for path, name in FILES.items()}


def variant_files(variant: Variant) -> dict[str, str]:
    files = fixed_files()
    text = files["mm/bpf_oom.c"]
    for old, new in variant.edits:
        if text.count(old) != 1:
            raise ValueError(f"variant {variant.name}: {old!r} is not in fixed/bpf_oom.c exactly once")
        text = text.replace(old, new)
    files["mm/bpf_oom.c"] = text
    return files


def make_patch(files: dict[str, str], message: str | None = None, msgid: str = "variant@reviewbot"):
    """A patch that adds every file, with v1's commit message (the contract is written from it)."""
    from reviewbot.diff import new_file_diff, parse_changed_files
    from reviewbot.thread import Patch

    message = message if message is not None else (HERE / "commit-message.txt").read_text()
    body = message.rstrip("\n") + "\n---\n" + "".join(new_file_diff(p, t) for p, t in sorted(files.items()))
    return Patch(msgid=msgid, subject="[PATCH] mm: introduce bpf struct ops for OOM handling",
                 title="mm: introduce bpf struct ops for OOM handling", counter=1, total=1, revision=1,
                 author_name="", author_email="", date="", to=(), cc=(), references=(), body=body,
                 changed_files=parse_changed_files(body))
