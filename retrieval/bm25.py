"""Okapi BM25 over the chunk store: precomputed postings, top-k by partial selection.

Scores are those of ``rank_bm25.BM25Okapi`` (k1=1.5, b=0.75, epsilon=0.25 by default): for each
query token, once per occurrence in the query,

    idf(t) · tf·(k1 + 1) / (tf + k1·(1 − b + b·dl/avgdl))

with tf counted per document, dl the document's token count, avgdl the mean dl, and
raw idf(t) = ln((N − n + 0.5) / (n + 0.5)) for a term in n of N documents. Unknown terms add 0.

rank-bm25 floors a raw idf below 0 (a term in more than half of the documents) at
epsilon × the average raw idf of the vocabulary. That has two defects, which we fix:

* A term in exactly half of the documents has raw idf 0, which rank-bm25 keeps, so matching it
  counts for nothing. We floor every raw idf ≤ 0, not only < 0.
* In a tiny corpus (one or two documents, or mostly shared words) the average raw idf is ≤ 0,
  so rank-bm25's floor is ≤ 0 and a matching document scores 0 or less than a non-matching
  one. When the average is ≤ 0 our floor is epsilon × the mean of the always-positive Lucene
  idf ln(1 + (N − n + 0.5)/(n + 0.5)) over the vocabulary.

So every idf is > 0, and wherever no term is in exactly half of the documents and the average
raw idf is > 0, our scores equal rank-bm25's.

The index stores, per term, its postings in CSR form (document ids and the whole per-document
weight above, precomputed; see ``retrieval.bm25_postings``), so a query touches only its own
terms' postings; on queries with long posting lists, MaxScore pruning skips reading most of
the common words' postings. Results are exact either way: top_k is the head of a stable sort of
scores(), with bit-identical scores.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from collections.abc import Set as AbstractSet

import numpy as np

from retrieval.bm25_postings import Postings, build_postings
from retrieval.topk import top_k as _top_k
from retrieval.topk import top_k_distinct as _top_k_distinct

# Below this many postings a query simply reads them all; pruning would not pay for itself.
_PRUNING_MIN_POSTINGS = 16_384
# Looking a candidate up in a posting list (binary search) costs about this many times as much
# as reading one posting: pruning gives up once its lookups would cost more than reading all.
_LOOKUP_COST = 4


class BM25Index:
    """Immutable after construction; safe to share between threads.

    Each thread that calls ``top_k`` gets its own score buffer (8 bytes a document, kept while
    both the thread and the index live), so concurrent queries never share mutable state.
    """

    __slots__ = (
        "_doc_ids",
        "_idf",
        "_local",
        "_max_weights",
        "_term_ids",
        "_term_offsets",
        "_weights",
        "avgdl",
        "b",
        "epsilon",
        "k1",
        "n_docs",
    )

    def __init__(
        self, postings: Postings, term_ids: dict[str, int], k1: float, b: float, epsilon: float
    ) -> None:
        """Use ``from_token_ids`` or ``from_documents``."""
        self.n_docs = postings.n_docs
        self.avgdl = postings.avgdl
        self.k1 = k1
        self.b = b
        self.epsilon = epsilon
        self._term_ids = term_ids
        self._idf = postings.idf
        self._term_offsets = postings.term_offsets
        self._doc_ids = postings.doc_ids
        self._weights = postings.weights
        self._max_weights = postings.max_weights
        # Per-thread scratch buffers for top_k: the index itself is never written after this.
        self._local = threading.local()

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def from_token_ids(
        cls,
        token_ids: np.ndarray,
        doc_lengths: np.ndarray,
        vocabulary: Sequence[str],
        k1: float = 1.5,
        b: float = 0.75,
        epsilon: float = 0.25,
    ) -> BM25Index:
        """Index documents given as term ids.

        ``token_ids``: every document's term ids concatenated in document order, duplicates
        kept; ``doc_lengths``: tokens per document (summing to ``len(token_ids)``);
        ``vocabulary[i]``: the term with id i. Vocabulary entries that occur in no document
        (left over after deletions) are ignored; the entries that do occur must be distinct.
        """
        postings = build_postings(token_ids, doc_lengths, len(vocabulary), k1, b, epsilon)
        used = np.flatnonzero(postings.doc_freq)
        term_ids = {vocabulary[i]: i for i in used.tolist()}
        if len(term_ids) != len(used):
            raise ValueError("vocabulary has duplicate entries among the terms that occur")
        return cls(postings, term_ids, k1, b, epsilon)

    @classmethod
    def from_documents(
        cls,
        documents: Sequence[Sequence[str]],
        k1: float = 1.5,
        b: float = 0.75,
        epsilon: float = 0.25,
    ) -> BM25Index:
        """Index tokenised documents (a convenience for tests and tools)."""
        vocabulary: dict[str, int] = {}
        token_ids = np.array(
            [vocabulary.setdefault(token, len(vocabulary)) for doc in documents for token in doc],
            dtype=np.int32,
        )
        doc_lengths = np.fromiter(
            (len(doc) for doc in documents), dtype=np.int32, count=len(documents)
        )
        return cls.from_token_ids(token_ids, doc_lengths, list(vocabulary), k1, b, epsilon)

    # -- queries --------------------------------------------------------------------------------

    @property
    def n_terms(self) -> int:
        """Distinct terms that occur in at least one document."""
        return len(self._term_ids)

    def idf(self, term: str) -> float:
        """The term's idf (always > 0 for a term in the index); 0.0 for unknown terms."""
        term_id = self._term_ids.get(term)
        return 0.0 if term_id is None else float(self._idf[term_id])

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """Scores (float64) of every document, in document order."""
        scores = np.zeros(self.n_docs, dtype=np.float64)
        for term_id, count in self._query_terms(query_tokens):
            docs, contribution = self._contribution(term_id, count)
            scores[docs] += contribution
        return scores

    def top_k(self, query_tokens: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """(document indices int64, scores float64) of at most ``k`` documents with score > 0,
        best first, ties by lower index: the head of a stable sort of ``scores()``."""
        terms = self._query_terms(query_tokens)
        if k <= 0 or not terms:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        if len(terms) == 1:
            docs, values = self._single_term_top_k(*terms[0], k)
        else:
            docs, values = self._multi_term_top_k(terms, k)
        positive = values > 0
        return docs[positive].astype(np.int64), values[positive]

    # -- internals ------------------------------------------------------------------------------

    def _query_terms(self, query_tokens: Sequence[str]) -> list[tuple[int, int]]:
        """(term id, occurrences in the query) of the known query terms, in query order."""
        counts: dict[int, int] = {}
        for token in query_tokens:
            term_id = self._term_ids.get(token)
            if term_id is not None:
                counts[term_id] = counts.get(term_id, 0) + 1
        return list(counts.items())

    def _posting_count(self, term_id: int) -> int:
        return int(self._term_offsets[term_id + 1] - self._term_offsets[term_id])

    def _postings(self, term_id: int) -> tuple[np.ndarray, np.ndarray]:
        """The term's documents (ascending, distinct, int32) and weights (float32)."""
        start, end = self._term_offsets[term_id], self._term_offsets[term_id + 1]
        return self._doc_ids[start:end], self._weights[start:end]

    def _contribution(self, term_id: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        """The term's documents (as intp) and what it adds to their scores (float64)."""
        docs, weights = self._postings(term_id)
        # int32 indices would be converted to intp on every fancy-indexing pass: once is enough.
        docs = docs.astype(np.intp)
        # float64 before multiplying, so that scores() and top_k() add identical values.
        contribution = weights.astype(np.float64) if count == 1 else weights * np.float64(count)
        return docs, contribution

    def _single_term_top_k(self, term_id: int, count: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        docs, weights = self._postings(term_id)
        # Positions follow document order, so ties already go to the lower index; scaling by
        # the count keeps the order, so only the chosen weights are converted.
        chosen = _top_k(weights, k)
        return docs[chosen], weights[chosen].astype(np.float64) * np.float64(count)

    def _multi_term_top_k(
        self, terms: list[tuple[int, int]], k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        total_postings = sum(self._posting_count(term_id) for term_id, _ in terms)
        if total_postings >= _PRUNING_MIN_POSTINGS:
            found = self._pruned_top_k(terms, k, total_postings)
            if found is not None:
                return found
        return self._exhaustive_top_k(terms, k)

    def _pruned_top_k(
        self, terms: list[tuple[int, int]], k: int, total_postings: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Top k without reading the long posting lists of common words (MaxScore pruning).

        1. The documents of the rarest terms (at least k) are scored exactly, by binary search
           in every query term's postings: their k-th best score is a lower bound on the final
           k-th best.
        2. The terms whose possible contributions sum below that bound are "non-essential":
           a document holding only those cannot reach the top k.
        3. The candidates are the essential terms' documents; their exact scores are summed in
           query order (as scores() sums them), reading the essential postings in full and
           looking the candidates up in the non-essential ones.

        None when the lookups would cost more than reading every posting.
        """
        bounds = [float(self._max_weights[term_id]) * count for term_id, count in terms]
        by_bound = sorted(range(len(terms)), key=lambda i: -bounds[i])

        seeds = np.empty(0, dtype=np.int32)
        for i in sorted(range(len(terms)), key=lambda i: self._posting_count(terms[i][0])):
            docs = self._postings(terms[i][0])[0]
            seeds = _sorted_distinct(np.concatenate((seeds, docs))) if len(seeds) else docs
            if len(seeds) >= k:
                break
        if len(seeds) < k or len(seeds) * len(terms) * _LOOKUP_COST > total_postings:
            return None
        seed_scores = self._lookup_scores(seeds, terms)
        kth_best = np.partition(seed_scores, len(seeds) - k)[len(seeds) - k]

        non_essential: set[int] = set()
        reachable = 0.0
        for i in reversed(by_bound):
            reachable += bounds[i]
            # The margin covers rounding in float sums: pruning must never be optimistic.
            if reachable * (1 + 1e-9) >= kth_best:
                break
            non_essential.add(i)
        essential = set(by_bound) - non_essential
        essential_docs = [self._postings(terms[i][0])[0] for i in essential]
        essential_postings = sum(len(docs) for docs in essential_docs)
        # There are at most as many candidates as essential postings.
        lookups = essential_postings * len(non_essential)
        if essential_postings + lookups * _LOOKUP_COST > total_postings:
            return None
        if len(essential_docs) == 1:
            candidates = essential_docs[0]
        else:
            candidates = _sorted_distinct(np.concatenate(essential_docs))
        scores = self._lookup_scores(candidates, terms, read_in_full=essential)
        chosen = _top_k(scores, k)  # candidates are in document order: ties go to the lower index
        return candidates[chosen], scores[chosen]

    def _lookup_scores(
        self,
        candidates: np.ndarray,
        terms: list[tuple[int, int]],
        read_in_full: AbstractSet[int] = frozenset(),
    ) -> np.ndarray:
        """Exact scores of ``candidates`` (sorted int32), which must hold every document of
        the terms at positions ``read_in_full``. Summed in query order as scores() sums them,
        so both give bit-identical values."""
        scratch = self._scratch()
        if scratch.dirty:  # an earlier query on this thread was interrupted
            scratch.scores.fill(0.0)
        scratch.dirty = True
        candidate_index = candidates.astype(np.intp)
        for position, (term_id, count) in enumerate(terms):
            if position in read_in_full:
                docs, contribution = self._contribution(term_id, count)
                scratch.scores[docs] += contribution
                continue
            docs, weights = self._postings(term_id)
            found_at = np.searchsorted(docs, candidates)
            np.minimum(found_at, len(docs) - 1, out=found_at)
            found = docs[found_at] == candidates
            hit_weights = weights[found_at[found]]
            scratch.scores[candidate_index[found]] += (
                hit_weights.astype(np.float64) if count == 1 else hit_weights * np.float64(count)
            )
        scores = scratch.scores.take(candidate_index)
        scratch.scores[candidate_index] = 0.0
        scratch.dirty = False
        return scores

    def _exhaustive_top_k(
        self, terms: list[tuple[int, int]], k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores add up in a dense per-thread buffer, which is read and zeroed again only
        where the query's postings touched it: untouched documents are never visited."""
        scratch = self._scratch()
        if scratch.dirty:  # an earlier query on this thread was interrupted
            scratch.scores.fill(0.0)
        scratch.dirty = True
        touched = []
        for term_id, count in terms:
            docs, contribution = self._contribution(term_id, count)
            # A posting list holds each document once, so the buffered fancy add is exact.
            scratch.scores[docs] += contribution
            touched.append(docs)
        all_touched = np.concatenate(touched)
        values = scratch.scores.take(all_touched)
        scratch.scores[all_touched] = 0.0
        scratch.dirty = False
        # A document appears once per query term whose postings hold it.
        return _top_k_distinct(all_touched, values, k, max_repeats=len(terms))

    def _scratch(self) -> _Scratch:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = _Scratch(self.n_docs)
            self._local.scratch = scratch
        return scratch


class _Scratch:
    """One thread's score buffer: one float64 per document, zero between queries."""

    __slots__ = ("dirty", "scores")

    def __init__(self, n_docs: int) -> None:
        self.scores = np.zeros(n_docs, dtype=np.float64)
        self.dirty = False


def _sorted_distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted (np.sort and a mask: np.unique is far slower in NumPy 2.3+)."""
    ordered = np.sort(values)
    is_new = np.empty(len(ordered), dtype=bool)
    is_new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=is_new[1:])
    return ordered[is_new]
