"""Kernel list iterator macros, as the mask leaves them: `while (pos, head, member, cond) body`.

Each runs as the macro expands in include/linux/list.h and include/linux/rculist.h: the cursor
is the container of head->next, the walk ends when the cursor's member is the head again, and the
next entry is read from the current entry's member.next *after* the body ran (so a reader sitting
on an entry that was freed reads freed memory there). For the RCU variants the lockdep condition
is evaluated once at the start, as __list_check_rcu / __list_check_srcu do under
CONFIG_PROVE_RCU_LIST:

    list_for_each_entry_srcu:  RCU_LOCKDEP_WARN(!(cond), "RCU-list traversed without holding
                               the required lock!")
    list_for_each_entry_rcu:   RCU_LOCKDEP_WARN(!(cond) && !rcu_read_lock_any_held(),
                               "RCU-list traversed in non-reader section!")
"""

from __future__ import annotations

from reviewbot.interp.errors import NotModelled
from reviewbot.interp.machine import BREAK, CONTINUE, MAX_LOOP, container_of, member
from reviewbot.interp.memory import Ptr

_ENTRY = {
    # name: (has a "next" cursor argument, rcu flavour)
    "list_for_each_entry": (False, None),
    "list_for_each_entry_rcu": (False, "rcu"),
    "list_for_each_entry_srcu": (False, "srcu"),
    "list_for_each_entry_lockless": (False, None),
    "list_for_each_entry_safe": (True, None),
}
_PLAIN = {"list_for_each": False, "list_for_each_safe": True, "list_for_each_rcu": False}


def macro_name(n) -> str:
    name = n.cache.get("macro")
    if name is None:
        cond = n.f.get("condition")
        end = cond.start if cond is not None else n.start
        name = n.cache["macro"] = n.unit.text((n.start, end)).strip()
    return name


def _args(cond) -> list:
    node = cond.kids[0] if cond.type == "parenthesized_expression" and cond.kids else cond
    out = []
    while node.type == "comma_expression":
        out.append(node.f["left"])
        node = node.f["right"]
    out.append(node)
    return out


def lockdep_check(m, th, fr, n, flavour: str, cond_node):
    """Evaluate the iterator's lockdep condition the way CONFIG_PROVE_RCU_LIST does."""
    from reviewbot.interp.kernel import rcu_read_lock_any_held

    value = m.evp(th, fr, cond_node) if cond_node.pure else (yield from m.ev(th, fr, cond_node))
    ok = m.test(value, cond_node)
    if flavour == "srcu" and not ok:
        m.event("lockdep", th, n.line, n.path, message="RCU-list traversed without holding the required lock!",
                cond=cond_node.source, macro=macro_name(n))
    elif flavour == "rcu" and not ok and not rcu_read_lock_any_held(m, th):
        m.event("lockdep", th, n.line, n.path, message="RCU-list traversed in non-reader section!",
                cond=cond_node.source, macro=macro_name(n))


def run_iterator(m, th, fr, n):
    name = macro_name(n)
    args = n.cache.get("args")
    if args is None:
        args = n.cache["args"] = _args(n.f["condition"])
    body = n.f["body"]
    if name in _ENTRY:
        safe, flavour = _ENTRY[name]
        need = 4 if safe else 3
        if len(args) < need:
            raise NotModelled(name, n.line, "fewer arguments than the macro takes", n.path)
        pos, nxt = args[0], (args[1] if safe else None)
        head_node, member_node = args[need - 2], args[need - 1]
        extra = args[need:]
        if flavour == "srcu" and len(extra) != 1:
            raise NotModelled(name, n.line, "list_for_each_entry_srcu without its lockdep condition", n.path)
        if extra and flavour is None:
            raise NotModelled(name, n.line, "more arguments than the macro takes", n.path)
        if member_node.type not in ("identifier", "field_identifier"):
            raise NotModelled(name, n.line, "a member argument that is not a plain name", n.path)
        mname = member_node.text
        th.line = n.line
        yield n
        m.steps += 1
        if flavour is not None:
            if extra:
                yield from lockdep_check(m, th, fr, n, flavour, extra[0])
            elif flavour == "rcu":
                from reviewbot.interp.kernel import rcu_read_lock_any_held

                if not rcu_read_lock_any_held(m, th):
                    m.event("lockdep", th, n.line, n.path, message="RCU-list traversed in non-reader section!",
                            cond="", macro=name)
        head = m.evp(th, fr, head_node) if head_node.pure else (yield from m.ev(th, fr, head_node))
        if not isinstance(head, Ptr):
            raise NotModelled(name, n.line, "a list head that is not a pointer", n.path)
        pos_addr, _ = m.lvp(th, fr, pos) if pos.pure else (yield from m.lv(th, fr, pos))
        nxt_addr = None
        if nxt is not None:
            nxt_addr, _ = m.lvp(th, fr, nxt) if nxt.pure else (yield from m.lv(th, fr, nxt))
        cur = m.load(th, head.field("next"), n.line, f"{head_node.source}->next (list walk)")
        for _ in range(MAX_LOOP):
            entry = container_of(cur, mname)
            m.store(th, pos_addr, entry, n.line, pos.source)
            if cur == head:
                return None
            m.log(th, n.line, f"the list walk reaches {entry.base.label}")
            if nxt_addr is not None:
                following = m.load(th, cur.field("next"), n.line, f"{pos.source}->{mname}.next (list walk)")
                m.store(th, nxt_addr, container_of(following, mname), n.line, nxt.source)
            if body.type == "compound_statement":  # what exec_stmt does with it, one generator less
                th.line = body.line
                sig = yield from m.exec_block(th, fr, body)
            else:
                sig = yield from m.exec_stmt(th, fr, body)
            if sig == BREAK:
                return None
            if sig is not None and sig != CONTINUE:
                return sig
            th.line = n.line
            yield n
            m.steps += 1
            if nxt_addr is not None:
                entry = m.load(th, nxt_addr, n.line, nxt.source)
                cur = member(entry, mname)
            else:
                entry = m.load(th, pos_addr, n.line, pos.source)
                cur = m.load(th, member(entry, mname).field("next"), n.line,
                             f"{pos.source}->{mname}.next (list walk)")
        raise NotModelled(name, n.line, f"a list walk longer than {MAX_LOOP} entries", n.path)
    if name in _PLAIN:
        safe = _PLAIN[name]
        pos = args[0]
        nxt = args[1] if safe else None
        head_node = args[2] if safe else args[1]
        th.line = n.line
        yield n
        m.steps += 1
        head = m.evp(th, fr, head_node) if head_node.pure else (yield from m.ev(th, fr, head_node))
        pos_addr, _ = m.lvp(th, fr, pos) if pos.pure else (yield from m.lv(th, fr, pos))
        cur = m.load(th, head.field("next"), n.line, f"{head_node.source}->next (list walk)")
        for _ in range(MAX_LOOP):
            m.store(th, pos_addr, cur, n.line, pos.source)
            if cur == head:
                return None
            following = m.load(th, cur.field("next"), n.line, f"{pos.source}->next (list walk)") if safe else None
            if safe:
                nxt_addr, _ = m.lvp(th, fr, nxt) if nxt.pure else (yield from m.lv(th, fr, nxt))
                m.store(th, nxt_addr, following, n.line, nxt.source)
            sig = yield from m.exec_stmt(th, fr, body)
            if sig == BREAK:
                return None
            if sig is not None and sig != CONTINUE:
                return sig
            th.line = n.line
            yield n
            m.steps += 1
            cur = following if safe else m.load(th, m.load(th, pos_addr).field("next"), n.line,
                                                f"{pos.source}->next (list walk)")
        raise NotModelled(name, n.line, f"a list walk longer than {MAX_LOOP} entries", n.path)
    raise NotModelled(name, n.line, "an iterator macro the interpreter has no model of", n.path)
