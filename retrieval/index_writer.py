"""The indexer's writer: prepared batches (retrieval.prepare) into the store, in corpus order.

It is the serial part of a big update (retrieval.indexer runs it in the process that owns the
store while workers prepare the next batches), so it works on columns: numpy for the term ids,
one ``executemany`` over a zip of the columns per batch, no per-chunk Python loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, chain, repeat

import numpy as np

from retrieval.corpus import SkippedFile
from retrieval.index_pipeline import ChangedFile, IndexFile, PendingFile
from retrieval.json_reader import JsonlPart, jsonl_doc_ids
from retrieval.prepare import PreparedBatch
from retrieval.store import ArticleRow, Store, StoredFile


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


class StoreWriter:
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
