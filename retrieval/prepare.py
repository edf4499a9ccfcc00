"""The CPU-heavy half of indexing: file bytes → articles → chunks → term ids.

Pure functions of their arguments, so that they can run in worker processes (see
retrieval.index_pipeline). What they return is shaped for the trip back and for the process that
writes it to the store: plain tuples and bytes, which pickle several times faster than
objects, and term ids local to the batch (``PreparedBatch.terms``) that the writer maps onto
the store's vocabulary with one numpy lookup instead of one dict lookup per token.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Sequence
from itertools import chain
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from retrieval.chunks import chunk_spans
from retrieval.corpus import ParsedFile, parse_file, parse_jsonl_part
from retrieval.documents import Article
from retrieval.json_reader import JsonlPart
from retrieval.tokenizer import TermEncoder

if TYPE_CHECKING:
    # Only a type here: importing the store (and sqlite_utils with it) would add to every
    # worker's start-up.
    from retrieval.store import ArticleRow

FileOutcome = tuple[list[str], int]  # a parsed file's warnings and number of articles


class PreparedBatch(NamedTuple):
    """Articles ready to store, their chunks as columns (chunk after chunk, an article's after
    the previous article's): a column of numbers is one blob, where a tuple per chunk would
    cost a hundred thousand objects to build, pickle and unpickle.

    A chunk's terms are the article's title, then its own text: questions name the subject
    ("the Super Bowl", "the Kremlin") that a paragraph deep inside the article no longer
    repeats."""

    articles: list[ArticleRow]
    chunk_counts: bytes  # int32, one per article: how many chunks it has
    chunk_numbers: bytes  # int32, three per chunk: paragraph, start, end (as in store rows)
    texts: list[str]  # one per chunk
    terms: list[str]  # the batch's own vocabulary, in order of first appearance
    token_ids: bytes  # int32 indexes into ``terms``: every chunk's terms
    token_ends: bytes  # int32, one per chunk: where its terms end in token_ids
    sentences: bytes  # int32: every chunk's sentence offsets (store.sentence_blob's values)
    sentence_ends: bytes  # int32, one per chunk: where its offsets end in sentences


def prepare_files(
    files: Sequence[tuple[str, bytes]], parse: Callable[[str, bytes], ParsedFile] = parse_file
) -> tuple[list[FileOutcome], PreparedBatch]:
    """Parse ``(rel_path, data)`` files and prepare all their articles, in order, as one batch."""
    outcomes: list[FileOutcome] = []
    articles: list[Article] = []
    for rel_path, data in files:
        parsed = parse(rel_path, data)
        outcomes.append((parsed.warnings, len(parsed.articles)))
        articles.extend(parsed.articles)
    return outcomes, prepare_articles(articles)


def prepare_jsonl_part(
    rel_path: str, data: bytes, first_line: int
) -> tuple[JsonlPart, PreparedBatch]:
    """Parse one part of a big JSON Lines file (corpus.jsonl_parts) and prepare its articles,
    in the same worker: the articles never make the trip to the writer and back. Their rows'
    doc_ids are empty: the writer gives them once it has every part."""
    articles, part = parse_jsonl_part(rel_path, data, first_line)
    return part, prepare_articles(articles)


def prepare_articles(articles: Sequence[Article]) -> PreparedBatch:
    """The chunks of ``articles`` (chunk_article's), each with its terms (the title's, then
    tokenize's of its text) and its sentence offsets."""
    encoder = _batch_encoder()
    encode = encoder.encode
    flatten = chain.from_iterable
    rows: list[ArticleRow] = []
    counts: list[int] = []
    numbers: list[int] = []
    texts: list[str] = []
    ids: list[int] = []  # term ids in the encoder's vocabulary, stopwords included
    ends: list[int] = []
    offsets: list[int] = []
    offset_ends: list[int] = []
    for article in articles:
        rows.append(
            (article.doc_id, article.title, article.url, article.date, len(article.paragraphs))
        )
        title_ids = encode(article.title)
        spans = chunk_spans(article.paragraphs)
        counts.append(len(spans))
        for paragraph, text, start, end, sentences in spans:
            numbers += (paragraph, start, end)
            texts.append(text)
            ids += title_ids
            ids += encode(text)
            ends.append(len(ids))
            offsets += flatten(sentences)
            offset_ends.append(len(offsets))
    terms, token_ids, token_ends = _local_vocabulary(encoder.terms, ids, ends)
    return PreparedBatch(
        articles=rows,
        chunk_counts=_int32s(counts).tobytes(),
        chunk_numbers=_int32s(numbers).tobytes(),
        texts=texts,
        terms=terms,
        token_ids=token_ids.tobytes(),
        token_ends=token_ends.tobytes(),
        sentences=_int32s(offsets).tobytes(),
        sentence_ends=_int32s(offset_ends).tobytes(),
    )


def _local_vocabulary(
    vocabulary: list[str], ids: list[int], ends: list[int]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(terms, token ids, chunk ends) with stopwords dropped and ids renumbered in order of
    first appearance, so that the writer gives new terms their store ids in text order."""
    # A dict keeps its keys in insertion order: the batch's distinct ids in order of first
    # appearance, found in C (a sort-based unique costs several times more).
    first_seen = dict.fromkeys(ids)
    first_seen.pop(TermEncoder.STOPWORD, None)
    # array converts a list of ints to machine ints several times faster than numpy does.
    all_ids = np.frombuffer(_int32s(ids), dtype=np.int32)
    is_term = all_ids != TermEncoder.STOPWORD
    terms_before = np.concatenate(([0], np.cumsum(is_term)))  # terms_before[i]: in ids[:i]
    local_of = np.zeros(len(vocabulary), dtype=np.int32)  # encoder id → batch id
    local_of[np.fromiter(first_seen, dtype=np.int64, count=len(first_seen))] = np.arange(
        len(first_seen), dtype=np.int32
    )
    terms = list(map(vocabulary.__getitem__, first_seen))
    return terms, local_of[all_ids[is_term]], terms_before[ends].astype(np.int32)


# Each process keeps one encoder across batches (a worker's words are nearly all known after
# its first batch); a new one once it has seen this many words keeps memory bounded. Only
# between batches: a batch's ids must all come from one encoder.
_ENCODER_MAX_WORDS = 500_000
_encoders: list[TermEncoder] = [TermEncoder()]


def _batch_encoder() -> TermEncoder:
    if len(_encoders[-1]) > _ENCODER_MAX_WORDS:
        _encoders[-1] = TermEncoder()
    return _encoders[-1]


# The typecode of a native 32-bit int: its bytes are numpy's int32 and store.sentence_blob's.
_INT32 = next(code for code in "ihl" if array(code).itemsize == 4)


def _int32s(values: Iterable[int]) -> array:
    return array(_INT32, values)
