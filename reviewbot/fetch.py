"""Where a thread comes from: a local mbox/maildir, a public-inbox archive, the bundled archive, the cache.

The only module that decides the source of a thread. The order is:

- `--mbox PATH`: that file or maildir and nothing else;
- `--lore URL`: that public-inbox archive and nothing else (b4's client, liblore's LoreNode);
- neither: the archives bundled with reviewbot (the real v1 BPF OOM thread, the demo, and a made-up v2
  of its patch 01 for `reviewbot versions`, so both work with no network), then the archive b4 is
  configured to use (`b4.midmask`, by default lore.kernel.org), unless offline.

Threads fetched from an archive are cached under `$XDG_CACHE_HOME/reviewbot/threads/` (one mbox per
archive and Message-ID, written atomically) and reused while younger than b4's `cache-expire`;
offline, a cached thread of any age is used. All talking to b4/liblore happens in reviewbot.lore.

A thread is untrusted input from the network, so every fetch is bounded (see docs/security.md):
an overall deadline (FETCH_DEADLINE) on top of liblore's connect and read timeouts, bounded
retries with backoff on 429/5xx, a cap on the bytes downloaded (MAX_DOWNLOAD_BYTES) and on the
decompressed thread (MAX_THREAD_BYTES, checked by streaming before anything is decompressed in
memory), and a cap on the number of messages (MAX_THREAD_MESSAGES). Local mailboxes get the same
size and message caps.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
import time
import urllib.parse
import zlib
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from reviewbot import lore
from reviewbot.errors import ArchiveError, InputError

_BUNDLED_NAME = "bpf-oom-v1.mbox"
# The bundled archives: (name in the wheel's _data/archive/, path in a source checkout). pyproject's
# force-include ships each one under its name.
_BUNDLED = (
    (_BUNDLED_NAME, "fixtures/bpf-oom-v1/thread.mbox"),
    ("bpf-oom-v2-made-up.mbox", "fixtures/bpf-oom-v2-made-up/thread.mbox"),
)

# Bounds on what one thread may cost (docs/security.md). A lore thread of a large series is a few MiB
# and a few hundred messages; the largest ones are tens of MiB and a few thousand.
FETCH_DEADLINE = 120.0  # seconds for a whole fetch, however the server trickles its answer
MAX_DOWNLOAD_BYTES = 64 << 20  # bytes of one HTTP answer as sent (t.mbox.gz is gzipped)
MAX_THREAD_BYTES = 256 << 20  # bytes of a thread decompressed: a gzip bomb stops here
MAX_THREAD_MESSAGES = 10_000  # messages in a thread (or local mailbox)
RETRIES = 3  # extra attempts after a 429/500/502/503/504 answer
BACKOFF = 0.25  # seconds before the first retry, doubled each time (Retry-After honoured up to 5 s)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Source:
    """Where to look for a thread (the `review` command's --mbox, --lore, --no-cache, --offline)."""

    mbox: str | None = None  # a local mbox file or maildir: the only source when given
    lore: str | None = None  # a public-inbox base URL: the only archive asked when given
    use_cache: bool = True  # False: do not read cached threads (a fetched thread is still cached)
    offline: bool = False  # never touch the network


# --------------------------------------------------------------------------------------------------
# Message-IDs
# --------------------------------------------------------------------------------------------------

_PREFIX_RE = re.compile(r"^(?:id|mid|msgid|rfc822msgid):", re.IGNORECASE)


def parse_msgid(text: str) -> str:
    """The bare Message-ID in `text`.

    Accepts `id@host`, `<id@host>`, `id:<id@host>`, `id:id@host`, a lore or any public-inbox message
    URL (`https://lore.kernel.org/<list>/<id>/`, also with `T/`, `t/`, `raw`, `t.mbox.gz`, a query or
    a `#fragment`), `https://lore.kernel.org/r/<id>` and `https://patch.msgid.link/<id>`; URL parts
    are percent-decoded. InputError for anything that is not a Message-ID.
    """
    raw = text if isinstance(text, str) else ""
    s = raw.strip()
    if re.match(r"^[a-z][a-z0-9+.-]*://", s, re.IGNORECASE):
        msgid = _msgid_from_url(s)
    else:
        s = _PREFIX_RE.sub("", s, count=1).strip()
        if s.startswith("<") and s.endswith(">"):
            s = s[1:-1].strip()
        if "@" not in s and "%40" in s.lower():
            s = urllib.parse.unquote(s)
        msgid = s
    if msgid is None or not _valid_msgid(msgid):
        raise InputError(f"not a Message-ID: {_shown(raw)} (expected id@host, <id@host>, id:id@host or a lore URL)")
    return msgid


def _msgid_from_url(url: str) -> str | None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    # The Message-ID is the first path segment holding an "@" (lore: /<list>/<id>/..., /r/<id>;
    # patch.msgid.link: /<id>). Split before decoding: an id may hold an escaped "/".
    for segment in parts.path.split("/"):
        decoded = urllib.parse.unquote(segment)
        if "@" in decoded:
            if decoded.startswith("<") and decoded.endswith(">"):
                decoded = decoded[1:-1]
            return decoded
    return None


def _valid_msgid(msgid: str) -> bool:
    if not msgid or len(msgid) > 998:
        return False
    if any(c.isspace() or c in "<>" or ord(c) < 32 or ord(c) == 127 for c in msgid):
        return False
    left, _, right = msgid.rpartition("@")
    return bool(left) and bool(right)


def _shown(text: str) -> str:
    text = " ".join(str(text).split())
    text = text if len(text) <= 80 else text[:77] + "..."
    return repr(text)


def _clean(msgid: str) -> str:
    """fetch_thread's argument, tolerated with angle brackets; InputError when it is no Message-ID."""
    s = (msgid or "").strip() if isinstance(msgid, str) else ""
    if s.startswith("<") and s.endswith(">"):
        s = s[1:-1].strip()
    if not _valid_msgid(s):
        raise InputError(f"not a Message-ID: {_shown(str(msgid))}")
    return s


# --------------------------------------------------------------------------------------------------
# Local mailboxes
# --------------------------------------------------------------------------------------------------


def read_messages(path: str) -> list[EmailMessage]:
    """Every message in a local mbox file (mboxrd or mboxo, also gzipped) or maildir, for
    thread.assemble: a reply from an mbox is parsed only as far as threading needs it, and read
    whole through lore.whole() when a finding's patch asks for it.

    InputError when the path is missing or unreadable, a directory that is not a maildir, a file
    that is not an mbox, or a mailbox with no messages.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such file or directory")
    if p.is_dir():
        if not lore.is_maildir(str(p)):
            raise InputError(f"{path}: a directory, but not a maildir (no cur/, new/ and tmp/)")
        try:
            msgs = lore.read_maildir(str(p))
        except OSError as ex:
            raise InputError(f"{path}: cannot read the maildir: {ex.strerror or ex}") from None
        if not msgs:
            raise InputError(f"{path}: the maildir holds no messages")
        return msgs
    try:
        if p.stat().st_size > MAX_THREAD_BYTES:
            raise InputError(f"{path}: larger than {_mib(MAX_THREAD_BYTES)}, more than reviewbot reads")
        data = p.read_bytes()
    except OSError as ex:
        raise InputError(f"{path}: cannot read: {ex.strerror or ex}") from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = b"".join(gunzip_chunks(data, MAX_THREAD_BYTES))
        except TooLarge:
            raise InputError(f"{path}: decompresses to more than {_mib(MAX_THREAD_BYTES)}, "
                             "more than reviewbot reads") from None
        except (Truncated, BadGzip):
            raise InputError(f"{path}: a damaged gzip file") from None
    if not data.strip():
        raise InputError(f"{path}: empty, no messages")
    if not data.lstrip(b"\r\n").startswith(b"From "):
        raise InputError(f"{path}: not an mbox (it does not start with a 'From ' line)")
    count = count_messages(data)
    if count > MAX_THREAD_MESSAGES:
        raise InputError(f"{path}: {count} messages, more than the {MAX_THREAD_MESSAGES} reviewbot reads in one thread")
    msgs = _split(lore.split_thread_mbox, data, InputError, str(path))  # for thread.assemble: replies in part
    if not any(m.keys() for m in msgs):
        raise InputError(f"{path}: the mbox holds no messages")
    return msgs


def _split(splitter, data: bytes, error: type, where: str) -> list[EmailMessage]:
    try:
        return splitter(lore.clip_header_lines(data))
    except RecursionError:  # the email parser recurses once per level of multipart nesting
        raise error(f"{where}: a message whose MIME parts are nested too deeply to read") from None


def bundled_archive_path() -> str:
    """The demo archive that ships with reviewbot (the real v1 thread): the installed wheel's copy
    when there is one, else the source checkout's fixtures/bpf-oom-v1/thread.mbox."""
    return bundled_archive_paths()[0]


def bundled_archive_paths() -> list[str]:
    """Every archive that ships with reviewbot, the real v1 thread first: the installed wheel's
    copies when there are, else the source checkout's fixtures."""
    here = Path(__file__).resolve().parent
    out = []
    for name, checkout in _BUNDLED:
        installed = here / "_data" / "archive" / name
        out.append(str(installed if installed.is_file() else here.parent / checkout))
    return out


# --------------------------------------------------------------------------------------------------
# The thread
# --------------------------------------------------------------------------------------------------


def fetch_thread(msgid: str, source: Source) -> list[EmailMessage]:
    """The messages of the thread that holds `msgid`, from the source(s) `source` allows."""
    msgid = _clean(msgid)

    if source.mbox is not None:
        thread = _thread_of(read_messages(source.mbox), msgid)
        if thread is None:
            raise InputError(f"Message-ID <{msgid}> is not in {source.mbox}")
        return thread

    if source.lore is not None:
        return _from_archive(msgid, lore_base_url(source.lore), source, only_this_archive=True)

    for bundled in bundled_archive_paths():
        if not os.path.isfile(bundled):
            continue
        try:
            thread = _thread_of(read_messages(bundled), msgid)
        except InputError:
            thread = None  # a damaged install: go on to the archive
        if thread is not None:
            return thread
    return _from_archive(msgid, lore.default_lore_url(), source, only_this_archive=False, bundled=True)


def lore_base_url(url: str) -> str:
    """A --lore URL as a public-inbox base URL ending in "/"; InputError when it is not http(s)."""
    s = (url or "").strip()
    parts = urllib.parse.urlsplit(s)
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise InputError(f"--lore: not a valid URL: {_shown(s)}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InputError(f"--lore: expected an http(s) archive URL such as https://lore.kernel.org/all/, got {_shown(s)}")
    path = parts.path.replace("/%s", "").replace("%s", "").rstrip("/")
    if not path:
        path = "/all"  # as b4 does for a bare origin
    return urllib.parse.urlunsplit((parts.scheme.lower(), parts.netloc, path + "/", "", ""))


def _thread_of(msgs: list[EmailMessage], msgid: str) -> list[EmailMessage] | None:
    """The thread holding msgid among msgs (first copy of each Message-ID), or None."""
    seen: set[str] = set()
    unique = []
    for msg in msgs:
        lore.sanitize(msg)
        mid = lore.clean_msgid(msg)
        if mid is None or mid in seen:
            continue
        seen.add(mid)
        unique.append(msg)
    if msgid not in seen:
        return None
    return lore.strict_thread(unique, msgid)


def _from_archive(
    msgid: str, base: str, source: Source, *, only_this_archive: bool, bundled: bool = False
) -> list[EmailMessage]:
    where = "the bundled archive or the cache" if bundled else f"the cache for {base}"
    if source.offline:
        if source.use_cache:
            data = _cache_read(base, msgid, max_age=None)
            if data is not None:
                thread = _thread_of(_split(lore.split_and_dedupe, data, InputError, "the cached thread"), msgid)
                if thread:
                    return thread
        raise InputError(f"Message-ID <{msgid}> is not in {where}, and offline mode does not ask {base}")

    if source.use_cache:
        data = _cache_read(base, msgid, max_age=lore.cache_ttl())
        if data is not None:
            thread = _thread_of(_split(lore.split_and_dedupe, data, InputError, "the cached thread"), msgid)
            if thread:
                return thread

    data = fetch_mbox(base, msgid, only_this_archive=only_this_archive)
    thread = _thread_of(_split(lore.split_and_dedupe, data, ArchiveError, f"lore at {base}"), msgid)
    if not thread:
        raise ArchiveError(
            f"lore at {base} could not be reached: its answer for <{msgid}> is not a thread holding that message"
        )
    _cache_write(base, msgid, data)
    return thread


# --------------------------------------------------------------------------------------------------
# The cache: $XDG_CACHE_HOME/reviewbot/threads/<sha256(base, msgid)>.mbox
# --------------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(home) / "reviewbot" / "threads"


def _cache_path(base: str, msgid: str) -> Path:
    key = hashlib.sha256(f"{base}\0{msgid}".encode()).hexdigest()
    return cache_dir() / f"{key}.mbox"


def _cache_read(base: str, msgid: str, *, max_age: float | None) -> bytes | None:
    path = _cache_path(base, msgid)
    try:
        st = path.stat()
        if max_age is not None and time.time() - st.st_mtime > max_age:
            return None
        if st.st_size > MAX_THREAD_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if count_messages(data) > MAX_THREAD_MESSAGES:
        return None
    return data or None


def _cache_write(base: str, msgid: str, data: bytes) -> None:
    """Best effort: a cache that cannot be written only means the next run fetches again."""
    path = _cache_path(base, msgid)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".mbox")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        tmp = None
    except OSError:
        pass
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


# --------------------------------------------------------------------------------------------------
# Bounded fetching: streaming gunzip with a cap, message counting, and an HTTP session for liblore
# that retries, caps and keeps to a deadline
# --------------------------------------------------------------------------------------------------


class TooLarge(Exception):
    """More bytes than the cap (download or decompressed)."""


class Truncated(Exception):
    """A gzip stream (or an HTTP body) that ends before its end."""


class BadGzip(Exception):
    """Bytes that are not gzip."""


_CHUNK = 1 << 20


def gunzip_chunks(data: bytes, limit: int):
    """Decompress gzip `data` (one or more members) in chunks of at most 1 MiB, never holding more
    than one chunk of output: TooLarge once the output passes `limit`, Truncated when the stream
    stops early, BadGzip when it is not gzip. Trailing zero padding is allowed, as gzip does."""
    total = 0
    rest = data
    while rest:
        if rest[:2] != b"\x1f\x8b":
            if total and not rest.strip(b"\0"):
                return
            raise BadGzip()
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        chunk_in = rest
        try:
            while True:
                out = d.decompress(chunk_in, _CHUNK)
                chunk_in = d.unconsumed_tail
                if out:
                    total += len(out)
                    if total > limit:
                        raise TooLarge()
                    yield out
                if d.eof:
                    break
                if not chunk_in and not out:
                    raise Truncated()
        except zlib.error:
            raise BadGzip() from None
        rest = d.unused_data


def _mib(n: int) -> str:
    return f"{n / (1 << 20):g} MiB"


def count_messages(data: bytes) -> int:
    """The number of messages in mbox bytes: its "From " separator lines."""
    return data.count(b"\nFrom ") + data.startswith(b"From ")


def _scan_thread(body: bytes) -> None:
    """Check a gzipped thread by streaming through it, before anything decompresses it whole:
    TooLarge (bytes or messages), Truncated, BadGzip."""
    count, tail = 0, b""
    for n, chunk in enumerate(gunzip_chunks(body, MAX_THREAD_BYTES)):
        if n == 0 and chunk.startswith(b"From "):
            count += 1
        count += (tail + chunk).count(b"\nFrom ")
        tail = chunk[-5:]
        if count > MAX_THREAD_MESSAGES:
            raise TooManyMessages(count)


class TooManyMessages(TooLarge):
    def __init__(self, count: int) -> None:
        super().__init__(count)
        self.count = count


class _Guard:
    """The deadline and cancel flag of one fetch, shared by the session and the waiting caller."""

    def __init__(self, deadline: float) -> None:
        self.end = time.monotonic() + deadline
        self.cancelled = threading.Event()

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def check(self) -> None:
        if self.cancelled.is_set() or self.remaining() <= 0:
            raise _Expired()

    def sleep(self, seconds: float) -> None:
        self.cancelled.wait(max(0.0, min(seconds, self.remaining())))
        self.check()


class _Expired(Exception):
    """The overall deadline passed (raised inside the fetch; the caller reports it)."""


def _guarded_session(guard: _Guard):
    """A requests.Session for liblore's LoreNode that streams every answer and reads it with the
    caps and the deadline, and retries 429/5xx with backoff. Its errors are not requests'
    ConnectionError/Timeout, so liblore lets them through instead of trying another host."""
    import importlib

    import requests

    getattr(requests, "__version__")  # a deferred stand-in (reviewbot.lore) loads the real module
    requests = importlib.import_module("requests")

    from reviewbot import __version__, lore as lore_

    class GuardedSession(requests.Session):
        def request(self, method, url, **kwargs):  # type: ignore[override]
            kwargs["stream"] = True
            connect, read = lore_.CONNECT_TIMEOUT, lore_.READ_TIMEOUT
            attempt = 0
            while True:
                guard.check()
                kwargs["timeout"] = (min(connect, max(guard.remaining(), 0.01)), min(read, max(guard.remaining(), 0.01)))
                resp = super().request(method, url, **kwargs)
                if resp.status_code in RETRY_STATUSES and attempt < RETRIES:
                    delay = _retry_delay(attempt, resp.headers.get("Retry-After"))
                    if delay < guard.remaining():
                        resp.close()
                        attempt += 1
                        guard.sleep(delay)
                        continue
                try:
                    body = _read_capped(resp, guard)
                finally:
                    resp.close()
                if method.upper() == "GET" and resp.status_code == 200 and body[:2] == b"\x1f\x8b":
                    _scan_thread(body)
                resp._content = body
                resp._content_consumed = True
                return resp

    session = GuardedSession()
    session.headers.update({"User-Agent": f"reviewbot/{__version__}", "Accept-Encoding": "identity"})
    return session


def _retry_delay(attempt: int, retry_after: str | None) -> float:
    delay = BACKOFF * (2 ** attempt)
    if retry_after and retry_after.strip().isdigit():
        delay = max(delay, min(float(retry_after.strip()), 5.0))
    return delay


def _read_capped(resp, guard: _Guard) -> bytes:
    """The body of a streamed answer as sent (no Content-Encoding decoding), within the caps."""
    import urllib3.exceptions

    buf = bytearray()
    try:
        while True:
            guard.check()
            chunk = resp.raw.read1(65536, decode_content=False)
            if not chunk:
                break
            buf += chunk
            if len(buf) > MAX_DOWNLOAD_BYTES:
                raise TooLarge(f"more than {_mib(MAX_DOWNLOAD_BYTES)} sent")
    except (urllib3.exceptions.ProtocolError, urllib3.exceptions.IncompleteRead):
        raise Truncated() from None
    except urllib3.exceptions.ReadTimeoutError as ex:
        import requests

        raise requests.ReadTimeout(ex) from None
    return bytes(buf)


def fetch_mbox(base: str, msgid: str, *, only_this_archive: bool, deadline: float | None = None) -> bytes:
    """lore.fetch_thread_mbox with every bound: the whole fetch (connect, retries, download)
    finishes within `deadline` seconds (FETCH_DEADLINE) or is an ArchiveError; so are an answer
    too large, a thread with too many messages and a truncated answer."""
    deadline = FETCH_DEADLINE if deadline is None else deadline
    guard = _Guard(deadline)
    shown = base if base.endswith("/") else base + "/"
    result: dict = {}

    def work() -> None:
        session = None
        try:
            session = _guarded_session(guard)
            result["data"] = lore.fetch_thread_mbox(base, msgid, only_this_archive=only_this_archive, session=session)
        except BaseException as ex:  # noqa: BLE001 - handed to the waiting thread
            result["error"] = ex
        finally:
            if session is not None:
                session.close()

    worker = threading.Thread(target=work, name="reviewbot-fetch", daemon=True)
    worker.start()
    worker.join(max(0.0, guard.remaining()) + 0.5)
    if worker.is_alive():
        guard.cancelled.set()  # the worker stops at its next read; it is a daemon thread meanwhile
        raise ArchiveError(f"lore at {shown} could not be reached: no complete answer within {deadline:g} s")
    ex = result.get("error")
    if ex is None:
        return result["data"]
    cause = ex.__cause__ or ex.__context__ if isinstance(ex, ArchiveError) else ex
    if isinstance(ex, TooManyMessages) or isinstance(cause, TooManyMessages):
        n = (ex if isinstance(ex, TooManyMessages) else cause).count
        raise ArchiveError(f"lore at {shown} answered wrongly: the thread has more than {MAX_THREAD_MESSAGES} "
                           f"messages ({n} counted so far), more than reviewbot reviews") from None
    if isinstance(ex, TooLarge) or isinstance(cause, TooLarge):
        what = (ex if isinstance(ex, TooLarge) else cause).args
        raise ArchiveError(f"lore at {shown} answered wrongly: answer too large "
                           f"({what[0] if what else f'more than {_mib(MAX_THREAD_BYTES)} decompressed'})") from None
    if isinstance(ex, Truncated) or isinstance(cause, Truncated):
        raise ArchiveError(f"lore at {shown} answered wrongly: the answer is cut short (a truncated gzip stream)") from None
    if isinstance(ex, BadGzip) or isinstance(cause, BadGzip):
        raise ArchiveError(f"lore at {shown} could not be reached: the answer is not a gzipped mbox") from None
    if isinstance(ex, _Expired) or isinstance(cause, _Expired):
        raise ArchiveError(f"lore at {shown} could not be reached: no complete answer within {deadline:g} s") from None
    raise ex
