"""The review store: schema versions and migrations, review keys, findings across versions."""

from __future__ import annotations

import dataclasses
import sqlite3

import pytest

from reviewbot import store, thread
from reviewbot.errors import InputError

# The schema as version 1 of reviewbot wrote it: frozen here on purpose (do not import it).
V1_SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (1);
CREATE TABLE series (id INTEGER PRIMARY KEY, identity TEXT NOT NULL UNIQUE, change_id TEXT,
    title TEXT NOT NULL, author TEXT NOT NULL, first_seen TEXT NOT NULL);
CREATE TABLE versions (id INTEGER PRIMARY KEY, series_id INTEGER NOT NULL REFERENCES series(id),
    revision INTEGER NOT NULL, content_hash TEXT NOT NULL, msgid TEXT NOT NULL, patches INTEGER NOT NULL,
    total INTEGER NOT NULL, missing TEXT NOT NULL, seen_at TEXT NOT NULL, UNIQUE (series_id, revision, content_hash));
CREATE TABLE reviews (id INTEGER PRIMARY KEY, version_id INTEGER NOT NULL REFERENCES versions(id),
    rules_hash TEXT NOT NULL, reviewbot TEXT NOT NULL, reviewed_at TEXT NOT NULL, status TEXT NOT NULL,
    report TEXT, UNIQUE (version_id, rules_hash));
CREATE TABLE findings (id INTEGER PRIMARY KEY, review_id INTEGER NOT NULL REFERENCES reviews(id),
    rule TEXT NOT NULL, severity TEXT NOT NULL, patch TEXT NOT NULL, counter INTEGER NOT NULL,
    file TEXT NOT NULL, line INTEGER NOT NULL, end_line INTEGER NOT NULL, message TEXT NOT NULL,
    quoted TEXT NOT NULL);
INSERT INTO series VALUES (1, 'subject:mm: bpf oom|roman.gushchin@linux.dev', NULL, 'mm: BPF OOM',
    'roman.gushchin@linux.dev', '2025-08-19T00:00:00Z');
INSERT INTO versions VALUES (1, 1, 1, 'abc', 'cover@x', 13, 14, '[12]', '2025-08-19T00:00:00Z');
INSERT INTO reviews VALUES (1, 1, 'rules1', '0.0.9', '2025-08-19T00:00:00Z', 'reviewed', NULL);
INSERT INTO findings VALUES (1, 1, 'SRCU002', 'error', 'p1@x', 1, 'mm/bpf_oom.c', 32, 32, 'm', '["+x"]');
"""


def _series(body_extra: str = "", revision: int = 1, cover_body: str | None = None) -> thread.Series:
    p = thread.file_patch("mm/foo.c", "int foo(void)\n{\n\treturn 0;" + body_extra + "\n}\n", msgid="p1@x")
    p = dataclasses.replace(p, author_email="Dev@Example.org", title="mm: add foo", revision=revision)
    cover = None
    if cover_body is not None:
        cover = dataclasses.replace(p, msgid="c@x", counter=0, body=cover_body, changed_files=(),
                                    title="mm: Add  foo.")
    return thread.Series(revision=revision, total=1, title=(cover.title if cover else p.title), cover=cover,
                         patches=(p,), missing=(), revisions=(revision,))


def _report(series: thread.Series, findings: list[dict]) -> dict:
    return {"patches": [{"msgid": p.msgid, "counter": p.counter} for p in series.patches], "findings": findings}


FINDING = {"rule": "SRCU002", "severity": "error", "confidence": "high", "patch": "p1@x", "file": "mm/foo.c",
           "line": 3, "end_line": 3, "message": "constant lockdep condition", "quoted": ["+\treturn 0;"],
           "trace": [], "see": "", "replied_by": None}


def test_new_store_is_at_the_latest_schema(tmp_path):
    with store.Store(tmp_path / "s.sqlite3") as st:
        assert st.version == store.SCHEMA_VERSION
        assert st.counts() == dict.fromkeys(("series", "versions", "reviews", "findings", "drafts", "checks"), 0)


def test_default_path_follows_xdg_data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert store.default_path() == tmp_path / "reviewbot" / "store.sqlite3"
    with store.Store() as st:
        assert st.path == tmp_path / "reviewbot" / "store.sqlite3"
    assert (tmp_path / "reviewbot" / "store.sqlite3").is_file()


def test_old_version_database_is_migrated_keeping_its_data(tmp_path):
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(V1_SCHEMA)
    db.commit()
    db.close()
    with store.Store(path) as st:
        assert st.version == store.SCHEMA_VERSION
        # v1's rows survive; v2's columns have their defaults; v2/v3 tables exist and work.
        found = st.findings_of("subject:mm: bpf oom|roman.gushchin@linux.dev", 1)
        assert [(f["rule"], f["line"], f["confidence"], f["replied_by"]) for f in found] == [
            ("SRCU002", 32, "high", None)]
        st.record_drafts(1, [("p1@x", "/tmp/d/0001.eml")])
        st.mark_seen("http://x/", ["a@b"])
        assert st.seen("http://x/", "a@b")
        assert st.counts()["drafts"] == 1
    # Opening again runs nothing more.
    with store.Store(path) as st:
        assert st.version == store.SCHEMA_VERSION


def test_migrations_run_step_by_step(tmp_path):
    path = tmp_path / "s.sqlite3"
    with store.Store(path, upto=1) as st:
        assert st.version == 1
        tables = {r[0] for r in st.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "drafts" not in tables and "findings" in tables
    with store.Store(path) as st:
        assert st.version == store.SCHEMA_VERSION
        assert [v for v, _ in store.MIGRATIONS] == list(range(1, store.SCHEMA_VERSION + 1))


def test_newer_store_is_refused(tmp_path):
    path = tmp_path / "s.sqlite3"
    with store.Store(path) as st:
        st.db.execute("UPDATE schema_version SET version = ?", (store.SCHEMA_VERSION + 1,))
    with pytest.raises(InputError, match="newer"):
        store.Store(path)


def test_not_a_database_is_an_input_error(tmp_path):
    path = tmp_path / "s.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(InputError, match="not a reviewbot store"):
        store.Store(path)


def test_identity_subject_and_author_normalised():
    key = store.key_of(_series())
    assert key.identity == "subject:mm: add foo|dev@example.org"
    assert key.change_id is None and key.revision == 1 and key.msgid == "p1@x"
    # The cover letter's title and author make the identity when there is one; case, spacing and a
    # trailing dot do not matter.
    covered = store.key_of(_series(cover_body="Hello\n"))
    assert covered.identity == "subject:mm: add foo|dev@example.org" and covered.msgid == "c@x"


def test_identity_is_b4_change_id_when_present():
    key = store.key_of(_series(cover_body="Cover.\n\n---\nbase-commit: abc\nchange-id: 20250818-bpf-oom-1a2b3c\n"))
    assert key.identity == "change-id:20250818-bpf-oom-1a2b3c"


def test_content_hash_changes_with_the_patches_only():
    a, b, c = store.key_of(_series()), store.key_of(_series()), store.key_of(_series(body_extra="\n\tfoo();"))
    assert a.content_hash == b.content_hash != c.content_hash


def test_rules_hash_follows_rule_files(tmp_path):
    from reviewbot import rulepack

    rules = rulepack.load_rules()
    assert store.rules_hash(rules) == store.rules_hash(list(reversed(rules)))
    assert store.rules_hash(rules) != store.rules_hash(rules[:1])


def test_same_version_and_rules_is_reviewed_once(tmp_path):
    series = _series()
    key = store.key_of(series)
    with store.Store(tmp_path / "s.sqlite3") as st:
        assert st.review_of(key, "R") is None
        rid = st.record_review(key, "R", _report(series, [FINDING]))
        assert st.review_of(key, "R")["id"] == rid
        assert st.review_of(key, "other rules") is None
        assert st.known_keys("R") == {(key.identity, 1, key.content_hash)}
        # Recording the same key again replaces the review, it does not add one.
        st.record_review(key, "R", _report(series, []))
        assert st.counts()["reviews"] == 1 and st.counts()["findings"] == 0


def test_findings_compared_across_versions(tmp_path):
    v1, v2 = _series(), _series(body_extra="\n\tfoo();", revision=2)
    with store.Store(tmp_path / "s.sqlite3") as st:
        st.record_review(store.key_of(v1), "R", _report(v1, [FINDING]))
        st.record_review(store.key_of(v2), "R", _report(v2, []))
        identity = store.key_of(v1).identity
        assert st.revisions(identity) == [1, 2]
        assert [f["rule"] for f in st.findings_of(identity, 1)] == ["SRCU002"]
        assert st.findings_of(identity, 2) == []
        assert st.report_of(identity, 1)["findings"][0]["quoted"] == ["+\treturn 0;"]


def test_checks_and_pending(tmp_path):
    from reviewbot.patchwork import CheckResult

    series = _series()
    with store.Store(tmp_path / "s.sqlite3") as st:
        rid = st.record_review(store.key_of(series), "R", _report(series, []))
        st.record_checks(rid, [CheckResult("p1@x", 7, "success", "no findings", "posted")])
        assert st.counts()["checks"] == 1
        first = st.pending_since("src", "id", 2, "m@x")
        assert st.pending_since("src", "id", 2, "m@x") == first
        assert st.pending("src") == [("id", 2, "m@x")]
        st.done_pending("src", "id", 2)
        assert st.pending("src") == []
