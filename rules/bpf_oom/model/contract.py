"""The bpf_oom contract, as executable Python.

Every clause says what the patch promises, in the patch's own words (commit message, kernel-doc,
header comments), or which kernel rule it comes from. A clause built on the patch's documentation
is only checked when the patch says it (`Clause.phrases` must all appear in the commit message or
the added lines): if a later version changes its documentation, the model does not hold it to
the old promise, it says the clause is not modelled.

Two designs of the feature have their own clauses (`Clause.designs`): "list", the v1 series (handlers
on one list, run in load order), and "tree", the v2 series (one handler per memory cgroup and one
system-wide, attached through a struct_ops link that carries the cgroup id, called walking up the
cgroup tree, detached when their cgroup goes offline). The clauses both designs document apply to
both.

The functions below compute what *must* happen in a scenario; the model runs the patched code in
the same scenario and compares.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

DEFAULT_POLICY = "default"


@dataclass(frozen=True)
class Clause:
    id: str
    says: str  # the sentence the clause is built on, quoted
    source: str  # where it is: "commit message", "include/linux/bpf_oom.h", a kernel file
    phrases: tuple[str, ...] = ()  # must appear in the patch for the clause to apply (documented ones)
    designs: tuple[str, ...] = ("list", "tree")  # the designs of the feature it is a clause of
    # Regular expressions that must all match the documentation (lower case, whitespace folded), for
    # clauses a later version may word differently: the sense, not the sentence.
    patterns: tuple[str, ...] = ()


CLAUSES = {
    "order": Clause(
        "order",
        "It's possible to load multiple bpf struct programs. In the case of oom, they will be executed "
        "one by one in the same order they been loaded until one of them returns 1 and "
        "bpf_memory_freed is set to 1 - an indication that the memory was freed.",
        "commit message",
        ("executed one by one in the same order",),
        ("list",),
    ),
    "outcome": Clause(
        "outcome",
        "The struct ops provides the bpf_handle_out_of_memory() callback, which expected to return 1 "
        "if it was able to free some memory and 0 otherwise. In the latter case it's guaranteed that "
        "the in-kernel OOM killer will be invoked. Otherwise the kernel also checks the "
        "bpf_memory_freed field of the oom_control structure, which is expected to be set by kfuncs "
        "suitable for releasing memory. [...] Returns true if a bpf oom program was executed, "
        "returned 1 and some memory was actually freed.",
        "commit message; kernel-doc of bpf_handle_oom() in include/linux/bpf_oom.h",
        ("in-kernel OOM killer will be invoked", "bpf_memory_freed"),
    ),
    "policy_name": Clause(
        "policy_name",
        "The struct ops also has the name field, which allows to define a custom name for the "
        "implemented policy. It's printed in the OOM report in the oom_policy=<policy> format. "
        "\"default\" is printed if bpf is not used or policy name is not specified.",
        "commit message",
        ("is printed if bpf is not used or policy name is not specified",),
    ),
    "name_copy": Clause(
        "name_copy",
        "The struct ops also has the name field, which allows to define a custom name for the "
        "implemented policy. (`char name[BPF_OOM_NAME_MAX_LEN]`: a bounded, NUL-terminated copy; a "
        "name that does not fit cannot be the policy's name, so loading it must fail rather than "
        "print another name.)",
        "commit message; struct bpf_oom_ops in include/linux/bpf_oom.h",
        ("allows to define a custom name",),
    ),
    "sleepable": Clause(
        "sleepable",
        "The callback program is sleepable to enable using iterators, e.g. cgroup iterators.",
        "commit message",
        ("callback program is sleepable",),
    ),
    "read_section": Clause(
        "read_section",
        "list_for_each_entry_srcu: This list-traversal primitive may safely run concurrently with the "
        "_rcu list-mutation primitives such as list_add_rcu() as long as the traversal is guarded by "
        "srcu_read_lock(). synchronize_srcu - wait for prior SRCU read-side critical-section "
        "completion.",
        "include/linux/rculist.h; kernel/rcu/srcutree.c",
    ),
    "unreg": Clause(
        "unreg",
        "struct_ops unregistration: bpf_struct_ops_map_delete_elem() calls "
        "`st_map->st_ops->unreg(&st_map->kvalue.data); bpf_map_put(map);` and the map's kvalue and "
        "programs are freed after an RCU and RCU Tasks grace period "
        "(synchronize_rcu_mult(call_rcu, call_rcu_tasks)), which does not wait for SRCU readers: once "
        "unreg returns, nothing may reach the ops or call its programs.",
        "kernel/bpf/bpf_struct_ops.c",
    ),
    "balanced": Clause(
        "balanced",
        "srcu_read_lock(): Returns an index that must be passed to the matching srcu_read_unlock(). "
        "Every read-side section is closed on every path.",
        "kernel/rcu/srcutree.c",
    ),
    "srcu_cleanup": Clause(
        "srcu_cleanup",
        "cleanup_srcu_struct - deconstruct a sleep-RCU structure. Must invoke this after you are "
        "finished using a given srcu_struct that was initialized via init_srcu_struct(), else you "
        "leak memory.",
        "kernel/rcu/srcutree.c",
    ),
    "lockdep_cond": Clause(
        "lockdep_cond",
        "list_for_each_entry_srcu - iterate over rcu list of given type. @cond: lockdep expression for "
        "the lock required to traverse the list. (With CONFIG_PROVE_RCU_LIST, "
        "RCU_LOCKDEP_WARN(!(cond), \"RCU-list traversed without holding the required lock!\").)",
        "include/linux/rculist.h",
    ),
    # -- the tree design (v2)
    "walk": Clause(
        "walk",
        "In case of an OOM, the handler attached to the OOM'ing memory cgroup runs first, then the "
        "handlers attached to its ancestors, walking up the cgroup tree to the root, and the system-wide "
        "handler last. In case of a system-wide OOM only the system-wide handler runs.",
        "commit message; kernel-doc of bpf_handle_oom()",
        designs=("tree",),
        patterns=(r"ancestor|upward|up the (cgroup )?(tree|hierarchy)|to the root|bottom[- ]up"
                  r"|parent (cgroup|memcg|memory cgroup)",
                  r"system[- ]wide"),
    ),
    "attach_once": Clause(
        "attach_once",
        "A struct_ops attach that succeeds (.reg returning 0) puts the handler in effect until it is "
        "detached (.unreg). Where a cgroup has room for one handler, attaching a second one must fail "
        "(\"Only one bpf_oom_ops can be attached to a memory cgroup, and only one system-wide\"), not "
        "silently replace the first.",
        "kernel/bpf/bpf_struct_ops.c; commit message",
        designs=("tree",),
    ),
    "cgroup_id": Clause(
        "cgroup_id",
        "A bpf_oom_ops is attached with a struct_ops link. The link carries the id of the cgroup to "
        "attach to; a cgroup id of 0 means the system-wide handler.",
        "commit message",
        designs=("tree",),
        patterns=(r"cgroup[ _]id|id of the cgroup|cgroup's id", r"system[- ]wide"),
    ),
    "ctx_id": Clause(
        "ctx_id",
        "struct bpf_oom_ctx: If bpf_oom_ops is attached to a cgroup, id of this cgroup. 0 if it is the "
        "system-wide handler.",
        "struct bpf_oom_ctx in include/linux/bpf_oom.h",
        designs=("tree",),
        patterns=(r"bpf_oom_ctx|context", r"attached"),
    ),
    "offline": Clause(
        "offline",
        "When a memory cgroup with an attached bpf_oom_ops goes offline, the bpf_oom_ops is detached "
        "from it and handle_cgroup_offline() is called with the id of the deleted cgroup. The handler "
        "is not called for that cgroup after that.",
        "commit message; kernel-doc of handle_cgroup_offline in struct bpf_oom_ops",
        designs=("tree",),
        patterns=(r"handle_cgroup_offline|offline callback", r"offline|deleted|removed"),
    ),
}


@lru_cache(maxsize=16)
def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).lower()


def documented(clause: Clause, documentation: str) -> bool:
    """True when every phrase (and pattern) of a documented clause is in the patch's documentation."""
    if not clause.phrases and not clause.patterns:
        return True
    doc = _normal(documentation)  # cached: every clause is checked against the same documentation
    return (all(_normal(p) in doc for p in clause.phrases)
            and all(re.search(p, doc) for p in clause.patterns))


def not_documented(clause: Clause) -> str:
    """Why a documented clause is not checked."""
    said = list(clause.phrases) + [f"/{p}/" for p in clause.patterns]
    return "the patch does not document it: " + " / ".join(said)


@dataclass(frozen=True)
class Handler:
    """One loaded bpf_oom_ops in a scenario: what its program does."""

    label: str
    ret: int  # what handle_out_of_memory returns
    frees: bool  # frees memory through a kfunc (which sets oc->bpf_memory_freed)
    name: bytes = b""  # the name user space gives; up to the array's size, maybe without a NUL

    def describe(self) -> str:
        what = "frees memory through a kfunc" if self.frees else "frees nothing"
        named = f'named "{self.name.decode()}"' if self.name else "with no name"
        return f"{self.label} ({named}: {what}, returns {self.ret})"


def expected_run(handlers: list[Handler]) -> tuple[list[str], bool]:
    """Which handlers run, in which order, and whether the OOM counts as handled by bpf.

    Clause "order": one by one, in load order, until one returns 1 and bpf_memory_freed is set.
    Clause "outcome": bpf_memory_freed is set by a kfunc that freed memory, so "set" means *this*
    handler freed memory; a handler returning 1 without freeing anything does not stop the walk
    ("prevents a bpf program to claim forward progress without actually releasing memory"); when no
    handler does both, the in-kernel OOM killer runs.
    """
    ran = []
    for h in handlers:
        ran.append(h.label)
        if h.ret == 1 and h.frees:
            return ran, True
    return ran, False


def outcome_words(handled: bool) -> str:
    return ("bpf_handle_oom() returns true and the in-kernel OOM killer is skipped" if handled
            else "bpf_handle_oom() returns false and the in-kernel OOM killer runs")


def expected_policy_name(handler: Handler | None, size: int) -> str | None:
    """What the OOM report prints as oom_policy=: the ops' name while its handler runs, "default"
    when bpf is not used or the name is not specified. None: the name cannot be loaded at all."""
    if handler is None or not handler.name:
        return DEFAULT_POLICY
    if not name_fits(handler.name, size):
        return None
    return handler.name.split(b"\0", 1)[0].decode("utf-8", "replace")


def name_fits(name: bytes, size: int) -> bool:
    """A bounded NUL-terminated copy of `name` fits in char[size]."""
    return b"\0" in name[:size] or len(name) < size


@dataclass(frozen=True)
class TreeHandler(Handler):
    """A handler of the tree design: where its link attaches it ("system" for cgroup id 0, a memcg's
    path, or "nowhere" for an id no cgroup has) and whether its program has handle_cgroup_offline."""

    at: str = "system"
    offline: bool = True

    def describe(self) -> str:
        where = "system-wide" if self.at == "system" else (
            "to a cgroup id no cgroup has" if self.at == "nowhere" else f"to {self.at}")
        what = "frees memory through a kfunc" if self.frees else "frees nothing"
        named = f'named "{self.name.decode()}"' if self.name else "with no name"
        return f"{self.label} (attached {where}, {named}: {what}, returns {self.ret})"


def expected_walk(path: list[str], attached: dict[str, str]) -> list[str]:
    """Clause "walk": the handlers an OOM calls, in order, before any stops it: the one attached to
    each memcg of `path` (the OOM's memcg, then its ancestors up to the root; empty for a
    system-wide OOM), then the system-wide one. `attached` maps a handler to where it is attached."""
    by_place: dict[str, str] = {}
    for label, place in attached.items():
        by_place.setdefault(place, label)
    order = [by_place[m] for m in path if m in by_place]
    if "system" in by_place:
        order.append(by_place["system"])
    return order
