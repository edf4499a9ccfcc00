"""The store under faults: locked, read-only, corrupt, and a crash in the middle of indexing."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import retrieval.store as store_module
from retrieval.engine import QAEngine
from retrieval.indexer import refresh
from retrieval.store import Store, StoreError

REPO = Path(__file__).resolve().parent.parent


def test_locked_database_fails_the_reload_and_keeps_serving(engine, seeds_corpus, monkeypatch):
    monkeypatch.setattr(store_module, "LOCK_TIMEOUT_SECONDS", 0.2)
    (seeds_corpus / "new.txt").write_text("Harbour opens\n\nThe new harbour opened on Monday.\n")
    other = sqlite3.connect(engine.db_path)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            engine.reload()
        # Readers are not blocked by a writer in WAL mode: questions go on.
        assert "87 people" in engine.retrieve("How many did the attack kill?", k=1)[0].chunk.text
    finally:
        other.rollback()
        other.close()
    assert engine.reload().added == 1


def test_read_only_database_is_served_as_it_is(seeds_corpus, tmp_path, monkeypatch):
    db = tmp_path / "index.db"
    QAEngine.open(seeds_corpus, db).close()
    before = db.stat().st_mtime_ns
    (seeds_corpus / "new.txt").write_text("Harbour opens\n\nThe new harbour opened on Monday.\n")
    # We run as root, for whom permission bits do not stop writes: pretend instead.
    monkeypatch.setattr(Store, "writable", staticmethod(lambda path: False))
    engine = QAEngine.open(seeds_corpus, db)
    try:
        assert engine.warnings and "read-only" in engine.warnings[0]
        assert engine.retrieve("Tillerson Lavrov", k=1)
        assert engine.retrieve("harbour", k=1) == []
    finally:
        engine.close()
    assert db.stat().st_mtime_ns == before


def test_corrupt_database_says_how_to_rebuild(tmp_path):
    db = tmp_path / "index.db"
    db.write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    with pytest.raises(StoreError, match="--rebuild"):
        Store(db)


def test_cli_reports_a_corrupt_database_in_one_line_and_rebuild_fixes_it(seeds_corpus, tmp_path):
    db = tmp_path / "index.db"
    db.write_bytes(b"garbage" * 1000)
    command = [sys.executable, "-m", "bot.cli"]
    where = ["--corpus", str(seeds_corpus), "--db", str(db)]
    asked = subprocess.run(
        [*command, "ask", *where, "Who met Tillerson?"], capture_output=True, text=True, cwd=REPO
    )
    assert asked.returncode == 2
    assert asked.stderr.count("\n") == 1 and "--rebuild" in asked.stderr
    assert "Traceback" not in asked.stderr
    rebuilt = subprocess.run(
        [*command, "index", *where, "--rebuild"], capture_output=True, text=True, cwd=REPO
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "1 added" in rebuilt.stdout


def test_a_crash_in_the_middle_of_indexing_leaves_a_consistent_store(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for n in range(400):
        paragraphs = "\n\n".join(
            f"Paragraph {p} of story {n} about topic {n % 7}." for p in range(30)
        )
        (corpus / f"story{n:03}.txt").write_text(f"Story {n}\n\n{paragraphs}\n")
    db = tmp_path / "index.db"
    script = (
        "import sys; from pathlib import Path; from retrieval.store import Store;"
        "from retrieval.indexer import refresh;"
        "refresh(Store(sys.argv[2]), Path(sys.argv[1]))"
    )
    indexer = subprocess.Popen([sys.executable, "-c", script, str(corpus), str(db)], cwd=REPO)
    deadline = time.monotonic() + 30
    while not db.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    indexer.send_signal(signal.SIGKILL)
    indexer.wait()
    store = Store(db)
    assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    articles, _ = store.counts()
    assert articles in (0, 400)  # all of the run or none of it
    summary = refresh(store, corpus)
    assert summary.articles == 400 and summary.added == 400 - articles
    store.close()
