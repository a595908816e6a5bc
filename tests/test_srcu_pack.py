"""The srcu pack on the real v1 thread: what it finds on 01/14 (mm/bpf_oom.c), and nothing elsewhere.

01/14 adds mm/bpf_oom.c: readers walk bpf_oom_handlers under bpf_oom_srcu with the lockdep condition
`false` (SRCU002, line 32); bpf_oom_ops_unreg() unlinks an entry with list_del_rcu(), waits only for
the entry's own srcu_struct and kfree()s it (SRCU005, line 118) without cleanup_srcu_struct() of
the srcu_struct bpf_oom_ops_reg() set up (SRCU004, line 118). The read-side sections are balanced
(SRCU001) and every walk is inside one (SRCU003).
"""

from __future__ import annotations

from functools import lru_cache

from reviewbot import engine, rulepack, thread
from tests.helpers import PATCH_01, v1_series

PACK = [r for r in rulepack.load_rules() if r.pack == "srcu"]
OURS = {"SRCU001", "SRCU003", "SRCU004", "SRCU005"}


@lru_cache(maxsize=None)
def review():
    return engine.run(v1_series(), PACK)


def on(msgid: str):
    return [f for f in review().findings if f.patch == msgid]


def test_the_pack_has_its_rules():
    assert OURS | {"SRCU002"} <= {r.id for r in PACK}


def test_findings_on_patch_01():
    got = sorted((f.rule, f.file, f.line) for f in on(PATCH_01))
    assert got == [
        ("SRCU002", "mm/bpf_oom.c", 32),
        ("SRCU004", "mm/bpf_oom.c", 118),
        ("SRCU005", "mm/bpf_oom.c", 118),
    ]


def test_srcu005_names_both_domains_and_the_list():
    (finding,) = [f for f in on(PATCH_01) if f.rule == "SRCU005"]
    msg = finding.message
    assert msg.startswith("bpf_oom is freed here by kfree() after list_del_rcu(&bpf_oom->node) on line 113")
    assert "readers walk bpf_oom_handlers under bpf_oom_srcu (bpf_handle_oom())" in msg
    assert "only waits for &bpf_oom->srcu" in msg
    assert "synchronize_srcu(&bpf_oom_srcu)" in msg and msg.endswith("?")
    assert finding.quoted == ("+\tkfree(bpf_oom);",)
    assert finding.severity == "error"


def test_srcu004_points_at_the_init_in_reg_and_the_missing_cleanup():
    (finding,) = [f for f in on(PATCH_01) if f.rule == "SRCU004"]
    msg = finding.message
    assert "init_srcu_struct(&bpf_oom->srcu) in bpf_oom_ops_reg()" in msg
    assert "cleanup_srcu_struct(&bpf_oom->srcu)" in msg and msg.endswith("?")
    # the kfree() on reg's own init-failed branch (line 91) is not a finding
    assert all(f.line != 91 for f in on(PATCH_01))


def test_nothing_on_the_other_patches():
    others = [f for f in review().findings if f.patch != PATCH_01]
    assert others == []


def test_srcu001_keeps_an_added_lock_whose_unlock_is_missing_at_an_unchanged_return():
    """The leak is reported at the return, with the lock line as a related line."""
    text = (
        "DEFINE_STATIC_SRCU(s);\n"            # 1
        "int f(int x)\n"                      # 2
        "{\n"                                 # 3
        "\tint idx;\n"                        # 4
        "\n"                                  # 5
        "\tidx = srcu_read_lock(&s);\n"       # 6
        "\tif (x)\n"                          # 7
        "\t\treturn -EINVAL;\n"               # 8
        "\tsrcu_read_unlock(&s, idx);\n"      # 9
        "\treturn 0;\n"                       # 10
        "}\n"
    )
    patch = thread.file_patch("kernel/x.c", text)
    rule = next(r for r in PACK if r.id == "SRCU001")
    ctx = engine.FileContext(patch, patch.changed_files[0], rule)
    hits = list(rule.check(ctx))
    assert [(h.line, h.related) for h in hits] == [(8, (6,))]
    assert "srcu_read_lock(&s) from line 6 is still held when this return leaves f()" in hits[0].message
