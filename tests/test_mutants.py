"""bench/mutants.py: each mutation operator on small C snippets written for its idiom.

For every class: the mutation lands where the idiom says (the right statement, the right lines),
not where its precondition fails, and the mutant has exactly the original's line count (every
untouched line unchanged). One end-to-end test runs the srcu pack: a function that releases its
srcu_read_lock() on every path is silent under SRCU001; dropping the unlock on its error path makes
SRCU001 fire, in that function.
"""

from __future__ import annotations

import textwrap

import pytest

from bench import mutants as M
from reviewbot import engine, rulepack, thread


def muts(src: str, klass: str) -> list[M.Mutant]:
    found, _ = M.mutants_of(src.encode(), "t.c", classes=(klass,))
    return found


def c(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def check_lines_kept(src: str, m: M.Mutant) -> list[str]:
    """The mutant's lines: as many as the original's, and only m.lines differ."""
    before = src.encode().split(b"\n")
    after = m.apply(src.encode()).split(b"\n")
    assert len(after) == len(before)
    changed = [n for n, (a, b) in enumerate(zip(before, after), start=1) if a != b]
    assert changed and set(changed) <= set(m.lines)
    return [line.decode() for line in after]


def line_of(src: str, needle: str, nth: int = 0) -> int:
    hits = [n for n, line in enumerate(src.splitlines(), start=1) if needle in line]
    return hits[nth]


# --- delete-synchronize ---------------------------------------------------------------------------

SYNC = c("""
    static void drop_entry(struct foo *f, struct entry *e)
    {
    	spin_lock(&f->lock);
    	list_del_rcu(&e->node);
    	spin_unlock(&f->lock);
    	synchronize_rcu();
    	kfree(e);
    }

    static void drop_slot(struct foo *f)
    {
    	struct cfg *old = rcu_dereference_protected(f->cfg, 1);

    	RCU_INIT_POINTER(f->cfg, NULL);
    	synchronize_srcu(&f->srcu);
    	cfg_free(old);
    }

    static void cfg_free(struct cfg *c)
    {
    	kfree(c->name);
    	kfree(c);
    }

    static void erase(struct foo *f, unsigned long id)
    {
    	struct entry *e = xa_erase(&f->xa, id);

    	synchronize_net();
    	kmem_cache_free(entry_cache, e);
    }
    """)


def test_delete_synchronize_after_unpublish_before_free():
    found = muts(SYNC, "delete-synchronize")
    assert [(m.function, m.lines) for m in found] == [
        ("drop_entry", (line_of(SYNC, "synchronize_rcu"),)),
        ("drop_slot", (line_of(SYNC, "synchronize_srcu"),)),  # old read from the slot; a local *_free
        ("erase", (line_of(SYNC, "synchronize_net"),)),  # the object xa_erase() returned
    ]
    for m in found:
        lines = check_lines_kept(SYNC, m)
        assert lines[m.line - 1].strip() == ""


NO_SYNC_SITE = c("""
    static void not_freed(struct entry *e)
    {
    	list_del_rcu(&e->node);
    	synchronize_rcu();
    	kfree(e->name);
    }

    static void not_unpublished(struct entry *e)
    {
    	list_del(&e->node);
    	synchronize_rcu();
    	kfree(e);
    }

    static void free_before(struct entry *e)
    {
    	list_del_rcu(&e->node);
    	kfree(e);
    	synchronize_rcu();
    }

    static void two_grace_periods(struct entry *e)
    {
    	list_del_rcu(&e->node);
    	synchronize_rcu();
    	synchronize_rcu_expedited();
    	kfree(e);
    }

    static void set_not_cleared(struct foo *f, struct cfg *n)
    {
    	struct cfg *old = rcu_dereference_protected(f->cfg, 1);

    	rcu_assign_pointer(f->cfg, n);
    	synchronize_rcu();
    	kfree(old);
    }
    """)


def test_delete_synchronize_needs_unpublish_free_of_the_same_object_and_no_other_grace_period():
    assert muts(NO_SYNC_SITE, "delete-synchronize") == []


def test_delete_synchronize_as_a_whole_if_body_becomes_an_empty_statement():
    src = c("""
        static void f(struct entry *e, bool wait)
        {
        	list_del_rcu(&e->node);
        	if (wait)
        		synchronize_rcu();
        	kfree(e);
        }
        """)
    (m,) = muts(src, "delete-synchronize")
    lines = check_lines_kept(src, m)
    assert lines[m.line - 1].strip() == ";"  # `if (wait)` still governs nothing, not the kfree


# --- kfree_rcu-to-kfree ---------------------------------------------------------------------------

FREE_RCU = c("""
    static void drop(struct entry *e)
    {
    	hlist_del_rcu(&e->hnode);
    	kfree_rcu(e, rcu);
    }

    static void drop_big(struct foo *f)
    {
    	struct table *t = rtnl_dereference(f->table);

    	rcu_assign_pointer(f->table, NULL);
    	kvfree_rcu(t,
    		   rcu);
    }

    static void never_published(struct entry *e)
    {
    	kfree_rcu(e, rcu);
    }

    static void waited(struct entry *e)
    {
    	list_del_rcu(&e->node);
    	synchronize_rcu();
    	kfree_rcu(e, rcu);
    }
    """)


def test_kfree_rcu_to_kfree_where_the_object_was_unpublished():
    found = muts(FREE_RCU, "kfree_rcu-to-kfree")
    assert [m.function for m in found] == ["drop", "drop_big"]
    lines = check_lines_kept(FREE_RCU, found[0])
    assert lines[line_of(FREE_RCU, "kfree_rcu(e") - 1] == "\tkfree(e);"
    lines = check_lines_kept(FREE_RCU, found[1])
    n = line_of(FREE_RCU, "kvfree_rcu")
    assert found[1].lines == (n, n + 1)
    assert lines[n - 1] == "\tkvfree(t" and lines[n].strip() == ");"


# --- unlock-above-use -----------------------------------------------------------------------------

USE = c("""
    static int get_val(struct foo *f)
    {
    	struct cfg *cfg;
    	int v;

    	rcu_read_lock();
    	cfg = rcu_dereference(f->cfg);
    	v = cfg->val;
    	rcu_read_unlock();
    	return v;
    }

    static void hold(struct foo *f, unsigned long id)
    {
    	struct entry *e;

    	rcu_read_lock();
    	e = xa_load(&f->xa, id);
    	if (!e) {
    		rcu_read_unlock();
    		return;
    	}
    	/* keep it */
    	refcount_inc(&e->ref);
    	rcu_read_unlock();
    }

    static int walk(struct foo *f, int key)
    {
    	struct entry *e;
    	int idx = srcu_read_lock(&f->srcu);

    	list_for_each_entry_srcu(e, &f->list, node, srcu_read_lock_held(&f->srcu)) {
    		if (e->key == key) {
    			use_entry(e);
    			srcu_read_unlock(&f->srcu, idx);
    			return 0;
    		}
    	}
    	srcu_read_unlock(&f->srcu, idx);
    	return -ENOENT;
    }
    """)


def test_unlock_above_use_moves_the_unlock_above_the_last_use():
    found = muts(USE, "unlock-above-use")
    assert [m.function for m in found] == ["get_val", "hold", "walk"]
    by = {m.function: m for m in found}

    use, unlock = line_of(USE, "v = cfg->val"), line_of(USE, "rcu_read_unlock", 0)
    assert by["get_val"].lines == (use, unlock)
    lines = check_lines_kept(USE, by["get_val"])
    assert lines[use - 1].strip() == "rcu_read_unlock();" and lines[unlock - 1].strip() == "v = cfg->val;"

    # the unlock on the error path is followed by a return, not preceded by a use; the last one is
    use, unlock = line_of(USE, "refcount_inc"), line_of(USE, "rcu_read_unlock", 2)
    assert by["hold"].lines == (use, unlock)
    lines = check_lines_kept(USE, by["hold"])
    assert [s.strip() for s in lines[use - 1:unlock]] == ["rcu_read_unlock();", "refcount_inc(&e->ref);"]

    # an srcu list cursor, passed to a call just before the unlock in the loop
    use, unlock = line_of(USE, "use_entry(e)"), line_of(USE, "srcu_read_unlock", 0)
    assert by["walk"].lines == (use, unlock)
    lines = check_lines_kept(USE, by["walk"])
    assert lines[use - 1].strip() == "srcu_read_unlock(&f->srcu, idx);"


def test_unlock_above_use_not_without_a_section_pointer_used_just_before():
    src = c("""
        static int no_use(struct foo *f)
        {
        	struct cfg *cfg;
        	int v = 0;

        	rcu_read_lock();
        	cfg = rcu_dereference(f->cfg);
        	v = 1;
        	rcu_read_unlock();
        	return v;
        }

        static int plain_pointer(struct foo *f, struct cfg *cfg)
        {
        	int v;

        	rcu_read_lock();
        	v = cfg->val;
        	rcu_read_unlock();
        	return v;
        }

        static int not_a_pointer(struct foo *f)
        {
        	int id;

        	rcu_read_lock();
        	id = idr_find_id(f);
        	report(id);
        	rcu_read_unlock();
        	return 0;
        }

        static int before_the_section(struct foo *f)
        {
        	struct cfg *cfg = rcu_dereference_raw(f->cfg);

        	rcu_read_lock();
        	report(cfg);
        	rcu_read_unlock();
        	return 0;
        }

        static void lookup_returns_a_reference(struct foo *f, int id)
        {
        	struct obj *o;

        	rcu_read_lock();
        	o = obj_lookup(f, id);
        	o->hits++;
        	rcu_read_unlock();
        	obj_put(o);
        }

        static struct obj *referenced_in_the_section(struct foo *f)
        {
        	struct obj *o;

        	rcu_read_lock();
        	o = rcu_dereference(f->obj);
        	if (o && kref_get_unless_zero(&o->ref)) {
        		o = rcu_pointer_handoff(o);
        		rcu_read_unlock();
        		return o;
        	}
        	rcu_read_unlock();
        	return NULL;
        }

        static void released_just_before(struct foo *f, int id)
        {
        	struct obj *o;

        	rcu_read_lock();
        	o = obj_find(f, id);
        	obj_release(o);
        	rcu_read_unlock();
        }
        """)
    assert muts(src, "unlock-above-use") == []


def test_unlock_above_use_moves_the_unlock_above_the_reference_get():
    src = c("""
        static struct obj *get_obj(struct foo *f, int id)
        {
        	struct obj *o;

        	rcu_read_lock();
        	o = obj_lookup(f, id);
        	if (!o) {
        		rcu_read_unlock();
        		return NULL;
        	}
        	obj_get(o);
        	rcu_read_unlock();
        	return o;
        }
        """)
    (m,) = muts(src, "unlock-above-use")
    assert m.lines == (line_of(src, "obj_get(o)"), line_of(src, "rcu_read_unlock", 1))
    check_lines_kept(src, m)


# --- drop-unlock-on-error-path --------------------------------------------------------------------

ERR = c("""
    static int read_cfg(struct foo *f, int *out)
    {
    	struct cfg *cfg;
    	int idx;

    	idx = srcu_read_lock(&f->srcu);
    	cfg = srcu_dereference(f->cfg, &f->srcu);
    	if (!cfg) {
    		srcu_read_unlock(&f->srcu, idx);
    		return -ENOENT;
    	}
    	*out = cfg->val;
    	srcu_read_unlock(&f->srcu, idx);
    	return 0;
    }
    """)


def test_drop_unlock_on_error_path_deletes_the_unlock_before_the_early_return():
    (m,) = muts(ERR, "drop-unlock-on-error-path")
    n = line_of(ERR, "srcu_read_unlock", 0)
    assert m.lines == (n,) and m.function == "read_cfg"
    lines = check_lines_kept(ERR, m)
    assert lines[n - 1].strip() == "" and lines[n].strip() == "return -ENOENT;"


def test_drop_unlock_on_error_path_needs_an_if_body_an_exit_and_another_unlock():
    src = c("""
        static int only_unlock(struct foo *f)
        {
        	rcu_read_lock();
        	if (bad(f)) {
        		rcu_read_unlock();
        		return -EINVAL;
        	}
        	return 0;
        }

        static int not_an_exit(struct foo *f)
        {
        	rcu_read_lock();
        	if (bad(f)) {
        		rcu_read_unlock();
        		wait(f);
        		rcu_read_lock();
        	}
        	rcu_read_unlock();
        	return 0;
        }

        static int not_in_an_if(struct foo *f)
        {
        	rcu_read_lock();
        	if (bad(f))
        		goto out;
        	rcu_read_unlock();
        	return 1;
        out:
        	rcu_read_unlock();
        	return 0;
        }

        static int other_domain(struct foo *f)
        {
        	int a = srcu_read_lock(&f->a);
        	int b = srcu_read_lock(&f->b);

        	if (bad(f)) {
        		srcu_read_unlock(&f->a, a);
        		return -EINVAL;
        	}
        	srcu_read_unlock(&f->b, b);
        	return 0;
        }
        """)
    got = muts(src, "drop-unlock-on-error-path")
    # not_in_an_if: the unlock before `return 1` and the one after `out:` are not in an if body
    assert [m.function for m in got] == []


# --- drop-cleanup-srcu ----------------------------------------------------------------------------

CLEANUP = c("""
    static int dev_init(struct dev *d)
    {
    	return init_srcu_struct(&d->srcu);
    }

    static void dev_release(struct dev *d)
    {
    	cleanup_srcu_struct(&d->srcu);
    	kfree(d);
    }

    static void other_release(struct dev *d)
    {
    	cleanup_srcu_struct(&d->other_srcu);
    	kfree(d);
    }
    """)


def test_drop_cleanup_srcu_only_for_what_the_file_inits():
    (m,) = muts(CLEANUP, "drop-cleanup-srcu")
    assert m.function == "dev_release" and m.lines == (line_of(CLEANUP, "cleanup_srcu_struct(&d->srcu)"),)
    lines = check_lines_kept(CLEANUP, m)
    assert lines[m.line - 1].strip() == ""
    assert "init_srcu_struct on line 3" in m.what


# --- walk-outside-lock ----------------------------------------------------------------------------

WALK = c("""
    static bool has_key(struct foo *f, int key)
    {
    	struct entry *e;
    	bool found = false;

    	rcu_read_lock();
    	list_for_each_entry_rcu(e, &f->list, node) {
    		if (e->key == key)
    			found = true;
    	}
    	rcu_read_unlock();
    	return found;
    }

    static int two_sections(struct foo *f)
    {
    	struct entry *e;

    	rcu_read_lock();
    	list_for_each_entry_rcu(e, &f->list, node)
    		count(e);
    	rcu_read_unlock();
    	rcu_read_lock();
    	list_for_each_entry_rcu(e, &f->list, node)
    		count(e);
    	rcu_read_unlock();
    	return 0;
    }

    static int nothing_read(struct foo *f)
    {
    	rcu_read_lock();
    	f->count++;
    	rcu_read_unlock();
    	return 0;
    }

    static int deref(struct foo *f)
    {
    	int idx, v;

    	idx = srcu_read_lock(&f->srcu);
    	v = srcu_dereference(f->cfg, &f->srcu)->val;
    	srcu_read_unlock(&f->srcu, idx);
    	return v;
    }
    """)


def test_walk_outside_lock_deletes_the_only_pair_around_a_walk_or_dereference():
    found = muts(WALK, "walk-outside-lock")
    assert [m.function for m in found] == ["has_key", "deref"]
    m = found[0]
    assert m.lines == (line_of(WALK, "rcu_read_lock"), line_of(WALK, "rcu_read_unlock"))
    assert m.witness == (line_of(WALK, "list_for_each_entry_rcu"),)
    lines = check_lines_kept(WALK, m)
    assert lines[m.lines[0] - 1].strip() == "" and lines[m.lines[1] - 1].strip() == ""
    d = found[1]
    assert d.lines == (line_of(WALK, "idx = srcu_read_lock"), line_of(WALK, "srcu_read_unlock(&f->srcu, idx)"))
    check_lines_kept(WALK, d)


# --- the measurement --------------------------------------------------------------------------------


def test_outcome_found_at_site_and_elsewhere():
    m = M.Mutant("drop-unlock-on-error-path", "t.c", "f", (10, 40), (20,), (), "x")
    at = ("SRCU001", 22, 22, "msg", ())
    far = ("SRCU001", 35, 35, "msg", ())
    named = ("SRCU001", 35, 35, "the lock on line 19 is not released", ())
    related = ("SRCU001", 35, 35, "msg", (21,))
    outside = ("SRCU001", 50, 50, "msg", ())
    other = ("KDOC001", 20, 20, "msg", ())
    assert M.outcome(m, [at], [])["at_site"]
    o = M.outcome(m, [far], [])
    assert o["found"] and not o["at_site"]
    assert M.outcome(m, [named], [])["at_site"] and M.outcome(m, [related], [])["at_site"]
    o = M.outcome(m, [outside, other], [])
    assert not o["found"] and o["any"] and o["any_rules"] == ["KDOC001"]
    assert not M.outcome(m, [at], [at])["new"]


def test_selection_is_deterministic_and_spreads_over_files():
    def mk(f, n):
        return M.Mutant("drop-cleanup-srcu", f, "fn", (1, 99), (n,), (), "x")

    cands = {"drop-cleanup-srcu": [mk(f, n) for f in ("a.c", "b.c", "c.c") for n in range(1, 6)]}
    one = M.select(cands, 3, seed=7)
    assert one == M.select(cands, 3, seed=7)
    assert sorted(m.file for m in one["drop-cleanup-srcu"]) == ["a.c", "b.c", "c.c"]
    assert len(M.select(cands, 100, seed=7)["drop-cleanup-srcu"]) == 15


# --- end to end with the srcu pack ------------------------------------------------------------------

SRCU_PACK = [r for r in rulepack.load_rules() if r.pack == "srcu"]


def review(src: str) -> list:
    return engine.run_patch(thread.file_patch("drivers/foo/foo.c", src), SRCU_PACK)


@pytest.mark.parametrize("exit_stmt", ["return -ENOENT;", "goto out;"])
def test_dropping_the_unlock_on_the_error_path_makes_srcu001_fire(exit_stmt):
    src = c(f"""
        static int read_cfg(struct foo *f, int *out)
        {{
        	struct cfg *cfg;
        	int idx;

        	idx = srcu_read_lock(&f->srcu);
        	cfg = srcu_dereference(f->cfg, &f->srcu);
        	if (!cfg) {{
        		srcu_read_unlock(&f->srcu, idx);
        		{exit_stmt}
        	}}
        	*out = cfg->val;
        	srcu_read_unlock(&f->srcu, idx);
        	return 0;
        out:
        	return -ENOENT;
        }}
        """)
    assert [f.rule for f in review(src)] == []  # the original is right: silent
    (m,) = muts(src, "drop-unlock-on-error-path")
    found = review(m.apply(src.encode()).decode())
    srcu001 = [f for f in found if f.rule == "SRCU001"]
    assert srcu001, found
    o = M.outcome(m, [(f.rule, f.line, f.end_line, f.message, f.related) for f in found], [])
    assert o["found"] and o["at_site"] and o["rules"] == ["SRCU001"]
