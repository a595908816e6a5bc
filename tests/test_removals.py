"""Findings on deleted code: `ChangedFile.removals()`, a finding at the line after a deletion with the
deleted lines quoted, RCU003's leaking path as evidence only where the hunks show it whole, and the
mutant bench's patch mode (real deletions, line numbers mapped back)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from reviewbot import engine, rulepack, thread

RULES = {r.id: r for r in rulepack.load_rules()}

BEFORE = """\
#include <linux/rcupdate.h>

struct conf { int timeout; };
static struct conf __rcu *current_conf;

int conf_timeout(int fallback)
{
	struct conf *c;
	int t;

	rcu_read_lock();
	c = rcu_dereference(current_conf);
	if (!c) {
		rcu_read_unlock();

		return fallback;
	}
	t = c->timeout;
	rcu_read_unlock();
	return t;
}
"""


def _review(before: str, after: str, rule_ids, tree: bool = True, context: int = 3):
    rules = [RULES[i] for i in rule_ids]
    patch = thread.change_patch("drivers/x/conf.c", before, after, context=context)
    if not tree:
        return patch, engine.run_patch(patch, rules)
    with tempfile.TemporaryDirectory() as root:
        path = Path(root) / "drivers/x/conf.c"
        path.parent.mkdir(parents=True)
        path.write_text(before)
        return patch, engine.run_patch(patch, rules, tree=root)


def test_removals_anchor_on_the_next_line_that_is_not_blank():
    after = BEFORE.replace("\t\trcu_read_unlock();\n\n\t\treturn fallback;", "\n\t\treturn fallback;")
    patch = thread.change_patch("drivers/x/conf.c", BEFORE, after)
    cf = patch.changed_files[0]
    removals = cf.removals()
    assert list(removals) == [15]  # the return, not the blank line the deletion left above it
    assert after.splitlines()[14] == "\t\treturn fallback;"
    assert [line.text for line in removals[15]] == ["\t\trcu_read_unlock();"]
    assert not cf.added_lines


def test_removal_at_the_end_of_a_hunk_belongs_to_the_next_line():
    before = "int a;\nint b;\nint c;\nint d;\nint e;\nint f;\nint g;\nint h;\n"
    after = before.replace("int h;\n", "")
    cf = thread.change_patch("x.c", before, after).changed_files[0]
    assert list(cf.removals()) == [8]  # past the last line: where the deleted line stood


def test_a_dropped_unlock_is_reported_at_the_deletion_with_the_deleted_line_quoted():
    after = BEFORE.replace("\t\trcu_read_unlock();\n\n\t\treturn fallback;", "\n\t\treturn fallback;")
    patch, found = _review(BEFORE, after, ["RCU003"])
    assert [(f.rule, f.line) for f in found] == [("RCU003", 15)]
    assert found[0].quoted == ("-\t\trcu_read_unlock();", " \t\treturn fallback;")


def test_without_a_tree_the_leak_stands_only_where_the_hunks_show_the_path():
    # the whole function in the hunk: the path is known, the finding stands
    after = BEFORE.replace("\t\trcu_read_unlock();\n\n\t\treturn fallback;", "\n\t\treturn fallback;")
    _, found = _review(BEFORE, after, ["RCU003"], tree=False, context=30)
    assert [(f.rule, f.line) for f in found] == [("RCU003", 15)]
    # the unlock in the code between two hunks: the sparse view shows a path from the lock to the
    # return with no unlock and a deletion on it; the finding rests on unknown code and is dropped
    relax = "\tcpu_relax();\n" * 8
    before = ("int conf_timeout(void)\n{\n\tstruct conf *c;\n\tint t;\n\n\trcu_read_lock();\n"
              "\tc = rcu_dereference(current_conf);\n\tif (!c) {\n\t\trcu_read_unlock();\n\t\treturn -1;\n\t}\n"
              "\tt = c->timeout;\n" + relax + "\trcu_read_unlock();\n"
              + relax + "\tpr_debug(\"t\");\n\treturn t;\n}\n")
    after = before.replace("\trcu_read_lock();\n", "\t/* the current configuration */\n\trcu_read_lock();\n")
    after = after.replace("\t\treturn -1;\n", "\t\treturn -1; /* no configuration */\n")
    after = after.replace("\tpr_debug(\"t\");\n", "")
    patch, found = _review(before, after, ["RCU003"], tree=False, context=5)
    assert len(patch.changed_files[0].hunks) == 2 and patch.changed_files[0].removals()
    assert found == []
    _, found = _review(before, after, ["RCU003"])  # with the tree the path is whole: no leak
    assert found == []


def test_a_deletion_elsewhere_on_an_unchanged_file_does_not_surface_old_code():
    # the patch deletes a line outside the function: nothing in conf_timeout() changed
    before = BEFORE + "\nint unused(void)\n{\n\treturn 0;\n}\n"
    after = BEFORE + "\nint unused(void)\n{\n}\n"
    _, found = _review(before, after, [r for r in RULES if r.startswith(("RCU", "SRCU"))])
    assert found == []


def test_mutant_as_change_deletes_blanked_lines_and_maps_lines_back():
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    import mutants

    original = BEFORE.encode()
    blanked = original.replace(b"\t\trcu_read_unlock();\n\n", b"                   \n\n")
    text, origin = mutants.as_change(original, blanked)
    assert "\t\trcu_read_unlock();\n\n\t\treturn" not in text
    assert len(text.split("\n")) == len(original.split(b"\n")) - 1
    n = text.split("\n").index("\t\treturn fallback;") + 1
    assert origin[n - 1] == 16  # line 16 of the original


def test_a_deferred_free_made_immediate_in_a_file_that_mentions_rcu_nowhere_else():
    # procfs's sb info, read by the RCU path walk in fs/: its kfree_rcu() is the file's only RCU word,
    # and a patch that makes it kfree() leaves none in the post-image (the rule's `requires` reads
    # the deleted lines too)
    before = ("static void proc_kill_sb(struct super_block *sb)\n{\n\tstruct proc_fs_info *fs_info = proc_sb_info(sb);\n\n"
              "\tkill_anon_super(sb);\n\tput_pid_ns(fs_info->pid_ns);\n\tkfree_rcu(fs_info, rcu);\n}\n")
    after = before.replace("kfree_rcu(fs_info, rcu);", "kfree(fs_info);")
    assert "rcu" not in after.replace("kfree(", "")
    patch, found = _review(before, after, ["RCU011"])
    assert [(f.rule, f.line) for f in found] == [("RCU011", 7)]
    assert "kfree_rcu() of fs_info into kfree()" in found[0].message
    assert found[0].quoted == ("+\tkfree(fs_info);",)  # a replaced line quotes as the patch adds it
