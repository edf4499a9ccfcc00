"""Building BM25 postings: documents as term ids → per-term postings in CSR form.

Fully vectorised (one sort of term·N + document keys, then run lengths), with no Python loop
over tokens or documents: 100k paragraphs build in a fraction of a second; a million paragraphs
of about 44 terms need some 700 MB above their input while building, then 8 bytes a distinct
(term, document) pair. The scoring definitions, including the idf floor, are in
``retrieval.bm25``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Weights are computed in float64 and stored as float32; blocks bound the float64 temporaries.
_WEIGHT_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class Postings:
    """Term t's postings are ``doc_ids[term_offsets[t]:term_offsets[t + 1]]`` (ascending) and
    the matching ``weights``: its whole BM25 contribution to each of those documents."""

    n_docs: int
    avgdl: float
    doc_freq: np.ndarray  # int64 per term id: documents holding the term
    idf: np.ndarray  # float64 per term id, 0 for ids that occur nowhere
    term_offsets: np.ndarray  # int64, one more than there are term ids
    doc_ids: np.ndarray  # int32
    weights: np.ndarray  # float32
    max_weights: np.ndarray  # float32 per term id: the largest of its weights


def build_postings(
    token_ids: np.ndarray,
    doc_lengths: np.ndarray,
    vocabulary_size: int,
    k1: float,
    b: float,
    epsilon: float,
) -> Postings:
    """Postings of documents given as concatenated term ids and per-document token counts."""
    _check_parameters(k1, b, epsilon)
    token_ids, doc_lengths = _checked_arrays(token_ids, doc_lengths, vocabulary_size)
    n_docs = len(doc_lengths)
    avgdl = int(doc_lengths.sum(dtype=np.int64)) / n_docs if n_docs else 0.0
    pair_terms, pair_docs, pair_tf = _count_term_document_pairs(token_ids, doc_lengths)
    doc_freq = np.bincount(pair_terms, minlength=vocabulary_size)
    term_offsets = np.zeros(vocabulary_size + 1, dtype=np.int64)
    np.cumsum(doc_freq, out=term_offsets[1:])
    idf = _idf(doc_freq, n_docs, epsilon)
    weights = _weights(pair_terms, pair_docs, pair_tf, idf, doc_lengths, avgdl, k1, b)
    return Postings(
        n_docs=n_docs,
        avgdl=avgdl,
        doc_freq=doc_freq,
        idf=idf,
        term_offsets=term_offsets,
        doc_ids=pair_docs,
        weights=weights,
        max_weights=_max_per_term(weights, term_offsets),
    )


def _max_per_term(weights: np.ndarray, term_offsets: np.ndarray) -> np.ndarray:
    """The largest weight in each term's postings (0 for terms without postings)."""
    maxima = np.zeros(len(term_offsets) - 1, dtype=np.float32)
    starts = term_offsets[:-1]
    used = np.flatnonzero(term_offsets[1:] > starts)
    if len(used):
        # Used terms' postings are consecutive and non-empty, so reduceat's segments are theirs.
        maxima[used] = np.maximum.reduceat(weights, starts[used])
    return maxima


def _check_parameters(k1: float, b: float, epsilon: float) -> None:
    if not k1 >= 0:
        raise ValueError(f"k1 must be >= 0, got {k1}")
    if not 0 <= b <= 1:
        raise ValueError(f"b must be in [0, 1], got {b}")
    if not epsilon > 0:
        raise ValueError(f"epsilon must be > 0 (it keeps every idf positive), got {epsilon}")


def _checked_arrays(
    token_ids: np.ndarray, doc_lengths: np.ndarray, vocabulary_size: int
) -> tuple[np.ndarray, np.ndarray]:
    token_ids = np.asarray(token_ids)
    doc_lengths = np.asarray(doc_lengths)
    for name, array in (("token_ids", token_ids), ("doc_lengths", doc_lengths)):
        if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
            raise ValueError(f"{name} must be a one-dimensional integer array")
    if doc_lengths.size and doc_lengths.min() < 0:
        raise ValueError("doc_lengths must not be negative")
    if int(doc_lengths.sum(dtype=np.int64)) != len(token_ids):
        raise ValueError(
            f"doc_lengths sum to {int(doc_lengths.sum(dtype=np.int64))},"
            f" but there are {len(token_ids)} token ids"
        )
    if token_ids.size and (token_ids.min() < 0 or token_ids.max() >= vocabulary_size):
        raise ValueError(f"token ids must be in [0, {vocabulary_size})")
    return token_ids, doc_lengths


def _count_term_document_pairs(
    token_ids: np.ndarray, doc_lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(term, document, term frequency) of every distinct pair, sorted by term then document,
    as int32 arrays: one sort of term·N + document keys, then run lengths."""
    n_docs = len(doc_lengths)
    keys = token_ids.astype(np.int64)
    keys *= n_docs
    keys += np.repeat(np.arange(n_docs, dtype=np.int32), doc_lengths)
    keys.sort()
    if not len(keys):
        empty = np.empty(0, dtype=np.int32)
        return empty, empty.copy(), empty.copy()
    is_run_start = np.empty(len(keys), dtype=bool)
    is_run_start[0] = True
    np.not_equal(keys[1:], keys[:-1], out=is_run_start[1:])
    # The deletes keep at most two token- or pair-sized int64 arrays alive at once: that is
    # the peak memory of building a million-document index.
    pair_keys = keys[is_run_start]
    del keys
    run_starts = np.flatnonzero(is_run_start)
    del is_run_start
    term_freq = np.empty(len(pair_keys), dtype=np.int32)
    np.subtract(run_starts[1:], run_starts[:-1], out=term_freq[:-1], casting="unsafe")
    term_freq[-1] = len(token_ids) - run_starts[-1]
    del run_starts
    pair_terms = np.empty(len(pair_keys), dtype=np.int32)
    np.floor_divide(pair_keys, n_docs, out=pair_terms, casting="unsafe")
    pair_docs = np.empty(len(pair_keys), dtype=np.int32)
    np.remainder(pair_keys, n_docs, out=pair_docs, casting="unsafe")
    return pair_terms, pair_docs, term_freq


def _idf(doc_freq: np.ndarray, n_docs: int, epsilon: float) -> np.ndarray:
    """idf per vocabulary id (0 for ids that occur nowhere), floored as retrieval.bm25 says:
    raw ≤ 0 gets epsilon × the average raw idf, or epsilon × the mean Lucene idf when that
    average is ≤ 0."""
    idf = np.zeros(len(doc_freq), dtype=np.float64)
    used = doc_freq > 0
    if not used.any():
        return idf
    n = doc_freq[used].astype(np.float64)
    # Two logs, not the log of the ratio, to round exactly like rank-bm25.
    raw = np.log(n_docs - n + 0.5) - np.log(n + 0.5)
    average = raw.mean()
    if average > 0:
        floor = epsilon * average
    else:
        floor = epsilon * np.log1p((n_docs - n + 0.5) / (n + 0.5)).mean()
    idf[used] = np.where(raw > 0, raw, floor)
    return idf


def _weights(
    pair_terms: np.ndarray,
    pair_docs: np.ndarray,
    term_freq: np.ndarray,
    idf: np.ndarray,
    doc_lengths: np.ndarray,
    avgdl: float,
    k1: float,
    b: float,
) -> np.ndarray:
    """The full BM25 term of every (term, document) pair, float32."""
    weights = np.empty(len(pair_terms), dtype=np.float32)
    if not len(weights):
        return weights
    length_norm = k1 * (1 - b + b * doc_lengths / avgdl)
    for start in range(0, len(weights), _WEIGHT_BLOCK):
        block = slice(start, start + _WEIGHT_BLOCK)
        tf = term_freq[block].astype(np.float64)
        weights[block] = idf[pair_terms[block]] * (
            tf * (k1 + 1) / (tf + length_norm[pair_docs[block]])
        )
    return weights
