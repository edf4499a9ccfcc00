"""The query log: one row per question in the ``queries`` table of the engine's database.

Handlers call ``record()``, which only appends to an in-memory queue; a writer thread inserts
the rows in batches with its own connection, so the event loop never waits for SQLite (a reload
may hold the write lock for seconds). A batch is what comes within half a second: one
transaction per question cost a busy bot about 1 ms of CPU per answer. Logging is best effort:
a failed write is reported once in the log and never stops the bot from answering. Rows still
queued are written by ``close()`` (at shutdown).
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import astuple, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from bot.config import secret_variants
from retrieval.answers import AnswerResult

TABLE = "queries"
REDACTED = "<redacted>"
logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class QueryRecord:
    time: str  # ISO 8601, UTC
    chat_type: str  # private, group, supergroup, channel
    chat_id: int
    user_id: int | None
    question: str
    answered: bool
    doc_id: str | None  # the top passage's article, also when no answer was given
    title: str | None
    paragraph: int | None
    confidence: float | None
    latency_ms: float

    @classmethod
    def from_result(
        cls,
        result: AnswerResult,
        *,
        chat_type: str,
        chat_id: int,
        user_id: int | None,
        latency_ms: float,
    ) -> QueryRecord:
        top = result.answers[0] if result.answers else None
        return cls(
            time=datetime.now(UTC).isoformat(timespec="milliseconds"),
            chat_type=chat_type,
            chat_id=chat_id,
            user_id=user_id,
            question=result.question,
            answered=not result.no_answer,
            doc_id=top.doc_id if top else None,
            title=top.title if top else None,
            paragraph=top.paragraph if top else None,
            confidence=float(top.confidence) if top else None,
            latency_ms=round(latency_ms, 1),
        )


_COLUMNS = {
    "id": int,
    "time": str,
    "chat_type": str,
    "chat_id": int,
    "user_id": int,
    "question": str,
    "answered": int,
    "doc_id": str,
    "title": str,
    "paragraph": int,
    "confidence": float,
    "latency_ms": float,
}
_RECORD_COLUMNS = [field.name for field in fields(QueryRecord)]
_INSERT = (
    f"INSERT INTO {TABLE} ({', '.join(_RECORD_COLUMNS)})"
    f" VALUES ({', '.join('?' for _ in _RECORD_COLUMNS)})"
)


class _Flush:
    """A marker in the queue: set once every record queued before it has been handled."""

    def __init__(self) -> None:
        self.done = threading.Event()


_STOP = object()


class QueryLog:
    def __init__(
        self,
        db_path: Path | str,
        *,
        batch_size: int = 200,
        batch_window: float = 0.5,
        max_pending: int = 10_000,
        secrets: Iterable[str] = (),
    ) -> None:
        """``secrets`` (the bot token) are replaced in every question before it is stored."""
        self.db_path = str(db_path)
        self.batch_size = batch_size
        self.batch_window = batch_window
        self._secrets = secret_variants(secrets)
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_pending)
        self._failing = False  # a write failed and has been reported; don't report each one
        self._dropped = 0
        self._thread = threading.Thread(target=self._run, name="query-log-writer", daemon=True)
        self._thread.start()

    def record(self, record: QueryRecord) -> None:
        """Queue ``record`` for writing; never blocks, never raises."""
        for secret in self._secrets:
            if secret in record.question:
                record = replace(record, question=record.question.replace(secret, REDACTED))
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self._dropped += 1
            if self._dropped == 1:
                logger.warning("query log queue is full: dropping records until it drains")

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until every record queued so far has been written (or failed to)."""
        if not self._thread.is_alive():
            return True
        marker = _Flush()
        self._queue.put(marker)
        return marker.done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued and stop the writer thread."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)

    # -- the writer thread -----------------------------------------------------------------

    def _run(self) -> None:
        db: sqlite_utils.Database | None = None
        try:
            stop = False
            while not stop:
                batch, markers, stop = self._collect()
                if batch:
                    db = self._write(db, batch)
                for marker in markers:
                    marker.done.set()
        finally:
            if db is not None:
                db.conn.close()

    def _collect(self) -> tuple[list[QueryRecord], list[_Flush], bool]:
        """The next batch: the first record, then whatever else comes within
        ``batch_window`` seconds (up to ``batch_size``), so that a busy bot writes one
        transaction per window instead of one per question. A flush or stop marker ends the
        window at once. Returns the records, the flush markers and whether to stop."""
        batch: list[QueryRecord] = []
        markers: list[_Flush] = []
        item = self._queue.get()
        deadline = time.monotonic() + self.batch_window
        while True:
            if item is _STOP:
                return batch, markers, True
            if isinstance(item, _Flush):
                markers.append(item)
                return batch, markers, False
            if isinstance(item, QueryRecord):
                batch.append(item)
            remaining = deadline - time.monotonic()
            if len(batch) >= self.batch_size or remaining <= 0:
                return batch, markers, False
            try:
                item = self._queue.get(timeout=remaining)
            except queue.Empty:
                return batch, markers, False

    def _write(
        self, db: sqlite_utils.Database | None, batch: list[QueryRecord]
    ) -> sqlite_utils.Database | None:
        try:
            if db is None:
                db = _open(self.db_path)
            with db.conn:
                db.conn.executemany(_INSERT, [astuple(record) for record in batch])
        except (sqlite3.Error, OSError, UnicodeError) as error:
            if not self._failing:
                logger.error(
                    "cannot write the query log to %s (%s); questions are still answered,"
                    " further write errors are not reported until a write succeeds",
                    self.db_path,
                    error,
                )
                self._failing = True
            if db is not None:
                db.conn.close()
            return None
        if self._failing:
            logger.info("query log writes work again")
            self._failing = False
        return db


def _open(db_path: str) -> sqlite_utils.Database:
    # A reload can hold the write lock while it re-indexes: wait for it rather than fail.
    conn = sqlite3.connect(db_path, timeout=30, check_same_thread=False)
    # The store keeps the database in WAL mode, where NORMAL is safe from corruption; at
    # worst a power cut loses the last few rows, which beats an fsync per batch.
    conn.execute("PRAGMA synchronous=NORMAL")
    db = sqlite_utils.Database(conn, execute_plugins=False)
    with conn:
        db[TABLE].create(_COLUMNS, pk="id", if_not_exists=True)
        db[TABLE].create_index(["time"], if_not_exists=True)
    return db
