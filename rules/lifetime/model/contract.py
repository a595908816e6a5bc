"""The RCU lifetime contract, clause by clause, each quoting the kernel documentation it is built on
(Documentation/RCU/whatisRCU.rst, checklist.rst, rcubarrier.rst). model.py checks the worlds against
these; a clause that does not hold in some interleaving is a divergence."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Clause:
    id: str  # the finding kind that reports a violation
    says: str  # the clause
    source: str  # the sentence of the documentation it is built on


CLAUSES = (
    Clause("LIFE001",
           "An object a reader can reach is freed only after every reader that could have found it has "
           "left its read-side section: the free follows the unpublish and a grace period of the readers' "
           "flavour (synchronize_rcu(), call_rcu(), kfree_rcu(), synchronize_srcu(&d)).",
           "whatisRCU.rst: \"synchronize_rcu() ... marks the end of updater code and the beginning of reclaimer "
           "code. It does this by blocking until all pre-existing RCU read-side critical sections on all CPUs "
           "have completed.\""),
    Clause("LIFE002",
           "A reader uses what it found only inside the read-side section it found it in (or after taking a "
           "reference or a lock of the object inside it): an updater may free the object as soon as the "
           "section ends.",
           "whatisRCU.rst: \"Note that the value returned by rcu_dereference() is valid only within the "
           "enclosing RCU read-side critical section.\""),
    Clause("LIFE003",
           "A grace-period wait ends: it is not made inside a read-side section of its own domain, nor under a "
           "lock that a reader of that domain takes inside its section.",
           "checklist.rst: \"...it is illegal to block while in an RCU read-side critical section\"; "
           "srcu: \"it is illegal to call synchronize_srcu() ... while holding a lock that is acquired by "
           "an SRCU read-side critical section of the same srcu_struct\" (deadlock)."),
    Clause("LIFE004",
           "An object is fully initialised before it is published: every store the publisher makes to it "
           "comes before the rcu_assign_pointer()/list_add_rcu()/xa_store() that lets readers find it.",
           "whatisRCU.rst: \"rcu_assign_pointer() ... Use rcu_assign_pointer() ... to publish the new "
           "structure\" after initialising it; checklist.rst: \"the updater ... must ... initialize "
           "... before publishing\"."),
    Clause("LIFE005",
           "What an RCU callback uses outlives it: a teardown (module exit, cache destruction) that frees what "
           "queued callbacks use waits for them first with rcu_barrier().",
           "rcubarrier.rst: \"...we need to wait for all of the RCU callbacks to be invoked before "
           "unloading the module ... rcu_barrier()\"."),
)


def clause(kind: str) -> Clause:
    return next(c for c in CLAUSES if c.id == kind)
