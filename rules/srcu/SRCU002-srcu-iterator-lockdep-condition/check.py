"""SRCU002: the lockdep condition of list_for_each_entry_srcu() and friends.

The fourth argument of the *_srcu iterators is the condition under which the traversal is legal;
with CONFIG_PROVE_RCU_LIST, __list_check_srcu() warns whenever it is false (unlike the _rcu
iterators, holding rcu_read_lock() does not excuse it). A constant defeats the check (`true`) or
makes lockdep warn on every traversal (`false`). `srcu_read_lock_held(&x)` while the loop runs
inside a read-side section of another domain names the wrong domain.
"""

import re

from reviewbot.engine import Hit

CONSTANT = re.compile(r"^\(*\s*(?:false|true|0|1|NULL)\s*\)*$")
HELD = re.compile(r"srcu_read_lock_held\s*\(\s*([^()]+?)\s*\)")


def _key(expr: str) -> str:
    return re.sub(r"\s+", "", expr).strip("()")


def check(ctx):
    facts = ctx.facts
    for loop in facts.loops:
        if not loop.macro.endswith("_srcu") or len(loop.args) < 4:
            continue
        cond = loop.args[-1].strip()
        head = loop.args[1].strip()
        flow = facts.flow(loop.function) if loop.function else None
        domains = []
        if flow is not None:
            domains = [s.lock.key for s in flow.sections_at(loop.lines[0]) if s.lock.kind == "srcu"]
        held_hint = f"srcu_read_lock_held({domains[-1]})" if domains else "srcu_read_lock_held(&<the srcu_struct>)"
        if CONSTANT.match(cond):
            if cond.strip("() ") in ("false", "0", "NULL"):
                detail = ("with CONFIG_PROVE_RCU_LIST lockdep warns \"RCU-list traversed without holding the "
                          f"required lock!\" on every traversal; should this be {held_hint}?")
            else:
                detail = ("lockdep can never catch a traversal outside the read-side section; "
                          f"should this be {held_hint}?")
            yield Hit(line=loop.lines[0], args={"macro": loop.macro, "head": head, "cond": cond, "detail": detail})
            continue
        named = [_key(m) for m in HELD.findall(cond)]
        if named and domains and not set(named) & {_key(d) for d in domains}:
            detail = (f"but the loop runs inside srcu_read_lock({domains[-1]}), so lockdep checks a domain "
                      f"nobody holds here; should this be srcu_read_lock_held({domains[-1]})?")
            yield Hit(line=loop.lines[0], args={"macro": loop.macro, "head": head, "cond": cond, "detail": detail})
