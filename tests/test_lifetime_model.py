"""The lifetime model (rules/lifetime/model/) on small C files of our own: each finding kind, its
corrected version silent, not modelled, and the engine's confirm/refute of rule findings."""

from __future__ import annotations

import pytest

from reviewbot import engine, models, rulepack, thread

UAF = r"""
struct obj { int val; };
struct table { struct obj *cur; spinlock_t lock; };

int reader(struct table *t)
{
	struct obj *p;
	int v = 0;

	rcu_read_lock();
	p = rcu_dereference(t->cur);
	if (p)
		v = p->val;
	rcu_read_unlock();
	return v;
}

void retire(struct table *t)
{
	struct obj *old;

	spin_lock(&t->lock);
	old = rcu_dereference_protected(t->cur, lockdep_is_held(&t->lock));
	RCU_INIT_POINTER(t->cur, NULL);
	spin_unlock(&t->lock);
	kfree(old);
}
"""
UAF_FIXED = UAF.replace("\tkfree(old);", "\tsynchronize_rcu();\n\tkfree(old);")

AFTER_UNLOCK = r"""
struct obj { int val; };
struct table { struct obj *cur; };

int reader(struct table *t)
{
	struct obj *p;

	rcu_read_lock();
	p = rcu_dereference(t->cur);
	rcu_read_unlock();
	return p->val;
}
"""
AFTER_UNLOCK_FIXED = r"""
struct obj { int val; };
struct table { struct obj *cur; };

int reader(struct table *t)
{
	struct obj *p;
	int v;

	rcu_read_lock();
	p = rcu_dereference(t->cur);
	v = p->val;
	rcu_read_unlock();
	return v;
}
"""

PUBLISH = r"""
struct obj { int val; int ready; };
struct table { struct obj *cur; };

void publish(struct table *t, struct obj *o)
{
	rcu_assign_pointer(t->cur, o);
	o->val = 1;
}
"""
PUBLISH_FIXED = PUBLISH.replace("\trcu_assign_pointer(t->cur, o);\n\to->val = 1;", "\to->val = 1;\n\trcu_assign_pointer(t->cur, o);")

DEADLOCK = r"""
struct obj { int val; };
DEFINE_STATIC_SRCU(dom);
DEFINE_MUTEX(big);
static struct obj *gp;

int reader(void)
{
	int idx, v = 0;

	idx = srcu_read_lock(&dom);
	mutex_lock(&big);
	v = 1;
	mutex_unlock(&big);
	srcu_read_unlock(&dom, idx);
	return v;
}

void waiter(void)
{
	mutex_lock(&big);
	synchronize_srcu(&dom);
	mutex_unlock(&big);
}
"""
DEADLOCK_FIXED = DEADLOCK.replace("\tmutex_lock(&big);\n\tsynchronize_srcu(&dom);\n\tmutex_unlock(&big);",
                                  "\tmutex_lock(&big);\n\tmutex_unlock(&big);\n\tsynchronize_srcu(&dom);")

NOT_MODELLED = r"""
struct obj { int val; };
struct table { struct obj *cur; };

int reader(struct table *t)
{
	struct obj *p;
	int v = 0;

	rcu_read_lock();
	p = rcu_dereference(t->cur);
	v = *((int *)p + 3);
	rcu_read_unlock();
	return v;
}

void retire(struct table *t)
{
	struct obj *old = rcu_dereference_protected(t->cur, 1);

	RCU_INIT_POINTER(t->cur, NULL);
	synchronize_rcu();
	kfree(old);
}
"""


@pytest.fixture(scope="module")
def lifetime():
    return [m for m in models.load_models() if m.id == "lifetime"]


def run(src: str, lifetime, name: str = "drivers/toy/life.c"):
    patch = thread.file_patch(name, src)
    return lifetime[0].run(patch)


def kinds(result) -> list[tuple[str, int]]:
    return [(d.rule, d.line) for d in result.divergences]


def line_of(src: str, text: str) -> int:
    return next(i for i, line in enumerate(src.splitlines(), 1) if text in line)


def test_uaf_after_unpublish_without_grace_period(lifetime):
    r = run(UAF, lifetime)
    assert kinds(r) == [("LIFE001", line_of(UAF, "kfree(old);"))]
    div = r.divergences[0]
    assert div.related == (line_of(UAF, "v = p->val;"),)
    assert div.trace[0].startswith("CPU0 runs reader()") and "use after free" in div.trace[-1]
    assert any(step.startswith("CPU1 line") and "kfree()" in step for step in div.trace)


def test_uaf_corrected_is_silent_and_explored(lifetime):
    r = run(UAF_FIXED, lifetime)
    assert kinds(r) == [] and r.applied
    assert any("RCU001" in e["rules"] for e in r.explored)


def test_use_after_unlock(lifetime):
    r = run(AFTER_UNLOCK, lifetime)
    assert ("LIFE002", line_of(AFTER_UNLOCK, "return p->val;")) in kinds(r)
    assert kinds(run(AFTER_UNLOCK_FIXED, lifetime)) == []


def test_publish_before_init(lifetime):
    r = run(PUBLISH, lifetime)
    assert kinds(r) == [("LIFE004", line_of(PUBLISH, "rcu_assign_pointer"))]
    assert r.divergences[0].related == (line_of(PUBLISH, "o->val = 1;"),)
    assert kinds(run(PUBLISH_FIXED, lifetime)) == []


def test_synchronize_under_a_lock_the_reader_needs(lifetime):
    r = run(DEADLOCK, lifetime)
    assert ("LIFE003", line_of(DEADLOCK, "synchronize_srcu(&dom);")) in kinds(r)
    assert kinds(run(DEADLOCK_FIXED, lifetime)) == []


def test_not_modelled_is_said_and_refutes_nothing(lifetime):
    r = run(NOT_MODELLED, lifetime)
    assert kinds(r) == []
    assert any("arithmetic" in n["reason"] or "*((int *)p + 3)" in n["construct"] for n in r.not_modelled)
    assert not any("reader()" in e["what"] and "retire()" in e["what"] for e in r.explored)


def test_no_rcu_words_cost_nothing(lifetime):
    r = run("int f(int x)\n{\n\treturn x + 1;\n}\n", lifetime)
    assert not r.applied and r.divergences == [] and r.stats.get("worlds") == 0


def review(src: str, refuted: str = "low"):
    patch = thread.file_patch("drivers/toy/life.c", src)
    rules = rulepack.load_rules()
    return engine.run(thread.single_series((patch,)), rules, models=models.load_models(), refuted=refuted)


def test_engine_confirms_a_rule_finding_with_the_trace():
    review_ = review(UAF)
    rcu001 = [f for f in review_.findings if f.rule == "RCU001"]
    assert rcu001 and rcu001[0].confidence == "high" and rcu001[0].trace
    assert dict(rcu001[0].extra)["confirmed_by"] == "LIFE001"
    assert not [f for f in review_.findings if f.rule == "LIFE001"]  # said once


def test_confirm_refute_policy():
    from reviewbot.finding import Finding

    kinds_ = (models.FindingKind("LIFE001", "t", "error", "high", confirms=("RCU001",)),)
    model = models.Model("lifetime", "n", "s", "see", None, kinds_)
    rule = Finding("RCU001", "error", "medium", "p", "a.c", 10, 10, "m", related=(5,))
    other = Finding("RCU001", "error", "medium", "p", "a.c", 40, 40, "m")
    explored = [{"patch": "p", "file": "a.c", "rules": ["RCU001"], "lines": [5, 10, 11], "what": "w"}]
    low = engine.confirm_refute([rule, other], [model], explored, "low")
    assert {(f.line, f.confidence) for f in low} == {(10, "low"), (40, "medium")}
    assert engine.confirm_refute([rule, other], [model], explored, "drop") == [other]
    life = Finding("LIFE001", "error", "high", "p", "a.c", 10, 10, "m", trace=("t",))
    up = engine.confirm_refute([rule, life], [model], explored, "low")
    assert [(f.rule, f.confidence, f.trace) for f in up] == [("RCU001", "high", ("t",))]


def test_lifetime_divergences_are_said_only_through_a_rule_finding(lifetime):
    # every lifetime kind is alone = false (docs/design.md): the model shows each of these bugs ...
    assert all(not kind.alone for kind in lifetime[0].kinds)
    for src in (UAF, AFTER_UNLOCK, PUBLISH, DEADLOCK):
        assert run(src, lifetime).divergences
        said = review(src).findings
        # ... and a review says it as the rule finding it confirms, never as a LIFE finding of its own
        assert not [f for f in said if f.rule.startswith("LIFE")]
        confirmed = [f for f in said if dict(f.extra).get("confirmed_by", "").startswith("LIFE")]
        assert all(f.trace and f.confidence == "high" for f in confirmed)
    assert [f.rule for f in review(UAF).findings if dict(f.extra).get("confirmed_by")] == ["RCU001"]


def test_a_model_that_only_confirms_runs_where_a_rule_it_confirms_spoke(lifetime, monkeypatch):
    model = lifetime[0]
    assert not model.has_something_to_say({"KDOC001", "SRCU001"})
    assert model.has_something_to_say({"RCU002"})
    speaks = models.Model("m", "n", "s", "see", None, (models.FindingKind("X001", "t", "error", "high"),))
    assert speaks.has_something_to_say(set())
    # the engine does not run it on a patch where no such rule spoke: nothing it finds could be said
    ran = []
    real_run = models.Model.run
    monkeypatch.setattr(models.Model, "run", lambda self, patch, **kw: ran.append(self.id) or real_run(self, patch, **kw))
    assert not [f for f in review(UAF_FIXED).findings if f.rule.startswith(("RCU", "LIFE"))]
    assert "lifetime" not in ran and "bpf_oom" in ran
    ran.clear()
    assert [f.rule for f in review(UAF).findings if f.rule.startswith("RCU")] == ["RCU001"]
    assert "lifetime" in ran
