"""Series assembly with b4 on the real v1 thread: cover, 13 of 14 patches, replies where they belong."""

import pytest

from reviewbot import lore, thread
from reviewbot.errors import InputError
from tests.helpers import COVER, PATCH_01, V1, V1_MBOX, v1_series

MANIFEST = [line.split("\t") for line in (V1 / "MANIFEST.tsv").read_text().splitlines()[1:]]


def test_v1_is_a_cover_and_fourteen_slots_with_12_missing():
    s = v1_series()
    assert (s.revision, s.total, s.revisions) == (1, 14, (1,))
    assert s.cover is not None and s.cover.msgid == COVER and s.cover.changed_files == ()
    assert s.missing == (12,)
    assert [p.counter for p in s.patches] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14]
    assert s.title == "mm: BPF OOM"
    p1 = s.patches[0]
    assert p1.msgid == PATCH_01 and p1.title == "mm: introduce bpf struct ops for OOM handling"
    assert p1.author_email == "roman.gushchin@linux.dev"
    assert "linux-mm@kvack.org" in p1.to and any("surenb@google.com" in c for c in p1.cc)
    assert p1.commit_message.startswith("Introduce a bpf struct ops")
    assert p1.commit_message.rstrip().endswith("Signed-off-by: Roman Gushchin <roman.gushchin@linux.dev>")


def test_every_reply_is_attached_once_and_to_the_patch_its_subject_names():
    s = v1_series()
    placed = {r.msgid: p for p in (*s.patches, s.cover) for r in p.replies}
    replies = [row for row in MANIFEST if row[3].startswith("Re:")]
    assert len(placed) + len(s.orphan_replies) == len(replies) == 66
    for mid, _date, _from, subject, _irt in replies:
        owner = placed[mid.strip("<>")]
        counter = subject.split("/")[0].rsplit(" ", 1)[-1]
        if counter == "12":  # the archive lost 12/14: its replies climb to the cover letter
            assert owner.counter == 0
        else:
            assert owner.counter == int(counter), subject


def test_replies_to_a_lost_message_still_find_their_patch():
    # Three messages reply to a message the archive lacks (README.md of the corpus).
    s = v1_series()
    known = {row[0].strip("<>") for row in MANIFEST}
    lost_parent = [row[0].strip("<>") for row in MANIFEST if row[4] and row[4].strip("<>") not in known]
    assert len(lost_parent) == 3
    placed = {r.msgid for p in (*s.patches, s.cover) for r in p.replies}
    assert set(lost_parent) <= placed


@pytest.mark.parametrize("msgid", [COVER, PATCH_01, "20250818170136.209169-15-roman.gushchin@linux.dev"])
def test_any_message_of_the_thread_selects_the_same_series(msgid):
    msgs = lore.split_mbox(V1_MBOX.read_bytes())
    s = thread.assemble(msgs, msgid)
    assert [p.msgid for p in s.patches] == [p.msgid for p in v1_series().patches]


def test_a_reply_id_selects_the_series_too():
    reply = next(row[0].strip("<>") for row in MANIFEST if row[3].startswith("Re: [PATCH v1 06/14]"))
    s = thread.assemble(lore.split_mbox(V1_MBOX.read_bytes()), reply)
    assert len(s.patches) == 13


def test_unknown_msgid_and_thread_without_patches_are_input_errors():
    msgs = lore.split_mbox(V1_MBOX.read_bytes())
    with pytest.raises(InputError, match="not in the thread"):
        thread.assemble(msgs, "nope@example.org")
    replies_only = [m for m in msgs if str(m["Subject"]).startswith("Re:")]
    first = lore.clean_msgid(replies_only[0])
    with pytest.raises(InputError, match="no patches"):
        thread.assemble(replies_only, first)


def test_file_patch_reviews_a_whole_file_as_added():
    p = thread.file_patch("mm/x.c", "int a;\nint b;\n")
    (cf,) = p.changed_files
    assert cf.path == "mm/x.c" and cf.added_lines == {1, 2} and p.commit_message == "Add mm/x.c.\n"


def test_replies_parsed_in_part_are_the_same_replies_and_read_only_when_asked():
    raws = lore.split_mbox_raw(V1_MBOX.read_bytes())
    partial = [lore.parse_thread_message(raw) for raw in raws]
    lazy = thread.assemble(partial, PATCH_01)
    # assembling reads no reply whole: their authors and bodies wait for a finding's patch
    assert not any("_reviewbot_whole" in m.__dict__ for m in partial)
    assert sum("_reviewbot_raw" in m.__dict__ for m in partial) >= 60
    whole = thread.assemble([lore.parse_message(raw) for raw in raws], PATCH_01)
    pairs = [(a, b) for pa, pb in zip((*lazy.patches, lazy.cover), (*whole.patches, whole.cover))
             for a, b in zip(pa.replies, pb.replies, strict=True)]
    assert len(pairs) >= 60
    for a, b in pairs:
        assert (a.msgid, a.subject, a.author_name, a.author_email, a.date, a.in_reply_to, a.body) == \
               (b.msgid, b.subject, b.author_name, b.author_email, b.date, b.in_reply_to, b.body)
    assert lazy == whole


def test_a_reply_with_an_overlong_line_stays_in_the_thread_and_is_read_only_when_asked(tmp_path):
    # b4 never builds a LoreMessage of a reply, so a reply b4 could not scan in bounded time (a line
    # far past the 998 of a mail line) is threading like any other; its body is read when asked.
    import time

    from reviewbot import fetch

    hostile = (b"From mboxrd@z Thu Jan  1 00:00:00 1970\nFrom: X <x@example.com>\n"
               b"Subject: Re: [PATCH v1 01/14] mm: introduce bpf struct ops for OOM handling\n"
               b"Date: Tue, 19 Aug 2025 10:00:00 +0000\nMessage-ID: <hostile@example.com>\n"
               b"In-Reply-To: <" + PATCH_01.encode() + b">\n\n"
               + b"Signed-off-by: " + b"a" * 20000 + b"\n")
    path = tmp_path / "thread.mbox"
    path.write_bytes(V1_MBOX.read_bytes().rstrip(b"\n") + b"\n\n" + hostile)
    start = time.monotonic()
    s = thread.assemble(fetch.fetch_thread(PATCH_01, fetch.Source(mbox=str(path))), PATCH_01)
    reply = next(r for r in s.patches[0].replies if r.msgid == "hostile@example.com")
    assert reply.author_email == "x@example.com" and len(reply.body) > 20000
    assert time.monotonic() - start < 5
