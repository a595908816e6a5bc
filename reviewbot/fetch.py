"""Where a thread comes from: a local mbox/maildir, a public-inbox archive, the bundled archive, the cache.

The only module that decides the source of a thread. The order is:

- `--mbox PATH`: that file or maildir and nothing else;
- `--lore URL`: that public-inbox archive and nothing else (b4's client, liblore's LoreNode);
- neither: the archive bundled with reviewbot (the demo thread, so it works with no network), then the
  archive b4 is configured to use (`b4.midmask`, by default lore.kernel.org), unless offline.

Threads fetched from an archive are cached under `$XDG_CACHE_HOME/reviewbot/threads/` (one mbox per
archive and Message-ID, written atomically) and reused while younger than b4's `cache-expire`;
offline, a cached thread of any age is used. All talking to b4/liblore happens in reviewbot.lore.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from reviewbot import lore
from reviewbot.errors import ArchiveError, InputError

_BUNDLED_NAME = "bpf-oom-v1.mbox"


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
    """Every message in a local mbox file (mboxrd or mboxo, also gzipped) or maildir.

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
        data = p.read_bytes()
    except OSError as ex:
        raise InputError(f"{path}: cannot read: {ex.strerror or ex}") from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, ValueError):
            raise InputError(f"{path}: a damaged gzip file") from None
    if not data.strip():
        raise InputError(f"{path}: empty, no messages")
    if not data.lstrip(b"\r\n").startswith(b"From "):
        raise InputError(f"{path}: not an mbox (it does not start with a 'From ' line)")
    msgs = lore.split_mbox(data)
    if not any(m.keys() for m in msgs):
        raise InputError(f"{path}: the mbox holds no messages")
    return msgs


def bundled_archive_path() -> str:
    """The archive that ships with reviewbot: the installed wheel's copy when there is one, else the
    source checkout's fixtures/bpf-oom-v1/thread.mbox."""
    here = Path(__file__).resolve().parent
    installed = here / "_data" / "archive" / _BUNDLED_NAME
    if installed.is_file():
        return str(installed)
    return str(here.parent / "fixtures" / "bpf-oom-v1" / "thread.mbox")


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

    bundled = bundled_archive_path()
    if os.path.isfile(bundled):
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
                thread = _thread_of(lore.split_and_dedupe(data), msgid)
                if thread:
                    return thread
        raise InputError(f"Message-ID <{msgid}> is not in {where}, and offline mode does not ask {base}")

    if source.use_cache:
        data = _cache_read(base, msgid, max_age=lore.cache_ttl())
        if data is not None:
            thread = _thread_of(lore.split_and_dedupe(data), msgid)
            if thread:
                return thread

    data = lore.fetch_thread_mbox(base, msgid, only_this_archive=only_this_archive)
    thread = _thread_of(lore.split_and_dedupe(data), msgid)
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
        if max_age is not None and time.time() - path.stat().st_mtime > max_age:
            return None
        data = path.read_bytes()
    except OSError:
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
