"""Archive faults: every way a public-inbox server on 127.0.0.1 can fail ends in exit 3 (2 for a
404: the archive does not have the message) and one line on stderr, in bounded time and memory.

Servers here are small stdlib HTTP servers in threads (the ones in tests/conftest.py are reused:
down_url, http500_url, garbage_url, redirect_loop_url, hang_url). The gzip bomb and the
100,000-message thread are also run as whole processes that report their own peak RSS
(VmHWM from /proc/self/status); the target is under 300 MB.
"""

from __future__ import annotations

import contextlib
import gzip
import http.server
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reviewbot import cli, fetch, lore
from reviewbot.errors import ArchiveError

ROOT = Path(__file__).resolve().parent.parent
THREAD = ROOT / "fixtures" / "bpf-oom-v1" / "thread.mbox"
PATCH_01 = "20250818170136.209169-2-roman.gushchin@linux.dev"
RSS_LIMIT_KB = 300 * 1024


# --------------------------------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------------------------------


class Server:
    """ThreadingHTTPServer on 127.0.0.1 whose every request is answered by `behave(handler, n)`,
    n counting the requests (from 1)."""

    def __init__(self, behave: Callable[[http.server.BaseHTTPRequestHandler, int], None]) -> None:
        self.count = 0
        lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _any(self) -> None:
                with lock:
                    outer.count += 1
                    n = outer.count
                try:
                    behave(self, n)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_HEAD = _any

        class Quiet(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address) -> None:
                pass  # a client that hung up: nothing to print

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/bpf/"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextlib.contextmanager
def serving(behave) -> Iterator[Server]:
    server = Server(behave)
    try:
        yield server
    finally:
        server.close()


def send(h, status: int, body: bytes = b"", *, length: int | None = None, headers: dict | None = None) -> None:
    h.send_response(status)
    h.send_header("Content-Type", "application/gzip" if body[:2] == b"\x1f\x8b" else "text/plain")
    h.send_header("Content-Length", str(len(body) if length is None else length))
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.end_headers()
    if h.command != "HEAD":
        h.wfile.write(body)
        h.wfile.flush()


THREAD_GZ = gzip.compress(THREAD.read_bytes(), compresslevel=1)


def good(h, n) -> None:
    send(h, 200, THREAD_GZ)


_BOMB: dict[int, bytes] = {}


def gzip_bomb(size: int = 1 << 30) -> bytes:
    """A gzip member of `size` zero bytes (1 GiB -> about 4 MiB), built chunk by chunk, once."""
    if size in _BOMB:
        return _BOMB[size]
    c = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zero = bytes(1 << 20)
    parts = [c.compress(zero) for _ in range(size >> 20)]
    parts.append(c.flush())
    _BOMB[size] = b"".join(parts)
    return _BOMB[size]


def big_thread(n: int) -> bytes:
    """An mbox of n messages: a cover letter and n-1 replies to it, each a few hundred bytes."""
    out = io.BytesIO()
    cover = "big.0@example.com"
    for i in range(n):
        mid = f"big.{i}@example.com"
        out.write(b"From mboxrd@z Thu Jan  1 00:00:00 1970\n")
        out.write(f"From: Dev {i % 97} <dev{i % 97}@example.com>\nTo: list@example.com\n"
                  f"Subject: {'Re: ' if i else ''}[PATCH 0/1] a very long thread\n"
                  f"Date: Mon, 18 Aug 2025 10:00:00 -0700\nMessage-ID: <{mid}>\n".encode())
        if i:
            out.write(f"In-Reply-To: <{cover}>\nReferences: <{cover}>\n".encode())
        out.write(f"\nReply number {i}.\n\n".encode())
    return out.getvalue()


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def review(url: str, *extra: str) -> tuple[int, str, str, float]:
    out, err = io.StringIO(), io.StringIO()
    start = time.monotonic()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["review", PATCH_01, "--lore", url, "--format", "json", *extra])
    return code, out.getvalue(), err.getvalue(), time.monotonic() - start


def assert_one_line(code: int, err: str, expected_code: int = 3) -> str:
    assert code == expected_code, err
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# --------------------------------------------------------------------------------------------------
# Reused servers from conftest: refused, 500, garbage, redirect loop, hang
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture, expect", [
    ("down_url", "connection refused"),
    ("http500_url", "HTTP 500"),
    ("garbage_url", "not a gzipped mbox"),
    ("redirect_loop_url", "redirect"),
])
def test_conftest_faults_exit_3_with_one_line(fixture: str, expect: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(fixture)
    code, out, err, elapsed = review(url)
    line = assert_one_line(code, err)
    assert expect in line and out == ""
    assert elapsed < 5


def test_hang_is_bounded_by_the_read_timeout(hang_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lore, "READ_TIMEOUT", 1.0)
    code, _, err, elapsed = review(hang_url)
    assert "no answer within 1 s" in assert_one_line(code, err)
    assert elapsed < 4


# --------------------------------------------------------------------------------------------------
# Timeouts: a server that trickles, and the overall deadline
# --------------------------------------------------------------------------------------------------


def trickle_body(h, n) -> None:
    """Headers at once, then one byte of a body every 0.3 s: no read ever times out."""
    h.send_response(200)
    h.send_header("Content-Length", str(len(THREAD_GZ)))
    h.end_headers()
    for b in THREAD_GZ:
        h.wfile.write(bytes([b]))
        h.wfile.flush()
        time.sleep(0.3)


def trickle_headers(h, n) -> None:
    """The status line and then header bytes one every 0.3 s, never finishing the headers."""
    h.wfile.write(b"HTTP/1.1 200 OK\r\n")
    h.wfile.flush()
    for _ in range(1000):
        h.wfile.write(b"X")
        h.wfile.flush()
        time.sleep(0.3)


@pytest.mark.parametrize("behave", [trickle_body, trickle_headers], ids=["body", "headers"])
def test_trickling_server_hits_the_overall_deadline(behave, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch, "FETCH_DEADLINE", 2.0)
    with serving(behave) as server:
        code, _, err, elapsed = review(server.url)
    assert "no complete answer within 2 s" in assert_one_line(code, err)
    assert elapsed < 4


def test_default_deadline_is_bounded() -> None:
    assert 0 < fetch.FETCH_DEADLINE <= 300


# --------------------------------------------------------------------------------------------------
# 404, 500, 503: retries with backoff
# --------------------------------------------------------------------------------------------------


def test_503_twice_then_a_good_answer_succeeds() -> None:
    def behave(h, n):
        if n <= 2:
            send(h, 503, b"busy", headers={"Retry-After": "0"})
        else:
            good(h, n)

    with serving(behave) as server:
        code, out, err, elapsed = review(server.url, "--fail-on", "never")
        assert code == 0 and err == "", err
        assert server.count == 3
    assert json.loads(out)["patches"]
    assert elapsed < 5


def test_503_forever_fails_after_bounded_retries() -> None:
    with serving(lambda h, n: send(h, 503, b"busy")) as server:
        code, _, err, elapsed = review(server.url)
        assert "HTTP 503" in assert_one_line(code, err)
        assert server.count == fetch.RETRIES + 1
    assert elapsed < 5  # backoff 0.25 + 0.5 + 1 s


def test_retry_after_is_honoured_but_capped() -> None:
    assert fetch._retry_delay(0, "3") == 3.0
    assert fetch._retry_delay(0, "99999") == 5.0
    assert fetch._retry_delay(2, None) == fetch.BACKOFF * 4
    assert fetch._retry_delay(0, "Wed, 21 Oct 2015 07:28:00 GMT") == fetch.BACKOFF


def test_500_is_retried_then_reported() -> None:
    with serving(lambda h, n: send(h, 500, b"oops")) as server:
        code, _, err, _ = review(server.url)
        assert "HTTP 500" in assert_one_line(code, err)
        assert server.count == fetch.RETRIES + 1


def test_404_is_not_retried_and_is_bad_input() -> None:
    with serving(lambda h, n: send(h, 404, b"not here")) as server:
        code, _, err, _ = review(server.url)
        assert "not found" in assert_one_line(code, err, expected_code=2)
        assert server.count <= 2  # the GET, and liblore's HEAD on the origin to find the list


# --------------------------------------------------------------------------------------------------
# Broken answers: truncated gzip, a body shorter than its Content-Length, a gzip bomb, huge threads
# --------------------------------------------------------------------------------------------------


def test_truncated_gzip_thread() -> None:
    cut = THREAD_GZ[: len(THREAD_GZ) // 2]
    with serving(lambda h, n: send(h, 200, cut)) as server:
        code, _, err, _ = review(server.url)
    assert "cut short" in assert_one_line(code, err)


def test_connection_closed_before_the_content_length() -> None:
    def behave(h, n):
        send(h, 200, THREAD_GZ[:1000], length=len(THREAD_GZ))
        h.close_connection = True

    with serving(behave) as server:
        code, _, err, _ = review(server.url)
    assert_one_line(code, err)


def test_gzip_bomb_is_refused_in_process() -> None:
    bomb = gzip_bomb()
    with serving(lambda h, n: send(h, 200, bomb)) as server:
        code, _, err, elapsed = review(server.url)
    assert "answer too large" in assert_one_line(code, err)
    assert elapsed < 10


def test_download_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch, "MAX_DOWNLOAD_BYTES", 100_000)
    with serving(good) as server:
        code, _, err, _ = review(server.url)
    assert "answer too large" in assert_one_line(code, err)


def test_thread_of_too_many_messages_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch, "MAX_THREAD_MESSAGES", 50)
    with serving(good) as server:  # the v1 thread: 80 messages
        code, _, err, _ = review(server.url)
    assert "more than 50 messages" in assert_one_line(code, err)


def test_gunzip_chunks() -> None:
    data = b"From x\n" * 1000
    assert b"".join(fetch.gunzip_chunks(gzip.compress(data), 10**6)) == data
    assert b"".join(fetch.gunzip_chunks(gzip.compress(data) + gzip.compress(data), 10**6)) == data * 2
    with pytest.raises(fetch.TooLarge):
        list(fetch.gunzip_chunks(gzip.compress(data), 100))
    with pytest.raises(fetch.Truncated):
        list(fetch.gunzip_chunks(gzip.compress(data)[:-20], 10**6))
    with pytest.raises(fetch.BadGzip):
        list(fetch.gunzip_chunks(b"\x1f\x8bnot really", 10**6))
    assert fetch.count_messages(data) == 1000


def test_local_gzip_bomb_and_huge_mbox_are_input_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = tmp_path / "bomb.mbox.gz"
    bomb.write_bytes(gzip_bomb())
    with pytest.raises(Exception) as info:
        fetch.read_messages(str(bomb))
    assert "more than reviewbot reads" in str(info.value) and info.value.exit_code == 2
    monkeypatch.setattr(fetch, "MAX_THREAD_MESSAGES", 100)
    many = tmp_path / "many.mbox"
    many.write_bytes(big_thread(101))
    with pytest.raises(Exception) as info:
        fetch.read_messages(str(many))
    assert "101 messages" in str(info.value) and info.value.exit_code == 2


# --------------------------------------------------------------------------------------------------
# Peak memory, as whole processes: the gzip bomb and a 100,000-message thread
# --------------------------------------------------------------------------------------------------

_CHILD = """
import contextlib, io, json, resource, sys
from reviewbot import cli
err = io.StringIO()
with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
    code = cli.main(sys.argv[1:])
# VmHWM: this process's own peak RSS. getrusage's ru_maxrss would also count the parent's RSS at
# fork time (Linux keeps it across exec), i.e. the test runner's.
try:
    peak = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1])
except (OSError, StopIteration):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"code": code, "stderr": err.getvalue(), "maxrss_kb": peak}))
"""


def run_measured(argv: list[str], timeout: float = 120) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("REVIEWBOT_DEBUG", None)
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", _CHILD, *argv], capture_output=True, timeout=timeout, env=env)
    result = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    result["seconds"] = time.monotonic() - start
    return result


@pytest.fixture(scope="module")
def bomb_server() -> Iterator[Server]:
    bomb = gzip_bomb()
    server = Server(lambda h, n: send(h, 200, bomb))
    yield server
    server.close()


@pytest.fixture(scope="module")
def big_thread_gz() -> bytes:
    return gzip.compress(big_thread(100_000), compresslevel=1)


def test_gzip_bomb_peak_memory(bomb_server: Server) -> None:
    r = run_measured(["review", PATCH_01, "--lore", bomb_server.url])
    assert r["code"] == 3 and "answer too large" in r["stderr"] and len(r["stderr"].splitlines()) == 1
    assert r["maxrss_kb"] < RSS_LIMIT_KB, r
    assert r["seconds"] < 30


def test_100000_message_thread_is_refused_with_bounded_memory(big_thread_gz: bytes, tmp_path: Path) -> None:
    with serving(lambda h, n: send(h, 200, big_thread_gz)) as server:
        r = run_measured(["review", "big.5@example.com", "--lore", server.url])
    assert r["code"] == 3 and len(r["stderr"].splitlines()) == 1, r
    assert f"more than {fetch.MAX_THREAD_MESSAGES} messages" in r["stderr"]
    assert r["maxrss_kb"] < RSS_LIMIT_KB, r
    assert r["seconds"] < 30
    # The same thread as a local mbox: bad input (exit 2), same bounds.
    mbox = tmp_path / "big.mbox"
    mbox.write_bytes(gzip.decompress(big_thread_gz))
    r = run_measured(["review", "big.5@example.com", "--mbox", str(mbox)])
    assert r["code"] == 2 and "100000 messages" in r["stderr"] and len(r["stderr"].splitlines()) == 1, r
    assert r["maxrss_kb"] < RSS_LIMIT_KB, r
