"""SRCU001: srcu_read_lock()/srcu_read_unlock() pairing on every path, per SRCU domain.

Along each bounded path of a function (facts.flow: loops run 0 and 1 times, gotos followed), the
judge tracks which srcu_struct read-side sections are open and which index variable each
srcu_read_lock*() stored. It reports:
  * a section still open when the path leaves the function: at the break/continue that leaves the
    loop iteration which took the lock, at the goto or return that skips the unlock, or at the end
    of the function (the lock line is `related`, so an added lock with an unchanged early return is
    kept);
  * an srcu_read_unlock() of a section this path already closed (a double unlock);
  * an srcu_read_unlock(&b, idx) whose idx came from srcu_read_lock(&a) of another srcu_struct.
The walk and the ownership idioms it understands (index handed to the caller, stored in an object
or passed to a releasing callee; `*_enter()`/`*_exit()` and `__acquires()` helpers) are in
reviewbot.facts.balance, shared with RCU003.
"""

from __future__ import annotations

from reviewbot.engine import Hit
from reviewbot.facts import balance


def check(ctx):
    for found in balance.imbalances(ctx, balance.SRCU):
        if found.kind == "leak":
            if balance.path_shown(ctx, found):  # else its unlock may be in code between two hunks
                yield _leak(found)
        elif found.kind == "double":
            yield _double(found)
        else:
            yield _wrong_index(found)


def _leak(found) -> Hit:
    acquire, where, key = found.acquire, found.where, found.key
    lock = f"{acquire.name}({key})"
    unlock = balance.SRCU.unlock_text(acquire.name, key, found.index)
    function = found.function
    if found.how == "continue":
        message = (f"this continue starts the next iteration with {lock} from line {acquire.lines[0]} still "
                   f"held: every skipped iteration leaves one more read-side section open, and "
                   f"{function}() returns with it held, so synchronize_srcu() on {key} never "
                   f"completes. Is {unlock} missing before the continue?")
    elif found.how == "break":
        message = (f"this break leaves the loop with {lock} from line {acquire.lines[0]} still held, and "
                   f"nothing after the loop releases it before {function}() returns, so synchronize_srcu() "
                   f"on {key} never completes. Is {unlock} missing before the break?")
    elif found.how == "goto":
        message = (f"this goto {where.name} skips the release of {lock} from line {acquire.lines[0]}: "
                   f"{function}() returns through {where.name} with the read-side section still open, so "
                   f"synchronize_srcu() on {key} never completes. Is {unlock} missing on this "
                   f"error path?")
    else:
        leaves = "this return leaves" if found.how == "return" else "the end of"
        message = (f"{lock} from line {acquire.lines[0]} is still held when {leaves} {function}() on this "
                   f"path, so synchronize_srcu() on {key} never completes. Is {unlock} "
                   f"missing here?")
    return Hit(line=where.lines[0], end_line=where.lines[1], related=(acquire.lines[0],), message=message,
               args={"lock": lock, "function": function}, evidence=found.path_lines)


def _double(found) -> Hit:
    e, acquired, first = found.where, found.acquire, found.other
    return Hit(line=e.lines[0], end_line=e.lines[1], related=(acquired.lines[0], first.lines[0]),
               message=(f"{e.name}({', '.join(e.args)}) here closes the read-side section of "
                        f"{found.key} that srcu_read_lock() on line {acquired.lines[0]} opened and line "
                        f"{first.lines[0]} already closed on this path: a double unlock corrupts the "
                        f"srcu_struct's reader counts, so a later synchronize_srcu() may not wait for "
                        f"readers. Is one of the two unlocks on the wrong path?"),
               args={"function": found.function})


def _wrong_index(found) -> Hit:
    e, acquire, index, other = found.where, found.other, found.index, found.other_key
    domain = found.key
    also = f" (a section of {domain} is open too: are the two indexes swapped?)" if found.also_open else ""
    return Hit(
        line=e.lines[0], end_line=e.lines[1], related=(acquire.lines[0],),
        message=(f"{e.name}({domain}, {index}) passes {index}, which {acquire.name}({other}) on line "
                 f"{acquire.lines[0]} returned: an SRCU index only means something to the srcu_struct that "
                 f"issued it{also}. Should this be {e.name}({other}, {index})?"),
        args={"function": found.function},
    )
