"""Thread -> Series -> Patch: which messages are the series under review, and who answered what.

b4's LoreMailbox does the threading (versions, cover letters, patch counters, missing slots); this
module turns its result into our own small frozen values and attaches every reply to the patch (or
cover letter) it answers, walking In-Reply-To and then References up to the nearest message that is
part of the series, so a reply to a reply, or to a message the archive lost, still finds its patch.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass
from email.message import EmailMessage

from reviewbot import lore
from reviewbot.diff import ChangedFile, parse_changed_files
from reviewbot.errors import InputError


class Reply:
    """A reply in the thread: an immutable value like Patch.

    Its subject, author and body may instead be given as `read`, a function that returns them
    (subject, author name, author address, body), called once when one of them is first asked for:
    a list's replay attaches thousands of replies, and only those on a patch with a finding are
    read (dedupe, the drafts). The date and In-Reply-To, which order and place it, are given."""

    __slots__ = ("msgid", "date", "in_reply_to", "_text", "_read")

    def __init__(self, msgid: str, subject: str = "", author_name: str = "", author_email: str = "",
                 date: str = "", in_reply_to: str | None = None, body: str = "", *, read=None):
        set_ = object.__setattr__
        set_(self, "msgid", msgid)
        set_(self, "date", date)
        set_(self, "in_reply_to", in_reply_to)
        set_(self, "_text", None if read else (subject, author_name, author_email, body))
        set_(self, "_read", read)

    def _fields(self) -> tuple[str, str, str, str]:
        if self._text is None:
            subject, name, address, body = self._read()
            object.__setattr__(self, "_text", (subject, name or "", address or "", body or ""))
        return self._text

    subject = property(lambda self: self._fields()[0])
    author_name = property(lambda self: self._fields()[1])
    author_email = property(lambda self: self._fields()[2])
    body = property(lambda self: self._fields()[3])

    def __setattr__(self, name, value):
        raise AttributeError(f"Reply is immutable: cannot set {name}")

    def _key(self) -> tuple:
        return (self.msgid, self.date, self.in_reply_to, *self._fields())

    def __eq__(self, other) -> bool:
        return isinstance(other, Reply) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Reply(msgid={self.msgid!r}, date={self.date!r}, in_reply_to={self.in_reply_to!r})"


@dataclass(frozen=True)
class Patch:
    msgid: str
    subject: str  # the full subject, "[PATCH v1 01/14] mm: ..."
    title: str  # the subject without the [PATCH ...] prefix
    counter: int
    total: int
    revision: int
    author_name: str
    author_email: str
    date: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    references: tuple[str, ...]
    body: str  # the plain-text body: commit message, "---", diffstat, diff
    changed_files: tuple[ChangedFile, ...]
    replies: tuple[Reply, ...] = ()
    # Why the diff could not be read (then changed_files is empty), or None. An unreadable patch
    # stays in its series, named in every report, and the other patches are still reviewed.
    unreadable: str | None = None

    @property
    def commit_message(self) -> str:
        """The commit message: the body up to the first "---" line (where git puts the diffstat)."""
        lines = []
        for line in self.body.splitlines():
            if line.rstrip() == "---" or line.startswith("diff --git "):
                break
            lines.append(line)
        return "\n".join(lines).rstrip() + "\n"


@dataclass(frozen=True)
class Series:
    revision: int
    total: int
    title: str
    cover: Patch | None  # the cover letter (counter 0), with no changed files
    patches: tuple[Patch, ...]  # the patches the archive has, in counter order
    missing: tuple[int, ...]  # counters of the patches the archive does not have
    revisions: tuple[int, ...]  # every version of this series seen in the thread
    orphan_replies: tuple[Reply, ...] = ()  # replies we could not place under any message


def assemble(msgs: list[EmailMessage], msgid: str, revision: int | None = None) -> Series:
    """The latest version (or `revision`) of the series that the message `msgid` belongs to.

    Raises InputError when msgid is not in `msgs`, the thread holds no patches, or it has no such
    revision.
    """
    return ThreadView(msgs, msgid).series(revision)


def assemble_versions(msgs: list[EmailMessage], msgid: str) -> list[Series]:
    """Every version of the series in the thread, latest first (b4 reads the thread once)."""
    view = ThreadView(msgs, msgid)
    latest = view.series(None)
    return [latest] + [view.series(r) for r in sorted(latest.revisions, reverse=True) if r != latest.revision]


class ThreadView:
    """One thread given to b4 once, from which each version of its series is assembled.

    Only patches and cover letters go into b4's LoreMailbox: a message whose subject makes it a
    reply ("Re: ...") is always one of b4's follow-ups, and we attach replies ourselves anyway,
    so b4 need not build its LoreMessage (trailers, diff scan) for each of them.
    """

    def __init__(self, msgs: list[EmailMessage], msgid: str):
        self.msgid = msgid
        self.by_id: dict[str, EmailMessage] = {}
        for msg in msgs:
            mid = lore.clean_msgid(msg)
            if mid and mid not in self.by_id:
                self.by_id[mid] = msg
        if msgid not in self.by_id:
            raise InputError(f"Message-ID <{msgid}> is not in the thread")
        self.subject_replies = {mid for mid, msg in self.by_id.items() if lore.is_reply(msg)}
        self.mailbox, self.refused = lore.series_mailbox(
            [msg for mid, msg in self.by_id.items() if mid not in self.subject_replies])
        self._replies: dict[str, Reply] = {}

    def _reply(self, mid: str, msg: EmailMessage) -> Reply | None:
        if mid not in self._replies:
            if mid in self.subject_replies:
                # read from the whole mail (lore.whole) only when a finding's patch asks
                self._replies[mid] = _reply_of(msg, mid, read=lambda msg=msg: lore.reply_fields(lore.whole(msg)))
            else:
                lmsg = self.mailbox.msgid_map.get(mid)
                if lmsg is None or not lmsg.reply:
                    return None  # other versions' patches and covers are not replies
                self._replies[mid] = _reply(msg, mid, lmsg)
        return self._replies[mid]

    def series(self, revision: int | None) -> Series:
        msgid, by_id, mailbox, refused = self.msgid, self.by_id, self.mailbox, self.refused
        series = lore.mailbox_series(mailbox, revision)
        if series is None and revision is not None:
            raise InputError(f"no v{revision} of the series in the thread of <{msgid}>")
        # Patch mails b4 could not be given (lines that would make its trailer scan hang, headers
        # its parser refuses) are read without it, in their own slots of this version.
        refused_at = {}
        for msg, _reason in refused:
            mail = lore.patch_mail(msg)
            if series is not None and mail.revision == series.revision and 0 < mail.counter <= series.expected \
                    and series.patches[mail.counter] is None:
                refused_at.setdefault(mail.counter, mail)
        if series is None and refused and revision is None:
            # b4 could read no patch of the thread: each patch mail stands alone, read without b4
            mails = [lore.patch_mail(msg) for msg, _reason in refused]
            patches = tuple(_patch(mail, mail.counter, mail.expected, mail.revision, []) for mail in mails)
            return single_series(patches, mails[0].subject)
        if series is None or not (any(p is not None for p in series.patches[1:]) or refused_at):
            raise InputError(f"no patches in the thread of <{msgid}>")

        present = [(n, p) for n, p in enumerate(series.patches) if p is not None and n > 0]
        missing = tuple(n for n in range(1, series.expected + 1)
                        if series.patches[n] is None and n not in refused_at)
        cover_lmsg = series.patches[0] if series.has_cover else None

        # Attach replies: each reply goes to the nearest series message above it.
        anchors = {p.msgid for _, p in present} | {mail.msgid for mail in refused_at.values()}
        if cover_lmsg is not None:
            anchors.add(cover_lmsg.msgid)
        replies: dict[str, list[Reply]] = {a: [] for a in anchors}
        orphans: list[Reply] = []
        for mid, msg in by_id.items():
            if mid in anchors:
                continue
            reply = self._reply(mid, msg)
            if reply is None:
                continue
            anchor = _nearest_anchor(msg, mid, by_id, anchors)
            (replies[anchor] if anchor else orphans).append(reply)

        patches = [(n, _patch(p, n, series.expected, series.revision, replies[p.msgid])) for n, p in present]
        patches += [(n, _patch(mail, n, series.expected, series.revision, replies.get(mail.msgid, [])))
                    for n, mail in refused_at.items()]
        patches = tuple(p for _, p in sorted(patches, key=lambda item: item[0]))
        cover = (_patch(cover_lmsg, 0, series.expected, series.revision, replies[cover_lmsg.msgid], diff=False)
                 if cover_lmsg else None)
        return Series(
            revision=series.revision,
            total=series.expected,
            title=(cover_lmsg.subject if cover_lmsg is not None else series.subject) or "",
            cover=cover,
            patches=patches,
            missing=missing,
            revisions=tuple(lore.mailbox_revisions(mailbox)),
            orphan_replies=tuple(sorted(orphans, key=_reply_order)),
        )


def _nearest_anchor(msg: EmailMessage, mid: str, by_id: dict, anchors: set[str]) -> str | None:
    seen = {mid}
    current = msg
    while current is not None:
        parents = _parents(current)
        for parent in parents:
            if parent in anchors:
                return parent
        # Climb through the nearest parent we have; if we lack it, References still names the
        # ancestors further up, which the loop above already checked.
        nxt = next((p for p in parents if p in by_id and p not in seen), None)
        if nxt is None:
            return None
        seen.add(nxt)
        current = by_id[nxt]
    return None


def _parents(msg: EmailMessage) -> list[str]:
    """In-Reply-To first, then References from the nearest ancestor up."""
    out = []
    irt = _msgids(lore.header_text(msg, "In-Reply-To") or "")
    out.extend(irt[:1])
    refs = _msgids(lore.header_text(msg, "References") or "")
    out.extend(r for r in reversed(refs) if r not in out)
    return out


def _msgids(header: str) -> list[str]:
    ids = []
    for chunk in header.replace("\n", " ").split("<")[1:]:
        mid = chunk.split(">", 1)[0].strip()
        if mid:
            ids.append(mid)
    return ids


MAX_ADDRESS_HEADERS = 16


_PLAIN_ADDRESS = re.compile(r"^\s*(?:([^<>@,]*?)\s*<([^<>\s@]+@[^<>\s]+)>|([^<>\s@]+@[^<>\s]+))\s*$")


def _simple_addresses(values: list[str]) -> list[tuple[str, str]] | None:
    """The (name, address) pairs of plain address lists ("A B <a@b>, c@d"), read with one regex per
    address; None when anything could make that reading differ from email.utils.getaddresses
    (quotes, comments, backslashes, groups, encoded words), which then reads them. Python's
    address parser is pure Python: on a list's traffic it was most of the time spent on Cc lines."""
    pairs = []
    for value in values:
        if any(c in value for c in '"()\\;:[]') or "=?" in value:
            return None
        for part in value.split(","):
            if not part.strip():
                continue
            m = _PLAIN_ADDRESS.match(part.replace("\n", " ").replace("\r", " ").replace("\t", " "))
            if m is None:
                return None
            name = " ".join((m.group(1) or "").split())
            pairs.append((name, m.group(2) or m.group(3)))
    return pairs


# The patches of a series go to the same To and Cc lists: each list is read once (by its raw values).
_ADDRESS_LISTS: dict[tuple, tuple[str, ...]] = {}
_ADDRESS_LISTS_MAX = 256


def _addresses(msg: EmailMessage, name: str) -> tuple[str, ...]:
    # The first MAX_ADDRESS_HEADERS To/Cc headers only: a mail with thousands costs seconds each parse.
    items = [(k, v) for k, v in msg.raw_items() if k.lower() == name.lower()][:MAX_ADDRESS_HEADERS]
    key = (name.lower(), id(msg.policy), *(str(v) for _k, v in items))
    found = _ADDRESS_LISTS.get(key)
    if found is None:
        if len(_ADDRESS_LISTS) >= _ADDRESS_LISTS_MAX:
            _ADDRESS_LISTS.clear()
        found = _ADDRESS_LISTS[key] = _read_addresses(msg, items)
    return found


def _read_addresses(msg: EmailMessage, items: list) -> tuple[str, ...]:
    try:
        # Python's header registry is slow (most of a batch's header time); only encoded words
        # ("=?utf-8?q?...") need it, plain addresses are read as they are.
        values = [str(msg.policy.header_fetch_parse(k, v)) if "=?" in str(v) else str(v) for k, v in items]
    except (ValueError, TypeError, IndexError, AttributeError, RecursionError):  # the parser refuses it (CR/LF, nesting)
        values = [str(v) for k, v in items]
    pairs = _simple_addresses(values)
    if pairs is None:
        try:
            pairs = email.utils.getaddresses(values)
        except RecursionError:  # comments nested past the recursion limit
            return ()
    out = []
    for pair in pairs:
        if not pair[1]:
            continue
        try:
            out.append(email.utils.formataddr(pair))
        except UnicodeError:  # a non-ASCII address: not one a reply can be sent to
            continue
    return tuple(out)


def _reply(msg: EmailMessage, mid: str, lmsg) -> Reply:
    return _reply_of(msg, mid, lmsg.full_subject, lmsg.fromname or "", lmsg.fromemail or "", lmsg.body or "")


def _reply_of(msg: EmailMessage, mid: str, subject: str = "", name: str = "", addr: str = "", body: str = "",
              read=None) -> Reply:
    irt = _msgids(lore.header_text(msg, "In-Reply-To") or "")
    return Reply(
        msgid=mid,
        subject=subject,
        author_name=name or "",
        author_email=addr or "",
        date=lore.header_date(msg),
        in_reply_to=irt[0] if irt else None,
        body=body or "",
        read=read,
    )


def _reply_order(reply: Reply) -> tuple:
    try:
        stamp = email.utils.parsedate_to_datetime(reply.date).timestamp()
    except (TypeError, ValueError, IndexError):
        stamp = 0.0
    return (stamp, reply.msgid)


def _patch(lmsg, counter: int, total: int, revision: int, replies: list[Reply], diff: bool = True,
           unreadable: str | None = None) -> Patch:
    """A Patch from b4's reading of a mail (a LoreMessage, or a lore.PatchMail). A diff that cannot
    be read makes the patch unreadable, not the series: the reason is kept, the files are empty."""
    msg = lmsg.msg
    body = lmsg.body or ""
    changed: tuple[ChangedFile, ...] = ()
    if diff and unreadable is None:
        try:
            changed = parse_changed_files(body)
        except InputError as exc:
            unreadable = str(exc)
    return Patch(
        msgid=lmsg.msgid,
        subject=lmsg.full_subject,
        title=lmsg.subject,
        counter=counter,
        total=total,
        revision=revision,
        author_name=lmsg.fromname or "",
        author_email=lmsg.fromemail or "",
        date=lore.header_date(msg),
        to=_addresses(msg, "To"),
        cc=_addresses(msg, "Cc"),
        references=tuple(_msgids(lore.header_text(msg, "References") or "")),
        body=body,
        changed_files=changed,
        replies=tuple(sorted(replies, key=_reply_order)),
        unreadable=unreadable,
    )


def assemble_patches(msgs: list[EmailMessage]) -> Series:
    """The series of patch mails that came without a thread (`reviewbot ci`): every mail that
    carries a diff is reviewed, none is dropped.

    When b4 finds them all in one version of one series (git format-patch output of a branch), that
    series is reviewed, with its cover letter. Otherwise (bare diffs, patches without numbered
    subjects, several series) each patch mail is its own patch, in the order given.
    """
    patch_mails = [m for m in msgs if lore.has_diff(m)]
    if not patch_mails:
        raise InputError("no patches in the input")
    wanted = [lore.clean_msgid(m) or "" for m in patch_mails]
    try:
        series = assemble(msgs, wanted[0])
    except InputError:
        series = None
    if series is not None and {p.msgid for p in series.patches} >= set(wanted):
        return series
    mails = [lore.patch_mail(m) for m in patch_mails]
    patches = tuple(_patch(mail, n, len(mails), 1, []) for n, mail in enumerate(mails, start=1))
    title = mails[0].subject if len(mails) == 1 else f"{len(mails)} patches"
    return single_series(patches, title)


def file_patch(path: str, text: str, msgid: str | None = None) -> Patch:
    """A patch that adds one whole file: how code that came in no mail (a rule's cases.c, a file of
    a kernel tree swept for false positives) is reviewed by the same engine as a real patch."""
    from reviewbot.diff import new_file_diff

    return _one_file_patch(path, "add", new_file_diff(path, text), msgid)


def change_patch(path: str, before: str, after: str, msgid: str | None = None, context: int = 3) -> Patch:
    """A patch that changes one file from `before` to `after` (see `file_patch`): a rule's
    before/after cases, a mutant of a kernel file reviewed as the change that makes it."""
    from reviewbot.diff import change_diff

    return _one_file_patch(path, "change", change_diff(path, before, after, context), msgid)


def _one_file_patch(path: str, verb: str, diff: str, msgid: str | None) -> Patch:
    body = f"{verb.capitalize()} {path}.\n---\n" + diff
    return Patch(
        msgid=msgid or path,
        subject=f"[PATCH] {verb} {path}",
        title=f"{verb} {path}",
        counter=1,
        total=1,
        revision=1,
        author_name="",
        author_email="",
        date="",
        to=(),
        cc=(),
        references=(),
        body=body,
        changed_files=parse_changed_files(body),
    )


def single_series(patches: tuple[Patch, ...], title: str = "") -> Series:
    """A series of patches that came without a thread."""
    total = max((p.total for p in patches), default=0)
    return Series(revision=1, total=total, title=title, cover=None, patches=patches, missing=(), revisions=(1,))
