"""Bring the store up to date with a corpus folder, incrementally and atomically.

A file whose content hash is unchanged is neither parsed nor tokenized again; a changed file is
replaced whole; a file that is gone is removed. All of it is written in one transaction, so a
reader (or a crash) never sees half an update.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval.chunks import article_body, chunk_article
from retrieval.corpus import (
    CorpusFile,
    SkippedFile,
    SkippedFileError,
    list_corpus_files,
    parse_file,
    read_file_bytes,
)
from retrieval.documents import Article
from retrieval.store import Store, StoredFile, sentence_blob
from retrieval.tokenizer import tokenize

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


# Articles are chunked and tokenized in batches of about this many, in worker processes when a
# refresh has enough new text to repay starting them (a cold index of a big archive).
BATCH_ARTICLES = 256
PARALLEL_MIN_BYTES = 4 * 1024 * 1024
IN_FLIGHT_BATCHES = 8


# A chunk as a worker process sends it back: plain values are far cheaper to pickle than
# dataclasses, and the text is cut from the article the parent already holds.
PreparedChunk = tuple[int, int, int, bytes, str]  # paragraph, start, end, sentences, terms


def prepare_article(article: Article) -> list[PreparedChunk]:
    """An article's chunks with the terms they are indexed under (space-separated): the
    article's title, then the chunk's own text. The title goes into every chunk because
    questions name the subject ("the Super Bowl", "the Kremlin") that a paragraph deep inside
    the article no longer repeats."""
    title = " ".join(tokenize(article.title))
    return [
        (
            chunk.paragraph,
            chunk.start,
            chunk.end,
            sentence_blob(chunk.sentences),
            f"{title} {' '.join(tokenize(chunk.text))}",
        )
        for chunk in chunk_article(article)
    ]


def prepare_batch(articles: list[Article]) -> list[list[PreparedChunk]]:
    """The CPU-heavy part of indexing, free of shared state so it can run in another process."""
    return [prepare_article(article) for article in articles]


class TermIds:
    """Term → stable vocabulary id, remembering the terms it had to add."""

    def __init__(self, load_known: Callable[[], dict[str, int]]) -> None:
        self._load_known = load_known  # called on first use: a refresh with no change skips it
        self._known: dict[str, int] | None = None
        self.added: list[tuple[int, str]] = []

    def encode(self, texts: list[str]) -> list[np.ndarray]:
        """Term ids of each space-separated string, in one pass over all of them."""
        words: list[str] = []
        ends: list[int] = []
        for text in texts:
            words.extend(text.split())
            ends.append(len(words))
        if self._known is None:
            self._known = self._load_known()
        known = self._known
        # New terms in order of first appearance, so ids do not depend on set ordering.
        for term in [w for w in dict.fromkeys(words) if w not in known]:
            known[term] = len(known)
            self.added.append((known[term], term))
        ids = np.array(list(map(known.__getitem__, words)), dtype=np.int32)
        return np.split(ids, ends[:-1])


@dataclass
class PendingFile:
    stored: StoredFile
    replace: bool
    articles: list[Article]


class _Writer:
    """Writes prepared batches to the store in corpus order; the first batch of a file replaces
    what the store had for it."""

    def __init__(self, store: Store, term_ids: TermIds) -> None:
        self.store = store
        self.term_ids = term_ids
        self.chunks_written = 0
        self._doc_ids: set[str] = set()

    def write(self, pending: PendingFile, first: bool, articles, prepared) -> None:
        if first:
            if pending.replace:
                self.store.remove_file(pending.stored.rel_path)
            self.store.add_file(pending.stored)
            self._doc_ids = set()
        kept = []
        for article, chunks in zip(articles, prepared, strict=True):
            # The reader keeps ids unique within a file; this guards the store's unique index.
            if article.doc_id not in self._doc_ids:
                self._doc_ids.add(article.doc_id)
                kept.append((article, chunks))
        term_ids = iter(self.term_ids.encode([c[4] for _, chunks in kept for c in chunks]))
        rows = []
        for article, chunks in kept:
            body = article_body(article)
            rows.append(
                [
                    (paragraph, body[start:end], start, end, sentences, next(term_ids))
                    for paragraph, start, end, sentences, _ in chunks
                ]
            )
        self.store.add_articles(pending.stored.rel_path, [a for a, _ in kept], rows)
        self.chunks_written += sum(len(chunks) for _, chunks in kept)


def write_articles(
    store: Store,
    files: Iterable[PendingFile],
    parallel: bool = False,
    cancel: threading.Event | None = None,
) -> int:
    """Chunk, tokenize and store the articles of ``files``; returns the chunks written.

    ``files`` may be a lazy iterator: with ``parallel``, reading and parsing the next files
    overlaps with the workers chunking and tokenizing the previous ones. Raises
    IndexingCancelled between two batches once ``cancel`` is set.
    """
    term_ids = TermIds(store.vocabulary)
    writer = _Writer(store, term_ids)
    batches = (
        (pending, start == 0, pending.articles[start : start + BATCH_ARTICLES])
        for pending in files
        for start in range(0, max(len(pending.articles), 1), BATCH_ARTICLES)
    )
    if parallel:
        prepared = _prepared_in_parallel(batches)
    else:
        prepared = ((batch, prepare_batch(batch[2])) for batch in batches)
    # closing: a cancelled run stops the worker processes now, not when garbage is collected.
    with closing(prepared):
        for batch, chunks in prepared:
            _check_cancel(cancel)
            writer.write(*batch, chunks)
    store.add_terms(term_ids.added)
    return writer.chunks_written


def _prepared_in_parallel(batches: Iterator[tuple]) -> Iterator[tuple[tuple, list]]:
    """(batch, ``prepare_batch`` of it) for each batch, in order, computed by worker processes."""
    # forkserver: workers fork from a clean process, safe even when the caller has threads (the
    # bot reloads from a worker thread); a bounded window keeps memory flat on huge archives.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["retrieval.indexer"])
    workers = max(1, min(os.cpu_count() or 1, 4))
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    finished = False
    try:
        window: deque = deque()
        for batch in batches:
            window.append((batch, pool.submit(prepare_batch, batch[2])))
            if len(window) >= IN_FLIGHT_BATCHES:
                batch, future = window.popleft()
                yield batch, future.result()
        while window:
            batch, future = window.popleft()
            yield batch, future.result()
        finished = True
    finally:
        # After an error or a cancel, batches still queued are dropped rather than waited for.
        pool.shutdown(wait=finished, cancel_futures=not finished)


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise IndexingCancelled("indexing cancelled")


def refresh(
    store: Store,
    corpus_root: Path,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> IndexSummary:
    """Update ``store`` from the files under ``corpus_root``. Raises CorpusNotFound when the
    folder is missing; every problem with a single file is a ``skipped`` entry instead.

    Setting ``cancel`` (from another thread) stops the update within a file or a batch of
    articles: IndexingCancelled is raised and nothing of this update is kept."""
    started = time.perf_counter()
    summary = IndexSummary()
    files, skipped = list_corpus_files(corpus_root)
    summary.skipped.extend(skipped)
    stored = store.stored_files()
    # Worker processes repay their start-up only on a big change, such as a first index; the
    # size and mtime tell cheaply, before any hashing, how much is likely to be new.
    likely_new_bytes = sum(
        file.size
        for file in files
        if (previous := stored.get(file.rel_path)) is None
        or (previous.size, previous.mtime_ns) != (file.size, file.mtime_ns)
    )

    def changed_files() -> Iterator[PendingFile]:
        for done, file in enumerate(files, 1):
            _check_cancel(cancel)
            pending = _check_file(store, file, stored.get(file.rel_path), summary)
            if pending is not None:
                yield pending
            if progress:
                progress("indexing", done, len(files))

    # A folder that could not be listed this time keeps what was indexed from it.
    unlisted = tuple(skip.rel_path for skip in skipped if skip.rel_path.endswith("/"))
    gone = stored.keys() - {file.rel_path for file in files}
    gone = {path for path in gone if not path.startswith(unlisted)} if unlisted else gone

    with store.transaction():
        for rel_path in gone:
            store.remove_file(rel_path)
            summary.removed += 1
        summary.new_paragraphs = write_articles(
            store,
            changed_files(),
            parallel=likely_new_bytes >= PARALLEL_MIN_BYTES,
            cancel=cancel,
        )
        if summary.changed:
            store.set_meta("generation", str(time.time_ns()))
        store.set_meta("corpus_root", str(corpus_root.resolve()))
    summary.articles, summary.paragraphs = store.counts()
    summary.seconds = time.perf_counter() - started
    return summary


def _check_file(
    store: Store, file: CorpusFile, previous: StoredFile | None, summary: IndexSummary
) -> PendingFile | None:
    """Read and parse ``file`` if its content changed; the articles to write, if any.

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
    parsed = parse_file(file.rel_path, data)
    if not parsed.articles:
        reason = "; ".join(parsed.warnings) or "no articles"
        summary.skipped.append(SkippedFile(file.rel_path, reason))
        if previous is not None:
            store.remove_file(file.rel_path)
            summary.removed += 1
        return None
    summary.notes.extend(f"{file.rel_path}: {warning}" for warning in parsed.warnings)
    if previous is None:
        summary.added += 1
    else:
        summary.updated += 1
    return PendingFile(new, previous is not None, parsed.articles)
