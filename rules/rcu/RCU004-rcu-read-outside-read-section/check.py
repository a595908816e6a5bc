"""RCU004: an RCU-protected read with nothing protecting it, or with the wrong accessor.

Reads are `list_for_each_entry_rcu()` (and the hlist/nulls variants) without a lockdep condition
(or with a constant one), and the reader accessors `rcu_dereference()`, `rcu_dereference_bh()`,
`rcu_dereference_sched()`. A read is reported when it sits in no RCU read-side section and the
function asserts nothing (lockdep_assert_held(), RCU_LOCKDEP_WARN(), WARN_ON(!rcu_read_lock_held()),
`__must_hold()`), and there is evidence that nobody holds RCU for it:

* the function takes rcu_read_lock() itself, but around other lines (the read is before the lock
  or after the unlock);
* it is a static helper whose every call in the file is itself such an unprotected site.

Callbacks are not evidence: the kernel calls many of them inside a read-side section (netfilter
hooks, the receive path, seq_file ->next/->show between a ->start that takes rcu_read_lock()).

A read under an update-side lock the function takes itself (spin_lock(), mutex_lock()) with no RCU
section is the wrong accessor: rcu_dereference() checks rcu_read_lock_held(), so lockdep reports
"suspicious rcu_dereference_check() usage"; rcu_dereference_protected(p, lockdep_is_held(&lock))
says what protects it (or rcu_access_pointer() when only the value is read). Reported when the
function's callers in the file do not hold RCU either.

A function without such evidence (it may be called under its caller's rcu_read_lock()) is left
alone, and SRCU-protected data is SRCU003's.
"""

from __future__ import annotations

import re

from reviewbot.engine import Hit
from reviewbot.facts import rcu
from reviewbot.facts.types import squash

WALKS = re.compile(r"^(?:h?list|hlist_nulls|hlist_bl)_for_each_entry(?:_from|_continue)?_rcu$")
READS = {"rcu_dereference", "rcu_dereference_bh", "rcu_dereference_sched"}
ASSERTS = re.compile(r"^(?:lockdep_assert\w*|RCU_LOCKDEP_WARN|WARN_ON\w*|BUG_ON|rcu_lockdep_assert|"
                     r"lockdep_is_held|might_sleep)$")
INITCALLS = re.compile(r"^(?:\w*_initcall|module_init|module_exit|__initcall|subsys_initcall\w*)$")
CONSTANT = re.compile(r"^\(*\s*(?:false|true|0|1|NULL)\s*\)*$")
NOT_SECTIONS = {"preempt", "irq"}
UPDATES = (rcu.POINTER_STORES | set(rcu.LIST_DELS) | set(rcu.LIST_ADDS) | set(rcu.DEFERRED_FREES)
           | rcu.RCU_DEFERS | rcu.RCU_WAITS)
RCU_KINDS = rcu.RCU_FLAVOURS
PACKET_PATH = re.compile(r"(?:^|_)(?:in|rcv|recv|receive|input|output|xmit|hook|rx|tx|poll|napi|forward)(?:_|$)")


class Judge:
    def __init__(self, ctx):
        self.ctx = ctx
        self.facts = ctx.facts
        self.idx = rcu.index(ctx)
        self.callbacks: dict[str, str] = {}
        for init in self.facts.initializers:
            for entry in init.entries:
                value = entry.value.strip().lstrip("&")
                if re.fullmatch(r"\w+", value):
                    self.callbacks.setdefault(value, f"{entry.designator or 'an entry'} of {init.variable}")
        for c in self.facts.calls:
            if c.function is None and INITCALLS.match(c.name) and c.args:
                self.callbacks.setdefault(c.args[0].strip(), c.name)
        self._unprotected: dict[str, str | None] = {}

    def sections(self, function: str):
        flow = self.facts.flow(function)
        return () if flow is None else tuple(s for s in flow.sections if s.lock.kind not in NOT_SECTIONS)

    def asserts(self, function: str, line: int) -> bool:
        summary = self.idx.summaries.get(function)
        if summary is not None and any(a.startswith(("must_hold:", "acquires:")) for a in summary.annotated):
            return True
        for c in self.idx.calls_in(function):
            if c.name.startswith("guard(") and c.lines[0] <= line:
                return True
            if ASSERTS.match(c.name) and ("held" in c.text or c.name.startswith("lockdep_assert")):
                return True
        return False

    def callers_hold_rcu(self, function: str, depth: int = 0, seen=None) -> bool:
        """Whether a call chain in the file reaching this function holds a read-side section (up to
        four callers up: `ip_route_output_key_hash_rcu()` called under rcu_read_lock() protects
        what it calls)."""
        seen = seen if seen is not None else {function}
        for site in self.idx.call_sites.get(function, ()):
            if "rcu" in site.held or any(h.startswith("srcu:") for h in site.held):
                # an SRCU section protects it too: walking SRCU data with _rcu primitives is SRCU003's
                return True
            if depth < 4 and site.caller not in seen:
                seen.add(site.caller)
                if self.callers_hold_rcu(site.caller, depth + 1, seen):
                    return True
        return False

    def on_packet_path(self, function: str, depth: int = 4, seen=None) -> bool:
        """Whether the function, or a caller chain in the file reaching it, is named for the packet
        or hook path (`nf_conntrack_in()`, `*_rcv()`, `*_rx_*()`): the kernel runs those inside its
        own read-side section (netfilter hooks, NAPI polling, the receive softirq)."""
        if PACKET_PATH.search(function):
            return True
        seen = seen if seen is not None else {function}
        for site in self.idx.call_sites.get(function, ()):
            if depth and site.caller not in seen:
                seen.add(site.caller)
                if self.on_packet_path(site.caller, depth - 1, seen):
                    return True
        return False

    def unprotected(self, function: str, depth: int = 0) -> str | None:
        """Why nobody holds RCU for this function's body (None when it may be its caller's job)."""
        if function in self._unprotected:
            return self._unprotected[function]
        self._unprotected[function] = None  # recursion guard
        why = None
        rcu_sections = [s for s in self.sections(function) if s.lock.kind in RCU_KINDS]
        sleeps = self.idx.summaries.get(function).sleeps if function in self.idx.summaries else None
        if sleeps and "->" in sleeps:
            sleeps = None  # a callee's sleep may sit behind a test of the context; only the function's own counts
        if rcu_sections and not self.on_packet_path(function):
            # taking rcu_read_lock() around other lines says the author knows no caller holds it;
            # on the packet path the caller's section is there anyway (a nested one is legal)
            s = rcu_sections[0]
            why = f"{function}() takes {s.lock.call}() on line {s.acquire_lines[0]}, but not around this line"
        elif sleeps:
            # code that may sleep is never called inside a classic read-side section: its callers
            # cannot be holding one for it
            why = (f"{function}() may sleep ({sleeps}), so no caller can be holding rcu_read_lock() for "
                   f"it")
        elif depth < 2:
            fn = self.facts.function(function)
            sites = self.idx.call_sites.get(function, [])
            if fn is not None and fn.is_static and sites and function not in self.idx.address_taken:
                reasons = []
                for site in sites:
                    if site.held or self.asserts(site.caller, site.lines[0]):
                        reasons = []
                        break
                    reason = self.unprotected(site.caller, depth + 1)
                    if reason is None:
                        reasons = []
                        break
                    reasons.append(f"its caller {site.caller}() (line {site.lines[0]}) holds no lock: {reason}")
                if reasons:
                    why = reasons[0]
        self._unprotected[function] = why
        return why


def check(ctx):
    facts = ctx.facts
    reads = [c for c in facts.calls if c.function and c.name in READS and c.args]
    walks = [w for w in facts.loops if w.function and WALKS.match(w.macro) and len(w.args) >= 3
             and (len(w.args) < 4 or CONSTANT.match(w.args[3].strip()))]
    if not reads and not walks:
        return
    judge = Judge(ctx)
    reported = set()
    sites = ([(c.function, c.lines, c.text, c.args[0], False) for c in reads]
             + [(w.function, w.lines, f"{w.macro}()", w.args[1], True) for w in walks])
    for fn, lines, what, subject, walk in sites:
        hit = _judge(judge, fn, lines, what, subject, walk)
        if hit is not None and hit.line not in reported:
            reported.add(hit.line)
            yield hit


_EVENT_LINES: dict[int, set[int]] = {}


def _event_lines(flow) -> set[int]:
    key = id(flow)
    if key not in _EVENT_LINES:
        if len(_EVENT_LINES) > 256:
            _EVENT_LINES.clear()
        _EVENT_LINES[key] = {e.lines[0] for path in flow.paths for e in path.events}
    return _EVENT_LINES[key]


def _judge(judge: Judge, function: str, lines, what: str, subject: str, walk: bool):
    flow = judge.facts.flow(function)
    if flow is None or flow.capped:
        return None  # a partial view of the paths cannot show that no section covers the line
    if lines[0] not in _event_lines(flow):
        return None  # in a loop condition the path view does not run: nothing known about it
    if any(lines[0] in s.event_lines for s in flow.sections if s.lock.kind in NOT_SECTIONS):
        return None  # preemption or interrupts off: a sched-RCU reader
    here = [s for s in flow.sections if lines[0] in s.event_lines and s.lock.kind not in NOT_SECTIONS]
    if any(s.lock.kind in RCU_KINDS or s.lock.kind == "srcu" for s in here):
        return None
    if judge.asserts(function, lines[0]) or judge.callers_hold_rcu(function):
        return None
    name = squash(subject).lstrip("&")
    if here:
        lock = here[0].lock
        if walk:
            return None  # a walk under the update-side lock is the updater's own, and legal
        # Whoever calls a function that updates RCU-protected data under its own lock does not do so
        # from inside a read-side section; for other functions, the file's callers must show it.
        # An updater (it publishes, unpublishes or retires RCU data under its own lock) whose callers
        # in the file hold no read-side section: nothing else would make rcu_dereference() legal.
        updates = any(c.name in UPDATES for c in judge.idx.calls_in(function))
        if not updates or not judge.idx.call_sites.get(function) or judge.on_packet_path(function):
            return None
        lock_text = f"{lock.call}({lock.key})"
        message = (f"{what} reads {name} under {lock_text} (line {here[0].acquire_lines[0]}) but outside any "
                   f"rcu_read_lock() section: rcu_dereference() checks rcu_read_lock_held(), so lockdep reports a "
                   f"suspicious RCU usage here. The update-side lock is what protects this read: should it be "
                   f"rcu_dereference_protected({name}, lockdep_is_held({lock.key})), or rcu_access_pointer() "
                   f"if only the pointer value is used?")
        return Hit(line=lines[0], end_line=lines[0], related=(here[0].acquire_lines[0],), message=message,
                   args={"what": what, "function": function},
                   trace=(f"{here[0].acquire_lines[0]}: {lock_text}", f"{lines[0]}: {what} with no rcu_read_lock()"))
    why = judge.unprotected(function)
    if why is None:
        return None
    if walk:
        message = (f"{what} walks {name} here outside any RCU read-side section, and {why}. Either nothing "
                   f"protects the walk (an entry can be unlinked and freed while the loop points at it) or "
                   f"an update-side lock does and the walk does not say so: with CONFIG_PROVE_RCU_LIST it "
                   f"warns \"RCU-list traversed in non-reader section\" either way. Should the walk be inside "
                   f"rcu_read_lock()/rcu_read_unlock(), or pass the lockdep expression of the lock that "
                   f"serializes it?")
    else:
        message = (f"{what} runs outside any RCU read-side section, and {why}. Either nothing keeps the object "
                   f"it returns alive past the updater's grace period, or an update-side lock does and "
                   f"rcu_dereference() is the wrong accessor (CONFIG_PROVE_RCU reports a suspicious RCU usage "
                   f"here either way). Should this read move inside the read-side section, or use "
                   f"rcu_dereference_protected() naming the lock?")
    return Hit(line=lines[0], end_line=lines[0], message=message, args={"what": what, "function": function},
               trace=(f"{lines[0]}: {what} with no read-side section: {why}",))
