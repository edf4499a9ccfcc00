"""The QA engine: owns the store and the BM25 index, answers questions, reloads the corpus.

Created once and shared (by the CLI, or by every handler of the bot). Queries run against an
immutable *snapshot*: a BM25 index plus a database connection pinned to the state the index was
built from, so a question never sees a chunk id that a concurrent reload has just replaced.
``reload()`` builds a whole new snapshot on the side and swaps it in with one assignment.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from retrieval.answerer import RERANK_DEPTH, Answerer
from retrieval.answers import AnswerResult
from retrieval.bm25 import BM25Index
from retrieval.documents import Article, Passage
from retrieval.index_pipeline import PendingFile
from retrieval.index_update import update_index
from retrieval.indexer import IndexSummary, Progress, write_articles
from retrieval.store import REBUILD_HINT, SourceInfo, Store, StoredFile, StoreError
from retrieval.tokenizer import tokenize


class ReloadInProgress(RuntimeError):
    """A reload was asked for while another one is running."""


class _SnapshotRetired(Exception):
    """The snapshot was swapped out and closed between taking it and reading from it."""


class _Snapshot:
    """One generation of the index and the database state it was built from."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.lock = threading.Lock()  # one sqlite3 connection: one user at a time
        self.retired = False
        store.begin_snapshot()
        self.generation = store.get_meta("generation")
        arrays = store.token_arrays()
        self.chunk_ids = arrays.chunk_ids
        self.index = BM25Index.from_token_ids(
            arrays.token_ids, arrays.doc_lengths, arrays.vocabulary
        )
        self.article_count, self.chunk_count = store.counts()

    @classmethod
    def load(cls, db_path: Path | str) -> _Snapshot:
        """A snapshot of the database at ``db_path`` as it is now (read-only connection)."""
        store = Store(db_path, read_only=True)
        try:
            return cls(store)
        except sqlite3.DatabaseError as error:
            store.close()
            message = f"the index database {db_path} is damaged ({error}); {REBUILD_HINT}"
            raise StoreError(message) from error
        except BaseException:
            store.close()
            raise

    def passages(self, query_terms: list[str], k: int) -> list[Passage]:
        doc_indexes, scores = self.index.top_k(query_terms, k)
        if len(doc_indexes) == 0:
            return []
        chunk_ids = self.chunk_ids[doc_indexes]
        with self.lock:
            if self.retired:
                raise _SnapshotRetired
            chunks = self.store.chunks([int(i) for i in chunk_ids])
        return [
            Passage(
                chunk_id=int(chunk_id), chunk=chunks[int(chunk_id)], score=float(score), rank=rank
            )
            for rank, (chunk_id, score) in enumerate(zip(chunk_ids, scores, strict=True))
            if int(chunk_id) in chunks
        ]

    def close(self) -> None:
        with self.lock:
            self.retired = True
            self.store.end_snapshot()
            if self.store.path != ":memory:":
                self.store.close()


class QAEngine:
    def __init__(
        self,
        db_path: Path | str,
        corpus: Path | None,
        snapshot: _Snapshot,
        answerer: Answerer,
    ) -> None:
        self.db_path = db_path
        self.corpus = corpus
        self.answerer = answerer
        self._snapshot = snapshot
        self._reload_lock = threading.Lock()
        self.warnings: list[str] = []

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        corpus: Path | None,
        db_path: Path,
        *,
        refresh_index: bool = True,
        answerer: Answerer | None = None,
        no_answer_threshold: float | None = None,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> QAEngine:
        """Open the store at ``db_path``, first bringing it up to date with ``corpus`` unless
        ``refresh_index`` is false. Raises StoreError / CorpusNotFound with a clear message,
        IndexingCancelled when ``cancel`` is set during that update (nothing of it is kept).

        A database that cannot be written (read-only file or folder) is served as it is, with a
        warning in ``engine.warnings``, rather than refused.
        """
        warnings: list[str] = []
        if corpus is not None and refresh_index:
            warnings = prepare_store(corpus, db_path, progress, cancel)
        snapshot = _Snapshot.load(db_path)
        answerer = answerer or Answerer(no_answer_threshold=no_answer_threshold)
        engine = cls(db_path, corpus, snapshot, answerer)
        engine.warnings = warnings
        return engine

    @classmethod
    def from_articles(
        cls, articles: Iterable[Article], *, answerer: Answerer | None = None
    ) -> QAEngine:
        """An engine over articles held in memory (evaluation, tests); it cannot reload."""
        store = Store.in_memory()
        by_source: dict[str, list[Article]] = {}
        for article in articles:
            by_source.setdefault(article.doc_id, []).append(article)
        files = [
            PendingFile(StoredFile(doc_id, "", 0, 0), False, group)
            for doc_id, group in by_source.items()
        ]
        with store.transaction():
            write_articles(store, files)
        return cls(":memory:", None, _Snapshot(store), answerer or Answerer())

    # -- questions ----------------------------------------------------------------------------

    @property
    def index(self) -> BM25Index:
        return self._snapshot.index

    @property
    def article_count(self) -> int:
        return self._snapshot.article_count

    @property
    def chunk_count(self) -> int:
        return self._snapshot.chunk_count

    def retrieve(self, question: str, k: int = 5) -> list[Passage]:
        """The ``k`` best passages for ``question`` by BM25, best first."""
        return self._retrieve([tokenize(question)], k)[1][0]

    def answer(
        self,
        question: str,
        k: int = 3,
        depth: int = RERANK_DEPTH,
        short_answers: int | None = None,
    ) -> AnswerResult:
        """Up to ``k`` answers to ``question``, read from its ``depth`` best passages; the
        first ``short_answers`` of them (default: all) with a short answer."""
        snapshot, [passages] = self._retrieve([tokenize(question)], max(k, depth))
        return self.answerer.answer(
            question, passages, snapshot.index, k=k, short_answers=short_answers
        )

    def answer_many(
        self,
        questions: Sequence[str],
        k: int = 3,
        depth: int = RERANK_DEPTH,
        short_answers: int | None = None,
    ) -> list[AnswerResult]:
        """``answer(question, k, depth, short_answers)`` of each question, the same answers,
        read together (cheaper: see Answerer.answer_many)."""
        snapshot, passages = self._retrieve([tokenize(q) for q in questions], max(k, depth))
        jobs = list(zip(questions, passages, strict=True))
        return self.answerer.answer_many(jobs, snapshot.index, k, short_answers)

    def _retrieve(self, queries: list[list[str]], k: int) -> tuple[_Snapshot, list[list[Passage]]]:
        """The ``k`` best passages of each query, all from one snapshot (returned too)."""
        while True:
            snapshot = self._snapshot
            try:
                return snapshot, [snapshot.passages(terms, k) for terms in queries]
            except _SnapshotRetired:
                continue  # a reload swapped it out just now: the next one is already in place

    def sources(self) -> list[SourceInfo]:
        while True:
            snapshot = self._snapshot
            with snapshot.lock:
                if not snapshot.retired:
                    return snapshot.store.sources()

    # -- reload -------------------------------------------------------------------------------

    def reload(
        self, progress: Progress | None = None, cancel: threading.Event | None = None
    ) -> IndexSummary:
        """Re-index the corpus folder incrementally and swap the new index in.

        Blocking and thread-safe; meant to run off the event loop while questions keep being
        answered from the current snapshot. Raises ReloadInProgress when another reload runs,
        IndexingCancelled soon after ``cancel`` is set (a shutdown need not wait for a long
        re-index); on these and any other error the current index stays in service.
        """
        if self.corpus is None:
            raise ValueError("this engine was built from articles in memory: nothing to reload")
        if not self._reload_lock.acquire(blocking=False):
            raise ReloadInProgress("a reload is already running")
        try:
            summary = update_index(self.db_path, self.corpus, progress, cancel)
            self.reopen()
            return summary
        finally:
            self._reload_lock.release()

    def reopen(self) -> bool:
        """Serve what the database holds now, if an index update changed it since this engine
        loaded it; True when it did. Questions being answered finish on the old snapshot."""
        current = self._snapshot
        if stored_generation(self.db_path) == current.generation:
            return False
        self._snapshot = _Snapshot.load(self.db_path)
        current.close()
        return True

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._snapshot.close()


def prepare_store(
    corpus: Path,
    db_path: Path | str,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> list[str]:
    """Bring the store up to date before serving it; the warnings to show (a database that
    cannot be written is served as it is rather than refused)."""
    if Store.writable(db_path):
        update_index(db_path, corpus, progress, cancel)
        return []
    if Path(db_path).exists():
        return [f"{db_path} is read-only: answering from the index as it is"]
    return []


def stored_generation(db_path: Path | str) -> str | None:
    """The store's generation stamp: it changes whenever an index update changes anything."""
    store = Store(db_path, read_only=True)
    try:
        return store.get_meta("generation")
    finally:
        store.close()
