"""SRCU006 on multi-line macros (cases.c can only annotate one-line macros: an annotation line
cannot sit inside a #define)."""

from __future__ import annotations

from reviewbot import engine, rulepack, thread

RULE = [r for r in rulepack.load_rules() if r.id == "SRCU006"]

MACROS = r"""#include <linux/srcu.h>

#define run_dispatch(q, check_sleep, ops)			\
do {								\
	if (!queue_has_srcu(q)) {				\
		rcu_read_lock();				\
		(ops);						\
		rcu_read_unlock();				\
	} else {						\
		int srcu_idx;					\
								\
		might_sleep_if(check_sleep);			\
		srcu_idx = srcu_read_lock((q)->srcu);		\
		(ops);						\
		srcu_read_unlock((q)->srcu, srcu_idx);		\
	}							\
} while (0)

#define run_dispatch_fixed(q, check_sleep, ops)		\
do {								\
	struct srcu_struct *__ssp = (q)->srcu;			\
	int srcu_idx;						\
								\
	might_sleep_if(check_sleep);				\
	srcu_idx = srcu_read_lock(__ssp);			\
	(ops);							\
	srcu_read_unlock(__ssp, srcu_idx);			\
} while (0)

/* the body is only a value read here, never run as a statement */
#define read_flag(q, flag)					\
({								\
	int __i = srcu_read_lock(&(q)->srcu);			\
	bool __r = test_bit(flag, &(q)->flags);			\
	srcu_read_unlock(&(q)->srcu, __i);			\
	__r;							\
})
"""


def test_multiline_macro_reported_at_the_unlock():
    found = engine.run_patch(thread.file_patch("block/dispatch.h", MACROS), RULE)
    assert [(f.line, f.related) for f in found] == [(15, (13,))]
    assert "run_dispatch()" in found[0].message and "ops" in found[0].message
    assert found[0].trace[1].startswith("14:")
