"""lore.split_mbox_raw gives the very bytes liblore's splitter gives, faster.

liblore.utils.split_mbox_as_bytes is the reference (b4's own library): the same separators (its
_FROM_RE on lines of 20 bytes or more), the same message boundaries, the same mboxrd unescaping of
body lines only. Checked on every mbox we ship, on a real list when the shared corpus is there, and
on cases of our own making at the edges of the format.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from liblore import utils

from reviewbot import batch, lore

ROOT = Path(__file__).resolve().parent.parent
LIST = ROOT.parent / "shared" / "corpus" / "lists" / "cgroups-3000.mbox.gz"
SEP = b"From mboxrd@z Thu Jan  1 00:00:00 1970\n"

EDGES = [
    b"",
    b"\n",
    b"no separator at all",
    SEP,
    SEP.rstrip(b"\n"),  # a separator on the last line, no newline
    SEP + SEP + b"A: 1\n\nbody\n",  # two separators in a row: no empty message between them
    b"a preamble\n>From kept as a body line\n" + SEP + b"A: 1\n\nx\n",
    SEP + b"A: 1\n>From in the header stays\n\n>From body\n>>From deeper\n From not at the start\n",
    SEP + b"A: 1\r\n\r\n>From after a CRLF blank line: still the header for liblore\n",
    SEP + b"A: 1\n\nend without newline",
    b"\n" + SEP + b"A: 1\n\nx\n\n",
    SEP + b"A: 1\n\nFrom a00:00:001234\nFrom too short, not a separator\n",  # 19 bytes: no separator
    b"xFrom x Mon Jan  1 00:00:00 2020\n" + SEP + b"A: 1\n\n",
    SEP + b"A: 1\n",  # a header with no body
]


@pytest.mark.parametrize("data", EDGES, ids=range(len(EDGES)))
def test_edges_split_as_liblore_splits(data):
    assert lore.split_mbox_raw(data) == utils.split_mbox_as_bytes(data)


def test_every_shipped_mbox_splits_as_liblore_splits():
    mboxes = sorted(ROOT.glob("fixtures/**/*.mbox")) + sorted(ROOT.glob("tests/**/*.mbox"))
    assert mboxes
    for path in mboxes:
        data = path.read_bytes()
        assert lore.split_mbox_raw(data) == utils.split_mbox_as_bytes(data), path


@pytest.mark.skipif(not LIST.is_file(), reason="the shared corpus is not beside this checkout")
def test_a_real_list_splits_as_liblore_splits():
    data = gzip.decompress(LIST.read_bytes())
    ours = lore.split_mbox_raw(data)
    assert len(ours) == 3000
    assert ours == utils.split_mbox_as_bytes(data)


def test_threading_headers_read_from_the_raw_block():
    raw = (b"Subject: x\nmessage-id:<m@x>\r\nReferences: <a@b>\n\t<c@d>\nX-Other: <not@this>\n"
           b"In-Reply-To: <c@d>\nMessage-ID: <second@x>\n\nReferences: <body@x>\n")
    assert batch._header_ids(raw) == ("m@x", ["a@b", "c@d", "c@d"])
    # no angle brackets: the folded value, unfolded and stripped
    assert batch._header_ids(b"Message-ID: plain\n folded\n\n") == ("plain folded", [])
    assert batch._header_ids(b"Message-Id:   \n\n") == (None, [])
    assert batch._header_ids(b"no headers") == (None, [])


def _mailbox_facts(msgs):
    """What reviewbot reads of the mailbox series_mailbox builds: every message's place and b4's
    verdicts on it, trailers included."""
    mailbox, refused = lore.series_mailbox(msgs)
    facts = {mid: (m.reply, m.has_diff, m.has_diffstat, m.revision, m.counter, m.expected,
                   [(t.name, t.value, t.extinfo) for t in m.trailers])
             for mid, m in mailbox.msgid_map.items()}
    layout = ({rev: [p.msgid if p else None for p in s.patches] for rev, s in mailbox.series.items()},
              sorted(c.msgid for c in mailbox.covers.values()), sorted(f.msgid for f in mailbox.followups))
    return facts, layout, [(lore.clean_msgid(m), why) for m, why in refused]


def _threads_of(data: bytes):
    for raws in batch.split_threads(lore.split_mbox_raw(data)):
        msgs = [lore.sanitize(lore.parse_message(raw)) for raw in raws]
        yield [m for m in msgs if not lore.is_reply(m)]


def _same_mailboxes_with_b4s_own_trailer_scan(data: bytes, monkeypatch) -> int:
    import b4

    threads = list(_threads_of(data))
    ours = [_mailbox_facts(msgs) for msgs in threads]
    skipping = b4.LoreMessage.__dict__["find_trailers"]
    assert skipping.__func__.reviewbot_skips  # series_mailbox installed it
    with monkeypatch.context() as m:
        m.setattr(b4.LoreMessage, "find_trailers", staticmethod(skipping.__func__.__wrapped__))
        m.setattr(lore, "_skip_patch_trailer_scan", lambda b4: None)
        b4s = [_mailbox_facts(msgs) for msgs in _threads_of(data)]
    assert ours == b4s
    return sum(len(facts) for facts, _layout, _refused in ours)


def test_every_shipped_mbox_threads_as_with_b4s_own_trailer_scan(monkeypatch):
    mboxes = sorted(ROOT.glob("fixtures/**/*.mbox")) + sorted(ROOT.glob("tests/**/*.mbox"))
    assert sum(_same_mailboxes_with_b4s_own_trailer_scan(p.read_bytes(), monkeypatch) for p in mboxes) >= 14


@pytest.mark.skipif(not LIST.is_file(), reason="the shared corpus is not beside this checkout")
def test_a_real_list_threads_as_with_b4s_own_trailer_scan(monkeypatch):
    assert _same_mailboxes_with_b4s_own_trailer_scan(gzip.decompress(LIST.read_bytes()), monkeypatch) > 1000


def _all_messages(data: bytes):
    return [lore.parse_message(raw) for raw in lore.split_mbox_raw(data)]


def _headers_read_as_the_registry_reads_them(msgs) -> int:
    checked = 0
    for msg in msgs:
        for name in ("Subject", "In-Reply-To", "References"):
            value = msg.get(name)
            assert lore.header_text(msg, name) == (None if value is None else str(value))
        assert lore.clean_msgid(msg) == utils.get_clean_msgid(msg, "Message-Id")
        checked += 1
    return checked


def test_headers_of_every_shipped_mbox_read_as_the_registry_reads_them():
    mboxes = sorted(ROOT.glob("fixtures/**/*.mbox")) + sorted(ROOT.glob("tests/**/*.mbox"))
    edges = (b"Subject: =?utf-8?q?caf=C3=A9?= and\n more\nIn-Reply-To: <a@b>\n (comment)\n"
             b"References: <x$(id)@x>\n\t<y@z>\nMessage-ID: <x$(id)@x>\n\nbody\n",
             b"Subject: no references\nMessage-ID: plain\n\nbody\n")
    msgs = [m for p in mboxes for m in _all_messages(p.read_bytes())] + [lore.parse_message(e) for e in edges]
    assert _headers_read_as_the_registry_reads_them(msgs) > 80


@pytest.mark.skipif(not LIST.is_file(), reason="the shared corpus is not beside this checkout")
def test_headers_of_a_real_list_read_as_the_registry_reads_them():
    assert _headers_read_as_the_registry_reads_them(_all_messages(gzip.decompress(LIST.read_bytes()))) == 3000


def test_dates_read_as_the_registry_reads_them():
    mboxes = sorted(ROOT.glob("fixtures/**/*.mbox")) + sorted(ROOT.glob("tests/**/*.mbox"))
    dates = (b"Date: Mon, 18 Aug 2025 10:01:36 -0700\n", b"Date: not a date at all\n", b"Date: \n",
             b"Date: Mon, 18 Aug 2025\n 10:01:36 +0000 (UTC)\n", b"Date: 18 Aug 2025 10:01 -9900\n", b"")
    msgs = [m for p in mboxes for m in _all_messages(p.read_bytes())]
    msgs += [lore.parse_message(d + b"Subject: x\n\nbody\n") for d in dates]
    if LIST.is_file():
        msgs += _all_messages(gzip.decompress(LIST.read_bytes()))
    for msg in msgs:
        assert lore.header_date(msg) == str(msg.get("Date", ""))


# A reply parsed in part (parse_thread_message) reads as the whole parse reads: its threading
# headers at once, its author and body through whole().
PARTIAL_EDGES = [
    b"Subject: Re: [PATCH] x\nMessage-ID: <r@x>\nIn-Reply-To: <p@x>\nReferences: <c@x>\n <p@x>\n"
    b"Date: Mon, 18 Aug 2025 10:01:36 -0700\nFrom: A B <a@b>\nX-Long: y\n\nbody\n",
    b"subject:   RE: lower case, folded\n\tsubject\nmessage-id:<r2@x>\nFrom: a@b\n\nbody\n",
    b"Subject: =?utf-8?q?Re=3A_caf=C3=A9?=\nMessage-ID: <r3@x>\nFrom: =?utf-8?q?Caf=C3=A9?= <c@x>\n\nbody\n",
    b"Subject: Re: two\nSubject: Re: copies\nMessage-ID: <r4@x>\nMessage-ID: <r5@x>\n\n",
    b"Subject : Re: a space before the colon\nMessage-ID: <r6@x>\n\nbody\n",  # "Subject " is no Subject: whole
    b"Subject: Re: no body, no blank line\nMessage-ID: <r7@x>",
    b"Subject: Re: crlf\r\nMessage-ID: <r8@x>\r\n\r\nbody\r\n",  # parsed whole
    b"Subject: Re: a line that is no header\nnot a header line\nMessage-ID: <r9@x>\n\nbody\n",  # whole
    b"Subject: [PATCH] not a reply\nMessage-ID: <p@x>\n\n---\n+++ b/x.c\n",  # whole
    b"Subject: Re: [PATCH] a reply that carries a diff\nMessage-ID: <r10@x>\n\n--- a/x\n+++ b/x\n",
    b"Subject: Re: x\nMessage-ID: <r11@x>\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
    b"Content-Type: text/plain\n\nquoted body\n--b--\n",
]


def _partial_reads_as_whole(raws) -> tuple[int, int]:
    partial = 0
    for raw in raws:
        msg, full = lore.parse_thread_message(raw), lore.parse_message(raw)
        assert lore.clean_msgid(msg) == lore.clean_msgid(full)
        assert lore.is_reply(msg) == lore.is_reply(full)
        for name in ("Subject", "In-Reply-To", "References"):
            assert lore.header_text(msg, name) == lore.header_text(full, name)
        assert lore.header_date(msg) == lore.header_date(full)
        if lore.whole(msg) is not msg:
            partial += 1
            assert lore.is_reply(full)
            assert lore.whole(msg) is lore.whole(msg)  # parsed once
            assert lore.reply_fields(lore.whole(msg)) == lore.reply_fields(full)
    return len(raws), partial


def test_a_reply_parsed_in_part_reads_as_the_whole_parse():
    assert _partial_reads_as_whole(PARTIAL_EDGES) == (len(PARTIAL_EDGES), 6)
    mboxes = sorted(ROOT.glob("fixtures/**/*.mbox")) + sorted(ROOT.glob("tests/**/*.mbox"))
    n, partial = _partial_reads_as_whole([r for p in mboxes for r in lore.split_mbox_raw(p.read_bytes())])
    assert partial > 50 and n > partial


@pytest.mark.skipif(not LIST.is_file(), reason="the shared corpus is not beside this checkout")
def test_replies_of_a_real_list_parsed_in_part_read_as_the_whole_parse():
    n, partial = _partial_reads_as_whole(lore.split_mbox_raw(gzip.decompress(LIST.read_bytes())))
    assert n == 3000 and partial > 1500
