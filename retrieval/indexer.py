"""Bring the store up to date with a corpus folder, incrementally and atomically.

A file whose content hash is unchanged is neither parsed nor tokenized again; a changed file is
replaced whole; a file that is gone is removed. All of it is written in one transaction, so a
reader (or a crash) never sees half an update.

A big change (a first index) runs on every core (retrieval.index_pipeline): worker processes
parse, chunk and tokenize (retrieval.prepare) while this process reads and hashes the files
ahead of them and writes what they send back to the store, in corpus order
(retrieval.index_writer).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from retrieval.corpus import (
    CorpusFile,
    SkippedFile,
    SkippedFileError,
    list_corpus_files,
    parse_file,
    read_file_bytes,
)
from retrieval.index_pipeline import ChangedFile, IndexFile, Limits, Pipeline
from retrieval.index_writer import IndexSummary, StoreWriter
from retrieval.store import Store, StoredFile

# (stage, done, total). Indexing counts bytes of the corpus's files: one big file (an archive
# read in parts) moves the count along as well as thousands of small ones.
Progress = Callable[[str, int, int], None]


class IndexingCancelled(Exception):
    """refresh() stopped because its ``cancel`` event was set; the store is as it was."""


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
    """Progress reports and cancel checks, counting the bytes of the files dealt with (a big
    file read in parts moves the count along part by part)."""

    def __init__(self, progress: Progress | None, cancel: threading.Event | None, total: int):
        self.progress = progress
        self.cancel = cancel
        self.total = total
        self.done = 0

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise IndexingCancelled("indexing cancelled")

    def __call__(self, bytes_done: int = 0) -> None:
        self.check_cancel()
        self.done = min(self.done + bytes_done, self.total)  # a file may have grown meanwhile
        if self.progress:
            self.progress("indexing", self.done, self.total)


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
    writer = StoreWriter(store, summary or IndexSummary())
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

    ``progress("indexing", bytes done, bytes)`` is called after each file (each part of a file
    read in parts), counting the listed files' sizes, and at least every
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
    ticker = _Ticker(progress, cancel, sum(file.size for file in files))
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
                ticker(bytes_done=file.size)
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
