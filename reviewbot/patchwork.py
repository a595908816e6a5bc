"""Patchwork checks: one check per patch of the review, through Patchwork's REST API.

For each patch: `GET /api/patches/?msgid=<id>` finds the Patchwork patch (one per project the mail
went to), `GET /api/patches/<id>/checks/` lists its checks (following the `Link: rel="next"`
pages), and `POST /api/patches/<id>/checks/` adds ours with `state` (success | warning | fail),
`context`, `description` and `target_url`, authenticated with `Authorization: Token <token>`.

Nothing is posted when the newest existing check with our context already has the same state and
description: running reviewbot twice on the same series leaves one check, and a new one appears
only when the result changes.

Network behaviour: httpx with a timeout on every request; connect errors are retried by httpx's
transport (`retries`), and 5xx answers by a small bounded loop with exponential backoff (a GET on
any 5xx or timeout; a POST only on 502/503/504, where the server did not act on it, so a retry
cannot post twice). Any failure ends in one ArchiveError line (exit 3).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

from reviewbot import __version__
from reviewbot.engine import Review
from reviewbot.errors import ArchiveError, InputError

STATES = ("pending", "success", "warning", "fail")
_CONTEXT = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
MAX_PAGES = 50
RETRY_STATUS_GET = frozenset(range(500, 600))
RETRY_STATUS_POST = frozenset({502, 503, 504})


@dataclass(frozen=True)
class CheckResult:
    msgid: str  # the patch's Message-ID
    patch_id: int | None  # Patchwork's id of the patch (None: Patchwork does not have it)
    state: str  # success | warning | fail
    description: str
    action: str  # "posted" | "unchanged" | "not-found"


def state_of(findings) -> str:
    severities = {f.severity for f in findings}
    if "error" in severities:
        return "fail"
    return "warning" if severities else "success"


def description_of(findings) -> str:
    if not findings:
        return "no findings"
    counts = {s: sum(1 for f in findings if f.severity == s) for s in ("error", "warning", "info")}
    parts = [f"{n} {s}{'s' if n != 1 and s != 'info' else ''}" for s, n in counts.items() if n]
    return ", ".join(parts) + ": " + ", ".join(sorted({f.rule for f in findings}))


def api_root(url: str) -> str:
    """https://patchwork.kernel.org, .../api or .../api/1.3 -> the API root without a slash."""
    url = (url or "").strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"patchwork URL {url!r} is not an http(s) URL")
    if re.search(r"/api(/\d+(\.\d+)*)?$", parts.path):
        return url
    return url + "/api"


class _Api:
    def __init__(self, url: str, token: str, client, retries: int, backoff: float, sleep: Callable):
        self.root = api_root(url)
        self.host = urlsplit(self.root).netloc
        self.token = token
        self.client = client
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep

    def _fail(self, method: str, url: str, why: str) -> ArchiveError:
        path = urlsplit(url).path or url
        return ArchiveError(f"patchwork {self.host}: {method} {path}: {why}")

    def request(self, method: str, url: str, **kw):
        import httpx

        retry_on = RETRY_STATUS_GET if method == "GET" else RETRY_STATUS_POST
        headers = {"Accept": "application/json", "User-Agent": f"reviewbot/{__version__}"}
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        attempt = 0
        while True:
            try:
                resp = self.client.request(method, url, headers=headers, **kw)
            except httpx.TimeoutException as exc:
                if method == "GET" and attempt < self.retries:
                    attempt += 1
                    self.sleep(self.backoff * 2 ** (attempt - 1))
                    continue
                raise self._fail(method, url, f"timed out ({type(exc).__name__})") from None
            except httpx.HTTPError as exc:
                raise self._fail(method, url, f"{type(exc).__name__}: {exc}".splitlines()[0]) from None
            if resp.status_code in retry_on and attempt < self.retries:
                attempt += 1
                self.sleep(self.backoff * 2 ** (attempt - 1))
                continue
            if resp.status_code in (401, 403):
                raise self._fail(method, url, f"HTTP {resp.status_code}, the token was refused ({_detail(resp)})")
            if resp.status_code >= 400:
                raise self._fail(method, url, f"HTTP {resp.status_code} ({_detail(resp)})")
            try:
                return resp, resp.json()
            except ValueError:
                raise self._fail(method, url, "the answer is not JSON") from None

    def get_list(self, url: str, params: dict | None = None) -> list[dict]:
        out: list[dict] = []
        for _ in range(MAX_PAGES):
            resp, data = self.request("GET", url, params=params)
            if not isinstance(data, list):
                raise self._fail("GET", url, "expected a JSON list")
            out.extend(x for x in data if isinstance(x, dict))
            nxt = resp.links.get("next", {}).get("url")
            if not nxt:
                return out
            if urlsplit(nxt).netloc not in ("", self.host):
                raise self._fail("GET", url, f"refusing to follow a next page on another host ({nxt})")
            url, params = nxt, None
        raise self._fail("GET", url, f"more than {MAX_PAGES} pages")


def _detail(resp) -> str:
    try:
        data = resp.json()
    except ValueError:
        data = None
    text = data.get("detail") if isinstance(data, dict) and data.get("detail") else resp.reason_phrase
    return " ".join(str(text or "").split())[:200]


def _newest(checks: list[dict], context: str) -> dict | None:
    ours = [c for c in checks if c.get("context") == context]
    if not ours:
        return None
    return max(ours, key=lambda c: (str(c.get("date") or ""), int(c.get("id") or 0)))


def post_checks(review: Review, *, url: str, token: str, context: str = "reviewbot", target_url: str | None = None,
                client=None, project: str | None = None, retries: int = 3, backoff: float = 0.5,
                timeout: float = 20.0, sleep: Callable[[float], None] = time.sleep) -> list[CheckResult]:
    """Post (or leave as it is) one check per patch of the review; see the module doc.

    url: the Patchwork instance (https://patchwork.kernel.org) or its API root. project: a
    Patchwork project linkname, when the same mail is in several projects and only one is wanted.
    client: an httpx.Client to use (default: one of our own, closed afterwards).
    """
    import httpx

    if not token:
        raise InputError("patchwork: posting checks needs an API token")
    if not _CONTEXT.match(context or ""):
        raise InputError(f"patchwork: context {context!r} must be letters, digits, '-' or '_'")
    own = client is None
    if own:
        client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=httpx.HTTPTransport(retries=retries),
            follow_redirects=True,
        )
    api = _Api(url, token, client, retries, backoff, sleep)
    by_patch: dict[str, list] = {}
    for f in review.findings:
        by_patch.setdefault(f.patch, []).append(f)
    results: list[CheckResult] = []
    try:
        for patch in review.series.patches:
            found = by_patch.get(patch.msgid, [])
            state, description = state_of(found), description_of(found)
            params = {"msgid": patch.msgid}
            if project:
                params["project"] = project
            matches = api.get_list(f"{api.root}/patches/", params)
            if not matches:
                results.append(CheckResult(patch.msgid, None, state, description, "not-found"))
                continue
            for pw in sorted(matches, key=lambda p: int(p.get("id") or 0)):
                pid = pw.get("id")
                if not isinstance(pid, int):
                    raise api._fail("GET", f"{api.root}/patches/", "a patch without an id")
                checks_url = f"{api.root}/patches/{pid}/checks/"
                newest = _newest(api.get_list(checks_url), context)
                if newest is not None and (newest.get("state"), newest.get("description") or "") == (state, description):
                    results.append(CheckResult(patch.msgid, pid, state, description, "unchanged"))
                    continue
                body = {"state": state, "context": context, "description": description}
                if target_url:
                    body["target_url"] = target_url
                api.request("POST", checks_url, json=body)
                results.append(CheckResult(patch.msgid, pid, state, description, "posted"))
    finally:
        if own:
            client.close()
    return results
