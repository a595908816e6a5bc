"""RCU003 on a function that returns the object it found while still in the read-side section.

Whether that is a leak depends on the rest of the file, so these cases are whole files of their own
(cases.c is one file): where some function of the file ends a section it did not open (the caller's
side of a handover, as xfrm_policy_get_afinfo()'s callers end it with rcu_read_unlock()), the
return hands the section over; where none does, the found object's path forgot the unlock that the
other path makes.
"""

from __future__ import annotations

from reviewbot import engine, rulepack, thread

RCU003 = [r for r in rulepack.load_rules() if r.id == "RCU003"]

LOOKUP = """\
struct widget *widget_find(struct widget_table *t, int id)
{
	struct widget *w;

	rcu_read_lock();
	hlist_for_each_entry_rcu(w, &t->heads[id & 15], node) {
		if (w->id == id) {
			return w;
		}
	}
	rcu_read_unlock();
	return NULL;
}
"""

CALLER_ENDS_IT = """
int widget_poke(struct widget_table *t, int id)
{
	struct widget *w = widget_find(t, id);
	int ret = -ENOENT;

	if (w) {
		ret = w->poke(w);
		rcu_read_unlock();
	}
	return ret;
}
"""


def findings(src: str) -> list[tuple[str, int]]:
    patch = thread.file_patch("drivers/misc/widget.c", src)
    return [(f.rule, f.line) for f in engine.run_patch(patch, RCU003)]


def test_a_found_object_returned_in_the_section_nobody_ends_is_a_leak():
    assert findings(LOOKUP) == [("RCU003", 8)]


def test_a_found_object_returned_to_a_caller_that_ends_the_section_is_handed_over():
    assert findings(LOOKUP + CALLER_ENDS_IT) == []


def test_a_constant_returned_in_the_section_is_a_leak_either_way():
    bool_lookup = LOOKUP.replace("struct widget *widget_find", "bool widget_find").replace(
        "return w;", "return true;").replace("return NULL;", "return false;")
    assert findings(bool_lookup) == [("RCU003", 8)]
    assert findings(bool_lookup + CALLER_ENDS_IT) == [("RCU003", 8)]
