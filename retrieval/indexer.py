"""Bring the store up to date with a corpus folder, incrementally and atomically.

A file whose content hash is unchanged is neither parsed nor tokenized again; a changed file is
replaced whole; a file that is gone is removed. All of it is written in one transaction, so a
reader (or a crash) never sees half an update.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval.chunks import chunk_article
from retrieval.corpus import (
    CorpusFile,
    SkippedFile,
    SkippedFileError,
    list_corpus_files,
    parse_file,
    read_file_bytes,
)
from retrieval.documents import Article, Chunk
from retrieval.store import Store, StoredFile
from retrieval.tokenizer import tokenize

Progress = Callable[[str, int, int], None]  # (stage, done, total)


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


def tokenized_chunks(article: Article) -> list[tuple[Chunk, str]]:
    """An article's chunks with the terms they are indexed under (space-separated): the
    article's title, then the chunk's own text. The title goes into every chunk because
    questions name the subject ("the Super Bowl", "the Kremlin") that a paragraph deep inside
    the article no longer repeats."""
    title = " ".join(tokenize(article.title))
    return [
        (chunk, f"{title} {' '.join(tokenize(chunk.text))}") for chunk in chunk_article(article)
    ]


def prepare_batch(articles: list[Article]) -> list[list[tuple[Chunk, str]]]:
    """The CPU-heavy part of indexing, free of shared state so it can run in another process."""
    return [tokenized_chunks(article) for article in articles]


class TermIds:
    """Term → stable vocabulary id, remembering the terms it had to add."""

    def __init__(self, known: dict[str, int]) -> None:
        self._ids = known
        self.added: list[tuple[int, str]] = []

    def encode(self, texts: list[str]) -> list[np.ndarray]:
        """Term ids of each space-separated string, in one pass over all of them."""
        words: list[str] = []
        ends: list[int] = []
        for text in texts:
            words.extend(text.split())
            ends.append(len(words))
        known = self._ids
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
        term_ids = iter(self.term_ids.encode([t for _, chunks in kept for _, t in chunks]))
        self.store.add_articles(
            pending.stored.rel_path,
            [article for article, _ in kept],
            [[(chunk, next(term_ids)) for chunk, _ in chunks] for _, chunks in kept],
        )
        self.chunks_written += sum(len(chunks) for _, chunks in kept)


def write_articles(
    store: Store,
    files: list[PendingFile],
    parallel: bool = False,
    progress: Progress | None = None,
) -> int:
    """Chunk, tokenize and store the articles of ``files``; returns the chunks written."""
    term_ids = TermIds(store.vocabulary())
    writer = _Writer(store, term_ids)
    batches = [
        (pending, start == 0, pending.articles[start : start + BATCH_ARTICLES])
        for pending in files
        for start in range(0, max(len(pending.articles), 1), BATCH_ARTICLES)
    ]
    prepared = (
        _prepared_in_parallel(batches)
        if parallel and len(batches) > 1
        else (prepare_batch(articles) for _, _, articles in batches)
    )
    for done, (batch, chunks) in enumerate(zip(batches, prepared, strict=True), 1):
        writer.write(*batch, chunks)
        if progress:
            progress("indexing articles", done, len(batches))
    store.add_terms(term_ids.added)
    return writer.chunks_written


def _prepared_in_parallel(batches: list) -> Iterator[list[list[tuple[Chunk, str]]]]:
    """``prepare_batch`` of each batch, in order, computed by worker processes."""
    # forkserver: workers fork from a clean process, safe even when the caller has threads (the
    # bot reloads from a worker thread); a bounded window keeps memory flat on huge archives.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["retrieval.indexer"])
    workers = max(1, min(os.cpu_count() or 1, 4))
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        window: deque = deque()
        for _, _, articles in batches:
            window.append(pool.submit(prepare_batch, articles))
            if len(window) >= IN_FLIGHT_BATCHES:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()


def refresh(store: Store, corpus_root: Path, progress: Progress | None = None) -> IndexSummary:
    """Update ``store`` from the files under ``corpus_root``. Raises CorpusNotFound when the
    folder is missing; every problem with a single file is a ``skipped`` entry instead."""
    started = time.perf_counter()
    summary = IndexSummary()
    files, skipped = list_corpus_files(corpus_root)
    summary.skipped.extend(skipped)
    stored = store.stored_files()
    seen: set[str] = set()
    changed: list[PendingFile] = []
    changed_bytes = 0
    with store.transaction():
        for done, file in enumerate(files, 1):
            seen.add(file.rel_path)
            pending = _check_file(store, file, stored.get(file.rel_path), summary)
            if pending is not None:
                changed.append(pending)
                changed_bytes += pending.stored.size
            if progress:
                progress("reading files", done, len(files))
        for rel_path in stored.keys() - seen:
            store.remove_file(rel_path)
            summary.removed += 1
        summary.new_paragraphs = write_articles(
            store, changed, parallel=changed_bytes >= PARALLEL_MIN_BYTES, progress=progress
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
    """Read and parse ``file`` if its content changed; the articles to write, if any."""
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
