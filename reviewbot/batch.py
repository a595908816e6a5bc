"""`reviewbot batch SOURCE`: review every series of a mailbox or a list archive, in parallel.

SOURCE is one of:

- an mbox file (mboxrd or mboxo, also gzipped) or a maildir (cur/, new/, tmp/);
- a public-inbox v2 inbox folder (a local clone: `git/0.git`, `git/1.git`, ... epochs; every
  commit's blob `m` is one message, and a message deleted later (its blob under `d`) is left out);
- a public-inbox URL with `--query Q` (e.g. `d:2.days.ago..`): liblore's search, with whole
  threads (through reviewbot.lore).

The mailbox is split into threads (by Message-ID, In-Reply-To and References), and each thread
is assembled with thread.assemble, once per version of its series found in it (each version was
once the latest, and a reviewer saw it), and patch mails that fall in no version are reviewed each
on its own. Threads go to worker processes (all cores by default,
`--jobs N`), forked after the rules and b4 are loaded so no worker loads them again; the biggest
threads go first. Each finished series is recorded in the review store (`--store PATH`, see
reviewbot.store), and a series whose version, content and rules the store already holds is skipped
(`--force` reviews it again).

Outputs: a summary table at the end (stdout; stderr when stdout carries JSON lines); with `--format
json`, one JSON report per series (the `review --format json` report) into `--output DIR`, or JSON
lines on stdout without --output; `--drafts DIR`: reply drafts (render/email.py), one folder per
series. A progress bar on stderr when stderr is a terminal.

Exit codes as `review`: 1 when a finding is at or above --fail-on, and 2 when a mailbox holds
nothing to review (no messages, or threads without a single patch), as `review` of a thread without
patches is. A --query search that matches nothing is not an error: the run reports 0 series.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from reviewbot.errors import EXIT_FINDINGS, EXIT_OK, InputError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("batch", help="review every series of an mbox, a maildir or a public-inbox archive")
    p.add_argument("source", metavar="SOURCE",
                   help="an mbox file, a maildir, a public-inbox v2 inbox folder, or a public-inbox URL (with --query)")
    p.add_argument("--query", metavar="Q", help="with a URL: a public-inbox search, e.g. 'd:2.days.ago..'")
    p.add_argument("--jobs", "-j", type=int, metavar="N", default=None,
                   help="worker processes (default: all cores)")
    add_common_options(p)
    p.add_argument("--no-store", action="store_true", help="neither read nor write the review store")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="text: the summary table; json: one report per series (--output DIR) or JSON lines")
    p.add_argument("--output", metavar="DIR", help="with --format json: write <series>.json files here")
    p.add_argument("--force", action="store_true", help="review series the store has already reviewed")
    p.add_argument("--fail-on", choices=("error", "warning", "info", "never"), default="error",
                   help="exit 1 when a finding is at or above this severity (default: error)")
    p.set_defaults(func=cmd_batch)


def add_common_options(p: argparse.ArgumentParser) -> None:
    """Options batch and watch share: the store, drafts, rules. (`--no-store` is batch's own: watch
    keeps its state in the store.)"""
    p.add_argument("--store", metavar="PATH",
                   help="the review store (default: $XDG_DATA_HOME/reviewbot/store.sqlite3)")
    d = p.add_argument_group("reply drafts")
    d.add_argument("--drafts", metavar="DIR", help="write reply drafts, one folder per series, here (never sent)")
    d.add_argument("--from", dest="from_", metavar="'NAME <ADDR>'",
                   help="the reviewer identity (default: git config user.name/user.email)")
    d.add_argument("--date", metavar="ISO", help="the drafts' Date (makes them reproducible)")
    d.add_argument("--overwrite", action="store_true", help="replace existing drafts")
    r = p.add_argument_group("rules")
    r.add_argument("--rules", metavar="IDS", help="run only these rules (ids, names or packs)")
    r.add_argument("--skip", metavar="IDS", help="do not run these rules")
    r.add_argument("--rules-dir", metavar="DIR", help="load rules from this folder instead of the shipped ones")


# --------------------------------------------------------------------------------------------------
# Reading a source into raw messages
# --------------------------------------------------------------------------------------------------


def read_source(source: str, query: str | None = None) -> list[bytes]:
    """The raw messages of SOURCE (see the module doc), in archive order."""
    if re.match(r"^https?://", source, re.IGNORECASE):
        if not query:
            raise InputError("batch: a URL needs --query (e.g. --query 'd:2.days.ago..')")
        from reviewbot import fetch, lore

        data = lore.search_mbox(fetch.lore_base_url(source), query)
        return lore.split_mbox_raw(data) if data.strip() else []
    if query:
        raise InputError("batch: --query goes with a public-inbox URL only")
    p = Path(source)
    if not p.exists():
        raise InputError(f"{source}: no such file or directory")
    if p.is_dir():
        if (p / "git").is_dir() and any((p / "git").glob("*.git")):
            return read_public_inbox(p)
        if all((p / sub).is_dir() for sub in ("cur", "new", "tmp")):
            return read_maildir(p)
        if (p / "objects").is_dir() and (p / "refs").is_dir():
            raise InputError(f"{source}: a public-inbox v1 inbox (a bare git repository); only v2 inboxes "
                             "(a folder with git/N.git epochs) are read")
        raise InputError(f"{source}: a directory, but neither a maildir nor a public-inbox v2 inbox")
    return read_mbox(p)


def read_mbox(path: Path) -> list[bytes]:
    import gzip

    from reviewbot import lore

    try:
        data = path.read_bytes()
    except OSError as ex:
        raise InputError(f"{path}: cannot read: {ex.strerror or ex}") from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, ValueError):
            raise InputError(f"{path}: a damaged gzip file") from None
    if not data.strip():
        return []
    if not data.lstrip(b"\r\n").startswith(b"From "):
        raise InputError(f"{path}: not an mbox (it does not start with a 'From ' line)")
    return lore.split_mbox_raw(data)


def read_maildir(path: Path) -> list[bytes]:
    out = []
    for sub in ("cur", "new"):
        for f in sorted((path / sub).iterdir()):
            if f.is_file() and not f.name.startswith("."):
                out.append(f.read_bytes())
    return out


def read_public_inbox(path: Path) -> list[bytes]:
    """Every message of a public-inbox v2 inbox: each epoch's commits, oldest first, blob `m`."""
    import subprocess

    epochs = sorted((p for p in (path / "git").glob("*.git") if p.name[:-4].isdigit()),
                    key=lambda p: int(p.name[:-4]))
    blobs: list[tuple[str, bytes]] = []
    deleted: set[str] = set()
    for epoch in epochs:
        git = ["git", "--git-dir", str(epoch)]
        try:
            revs = subprocess.run(git + ["rev-list", "--reverse", "HEAD"], capture_output=True, check=True,
                                  timeout=600).stdout.split()
        except subprocess.CalledProcessError:
            continue  # an epoch with no commits yet
        except (OSError, subprocess.TimeoutExpired) as ex:
            raise InputError(f"{path}: cannot read {epoch.name} with git: {ex}") from None
        wanted = b"".join(rev + b":m\n" + rev + b":d\n" for rev in revs)
        proc = subprocess.run(git + ["cat-file", "--batch"], input=wanted, capture_output=True, timeout=600)
        out = proc.stdout
        pos = 0
        for n in range(2 * len(revs)):
            end = out.index(b"\n", pos)
            header = out[pos:end].split()
            pos = end + 1
            if len(header) == 3 and header[1] == b"blob":
                size = int(header[2])
                data = out[pos:pos + size]
                pos += size + 1
                sha = header[0].decode()
                if n % 2 == 0:
                    blobs.append((sha, data))
                else:
                    deleted.add(sha)
    return [data for sha, data in blobs if sha not in deleted]


# --------------------------------------------------------------------------------------------------
# Threads
# --------------------------------------------------------------------------------------------------

_ID = re.compile(rb"<([^<>\s]+)>")


# the three threading headers, found in the lower-cased header block (a list's mail carries some
# sixty other header lines, which are not visited one by one), and each value with its folded
# continuation lines
_THREAD_HEADER = re.compile(rb"\n(message-id|in-reply-to|references)[ \t]*:")
_FOLDED_VALUE = re.compile(rb"[^\n]*(?:\n[ \t][^\n]*)*")


def _header_ids(raw: bytes) -> tuple[str | None, list[str]]:
    """(Message-ID, [In-Reply-To and References ids]) read from the raw header block."""
    end = raw.find(b"\n\n")
    head = b"\n" + (raw if end < 0 else raw[:end])
    msgid, links = None, []
    for m in _THREAD_HEADER.finditer(head.lower()):
        value = _FOLDED_VALUE.match(head, m.end()).group()
        if m.group(1) == b"message-id":
            if msgid is None:
                found = _ID.search(value)
                mid = found.group(1) if found else re.sub(rb"\r?\n[ \t]+", b" ", value).strip()
                msgid = mid.decode("utf-8", "replace") if mid else None
        else:
            links.extend(x.decode("utf-8", "replace") for x in _ID.findall(value))
    return msgid, links


def split_threads(raws: list[bytes]) -> list[list[bytes]]:
    """Group raw messages into threads: connected by Message-ID, In-Reply-To and References (two
    replies to a message the archive lacks are in one thread). Duplicate Message-IDs keep the
    first copy. Threads come in the order of their first message."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra

    kept: list[tuple[str, bytes]] = []
    seen: set[str] = set()
    for n, raw in enumerate(raws):
        msgid, links = _header_ids(raw)
        if msgid is None:
            msgid = f"no-message-id-{n}@reviewbot.invalid"
        if msgid in seen:
            continue
        seen.add(msgid)
        kept.append((msgid, raw))
        find(msgid)
        for link in links:
            union(msgid, link)
    groups: dict[str, list[bytes]] = {}
    for msgid, raw in kept:
        groups.setdefault(find(msgid), []).append(raw)
    return list(groups.values())


# --------------------------------------------------------------------------------------------------
# Reviewing one thread (in a worker process)
# --------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    index: int
    status: str  # reviewed | skipped | no-patches | failed
    title: str = ""
    revision: int = 0
    patches: int = 0
    total: int = 0
    missing: tuple[int, ...] = ()
    lines: int = 0  # lines the patches add
    counts: dict = field(default_factory=dict)  # severity -> findings
    report: dict | None = None
    key: object = None  # store.SeriesKey
    drafts: list = field(default_factory=list)  # (patch msgid, path)
    error: str = ""
    msgid: str = ""
    unreadable: tuple[int, ...] = ()  # counters of the patches whose diff could not be read


@dataclass
class Settings:
    """What every worker needs; set in the parent before the workers fork."""

    rules: list
    rules_hash: str
    models: list = field(default_factory=list)  # reference models (reviewbot.models)
    keep: object = None  # which model finding ids are wanted (rulepack.select)
    known: set = field(default_factory=set)  # (identity, revision, content hash) already reviewed
    drafts_dir: str | None = None
    reviewer: str | None = None
    date: object = None
    overwrite: bool = False


_SETTINGS: Settings | None = None


def review_series(series, settings: Settings):
    """engine + dedupe on one assembled series: the Review."""
    from reviewbot import dedupe, engine

    return dedupe.mark_replied(engine.run(series, settings.rules, models=settings.models, keep=settings.keep))


def slug(msgid: str) -> str:
    """A file-name-safe form of a Message-ID."""
    return re.sub(r"[^A-Za-z0-9@._+-]", "_", msgid)[:180]


def write_drafts(review, settings: Settings, msgid: str) -> list[tuple[str, str]]:
    from reviewbot.render import email

    drafts = email.drafts(review, reviewer=settings.reviewer, date=settings.date)
    paths = email.write_drafts(drafts, Path(settings.drafts_dir) / slug(msgid), overwrite=settings.overwrite)
    by_name = {d.filename: d.patch for d in drafts}
    return [(by_name.get(p.name, ""), str(p)) for p in paths]


def review_thread(job: tuple[int, list[bytes]]) -> list[Outcome]:
    """Every version of every series in one thread, each its own Outcome (latest first).

    A list is replayed as it arrived: each version was once the latest and a reviewer saw it, so
    each is reviewed. Patch mails that fall in no version b4 finds (a second series posted into
    the thread) are reviewed too, each on its own: no patch of a thread goes unreviewed."""
    index, raws = job
    settings = _SETTINGS
    assert settings is not None
    from reviewbot import lore
    from reviewbot.errors import ReviewbotError

    if not any(_may_hold_patch(raw) for raw in raws):
        return [Outcome(index, "no-patches", error="no patch in the thread")]  # a discussion: no b4, no parse
    try:
        msgs = [lore.parse_thread_message(raw) for raw in raws]
        first = next((m for m in (lore.clean_msgid(msg) for msg in msgs) if m), None)
        if first is None:
            return [Outcome(index, "no-patches", error="no message with a Message-ID")]
        try:
            versions = thread_series(msgs, first)
        except ReviewbotError as exc:
            status = "no-patches" if str(exc).startswith("no patches") else "failed"
            return [Outcome(index, status, error=str(exc), msgid=first)]
        return [_review_one(index, series, settings) for series in versions]
    except ReviewbotError as exc:
        return [Outcome(index, "failed", error=str(exc))]
    except Exception as exc:  # noqa: BLE001 - one bad thread must not end the batch
        if os.environ.get("REVIEWBOT_DEBUG"):
            raise
        return [Outcome(index, "failed", error=f"internal error: {type(exc).__name__}: {exc}".splitlines()[0])]


def thread_series(msgs: list, first: str) -> list:
    """Every version of the series of a thread (latest first), then, as one more series, the patch
    mails that fall in no version b4 finds (a second series posted into the thread): every patch
    mail of the thread is in exactly one of them. Raises ReviewbotError when there is no series."""
    from reviewbot import lore, thread

    versions = thread.assemble_versions(msgs, first)
    covered = {p.msgid for s in versions for p in s.patches}
    loose = [m for m in msgs if lore.clean_msgid(m) not in covered and not lore.is_reply(m) and lore.has_diff(m)]
    if loose:
        versions.append(thread.assemble_patches(loose))
    return versions


_ENCODED = re.compile(rb"(?im)^content-transfer-encoding:\s*(?:base64|quoted-printable)")


def _may_hold_patch(raw: bytes) -> bool:
    """Whether a raw mail may carry a diff: it shows one, or its body is encoded so that it would
    not show (then it is parsed like any other)."""
    return b"\n+++ " in raw or b"diff --git " in raw or bool(_ENCODED.search(raw))


def _review_one(index: int, series, settings: Settings) -> Outcome:
    from reviewbot import store
    from reviewbot.render import json as json_report

    key = store.key_of(series)
    out = Outcome(index, "reviewed", title=series.title, revision=series.revision,
                  patches=len(series.patches), total=series.total, missing=series.missing,
                  lines=sum(len(cf.added_lines) for p in series.patches for cf in p.changed_files),
                  key=key, msgid=key.msgid,
                  unreadable=tuple(p.counter for p in series.patches if p.unreadable))
    if (key.identity, key.revision, key.content_hash) in settings.known:
        out.status = "skipped"
        return out
    review = review_series(series, settings)
    out.report = json_report.report(review)
    for f in review.findings:
        out.counts[f.severity] = out.counts.get(f.severity, 0) + 1
    if settings.drafts_dir:
        out.drafts = write_drafts(review, settings, key.msgid)
    return out


def _init_worker() -> None:
    # A worker that the user's ^C reaches ends quietly; the parent reports the interruption.
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_jobs(threads: list[list[bytes]], settings: Settings, jobs: int, progress=None) -> list[Outcome]:
    """Review every thread, in `jobs` forked worker processes (inline for one job or one thread)."""
    global _SETTINGS
    _SETTINGS = settings
    work = sorted(enumerate(threads), key=lambda j: -sum(len(r) for r in j[1]))  # biggest first
    results: list[Outcome] = []
    if jobs <= 1 or len(work) <= 1:
        for job in work:
            results.extend(review_thread(job))
            if progress:
                progress(results[-1])
    else:
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(processes=min(jobs, len(work)), initializer=_init_worker) as pool:
            for outcomes in pool.imap_unordered(review_thread, work, chunksize=1):
                results.extend(outcomes)
                if progress:
                    progress(outcomes[-1])
    return sorted(results, key=lambda o: o.index)  # stable: a thread's versions stay latest first


def preload(settings: Settings) -> None:
    """Import what every review needs in this process, so forked workers start with it."""
    from reviewbot import csource, dedupe, engine, facts, lore, thread  # noqa: F401
    from reviewbot.render import json  # noqa: F401

    lore.b4_config()
    for rule in settings.rules:
        rule.module  # noqa: B018 - loads check.py once, before the fork
    for model in settings.models:
        model.module  # noqa: B018


# --------------------------------------------------------------------------------------------------
# Progress and summary
# --------------------------------------------------------------------------------------------------


class Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, total: int, stream=None) -> None:
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.enabled = hasattr(self.stream, "isatty") and self.stream.isatty() and total > 0
        self.start = time.monotonic()

    def __call__(self, outcome: Outcome) -> None:
        self.done += 1
        if not self.enabled:
            return
        width = 30
        filled = int(width * self.done / self.total)
        rate = self.done / max(time.monotonic() - self.start, 1e-6)
        title = (outcome.title or outcome.status)[:40]
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                          f"series {rate:.1f}/s  {title:<40}")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 100 + "\r")
            self.stream.flush()


def spans(numbers) -> str:
    """1, 2, 3, 5, 7, 8 -> "1-3, 5, 7-8": a 300-patch series missing from a list stays one line."""
    out: list[str] = []
    run: list[int] = []
    for n in sorted(numbers):
        if run and n == run[-1] + 1:
            run.append(n)
            continue
        if run:
            out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [n]
    if run:
        out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ", ".join(out)


def summary(outcomes: list[Outcome], seconds: float) -> str:
    rows = [("series", "ver", "patches", "lines", "E/W/I", "status")]
    for o in outcomes:
        if o.status == "no-patches":
            continue
        ver = f"v{o.revision}" if o.revision else "-"
        patches = f"{o.patches}/{o.total}" if o.total else "-"
        ewi = "/".join(str(o.counts.get(s, 0)) for s in ("error", "warning", "info")) if o.status == "reviewed" else "-"
        status = o.status
        if o.missing:
            status += f" (missing {spans(o.missing)})"
        if o.unreadable:
            status += f" (unreadable {spans(o.unreadable)})"
        if o.error:
            status += f": {o.error}"
        title = o.title or o.msgid
        rows.append((title[:60], ver, patches, str(o.lines) if o.lines else "-", ewi, status))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r[:5], widths)))
             + "  " + r[5] for r in rows]
    by = {s: sum(1 for o in outcomes if o.status == s) for s in ("reviewed", "skipped", "no-patches", "failed")}
    patches = sum(o.patches - len(o.unreadable) for o in outcomes if o.status == "reviewed")
    unreadable = sum(len(o.unreadable) for o in outcomes if o.status == "reviewed")
    added = sum(o.lines for o in outcomes if o.status == "reviewed")
    series = len(outcomes) - by["no-patches"]
    lines.append(
        f"{series} series: {by['reviewed']} reviewed, {by['skipped']} skipped (already in the store), "
        f"{by['failed']} failed; {by['no-patches']} threads without patches; "
        f"{patches} patches, {added} added lines in {seconds:.1f} s "
        + (f"({unreadable} unreadable patches not reviewed) " if unreadable else "") +
        f"({patches / max(seconds, 1e-9):.1f} patches/s, {added / max(seconds, 1e-9):.0f} lines/s)")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------------


def settings_from_args(args: argparse.Namespace) -> Settings:
    from reviewbot import models as models_mod
    from reviewbot import rulepack, store

    rules_dir = Path(args.rules_dir) if args.rules_dir else None
    rules, models, keep = rulepack.select(rulepack.load_rules(rules_dir), args.rules, args.skip,
                                          models_mod.load_models(rules_dir))
    settings = Settings(rules=rules, rules_hash=store.rules_hash(rules, [m.folder for m in models]),
                        models=models, keep=keep, overwrite=args.overwrite)
    if args.drafts:
        from datetime import datetime

        from reviewbot.render import email

        settings.drafts_dir = args.drafts
        settings.reviewer = email.reviewer_identity(args.from_)
        if args.date:
            try:
                settings.date = datetime.fromisoformat(args.date)
            except ValueError:
                raise InputError(f"--date {args.date!r} is not an ISO date") from None
    return settings


def _write_report(folder: str, outcome: Outcome) -> None:
    import json

    from reviewbot.outfile import write_atomic

    text = json.dumps(outcome.report, indent=2, ensure_ascii=False) + "\n"
    write_atomic(str(Path(folder) / f"{slug(outcome.msgid)}.json"), text.encode("utf-8"))


def cmd_batch(args: argparse.Namespace) -> int:
    import json

    from reviewbot import store as store_mod
    from reviewbot.finding import severity_rank

    if args.output and args.format != "json":
        raise InputError("batch: --output DIR goes with --format json")
    jobs = args.jobs if args.jobs is not None else (os.cpu_count() or 1)
    if jobs < 1:
        raise InputError("batch: --jobs must be at least 1")
    settings = settings_from_args(args)
    start = time.monotonic()
    raws = read_source(args.source, args.query)
    if not raws and not args.query:
        # As `review` does with an empty mbox: a mailbox with nothing to review is bad input. (A
        # search that matches nothing is an answer, "nothing new", and ends as a run with 0 series.)
        raise InputError(f"batch: {args.source}: no messages")
    threads = split_threads(raws)
    st = None if args.no_store else store_mod.Store(args.store)
    try:
        if st is not None and not args.force:
            settings.known = st.known_keys(settings.rules_hash)
        if jobs > 1 and len(threads) > 1:
            preload(settings)
        progress = Progress(len(threads))
        written: set[int] = set()

        def arrived(outcome: Outcome) -> None:
            progress(outcome)
            # a report is written as soon as it arrives, while the workers go on (each file is
            # written whole, and flushed to disk: that wait overlaps their work, not the run's end)
            if args.output and args.format == "json" and outcome.status == "reviewed":
                _write_report(args.output, outcome)
                written.add(id(outcome))

        try:
            outcomes = run_jobs(threads, settings, jobs, arrived)
        finally:
            progress.close()
        for o in outcomes:
            if o.status == "reviewed" and st is not None:
                rid = st.record_review(o.key, settings.rules_hash, o.report)
                if o.drafts:
                    st.record_drafts(rid, o.drafts)
            if o.status == "failed":
                sys.stderr.write(f"reviewbot: batch: {o.msgid or 'a thread'}: {o.error}\n")
    finally:
        if st is not None:
            st.close()
    if not args.query and outcomes and all(o.status == "no-patches" for o in outcomes):
        # `review` of a thread without patches exits 2; a whole mailbox without any is the same.
        n = len(outcomes)
        raise InputError(f"batch: {args.source}: no patches in its {n} thread{'s' if n != 1 else ''}")
    seconds = time.monotonic() - start
    reviewed = [o for o in outcomes if o.status == "reviewed"]
    table_stream = sys.stdout
    if args.format == "json":
        if args.output:
            for o in reviewed:
                if id(o) not in written:
                    _write_report(args.output, o)
        else:
            for o in reviewed:
                sys.stdout.write(json.dumps(o.report, ensure_ascii=False) + "\n")
            sys.stdout.flush()
            table_stream = sys.stderr
    table_stream.write(summary(outcomes, seconds))
    table_stream.flush()
    if args.fail_on == "never":
        return EXIT_OK
    floor = severity_rank(args.fail_on)
    worst = [f for o in reviewed for f in o.report["findings"] if severity_rank(f["severity"]) >= floor]
    return EXIT_FINDINGS if worst else EXIT_OK
