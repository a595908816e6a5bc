"""The review store: what reviewbot has seen and done, in one SQLite file (stdlib sqlite3).

Default path `$XDG_DATA_HOME/reviewbot/store.sqlite3` (`~/.local/share/...`); every command that
uses it takes `--store PATH`. It records the series seen and their versions, each review (with its
JSON report and findings), the reply drafts written and the Patchwork checks posted, and what
`reviewbot watch` has already read from a list, so that:

- a series is not reviewed twice for the same version and rules. The key of a review is
  (series identity, revision, content hash, rules hash):
    * identity: `change-id:<id>` when the series carries b4's change-id (in the cover letter, or
      the first patch when there is no cover), else `subject:<normalised title>|<author address>`
      of the cover letter (or the first patch);
    * content hash: sha256 over the patches' bodies in counter order and the missing slots;
    * rules hash: sha256 over reviewbot's version and every file of the rules (and model packs)
      that ran;
- findings can be compared across versions (`findings_of(identity, revision)`).

The schema is versioned: the table `schema_version` holds one row, the version of the schema the
file is at, and `MIGRATIONS` is the ordered list of steps from an empty file to the current
schema. Opening a file runs the steps it lacks, each in its own transaction; a file made by a newer
reviewbot (a version we do not know) is refused rather than guessed at.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from reviewbot.errors import InputError

# Each step: (the version it brings the file to, its SQL). Never edit a released step: add one.
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (1, """
        CREATE TABLE series (
            id INTEGER PRIMARY KEY,
            identity TEXT NOT NULL UNIQUE,
            change_id TEXT,
            title TEXT NOT NULL,
            author TEXT NOT NULL,
            first_seen TEXT NOT NULL
        );
        CREATE TABLE versions (
            id INTEGER PRIMARY KEY,
            series_id INTEGER NOT NULL REFERENCES series(id),
            revision INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            msgid TEXT NOT NULL,
            patches INTEGER NOT NULL,
            total INTEGER NOT NULL,
            missing TEXT NOT NULL,
            seen_at TEXT NOT NULL,
            UNIQUE (series_id, revision, content_hash)
        );
        CREATE TABLE reviews (
            id INTEGER PRIMARY KEY,
            version_id INTEGER NOT NULL REFERENCES versions(id),
            rules_hash TEXT NOT NULL,
            reviewbot TEXT NOT NULL,
            reviewed_at TEXT NOT NULL,
            status TEXT NOT NULL,
            report TEXT,
            UNIQUE (version_id, rules_hash)
        );
        CREATE TABLE findings (
            id INTEGER PRIMARY KEY,
            review_id INTEGER NOT NULL REFERENCES reviews(id),
            rule TEXT NOT NULL,
            severity TEXT NOT NULL,
            patch TEXT NOT NULL,
            counter INTEGER NOT NULL,
            file TEXT NOT NULL,
            line INTEGER NOT NULL,
            end_line INTEGER NOT NULL,
            message TEXT NOT NULL,
            quoted TEXT NOT NULL
        );
    """),
    (2, """
        ALTER TABLE findings ADD COLUMN confidence TEXT NOT NULL DEFAULT 'high';
        ALTER TABLE findings ADD COLUMN replied_by TEXT;
        CREATE INDEX findings_review ON findings(review_id);
        CREATE TABLE drafts (
            id INTEGER PRIMARY KEY,
            review_id INTEGER NOT NULL REFERENCES reviews(id),
            patch TEXT NOT NULL,
            path TEXT NOT NULL,
            written_at TEXT NOT NULL
        );
        CREATE TABLE checks (
            id INTEGER PRIMARY KEY,
            review_id INTEGER NOT NULL REFERENCES reviews(id),
            patch TEXT NOT NULL,
            patchwork_id INTEGER,
            state TEXT NOT NULL,
            description TEXT NOT NULL,
            action TEXT NOT NULL,
            posted_at TEXT NOT NULL
        );
    """),
    (3, """
        CREATE TABLE seen_messages (
            source TEXT NOT NULL,
            msgid TEXT NOT NULL,
            seen_at TEXT NOT NULL,
            PRIMARY KEY (source, msgid)
        );
        CREATE TABLE pending (
            source TEXT NOT NULL,
            identity TEXT NOT NULL,
            revision INTEGER NOT NULL,
            msgid TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            PRIMARY KEY (source, identity, revision)
        );
    """),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]

_CHANGE_ID = re.compile(r"^change-id:\s*(\S+)\s*$", re.MULTILINE | re.IGNORECASE)


def default_path() -> Path:
    home = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(home) / "reviewbot" / "store.sqlite3"


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesKey:
    identity: str
    change_id: str | None
    title: str
    author: str
    revision: int
    content_hash: str
    msgid: str  # the cover letter's Message-ID, else the first patch's
    patches: int
    total: int
    missing: tuple[int, ...]


def change_id(series) -> str | None:
    """b4's change-id of the series: a `change-id: ...` line of the cover letter (b4 puts it there),
    else of the first patch."""
    for msg in ([series.cover] if series.cover is not None else []) + list(series.patches[:1]):
        m = _CHANGE_ID.search(msg.body or "")
        if m:
            return m.group(1)
    return None


def normalise_subject(title: str) -> str:
    """A series title compared loosely: lower case, whitespace runs collapsed, no trailing dot."""
    return " ".join((title or "").lower().split()).rstrip(".")


def key_of(series) -> SeriesKey:
    first = series.cover if series.cover is not None else series.patches[0]
    cid = change_id(series)
    author = (first.author_email or "").lower()
    title = series.title or first.title
    identity = f"change-id:{cid}" if cid else f"subject:{normalise_subject(title)}|{author}"
    h = hashlib.sha256()
    for p in series.patches:
        h.update(f"{p.counter}\0".encode())
        h.update(p.body.encode("utf-8", "surrogateescape"))
        h.update(b"\0")
    h.update(("missing:" + ",".join(map(str, series.missing))).encode())
    return SeriesKey(identity, cid, title, author, series.revision, h.hexdigest(), first.msgid,
                     len(series.patches), series.total, tuple(series.missing))


def rules_hash(rules, extra_dirs: Iterable[Path] = ()) -> str:
    """sha256 over reviewbot's version and every file of the rule folders (and extra folders, e.g.
    model packs): a changed check.py or rule.toml, or a new reviewbot, means a new review."""
    from reviewbot import __version__

    h = hashlib.sha256(f"reviewbot {__version__}\0".encode())
    folders = [(r.id, Path(r.folder)) for r in sorted(rules, key=lambda r: r.id)]
    folders += [(str(d), Path(d)) for d in sorted(extra_dirs)]
    for name, folder in folders:
        h.update(f"rule {name}\0".encode())
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            h.update(str(path.relative_to(folder)).encode() + b"\0")
            h.update(path.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


# --------------------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------------------


class Store:
    """One open store file. Use as a context manager, or call close()."""

    def __init__(self, path: str | os.PathLike | None = None, *, upto: int | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise InputError(f"store {self.path}: cannot open: {exc}") from None
        self.db.row_factory = sqlite3.Row
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.migrate(upto)
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise InputError(f"store {self.path}: not a reviewbot store ({exc})") from None

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    # -- schema -------------------------------------------------------------------------------------

    @property
    def version(self) -> int:
        has = self.db.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'").fetchone()
        if not has:
            return 0
        row = self.db.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def migrate(self, upto: int | None = None) -> int:
        """Run the migrations this file lacks (up to `upto`, default all); returns the version."""
        target = SCHEMA_VERSION if upto is None else upto
        current = self.version
        if current > SCHEMA_VERSION:
            raise InputError(f"store {self.path}: schema version {current} is newer than this reviewbot "
                             f"knows ({SCHEMA_VERSION}); upgrade reviewbot or use another --store")
        for version, sql in MIGRATIONS:
            if version <= current or version > target:
                continue
            self.db.execute("BEGIN IMMEDIATE")
            try:
                if self.version >= version:  # another process migrated meanwhile
                    self.db.execute("COMMIT")
                    continue
                self.db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                for statement in _statements(sql):
                    self.db.execute(statement)
                self.db.execute("DELETE FROM schema_version")
                self.db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return self.version

    # -- series, versions, reviews -----------------------------------------------------------------

    def _series_id(self, key: SeriesKey) -> int:
        row = self.db.execute("SELECT id FROM series WHERE identity = ?", (key.identity,)).fetchone()
        if row:
            return int(row[0])
        cur = self.db.execute(
            "INSERT INTO series (identity, change_id, title, author, first_seen) VALUES (?, ?, ?, ?, ?)",
            (key.identity, key.change_id, key.title, key.author, now()))
        return int(cur.lastrowid)

    def _version_id(self, key: SeriesKey) -> int:
        sid = self._series_id(key)
        row = self.db.execute(
            "SELECT id FROM versions WHERE series_id = ? AND revision = ? AND content_hash = ?",
            (sid, key.revision, key.content_hash)).fetchone()
        if row:
            return int(row[0])
        cur = self.db.execute(
            "INSERT INTO versions (series_id, revision, content_hash, msgid, patches, total, missing, seen_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (sid, key.revision, key.content_hash, key.msgid, key.patches, key.total,
             json.dumps(list(key.missing)), now()))
        return int(cur.lastrowid)

    def review_of(self, key: SeriesKey, rules_hash_: str) -> sqlite3.Row | None:
        """The stored review of exactly this version and rule set, or None."""
        return self.db.execute(
            "SELECT r.* FROM reviews r JOIN versions v ON r.version_id = v.id JOIN series s ON v.series_id = s.id "
            "WHERE s.identity = ? AND v.revision = ? AND v.content_hash = ? AND r.rules_hash = ?",
            (key.identity, key.revision, key.content_hash, rules_hash_)).fetchone()

    def known_keys(self, rules_hash_: str) -> set[tuple[str, int, str]]:
        """(identity, revision, content hash) of every version reviewed with this rule set."""
        rows = self.db.execute(
            "SELECT s.identity, v.revision, v.content_hash FROM reviews r JOIN versions v ON r.version_id = v.id "
            "JOIN series s ON v.series_id = s.id WHERE r.rules_hash = ?", (rules_hash_,))
        return {(r[0], int(r[1]), r[2]) for r in rows}

    def record_review(self, key: SeriesKey, rules_hash_: str, report: dict | None, *,
                      status: str = "reviewed") -> int:
        """Store one review (its JSON report and its findings); returns the review's id.

        Recording the same key again replaces the earlier review of it."""
        from reviewbot import __version__

        self.db.execute("BEGIN IMMEDIATE")
        try:
            vid = self._version_id(key)
            old = self.db.execute("SELECT id FROM reviews WHERE version_id = ? AND rules_hash = ?",
                                  (vid, rules_hash_)).fetchone()
            if old:
                for table in ("findings", "drafts", "checks"):
                    self.db.execute(f"DELETE FROM {table} WHERE review_id = ?", (old[0],))
                self.db.execute("DELETE FROM reviews WHERE id = ?", (old[0],))
            cur = self.db.execute(
                "INSERT INTO reviews (version_id, rules_hash, reviewbot, reviewed_at, status, report) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (vid, rules_hash_, __version__, now(), status,
                 json.dumps(report, ensure_ascii=False) if report is not None else None))
            rid = int(cur.lastrowid)
            counters = {p["msgid"]: p["counter"] for p in (report or {}).get("patches", [])}
            self.db.executemany(
                "INSERT INTO findings (review_id, rule, severity, confidence, patch, counter, file, line, end_line, "
                "message, quoted, replied_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(rid, f["rule"], f["severity"], f.get("confidence", "high"), f["patch"],
                  counters.get(f["patch"], 0), f["file"], f["line"], f["end_line"], f["message"],
                  json.dumps(f.get("quoted", []), ensure_ascii=False), f.get("replied_by"))
                 for f in (report or {}).get("findings", [])])
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return rid

    def record_drafts(self, review_id: int, drafts: Iterable[tuple[str, str]]) -> None:
        """(patch Message-ID, path) of each draft written for a review."""
        stamp = now()
        with _tx(self.db):
            self.db.executemany("INSERT INTO drafts (review_id, patch, path, written_at) VALUES (?, ?, ?, ?)",
                                [(review_id, patch, str(path), stamp) for patch, path in drafts])

    def record_checks(self, review_id: int, results) -> None:
        """patchwork.CheckResult values of the checks posted (or left unchanged) for a review."""
        stamp = now()
        with _tx(self.db):
            self.db.executemany(
                "INSERT INTO checks (review_id, patch, patchwork_id, state, description, action, posted_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(review_id, r.msgid, r.patch_id, r.state, r.description, r.action, stamp) for r in results])

    def revisions(self, identity: str) -> list[int]:
        rows = self.db.execute(
            "SELECT DISTINCT v.revision FROM versions v JOIN series s ON v.series_id = s.id "
            "JOIN reviews r ON r.version_id = v.id WHERE s.identity = ? ORDER BY v.revision", (identity,))
        return [int(r[0]) for r in rows]

    def report_of(self, identity: str, revision: int) -> dict | None:
        """The JSON report of the newest review of that revision, or None."""
        row = self.db.execute(
            "SELECT r.report FROM reviews r JOIN versions v ON r.version_id = v.id JOIN series s ON v.series_id = s.id "
            "WHERE s.identity = ? AND v.revision = ? AND r.report IS NOT NULL ORDER BY r.id DESC LIMIT 1",
            (identity, revision)).fetchone()
        return json.loads(row[0]) if row else None

    def findings_of(self, identity: str, revision: int) -> list[dict]:
        """The findings of the newest review of that revision (as in the JSON report)."""
        row = self.db.execute(
            "SELECT r.id FROM reviews r JOIN versions v ON r.version_id = v.id JOIN series s ON v.series_id = s.id "
            "WHERE s.identity = ? AND v.revision = ? ORDER BY r.id DESC LIMIT 1", (identity, revision)).fetchone()
        if not row:
            return []
        rows = self.db.execute("SELECT * FROM findings WHERE review_id = ? ORDER BY id", (row[0],))
        return [{"rule": r["rule"], "severity": r["severity"], "confidence": r["confidence"], "patch": r["patch"],
                 "counter": r["counter"], "file": r["file"], "line": r["line"], "end_line": r["end_line"],
                 "message": r["message"], "quoted": json.loads(r["quoted"]), "replied_by": r["replied_by"]}
                for r in rows]

    def counts(self) -> dict[str, int]:
        return {t: int(self.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
                for t in ("series", "versions", "reviews", "findings", "drafts", "checks")}

    # -- what watch has read -------------------------------------------------------------------------

    def seen(self, source: str, msgid: str) -> bool:
        return self.db.execute("SELECT 1 FROM seen_messages WHERE source = ? AND msgid = ?",
                               (source, msgid)).fetchone() is not None

    def mark_seen(self, source: str, msgids: Iterable[str]) -> None:
        stamp = now()
        with _tx(self.db):
            self.db.executemany("INSERT OR IGNORE INTO seen_messages (source, msgid, seen_at) VALUES (?, ?, ?)",
                                [(source, m, stamp) for m in msgids])

    def pending_since(self, source: str, identity: str, revision: int, msgid: str) -> datetime:
        """When this incomplete version was first seen (recorded now if it was not)."""
        with _tx(self.db):
            self.db.execute("INSERT OR IGNORE INTO pending (source, identity, revision, msgid, first_seen) "
                            "VALUES (?, ?, ?, ?, ?)", (source, identity, revision, msgid, now()))
        row = self.db.execute("SELECT first_seen FROM pending WHERE source = ? AND identity = ? AND revision = ?",
                              (source, identity, revision)).fetchone()
        return datetime.strptime(row[0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)

    def pending(self, source: str) -> list[tuple[str, int, str]]:
        """(identity, revision, msgid) of the incomplete versions still waiting."""
        rows = self.db.execute("SELECT identity, revision, msgid FROM pending WHERE source = ? ORDER BY first_seen",
                               (source,))
        return [(r[0], int(r[1]), r[2]) for r in rows]

    def done_pending(self, source: str, identity: str, revision: int) -> None:
        with _tx(self.db):
            self.db.execute("DELETE FROM pending WHERE source = ? AND identity = ? AND revision = ?",
                            (source, identity, revision))


class _tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, *_):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def _statements(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";") if s.strip()]


def open_store(path: str | None) -> Store:
    return Store(path)
