"""reviewbot watch against public-inbox-httpd on 127.0.0.1: the Atom feed, review once, grace for
missing patches, a new version arriving, restarts, Patchwork checks, outages and backoff."""

from __future__ import annotations

import argparse
import io
import json
import threading
from http.server import ThreadingHTTPServer

import pytest

from reviewbot import cli, store, watch
from reviewbot.errors import ArchiveError
from tests import list_inbox as L
from tests import pi_server
from tests.test_patchwork import TOKEN, FakePatchwork, make_handler

RULES = "SRCU002,SRCU004"


@pytest.fixture(scope="module")
def inbox(tmp_path_factory):
    missing = pi_server.missing_binaries()
    if missing:
        pytest.skip(f"public-inbox not installed (missing: {', '.join(missing)})")
    box = L.inbox(tmp_path_factory.mktemp("watch-inbox"), L.v1_messages(), search=True)
    box.start()
    yield box
    box.stop()


def watch_cli(url, tmp_path, capsys, *extra):
    rc = cli.main(["watch", url, "--once", "--store", str(tmp_path / "s.sqlite3"), "--rules", RULES,
                   "--drafts", str(tmp_path / "drafts"), "--from", "Bot <bot@example.org>",
                   "--date", "2025-10-11T10:00:00+00:00", *extra])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_parse_atom():
    base = "http://127.0.0.1:1/bpf/"
    feed = (b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><entry><title>[PATCH] x</title>'
            b'<link href="http://127.0.0.1:1/bpf/a@b/"/></entry><entry><title>Re: y</title>'
            b'<link href="http://elsewhere/c@d/"/></entry></feed>')
    assert watch.parse_atom(feed, base) == [("a@b", "[PATCH] x")]
    with pytest.raises(ArchiveError):
        watch.parse_atom(b"<html>", base)


def test_grace_then_review_once_then_v2_then_restart(inbox, tmp_path, capsys):
    # v1 lacks patch 12/14: with a grace period it waits (and remembers since when).
    rc, out, err = watch_cli(inbox.url, tmp_path, capsys, "--grace", "60")
    assert rc == 0 and "waiting: v1 'mm: BPF OOM' lacks patch 12 of 14" in out and "reviewed:" not in out
    with store.Store(tmp_path / "s.sqlite3") as st:
        assert [p[:2] for p in st.pending(inbox.url + "new.atom")][0][1] == 1
        assert st.counts()["reviews"] == 0
    # Grace over (0 minutes): the waiting version is fetched again and reviewed, once.
    rc, out, err = watch_cli(inbox.url, tmp_path, capsys, "--grace", "0")
    assert rc == 0 and out.count("reviewed: v1 'mm: BPF OOM' (13/14 patches)") == 1, out
    drafts = list((tmp_path / "drafts").rglob("*.eml"))
    assert drafts, "reply drafts are written"
    # A restart (a new process, same store) reviews nothing again.
    rc, out, err = watch_cli(inbox.url, tmp_path, capsys, "--grace", "0")
    assert rc == 0 and "reviewed:" not in out and "waiting" not in out
    # v2 arrives in the same thread: reviewed, and compared with v1's findings in the store. (Polled
    # by search: public-inbox's new.atom lists 25 entries in its own order, not always the newest.)
    inbox.add(L.v2_messages(in_thread=True))
    rc, out, err = watch_cli(inbox.url, tmp_path, capsys, "--grace", "0", "--query", "s:OOM")
    assert "reviewed: v2 'mm: BPF OOM' (1/14 patches)" in out, out
    assert "since v1:" in out and "addressed" in out
    with store.Store(tmp_path / "s.sqlite3") as st:
        identity = st.db.execute("SELECT identity FROM series").fetchone()[0]
        assert st.revisions(identity) == [1, 2]
        assert st.counts()["drafts"] >= 2


def test_query_mode_and_patchwork_checks(inbox, tmp_path, capsys):
    fake = FakePatchwork({L.V1_P01: [101], L.V2_P01: [102]})  # v2 is there when the test above ran first
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(fake))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        pw = f"http://127.0.0.1:{httpd.server_address[1]}"
        rc, out, err = watch_cli(inbox.url, tmp_path, capsys, "--query", "s:OOM", "--grace", "0",
                                 "--patchwork", pw, "--token", TOKEN)
        assert rc == 0 and "reviewed: v" in out, (out, err)
        posted = fake.posts()
        assert posted and all(path.endswith(("/api/patches/101/checks/", "/api/patches/102/checks/"))
                              for _, path in posted)
        with store.Store(tmp_path / "s.sqlite3") as st:
            assert st.counts()["checks"] >= 1
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_outage_once_exits_3_with_one_line(down_url, tmp_path, capsys):
    rc, out, err = watch_cli(down_url, tmp_path, capsys)
    assert rc == 3 and len(err.splitlines()) == 1 and "could not be reached" in err
    # --once does not try again, so it must not say it will.
    assert "trying again" not in err and "backoff" not in err


def test_backoff_doubles_to_a_cap_and_one_line_per_outage(tmp_path):
    args = argparse.Namespace(url="http://127.0.0.1:9/bpf/", query=None, interval=10.0, grace=0.0,
                              max_backoff=50.0, once=False, store=str(tmp_path / "s.sqlite3"), no_store=False,
                              drafts=None, from_=None, date=None, overwrite=False, rules=RULES, skip=None,
                              rules_dir=None, patchwork=None, token=None, patchwork_project=None, target_url=None)
    out, err, sleeps = io.StringIO(), io.StringIO(), []
    answers = iter([False, False, False, False, False, True, False, True])  # two outages

    w = watch.Watcher(args, out=out, err=err, sleep=sleeps.append, clock=lambda: 100.0)

    def poll_once():
        if not next(answers):
            raise ArchiveError("lore at http://127.0.0.1:9/bpf/ could not be reached: connection refused")
        return 0

    w.poll_once = poll_once
    try:
        assert w.run(cycles=8) == 0
    finally:
        w.close()
    assert sleeps == [10, 20, 40, 50, 50, 10, 10]  # doubling from --interval, capped at --max-backoff
    assert len(err.getvalue().splitlines()) == 2  # one line per outage
    assert out.getvalue().count("archive reachable again") == 2


def test_no_store_is_not_offered(capsys):
    # watch keeps its state in the store: --no-store is batch's option only, and --help says so.
    assert cli.main(["watch", "--help"]) == 0
    assert "--no-store" not in capsys.readouterr().out
    assert cli.main(["batch", "--help"]) == 0
    assert "--no-store" in capsys.readouterr().out
    assert cli.main(["watch", "http://127.0.0.1:9/bpf/", "--once", "--no-store"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "unrecognized arguments: --no-store" in err
