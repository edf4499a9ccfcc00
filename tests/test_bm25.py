"""BM25Index scores equal rank_bm25.BM25Okapi's where that is well defined, and stay positive for
matching documents where it is not (exactly-half terms, tiny corpora)."""

from __future__ import annotations

import itertools
import math
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import rank_bm25
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import retrieval.bm25
from retrieval.bm25 import BM25Index
from retrieval.sentences import split_sentences
from retrieval.tokenizer import tokenize

TESTS = Path(__file__).resolve().parent
SEED_ARTICLE = TESTS.parent / "seeds" / "000_75b43c9b3084b6a9.txt"
FIXTURE_PARAGRAPHS = TESTS / "fixtures" / "bm25_news_paragraphs.txt"

RTOL = 1e-6
ATOL = 1e-9


def _paragraphs(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return [block.strip() for block in text.split("\n\n") if block.strip()]


def _raw_idf_conditions(documents: Sequence[Sequence[str]]) -> tuple[bool, float]:
    """(some term is in exactly half of the documents, average raw idf) as rank-bm25 sees them."""
    doc_freq = Counter(term for doc in documents for term in set(doc))
    n = len(documents)
    raw = [math.log(n - df + 0.5) - math.log(df + 0.5) for df in doc_freq.values()]
    return any(2 * df == n for df in doc_freq.values()), sum(raw) / len(raw)


def _assert_scores_match(documents: list[list[str]], queries: list[list[str]]) -> None:
    ours = BM25Index.from_documents(documents)
    reference = rank_bm25.BM25Okapi(documents)
    for query in queries:
        np.testing.assert_allclose(
            ours.scores(query), reference.get_scores(query), rtol=RTOL, atol=ATOL, err_msg=query
        )


def _stable_ranking(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the positive scores, best first, ties by lower index, at most k."""
    order = np.lexsort((np.arange(len(scores)), -scores))
    return order[scores[order] > 0][:k]


@pytest.fixture(scope="module")
def real_documents() -> list[list[str]]:
    """A few hundred real documents: the bundled article's and the fixture's paragraphs, each
    of their sentences, and each two adjacent paragraphs joined (as the chunker merges them)."""
    paragraphs = _paragraphs(SEED_ARTICLE) + _paragraphs(FIXTURE_PARAGRAPHS)
    sentences = [p[start:end] for p in paragraphs for start, end in split_sentences(p)]
    merged = [f"{first}\n\n{second}" for first, second in itertools.pairwise(paragraphs)]
    return [tokenize(text) for text in paragraphs + sentences + merged]


def test_real_paragraphs_score_like_rank_bm25(real_documents: list[list[str]]) -> None:
    assert len(real_documents) > 200
    has_half_term, average_raw_idf = _raw_idf_conditions(real_documents)
    assert not has_half_term and average_raw_idf > 0  # where rank-bm25 is well defined
    questions = [
        "Why is Putin's relationship with Trump getting worse?",
        "Who met Rex Tillerson in the Kremlin?",
        "How much did the central bank raise interest rates?",
        "When will the election be held?",
        "How many volunteers were in the vaccine trial?",
        "What did the police say about the robbery at the jewellery shop?",
        "Syria gas attack Assad Russia denial",
        "said said said",
        "a question about nothing in these articles: quantum giraffes",
    ]
    queries = [tokenize(q) for q in questions]
    # Every twentieth document's own first words: queries that certainly match.
    queries += [doc[:6] for doc in real_documents[::20] if doc]
    _assert_scores_match(real_documents, queries)


@pytest.fixture(params=["default", "always_prune"])
def pruning(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test as configured, and again with MaxScore pruning tried on every query (it is
    normally tried only on queries with many postings, which tiny corpora never have)."""
    if request.param == "always_prune":
        monkeypatch.setattr(retrieval.bm25, "_PRUNING_MIN_POSTINGS", 0)
        monkeypatch.setattr(retrieval.bm25, "_LOOKUP_COST", 0)
    return request.param


def test_real_paragraphs_top_k_is_the_stable_ranking(
    real_documents: list[list[str]], pruning: str
) -> None:
    index = BM25Index.from_documents(real_documents)
    questions = ["Putin Trump trust military", "fuel prices airline", "rain", "prices"]
    questions += [" ".join(doc[:5]) for doc in real_documents[::7]]
    for question in questions:
        query = tokenize(question)
        docs, scores = index.top_k(query, 10)
        expected = _stable_ranking(index.scores(query), 10)
        assert docs.dtype == np.int64 and scores.dtype == np.float64
        np.testing.assert_array_equal(docs, expected)
        np.testing.assert_array_equal(scores, index.scores(query)[expected])


# Small alphabets so that terms repeat across documents and within them.
_TERMS = st.sampled_from(list("abcdefghijklmnopqrst"))


@st.composite
def _corpora(draw: st.DrawFn) -> list[list[str]]:
    alphabet = draw(st.integers(min_value=2, max_value=20))
    term = st.sampled_from(list("abcdefghijklmnopqrst"[:alphabet]))
    return draw(st.lists(st.lists(term, max_size=8), min_size=1, max_size=30))


@settings(max_examples=150, deadline=None)
@given(documents=_corpora(), queries=st.lists(st.lists(_TERMS, max_size=6), max_size=5))
def test_generated_corpora_score_like_rank_bm25(
    documents: list[list[str]], queries: list[list[str]]
) -> None:
    assume(any(documents))
    has_half_term, average_raw_idf = _raw_idf_conditions(documents)
    assume(not has_half_term and average_raw_idf > 0)
    _assert_scores_match(documents, [*queries, ["z"], ["a", "a", "z", "b"]])


# The pruning fixture only sets module constants, the same for every generated example.
@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    documents=_corpora(),
    query=st.lists(_TERMS, max_size=6),
    k=st.integers(min_value=0, max_value=35),
)
def test_any_corpus_idf_positive_and_matches_ranked(
    documents: list[list[str]], query: list[str], k: int, pruning: str
) -> None:
    index = BM25Index.from_documents(documents)
    vocabulary = {term for doc in documents for term in doc}
    assert all(index.idf(term) > 0 for term in vocabulary)
    scores = index.scores(query)
    matching = np.array([bool(set(doc) & set(query)) for doc in documents])
    assert np.all(scores[matching] > 0)
    assert np.all(scores[~matching] == 0)
    docs, top_scores = index.top_k(query, k)
    np.testing.assert_array_equal(docs, _stable_ranking(scores, k))
    np.testing.assert_array_equal(top_scores, scores[docs])


def test_term_in_exactly_half_the_documents_counts() -> None:
    documents = [["a", "b"], ["a", "c"], ["d"], ["e"]]
    index = BM25Index.from_documents(documents)
    reference = rank_bm25.BM25Okapi(documents)
    assert reference.idf["a"] == 0  # rank-bm25's defect
    assert index.idf("a") == pytest.approx(0.25 * reference.average_idf)
    assert index.idf("a") > 0
    assert index.idf("b") == pytest.approx(reference.idf["b"], rel=RTOL)
    scores = index.scores(["a"])
    assert scores[0] > 0 and scores[1] > 0
    assert scores[2] == scores[3] == 0


@pytest.mark.parametrize(
    "documents",
    [
        [["budget", "tax"]],
        [["budget", "tax"], ["budget", "fuel"]],
        [["budget"], ["budget"]],
        [["budget", "budget", "tax"], []],
    ],
)
def test_tiny_corpus_gives_matching_documents_positive_scores(
    documents: list[list[str]],
) -> None:
    index = BM25Index.from_documents(documents)
    reference_scores = rank_bm25.BM25Okapi(documents).get_scores(["budget"])
    assert np.all(reference_scores <= 0)  # rank-bm25's defect on tiny corpora
    scores = index.scores(["budget"])
    for doc, score in zip(documents, scores, strict=True):
        assert (score > 0) == ("budget" in doc)
    docs, top_scores = index.top_k(["budget"], 5)
    assert len(docs) == sum("budget" in doc for doc in documents)
    assert np.all(top_scores > 0)


def test_tiny_corpus_floor_is_epsilon_times_mean_lucene_idf() -> None:
    index = BM25Index.from_documents([["x", "y"], ["x", "z"]])
    # N=2: x is in both (raw < 0), y and z in one each (raw = 0): the average raw idf is < 0.
    lucene = [math.log1p(0.5 / 2.5), math.log1p(1.5 / 1.5), math.log1p(1.5 / 1.5)]
    floor = 0.25 * sum(lucene) / 3
    assert index.idf("x") == pytest.approx(floor)
    assert index.idf("y") == pytest.approx(floor)


def test_repeated_query_tokens_count_once_per_occurrence() -> None:
    documents = [["rate", "bank"], ["rate", "rate", "cut"], ["bank"], ["weather"], ["rain"]]
    index = BM25Index.from_documents(documents)
    reference = rank_bm25.BM25Okapi(documents)
    for query in (["rate", "rate"], ["rate", "bank", "rate"], ["bank"] * 3):
        np.testing.assert_allclose(index.scores(query), reference.get_scores(query), rtol=RTOL)
    np.testing.assert_allclose(index.scores(["rate", "rate"]), 2 * index.scores(["rate"]))
    docs, scores = index.top_k(["bank"] * 3, 5)
    np.testing.assert_array_equal(scores, index.scores(["bank"] * 3)[docs])


def test_unknown_tokens_contribute_nothing() -> None:
    index = BM25Index.from_documents([["rate", "bank"], ["cut"], ["rain"], ["snow"]])
    assert index.idf("unknown") == 0.0
    assert not index.scores(["unknown"]).any()
    assert len(index.top_k(["unknown", "other"], 3)[0]) == 0
    np.testing.assert_array_equal(
        index.scores(["unknown", "bank", "nothing"]), index.scores(["bank"])
    )


def test_empty_query() -> None:
    index = BM25Index.from_documents([["rate"], ["bank"], ["rain"]])
    assert not index.scores([]).any()
    docs, scores = index.top_k([], 5)
    assert docs.dtype == np.int64 and scores.dtype == np.float64
    assert len(docs) == len(scores) == 0


def test_empty_documents_count_in_average_length() -> None:
    documents = [[], ["rate", "bank"], [], ["rain"], ["snow", "rain", "wind"], []]
    index = BM25Index.from_documents(documents)
    assert index.n_docs == 6
    assert index.avgdl == pytest.approx(1.0)
    np.testing.assert_allclose(
        index.scores(["bank", "rain"]),
        rank_bm25.BM25Okapi(documents).get_scores(["bank", "rain"]),
        rtol=RTOL,
    )
    assert set(index.top_k(["bank", "rain"], 10)[0].tolist()) == {1, 3, 4}


@pytest.mark.parametrize("documents", [[], [[]], [[], []]])
def test_corpus_without_tokens(documents: list[list[str]]) -> None:
    index = BM25Index.from_documents(documents)
    assert index.n_docs == len(documents)
    assert index.scores(["rate"]).shape == (len(documents),)
    assert not index.scores(["rate"]).any()
    assert len(index.top_k(["rate"], 3)[0]) == 0


def test_top_k_breaks_ties_by_lower_index(pruning: str) -> None:
    # Identical documents tie exactly; the single- and the multi-term paths must both order them.
    documents = [["storm"], ["flood", "storm"], ["storm"], ["flood", "storm"], ["calm"], ["storm"]]
    documents += [["calm"]] * 6
    index = BM25Index.from_documents(documents)
    for query in (["storm"], ["flood", "storm"], ["storm", "calm"]):
        scores = index.scores(query)
        for k in range(1, 14):
            docs, top_scores = index.top_k(query, k)
            np.testing.assert_array_equal(docs, _stable_ranking(scores, k))
            np.testing.assert_array_equal(top_scores, scores[docs])
    assert index.top_k(["storm"], 2)[0].tolist() == [0, 2]


def test_k_larger_than_matches_and_k_zero(pruning: str) -> None:
    index = BM25Index.from_documents([["rain"], ["sun"], ["rain", "wind"], ["snow"], ["fog"]])
    docs, scores = index.top_k(["rain", "wind"], 100)
    assert docs.tolist() == [2, 0]
    assert np.all(np.diff(scores) <= 0)
    assert len(index.top_k(["rain"], 0)[0]) == 0


def test_from_token_ids_ignores_unused_vocabulary() -> None:
    vocabulary = ["deleted", "rate", "", "bank", "", "removed", "rain", "sun"]
    token_ids = np.array([1, 3, 1, 6, 7, 6], dtype=np.int32)
    doc_lengths = np.array([2, 2, 0, 2], dtype=np.int32)
    index = BM25Index.from_token_ids(token_ids, doc_lengths, vocabulary)
    same = BM25Index.from_documents([["rate", "bank"], ["rate", "rain"], [], ["sun", "rain"]])
    assert index.n_docs == 4
    assert index.n_terms == 4
    assert index.idf("deleted") == index.idf("removed") == index.idf("") == 0.0
    for query in (["rate"], ["rain", "bank"], ["deleted", "sun"]):
        np.testing.assert_array_equal(index.scores(query), same.scores(query))
    assert not index.scores(["deleted", "removed"]).any()


def test_from_token_ids_rejects_inconsistent_input() -> None:
    vocabulary = ["a", "b"]
    with pytest.raises(ValueError, match="sum"):
        BM25Index.from_token_ids(np.array([0, 1]), np.array([1]), vocabulary)
    with pytest.raises(ValueError, match="token ids"):
        BM25Index.from_token_ids(np.array([0, 2]), np.array([2]), vocabulary)
    with pytest.raises(ValueError, match="negative"):
        BM25Index.from_token_ids(np.array([0, 1]), np.array([3, -1]), vocabulary)
    with pytest.raises(ValueError, match="duplicate"):
        BM25Index.from_token_ids(np.array([0, 1]), np.array([2]), ["a", "a"])
    with pytest.raises(ValueError, match="epsilon"):
        BM25Index.from_documents([["a"]], epsilon=0)


def test_parameters_match_rank_bm25() -> None:
    documents = [["rate", "bank", "rate"], ["rate", "cut"], ["bank"], ["rain"], ["sun", "rain"]]
    documents += [["wind"], ["snow", "fog"]]
    query = ["rate", "bank", "rain"]
    for k1, b in ((1.2, 0.75), (2.0, 0.3), (0.5, 1.0), (1.5, 0.0)):
        ours = BM25Index.from_documents(documents, k1=k1, b=b)
        reference = rank_bm25.BM25Okapi(documents, k1=k1, b=b)
        np.testing.assert_allclose(ours.scores(query), reference.get_scores(query), rtol=RTOL)


def test_concurrent_top_k_matches_sequential(real_documents: list[list[str]]) -> None:
    index = BM25Index.from_documents(real_documents)
    queries = [doc[:4] + doc[-3:] for doc in real_documents if len(doc) > 4]
    expected = [index.top_k(query, 5) for query in queries]
    failures: list[int] = []

    def run(offset: int) -> None:
        for round_ in range(5):
            for i in range(len(queries)):
                j = (i + offset + round_) % len(queries)
                docs, scores = index.top_k(queries[j], 5)
                if not (
                    np.array_equal(docs, expected[j][0]) and np.array_equal(scores, expected[j][1])
                ):
                    failures.append(j)

    threads = [threading.Thread(target=run, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_pruned_top_k_on_a_corpus_with_long_posting_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    # 20,000 documents over a Zipf vocabulary: common terms have posting lists long enough for
    # the default pruning thresholds, rare ones make pruning pay.
    rng = np.random.default_rng(5)
    n_docs, n_terms = 20_000, 3_000
    lengths = rng.integers(0, 30, size=n_docs).astype(np.int32)
    token_ids = (rng.zipf(1.2, size=int(lengths.sum())) % n_terms).astype(np.int32)
    index = BM25Index.from_token_ids(token_ids, lengths, [f"t{i}" for i in range(n_terms)])
    pruned = []
    pruned_top_k = BM25Index._pruned_top_k

    def spy(self: BM25Index, *args: object) -> object:
        result = pruned_top_k(self, *args)
        pruned.append(result is not None)
        return result

    monkeypatch.setattr(BM25Index, "_pruned_top_k", spy)
    for query_number in range(300):
        size = 2 + query_number % 6
        query = [f"t{i}" for i in rng.zipf(1.3, size=size) % n_terms]
        docs, scores = index.top_k(query, 10)
        expected = _stable_ranking(index.scores(query), 10)
        np.testing.assert_array_equal(docs, expected, err_msg=str(query))
        np.testing.assert_array_equal(scores, index.scores(query)[expected])
    assert any(pruned), "pruning never ran: the test does not test it"
    assert not all(pruned), "pruning never gave up: the fallback is untested here"
