"""CUnit: kernel-aware parse, original text by node, post-images from patches and kernel trees."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reviewbot.csource import parse_c, post_image, unit_of_changed_file, units_from_patch
from reviewbot.csource.postimage import tree_file
from reviewbot.csource.stats import measure
from reviewbot.diff import parse_changed_files
from reviewbot.errors import InputError

SOURCE = """\
// SPDX-License-Identifier: GPL-2.0
/* café: non-ASCII before the code moves every byte offset */
static int walk(struct list_head *head)
{
\tstruct item __rcu *pos;

\tlist_for_each_entry_srcu(pos, head, node, false) {
\t\tif (pos->dead)
\t\t\tcontinue;
\t}
\treturn 0;
}
""".encode()


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=600))
def test_parse_never_raises_and_keeps_the_source(data):
    unit = parse_c(data, "fuzz.c")
    assert unit.source == data and len(unit.masked) == len(data)
    assert all(1 <= line <= max(1, data.count(b"\n") + 1) for line in unit.error_lines)


def test_nul_bytes_and_invalid_utf8_parse():
    unit = parse_c(b"int a;\x00\xff\xfe\nint f(void) { return 0; }\n")
    assert unit.function("f") is not None


def test_node_text_is_the_original_source():
    unit = parse_c(SOURCE, "walk.c")
    fn = unit.function("walk")
    assert fn is not None and fn.type == "function_definition"
    body = fn.child_by_field_name("body")
    loop = next(c for c in body.named_children if c.type == "while_statement")
    assert unit.text(loop).startswith("list_for_each_entry_srcu(pos, head, node, false) {")
    assert unit.lines(loop) == (7, 10)
    decl = body.named_children[0]
    assert unit.text(decl) == "struct item __rcu *pos;"
    assert unit.error_lines == frozenset()
    assert unit.line_of(unit.source.index(b"return")) == 11


def test_raw_parse_still_misreads_kernel_code():
    assert parse_c(SOURCE, raw=True).error_lines
    assert not parse_c(SOURCE).error_lines


def test_same_text_is_parsed_once():
    first, second = parse_c(SOURCE, "a.c"), parse_c(SOURCE, "b.c", added_lines={3})
    assert first.tree is second.tree
    assert second.is_added(second.function("walk")) and not first.is_added(first.function("walk"))


def test_function_names_and_missing_function():
    unit = parse_c(b"static const struct x *\nget_x(int a)\n{\n\treturn 0;\n}\n")
    assert unit.function_name(unit.functions()[0]) == "get_x"
    assert unit.function("nope") is None


def test_import_is_cheap():
    code = "import sys, reviewbot.csource; print('tree_sitter' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- post-images -----------------------------------------------------------------------------

PRE = "".join(f"line {n}\n" for n in range(1, 21)).replace("line 10\n", "int f(void)\n{\n\treturn 1;\n}\n")

MODIFY = """\
diff --git a/mm/x.c b/mm/x.c
--- a/mm/x.c
+++ b/mm/x.c
@@ -10,4 +10,5 @@
 int f(void)
 {
-\treturn 1;
+\tspin_lock(&l);
+\treturn 2;
 }
"""


def test_modified_file_is_sparse_without_a_tree():
    (changed,) = parse_changed_files(MODIFY)
    text, complete = post_image(changed)
    assert not complete
    lines = text.split("\n")
    assert lines[11] == "\tspin_lock(&l);" and lines[0] == ""
    unit = unit_of_changed_file(changed)
    assert unit.added_lines == frozenset({12, 13}) and not unit.complete
    assert unit.function("f") is not None


def test_modified_file_is_whole_with_a_tree(tmp_path):
    (tmp_path / "mm").mkdir()
    (tmp_path / "mm" / "x.c").write_text(PRE)
    (unit,) = units_from_patch(MODIFY, tree=tmp_path)
    assert unit.complete
    text = unit.source.decode()
    assert text.startswith("line 1\n") and "\treturn 2;\n}\nline 11\n" in text
    assert text.count("\n") == PRE.count("\n") + 1
    assert unit.is_added((12, 12)) and not unit.is_added((1, 11))


def test_tree_that_does_not_match_is_an_input_error(tmp_path):
    (tmp_path / "mm").mkdir()
    (tmp_path / "mm" / "x.c").write_text(PRE.replace("\treturn 1;", "\treturn 9;"))
    with pytest.raises(InputError):
        units_from_patch(MODIFY, tree=tmp_path)


def test_missing_file_in_tree_is_an_input_error(tmp_path):
    with pytest.raises(InputError):
        units_from_patch(MODIFY, tree=tmp_path)


@pytest.mark.parametrize("bad", ["../etc/passwd", "/etc/passwd", "mm/../../x.c", "mm/x\0.c", ""])
def test_paths_escaping_the_tree_are_refused(tmp_path, bad):
    with pytest.raises(InputError):
        tree_file(tmp_path, bad)


def test_symlink_out_of_the_tree_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "mm").symlink_to(outside)
    with pytest.raises(InputError):
        tree_file(tree, "mm/x.c")


NEW_FILE = """\
diff --git a/mm/new.c b/mm/new.c
new file mode 100644
--- /dev/null
+++ b/mm/new.c
@@ -0,0 +1,4 @@
+static DEFINE_SPINLOCK(l);
+void f(void)
+{
+}
diff --git a/Documentation/x.rst b/Documentation/x.rst
--- a/Documentation/x.rst
+++ b/Documentation/x.rst
@@ -1,1 +1,1 @@
-old
+new
"""


def test_new_file_is_complete_and_only_c_files_are_units():
    (unit,) = units_from_patch(NEW_FILE)
    assert unit.path == "mm/new.c" and unit.complete
    assert unit.added_lines == frozenset({1, 2, 3, 4}) and unit.error_lines == frozenset()


def test_stats_count_lines_functions_and_errors(tmp_path):
    (tmp_path / "a.c").write_bytes(SOURCE)
    (tmp_path / "sub").mkdir()
    broken = b"int broken(void) { return ( ; }\n"
    (tmp_path / "sub" / "b.h").write_bytes(broken)
    (tmp_path / "ignored.txt").write_text("x")
    masked, raw = measure([str(tmp_path)]), measure([str(tmp_path)], raw=True)
    assert masked["files"] == 2 and masked["lines"] == SOURCE.count(b"\n") + broken.count(b"\n")
    assert masked["functions"] == 2 and masked["functions_with_error"] == 1
    assert masked["lines_in_error"] == 1
    assert raw["lines_in_error"] > masked["lines_in_error"]
    assert masked["bytes"] == len(SOURCE) + len(broken)
    lines = masked["lines"]
    assert masked["lines_ok_pct"] == round(100 * (lines - 1) / lines, 3)
    assert masked["functions_ok_pct"] == 50.0
    keys = list(masked)
    assert keys.index("lines_ok_pct") == keys.index("lines_in_error") + 1
    assert keys.index("functions_ok_pct") == keys.index("functions_with_error") + 1


def test_stats_of_nothing_have_no_percentages(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    totals = measure([str(tmp_path)])
    assert totals["files"] == 0 and totals["lines_ok_pct"] is None and totals["functions_ok_pct"] is None


# --- reviewbot parse --------------------------------------------------------------------------

def run_parse(argv, capsys):
    import argparse
    import json

    from reviewbot import parsetool

    parser = argparse.ArgumentParser(prog="reviewbot")
    parsetool.add_parser(parser.add_subparsers())
    args = parser.parse_args(["parse", *argv])
    code = parsetool.run(args)
    out = capsys.readouterr().out
    return code, (json.loads(out) if "--facts" in argv or "--stats" in argv else out)


def test_parse_tool_tree_sexp_and_facts(tmp_path, capsys):
    source = tmp_path / "walk.c"
    source.write_bytes(SOURCE)
    code, out = run_parse([str(source)], capsys)
    assert code == 0 and "while_statement [7-10]" in out and "MISSING" not in out
    code, out = run_parse(["--sexp", str(source)], capsys)
    assert out.splitlines()[1].startswith("(translation_unit")
    code, facts = run_parse(["--facts", str(source)], capsys)
    assert facts["loops"][0]["macro"] == "list_for_each_entry_srcu"
    assert facts["functions"][0]["name"] == "walk" and facts["error_lines"] == []
    code, raw = run_parse(["--raw", "--facts", str(source)], capsys)
    assert raw["error_lines"] != []


def test_parse_tool_reads_patches_and_stats(tmp_path, capsys):
    patch = tmp_path / "0001-new.patch"
    patch.write_text(NEW_FILE)
    code, facts = run_parse(["--facts", str(patch)], capsys)
    assert facts["path"] == "mm/new.c" and facts["globals"][0]["macro"] == "DEFINE_SPINLOCK"
    assert facts["globals"][0]["added"] is True
    (tmp_path / "a.c").write_bytes(SOURCE)
    code, stats = run_parse(["--stats", str(tmp_path)], capsys)
    assert set(stats) >= {"files", "lines", "lines_in_error", "functions", "functions_with_error", "bytes", "seconds"}
    assert stats["files"] == 1


def test_parse_tool_missing_file_is_an_input_error(tmp_path, capsys):
    with pytest.raises(InputError):
        run_parse([str(tmp_path / "nope.c")], capsys)
    with pytest.raises(InputError):
        run_parse(["--stats", str(tmp_path / "nope")], capsys)


def test_parse_tool_refuses_a_binary_file_in_one_line(tmp_path, capsys):
    from reviewbot import cli

    blob = tmp_path / "vmlinux.o"
    blob.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4)
    assert cli.main(["parse", str(blob)]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and cap.err == f"reviewbot: {blob}: a binary file, not C source or a patch\n"


def test_parse_stats_says_when_there_were_no_c_files(tmp_path, capsys):
    from reviewbot import cli

    (tmp_path / "notes.txt").write_text("no C here\n")
    assert cli.main(["parse", "--stats", str(tmp_path)]) == 0
    cap = capsys.readouterr()
    assert json.loads(cap.out)["files"] == 0
    assert cap.err == f"reviewbot: parse --stats: no .c or .h file in {tmp_path}\n"
    (tmp_path / "a.c").write_bytes(SOURCE)
    assert cli.main(["parse", "--stats", str(tmp_path)]) == 0
    assert capsys.readouterr().err == ""
