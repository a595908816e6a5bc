"""Test servers on 127.0.0.1: a real public-inbox archive, and small stdlib servers that misbehave.

build_inbox() makes a public-inbox v2 inbox from a folder of raw messages (*.eml) the way the v2
format stores mail: one git commit per message whose tree holds the raw message as the blob "m"
(written with `git fast-import`, which takes 0.1 s where 80 `public-inbox-mda` runs take 25 s), then
`public-inbox-index` builds the search/overview databases. start_httpd() serves it with
`public-inbox-httpd`. Everything (HOME, PI_CONFIG, logs) lives in the given directory.

Only addresses on 127.0.0.1 are used.

From a checkout, `python -m tests.pi_server fixtures/bpf-oom-v1/messages --port 8080` serves a folder
of *.eml files (or an mbox) as the list "bpf" at http://127.0.0.1:8080/bpf/ until it is stopped
(^C or SIGTERM): the local archive the README's `reviewbot watch` example polls. It needs the
public-inbox programs (Debian: apt-get install public-inbox).
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import gzip
import http.server
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

PI_BINARIES = ("public-inbox-init", "public-inbox-index", "public-inbox-httpd", "git")


def missing_binaries() -> list[str]:
    return [b for b in PI_BINARIES if shutil.which(b) is None]


class PublicInbox:
    """A public-inbox v2 inbox in `root`, and (once started) public-inbox-httpd serving it."""

    def __init__(self, root: Path, name: str, address: str) -> None:
        self.root = root
        self.name = name
        self.address = address
        self.inboxdir = root / "inbox" / name
        self.config = root / "pi_config"
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(root),
            "PI_CONFIG": str(self.config),
            "PI_DIR": str(root / ".public-inbox"),
            "XDG_CONFIG_HOME": str(root / ".config"),
            "XDG_DATA_HOME": str(root / ".local" / "share"),
            "XDG_CACHE_HOME": str(root / ".cache"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "TZ": "UTC",
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.name}/"

    def _run(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(
            list(args), env=self.env, cwd=self.root, check=True, capture_output=True, timeout=120, **kw
        )

    def build(self, messages: list[bytes]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._run(
            "public-inbox-init", "-V2", "-L", "basic", self.name, str(self.inboxdir),
            f"http://127.0.0.1/{self.name}", self.address,
        )  # fmt: skip
        # No spam filter for anything that might deliver later (we import directly, but be explicit).
        self._run("git", "config", "-f", str(self.config), "publicinboxmda.spamcheck", "none")
        self._run(
            "git", "--git-dir", str(self.inboxdir / "git" / "0.git"), "fast-import", "--quiet",
            input=_fast_import_stream(messages, self.address),
        )  # fmt: skip
        self._run("public-inbox-index", str(self.inboxdir))

    def start(self, attempts: int = 3, wait: float = 30.0, port: int | None = None) -> str:
        """Start public-inbox-httpd on 127.0.0.1 (on `port`, else a free one) and wait until it answers."""
        last = ""
        for _ in range(1 if port else attempts):
            self.port = port or free_port()
            # Redirects public-inbox makes point at its configured URL: make it this server's.
            self._run("git", "config", "-f", str(self.config), f"publicinbox.{self.name}.url", self.url.rstrip("/"))
            log = open(self.root / "httpd.log", "ab")
            self.proc = subprocess.Popen(
                ["public-inbox-httpd", "-W", "0", "-l", f"127.0.0.1:{self.port}"],
                env=self.env, cwd=self.root, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )  # fmt: skip
            log.close()
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with urllib.request.urlopen(self.url, timeout=2) as resp:
                        if resp.status == 200:
                            return self.url
                except (urllib.error.URLError, OSError):
                    pass
                time.sleep(0.1)
            last = (self.root / "httpd.log").read_text(errors="replace")[-2000:]
            self.stop()
        raise RuntimeError(f"public-inbox-httpd did not come up: {last}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def thread_msgids(self, msgid: str) -> set[str]:
        """The Message-IDs the server's t.mbox.gz holds for msgid (a sanity check of the fixture)."""
        url = f"{self.url}{urllib.parse.quote(msgid, safe='@')}/t.mbox.gz"
        with urllib.request.urlopen(url, timeout=10) as resp:
            data = gzip.decompress(resp.read())
        ids = set()
        for line in data.split(b"\n"):
            if line[:11].lower() == b"message-id:":
                ids.add(line[11:].strip().strip(b"<>").decode())
        return ids


def _fast_import_stream(messages: list[bytes], address: str) -> bytes:
    """A `git fast-import` stream with one commit per message, in Date order (v2 inbox layout)."""
    dated = []
    for i, raw in enumerate(messages):
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        try:
            ts = email.utils.mktime_tz(email.utils.parsedate_tz(msg["Date"]))
        except (TypeError, ValueError, OverflowError):
            ts = i
        name, addr = email.utils.parseaddr(str(msg["From"] or ""))
        dated.append((ts, i, raw, name, addr, str(msg["Subject"] or "")))
    dated.sort()
    out = bytearray()
    for ts, _, raw, name, addr, subject in dated:
        name = "".join(c for c in name if c not in "<>\n\r") or "unknown"
        addr = "".join(c for c in addr if c not in "<>\n\r ") or "unknown@example.invalid"
        subject_b = " ".join(subject.split()).encode("utf-8", "replace")
        out += b"commit refs/heads/master\n"
        out += f"author {name} <{addr}> {ts} +0000\n".encode("utf-8", "replace")
        out += f"committer {address} <{address}> {ts} +0000\n".encode()
        out += b"data %d\n%s\n" % (len(subject_b), subject_b)
        out += b"M 100644 inline m\ndata %d\n%s\n" % (len(raw), raw)
    return bytes(out)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------------
# Misbehaving servers
# --------------------------------------------------------------------------------------------------


class DownServer:
    """A port on 127.0.0.1 where nothing listens: bound (so nobody else takes it) but not listening,
    so every connection is refused at once."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/bpf/"

    def close(self) -> None:
        self.sock.close()


class _Quiet(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output clean
        pass


def _handler(kind: str):
    class Handler(_Quiet):
        def _answer(self) -> None:
            if kind == "500":
                body = b"Internal Server Error\n"
                self.send_response(500)
                self.send_header("Content-Type", "text/plain")
            elif kind == "garbage":
                body = b"<html><body>this is not a gzipped mbox</body></html>\n"
                self.send_response(200)
                self.send_header("Content-Type", "application/gzip")
            elif kind == "redirect":
                body = b""
                self.send_response(302)
                self.send_header("Location", self.path)  # to itself, forever
            else:
                raise AssertionError(kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_HEAD = do_POST = _answer

    return Handler


class StdlibServer:
    """http.server in a thread on 127.0.0.1: kind "500" (HTTP 500 to everything), "garbage" (200 with
    a body that is not gzip), "redirect" (302 to the same URL, a redirect loop)."""

    def __init__(self, kind: str) -> None:
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(kind))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/bpf/"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


class HangServer:
    """Accepts connections on 127.0.0.1 and never answers (holds them open until close())."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/bpf/"
        self.conns: list[socket.socket] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        for conn in self.conns:
            conn.close()
        self.sock.close()


# --------------------------------------------------------------------------------------------------
# A local archive to try `reviewbot watch` on (the README's example)
# --------------------------------------------------------------------------------------------------


def _read_messages(source: Path) -> list[bytes]:
    if source.is_dir():
        return [f.read_bytes() for f in sorted(source.glob("*.eml"))]
    from reviewbot import lore

    return lore.split_mbox_raw(source.read_bytes())


def main(argv: list[str] | None = None) -> int:
    import argparse
    import signal
    import sys
    import tempfile

    parser = argparse.ArgumentParser(prog="python -m tests.pi_server",
                                     description="Serve messages as a public-inbox list on 127.0.0.1 until stopped.")
    parser.add_argument("messages", type=Path, help="a folder of *.eml files, or an mbox")
    parser.add_argument("--port", type=int, default=8080, help="the port on 127.0.0.1 (default 8080)")
    parser.add_argument("--name", default="bpf", help="the list's name in the URL (default bpf)")
    parser.add_argument("--address", default="bpf@vger.kernel.org", help="the list's address")
    args = parser.parse_args(argv)
    missing = missing_binaries()
    if missing:
        sys.stderr.write(f"pi_server: missing {', '.join(missing)} (Debian: apt-get install public-inbox)\n")
        return 1
    messages = _read_messages(args.messages)
    if not messages:
        sys.stderr.write(f"pi_server: no messages in {args.messages}\n")
        return 1
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with tempfile.TemporaryDirectory(prefix="pi_server-") as tmp:
        inbox = PublicInbox(Path(tmp), args.name, args.address)
        inbox.build(messages)
        try:
            url = inbox.start(port=args.port)
            print(f"serving {len(messages)} messages at {url} (^C stops it)", flush=True)
            while not stop.wait(0.5):
                if inbox.proc is None or inbox.proc.poll() is not None:
                    sys.stderr.write("pi_server: public-inbox-httpd ended\n")
                    return 1
        finally:
            inbox.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
