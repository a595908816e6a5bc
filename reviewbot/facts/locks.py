"""Which kernel calls take or release a lock, and how to tell two calls are about the same lock.

A lock is keyed by its kind and by the text of the lock expression (whitespace removed):
`spin_lock(&bpf_oom_lock)` and `spin_unlock(&bpf_oom_lock)` are one lock; `srcu_read_lock(&s)`
and `srcu_read_unlock(&s, idx)` are one SRCU read section. RCU read sections have no expression:
their key is the flavour ("rcu", "rcu_bh", ...). Conditional acquires (trylock, _interruptible)
are not counted: whether they hold the lock depends on a branch this view does not follow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ACQUIRE = "acquire"
RELEASE = "release"


@dataclass(frozen=True)
class LockOp:
    action: str  # acquire | release
    kind: str  # spin | raw_spin | read | write | mutex | rcu | srcu | rwsem_read | rwsem_write | ...
    key: str  # the lock expression without spaces ("&bpf_oom_srcu"), or the RCU flavour
    call: str  # the call that does it

    def matches(self, other: LockOp) -> bool:
        return self.kind == other.kind and self.key == other.key and self.action != other.action

    def released(self) -> LockOp:
        return LockOp(RELEASE, self.kind, self.key, self.call)


# name -> (action, kind); the key is the first argument unless the kind is an RCU flavour.
_CALLS: dict[str, tuple[str, str]] = {}


def _family(kind: str, acquires: str, releases: str) -> None:
    for name in acquires.split():
        _CALLS[name] = (ACQUIRE, kind)
    for name in releases.split():
        _CALLS[name] = (RELEASE, kind)


_family("spin", "spin_lock spin_lock_irq spin_lock_irqsave spin_lock_bh spin_lock_nested "
        "spin_lock_irqsave_nested spin_lock_nest_lock",
        "spin_unlock spin_unlock_irq spin_unlock_irqrestore spin_unlock_bh")
_family("raw_spin", "raw_spin_lock raw_spin_lock_irq raw_spin_lock_irqsave raw_spin_lock_bh "
        "raw_spin_lock_nested",
        "raw_spin_unlock raw_spin_unlock_irq raw_spin_unlock_irqrestore raw_spin_unlock_bh")
_family("read", "read_lock read_lock_irq read_lock_irqsave read_lock_bh",
        "read_unlock read_unlock_irq read_unlock_irqrestore read_unlock_bh")
_family("write", "write_lock write_lock_irq write_lock_irqsave write_lock_bh",
        "write_unlock write_unlock_irq write_unlock_irqrestore write_unlock_bh")
_family("mutex", "mutex_lock mutex_lock_nested mutex_lock_io", "mutex_unlock")
_family("rwsem_read", "down_read down_read_nested percpu_down_read", "up_read percpu_up_read")
_family("rwsem_write", "down_write down_write_nested percpu_down_write", "up_write percpu_up_write")
_family("srcu", "srcu_read_lock srcu_read_lock_nmisafe srcu_read_lock_fast srcu_down_read",
        "srcu_read_unlock srcu_read_unlock_nmisafe srcu_read_unlock_fast srcu_up_read")
_family("seqcount", "write_seqcount_begin raw_write_seqcount_begin write_seqlock write_seqlock_irqsave",
        "write_seqcount_end raw_write_seqcount_end write_sequnlock write_sequnlock_irqrestore")

_RCU_FLAVOURS = {
    "rcu_read_lock": "rcu", "rcu_read_unlock": "rcu",
    "rcu_read_lock_bh": "rcu_bh", "rcu_read_unlock_bh": "rcu_bh",
    "rcu_read_lock_sched": "rcu_sched", "rcu_read_unlock_sched": "rcu_sched",
    "rcu_read_lock_trace": "rcu_trace", "rcu_read_unlock_trace": "rcu_trace",
    "rcu_read_lock_sched_notrace": "rcu_sched", "rcu_read_unlock_sched_notrace": "rcu_sched",
    "preempt_disable": "preempt", "preempt_enable": "preempt",
    "local_irq_disable": "irq", "local_irq_enable": "irq",
    "local_irq_save": "irq", "local_irq_restore": "irq",
    "raw_local_irq_disable": "irq", "raw_local_irq_enable": "irq",
    "raw_local_irq_save": "irq", "raw_local_irq_restore": "irq",
    # bottom halves off: as atomic as interrupts off for these purposes (no sleeping, and an RCU
    # reader: rcu_read_lock_any_held() is true), so it shares their kind
    "local_bh_disable": "irq", "local_bh_enable": "irq",
}

# scoped_guard(<type>, &l): the guard types of include/linux/*.h
_GUARDS = {
    "spinlock": "spin", "spinlock_irq": "spin", "spinlock_irqsave": "spin", "spinlock_bh": "spin",
    "raw_spinlock": "raw_spin", "raw_spinlock_irq": "raw_spin", "raw_spinlock_irqsave": "raw_spin",
    "mutex": "mutex", "rwsem_read": "rwsem_read", "rwsem_write": "rwsem_write",
    "read_lock": "read", "write_lock": "write", "rcu": "rcu", "srcu": "srcu",
}

_SPACES = re.compile(r"\s+")
_GLOBAL_LOCK = re.compile(r"^(\w+?)_(un)?lock$")


def lock_key(expression: str) -> str:
    return _SPACES.sub("", expression)


def lock_op(call: str, args: tuple[str, ...]) -> LockOp | None:
    """The lock operation a call performs, or None."""
    flavour = _RCU_FLAVOURS.get(call)
    if flavour is not None:
        action = RELEASE if ("unlock" in call or "enable" in call or "restore" in call) else ACQUIRE
        return LockOp(action, flavour, flavour, call)
    known = _CALLS.get(call)
    if known is None and not any(a.strip() for a in args):
        # a global lock behind a wrapper with no argument (rtnl_lock(), ovs_lock(), genl_lock(),
        # cgroup_lock()): keyed by its name, taken as a mutex
        m = _GLOBAL_LOCK.match(call)
        if m:
            return LockOp(RELEASE if m.group(2) else ACQUIRE, "mutex", m.group(1), call)
        return None
    if known is None or not args:
        return None
    action, kind = known
    return LockOp(action, kind, lock_key(args[0]), call)


def guard_op(guard: str, lock: str) -> LockOp | None:
    kind = _GUARDS.get(guard.strip())
    if kind is None:
        return None
    key = kind if kind == "rcu" else lock_key(lock)
    return LockOp(ACQUIRE, kind, key, f"scoped_guard({guard})")
