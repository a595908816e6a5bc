"""RCU003: an rcu_read_lock() section left open on some path, or closed twice (RCU's SRCU001).

The walk is reviewbot.facts.balance's (shared with SRCU001): along each bounded path of a function
that both takes and releases a flavour (rcu_read_lock/_bh/_sched/_trace), a section still open
where the path leaves the function (at the return, the goto that skips the unlock, or the
break/continue out of the iteration that took it) is reported, and so is an unlock of a section
the path already closed (double unlocks are not reported: on real code they hide behind flags and
seqlock retries the path view cannot correlate). A return is reported when it returns a constant,
or the object it found in a file where no function ends a section it did not open (there, nobody
takes the section over). Functions that return holding the section by design (`__acquires(RCU)`,
or paired with a release-only function: `*_start()`/`*_stop()` of a seq_file, `*_lock()`/
`*_unlock()`) are left alone.
"""

from __future__ import annotations

import re

from reviewbot.engine import Hit
from reviewbot.facts import balance, rcu


# what a failing path returns: an errno, NULL, an ERR_PTR, false, a constant
LITERAL = re.compile(r"^(?:-?\(?\s*-?E[A-Z0-9]+\s*\)?|-?\d+[UuLl]*|NULL|true|false|ERR_PTR\(.*\)|ERR_CAST\(.*\)"
                     r"|\(void\s*\*\)\s*0)$")


SEQ_RETRY = {"read_seqbegin_or_lock", "read_seqbegin_or_lock_irqsave", "need_seqretry", "done_seqretry"}


def check(ctx):
    facts = ctx.facts
    if not any(c.name in balance.RCU.locks for c in facts.calls):
        return
    # the seqlock "or lock" retry dance takes and drops RCU on the parity of the sequence, which
    # a path view cannot follow (`if (!(seq & 1)) rcu_read_unlock();`)
    dance = {c.function for c in facts.calls if c.name in SEQ_RETRY}
    for found in balance.imbalances(ctx, balance.RCU):
        if found.function in dance:
            continue
        if found.kind != "leak":
            continue  # double unlocks of classic RCU hide behind flags and seqlock retries; not reported
        if found.exit.kind == "return" and not _reports_return(facts, found, ctx):
            continue
        if not balance.path_shown(ctx, found):
            continue  # the path runs through code between two hunks: its unlock may be there
        yield _leak(found)


def _reports_return(facts, found, ctx) -> bool:
    """A path that leaves the section open is a leak when it returns a constant (an errno, NULL,
    true/false). A function that returns the object it found, still in the section, may be handing
    the section to its caller (xfrm_policy_get_afinfo(), whose callers end it with
    rcu_read_unlock()): it is when the file shows a caller's side of that handover, a function
    that ends a read-side section it did not open. Without one, the found object's path simply
    forgot the unlock its other paths make (`if (match) return entry;` in a list walk)."""
    value = re.sub(r"^return\s*|;$", "", found.exit.text).strip()
    if not value or LITERAL.match(value):
        return True
    fn = facts.function(found.function)
    if not (fn is not None and fn.return_type.endswith("*")):
        return True
    return not any("rcu" in s.releases_unheld for s in rcu.index(ctx).summaries.values())


def _effect(lock_call: str) -> str:
    if lock_call == "rcu_read_lock_bh":
        return "bottom halves stay disabled and the task stays in an RCU read-side section"
    if lock_call.startswith("rcu_read_lock_sched"):
        return "preemption stays disabled, so the task can neither sleep nor let a grace period end"
    return ("the task stays in an RCU read-side section (with preemption disabled on non-preemptible "
            "kernels), so it must not sleep and every synchronize_rcu() waits for it")


def _leak(found) -> Hit:
    acquire, where = found.acquire, found.where
    lock = f"{acquire.name}()"
    unlock = balance.RCU.unlock_text(acquire.name, found.key, None)
    function = found.function
    effect = _effect(acquire.name)
    if found.how == "continue":
        message = (f"this continue starts the next iteration with {lock} from line {acquire.lines[0]} still "
                   f"held, and {function}() returns with it held: {effect}. Is {unlock} missing before "
                   f"the continue?")
    elif found.how == "break":
        message = (f"this break leaves the loop with {lock} from line {acquire.lines[0]} still held, and "
                   f"nothing after the loop releases it before {function}() returns: {effect}. Is "
                   f"{unlock} missing before the break?")
    elif found.how == "goto":
        message = (f"this goto {where.name} skips the {unlock} of the {lock} on line {acquire.lines[0]}: "
                   f"{function}() returns through {where.name} with the section still open, and {effect}. "
                   f"Is {unlock} missing on this error path?")
    else:
        leaves = "this return leaves" if found.how == "return" else "the end of"
        message = (f"{lock} from line {acquire.lines[0]} is still held when {leaves} {function}() on this "
                   f"path: {effect}. Is {unlock} missing here?")
    return Hit(line=where.lines[0], end_line=where.lines[1], related=(acquire.lines[0],), message=message,
               args={"lock": lock, "function": function}, evidence=found.path_lines,
               trace=(f"{acquire.lines[0]}: {lock}", f"{where.lines[0]}: {where.kind} without {unlock}"))
