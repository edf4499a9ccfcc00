"""A new database is built aside and moved into place whole; an existing one is updated."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

import retrieval.index_update as index_update
from retrieval.index_update import update_index
from retrieval.indexer import IndexingCancelled, refresh
from retrieval.store import Store

TABLES = ("files", "articles", "chunks", "terms")


def dump(db: Path) -> dict[str, list[tuple]]:
    store = Store(db, read_only=True)
    try:
        rows = {t: store.db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in TABLES}
    finally:
        store.close()
    for row in rows["files"]:
        assert row[1]  # content hash
    return rows


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".building" in p.name)


def test_a_new_database_holds_what_an_update_in_place_writes(seeds_corpus, tmp_path):
    in_place = Store(tmp_path / "in_place.db")
    refresh(in_place, seeds_corpus)
    in_place.close()

    summary = update_index(tmp_path / "new.db", seeds_corpus)

    assert summary.added == 1 and summary.paragraphs > 10
    assert dump(tmp_path / "new.db") == dump(tmp_path / "in_place.db")
    connection = sqlite3.connect(tmp_path / "new.db")
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    connection.close()
    assert indexes(tmp_path / "new.db") == indexes(tmp_path / "in_place.db")
    assert {"idx_articles_doc_id", "idx_terms_term"} <= indexes(tmp_path / "new.db")
    assert leftovers(tmp_path) == []


def indexes(db: Path) -> set[str]:
    connection = sqlite3.connect(db)
    try:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        return {name for (name,) in rows if not name.startswith("sqlite_autoindex")}
    finally:
        connection.close()


def test_then_updates_are_made_in_place(seeds_corpus, tmp_path):
    db = tmp_path / "news.db"
    update_index(db, seeds_corpus)
    inode = db.stat().st_ino
    (seeds_corpus / "brief.txt").write_text("Port reopens\n\nThe harbour of Tartus reopened.\n")
    summary = update_index(db, seeds_corpus)
    assert (summary.added, summary.unchanged) == (1, 1)
    assert db.stat().st_ino == inode


def test_a_cancelled_first_index_leaves_no_database(seeds_corpus, tmp_path):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(IndexingCancelled):
        update_index(tmp_path / "news.db", seeds_corpus, cancel=cancel)
    assert sorted(p.name for p in tmp_path.iterdir()) == [seeds_corpus.name]


def test_stale_log_files_of_a_deleted_database_are_not_taken_for_the_new_ones(
    seeds_corpus, tmp_path
):
    db = tmp_path / "news.db"
    update_index(db, seeds_corpus)
    writer = Store(db)  # leave a log behind, as a database deleted while in use does
    writer.db.execute("INSERT INTO meta (key, value) VALUES ('stale', 'yes')")
    writer.db.conn.commit()
    log = Path(f"{db}-wal").read_bytes()
    writer.close()
    db.unlink()
    Path(f"{db}-wal").write_bytes(log or b"junk")

    update_index(db, seeds_corpus)

    store = Store(db, read_only=True)
    assert store.get_meta("stale") is None
    assert store.counts()[1] > 10
    store.close()


def test_a_database_made_meanwhile_by_another_process_is_kept_and_updated(
    seeds_corpus, tmp_path, monkeypatch
):
    db = tmp_path / "news.db"
    real_refresh = index_update.refresh

    def refresh_while_another_builds(store, corpus, *args):
        if store.path != str(db):  # the build aside: another process wins the race
            other = Store(db)
            other.set_meta("made_by", "the other process")
            other.close()
        return real_refresh(store, corpus, *args)

    monkeypatch.setattr(index_update, "refresh", refresh_while_another_builds)
    summary = update_index(db, seeds_corpus)

    store = Store(db, read_only=True)
    assert store.get_meta("made_by") == "the other process"
    assert store.counts()[1] > 10 and summary.paragraphs == store.counts()[1]
    store.close()
    assert leftovers(tmp_path) == []


def test_builds_abandoned_by_killed_processes_are_removed(seeds_corpus, tmp_path):
    dead = 2**22 + 12345  # above Linux's largest process id: never running
    abandoned = [tmp_path / f"news.db.building-{dead}", tmp_path / f"news.db.building-{dead}-wal"]
    for path in abandoned:
        path.write_bytes(b"half a database")
    update_index(tmp_path / "news.db", seeds_corpus)
    assert leftovers(tmp_path) == []
