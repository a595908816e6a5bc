"""reviewbot batch: sources (mbox, maildir, public-inbox v2 folder, URL + search), thread grouping,
parallel workers, the store, the outputs and the summary."""

from __future__ import annotations

import io
import json
import os

import pytest

from reviewbot import batch, cli
from tests import list_inbox as L

RULES = "SRCU002,SRCU004"
C_OK = "static int foo(void)\n{\n\treturn 0;\n}\n"
C_SRCU = ("#include <linux/srcu.h>\nDEFINE_STATIC_SRCU(s);\nstatic LIST_HEAD(h);\nstruct e { struct list_head node; };\n"
          "void walk(void)\n{\n\tstruct e *p;\n\tint i = srcu_read_lock(&s);\n"
          "\tlist_for_each_entry_srcu(p, &h, node, false) {\n\t}\n\tsrcu_read_unlock(&s, i);\n}\n")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """The v1 thread, two new-file patches and a duplicate of one of them, in one mbox."""
    d = tmp_path_factory.mktemp("batch")
    news = [L.new_file_mail(1, "mm/ok.c", C_OK), L.new_file_mail(2, "mm/walk.c", C_SRCU)]
    return L.write_mbox(d / "mixed.mbox", L.v1_messages() + news + news[:1])


def run(args, capsys):
    rc = cli.main(["batch", *args])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_split_threads(mixed):
    threads = batch.split_threads(batch.read_source(str(mixed)))
    assert sorted(len(t) for t in threads) == [1, 1, 80]  # the duplicate is dropped


def test_json_lines_match_review_and_the_store_skips_what_it_has(mixed, tmp_path, capsys):
    st = str(tmp_path / "s.sqlite3")
    rc, out, err = run([str(mixed), "--store", st, "--rules", RULES, "--format", "json", "--jobs", "1",
                        "--fail-on", "info"], capsys)
    reports = [json.loads(line) for line in out.splitlines()]
    assert rc == 1  # SRCU002 on mm/walk.c and on v1
    assert sorted(r["series"]["title"] for r in reports) == ["add mm/ok.c", "add mm/walk.c", "mm: BPF OOM"]
    assert "3 series: 3 reviewed, 0 skipped" in err  # the table goes to stderr with JSON lines
    v1 = next(r for r in reports if r["series"]["title"] == "mm: BPF OOM")
    assert cli.main(["review", L.V1_P01, "--mbox", str(L.ROOT / "fixtures/bpf-oom-v1/thread.mbox"),
                     "--format", "json", "--rules", RULES, "--fail-on", "info"]) == 1
    assert json.loads(capsys.readouterr().out) == v1  # the same report as `review --format json`
    walk = next(r for r in reports if r["series"]["title"] == "add mm/walk.c")
    assert [f["rule"] for f in walk["findings"]] == ["SRCU002"]

    rc, out, err = run([str(mixed), "--store", st, "--rules", RULES, "--format", "json"], capsys)
    assert out == "" and "0 reviewed, 3 skipped (already in the store)" in err and rc == 0
    rc, out, err = run([str(mixed), "--store", st, "--rules", RULES, "--format", "json", "--force"], capsys)
    assert len(out.splitlines()) == 3
    # Another rule set is another review.
    rc, out, err = run([str(mixed), "--store", st, "--rules", "SRCU002", "--format", "json"], capsys)
    assert "3 reviewed, 0 skipped" in err
    from reviewbot import store

    with store.Store(st) as s:
        assert s.counts()["series"] == 3 and s.counts()["reviews"] == 6


def test_parallel_equals_serial_and_files_and_drafts(mixed, tmp_path, capsys):
    common = [str(mixed), "--no-store", "--rules", RULES, "--format", "json", "--fail-on", "never"]
    rc1, out1, _ = run(common + ["--jobs", "1"], capsys)
    rc2, out2, _ = run(common + ["--jobs", "2"], capsys)
    assert rc1 == rc2 == 0 and out1 == out2
    outdir, drafts = tmp_path / "json", tmp_path / "drafts"
    rc, out, err = run(common + ["--output", str(outdir), "--drafts", str(drafts), "--from", "Bot <bot@example.org>",
                                 "--date", "2025-09-01T10:00:00+00:00"], capsys)
    assert sorted(p.name for p in outdir.iterdir()) == [
        "20250818170136.209169-1-roman.gushchin@linux.dev.json", "new-1@example.org.json", "new-2@example.org.json"]
    assert "series" in out and "3 reviewed" in out  # the table on stdout when reports go to files
    walk_drafts = sorted(p.name for p in (drafts / "new-2@example.org").iterdir())
    assert walk_drafts == ["0001-add-mm-walk.c.eml", "drafts.mbox"] or "drafts.mbox" in walk_drafts
    assert not (drafts / "new-1@example.org").exists()  # no findings, no drafts


def test_summary_table_text(mixed, capsys):
    rc, out, err = run([str(mixed), "--no-store", "--rules", RULES, "--fail-on", "never"], capsys)
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["series", "ver", "patches", "lines"]
    bpf = next(line for line in lines if line.startswith("mm: BPF OOM"))
    assert "13/14" in bpf and "missing 12" in bpf
    assert "patches/s" in lines[-1] and "lines/s" in lines[-1]


def test_every_version_in_a_thread_is_reviewed(tmp_path, capsys):
    # v2 posted into v1's thread: a list replayed as it arrived saw both, so both are reviewed
    mbox = L.write_mbox(tmp_path / "both.mbox", L.v1_messages() + L.v2_messages(in_thread=True))
    rc, out, err = run([str(mbox), "--no-store", "--rules", RULES, "--fail-on", "never"], capsys)
    rows = [line.split()[3:5] for line in out.splitlines() if line.startswith("mm: BPF OOM")]
    assert rows == [["v2", "1/14"], ["v1", "13/14"]]  # latest first, each with its own patches
    assert out.splitlines()[-1].startswith("2 series: 2 reviewed")


def test_maildir_source(tmp_path, capsys):
    md = tmp_path / "md"
    for sub in ("cur", "new", "tmp"):
        (md / sub).mkdir(parents=True)
    for n, raw in enumerate([L.new_file_mail(1, "mm/ok.c", C_OK), L.new_file_mail(2, "mm/walk.c", C_SRCU)]):
        (md / "new" / f"{n}.eml").write_bytes(raw)
    rc, out, err = run([str(md), "--no-store", "--rules", RULES, "--format", "json", "--fail-on", "info"], capsys)
    assert len(out.splitlines()) == 2 and rc == 1


def test_public_inbox_v2_folder(public_inbox, capsys):
    raws = batch.read_public_inbox(public_inbox.inboxdir)
    assert len(raws) == 80
    rc, out, err = run([str(public_inbox.inboxdir), "--no-store", "--rules", RULES, "--format", "json"], capsys)
    (report,) = [json.loads(line) for line in out.splitlines()]
    assert report["series"]["title"] == "mm: BPF OOM" and len(report["patches"]) == 13


@pytest.mark.skipif(not L.pi_server.PI_BINARIES or bool(L.pi_server.missing_binaries()) and not os.environ.get("CI"),
                    reason="public-inbox not installed")
def test_url_and_search_query(tmp_path_factory, capsys):
    news = [L.new_file_mail(1, "mm/ok.c", C_OK), L.new_file_mail(2, "mm/walk.c", C_SRCU)]
    box = L.inbox(tmp_path_factory.mktemp("pi-search"), L.v1_messages() + news, search=True)
    box.start()
    try:
        rc, out, err = run([box.url, "--query", "s:walk", "--no-store", "--rules", RULES, "--format", "json"], capsys)
        assert [json.loads(line)["series"]["title"] for line in out.splitlines()] == ["add mm/walk.c"]
        rc, out, err = run([box.url, "--query", "s:nothing-matches-this", "--no-store"], capsys)
        assert rc == 0 and "0 series" in out
    finally:
        box.stop()


def test_bad_sources(tmp_path, capsys, down_url):
    assert run([str(tmp_path / "missing.mbox"), "--no-store"], capsys)[0] == 2
    assert run(["https://lore.kernel.org/bpf/", "--no-store"], capsys)[0] == 2  # a URL needs --query
    (tmp_path / "plain").mkdir()
    rc, out, err = run([str(tmp_path / "plain"), "--no-store"], capsys)
    assert rc == 2 and "neither a maildir nor a public-inbox" in err
    rc, out, err = run([down_url, "--query", "d:2.days.ago..", "--no-store"], capsys)
    assert rc == 3 and len(err.splitlines()) == 1


def test_progress_only_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        p = batch.Progress(2, stream)
        p(batch.Outcome(0, "reviewed", title="a"))
        p(batch.Outcome(1, "reviewed", title="b"))
        p.close()
    assert "2/2 series" in tty.getvalue() and "\r" in tty.getvalue()
    assert pipe.getvalue() == ""


def test_nothing_to_review_is_exit_2_in_one_line_as_for_review(tmp_path, capsys):
    empty = tmp_path / "empty.mbox"
    empty.write_bytes(b"")
    rc, out, err = run([str(empty), "--no-store"], capsys)
    assert (rc, out, err) == (2, "", f"reviewbot: batch: {empty}: no messages\n")
    # Messages, but not one patch: `review` says "no patches" with exit 2, and so does batch.
    talk = [m for m in L.v1_messages() if b"Subject: Re:" in m][:3]
    talk_mbox = L.write_mbox(tmp_path / "talk.mbox", talk)
    rc, out, err = run([str(talk_mbox), "--no-store"], capsys)
    assert rc == 2 and out == "" and len(err.splitlines()) == 1 and "no patches" in err
    assert cli.main(["review", lore_id(talk[0]), "--mbox", str(talk_mbox)]) == 2
    assert "no patches" in capsys.readouterr().err


def lore_id(raw: bytes) -> str:
    from reviewbot import lore

    return lore.clean_msgid(lore.parse_message(raw))
