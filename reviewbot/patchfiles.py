"""Patches that come without a thread: files, folders of `git format-patch` output, a git range.

This is the input side of `reviewbot ci` (and of `reviewbot check`, which gets one mail on stdin).
Every source ends as a list of email messages that thread.assemble() can read like a lore thread.
Mails that carry no Message-ID (plain `git format-patch` output) get a stable made-up one, derived
from the file name and the subject, so findings can name their patch.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import re
import subprocess
from email.message import EmailMessage
from pathlib import Path

from reviewbot import lore
from reviewbot.errors import InputError

PATCH_SUFFIXES = (".patch", ".diff", ".eml", ".mbox", ".mbx")
_POLICY = email.policy.default.clone(utf8=True, max_line_length=None)
MAX_FILE_BYTES = 64 * 1024 * 1024


def parse_mail(data: bytes, name: str = "patch") -> list[EmailMessage]:
    """One file's bytes: an mbox (starts with a "From " line, as format-patch writes), one mail, or
    a bare diff (`git diff` or `git show` output, no mail headers), which becomes a mail whose
    subject is the file's name, so it is reviewed as a patch of its own."""
    data = lore.clip_header_lines(data)
    if _is_bare_text(data):
        return [lore.sanitize(bare_diff_mail(data, name))]
    try:
        if data.startswith(b"From "):
            msgs = lore.split_mbox(data)
        else:
            msgs = [email.parser.BytesParser(policy=_POLICY).parsebytes(data)]
    except RecursionError:  # the parser recurses once per level of multipart nesting
        raise InputError("a mail whose MIME parts are nested too deeply to read") from None
    msgs = [lore.sanitize(m) for m in msgs]
    return [m for m in msgs if m.get("Subject") is not None or m.get_payload()]


# A mail starts with a header line ("Name: value") or an mbox "From " line; a file that starts
# otherwise (a diff, `commit <sha>` from git show) is a bare text.
_HEADER_LINE = re.compile(rb"^(?:From |[!-9;-~]+:)")


def _is_bare_text(data: bytes) -> bool:
    return not _HEADER_LINE.match(data.lstrip(b"\r\n"))


def bare_diff_mail(data: bytes, name: str) -> EmailMessage:
    """A mail around a bare diff: Subject "[PATCH] <name>", the diff as its body."""
    msg = EmailMessage(policy=_POLICY)
    msg["Subject"] = f"[PATCH] {name}"
    msg["From"] = "unknown <unknown@reviewbot.invalid>"
    msg.set_content(data.decode("utf-8", "surrogateescape").encode("utf-8", "replace").decode("utf-8"),
                    cte="8bit")
    return msg


def read_paths(paths: list[str]) -> list[EmailMessage]:
    """The mails in these files, and in the patch files of these folders (sorted by name)."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in PATCH_SUFFIXES)
            if not found:
                raise InputError(f"{raw}: no .patch, .eml or .mbox files in this folder")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"{raw}: no such file or folder")
    msgs: list[EmailMessage] = []
    for path in files:
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise InputError(f"{path}: larger than {MAX_FILE_BYTES >> 20} MiB")
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"{path}: {exc.strerror}") from None
        found = parse_mail(data, path.name)
        if not found:
            raise InputError(f"{path}: not a patch mail")
        if not any(lore.has_diff(m) or _is_cover(m) for m in found):
            raise InputError(f"{path}: no diff in it (neither a patch nor a cover letter)")
        for n, msg in enumerate(found):
            ensure_msgid(msg, f"{path.name}:{n}")
        msgs.extend(found)
    return msgs


def git_range(spec: str, repo: str = ".") -> list[EmailMessage]:
    """`git format-patch --stdout RANGE` in repo, split into mails. The range is passed as one
    argument to git, never through a shell."""
    if spec.startswith("-"):
        raise InputError(f"not a git range: {spec!r}")
    try:
        out = subprocess.run(
            ["git", "-C", repo, "format-patch", "--stdout", "--no-signature", spec],
            capture_output=True,
            check=False,
            timeout=300,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError(f"git format-patch failed: {exc}") from None
    if out.returncode != 0:
        err = out.stderr.decode("utf-8", "replace").strip().splitlines()
        raise InputError(f"git format-patch {spec}: {err[0] if err else 'failed'}")
    if not out.stdout.strip():
        raise InputError(f"git range {spec} has no commits")
    msgs = lore.split_mbox(out.stdout)
    for n, msg in enumerate(msgs):
        ensure_msgid(msg, f"{spec}:{n}")
    return msgs


def ensure_msgid(msg: EmailMessage, where: str) -> str:
    """The mail's Message-ID; a stable made-up one when it has none."""
    mid = lore.clean_msgid(msg)
    if mid:
        return mid
    digest = hashlib.sha1(f"{where}\0{msg.get('Subject', '')}".encode("utf-8", "replace")).hexdigest()[:16]
    mid = f"{digest}@reviewbot.invalid"
    del msg["Message-ID"]  # a Message-ID header we could not read: one Message-ID per mail
    msg["Message-ID"] = f"<{mid}>"
    return mid


def _is_cover(msg: EmailMessage) -> bool:
    """A "[PATCH 0/N]" cover letter: no diff, but part of the series it announces."""
    return bool(re.search(r"\[[^\]]*\b0+/\d+\s*\]", str(msg.get("Subject", ""))))
