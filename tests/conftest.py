"""Shared fixtures: a real public-inbox archive of the v1 thread, and servers that fail in known ways.

- public_inbox_url (session): a public-inbox v2 inbox built from fixtures/bpf-oom-v1/messages/*.eml,
  served by public-inbox-httpd on 127.0.0.1; the value is its base URL, "http://127.0.0.1:PORT/bpf/".
  Skipped when the public-inbox binaries are missing, except under CI=true, where .ci/run installs
  them and a missing binary is a failure.
- public_inbox (session): the same server as a tests.pi_server.PublicInbox (its .url, .root, ...).
- down_url, http500_url, garbage_url, redirect_loop_url, hang_url (session): base URLs of a port
  where nothing listens, a server answering 500 to everything, one answering 200 with a body that
  is not gzip, one redirecting to itself, and one that accepts and never answers.
- Every test gets its own empty XDG_CACHE_HOME (no thread cache shared between tests or with the
  user's), and 127.0.0.1 bypasses any HTTP proxy in the environment.

Nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import pi_server

ROOT = Path(__file__).resolve().parent.parent
V1_MESSAGES = ROOT / "fixtures" / "bpf-oom-v1" / "messages"
V1_COVER = "20250818170136.209169-1-roman.gushchin@linux.dev"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    for var in ("no_proxy", "NO_PROXY"):
        old = os.environ.get(var, "")
        monkeypatch.setenv(var, ",".join(x for x in ("127.0.0.1", "localhost", old) if x))


@pytest.fixture(scope="session")
def public_inbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pi_server.PublicInbox]:
    missing = pi_server.missing_binaries()
    if missing:
        reason = f"public-inbox not installed (missing: {', '.join(missing)}); apt-get install public-inbox"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} -- .ci/run should have installed it")
        pytest.skip(reason)
    files = sorted(V1_MESSAGES.glob("*.eml"))
    inbox = pi_server.PublicInbox(tmp_path_factory.mktemp("public-inbox"), "bpf", "bpf@vger.kernel.org")
    inbox.build([f.read_bytes() for f in files])
    inbox.start()
    try:
        # Every message must have arrived: public-inbox must not have dropped or rejected any.
        served = inbox.thread_msgids(V1_COVER)
        manifest = (V1_MESSAGES.parent / "MANIFEST.tsv").read_text().splitlines()[1:]
        expected = {line.split("\t")[0].strip("<>") for line in manifest}
        assert served == expected, f"the archive serves {len(served)} of {len(expected)} messages"
        yield inbox
    finally:
        inbox.stop()


@pytest.fixture(scope="session")
def public_inbox_url(public_inbox: pi_server.PublicInbox) -> str:
    return public_inbox.url


@pytest.fixture(scope="session")
def down_url() -> Iterator[str]:
    server = pi_server.DownServer()
    yield server.url
    server.close()


def _stdlib_server(kind: str) -> Iterator[str]:
    server = pi_server.StdlibServer(kind)
    yield server.url
    server.close()


@pytest.fixture(scope="session")
def http500_url() -> Iterator[str]:
    yield from _stdlib_server("500")


@pytest.fixture(scope="session")
def garbage_url() -> Iterator[str]:
    yield from _stdlib_server("garbage")


@pytest.fixture(scope="session")
def redirect_loop_url() -> Iterator[str]:
    yield from _stdlib_server("redirect")


@pytest.fixture(scope="session")
def hang_url() -> Iterator[str]:
    server = pi_server.HangServer()
    yield server.url
    server.close()
