"""Facts on hand-written kernel snippets (tests/snippets) and on the v1 BPF OOM thread."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

from reviewbot.csource import parse_c, units_from_patch
from reviewbot.facts import facts_of

SNIPPETS = Path(__file__).parent / "snippets"
MESSAGES = Path(__file__).resolve().parent.parent / "fixtures" / "bpf-oom-v1" / "messages"
PATCH_01 = MESSAGES / "20250818170136.209169-2-roman.gushchin@linux.dev.eml"


def snippet(name: str, **kwargs):
    return facts_of(parse_c((SNIPPETS / name).read_bytes(), name, **kwargs))


def patch_body(path: Path) -> str:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    return message.get_body(("plain",)).get_content()


def patches() -> list[Path]:
    found = []
    for path in sorted(MESSAGES.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if "PATCH" in str(message["Subject"]) and "diff --git" in patch_body(path):
            found.append(path)
    return found


# --- snippets: every idiom parses without an error line ---------------------------------------

@pytest.mark.parametrize("name", sorted(p.name for p in SNIPPETS.glob("*.c")))
def test_snippet_parses_cleanly_but_not_raw(name):
    source = (SNIPPETS / name).read_bytes()
    assert parse_c(source, name).error_lines == frozenset()
    if name != "structs.c":  # plain C: the raw parser reads it too
        assert parse_c(source, name, raw=True).error_lines, "snippet no longer exercises the mask"


def test_iterator_loops_with_and_without_braces():
    facts = snippet("iterators.c")
    loops = {loop.macro: loop for loop in facts.loops}
    assert loops["list_for_each_entry"].args == ("pos", "head", "node")
    assert loops["list_for_each_entry"].braces
    safe = loops["list_for_each_entry_safe"]
    assert not safe.braces and safe.lines == (12, 14) and safe.body_lines == (13, 14)
    assert loops["hlist_for_each_entry_rcu"].args[3] == "lockdep_is_held(&lock)"
    assert loops["for_each_set_bit"].lines == (18, 19)
    assert loops["scoped_guard"].args == ("spinlock", "&lock")
    # the brace-less body's call belongs to the loop's function
    assert facts.calls_to("list_del")[0].function == "count_entries"
    assert all(loop.function == "count_entries" for loop in facts.loops)


def test_scoped_guard_is_a_lock_section():
    flow = snippet("iterators.c").flow("count_entries")
    (section,) = flow.sections
    assert (section.lock.kind, section.lock.key) == ("spin", "&lock")
    assert section.lines == (21, 23)
    assert flow.sections_at(22) == (section,)
    assert not flow.held_at_exits()


def test_annotations_are_gone_from_the_parse_but_not_from_the_text():
    facts = snippet("annotations.c")
    names = [f.name for f in facts.functions]
    assert names == ["drop_locked", "take", "holder_init", "bpf_holder_read", "holder_log", "spare"]
    read = facts.function("bpf_holder_read")
    assert [(p.name, p.type) for p in read.params] == [("uptr", "int __user *"), ("regs", "void __iomem *")]
    assert [p.type for p in facts.function("holder_log").params][-1] == "..."
    holder = facts.struct("holder")
    assert holder.field("item").type == "struct item __rcu *"
    assert holder.field("counts").type == "unsigned long __percpu *"
    assert holder.field("data").array_sizes == ("",)
    assert facts.global_definition("threshold").type == "int"
    assert facts.function("holder_init").is_static


def test_definition_macros_name_what_they_define():
    facts = snippet("definitions.c")
    by_name = {g.name: g for g in facts.globals}
    assert by_name["demo_srcu"].macro == "DEFINE_STATIC_SRCU" and not by_name["demo_srcu"].is_static
    assert by_name["demo_global_srcu"].macro == "DEFINE_SRCU"
    assert by_name["demo_lock"].macro == "DEFINE_SPINLOCK" and by_name["demo_lock"].is_static
    assert by_name["demo_mutex"].macro == "DEFINE_MUTEX"
    assert by_name["demo_list"].macro == "LIST_HEAD"
    assert by_name["demo_percpu_lists"].args == ("struct list_head", "demo_percpu_lists")
    assert facts.macro("DEMO_MAX").value == "16" and facts.macro("DEMO_MAX").params is None
    assert facts.macro("demo_field").params == ("p", "f")


def test_function_defining_macros():
    facts = snippet("definitions.c")
    get = facts.function("bpf_demo_get")
    assert get.macro == "BPF_CALL_2" and get.return_type == ""
    assert [(p.name, p.type) for p in get.params] == [("map", "struct bpf_map *"), ("flags", "u64")]
    ping = facts.function("demo_ping")
    assert ping.macro == "SYSCALL_DEFINE0" and ping.params == ()


def test_ifdef_keeps_the_first_branch_and_type_arguments_keep_their_text():
    facts = snippet("definitions.c")
    conditions = [c.text for c in facts.conditions if c.function == "demo_read"]
    assert conditions == ["v > 1"]
    (container_of,) = facts.calls_to("container_of")
    assert container_of.args == ("d->node", "struct demo_item", "node")
    assert facts.calls_to("min_t")[0].args[0] == "unsigned long"
    assert facts.calls_to("EXPORT_SYMBOL_GPL")[0].args == ("demo_read",)


def test_srcu_section_balanced_through_break():
    flow = snippet("locking.c").flow("run_hooks_balanced")
    assert not flow.held_at_exits()
    (section,) = flow.sections
    assert (section.lock.kind, section.lock.key) == ("srcu", "&hooks_srcu")
    assert section.acquire_lines == (13, 13) and section.release_lines == ((19, 19),)
    assert flow.sections_at(15) == (section,) and flow.sections_at(20) == ()
    assert not flow.capped


def test_srcu_early_return_is_held_at_exit():
    flow = snippet("locking.c").flow("run_hooks_early_return")
    (leak,) = flow.held_at_exits()
    assert leak.lock.key == "&hooks_srcu" and leak.exit.kind == "return" and leak.exit.lines == (31, 31)


def test_srcu_in_loop_held_at_continue_and_break():
    flow = snippet("locking.c").flow("run_hooks_inner")
    exits = {(h.exit.kind, h.exit.lines[0]) for h in flow.held_at_exits() if h.lock.key == "&h->srcu"}
    assert ("continue", 45) in exits and ("break", 47) in exits


def test_goto_is_followed_to_its_label():
    facts = snippet("locking.c")
    assert not facts.flow("add_hook").held_at_exits()  # goto out; out: spin_unlock
    (leak,) = facts.flow("add_hook_leaky").held_at_exits()
    assert leak.lock.kind == "mutex" and leak.exit.lines == (77, 77)
    gotos = [e for e in facts.flow("add_hook").events("goto")]
    assert gotos and gotos[0].name == "out"


def test_nested_sections_and_irqsave_pairs():
    flow = snippet("locking.c").flow("read_all")
    assert not flow.held_at_exits()
    kinds = {s.lock.kind: s for s in flow.sections}
    assert set(kinds) == {"rcu", "spin"}
    assert {s.lock.kind for s in flow.sections_at(86)} == {"rcu", "spin"}
    assert {s.lock.kind for s in flow.sections_at(88)} == {"rcu"}


def test_struct_fields_comments_and_kernel_doc():
    facts = snippet("structs.c")
    ops = facts.struct("demo_ops")
    assert ops.doc is not None and ops.doc.summary == "operations of a demo policy"
    name = ops.field("name")
    assert name.type == "char" and name.array_sizes == ("DEMO_NAME_LEN",)
    assert name.comment == "/* NUL-terminated; copied from user space */"
    assert name.doc == "the policy's name, shown in the log"
    assert ops.field("table").array_sizes == ("4", "DEMO_NAME_LEN + 1")
    assert ops.field("flags").bitfield == "3" and ops.field("flags").comment == "/* DEMO_F_* */"
    assert ops.field("handle").type == "int (*)(struct demo_event *ev)"
    assert ops.field("cookie").type == "unsigned long"  # a member of the anonymous union
    doc = next(d for d in facts.kernel_docs if d.target == "demo_register")
    assert doc.target_kind == "function" and doc.params == (("ops", "the policy's operations"),)
    assert doc.text.startswith("/**") and doc.lines == (27, 32)


def test_designated_initializers():
    facts = snippet("structs.c")
    ops = facts.initializer("bpf_demo_ops")
    assert ops.type == "struct bpf_struct_ops" and ops.is_static
    assert ops.value_of("reg") == "demo_reg" and ops.value_of(".unreg") == "demo_unreg"
    assert ops.value_of("init_member") == "demo_init_member"
    assert ops.value_of("name") == '"demo_ops"' and ops.value_of("owner") is None
    assert facts.initializer("default_ops").value_of("flags") == "DEMO_F_A | DEMO_F_B"


def test_returns_strings_assignments_conditions():
    facts = snippet("structs.c")
    assert [r.value for r in facts.returns if r.function == "demo_handle"] == ["ev->id > 0 ? 1 : 0"]
    assert '"demo: event %d\\n"' in [s.text for s in facts.strings]
    assert any(c.kind == "ternary" and c.text == "ev->id > 0" for c in facts.conditions)
    locking = snippet("locking.c")
    assert any(a.target == "idx" and a.value == "srcu_read_lock(&hooks_srcu)" for a in locking.assignments)
    assert any(a.target == "ret" and a.operator == "init" and a.value == "0" for a in locking.assignments)


def test_added_flags_follow_the_patch_lines():
    facts = snippet("locking.c", added_lines={30, 31})
    fn = facts.function("run_hooks_early_return")
    assert fn.added and not facts.function("run_hooks_balanced").added
    assert [r.added for r in facts.returns if r.function == "run_hooks_early_return"] == [True, False]


def test_path_enumeration_is_capped_on_huge_functions():
    body = "".join(f"\tif (a{i})\n\t\tf{i}();\n\telse\n\t\tg{i}();\n" for i in range(40))
    facts = facts_of(parse_c(f"void huge(void)\n{{\n{body}}}\n"))
    flow = facts.flow("huge")
    assert flow.capped and 0 < len(flow.paths) <= 256


# --- the v1 BPF OOM thread ------------------------------------------------------------------

@pytest.mark.parametrize("path", patches(), ids=lambda p: p.name.split("@")[0])
def test_every_changed_c_file_of_the_thread_parses(path):
    units = units_from_patch(patch_body(path))
    for unit in units:
        facts = facts_of(unit)
        if unit.complete:
            assert unit.error_lines == frozenset(), unit.path
        assert facts.path == unit.path
        # every fact of added code sits on lines the patch shows
        for fn in facts.functions:
            if fn.added:
                assert any(n in unit.added_lines for n in range(fn.lines[0], fn.lines[1] + 1))


def test_thread_has_patches():
    assert len(patches()) >= 10


@pytest.fixture(scope="module")
def bpf_oom():
    (unit,) = [u for u in units_from_patch(patch_body(PATCH_01)) if u.path == "mm/bpf_oom.c"]
    return unit, facts_of(unit)


def test_patch_01_handle_oom_srcu_section_and_loop(bpf_oom):
    unit, facts = bpf_oom
    handle = facts.function("bpf_handle_oom")
    assert handle.added and handle.return_type == "bool" and not handle.is_static
    assert [(p.name, p.type) for p in handle.params] == [("oc", "struct oom_control *")]
    (loop,) = facts.loops_in("bpf_handle_oom")
    assert loop.macro == "list_for_each_entry_srcu"
    assert loop.args == ("bpf_oom", "&bpf_oom_handlers", "node", "false")
    assert loop.args[3] == "false"
    flow = facts.flow("bpf_handle_oom")
    outer = next(s for s in flow.sections if s.lock.key == "&bpf_oom_srcu")
    assert outer.lock.kind == "srcu" and outer.lock.call == "srcu_read_lock"
    assert outer.lines[0] <= loop.lines[0] and loop.lines[1] <= outer.lines[1]
    inner = next(s for s in flow.sections if s.lock.key == "&bpf_oom->srcu")
    call_line = facts.calls_to("ops->handle_out_of_memory")[0].lines[0]
    assert {s.lock.key for s in flow.sections_at(call_line)} == {"&bpf_oom_srcu", "&bpf_oom->srcu"}
    assert inner.lines[1] < loop.lines[1]
    assert not flow.held_at_exits()
    assert unit.text(unit.function("bpf_handle_oom")).startswith("bool bpf_handle_oom(struct oom_control *oc)")


def test_patch_01_globals_and_initializers(bpf_oom):
    _, facts = bpf_oom
    assert facts.global_definition("bpf_oom_srcu").macro == "DEFINE_STATIC_SRCU"
    assert facts.global_definition("bpf_oom_lock").macro == "DEFINE_SPINLOCK"
    assert facts.global_definition("bpf_oom_handlers").macro == "LIST_HEAD"
    ops = facts.initializer("bpf_oom_bpf_ops")
    assert ops.type == "struct bpf_struct_ops"
    assert ops.value_of("reg") == "bpf_oom_ops_reg"
    assert ops.value_of("unreg") == "bpf_oom_ops_unreg"
    assert ops.value_of("init_member") == "bpf_oom_ops_init_member"
    reg = facts.flow("bpf_oom_ops_reg")
    (section,) = reg.sections
    assert section.lock.key == "&bpf_oom_lock" and not reg.held_at_exits()


def test_patch_01_struct_bpf_oom_ops_in_the_header():
    (header,) = [u for u in units_from_patch(patch_body(PATCH_01)) if u.path == "include/linux/bpf_oom.h"]
    facts = facts_of(header)
    ops = facts.struct("bpf_oom_ops")
    name = ops.field("name")
    assert name.type == "char" and name.array_sizes == ("BPF_OOM_NAME_MAX_LEN",)
    assert name.doc == "BPF OOM policy name" and name.added
    assert ops.field("handle_out_of_memory").type == "int (*)(struct oom_control *oc)"
    assert ops.field("bpf_oom").comment == "/* Private */"
    assert facts.macro("BPF_OOM_NAME_MAX_LEN").value == "64"


# The regular expression facts.rcu.is_sleeper replaced (compiling it cost 2-3 ms of a review's start):
# the oracle the set-and-prefix test must agree with.
_SLEEPERS_REGEX = (
    r"^(?:mutex_lock(?:_nested|_interruptible|_interruptible_nested|_killable|_killable_nested|_io)?|"
    r"ww_mutex_lock(?:_interruptible)?|rt_mutex_lock\w*|"
    r"down|down_read|down_write|down_interruptible|down_killable|down_timeout|down_read_killable|"
    r"down_write_killable|down_read_interruptible|down_read_nested|down_write_nested|"
    r"percpu_down_write|percpu_down_read|"
    r"msleep|msleep_interruptible|ssleep|usleep_range|usleep_range_state|"
    r"schedule|schedule_timeout\w*|io_schedule|io_schedule_timeout|schedule_hrtimeout\w*|"
    r"schedule_preempt_disabled|"
    r"wait_for_completion\w*|wait_event\w*|wait_var_event\w*|wait_on_bit\w*|"
    r"synchronize_rcu\w*|synchronize_srcu\w*|synchronize_net|synchronize_sched\w*|synchronize_irq|"
    r"rcu_barrier\w*|srcu_barrier|"
    r"flush_work|flush_delayed_work|flush_workqueue|drain_workqueue|flush_scheduled_work|"
    r"cancel_work_sync|cancel_delayed_work_sync|destroy_workqueue|alloc_workqueue|"
    r"kthread_stop|kthread_park|kthread_flush_work|kthread_flush_worker|kthread_create\w*|kthread_run|"
    r"might_sleep|might_fault|cond_resched|cond_resched_lock|"
    r"vmalloc\w*|vzalloc\w*|__vmalloc\w*|vfree|vunmap|vmap|"
    r"alloc_percpu|__alloc_percpu|"
    r"copy_from_user|copy_to_user|get_user|put_user|clear_user|strncpy_from_user|copy_struct_from_user|"
    r"memdup_user|memdup_user_nul|strndup_user|vmemdup_user|"
    r"request_firmware|request_firmware_direct|firmware_request_nowarn|"
    r"free_irq|disable_irq|request_irq|request_threaded_irq|"
    r"rtnl_lock|lock_sock|lock_sock_nested|device_lock|mmap_read_lock|mmap_write_lock|"
    r"folio_lock|lock_page|wait_on_page_locked|filemap_fdatawait\w*|filemap_write_and_wait\w*|"
    r"blk_mq_freeze_queue\w*|sync_filesystem|kmem_cache_create\w*|kmem_cache_destroy)$")


def test_is_sleeper_agrees_with_the_regular_expression_it_replaced():
    import re
    from pathlib import Path

    from reviewbot.facts import rcu

    oracle = re.compile(_SLEEPERS_REGEX)  # (its `$` also matched before a final newline: no call name has one)
    names = set(rcu.SLEEPER_NAMES) | set(rcu.SLEEPER_PREFIXES)
    for base in list(names):
        names |= {base + "_x", base + "x", base + "2", "x" + base, "_" + base, base[:-1], base + "->f",
                  base + ".f", base + "(", base + " ", base.upper()}
    root = Path(__file__).resolve().parent.parent
    for c in [*root.glob("rules/*/*/cases*.c"), *root.glob("tests/snippets/**/*.c")]:
        names |= set(re.findall(r"[A-Za-z_]\w*", c.read_text(encoding="utf-8", errors="replace")))
    assert len(names) > 2000
    differ = sorted(n for n in names if bool(oracle.match(n)) != rcu.is_sleeper(n))
    assert differ == []


def test_call_sites_in_callers_that_take_no_lock_are_the_paths_answer():
    """A caller that takes no lock holds nothing at any of its calls: call_sites answers that without
    walking its paths (a quarter of a tree sweep's time) and gives what the walk gives, and also the
    calls a capped walk never reached."""
    from pathlib import Path

    from reviewbot import engine, thread
    from reviewbot.facts import rcu

    root = Path(__file__).resolve().parent.parent
    files = [*root.glob("rules/*/*/cases*.c"), *root.glob("tests/snippets/**/*.c"),
             *root.glob("tests/model_variants/**/*.c")]  # the last: mm/oom_kill.c, mm/memcontrol.c
    kernel = Path.home() / ".cache" / "reviewbot" / "linux-source-6.1-full"
    # with the kernel corpus unpacked (../shared/tools/kernel-corpus --full), real files of every kind
    files += [kernel / f for f in ("fs/dcache.c", "net/core/dev.c", "kernel/rcu/srcutree.c", "virt/kvm/kvm_main.c",
                                   "drivers/char/ipmi/ipmi_msghandler.c", "net/mac80211/sta_info.c")
              if (kernel / f).is_file()]
    compared = 0
    for path in files:
        patch = thread.file_patch(path.name, path.read_text(encoding="utf-8", errors="replace"))
        ctx = engine.FileContext(patch, patch.changed_files[0])
        idx = rcu.index(ctx)
        fast = {site for v in idx.call_sites.values() for site in v}
        callers = {c.function for c in idx.facts.calls if c.function and c.name in idx.names}
        slow = {site for caller in callers for site in idx.walked_call_sites(caller)}  # every caller walked
        assert slow <= fast, path
        # more only where the walk never reached the call: a caller with too many paths to walk
        # (net/core/dev.c: deliver_skb() in __netif_receive_skb_core()), or a call the path view
        # does not model (a loop condition: `while ((seg = next_segment(len, offset)) != 0)`)
        for extra in fast - slow:
            flow = idx.facts.flow(extra.caller)
            walked = {e.lines for p in flow.paths for e in p.events if e.kind == "call" and e.name == extra.callee}
            assert not extra.held and (flow.capped or extra.lines not in walked), (path, extra)
        compared += len(slow)
    assert compared >= 50
