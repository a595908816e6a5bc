"""`reviewbot watch URL`: follow a public-inbox list and review each new version of each series once.

Each poll cycle reads what is new on the list, either its Atom feed (`URL/new.atom`, the newest
messages; each new entry's thread is fetched as `<entry>/t.mbox.gz`) or, with `--query Q`, a
public-inbox search with whole threads (e.g. `--query 'd:1.day.ago..'`). Every thread is assembled
(thread.assemble: the latest version of its series) and:

- reviewed when all its patches have arrived (no missing slots), or once `--grace MIN` minutes have
  passed since reviewbot first saw it incomplete (it waits in the store meanwhile, and is fetched
  again each cycle until then);
- skipped when the store already holds a review of the same version, content and rules.

A review writes reply drafts (`--drafts DIR`, never sent) and posts Patchwork checks when
`--patchwork URL --token T` are given (patchwork.post_checks), and records all of it in the store.
When the store holds the findings of an older version of the same series, a line says which of
them the new version addressed (reviewbot.versions).

State lives in the store (Atom entries read, incomplete versions waiting, reviews), so a restarted
watch goes on where it stopped. When the archive cannot be reached, watch says so in one line on
stderr per outage and tries again after a delay that doubles each time, up to `--max-backoff`
seconds; when the archive answers again it goes back to `--interval`. `--once` runs one cycle
(for cron and tests) and exits 3 when the archive could not be reached, with the one line saying
so and no promise of another try. There is no `--no-store`: the store is watch's memory.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta, timezone

from reviewbot.errors import EXIT_ARCHIVE, EXIT_OK, ArchiveError, InputError, ReviewbotError

ATOM = "{http://www.w3.org/2005/Atom}"


def add_parser(subparsers) -> None:
    from reviewbot import batch

    p = subparsers.add_parser("watch", help="poll a public-inbox list and review each new series version once")
    p.add_argument("url", metavar="URL", help="the list's public-inbox URL, e.g. https://lore.kernel.org/bpf/")
    p.add_argument("--query", metavar="Q", help="poll this search (whole threads) instead of URL/new.atom")
    p.add_argument("--interval", type=float, default=300.0, metavar="SEC", help="seconds between polls (default 300)")
    p.add_argument("--grace", type=float, default=60.0, metavar="MIN",
                   help="review a series with missing patches after this many minutes (default 60)")
    p.add_argument("--max-backoff", type=float, default=3600.0, metavar="SEC",
                   help="the longest wait between tries while the archive is down (default 3600)")
    p.add_argument("--once", action="store_true", help="run one poll cycle and exit")
    batch.add_common_options(p)
    pw = p.add_argument_group("Patchwork checks")
    pw.add_argument("--patchwork", metavar="URL", help="post one check per patch to this Patchwork instance")
    pw.add_argument("--token", metavar="TOKEN", help="Patchwork API token (default: $REVIEWBOT_PATCHWORK_TOKEN)")
    pw.add_argument("--patchwork-project", metavar="NAME", help="limit the patch lookup to this project")
    pw.add_argument("--target-url", metavar="URL", help="the link each check points to")
    p.set_defaults(func=cmd_watch)


def parse_atom(data: bytes, base: str) -> list[tuple[str, str]]:
    """(path segment of the message under base, title) of each feed entry, newest first as served."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ArchiveError(f"lore at {base} answered new.atom with something that is not Atom: {exc}") from None
    out = []
    for entry in root.iter(f"{ATOM}entry"):
        title = (entry.findtext(f"{ATOM}title") or "").strip()
        for link in entry.iter(f"{ATOM}link"):
            href = link.get("href") or ""
            if href.startswith(base):
                segment = href[len(base):].strip("/").split("/")[0]
                if segment:
                    out.append((segment, title))
                    break
    return out


class Watcher:
    def __init__(self, args: argparse.Namespace, *, out=None, err=None, sleep=time.sleep, clock=time.monotonic):
        from reviewbot import batch, fetch
        from reviewbot import store as store_mod

        self.args = args
        self.base = fetch.lore_base_url(args.url)
        self.source = self.base + (f"?q={args.query}" if args.query else "new.atom")
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.sleep = sleep
        self.clock = clock
        self.settings = batch.settings_from_args(args)
        self.token = None
        if args.patchwork:
            import os

            self.token = args.token or os.environ.get("REVIEWBOT_PATCHWORK_TOKEN")
            if not self.token:
                raise InputError("--patchwork needs --token (or REVIEWBOT_PATCHWORK_TOKEN)")
        self.store = store_mod.Store(args.store)
        self.outage_since: float | None = None
        self.failures = 0

    def close(self) -> None:
        self.store.close()

    def say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    # -- one cycle ---------------------------------------------------------------------------------

    def threads(self) -> list[tuple[list[bytes], list[str]]]:
        """(raw messages of a thread, feed entries it answers for) for every thread to look at now."""
        from reviewbot import batch, lore

        found: list[tuple[list[bytes], list[str]]] = []
        if self.args.query:
            data = lore.search_mbox(self.base, self.args.query)
            if data.strip():
                found.extend((t, []) for t in batch.split_threads(lore.split_mbox_raw(data)))
        else:
            entries = parse_atom(lore.fetch_url(self.base, "new.atom"), self.base)
            covered: set[str] = set()
            for segment, _title in entries:
                if segment in covered or self.store.seen(self.source, segment):
                    continue
                raws = self._thread_raws(segment)
                ids = {batch._header_ids(r)[0] for r in raws}
                covered |= {i for i in ids if i}
                covered.add(segment)
                found.append((raws, [segment]))
        # Incomplete versions still waiting for their patches (or their grace period).
        have = {batch._header_ids(r)[0] for raws, _ in found for r in raws}
        for _identity, _revision, msgid in self.store.pending(self.source):
            if msgid not in have:
                found.append((self._thread_raws(msgid), []))
        return found

    def _thread_raws(self, segment: str) -> list[bytes]:
        import gzip
        import urllib.parse

        from reviewbot import lore

        path = urllib.parse.quote(segment, safe="@=+_.-%") + "/t.mbox.gz"
        try:
            data = lore.fetch_url(self.base, path)
        except InputError:
            return []  # gone from the archive meanwhile
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise ArchiveError(f"lore at {self.base} answered {path} with something that is not a gzipped mbox ({exc})") from None
        return lore.split_mbox_raw(data) if data.strip() else []

    def poll_once(self) -> int:
        """One cycle: returns how many series were reviewed. ArchiveError when the archive fails."""
        reviewed = 0
        for raws, segments in self.threads():
            if raws:
                reviewed += self.handle(raws)
            if segments:
                self.store.mark_seen(self.source, segments)
        return reviewed

    def handle(self, raws: list[bytes]) -> int:
        from reviewbot import batch, lore, store, thread

        msgs = [lore.parse_message(r) for r in raws]
        first = next((m for m in (lore.clean_msgid(x) for x in msgs) if m), None)
        if first is None:
            return 0
        try:
            series = thread.assemble(msgs, first)
        except ReviewbotError:
            return 0  # a discussion without patches, or a thread we cannot read: nothing to review
        key = store.key_of(series)
        if self.store.review_of(key, self.settings.rules_hash) is not None:
            self.store.done_pending(self.source, key.identity, key.revision)
            return 0
        if series.missing:
            since = self.store.pending_since(self.source, key.identity, key.revision, key.msgid)
            waited = datetime.now(timezone.utc) - since
            if waited < timedelta(minutes=self.args.grace):
                self.say(f"waiting: v{key.revision} {key.title!r} lacks patch "
                         f"{', '.join(map(str, series.missing))} of {series.total} "
                         f"(reviewed anyway {self.args.grace:g} min after first seen)")
                return 0
        try:
            review = batch.review_series(series, self.settings)
        except ReviewbotError as exc:
            self.err.write(f"reviewbot: watch: {key.msgid}: {exc}\n")
            self.store.done_pending(self.source, key.identity, key.revision)
            return 0
        from reviewbot.render import json as json_report

        report = json_report.report(review)
        older = [r for r in self.store.revisions(key.identity) if r < key.revision]
        rid = self.store.record_review(key, self.settings.rules_hash, report)
        self.store.done_pending(self.source, key.identity, key.revision)
        counts = {s: sum(1 for f in review.findings if f.severity == s) for s in ("error", "warning", "info")}
        line = (f"reviewed: v{key.revision} {key.title!r} ({len(series.patches)}/{series.total} patches): "
                + ", ".join(f"{n} {s}" for s, n in counts.items()))
        if self.settings.drafts_dir:
            drafts = batch.write_drafts(review, self.settings, key.msgid)
            self.store.record_drafts(rid, drafts)
            if drafts:
                line += f"; drafts in {batch.Path(self.settings.drafts_dir) / batch.slug(key.msgid)}"
        self.say(line)
        if older:
            from reviewbot import versions

            prev = older[-1]
            items = versions.compare_findings(self.store.report_of(key.identity, prev) or {}, report)
            self.say(f"  since v{prev}: {versions.summary_line(items)}")
        if self.args.patchwork:
            from reviewbot import patchwork

            try:
                results = patchwork.post_checks(review, url=self.args.patchwork, token=self.token,
                                                project=self.args.patchwork_project,
                                                target_url=self.args.target_url)
            except ReviewbotError as exc:
                self.err.write(f"reviewbot: watch: checks for {key.msgid}: {exc}\n")
            else:
                self.store.record_checks(rid, results)
        return 1

    # -- the loop ----------------------------------------------------------------------------------

    def delay_after_failure(self) -> float:
        """The wait before the next try: --interval doubled per consecutive failure, at most --max-backoff."""
        base = max(1.0, min(self.args.interval, 60.0))
        return min(self.args.max_backoff, base * (2 ** (self.failures - 1)))

    def cycle(self, last: bool = False) -> bool:
        """One poll with outage bookkeeping: True when the archive answered. `last`: no poll follows
        (--once), so a failure is reported as it is, without promising another try."""
        try:
            self.poll_once()
        except ArchiveError as exc:
            self.failures += 1
            if last:
                self.err.write(f"reviewbot: watch: {exc}\n")
                self.err.flush()
            elif self.outage_since is None:
                self.outage_since = self.clock()
                self.err.write(f"reviewbot: watch: {exc}; trying again with backoff (at most every "
                               f"{self.args.max_backoff:g} s)\n")
                self.err.flush()
            return False
        if self.outage_since is not None:
            self.say(f"archive reachable again after {self.clock() - self.outage_since:.0f} s")
        self.outage_since, self.failures = None, 0
        return True

    def run(self, cycles: int | None = None) -> int:
        n = 0
        while cycles is None or n < cycles:
            ok = self.cycle(last=cycles is not None and n + 1 >= cycles)
            n += 1
            if cycles is not None and n >= cycles:
                return EXIT_OK if ok else EXIT_ARCHIVE
            self.sleep(self.args.interval if ok else self.delay_after_failure())
        return EXIT_OK


def cmd_watch(args: argparse.Namespace) -> int:
    if args.interval <= 0 or args.grace < 0 or args.max_backoff <= 0:
        raise InputError("watch: --interval and --max-backoff must be positive, --grace not negative")
    watcher = Watcher(args)
    try:
        return watcher.run(1 if args.once else None)
    finally:
        watcher.close()
