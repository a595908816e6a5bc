"""The interpreter and its kernel stubs, on snippets of our own."""

from __future__ import annotations

import pytest

from reviewbot.csource import parse_c
from reviewbot.interp import STUBS, Machine, NotModelled, Program, run_alone, run_interleaved


def machine(src: str) -> Machine:
    return Machine(Program.from_units([parse_c(src, "t.c")]), STUBS)


def call(m: Machine, name: str, *args, thread: str = "t"):
    th = run_alone(m, m.thread(thread, name, list(args)))
    return th.result


def kinds(m: Machine) -> list[str]:
    return [e.kind for e in m.events]


def test_control_flow():
    m = machine(r"""
int f(int x) {
    int i, total = 0;
    for (i = 0; i < 5; i++) {
        if (i == 1)
            continue;
        if (i == 4)
            break;
        total += i;
    }
    while (x > 0) { total = total * 2; x--; }
    do { total++; } while (0);
    total = (total > 10 && !x) ? total : -total;
    switch (total) {
    case 1:
        return 100;
    case 21:
        total += 1000;
    default:
        total += 1;
    }
    if (x || total < 0)
        goto out;
    total = total - 2;
out:
    return total;
}
""")
    # i = 0, 2, 3 -> 5; doubled twice -> 20; +1 -> 21; case 21 falls through to default -> 1022; -2
    assert call(m, "f", 2) == 1020
    # x = 0: 5 -> 6 (do) -> not > 10 -> -6 -> default: -5 -> total < 0: goto out
    assert call(m, "f", 0) == -5


def test_struct_fields_char_arrays_and_strscpy():
    m = machine(r"""
#define NAME_LEN 8
struct item { int v; char name[NAME_LEN]; struct item *next; };
int f(void) {
    struct item *a = kzalloc(sizeof(*a), GFP_KERNEL);
    int r1, r2;
    a->v = 3;
    r1 = strscpy(a->name, "abc", sizeof(a->name));
    r2 = strscpy_pad(a->name, "abcdefghijk", sizeof(a->name));
    return r1 * 100 + (r2 == -E2BIG) * 10 + (a->name[7] == 0) + (a->name[0] == 'a') * 1000;
}
""")
    assert call(m, "f") == 1000 + 300 + 10 + 1
    assert "truncated" in kinds(m)
    assert "ignored-error" not in kinds(m)  # the result was used


def test_dropped_error_is_reported():
    m = machine(r"""
struct item { char name[4]; };
void f(struct item *a) { strscpy_pad(a->name, "toolong", sizeof(a->name)); }
int g(void) { struct item *a = kzalloc(sizeof(*a), GFP_KERNEL); f(a); return a->name[3]; }
""")
    assert call(m, "g") == 0
    ev = [e for e in m.events if e.kind == "ignored-error"]
    assert ev and ev[0].line == 3 and ev[0].detail["errname"] == "-E2BIG"


def test_function_pointers_and_null_call():
    m = machine(r"""
struct ops { int (*fn)(int x); };
static int twice(int x) { return 2 * x; }
static struct ops my_ops = { .fn = twice };
int f(struct ops *o, int x) { return o->fn(x); }
int g(void) { return f(&my_ops, 21); }
int h(void) { struct ops *o = kzalloc(sizeof(*o), GFP_KERNEL); return f(o, 1); }
""")
    assert call(m, "g") == 42
    th = run_alone(m, m.thread("t", "h", []))
    assert th.fault is not None and "null-call" in kinds(m)


def test_rcu_list_order_and_delete():
    m = machine(r"""
struct item { int v; struct list_head node; };
static LIST_HEAD(head);
static LIST_HEAD(tail);
DEFINE_STATIC_SRCU(s);
struct item *add(int v, int at_tail) {
    struct item *it = kzalloc(sizeof(*it), GFP_KERNEL);
    it->v = v;
    if (at_tail)
        list_add_tail_rcu(&it->node, &tail);
    else
        list_add_rcu(&it->node, &head);
    return it;
}
int walk(int which) {
    struct item *it;
    int total = 0, idx = srcu_read_lock(&s);
    if (which)
        list_for_each_entry_srcu(it, &tail, node, srcu_read_lock_held(&s))
            total = total * 10 + it->v;
    else
        list_for_each_entry_srcu(it, &head, node, srcu_read_lock_held(&s))
            total = total * 10 + it->v;
    srcu_read_unlock(&s, idx);
    return total;
}
int del_next(struct item *it) { list_del_rcu(&it->node); return list_entry(it->node.next, struct item, node)->v; }
""")
    items = [call(m, "add", v, 0) for v in (1, 2, 3)]
    for v in (1, 2, 3):
        call(m, "add", v, 1)
    assert call(m, "walk", 0) == 321  # list_add_rcu: at the head, newest first
    assert call(m, "walk", 1) == 123  # list_add_tail_rcu: at the tail, in order
    assert call(m, "del_next", items[1]) == 1  # the removed entry still points at its successor
    assert call(m, "walk", 0) == 31
    assert "lockdep" not in kinds(m)


def test_synchronize_srcu_waits_for_readers_of_its_domain_only():
    m = machine(r"""
DEFINE_STATIC_SRCU(a);
DEFINE_STATIC_SRCU(b);
static int x;
int reader(void) {
    int idx = srcu_read_lock(&a);
    int y;
    x = 1;
    x = 2;
    y = x;
    srcu_read_unlock(&a, idx);
    return y;
}
void writer_a(void) { synchronize_srcu(&a); x = 10; }
void writer_b(void) { synchronize_srcu(&b); x = 20; }
""")
    r = m.thread("r", "reader", [])
    w = m.thread("w", "writer_a", [])
    run_interleaved(m, r, w, 2)  # the reader is inside its section when the writer starts
    assert r.result == 2  # the writer waited: its store came after the reader's section
    assert m.globals.data["x"] == 10
    assert [e.detail["waited"] for e in m.events if e.kind == "sync"] == [1]
    m2 = m.clone()
    r = m2.thread("r", "reader", [])
    w = m2.thread("w", "writer_b", [])
    run_interleaved(m2, r, w, 2)
    assert r.result == 2 and m2.globals.data["x"] == 2  # writer_b did not wait for a reader of a
    syncs = [e for e in m2.events if e.kind == "sync"]
    assert syncs[-1].detail["waited"] == 0


def test_use_after_free_and_double_free():
    m = machine(r"""
struct item { int v; };
int f(void) {
    struct item *it = kmalloc(sizeof(*it), GFP_KERNEL);
    it->v = 5;
    kfree(it);
    kfree(it);
    return it->v;
}
""")
    assert call(m, "f") == 5  # freed memory keeps its contents; the access is reported
    evs = {e.kind: e for e in m.events}
    assert evs["double-free"].line == 7
    assert evs["uaf"].line == 8 and evs["uaf"].detail["what"] == "it->v"


def test_srcu_struct_leak_and_cleanup():
    m = machine(r"""
struct obj { struct srcu_struct srcu; };
void f(int clean) {
    struct obj *o = kmalloc(sizeof(*o), GFP_KERNEL);
    init_srcu_struct(&o->srcu);
    if (clean)
        cleanup_srcu_struct(&o->srcu);
    kfree(o);
}
""")
    call(m, "f", 1)
    assert "srcu-leak" not in kinds(m)
    call(m, "f", 0)
    leak = [e for e in m.events if e.kind == "srcu-leak"][0]
    assert leak.line == 8 and leak.detail["init_line"] == 5 and leak.detail["label"] == "o->srcu"


def test_lockdep_conditions():
    m = machine(r"""
struct item { struct list_head node; };
static LIST_HEAD(items);
DEFINE_STATIC_SRCU(s);
void bad(void) {
    struct item *it;
    int idx = srcu_read_lock(&s);
    list_for_each_entry_srcu(it, &items, node, false) {
    }
    srcu_read_unlock(&s, idx);
}
void bad_rcu(void) { struct item *it; list_for_each_entry_rcu(it, &items, node) { } }
void good_rcu(void) { struct item *it; rcu_read_lock(); list_for_each_entry_rcu(it, &items, node) { } rcu_read_unlock(); }
""")
    call(m, "good_rcu")
    assert "lockdep" not in kinds(m)
    call(m, "bad")
    call(m, "bad_rcu")
    evs = [e for e in m.events if e.kind == "lockdep"]
    assert [e.line for e in evs] == [8, 12]
    assert evs[0].detail["message"] == "RCU-list traversed without holding the required lock!"
    assert evs[1].detail["message"] == "RCU-list traversed in non-reader section!"


def test_section_left_open_and_sleep_under_spinlock():
    m = machine(r"""
DEFINE_STATIC_SRCU(s);
static DEFINE_SPINLOCK(l);
int f(int early) {
    int idx = srcu_read_lock(&s);
    if (early)
        return 1;
    srcu_read_unlock(&s, idx);
    return 0;
}
void g(void) { spin_lock(&l); synchronize_srcu(&s); spin_unlock(&l); }
""")
    call(m, "f", 0)
    assert "section-left-open" not in kinds(m)
    call(m, "f", 1)
    ev = [e for e in m.events if e.kind == "section-left-open"][0]
    assert ev.line == 5
    m2 = machine(r"""
DEFINE_STATIC_SRCU(s);
static DEFINE_SPINLOCK(l);
void g(void) { spin_lock(&l); synchronize_srcu(&s); spin_unlock(&l); }
""")
    call(m2, "g")
    assert "sleep-in-atomic" in kinds(m2)


def test_spinlock_makes_the_other_thread_wait():
    m = machine(r"""
static DEFINE_SPINLOCK(l);
static int x;
void a(void) { spin_lock(&l); x = 1; x = x + 1; spin_unlock(&l); }
void b(void) { spin_lock(&l); x = x * 10; spin_unlock(&l); }
""")
    ta, tb = m.thread("a", "a", []), m.thread("b", "b", [])
    run_interleaved(m, ta, tb, 2)  # a holds the lock when b starts
    assert m.globals.data["x"] == 20


def test_not_modelled_names_construct_and_line():
    m = machine("int f(void)\n{\n\treturn mystery_helper(3);\n}\n")
    with pytest.raises(NotModelled) as info:
        call(m, "f")
    assert info.value.line == 3 and info.value.construct == "call to mystery_helper()"
    assert info.value.as_dict("x") == {"model": "x", "file": "t.c", "line": 3,
                                       "construct": "call to mystery_helper()",
                                       "reason": "not defined in the patch and no kernel stub"}
    m = machine("struct h { struct hlist_node n; };\nvoid f(struct hlist_head *head)\n{\n\tstruct h *p;\n"
                "\thlist_for_each_entry(p, head, n) {\n\t}\n}\n")
    with pytest.raises(NotModelled) as info:
        call(m, "f", None)
    assert info.value.construct == "hlist_for_each_entry" and info.value.line == 5


def test_clone_forks_a_world():
    m = machine(r"""
struct item { int v; struct list_head node; };
static LIST_HEAD(items);
void add(int v) { struct item *it = kzalloc(sizeof(*it), GFP_KERNEL); it->v = v; list_add_tail_rcu(&it->node, &items); }
int sum(void) { struct item *it; int t = 0; list_for_each_entry(it, &items, node) t += it->v; return t; }
""")
    call(m, "add", 1)
    fork = m.clone()
    call(fork, "add", 10)
    assert call(m, "sum") == 1 and call(fork, "sum") == 11
