"""Everything reviewbot asks of b4 and liblore. The only module that imports them.

b4 knows how lore works (Message-ID lookups, mboxrd, its git config, series and versions); we use
its library instead of re-implementing any of that. It is imported lazily, inside each function,
because `import b4` alone costs about 0.2 s and not every path needs it (`reviewbot rules`,
`reviewbot parse`, ...).
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from typing import Any

# b4 logs through the "b4" logger; its messages are for b4's own CLI, not ours.
logging.getLogger("b4").addHandler(logging.NullHandler())
logging.getLogger("b4").propagate = False


def split_mbox(data: bytes) -> list[EmailMessage]:
    """Split mbox bytes (mboxrd or mboxo, as lore and git send them) into messages."""
    import liblore.utils

    return list(liblore.utils.split_mbox(data))


def read_maildir(path: str) -> list[EmailMessage]:
    import b4

    return list(b4.get_msgs_from_mailbox_or_maildir(path))


def is_maildir(path: str) -> bool:
    import b4

    return bool(b4.is_maildir(path))


def clean_msgid(msg: EmailMessage) -> str | None:
    import b4

    return b4.LoreMessage.get_clean_msgid(msg)


def series_mailbox(msgs: list[EmailMessage]) -> Any:
    """A b4 LoreMailbox holding these messages: b4 sorts them into versions, covers, patches."""
    import b4

    mailbox = b4.LoreMailbox()
    for msg in msgs:
        mailbox.add_message(msg)
    return mailbox


def mailbox_series(mailbox: Any, revision: int | None) -> Any:
    """The LoreSeries of that revision (latest when None), or None.

    codereview_trailers=False: b4 would otherwise search lore for trailers sent in other threads,
    which is a network query we do not want in a review.
    """
    return mailbox.get_series(revision, codereview_trailers=False)


# ---------------------------------------------------------------------------------------------------
# Fetching a thread from a public-inbox archive (lore.kernel.org or any other), through liblore's
# LoreNode, the same client b4 uses. reviewbot.fetch decides *where* to ask; this part only asks and
# turns every way the answer can go wrong into one of our two one-line errors.
# ---------------------------------------------------------------------------------------------------

# liblore logs warnings ("Request to ... failed, trying next host") for b4's CLI; with no handler
# configured Python's last-resort handler would print them on stderr, so they go nowhere.
logging.getLogger("liblore").addHandler(logging.NullHandler())
logging.getLogger("liblore").propagate = False

# Seconds to wait for a TCP connection, and for each read of the answer. A server that is down
# fails at once (connection refused); one that accepts and never answers fails after READ_TIMEOUT.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0


def b4_config() -> dict:
    """b4's main config (git config b4.*, a worktree's .b4-config), loaded once per process.

    Read-only for us: we never change b4's globals (its config or its global LoreNode), so one
    `--lore URL` cannot leak into the next fetch in the same process.
    """
    import b4

    if not b4.MAIN_CONFIG:
        b4._setup_main_config()
    return b4.get_main_config()


def default_lore_url() -> str:
    """The archive b4 is configured to use: b4.midmask without "%s" (default lore.kernel.org/all/).

    The same derivation as b4.get_lore_node(), which we do not call because it builds b4's global
    node with b4's timeouts.
    """
    import urllib.parse

    midmask = str(b4_config().get("midmask") or "https://lore.kernel.org/all/%s")
    base = midmask.replace("/%s", "").replace("%s", "").rstrip("/")
    if not urllib.parse.urlsplit(base).path.strip("/"):
        base += "/all"
    return base + "/"


def cache_ttl() -> int:
    """Seconds a fetched thread stays fresh: b4's cache-expire (minutes, default 10)."""
    try:
        return max(0, int(str(b4_config().get("cache-expire", "10")))) * 60
    except ValueError:
        return 600


def fetch_thread_mbox(base_url: str, msgid: str, *, only_this_archive: bool) -> bytes:
    """The thread holding `msgid` as mbox bytes (t.mbox.gz, decompressed) from the archive at base_url.

    only_this_archive: ask that server and nothing else (no git-config fallback hosts, no partial
    mirror's upstream); used for an explicit --lore URL. Otherwise the node is configured from git
    config the way b4 configures its own (fallbacks, useragentplus, ...).

    Nothing is cached here (reviewbot.fetch keeps its own cache, so it can answer offline).
    Raises InputError when the archive says it does not have msgid (404), ArchiveError for every
    other failure: no connection, timeout, 5xx, redirect loop, an answer that is not a gzipped mbox.
    """
    import liblore

    from reviewbot import __version__
    from reviewbot.errors import ArchiveError, InputError

    timeout = (CONNECT_TIMEOUT, READ_TIMEOUT)
    shown = base_url if base_url.endswith("/") else base_url + "/"

    def unreachable(reason: str) -> ArchiveError:
        return ArchiveError(f"lore at {shown} could not be reached: {_one_line(reason)}")

    node = None
    try:
        kwargs: dict[str, Any] = {"request_timeout": timeout, "cache_dir": None, "auto_probe": False}
        if only_this_archive:
            kwargs.update(fallback_urls=[], follow_upstream=False)
        node = liblore.LoreNode.from_git_config(base_url.rstrip("/"), **kwargs)
        node.set_user_agent("reviewbot", __version__)
        data = node.get_mbox_by_msgid(msgid, nocache=True)
    except liblore.RemoteError as ex:
        if ex.status_code == 404:
            raise InputError(f"Message-ID <{msgid}> not found at {shown}") from None
        raise unreachable(_remote_reason(ex, timeout)) from None
    except Exception as ex:  # noqa: BLE001 - the network boundary: every failure becomes one line
        raise unreachable(_other_reason(ex)) from None
    finally:
        if node is not None:
            node.close()
    if not data:
        raise unreachable("the archive answered with an empty thread")
    return data


def split_and_dedupe(data: bytes) -> list[EmailMessage]:
    """Split an archive's mbox answer and drop duplicate Message-IDs the way b4 does
    (keeping the copy from the list b4's listid-preference prefers)."""
    import b4

    b4_config()
    return list(b4.split_and_dedupe_pi_results(data))


def strict_thread(msgs: list[EmailMessage], msgid: str) -> list[EmailMessage] | None:
    """The messages of the thread holding msgid, as b4 selects them (b4.get_strict_thread): a
    series posted in reply to an unrelated discussion is cut loose from it. None if msgid is absent."""
    import b4

    if not any(clean_msgid(m) == msgid for m in msgs):
        return None
    return b4.get_strict_thread(msgs, msgid)


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _remote_reason(ex: Exception, timeout: tuple[float, float]) -> str:
    status = getattr(ex, "status_code", None)
    if status is not None:
        if status >= 500:
            return f"the server answered HTTP {status}"
        return f"the server answered HTTP {status} (expected 200 or 404)"
    return _other_reason(ex.__cause__ or ex, timeout)


def _other_reason(ex: BaseException, timeout: tuple[float, float] | None = None) -> str:
    import gzip
    import zlib

    import requests

    connect, read = timeout or (CONNECT_TIMEOUT, READ_TIMEOUT)
    if isinstance(ex, requests.ConnectTimeout):
        return f"no connection within {connect:g} s"
    if isinstance(ex, requests.ReadTimeout):
        return f"no answer within {read:g} s"
    if isinstance(ex, requests.TooManyRedirects):
        return "too many redirects (a redirect loop)"
    if isinstance(ex, (gzip.BadGzipFile, EOFError, zlib.error)):
        return "the answer is not a gzipped mbox"
    if isinstance(ex, requests.ConnectionError):
        text = str(ex)
        if "Connection refused" in text:
            return "connection refused"
        if "Name or service not known" in text or "NameResolutionError" in text or "getaddrinfo" in text:
            return "the host name could not be resolved"
        if "timed out" in text:
            return f"no answer within {read:g} s"
        return f"connection failed ({text})"
    if isinstance(ex, requests.RequestException):
        return f"{type(ex).__name__}: {ex}"
    return f"{type(ex).__name__}: {ex}" if str(ex) else type(ex).__name__
