"""RCU005: a call that may sleep inside a classic RCU read-side section.

Classic RCU readers (rcu_read_lock(), rcu_read_lock_bh(), rcu_read_lock_sched() and a
scoped_guard(rcu)) must not block: with CONFIG_PREEMPT_RCU=n the section runs with preemption off,
so a sleep there is a "scheduling while atomic" bug, and with CONFIG_PREEMPT_RCU=y lockdep reports
"Illegal context switch in RCU read-side critical section" (and the blocked reader holds up every
grace period). SRCU and RCU Tasks Trace readers may sleep: they are not sections here.

Along each bounded path (facts.flow) of a function that opens a section, the judge reports a call
made while the section is open that:

* sleeps by itself: mutex_lock(), down*(), msleep(), schedule(), wait_for_completion*(),
  synchronize_rcu(), might_sleep(), copy_from_user(), cond_resched(), vmalloc(), ... (facts.rcu.is_sleeper);
* allocates with a mask that may block: GFP_KERNEL, GFP_NOFS, GFP_NOIO, GFP_USER, ... (kmalloc(),
  xa_store(), idr_alloc(), ...). A mask held in a variable or chosen at run time
  (`in_atomic() ? GFP_ATOMIC : GFP_KERNEL`) is not known to sleep, nor is one that clears
  __GFP_DIRECT_RECLAIM;
* is a function of the file that does one of these on some path, through at most a few calls
  inside the file (a section opened by the caller reaches into its callees: the finding names the
  chain). A helper that first drops the caller's section (a release helper) is not followed.

Left alone: calls after the path released the section (`rcu_read_unlock(); mutex_lock(...);
rcu_read_lock();`), spin-locked code outside any RCU section (another rule's), cond_resched_rcu()
(which leaves the section to sleep), might_sleep_if(), and calls behind a test of the context
(`if (!in_atomic())`, `if (gfpflags_allow_blocking(gfp))`, `if (can_sleep)`).
"""

from __future__ import annotations

import re

from reviewbot.engine import Hit
from reviewbot.facts import rcu
from reviewbot.facts.rcu import direct_sleep

# the lock kinds of facts.locks that open a classic RCU read-side section (not rcu_trace: RCU
# Tasks Trace readers may block; not preempt/irq: they are another rule's)
CLASSIC = {"rcu", "rcu_bh", "rcu_sched"}
OPENERS = {"rcu_read_lock", "rcu_read_lock_bh", "rcu_read_lock_sched", "rcu_read_lock_sched_notrace",
           "scoped_guard"}
# an assertion that the caller holds a classic RCU reader: the rest of the function is in a section
ASSERTS = {"WARN_ON", "WARN_ON_ONCE", "RCU_LOCKDEP_WARN", "lockdep_assert_in_rcu_read_lock"}
ASSERTED = re.compile(r"^!\(?rcu_read_lock(?:_bh|_sched)?_held\(\)\)?$")

# a test of the context the code runs in: the sleep behind it is meant for the sleeping case
CONTEXT_TEST = re.compile(
    r"(?i)\b(?:in_atomic|preemptible|irqs_disabled|in_interrupt|in_irq|in_softirq|in_task|in_nmi|"
    r"in_serving_softirq|gfpflags_allow_blocking|rcu_read_lock_held|rcu_preempt_depth|"
    r"\w*(?:atomic|can_sleep|may_sleep|might_sleep|sleepable|blocking|block|nowait|dontwait|no_wait))\b")
# a test of the object's kind through its ops table (`if (map->ops->map_poke_run)`): which branch
# runs depends on the caller's object, which the file does not say
MODE_TEST = re.compile(r"(?:->|\.)ops->\w+|\bops->\w+")
CONSTANTS = {"true": True, "false": False, "1": True, "0": False, "NULL": False}
MAX_DEPTH = 4


def check(ctx):
    facts = ctx.facts
    names = {c.name for c in facts.calls}
    guards = {loop.function for loop in facts.loops
              if loop.function and loop.macro == "scoped_guard" and loop.args and loop.args[0].strip() == "rcu"}
    if not names & OPENERS and not names & ASSERTS and not guards:
        return
    openers = guards | {c.function for c in facts.calls
                        if c.function and (_opens(c.name, c.args) or _asserts(c.name, c.args))}
    if not openers:
        return
    judge = _Judge(ctx)
    # functions that open a section and make a call that may sleep (directly or in a callee)
    candidates = sorted(f for f in openers if judge.reaches_sleep(f) and any(judge.sleeps_at(c) for c in judge.calls_in(f)))
    seen = set()
    for function in candidates:
        flow = facts.flow(function)
        if flow is None:
            continue
        for hit in judge.walk(function, flow):
            if hit.line not in seen:
                seen.add(hit.line)
                yield hit


class _Judge:
    def __init__(self, ctx):
        self.ctx = ctx
        self.facts = ctx.facts
        index = rcu.index(ctx)  # the file's calls by function and its function names, shared
        self.local = index.names
        self.by_function = index.calls_by_function
        self._chains: dict[tuple, tuple | None] = {}
        self._effects: dict[str, set] = {}
        self._reaches: dict[str, bool] = {}

    def calls_in(self, function: str) -> list:
        return self.by_function.get(function, [])

    # -- what sleeps

    def sleeps_at(self, call, known: dict | None = None) -> tuple | None:
        """Why a call may sleep: ((line, text), ...) from the call down to the sleeping primitive
        (one step for a direct sleep), or None. `known` maps the caller's parameters to the
        constants it was called with."""
        why = direct_sleep(call.name, call.args)
        if why:
            return ((call.lines[0], why),)
        if call.name in self.local and call.name != call.function:
            chain = self.chain(call.name, _constants(self, call, known or {}), 1)
            if chain:
                return ((call.lines[0], f"{call.name}()"),) + chain
        return None

    def chain(self, function: str, known: dict, depth: int) -> tuple | None:
        """How a function of the file may sleep when called with the constant arguments `known`
        (parameter name -> truth): the steps down to the sleeping call, or None.

        A path of the function counts when it reaches a sleeping call with no test of the context
        on the way (`if (!in_atomic())`, `if (ops->x)`), and no test of a parameter the caller
        passed a constant that takes the other branch (`if (sync) synchronize_net();` called with
        `false`). Helpers that drop the caller's section are not followed."""
        key = (function, tuple(sorted(known.items())))
        if key in self._chains:
            return self._chains[key]
        self._chains[key] = None  # recursion guard
        found = None
        if depth <= MAX_DEPTH and self.reaches_sleep(function) and self._helper_effect(function) is None \
                and not self._touches_section(function):
            flow = self.facts.flow(function)
            for path in flow.paths if flow is not None else ():
                found = self._path_sleep(function, path, known, depth)
                if found:
                    break
        self._chains[key] = found
        return found

    def reaches_sleep(self, function: str) -> bool:
        """Whether a sleeping call is among the calls of `function` or of the file's functions it
        calls (a few levels down), regardless of paths: the cheap test before building flows."""
        if function in self._reaches:
            return self._reaches[function]
        self._reaches[function] = False
        todo, seen, found = [(function, 0)], set(), False
        while todo and not found:
            name, depth = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            for c in self.calls_in(name):
                if direct_sleep(c.name, c.args):
                    found = True
                    break
                if c.name in self.local and depth < MAX_DEPTH:
                    todo.append((c.name, depth + 1))
        self._reaches[function] = found
        return found

    def _path_sleep(self, function, path, known, depth):
        for e in path.events:
            if e.kind == "branch":
                if CONTEXT_TEST.search(e.name) or MODE_TEST.search(e.name):
                    return None
                truth = _truth(e.name, known)
                if truth is not None and truth != e.taken:
                    return None  # the caller's constant takes the other branch
                continue
            if e.kind != "call":
                continue
            why = direct_sleep(e.name, e.args)
            if why:
                return ((e.lines[0], f"{function}() calls {why}"),)
            if e.name in self.local and e.name != function:
                sub = self.chain(e.name, _constants(self, _CallView(e, function), known), depth + 1)
                if sub:
                    return ((e.lines[0], f"{function}() calls {e.name}()"),) + sub
        return None

    # -- the paths

    def walk(self, function: str, flow):
        found: dict[int, tuple] = {}
        for path in flow.paths:
            held: list = []  # the events that opened the sections still open
            tested = False  # a branch on the path tested the context since the section opened
            for e in path.events:
                if e.kind == "branch":
                    if held and CONTEXT_TEST.search(e.name):
                        tested = True
                    continue
                if e.kind != "call":
                    continue
                if _asserts(e.name, e.args):
                    held.append(e)
                    tested = False
                    continue
                if e.lock is not None and e.lock.kind in CLASSIC:
                    if e.lock.action == "acquire":
                        held.append(e)
                        tested = False
                    elif held:
                        held.pop()
                    continue
                if e.name in self.local:
                    helper = self._helper_effect(e.name)
                    if helper == "acquire":
                        held.append(e)
                        tested = False
                        continue
                    if helper == "release":
                        if held:
                            held.pop()
                        continue
                if not held or tested or e.name == "cond_resched_rcu":
                    continue
                why = self.sleeps_at(_CallView(e, function))
                if why and e.lines[0] not in found:
                    found[e.lines[0]] = (held[0], e, why)
        for line in sorted(found):
            opened, e, why = found[line]
            yield _hit(function, opened, e, why)

    def _touches_section(self, function: str) -> bool:
        """A helper that drops an RCU section on some path (rcu_read_unlock(); cond_resched();
        rcu_read_lock(), or a release of its caller's section): its sleeps are not known to fall
        inside its caller's section."""
        return any(c.name in rcu.RCU_UNLOCKS for c in self.calls_in(function)) or \
            any(low < 0 for _, low in self._nets(function))

    def _helper_effect(self, name: str) -> str | None:
        """"acquire" for a function that returns holding a classic RCU section on every path,
        "release" for one that releases its caller's section on some path (after it, the
        caller's section is no longer known to be held), else None."""
        nets = self._nets(name)
        if nets == {(1, 0)}:
            return "acquire"
        if any(net < 0 for net, _ in nets):
            return "release"
        return None

    def _nets(self, name: str) -> set:
        """(net change of the classic RCU nesting, lowest nesting reached) over each path of a
        function that takes or drops sections (directly or through helpers of the file)."""
        if name in self._effects:
            return self._effects[name]
        self._effects[name] = set()  # recursion guard
        calls = self.calls_in(name)
        if not any(c.name in rcu.RCU_UNLOCKS or c.name in rcu.RCU_LOCKS or
                   (c.name in self.local and c.name != name and self._nets(c.name)) for c in calls):
            return set()
        flow = self.facts.flow(name)
        if flow is None:
            return set()
        nets = set()
        for path in flow.paths:
            depth, lowest = 0, 0
            for e in path.events:
                if e.kind != "call":
                    continue
                if e.lock is not None:
                    if e.lock.kind in CLASSIC:
                        depth += 1 if e.lock.action == "acquire" else -1
                elif e.name in self.local and e.name != name:
                    effect = self._helper_effect(e.name)
                    depth += 1 if effect == "acquire" else -1 if effect == "release" else 0
                lowest = min(lowest, depth)
            nets.add((depth, lowest))
        self._effects[name] = nets
        return nets

def _opens(name: str, args) -> bool:
    return name in OPENERS and (name != "scoped_guard" or (bool(args) and args[0].strip() == "rcu"))


def _asserts(name: str, args) -> bool:
    if name == "lockdep_assert_in_rcu_read_lock":
        return True
    return name in ASSERTS and bool(args) and bool(ASSERTED.match(re.sub(r"\s+", "", args[0])))


class _CallView:
    """A flow event seen as a Call (name, args, lines, function)."""

    __slots__ = ("name", "args", "lines", "function")

    def __init__(self, e, function):
        self.name, self.args, self.lines, self.function = e.name, e.args, e.lines, function


def _constants(judge, call, known: dict) -> dict:
    """The callee's parameters that `call` passes a constant (or a known parameter of the caller)."""
    fn = judge.facts.function(call.name)
    if fn is None:
        return {}
    out = {}
    for param, arg in zip(fn.params, call.args):
        text = arg.strip()
        if param.name and text in CONSTANTS:
            out[param.name] = CONSTANTS[text]
        elif param.name and text in known:
            out[param.name] = known[text]
    return out


def _truth(condition: str, known: dict) -> bool | None:
    """The value of a branch condition that tests one parameter (`sync`, `!async`), when the
    caller passed that parameter a constant."""
    text = " ".join(condition.split())
    negate = False
    while text.startswith("!"):
        negate = not negate
        text = text[1:].strip()
    m = re.fullmatch(r"(?:(?:un)?likely\()?\(?(\w+)\)?\)?", text)
    if not m or m.group(1) not in known:
        return None
    return known[m.group(1)] != negate


def _kind(why: str) -> str:
    if "GFP_" in why:
        return "alloc"
    if re.match(r"(?:mutex|ww_mutex|rt_mutex|down|percpu_down|rtnl_lock|lock_sock|device_lock|mmap_)", why):
        return "lock"
    return "other"


def _hit(function, opened, e, why) -> Hit:
    leaf_call = why[-1][1].split(" calls ")[-1]
    if len(why) == 1:
        what = f"{leaf_call} may sleep"
    else:
        path = " -> ".join([f"{e.name}()"] + [text.split(" calls ")[-1] for _, text in why[1:]])
        what = f"{e.name}() may sleep ({path}, line {why[-1][0]})"
    if _asserts(opened.name, opened.args):
        section = f"{opened.name}({', '.join(opened.args)})"
        where = (f"{function}() asserts on line {opened.lines[0]} ({section}) that its caller holds an RCU "
                 f"read-side section, and calls it after that")
        opener = "rcu_read_lock()"
        opened_text = f"{opened.lines[0]}: {section}: the caller holds the read-side section"
    else:
        section = "scoped_guard(rcu)" if opened.name == "scoped_guard" else f"{opened.name}()"
        where = (f"{function}() calls it inside the RCU read-side section opened by {section} "
                 f"on line {opened.lines[0]}")
        opener = section
        opened_text = f"{opened.lines[0]}: {section} opens the read-side section"
    kind = _kind(leaf_call)
    if kind == "alloc":
        ask = f"Should the allocation use GFP_ATOMIC/GFP_NOWAIT, or be made before {opener}?"
    elif kind == "lock":
        ask = ("Should the object be pinned with a reference under RCU, and the section left before the "
               "sleeping lock is taken?")
    else:
        ask = "Can this move out of the read-side section?"
    message = (f"{what}, but {where}: a classic RCU reader must not block (scheduling while atomic "
               f"without CONFIG_PREEMPT_RCU, a stalled grace period with it). {ask}")
    related = (opened.lines[0],) + tuple(line for line, _ in why[1:])
    trace = (opened_text,) + tuple(
        f"{line}: {text}" + (" may sleep" if n == len(why) - 1 else "") for n, (line, text) in enumerate(why))
    return Hit(line=e.lines[0], end_line=e.lines[1], related=related, message=message, trace=trace)
