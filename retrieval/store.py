"""The SQLite store: files, articles, chunks with their term ids, the vocabulary, metadata.

One file holds everything the engine needs, so a restart loads the index without re-reading
the corpus. Chunks keep their terms as an int32 blob of vocabulary ids (duplicates kept, text
order): loading 100k chunks is then one query and one ``numpy.frombuffer``, no re-tokenizing.
Term ids are never reused, so a vocabulary entry whose chunks were all removed simply goes
unused until the next ``--rebuild``.
"""

from __future__ import annotations

import os
import sqlite3
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np
import sqlite_utils

from retrieval.documents import Article, Chunk

SCHEMA_VERSION = "1"


# A chunk as stored: paragraph, text, start, end, sentence offsets (sentence_blob), term ids.
ChunkRow = tuple[int, str, int, int, bytes, np.ndarray]
# The same with the term ids already int32 bytes: the indexer's bulk form. Its blobs are best
# bytearrays: the sqlite3 module binds a bytearray as it is, but sends bytes through its
# adapter lookup, two caught exceptions per value (a sixth of the cost of a bulk insert).
ChunkBlobRow = tuple[int, str, int, int, bytes | bytearray, bytes | bytearray]
# An article as stored: doc_id, title, url, date, number of paragraphs.
ArticleRow = tuple[str, str, str | None, str | None, int]

# The typecode of a native 32-bit int for ``array``, whose bytes are those of numpy's int32:
# indexing builds one small blob per chunk, and array builds a few numbers' worth faster.
_INT32 = next(code for code in "ihl" if array(code).itemsize == 4)


def sentence_blob(sentences: Sequence[tuple[int, int]]) -> bytes:
    return array(_INT32, chain.from_iterable(sentences)).tobytes()


def _int32_bytes(values: np.ndarray) -> bytes:
    return np.asarray(values, dtype=np.int32).tobytes()


def _sentence_offsets(blob: bytes) -> tuple[tuple[int, int], ...]:
    # array, not numpy: a few integers per chunk, read for every passage retrieved.
    flat = array(_INT32)
    flat.frombytes(blob)
    return tuple(zip(flat[::2], flat[1::2], strict=True))


class StoreError(Exception):
    """The database cannot be opened or is not a NewsBite store."""


@dataclass(frozen=True, slots=True)
class StoredFile:
    rel_path: str
    content_hash: str
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class SourceInfo:
    doc_id: str
    title: str
    url: str | None
    paragraphs: int


@dataclass(frozen=True, slots=True)
class TokenArrays:
    """Everything BM25 needs, in chunk-id order."""

    chunk_ids: np.ndarray  # int64, one per chunk
    doc_lengths: np.ndarray  # int32, tokens per chunk
    token_ids: np.ndarray  # int32, all chunks' term ids concatenated
    vocabulary: list[str]  # vocabulary[i] is the term with id i


LOCK_TIMEOUT_SECONDS = 10.0  # how long a writer waits for another writer before giving up
REBUILD_HINT = "run `newsbite index --rebuild` to build it anew"


class Store:
    """A NewsBite SQLite database. Not thread-safe: one ``Store`` per thread of use.

    ``read_only`` opens without ever writing (snapshot readers, a database on read-only
    storage); such a store must already have been created by a writer. ``bulk_load`` writes
    a new database that nobody reads yet without the log and syncs that make an update safe
    to serve, until ``finish_bulk_load`` (see retrieval.index_update).
    """

    def __init__(
        self, path: Path | str, *, read_only: bool = False, bulk_load: bool = False
    ) -> None:
        self.path = str(path)
        self.read_only = read_only
        self.bulk_load = bulk_load
        try:
            if self.path == ":memory:":
                conn = sqlite3.connect(":memory:", check_same_thread=False)
            else:
                conn = self._connect(Path(self.path), read_only)
            self.db = sqlite_utils.Database(conn, execute_plugins=False)
            if not read_only:
                self._create_schema()
            self._check_schema()
        except sqlite3.DatabaseError as error:
            raise StoreError(
                f"cannot open the index database {self.path}: {error}; {REBUILD_HINT}"
                if "not a database" in str(error) or "malformed" in str(error)
                else f"cannot open the index database {self.path}: {error}"
            ) from error

    @staticmethod
    def _connect(path: Path, read_only: bool) -> sqlite3.Connection:
        if read_only:
            if not path.exists():
                raise sqlite3.OperationalError("no index has been built yet")
            uri = f"file:{path.resolve()}?mode=ro"
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            uri = f"file:{path.resolve()}"
        return sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=LOCK_TIMEOUT_SECONDS)

    @staticmethod
    def writable(path: Path | str) -> bool:
        """Whether a writer could use ``path`` (the file, or its folder for a new one)."""
        path = Path(path)
        if path.exists():
            return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
        folder = next((p for p in path.parents if p.exists()), Path("."))
        return os.access(folder, os.W_OK)

    @classmethod
    def in_memory(cls) -> Store:
        return cls(":memory:")

    def close(self) -> None:
        self.db.conn.close()

    def finish_bulk_load(self) -> None:
        """Make a ``bulk_load`` database one that can be served and updated safely."""
        with self.db.atomic():
            self._create_lookup_indexes()
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.enable_wal()
        self.bulk_load = False

    def _create_lookup_indexes(self) -> None:
        """The indexes by doc_id, file and term. A bulk load builds them once at the end (the
        indexer keeps doc_ids and terms unique itself): sorting once is cheaper than keeping
        them sorted through tens of thousands of inserts in random order."""
        self.db["articles"].create_index(["doc_id"], unique=True, if_not_exists=True)
        self.db["articles"].create_index(["rel_path"], if_not_exists=True)
        self.db["terms"].create_index(["term"], unique=True, if_not_exists=True)

    # -- schema -----------------------------------------------------------------------------

    def _create_schema(self) -> None:
        if self.bulk_load:
            # A journal in memory still lets a cancelled update roll back.
            self.db.execute("PRAGMA journal_mode=MEMORY")
            self.db.execute("PRAGMA synchronous=OFF")
        else:
            if self.path != ":memory:":
                self.db.enable_wal()
            self.db.execute("PRAGMA synchronous=NORMAL")
        with self.db.atomic():
            self.db["meta"].create({"key": str, "value": str}, pk="key", if_not_exists=True)
            self.db["files"].create(
                {"rel_path": str, "content_hash": str, "size": int, "mtime_ns": int},
                pk="rel_path",
                if_not_exists=True,
            )
            self.db["articles"].create(
                {
                    "id": int,
                    "doc_id": str,
                    "rel_path": str,
                    "title": str,
                    "url": str,
                    "date": str,
                    "paragraphs": int,
                },
                pk="id",
                not_null={"doc_id", "rel_path", "title"},
                if_not_exists=True,
            )
            self.db["chunks"].create(
                {
                    "id": int,
                    "article_id": int,
                    "paragraph": int,
                    "text": str,
                    "start": int,
                    "end": int,
                    "sentences": bytes,
                    "token_ids": bytes,
                },
                pk="id",
                foreign_keys=[("article_id", "articles", "id")],
                if_not_exists=True,
            )
            self.db["terms"].create({"id": int, "term": str}, pk="id", if_not_exists=True)
            # Chunks come in article order: their index grows at its end, cheaply.
            self.db["chunks"].create_index(["article_id"], if_not_exists=True)
            if not self.bulk_load:
                self._create_lookup_indexes()
            if self.get_meta("schema_version") is None:
                self.set_meta("schema_version", SCHEMA_VERSION)

    def _check_schema(self) -> None:
        version = self.get_meta("schema_version")
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has index schema {version!r}, this version needs {SCHEMA_VERSION!r}:"
                " run `newsbite index --rebuild`"
            )

    def get_meta(self, key: str) -> str | None:
        if "meta" not in self.db.table_names():
            return None
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db["meta"].upsert({"key": key, "value": value}, pk="key")

    # -- files and articles -------------------------------------------------------------------

    def stored_files(self) -> dict[str, StoredFile]:
        rows = self.db.execute("SELECT rel_path, content_hash, size, mtime_ns FROM files")
        return {row[0]: StoredFile(*row) for row in rows}

    def touch_file(self, stored: StoredFile) -> None:
        """Record a file's new size and mtime when its content is unchanged."""
        self.db["files"].upsert(
            {"rel_path": stored.rel_path, "size": stored.size, "mtime_ns": stored.mtime_ns},
            pk="rel_path",
        )

    def remove_file(self, rel_path: str) -> None:
        article_ids = "SELECT id FROM articles WHERE rel_path = ?"
        self.db.execute(f"DELETE FROM chunks WHERE article_id IN ({article_ids})", [rel_path])
        self.db.execute("DELETE FROM articles WHERE rel_path = ?", [rel_path])
        self.db.execute("DELETE FROM files WHERE rel_path = ?", [rel_path])

    def add_file(self, stored: StoredFile) -> None:
        """Record a file as indexed (its articles follow with ``add_article``)."""
        self.add_files([stored])

    def add_files(self, files: Sequence[StoredFile]) -> None:
        self.db.conn.executemany(
            "INSERT INTO files (rel_path, content_hash, size, mtime_ns) VALUES (?, ?, ?, ?)",
            [(f.rel_path, f.content_hash, f.size, f.mtime_ns) for f in files],
        )

    def add_articles(
        self,
        rel_path: str,
        articles: Sequence[Article],
        chunks: Sequence[Sequence[ChunkRow]],
    ) -> None:
        """Store articles of ``rel_path``, each with its chunks."""
        self.add_article_rows(
            [rel_path] * len(articles),
            [(a.doc_id, a.title, a.url, a.date, len(a.paragraphs)) for a in articles],
            [
                [(*chunk[:5], _int32_bytes(chunk[5])) for chunk in article_chunks]
                for article_chunks in chunks
            ],
        )

    def add_article_rows(
        self,
        rel_paths: Sequence[str],
        articles: Sequence[ArticleRow],
        chunks: Sequence[Sequence[ChunkBlobRow]],
    ) -> None:
        """``add_articles`` for rows already in their stored form (blobs as bytes or
        bytearrays), each article of the file in ``rel_paths`` at the same position. The
        indexer's writer calls the two inserts itself, from columns."""
        first_id = self.next_article_id()
        self.insert_articles(first_id, rel_paths, articles)
        self.insert_chunks(
            (article_id, *chunk)
            for article_id, article_chunks in zip(range(first_id, 1 << 62), chunks, strict=False)
            for chunk in article_chunks
        )

    def next_article_id(self) -> int:
        """The id the next article stored will have; ids are given in order from it."""
        return self.db.conn.execute("SELECT coalesce(max(id), 0) + 1 FROM articles").fetchone()[0]

    def insert_articles(
        self, first_id: int, rel_paths: Sequence[str], articles: Sequence[ArticleRow]
    ) -> None:
        """Store articles with ids from ``first_id`` on."""
        self.db.conn.executemany(
            "INSERT INTO articles (id, doc_id, rel_path, title, url, date, paragraphs)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (article_id, doc_id, rel_path, title, url, date, paragraphs)
                for article_id, rel_path, (doc_id, title, url, date, paragraphs) in zip(
                    range(first_id, 1 << 62), rel_paths, articles, strict=False
                )
            ],
        )

    def insert_chunks(self, rows: Iterable[tuple]) -> None:
        """Store chunks, each row its article's id and then a ChunkBlobRow. The article may
        be stored before or after (``insert_articles``), within the same transaction."""
        self.db.conn.executemany(
            'INSERT INTO chunks (article_id, paragraph, text, start, "end", sentences,'
            " token_ids) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def transaction(self):
        """One atomic write: readers see all of it or none of it."""
        return self.db.atomic()

    # -- vocabulary ---------------------------------------------------------------------------

    def vocabulary(self) -> dict[str, int]:
        return {term: term_id for term_id, term in self.db.execute("SELECT id, term FROM terms")}

    def add_terms(self, new_terms: Iterable[tuple[int, str]]) -> None:
        self.db.conn.executemany("INSERT INTO terms (id, term) VALUES (?, ?)", list(new_terms))

    # -- reading for the index ----------------------------------------------------------------

    def token_arrays(self) -> TokenArrays:
        rows = self.db.execute("SELECT id, token_ids FROM chunks ORDER BY id").fetchall()
        chunk_ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        blobs = [row[1] for row in rows]
        doc_lengths = np.fromiter((len(b) // 4 for b in blobs), dtype=np.int32, count=len(blobs))
        token_ids = np.frombuffer(b"".join(blobs), dtype=np.int32)
        terms = self.db.execute("SELECT id, term FROM terms ORDER BY id").fetchall()
        vocabulary = [""] * (terms[-1][0] + 1 if terms else 0)
        for term_id, term in terms:
            vocabulary[term_id] = term
        return TokenArrays(chunk_ids, doc_lengths, token_ids, vocabulary)

    def chunks(self, chunk_ids: Sequence[int]) -> dict[int, Chunk]:
        """Chunks by id; ids no longer stored are missing from the result."""
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = self.db.execute(
            'SELECT c.id, a.doc_id, a.title, a.url, c.paragraph, c.text, c.start, c."end",'
            f" c.sentences FROM chunks c JOIN articles a ON a.id = c.article_id"
            f" WHERE c.id IN ({marks})",
            [int(i) for i in chunk_ids],
        )
        return {
            row[0]: Chunk(
                doc_id=row[1],
                title=row[2],
                url=row[3],
                paragraph=row[4],
                text=row[5],
                start=row[6],
                end=row[7],
                sentences=_sentence_offsets(row[8]),
            )
            for row in rows
        }

    def sources(self) -> list[SourceInfo]:
        rows = self.db.execute(
            "SELECT doc_id, title, url, paragraphs FROM articles"
            " ORDER BY title COLLATE NOCASE, doc_id"
        )
        return [SourceInfo(*row) for row in rows]

    def counts(self) -> tuple[int, int]:
        articles = self.db.execute("SELECT count(*) FROM articles").fetchone()[0]
        chunks = self.db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        return articles, chunks

    def begin_snapshot(self) -> None:
        """Pin this connection to the current state of the database (WAL read snapshot), so
        that chunk ids read now stay valid while another connection re-indexes."""
        if self.db.conn.in_transaction:
            self.db.conn.execute("COMMIT")
        self.db.conn.execute("BEGIN")
        self.db.execute("SELECT count(*) FROM meta").fetchone()

    def end_snapshot(self) -> None:
        if self.db.conn.in_transaction:
            self.db.conn.execute("COMMIT")
