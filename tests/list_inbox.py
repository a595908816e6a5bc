"""Test helpers for the list modes (batch, watch, versions): a v2 of the BPF OOM series made from
v1, small new-file patch mails, mbox writing, and public-inbox archives built from such messages
(tests.pi_server's builder, with a search index when a test needs public-inbox search).

The v2 (our own, derived from the real v1 thread): a cover letter "[PATCH v2 00/14] mm: BPF OOM"
and patch "[PATCH v2 01/14]", which is v1's 01/14 with the lockdep condition of the SRCU list walk
fixed (`false` -> `srcu_read_lock_held(&bpf_oom_srcu)`), and `if (ret && oc->bpf_memory_freed)`
made `if (oc->bpf_memory_freed)` (what Suren's review asked about); the rest is as in v1. Both
are dated a day after the last message of v1, keep only the headers a mail client writes, and say
in an X-Reviewbot-Note header that they are made up. fixtures/bpf-oom-v2-made-up/thread.mbox, shipped
in the wheel for `reviewbot versions`, is this v2 in a thread of its own (`python -m tests.list_inbox`
writes it). In the same thread (in_thread=True) the cover
answers v1's cover letter, the way `b4 send` threads a new version under the old one; otherwise it
starts a thread of its own.

Nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests import pi_server

ROOT = Path(__file__).resolve().parent.parent
V1_DIR = ROOT / "fixtures" / "bpf-oom-v1" / "messages"
V1_COVER = "20250818170136.209169-1-roman.gushchin@linux.dev"
V1_P01 = "20250818170136.209169-2-roman.gushchin@linux.dev"
V2_COVER = "v2-00-bpf-oom@reviewbot.invalid"
V2_P01 = "v2-01-bpf-oom@reviewbot.invalid"
V2_DATE = "Fri, 10 Oct 2025 10:00:00 -0700"


def v1_messages() -> list[bytes]:
    return [f.read_bytes() for f in sorted(V1_DIR.glob("*.eml"))]


def _set_header(raw: bytes, name: str, value: str | None) -> bytes:
    head, sep, body = raw.partition(b"\n\n")
    lines = re.sub(rb"\r?\n[ \t]+", b" ", head).split(b"\n")
    lines = [ln for ln in lines if not ln.lower().startswith(name.lower().encode() + b":")]
    if value is not None:
        lines.append(f"{name}: {value}".encode())
    return b"\n".join(lines) + sep + body


def _retag(raw: bytes, msgid: str, subject_from: str, subject_to: str, in_reply_to: str | None) -> bytes:
    raw = _set_header(raw, "Message-ID", f"<{msgid}>")
    raw = raw.replace(subject_from.encode(), subject_to.encode(), 1)
    raw = _set_header(raw, "Date", V2_DATE)
    raw = _set_header(raw, "In-Reply-To", f"<{in_reply_to}>" if in_reply_to else None)
    raw = _set_header(raw, "References", f"<{in_reply_to}>" if in_reply_to else None)
    return raw


# What a made-up message keeps of the real one it is made from: the real delivery headers (Received,
# DKIM signatures, list headers) would pass it off as mail that went through a list.
_KEPT = ("from", "to", "cc", "subject", "date", "message-id", "in-reply-to", "references", "mime-version",
         "content-type", "content-transfer-encoding")
MADE_UP = "made up by reviewbot's tests from the real v1; never sent to any list"


def _made_up(raw: bytes) -> bytes:
    head, sep, body = raw.partition(b"\n\n")
    lines = re.sub(rb"\r?\n[ \t]+", b" ", head).split(b"\n")
    kept = [ln for ln in lines if ln.split(b":", 1)[0].strip().lower().decode("ascii", "replace") in _KEPT]
    return b"\n".join(kept + [f"X-Reviewbot-Note: {MADE_UP}".encode()]) + sep + body


def v2_messages(in_thread: bool = False) -> list[bytes]:
    """The v2 cover letter and patch 01/14 (see the module doc), with only the headers a mail
    client writes and an X-Reviewbot-Note saying that they are made up."""
    cover = (V1_DIR / f"{V1_COVER}.eml").read_bytes()
    cover = _retag(cover, V2_COVER, "[PATCH v1 00/14]", "[PATCH v2 00/14]", V1_COVER if in_thread else None)
    p01 = (V1_DIR / f"{V1_P01}.eml").read_bytes()
    p01 = _retag(p01, V2_P01, "[PATCH v1 01/14]", "[PATCH v2 01/14]", V2_COVER)
    p01 = _set_header(p01, "References", f"<{V2_COVER}>")
    fixed = p01.replace(b"node, false) {", b"node,\n+\t\t\t\t srcu_read_lock_held(&bpf_oom_srcu)) {", 1)
    fixed = fixed.replace(b"+\t\tif (ret && oc->bpf_memory_freed)", b"+\t\tif (oc->bpf_memory_freed)", 1)
    assert fixed.count(b"srcu_read_lock_held(&bpf_oom_srcu)") == 1 and b"if (oc->bpf_memory_freed)" in fixed
    # One more line in the hunk: fix the hunk header's new-side length.
    fixed = _bump_hunk(fixed, b"srcu_read_lock_held(&bpf_oom_srcu)")
    return [_made_up(cover), _made_up(fixed)]


def _bump_hunk(raw: bytes, marker: bytes) -> bytes:
    at = raw.index(marker)
    start = raw.rindex(b"\n@@ ", 0, at) + 1
    end = raw.index(b"\n", start)
    header = raw[start:end]
    m = re.match(rb"@@ -(\d+)(?:,(\d+))? \+(\d+),(\d+) @@", header)
    assert m, header
    new = header.replace(b"+%s,%s" % (m.group(3), m.group(4)), b"+%s,%d" % (m.group(3), int(m.group(4)) + 1), 1)
    return raw[:start] + new + raw[end:]


def new_file_mail(n: int, path: str, text: str, subject: str | None = None) -> bytes:
    from reviewbot.diff import new_file_diff

    body = f"Add {path}.\n\nSigned-off-by: Dev <dev@example.org>\n---\n" + new_file_diff(path, text)
    return (f"From: Dev <dev@example.org>\nSubject: {subject or f'[PATCH] add {path}'}\n"
            f"Message-ID: <new-{n}@example.org>\nDate: Mon, 1 Sep 2025 10:00:{n % 60:02d} +0000\n"
            f"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n{body}").encode()


def write_mbox(path: Path, messages: list[bytes]) -> Path:
    with open(path, "wb") as fh:
        for raw in messages:
            raw = raw.replace(b"\r\n", b"\n")
            raw = re.sub(rb"(?m)^(>*From )", rb">\1", raw)
            fh.write(b"From mboxrd@z Thu Jan  1 00:00:00 1970\n" + raw.rstrip(b"\n") + b"\n\n")
    return path


class SearchableInbox(pi_server.PublicInbox):
    """tests.pi_server.PublicInbox, indexed at level "medium" so public-inbox search (?q=) works."""

    def build(self, messages: list[bytes]) -> None:  # same steps, another index level
        self.root.mkdir(parents=True, exist_ok=True)
        self._run("public-inbox-init", "-V2", "-L", "medium", self.name, str(self.inboxdir),
                  f"http://127.0.0.1/{self.name}", self.address)
        self._run("git", "config", "-f", str(self.config), "publicinboxmda.spamcheck", "none")
        self._run("git", "--git-dir", str(self.inboxdir / "git" / "0.git"), "fast-import", "--quiet",
                  input=pi_server._fast_import_stream(messages, self.address))
        self._run("public-inbox-index", str(self.inboxdir))

    def add(self, messages: list[bytes]) -> None:
        """Append messages to the inbox (new commits after the existing ones) and index them."""
        stream = pi_server._fast_import_stream(messages, self.address)
        head = self._run("git", "--git-dir", str(self.inboxdir / "git" / "0.git"), "rev-parse",
                         "refs/heads/master").stdout.strip()
        # fast-import continues the branch from its current head.
        stream = stream.replace(b"commit refs/heads/master\n", b"commit refs/heads/master\n", 1)
        first = stream.index(b"data ", stream.index(b"committer "))
        end = stream.index(b"\n", first)
        size = int(stream[first + 5:end])
        insert_at = end + 1 + size + 1
        stream = stream[:insert_at] + b"from " + head + b"\n" + stream[insert_at:]
        self._run("git", "--git-dir", str(self.inboxdir / "git" / "0.git"), "fast-import", "--quiet", input=stream)
        self._run("public-inbox-index", str(self.inboxdir))


def inbox(tmp: Path, messages: list[bytes], *, search: bool = False) -> pi_server.PublicInbox:
    cls = SearchableInbox if search else pi_server.PublicInbox
    box = cls(tmp, "bpf", "bpf@vger.kernel.org")
    box.build(messages)
    return box


BUNDLED_V2 = ROOT / "fixtures" / "bpf-oom-v2-made-up" / "thread.mbox"


def bundled_v2_mbox() -> bytes:
    """The bytes of fixtures/bpf-oom-v2-made-up/thread.mbox: v2_messages() in a thread of its own,
    as an mboxrd (see that folder's README). `python -m tests.list_inbox` writes it."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return write_mbox(Path(tmp) / "v2.mbox", v2_messages(in_thread=False)).read_bytes()


if __name__ == "__main__":
    BUNDLED_V2.write_bytes(bundled_v2_mbox())
    print(f"wrote {BUNDLED_V2.relative_to(ROOT)}")
