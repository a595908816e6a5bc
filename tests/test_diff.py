"""The diff model on every patch of the v1 thread, and on diffs of our own making."""

import pytest

from reviewbot.diff import ADDED, DELETED, MODIFIED, RENAMED, new_file_diff, parse_changed_files
from reviewbot.errors import InputError
from tests.helpers import PATCH_01, body, v1_patch_ids


@pytest.mark.parametrize("msgid", v1_patch_ids())
def test_every_v1_patch_maps_post_image_lines_back_to_its_body(msgid):
    text = body(msgid)
    lines = text.splitlines()
    files = parse_changed_files(text)
    assert files, "every v1 patch changes at least one file"
    for cf in files:
        assert cf.hunks
        for n, line_text in cf.post_image.items():
            shown = lines[cf.body_lines[n] - 1]
            assert shown[0] in "+ " and shown[1:] == line_text
        for n in cf.added_lines:
            assert lines[cf.body_lines[n] - 1].startswith("+")
        for hunk in cf.hunks:
            assert lines[hunk.header_body_line - 1].startswith("@@ ")
            assert sum(1 for x in hunk.lines if x.kind != "-") == hunk.target_length
            assert sum(1 for x in hunk.lines if x.kind != "+") == hunk.source_length


def test_patch_01_files_statuses_and_completeness():
    files = {cf.path: cf for cf in parse_changed_files(body(PATCH_01))}
    assert list(files) == [
        "include/linux/bpf_oom.h", "include/linux/oom.h", "mm/Makefile", "mm/bpf_oom.c", "mm/oom_kill.c",
    ]
    new = files["mm/bpf_oom.c"]
    assert new.status == ADDED and new.post_image_complete and new.source_path is None
    assert new.post_image_length == 157 and new.added_lines == frozenset(range(1, 158))
    assert new.sparse_text().splitlines()[31] == "\tlist_for_each_entry_srcu(bpf_oom, &bpf_oom_handlers, node, false) {"
    mod = files["mm/oom_kill.c"]
    assert mod.status == MODIFIED and not mod.post_image_complete
    assert len(mod.hunks) == 4
    assert mod.hunks[1].section.startswith("static const char * const oom_constraint_text[]")
    # A modified file's sparse text keeps line numbers: unknown lines are blank.
    sparse = mod.sparse_text().splitlines()
    assert sparse[249] == "static const char *oom_policy_name(struct oom_control *oc)"
    assert sparse[100] == ""
    assert [x.text for x in mod.removed_lines()][0].startswith('\tpr_warn("%s invoked oom-killer')


def test_deleted_and_renamed_files():
    text = (
        "diff --git a/old.c b/old.c\ndeleted file mode 100644\n--- a/old.c\n+++ /dev/null\n"
        "@@ -1,2 +0,0 @@\n-int a;\n-int b;\n"
        "diff --git a/x/a.c b/y/a.c\nsimilarity index 90%\nrename from x/a.c\nrename to y/a.c\n"
        "--- a/x/a.c\n+++ b/y/a.c\n@@ -1,2 +1,2 @@\n int a;\n-int b;\n+int c;\n"
    )
    deleted, renamed = parse_changed_files(text)
    assert deleted.status == DELETED and deleted.path == "old.c" and not deleted.post_image
    assert renamed.status == RENAMED and renamed.path == "y/a.c" and renamed.source_path == "x/a.c"
    assert renamed.added_lines == {2} and renamed.post_image == {1: "int a;", 2: "int c;"}


def test_no_diff_means_no_files():
    assert parse_changed_files("Just a commit message.\n\nSigned-off-by: A <a@b>\n") == ()


def test_broken_hunk_counts_are_an_input_error():
    text = "diff --git a/a.c b/a.c\n--- a/a.c\n+++ b/a.c\n@@ -1,5 +1,5 @@\n int a;\n-int b;\n+int c;\n"
    with pytest.raises(InputError, match="broken diff"):
        parse_changed_files(text)


def test_signature_is_not_read_as_a_removed_line():
    text = "diff --git a/a.c b/a.c\n--- a/a.c\n+++ b/a.c\n@@ -1 +1 @@\n-int a;\n+int b;\n-- \n2.50.1\n\n"
    (cf,) = parse_changed_files(text)
    assert cf.added_lines == {1} and len(cf.removed_lines()) == 1


def test_new_file_diff_round_trips():
    text = "int a;\n\n/* x */\nint b(void)\n{\n}\n"
    (cf,) = parse_changed_files(new_file_diff("k/x.c", text))
    assert cf.status == ADDED and cf.sparse_text() == text and cf.added_lines == set(range(1, 7))
