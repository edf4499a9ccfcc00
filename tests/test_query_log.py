"""The query log: rows in the `queries` table, written off the caller's thread, best effort."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from bot.query_log import TABLE, QueryLog, QueryRecord
from retrieval.answers import Answer, AnswerResult


def answered_result(question: str = "How many died?") -> AnswerResult:
    sentence = "The attack killed 87 people."
    answer = Answer(
        "87 people", 18, 27, sentence, 0, sentence, "Bromance", None, "seed.txt", 22, 4.0, 0.75
    )
    return AnswerResult(question=question, no_answer=False, answers=[answer])


def record(question: str = "How many died?", *, chat_id: int = 42) -> QueryRecord:
    return QueryRecord.from_result(
        answered_result(question),
        chat_type="group",
        chat_id=chat_id,
        user_id=7,
        latency_ms=12.345,
    )


def test_records_are_written_to_the_queries_table(tmp_path: Path) -> None:
    db_path = tmp_path / "index.db"
    log = QueryLog(db_path)
    log.record(record("first?"))
    log.record(record("second?"))
    assert log.flush()
    rows = list(sqlite_utils.Database(db_path)[TABLE].rows)
    assert [row["question"] for row in rows] == ["first?", "second?"]
    row = rows[0]
    assert row["chat_type"] == "group" and row["chat_id"] == 42 and row["user_id"] == 7
    assert row["answered"] == 1
    assert (row["doc_id"], row["title"], row["paragraph"]) == ("seed.txt", "Bromance", 22)
    assert row["confidence"] == pytest.approx(0.75)
    assert row["latency_ms"] == pytest.approx(12.3)
    assert row["time"].endswith("+00:00")
    log.close()


def test_an_unanswered_question_keeps_its_closest_passage(tmp_path: Path) -> None:
    result = answered_result()
    refused = AnswerResult(result.question, no_answer=True, answers=result.answers)
    entry = QueryRecord.from_result(
        refused, chat_type="private", chat_id=1, user_id=1, latency_ms=1
    )
    assert entry.answered is False and entry.doc_id == "seed.txt"
    empty = QueryRecord.from_result(
        AnswerResult("q", True, []), chat_type="private", chat_id=1, user_id=None, latency_ms=1
    )
    assert (empty.doc_id, empty.confidence, empty.user_id) == (None, None, None)


def test_close_flushes_what_is_queued(tmp_path: Path) -> None:
    db_path = tmp_path / "index.db"
    log = QueryLog(db_path, batch_size=3)
    for n in range(10):
        log.record(record(f"q{n}"))
    log.close()
    assert sqlite_utils.Database(db_path)[TABLE].count == 10
    log.record(record("after close"))  # ignored quietly, never raises
    assert log.flush()


def test_shares_the_database_with_other_tables(tmp_path: Path) -> None:
    db_path = tmp_path / "index.db"
    with sqlite3.connect(db_path) as conn:
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        conn.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    log = QueryLog(db_path)
    log.record(record())
    log.close()
    db = sqlite_utils.Database(db_path)
    assert set(db.table_names()) == {"meta", TABLE}


def test_a_write_error_is_logged_once_and_never_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    unwritable = tmp_path / "a-directory.db"
    unwritable.mkdir()  # sqlite cannot open a directory as a database
    log = QueryLog(unwritable)
    with caplog.at_level(logging.ERROR, logger="bot.query_log"):
        for n in range(5):
            log.record(record(f"q{n}"))
            assert log.flush()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "cannot write the query log" in errors[0].getMessage()
    log.close()


def test_a_full_queue_drops_records_instead_of_blocking(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = QueryLog(tmp_path / "index.db", max_pending=1)
    with caplog.at_level(logging.WARNING, logger="bot.query_log"):
        for n in range(500):  # far more than the writer can take between two calls
            log.record(record(f"q{n}"))
    log.close()
    written = sqlite_utils.Database(tmp_path / "index.db")[TABLE].count
    assert 1 <= written < 500
    assert sum("queue is full" in r.getMessage() for r in caplog.records) == 1
