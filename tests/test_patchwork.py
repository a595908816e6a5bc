"""Patchwork checks against a small Patchwork REST API on 127.0.0.1 (stdlib http.server in a thread).

The fake implements what reviewbot uses, as Patchwork documents it: GET /api/patches/?msgid= (the
msgid filter, with or without <>), GET/POST /api/patches/<id>/checks/ (paginated with per_page and
a Link: rel="next" header; POST needs `Authorization: Token <token>`, answers 401 otherwise, 400 on
a bad state, 201 with the check), and a flaky mode that answers 503 a given number of times first.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from reviewbot import patchwork
from reviewbot.engine import Review
from reviewbot.errors import ArchiveError, InputError
from reviewbot.finding import Finding
from tests.helpers import v1_series

TOKEN = "s3cret"


class FakePatchwork:
    def __init__(self, patches: dict[str, list[int]], per_page_max: int = 2):
        self.patches = patches  # msgid -> Patchwork patch ids (one per project)
        self.checks: dict[int, list[dict]] = {pid: [] for ids in patches.values() for pid in ids}
        self.per_page_max = per_page_max
        self.fail_first = 0  # answer 503 to this many requests first
        self.fail_posts = 0  # answer fail_code to this many POSTs first
        self.fail_code = 503
        self.requests: list[tuple[str, str]] = []
        self.auth_seen: list[str | None] = []
        self.clock = 0
        self.lock = threading.Lock()

    def add_check(self, pid: int, state: str, description: str, context="reviewbot", user="bot"):
        with self.lock:
            self.clock += 1
            check = {"id": self.clock, "url": f"/api/patches/{pid}/checks/{self.clock}/",
                     "user": {"username": user}, "date": f"2025-08-19T10:{self.clock:02d}:00",
                     "state": state, "target_url": None, "context": context, "description": description}
            self.checks[pid].append(check)
            return check

    def posts(self):
        return [r for r in self.requests if r[0] == "POST"]


def make_handler(fake: FakePatchwork):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _send(self, code: int, data, headers=None):
            body = json.dumps(data).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _flaky(self) -> bool:
            with fake.lock:
                fake.requests.append((self.command, self.path))
                fake.auth_seen.append(self.headers.get("Authorization"))
                if fake.fail_first > 0:
                    fake.fail_first -= 1
                    return True
            return False

        def do_GET(self):
            if self._flaky():
                return self._send(503, {"detail": "try later"})
            parts = urlsplit(self.path)
            q = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path == "/api/patches/":
                msgid = "<" + q.get("msgid", "").strip("<>") + ">"
                found = [{"id": pid, "msgid": msgid, "name": "x", "url": f"/api/patches/{pid}/"}
                         for key, ids in fake.patches.items() if "<" + key + ">" == msgid for pid in ids]
                return self._send(200, found)
            pid = self._checks_pid(parts.path)
            if pid is None:
                return self._send(404, {"detail": "Not found."})
            items = sorted(fake.checks[pid], key=lambda c: c["id"])
            per_page = min(int(q.get("per_page", fake.per_page_max)), fake.per_page_max)
            page = int(q.get("page", 1))
            chunk = items[(page - 1) * per_page: page * per_page]
            headers = {}
            if page * per_page < len(items):
                host = self.headers.get("Host")
                headers["Link"] = f'<http://{host}{parts.path}?page={page + 1}&per_page={per_page}>; rel="next"'
            return self._send(200, chunk, headers)

        def do_POST(self):
            if self._flaky():
                return self._send(503, {"detail": "try later"})
            with fake.lock:
                if fake.fail_posts > 0:
                    fake.fail_posts -= 1
                    return self._send(fake.fail_code, {"detail": "busy"})
            pid = self._checks_pid(urlsplit(self.path).path)
            if pid is None:
                return self._send(404, {"detail": "Not found."})
            if self.headers.get("Authorization") != f"Token {TOKEN}":
                return self._send(401, {"detail": "Invalid token."}, {"WWW-Authenticate": "Token"})
            data = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if data.get("state") not in patchwork.STATES:
                return self._send(400, {"state": ["bad state"]})
            check = fake.add_check(pid, data["state"], data.get("description", ""), data.get("context", "default"))
            check["target_url"] = data.get("target_url")
            return self._send(201, check)

        def _checks_pid(self, path: str):
            bits = path.strip("/").split("/")
            if len(bits) == 4 and bits[:2] == ["api", "patches"] and bits[3] == "checks" and bits[2].isdigit():
                pid = int(bits[2])
                return pid if pid in fake.checks else None
            return None

    return Handler


@pytest.fixture()
def server():
    series = v1_series()
    fake = FakePatchwork({series.patches[0].msgid: [101], series.patches[1].msgid: [102]})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(fake))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield fake
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def review(*findings, n=2) -> Review:
    series = v1_series()
    return Review(series=replace(series, patches=series.patches[:n]), findings=tuple(findings))


def finding(severity="warning", rule="TEST001", patch=None):
    patch = patch or v1_series().patches[0].msgid
    return Finding(rule, severity, "high", patch, "mm/bpf_oom.c", 31, 31, "m")


def post(fake, rv, **kw):
    kw.setdefault("backoff", 0)
    return patchwork.post_checks(rv, url=fake.url, token=kw.pop("token", TOKEN), **kw)


def test_posts_one_check_per_patch(server):
    p1, p2 = (p.msgid for p in v1_series().patches[:2])
    out = post(server, review(finding("error", "TEST002"), finding("warning")), target_url="https://ci.example/1")
    assert [(r.msgid, r.patch_id, r.state, r.action) for r in out] == [
        (p1, 101, "fail", "posted"), (p2, 102, "success", "posted")]
    c1, = server.checks[101]
    assert (c1["state"], c1["context"], c1["description"], c1["target_url"]) == (
        "fail", "reviewbot", "1 error, 1 warning: TEST001, TEST002", "https://ci.example/1")
    c2, = server.checks[102]
    assert (c2["state"], c2["description"]) == ("success", "no findings")
    assert all(a == f"Token {TOKEN}" for a in server.auth_seen)
    assert ("GET", f"/api/patches/?msgid={p1.replace('@', '%40')}") in server.requests


def test_no_duplicate_on_a_second_run_and_a_new_post_when_the_state_changes(server):
    rv = review(finding("warning"))
    post(server, rv)
    again = post(server, rv)
    assert [r.action for r in again] == ["unchanged", "unchanged"]
    assert len(server.posts()) == 2 and len(server.checks[101]) == 1
    changed = post(server, review())  # the warning is gone: 01 now passes
    assert [(r.state, r.action) for r in changed] == [("success", "posted"), ("success", "unchanged")]
    assert [c["state"] for c in server.checks[101]] == ["warning", "success"]


def test_only_the_newest_check_of_our_context_counts_across_pages(server):
    # five checks on 101 (pages of two): ours, then others, then a newer one of ours that differs
    server.add_check(101, "warning", "1 warning: TEST001")
    server.add_check(101, "success", "all good", context="checkpatch")
    server.add_check(101, "fail", "build broke", context="build")
    server.add_check(101, "success", "no findings")
    server.add_check(101, "warning", "1 warning: TEST001", context="other-bot")
    out = post(server, review(finding("warning"), n=1))
    assert out[0].action == "posted"  # newest of ours says success, we say warning
    out = post(server, review(finding("warning"), n=1))
    assert out[0].action == "unchanged"
    pages = [p for m, p in server.requests if m == "GET" and "/checks/" in p]
    assert any("page=3" in p for p in pages)  # all pages were read


def test_patches_patchwork_does_not_have_are_reported_not_posted(server):
    out = post(server, review(n=3))
    assert [r.action for r in out] == ["posted", "posted", "not-found"]
    assert out[2].patch_id is None and len(server.posts()) == 2


def test_auth_failure_is_one_archive_error(server):
    with pytest.raises(ArchiveError) as exc:
        post(server, review(), token="wrong")
    msg = str(exc.value)
    assert "\n" not in msg and "HTTP 401" in msg and "token was refused" in msg and "Invalid token." in msg
    assert exc.value.exit_code == 3
    assert server.checks[101] == []


def test_retries_503_then_works(server):
    server.fail_first = 2
    out = post(server, review(n=1))
    assert [r.action for r in out] == ["posted"]
    assert server.requests[0][0] == server.requests[1][0] == server.requests[2][0] == "GET"
    assert server.requests[0][1] == server.requests[1][1] == server.requests[2][1]  # the same GET, 3 times


def test_gives_up_after_bounded_retries(server):
    server.fail_first = 100
    slept = []
    with pytest.raises(ArchiveError, match="HTTP 503"):
        post(server, review(n=1), retries=3, backoff=0.25, sleep=slept.append)
    assert len(server.requests) == 4 and slept == [0.25, 0.5, 1.0]


def test_a_post_is_retried_on_503_and_posts_once(server):
    server.fail_posts = 2
    out = post(server, review(n=1))
    assert out[0].action == "posted"
    assert len(server.posts()) == 3 and len(server.checks[101]) == 1


def test_a_post_is_not_retried_on_500(server):
    server.fail_posts = 1
    server.fail_code = 500
    with pytest.raises(ArchiveError, match="HTTP 500"):
        post(server, review(n=1))
    assert len(server.posts()) == 1


def test_unreachable_server_is_an_archive_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ArchiveError, match="127.0.0.1"):
        patchwork.post_checks(review(n=1), url=f"http://127.0.0.1:{port}", token=TOKEN, retries=1, backoff=0)


def test_bad_arguments_are_input_errors():
    with pytest.raises(InputError):
        patchwork.post_checks(review(), url="ftp://x", token=TOKEN)
    with pytest.raises(InputError):
        patchwork.post_checks(review(), url="http://127.0.0.1:1", token="")
    with pytest.raises(InputError):
        patchwork.post_checks(review(), url="http://127.0.0.1:1", token=TOKEN, context="bad context\n")
    assert patchwork.api_root("https://patchwork.kernel.org/") == "https://patchwork.kernel.org/api"
    assert patchwork.api_root("https://pw.example/api/1.3/") == "https://pw.example/api/1.3"


def test_state_and_description():
    assert patchwork.state_of([]) == "success"
    assert patchwork.state_of([finding("info")]) == "warning"
    assert patchwork.state_of([finding("info"), finding("error")]) == "fail"
    assert patchwork.description_of([finding("info"), finding("info", "X002")]) == "2 info: TEST001, X002"
