"""Bring the store up to date with a corpus folder, incrementally and atomically.

A file whose content hash is unchanged is neither parsed nor tokenized again; a changed file is
replaced whole; a file that is gone is removed. All of it is written in one transaction, so a
reader (or a crash) never sees half an update.

A big change (a first index) runs on every core (retrieval.index_pipeline): worker processes
parse, chunk and tokenize (retrieval.prepare) while this process reads and hashes the files
ahead of them and writes what they send back to the store, in corpus order. The writing is
then the only serial part, so it is kept to numpy and one ``executemany`` per batch.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, chain, repeat
from pathlib import Path

import numpy as np

from retrieval.corpus import (
    CorpusFile,
    SkippedFile,
    SkippedFileError,
    list_corpus_files,
    parse_file,
    read_file_bytes,
)
from retrieval.index_pipeline import ChangedFile, IndexFile, Limits, PendingFile, Pipeline
from retrieval.json_reader import JsonlPart, jsonl_doc_ids
from retrieval.prepare import PreparedBatch
from retrieval.store import ArticleRow, Store, StoredFile

Progress = Callable[[str, int, int], None]  # (stage, done, total)


class IndexingCancelled(Exception):
    """refresh() stopped because its ``cancel`` event was set; the store is as it was."""


@dataclass
class IndexSummary:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # files indexed with a warning
    articles: int = 0
    paragraphs: int = 0  # chunks in the index after the update
    new_paragraphs: int = 0  # chunks written by this update
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def __str__(self) -> str:
        return (
            f"{self.added} added, {self.updated} updated, {self.removed} removed,"
            f" {len(self.skipped)} skipped; {self.articles} articles, {self.paragraphs}"
            f" paragraphs; {self.seconds:.2f} s"
        )


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


# Work goes out in batches of at most this many articles (or files) and about this much text:
# small enough to keep every worker busy and to stop soon after a cancel (a batch is about
# 0.2 s of a worker's time), big enough that the per-batch costs (a process round trip, a
# vocabulary of its own, an executemany) stay small. On the news corpora, cold: 256 kB batches
# 8.2-8.8 s, 1 MB 6.9-8.3 s (median 7.8 s, 10 runs), 2 and 4 MB no better (docs/benchmarks.md).
BATCH_ARTICLES = 1024
BATCH_BYTES = 1024 * 1024
# Worker processes repay their start-up only on a big change, such as a first index.
PARALLEL_MIN_BYTES = 4 * 1024 * 1024
IN_FLIGHT_BATCHES = 8  # batches handed out ahead of the writer: bounded memory on any archive
# Big new files (bigger than a batch) are read and handed out for parsing first, up to this
# much in all: parsing one takes a worker for seconds, best spent beside the small files'
# batches than after them with the other workers idle.
PARSE_AHEAD_BYTES = 64 * 1024 * 1024
PROGRESS_SECONDS = 0.25  # the longest wait for a worker between two progress calls


class _Ticker:
    """Progress reports and cancel checks, counting files done."""

    def __init__(self, progress: Progress | None, cancel: threading.Event | None, total: int):
        self.progress = progress
        self.cancel = cancel
        self.total = total
        self.done = 0

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise IndexingCancelled("indexing cancelled")

    def __call__(self, files_done: int = 0) -> None:
        self.check_cancel()
        self.done += files_done
        if self.progress:
            self.progress("indexing", self.done, self.total)


class TermIds:
    """Term → stable vocabulary id; ``take_added`` hands over the terms it had to add."""

    def __init__(self, load_known: Callable[[], dict[str, int]]) -> None:
        self._load_known = load_known  # called on first use: a refresh with no change skips it
        self._known: dict[str, int] | None = None
        self._added: list[tuple[int, str]] = []

    def lookup(self, terms: list[str]) -> np.ndarray:
        """The ids of ``terms``, -1 for a term not in the vocabulary yet."""
        if self._known is None:
            self._known = self._load_known()
        # map and fromiter keep the per-term work in C: a batch has thousands of terms.
        found = map(self._known.get, terms, repeat(-1, len(terms)))
        return np.fromiter(found, dtype=np.int64, count=len(terms))

    def add(self, term: str) -> int:
        assert self._known is not None, "lookup() first"
        term_id = self._known[term] = len(self._known)
        self._added.append((term_id, term))
        return term_id

    def take_added(self) -> list[tuple[int, str]]:
        """(id, term) of the terms added since the last call."""
        added, self._added = self._added, []
        return added


class _Writer:
    """Writes prepared batches to the store in corpus order; the first batch of a file replaces
    what the store had for it. Books parsed files in the summary."""

    def __init__(self, store: Store, summary: IndexSummary) -> None:
        self.store = store
        self.summary = summary
        self.term_ids = TermIds(store.vocabulary)
        self.chunks_written = 0
        self._doc_ids: set[str] = set()
        # The batch being written, and what is read from it (see _use).
        self._batch: PreparedBatch | None = None
        self._store_ids = np.empty(0, dtype=np.int64)  # batch term index → store term id
        self._token_ids = np.empty(0, dtype=np.int32)
        self._sentences = bytearray()  # the batch's sentence offsets, as int32 bytes
        self._columns: list[list] = []
        self._chunk_counts: list[int] = []
        self._first_chunks: list[int] = []  # per article, its first chunk's index; then the end
        # A JSON Lines file written in parts: its parts so far, the rows of its articles (their
        # chunks are stored, they wait for their doc_ids) and the id of the first of them.
        self._parts: list[JsonlPart] = []
        self._part_articles: list[ArticleRow] = []
        self._parts_first_id: int | None = None

    def accept(self, file: IndexFile, warnings: list[str], articles: int) -> bool:
        """Book a parsed file in the summary; whether it has articles to write."""
        if isinstance(file, PendingFile):
            return True
        rel_path = file.stored.rel_path
        if not articles:
            reason = "; ".join(warnings) or "no articles"
            self.summary.skipped.append(SkippedFile(rel_path, reason))
            if file.previous is not None:
                self.store.remove_file(rel_path)
                self.summary.removed += 1
            return False
        self.summary.notes.extend(f"{rel_path}: {warning}" for warning in warnings)
        if file.previous is None:
            self.summary.added += 1
        else:
            self.summary.updated += 1
        return True

    def write(self, file: IndexFile, first: bool, batch: PreparedBatch, articles: range) -> None:
        """Store ``batch.articles[articles]`` as articles of ``file``."""
        self.write_many([(file, first, articles)], batch)

    def write_many(self, writes: list[tuple[IndexFile, bool, range]], batch: PreparedBatch) -> None:
        """``write`` for several files of one batch, in one insert: a batch of small files
        would otherwise cost an insert per file (per chunk, 2.5 times as much)."""
        self._use(batch)
        new_files: list[StoredFile] = []
        kept: list[int] = []
        rel_paths: list[str] = []
        for file, first, articles in writes:
            if first:
                if file.replace:
                    self.store.remove_file(file.stored.rel_path)
                new_files.append(file.stored)
                self._doc_ids = set()
            # The reader keeps ids unique within a file; this guards the store's unique index.
            for index in articles:
                doc_id = batch.articles[index][0]
                if doc_id not in self._doc_ids:
                    self._doc_ids.add(doc_id)
                    kept.append(index)
                    rel_paths.append(file.stored.rel_path)
        self.store.add_files(new_files)
        first_id = self.store.next_article_id()
        self.store.insert_articles(first_id, rel_paths, [batch.articles[i] for i in kept])
        self._insert_chunks(kept, first_id)
        # Stored as they come rather than all at the end, where nothing else would overlap.
        self.store.add_terms(self.term_ids.take_added())

    def write_part(
        self, file: ChangedFile, first: bool, part: JsonlPart, batch: PreparedBatch
    ) -> None:
        """Store the chunks of one part of a JSON Lines file (see index_pipeline); its articles
        wait for ``finish_parts``, where every part's keys decide their doc_ids."""
        if first:
            self._parts, self._part_articles, self._parts_first_id = [], [], None
        self._parts.append(part)
        if not batch.articles:
            return
        self._use(batch)
        if self._parts_first_id is None:  # the file's first articles
            if file.replace:
                self.store.remove_file(file.stored.rel_path)
            self._parts_first_id = self.store.next_article_id()
        self._insert_chunks(
            range(len(batch.articles)), self._parts_first_id + len(self._part_articles)
        )
        self._part_articles.extend(batch.articles)
        self.store.add_terms(self.term_ids.take_added())

    def finish_parts(self, file: ChangedFile) -> None:
        """Store the articles of a file written in parts, once its last part is written."""
        rel_path = file.stored.rel_path
        doc_ids, warnings = jsonl_doc_ids(rel_path, self._parts)
        articles = self._part_articles
        if self.accept(file, warnings, len(articles)):
            assert self._parts_first_id is not None
            self.store.add_files([file.stored])
            keyed = [
                (doc_id, *row[1:])
                for doc_id, row in zip(chain.from_iterable(doc_ids), articles, strict=True)
            ]
            self.store.insert_articles(self._parts_first_id, repeat(rel_path), keyed)
        self._parts, self._part_articles, self._parts_first_id = [], [], None

    def _insert_chunks(self, kept: Sequence[int], first_id: int) -> None:
        """Store the chunks of the batch's articles ``kept``, whose ids are ``first_id`` on."""
        every = len(kept) == len(self._chunk_counts)
        if every:  # the batch's columns as they are
            columns, counts = self._columns, self._chunk_counts
        else:  # some articles dropped (see write_many): their chunks left out
            first = self._first_chunks
            chunks = [c for index in kept for c in range(first[index], first[index + 1])]
            columns = [[column[c] for c in chunks] for column in self._columns]
            counts = [self._chunk_counts[index] for index in kept]
        paragraphs, texts, starts, ends, term_starts, term_ends, from_, to = columns
        if every:
            blob = self._store_term_blob(self._token_ids)
        else:
            pieces = [self._token_ids[a:b] for a, b in zip(term_starts, term_ends, strict=True)]
            blob = self._store_term_blob(np.concatenate(pieces) if pieces else self._token_ids[:0])
            term_ends = list(accumulate(b - a for a, b in zip(term_starts, term_ends, strict=True)))
            term_starts = [0, *term_ends[:-1]]
        ids = np.repeat(np.arange(first_id, first_id + len(counts)), counts).tolist()
        sentences = self._sentences
        self.store.insert_chunks(
            zip(
                ids,
                paragraphs,
                texts,
                starts,
                ends,
                [sentences[4 * a : 4 * b] for a, b in zip(from_, to, strict=True)],
                [blob[4 * a : 4 * b] for a, b in zip(term_starts, term_ends, strict=True)],
                strict=True,
            )
        )
        self.chunks_written += len(paragraphs)

    def _use(self, batch: PreparedBatch) -> None:
        """Read ``batch`` into columns, one list per field with an item per chunk: paragraph,
        text, start, end, where its terms start and end in the batch's tokens, where its
        sentence offsets start and end in the batch's (int32 positions)."""
        if batch is self._batch:
            return
        self._batch = batch
        self._store_ids = self.term_ids.lookup(batch.terms)
        self._token_ids = np.frombuffer(batch.token_ids, dtype=np.int32)
        self._sentences = bytearray(batch.sentences)  # its slices bind as they are: see store
        paragraphs, starts, ends = _int32s(batch.chunk_numbers).reshape(-1, 3).T.tolist()
        term_ends = _int32s(batch.token_ends).tolist()
        sentence_ends = _int32s(batch.sentence_ends).tolist()
        self._columns = [
            paragraphs,
            batch.texts,
            starts,
            ends,
            [0, *term_ends[:-1]],
            term_ends,
            [0, *sentence_ends[:-1]],
            sentence_ends,
        ]
        self._chunk_counts = _int32s(batch.chunk_counts).tolist()
        self._first_chunks = [0, *accumulate(self._chunk_counts)]

    def _store_term_blob(self, local: np.ndarray) -> bytearray:
        """The store's term ids of these batch term ids, as int32 bytes (a bytearray: see
        store.ChunkBlobRow). Terms new to the store get ids in order of first appearance, so
        ids do not depend on batching."""
        store_ids = self._store_ids[local]
        is_new = store_ids < 0
        if is_new.any():
            new_local, first_seen = np.unique(local[is_new], return_index=True)
            for term_index in new_local[np.argsort(first_seen, kind="stable")].tolist():
                self._store_ids[term_index] = self.term_ids.add(self._batch.terms[term_index])
            store_ids = self._store_ids[local]
        return bytearray(store_ids.astype(np.int32))


def _int32s(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.int32)


def write_articles(
    store: Store,
    files: Iterable[IndexFile],
    parallel: bool = False,
    cancel: threading.Event | None = None,
    *,
    summary: IndexSummary | None = None,
    ticker: _Ticker | None = None,
    parse_first: Iterable[ChangedFile] = (),
) -> int:
    """Parse (a ChangedFile), chunk, tokenize and store the articles of ``files``; returns the
    chunks written. ChangedFiles are booked in ``summary``.

    ``files`` may be a lazy iterator: with ``parallel``, reading the next files overlaps with
    the workers preparing the previous ones and with writing what they sent back; the files
    of ``parse_first`` (which must come in ``files`` too) are handed out for parsing before
    anything else. Raises IndexingCancelled between two batches once ``cancel`` is set.
    """
    writer = _Writer(store, summary or IndexSummary())
    limits = Limits(BATCH_ARTICLES, BATCH_BYTES, IN_FLIGHT_BATCHES, PROGRESS_SECONDS)
    # parse_file as this module has it: tests replace it to make a parse fail.
    pipeline = Pipeline(writer, ticker or _Ticker(None, cancel, 0), limits, parse_file, parallel)
    pipeline.run(files, parse_first)
    return writer.chunks_written


def refresh(
    store: Store,
    corpus_root: Path,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> IndexSummary:
    """Update ``store`` from the files under ``corpus_root``. Raises CorpusNotFound when the
    folder is missing; every problem with a single file is a ``skipped`` entry instead.

    ``progress("indexing", files done, files)`` is called after each file and at least every
    ``PROGRESS_SECONDS`` while waiting for workers; an exception it raises ends the update
    with nothing of it kept. Setting ``cancel`` (from another thread) stops the update within
    a file or a batch of articles: IndexingCancelled is raised and nothing of it is kept."""
    started = time.perf_counter()
    summary = IndexSummary()
    files, skipped = list_corpus_files(corpus_root)
    summary.skipped.extend(skipped)
    stored = store.stored_files()
    # The size and mtime tell cheaply, before any hashing, how much is likely to be new.
    likely_new_bytes = sum(
        file.size
        for file in files
        if (previous := stored.get(file.rel_path)) is None
        or (previous.size, previous.mtime_ns) != (file.size, file.mtime_ns)
    )
    parallel = likely_new_bytes >= PARALLEL_MIN_BYTES
    ticker = _Ticker(progress, cancel, len(files))
    read_first = _parse_ahead(files, stored) if parallel else []
    checked: dict[str, ChangedFile | None] = {}

    def changed_files() -> Iterator[ChangedFile]:
        for file in files:
            ticker.check_cancel()
            if file.rel_path in checked:
                changed = checked[file.rel_path]
            else:
                changed = _check_file(store, file, stored.get(file.rel_path), summary)
            if changed is None:
                ticker(files_done=1)
            else:
                yield changed

    # A folder that could not be listed this time keeps what was indexed from it.
    unlisted = tuple(skip.rel_path for skip in skipped if skip.rel_path.endswith("/"))
    gone = stored.keys() - {file.rel_path for file in files}
    gone = {path for path in gone if not path.startswith(unlisted)} if unlisted else gone

    with store.transaction():
        for rel_path in gone:
            store.remove_file(rel_path)
            summary.removed += 1
        for file in read_first:
            ticker.check_cancel()
            checked[file.rel_path] = _check_file(store, file, stored.get(file.rel_path), summary)
        summary.new_paragraphs = write_articles(
            store,
            changed_files(),
            parallel=parallel,
            cancel=cancel,
            summary=summary,
            ticker=ticker,
            parse_first=[changed for changed in checked.values() if changed is not None],
        )
        if summary.changed:
            store.set_meta("generation", str(time.time_ns()))
        store.set_meta("corpus_root", str(corpus_root.resolve()))
    # Files are skipped when read (here) or when parsed (in a worker): listed in file order.
    summary.skipped[len(skipped) :] = sorted(summary.skipped[len(skipped) :])
    summary.articles, summary.paragraphs = store.counts()
    summary.seconds = time.perf_counter() - started
    return summary


def _parse_ahead(files: list[CorpusFile], stored: dict[str, StoredFile]) -> list[CorpusFile]:
    """The big files likely to be new, in order, up to PARSE_AHEAD_BYTES in all. Not JSON
    Lines files: they are read in parts (index_pipeline), which need no head start."""
    chosen: list[CorpusFile] = []
    budget = PARSE_AHEAD_BYTES
    for file in files:
        previous = stored.get(file.rel_path)
        if file.path.suffix.lower() == ".jsonl":
            continue
        if BATCH_BYTES < file.size <= budget and (
            previous is None or (previous.size, previous.mtime_ns) != (file.size, file.mtime_ns)
        ):
            chosen.append(file)
            budget -= file.size
    return chosen


def _check_file(
    store: Store, file: CorpusFile, previous: StoredFile | None, summary: IndexSummary
) -> ChangedFile | None:
    """Read ``file`` if it may have changed; its bytes if its content did.

    A file whose size and modification time (to the nanosecond) are as stored is taken as
    unchanged without reading it, as git does; any other file is read and compared by content
    hash, so a file merely touched or copied back is not parsed again.
    """
    if previous is not None and (previous.size, previous.mtime_ns) == (file.size, file.mtime_ns):
        summary.unchanged += 1
        return None
    try:
        data = read_file_bytes(file)
    except SkippedFileError as error:
        # A file we cannot read right now keeps what was indexed from it before (removing it
        # would lose answers over a passing fault); a file that has vanished is removed.
        summary.skipped.append(SkippedFile(file.rel_path, str(error)))
        if previous is not None and not file.path.exists():
            store.remove_file(file.rel_path)
            summary.removed += 1
        return None
    digest = content_hash(data)
    new = StoredFile(file.rel_path, digest, file.size, file.mtime_ns)
    if previous is not None and previous.content_hash == digest:
        if (previous.size, previous.mtime_ns) != (new.size, new.mtime_ns):
            store.touch_file(new)
        summary.unchanged += 1
        return None
    return ChangedFile(new, previous, data)
