"""Bring the store up to date with a corpus folder, incrementally and atomically.

A file whose content hash is unchanged is neither parsed nor tokenized again; a changed file is
replaced whole; a file that is gone is removed. All of it is written in one transaction, so a
reader (or a crash) never sees half an update.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
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

Progress = Callable[[int, int], None]  # (files done, files total)


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


class TermIds:
    """Maps terms to stable vocabulary ids, remembering the ones it had to add."""

    def __init__(self, known: dict[str, int]) -> None:
        self._ids = known
        self._next = max(known.values(), default=-1) + 1
        self.added: list[tuple[int, str]] = []

    def ids(self, terms: Iterable[str]) -> np.ndarray:
        ids = self._ids
        out = []
        for term in terms:
            term_id = ids.get(term)
            if term_id is None:
                term_id = ids[term] = self._next
                self.added.append((term_id, term))
                self._next += 1
            out.append(term_id)
        return np.array(out, dtype=np.int32)


def chunk_terms(chunk: Chunk, title_terms: list[str]) -> list[str]:
    """The terms a chunk is indexed under: its article's title, then its own text.

    The title goes into every chunk because questions name the subject ("the Super Bowl", "the
    Kremlin") that a paragraph deep inside the article no longer repeats.
    """
    return title_terms + tokenize(chunk.text)


def tokenized_chunks(article: Article, term_ids: TermIds) -> list[tuple[Chunk, np.ndarray]]:
    title_terms = tokenize(article.title)
    return [
        (chunk, term_ids.ids(chunk_terms(chunk, title_terms))) for chunk in chunk_article(article)
    ]


def write_articles(
    store: Store,
    stored: StoredFile,
    articles: list[Article],
    term_ids: TermIds,
    *,
    replace: bool = True,
) -> int:
    """Store ``stored.rel_path``'s articles (replacing what it had); returns chunks written."""
    chunked = [tokenized_chunks(article, term_ids) for article in articles]
    store.put_file(
        stored,
        [(a.doc_id, a.title, a.url, a.date, len(a.paragraphs)) for a in articles],
        chunked,
        replace=replace,
    )
    return sum(len(chunks) for chunks in chunked)


def refresh(store: Store, corpus_root: Path, progress: Progress | None = None) -> IndexSummary:
    """Update ``store`` from the files under ``corpus_root``. Raises CorpusNotFound when the
    folder is missing; every problem with a single file is a ``skipped`` entry instead."""
    started = time.perf_counter()
    summary = IndexSummary()
    files, skipped = list_corpus_files(corpus_root)
    summary.skipped.extend(skipped)
    stored = store.stored_files()
    term_ids = TermIds(store.vocabulary())
    seen: set[str] = set()
    with store.transaction():
        for done, file in enumerate(files, 1):
            seen.add(file.rel_path)
            _refresh_file(store, file, stored.get(file.rel_path), term_ids, summary)
            if progress:
                progress(done, len(files))
        for rel_path in stored.keys() - seen:
            store.remove_file(rel_path)
            summary.removed += 1
        store.add_terms(term_ids.added)
        if summary.changed:
            store.set_meta("generation", str(time.time_ns()))
        store.set_meta("corpus_root", str(corpus_root.resolve()))
    summary.articles, summary.paragraphs = store.counts()
    summary.seconds = time.perf_counter() - started
    return summary


def _refresh_file(
    store: Store,
    file: CorpusFile,
    previous: StoredFile | None,
    term_ids: TermIds,
    summary: IndexSummary,
) -> None:
    try:
        data = read_file_bytes(file)
    except SkippedFileError as error:
        # A file we cannot read right now keeps what was indexed from it before (removing it
        # would lose answers over a passing fault); a file that has vanished is removed.
        summary.skipped.append(SkippedFile(file.rel_path, str(error)))
        if previous is not None and not file.path.exists():
            store.remove_file(file.rel_path)
            summary.removed += 1
        return
    digest = content_hash(data)
    new = StoredFile(file.rel_path, digest, file.size, file.mtime_ns)
    if previous is not None and previous.content_hash == digest:
        if (previous.size, previous.mtime_ns) != (new.size, new.mtime_ns):
            store.touch_file(new)
        summary.unchanged += 1
        return
    parsed = parse_file(file.rel_path, data)
    if not parsed.articles:
        reason = "; ".join(parsed.warnings) or "no articles"
        summary.skipped.append(SkippedFile(file.rel_path, reason))
        if previous is not None:
            store.remove_file(file.rel_path)
            summary.removed += 1
        return
    summary.notes.extend(f"{file.rel_path}: {warning}" for warning in parsed.warnings)
    summary.new_paragraphs += write_articles(
        store, new, parsed.articles, term_ids, replace=previous is not None
    )
    if previous is None:
        summary.added += 1
    else:
        summary.updated += 1
