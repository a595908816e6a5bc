"""reviewbot.fetch against a real public-inbox archive on 127.0.0.1, servers that fail, and local files."""

from __future__ import annotations

import gzip
import mailbox
import socket
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from reviewbot import fetch, lore, thread
from reviewbot.errors import ArchiveError, InputError

ROOT = Path(__file__).resolve().parent.parent
V1 = ROOT / "fixtures" / "bpf-oom-v1"
COVER = "20250818170136.209169-1-roman.gushchin@linux.dev"
PATCH_01 = "20250818170136.209169-2-roman.gushchin@linux.dev"
REPLY = "CAJuCfpFT1oo0+9f_XQa29UeZseLNNbwc19pLbG0MOthgxrtVuQ@mail.gmail.com"  # a reply to a reply to 01/14
DEEP_REPLY = "87cy8qx50g.fsf@linux.dev"  # under the 12/14 the archive lost
UNKNOWN = "no-such-message.20250101@example.invalid"


def manifest_ids() -> set[str]:
    lines = (V1 / "MANIFEST.tsv").read_text().splitlines()[1:]
    return {line.split("\t")[0].strip("<>") for line in lines}


def ids(msgs: list[EmailMessage]) -> set[str]:
    return {lore.clean_msgid(m) for m in msgs}


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list:
    """Any socket connect fails the test (git subprocesses for config reading are unaffected)."""
    attempts: list = []

    def refuse(self, address, *args):
        attempts.append(address)
        raise AssertionError(f"network access to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


# --------------------------------------------------------------------------------------------------
# A real archive: public-inbox-httpd serving the v1 thread
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("msgid", [PATCH_01, COVER, REPLY, DEEP_REPLY])
def test_lore_fetch_returns_the_whole_thread(public_inbox_url: str, msgid: str) -> None:
    msgs = fetch.fetch_thread(msgid, fetch.Source(lore=public_inbox_url))
    assert all(isinstance(m, EmailMessage) for m in msgs)
    assert ids(msgs) == manifest_ids()
    assert len(msgs) == 80
    series = thread.assemble(msgs, msgid)
    assert (series.revision, series.total, series.missing) == (1, 14, (12,))
    assert [p.counter for p in series.patches] == [n for n in range(1, 15) if n != 12]
    assert series.cover is not None and series.cover.msgid == COVER


def test_lore_fetch_is_quick_and_quiet(public_inbox_url: str, capfd: pytest.CaptureFixture) -> None:
    start = time.monotonic()
    fetch.fetch_thread(PATCH_01, fetch.Source(lore=public_inbox_url, use_cache=False))
    assert time.monotonic() - start < 5
    assert capfd.readouterr() == ("", "")


def test_default_source_asks_the_configured_archive(
    public_inbox_url: str, down_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not in the bundled archive: the archive of b4.midmask answers (here: ours, then a dead one)."""
    config = lore.b4_config()
    monkeypatch.setitem(config, "midmask", f"{public_inbox_url}%s")
    assert lore.default_lore_url() == public_inbox_url
    with pytest.raises(InputError, match=f"not found at {public_inbox_url}"):
        fetch.fetch_thread(UNKNOWN, fetch.Source())
    monkeypatch.setitem(config, "midmask", f"{down_url}%s")
    with pytest.raises(ArchiveError, match="connection refused"):
        fetch.fetch_thread(UNKNOWN, fetch.Source())
    # The bundled archive still answers first, whatever the configured archive does.
    assert len(fetch.fetch_thread(PATCH_01, fetch.Source())) == 80


def test_mbox_and_lore_give_the_same_thread(public_inbox_url: str) -> None:
    by_mbox = fetch.fetch_thread(PATCH_01, fetch.Source(mbox=str(V1 / "thread.mbox")))
    by_lore = fetch.fetch_thread(PATCH_01, fetch.Source(lore=public_inbox_url))
    assert ids(by_mbox) == ids(by_lore) == manifest_ids()


@pytest.mark.parametrize("form", ["{url}", "{url_no_slash}", "{url}%s"])
def test_lore_url_forms(public_inbox_url: str, form: str) -> None:
    url = form.format(url=public_inbox_url, url_no_slash=public_inbox_url.rstrip("/"))
    assert len(fetch.fetch_thread(PATCH_01, fetch.Source(lore=url))) == 80


def test_unknown_msgid_is_an_input_error(public_inbox_url: str, capfd: pytest.CaptureFixture) -> None:
    with pytest.raises(InputError) as info:
        fetch.fetch_thread(UNKNOWN, fetch.Source(lore=public_inbox_url))
    assert str(info.value) == f"Message-ID <{UNKNOWN}> not found at {public_inbox_url}"
    assert capfd.readouterr() == ("", "")


def test_fetched_thread_is_cached(public_inbox_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fetch.fetch_thread(PATCH_01, fetch.Source(lore=public_inbox_url))
    cached = list(fetch.cache_dir().iterdir())
    assert len(cached) == 1 and cached[0].suffix == ".mbox"  # no temporary files left behind
    calls = []
    monkeypatch.setattr(lore, "fetch_thread_mbox", lambda *a, **k: calls.append(a) or b"")
    again = fetch.fetch_thread(PATCH_01, fetch.Source(lore=public_inbox_url))
    assert len(again) == 80 and calls == []
    offline = fetch.fetch_thread(PATCH_01, fetch.Source(lore=public_inbox_url, offline=True))
    assert len(offline) == 80 and calls == []
    # use_cache=False does not read the cache: it asks the archive.
    with pytest.raises(ArchiveError):
        fetch.fetch_thread(PATCH_01, fetch.Source(lore=public_inbox_url, use_cache=False))
    assert len(calls) == 1
    with pytest.raises(InputError, match="offline"):
        fetch.fetch_thread(PATCH_01, fetch.Source(lore=public_inbox_url, use_cache=False, offline=True))


def test_lore_does_not_leak_between_calls(public_inbox_url: str, down_url: str) -> None:
    import b4

    midmask = lore.b4_config().get("midmask")
    assert len(fetch.fetch_thread(PATCH_01, fetch.Source(lore=public_inbox_url))) == 80
    with pytest.raises(ArchiveError):  # a different archive: not answered from the first one's cache
        fetch.fetch_thread(PATCH_01, fetch.Source(lore=down_url))
    assert len(fetch.fetch_thread(COVER, fetch.Source(lore=public_inbox_url, use_cache=False))) == 80
    assert b4.LORENODE is None
    assert lore.b4_config().get("midmask") == midmask


# --------------------------------------------------------------------------------------------------
# Archives that fail
# --------------------------------------------------------------------------------------------------


def _archive_error(url: str, capfd: pytest.CaptureFixture) -> tuple[str, float]:
    start = time.monotonic()
    with pytest.raises(ArchiveError) as info:
        fetch.fetch_thread(PATCH_01, fetch.Source(lore=url))
    elapsed = time.monotonic() - start
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"lore at {url} could not be reached: ")
    assert info.value.exit_code == 3
    assert capfd.readouterr() == ("", ""), "b4/liblore printed something"
    return message, elapsed


def test_server_down(down_url: str, capfd: pytest.CaptureFixture) -> None:
    message, elapsed = _archive_error(down_url, capfd)
    assert message.endswith("connection refused")
    assert elapsed < 3


def test_server_answers_500(http500_url: str, capfd: pytest.CaptureFixture) -> None:
    message, elapsed = _archive_error(http500_url, capfd)
    assert message.endswith("the server answered HTTP 500")
    assert elapsed < 3


def test_server_hangs(hang_url: str, capfd: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lore, "READ_TIMEOUT", 1.0)
    message, elapsed = _archive_error(hang_url, capfd)
    assert message.endswith("no answer within 1 s")
    assert elapsed < 5


def test_server_answers_garbage(garbage_url: str, capfd: pytest.CaptureFixture) -> None:
    message, _ = _archive_error(garbage_url, capfd)
    assert message.endswith("the answer is not a gzipped mbox")


def test_server_redirect_loop(redirect_loop_url: str, capfd: pytest.CaptureFixture) -> None:
    message, elapsed = _archive_error(redirect_loop_url, capfd)
    assert "redirect" in message
    assert elapsed < 5


def test_default_timeouts_are_bounded() -> None:
    assert 0 < lore.CONNECT_TIMEOUT <= 10 and 0 < lore.READ_TIMEOUT <= 30


def test_bad_lore_url_is_an_input_error() -> None:
    for url in ("ftp://lore.kernel.org/all/", "lore.kernel.org/all", "", "http://", "http://127.0.0.1:99999/x/"):
        with pytest.raises(InputError):
            fetch.fetch_thread(PATCH_01, fetch.Source(lore=url))


# --------------------------------------------------------------------------------------------------
# Offline, the bundled archive, --mbox
# --------------------------------------------------------------------------------------------------


def test_offline_unknown_msgid(no_network: list) -> None:
    with pytest.raises(InputError) as info:
        fetch.fetch_thread(UNKNOWN, fetch.Source(offline=True))
    assert UNKNOWN in str(info.value) and "offline" in str(info.value)
    assert no_network == []


def test_offline_lore_unknown_msgid(no_network: list, down_url: str) -> None:
    with pytest.raises(InputError, match="offline"):
        fetch.fetch_thread(UNKNOWN, fetch.Source(lore=down_url, offline=True))
    assert no_network == []


@pytest.mark.parametrize("offline", [True, False])
def test_default_source_finds_the_bundled_thread_without_network(no_network: list, offline: bool) -> None:
    msgs = fetch.fetch_thread(f"<{REPLY}>", fetch.Source(offline=offline))
    assert ids(msgs) == manifest_ids()
    assert no_network == []


def test_bundled_archive() -> None:
    path = Path(fetch.bundled_archive_path())
    assert path.is_file()
    assert len(fetch.read_messages(str(path))) == 80


def test_mbox_source(tmp_path: Path) -> None:
    msgs = fetch.fetch_thread(COVER, fetch.Source(mbox=str(V1 / "thread.mbox")))
    assert len(msgs) == 80
    with pytest.raises(InputError, match="is not in"):
        fetch.fetch_thread(UNKNOWN, fetch.Source(mbox=str(V1 / "thread.mbox")))


def test_mbox_source_keeps_only_the_thread(tmp_path: Path) -> None:
    other = (
        b"From nobody Mon Sep 17 00:00:00 2001\nFrom: a@example.org\nSubject: unrelated\n"
        b"Message-ID: <unrelated@example.org>\n\nhello\n\n"
    )
    path = tmp_path / "mixed.mbox"
    path.write_bytes(other + (V1 / "thread.mbox").read_bytes())
    assert len(fetch.read_messages(str(path))) == 81
    assert ids(fetch.fetch_thread(PATCH_01, fetch.Source(mbox=str(path)))) == manifest_ids()


def test_maildir_and_gzip(tmp_path: Path) -> None:
    md = mailbox.Maildir(str(tmp_path / "md"))
    for name in (f"{PATCH_01}.eml", f"{COVER}.eml"):
        md.add((V1 / "messages" / name).read_bytes())
    assert ids(fetch.read_messages(str(tmp_path / "md"))) == {PATCH_01, COVER}
    assert len(fetch.fetch_thread(PATCH_01, fetch.Source(mbox=str(tmp_path / "md")))) == 2
    gz = tmp_path / "t.mbox.gz"
    gz.write_bytes(gzip.compress((V1 / "thread.mbox").read_bytes()))
    assert len(fetch.read_messages(str(gz))) == 80


def test_read_messages_errors(tmp_path: Path) -> None:
    (tmp_path / "plain-dir").mkdir()
    (tmp_path / "empty.mbox").write_bytes(b"")
    (tmp_path / "blank.mbox").write_bytes(b"\n\n  \n")
    (tmp_path / "notes.txt").write_text("just some notes\nnot a mailbox\n")
    (tmp_path / "binary").write_bytes(bytes(range(256)))
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    md = mailbox.Maildir(str(tmp_path / "empty-md"))
    del md
    cases = {
        "missing": "no such file",
        "plain-dir": "not a maildir",
        "empty.mbox": "empty",
        "blank.mbox": "empty",
        "notes.txt": "not an mbox",
        "binary": "not an mbox",
        "bad.gz": "gzip",
        "empty-md": "no messages",
    }
    for name, words in cases.items():
        with pytest.raises(InputError, match=words) as info:
            fetch.read_messages(str(tmp_path / name))
        assert "\n" not in str(info.value)
        with pytest.raises(InputError):
            fetch.fetch_thread(PATCH_01, fetch.Source(mbox=str(tmp_path / name)))


# --------------------------------------------------------------------------------------------------
# parse_msgid
# --------------------------------------------------------------------------------------------------

ODD = "CAJuCfpFT1oo0+9f_XQa29UeZseLNNbwc19pLbG0MOthgxrtVuQ@mail.gmail.com"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (PATCH_01, PATCH_01),
        (f"  {PATCH_01}\n", PATCH_01),
        (f"<{PATCH_01}>", PATCH_01),
        (f"id:<{PATCH_01}>", PATCH_01),
        (f"id:{PATCH_01}", PATCH_01),
        (f"rfc822msgid:{PATCH_01}", PATCH_01),
        (f"https://lore.kernel.org/bpf/{PATCH_01}/", PATCH_01),
        (f"https://lore.kernel.org/bpf/{PATCH_01}", PATCH_01),
        (f"https://lore.kernel.org/all/{PATCH_01}/T/", PATCH_01),
        (f"https://lore.kernel.org/all/{PATCH_01}/T/#u", PATCH_01),
        (f"https://lore.kernel.org/linux-mm/{PATCH_01}/t/#m1234", PATCH_01),
        (f"https://lore.kernel.org/bpf/{PATCH_01}/raw", PATCH_01),
        (f"https://lore.kernel.org/bpf/{PATCH_01}/t.mbox.gz", PATCH_01),
        (f"http://lore.kernel.org/r/{PATCH_01}", PATCH_01),
        (f"https://patch.msgid.link/{PATCH_01}", PATCH_01),
        (f"https://patch.msgid.link/{PATCH_01.replace('@', '%40')}", PATCH_01),
        (f"https://lore.kernel.org/bpf/{ODD.replace('+', '%2B')}/", ODD),
        (f"https://lore.kernel.org/bpf/{ODD}/", ODD),
        (PATCH_01.replace("@", "%40"), PATCH_01),
        ("https://lore.kernel.org/all/a%2Fb%40c.d/", "a/b@c.d"),
        ("http://127.0.0.1:8080/bpf/x@y/?q=1", "x@y"),
    ],
)
def test_parse_msgid(text: str, expected: str) -> None:
    assert fetch.parse_msgid(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "<>",
        "id:",
        "hello",
        "not a msgid@example.org",
        "@example.org",
        "someone@",
        "<a@b> <c@d>",
        "https://lore.kernel.org/bpf/",
        "https://lore.kernel.org/all/?q=s:BPF",
        "ftp://lore.kernel.org/bpf/a@b/",
        "https://",
        "a\x00b@c",
    ],
)
def test_parse_msgid_rejects_junk(text: str) -> None:
    with pytest.raises(InputError) as info:
        fetch.parse_msgid(text)
    assert "\n" not in str(info.value)


def test_fetch_thread_rejects_junk_msgid() -> None:
    with pytest.raises(InputError):
        fetch.fetch_thread("hello", fetch.Source(mbox=str(V1 / "thread.mbox")))


def test_bundled_made_up_v2_is_found_offline_and_stays_out_of_the_v1_thread(no_network: list) -> None:
    from reviewbot import thread

    paths = fetch.bundled_archive_paths()
    assert paths[0] == fetch.bundled_archive_path() and len(paths) == 2 and all(Path(p).is_file() for p in paths)
    v2 = fetch.fetch_thread("v2-01-bpf-oom@reviewbot.invalid", fetch.Source(offline=True))
    assert sorted(ids(v2)) == ["v2-00-bpf-oom@reviewbot.invalid", "v2-01-bpf-oom@reviewbot.invalid"]
    # The demo still reviews v1: the made-up v2 is a thread of its own, not a reply in v1's.
    v1 = fetch.fetch_thread(COVER, fetch.Source(offline=True))
    assert ids(v1) == manifest_ids() and thread.assemble(v1, COVER).revision == 1
    assert no_network == []
