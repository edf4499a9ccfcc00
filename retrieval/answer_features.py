"""Feature vectors for the answerer's decisions: which sentence answers, which passage ranks
first, which span of the sentence is the short answer, and whether the corpus answers at all.

The words of all passages are concatenated and matched against the question with a handful of
numpy operations (no Python loop over words or sentences per question): the whole answer stage
has a budget of a few milliseconds for dozens of passages. Feature *names* are listed next to
the code that fills them and stored with the trained weights, so a weights file that does not
match this code is refused instead of silently scoring garbage.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from retrieval.documents import Passage
from retrieval.question_types import QUESTION_TYPES, QuestionAnalysis, QuestionType
from retrieval.spans import (
    MAX_SPAN_WORDS,
    PassageWords,
    candidate_spans,
    known_code,
    passage_words,
)
from retrieval.stopwords import STOPWORDS
from retrieval.tokenizer import tokenize

HASH_BUCKETS = 1 << 14
# A question term the index has never seen is rarer than any it has: weigh it like the
# rarest known term of the question (or this much when none is known), not as 0.
MIN_UNKNOWN_IDF = 4.0
_TYPE_INDEX = {qtype: index for index, qtype in enumerate(QUESTION_TYPES)}


@dataclass(slots=True)
class QuestionTerms:
    """The question's match terms with their IDF weights."""

    analysis: QuestionAnalysis
    terms: tuple[str, ...]
    weights: np.ndarray  # idf per term, unknown terms weighted as rare
    known: np.ndarray  # bool: the index knows the term
    mass: float  # sum of weights
    content_words: tuple[str, ...]  # normalised non-stopwords of the question


def question_terms(analysis: QuestionAnalysis, idf: Callable[[str], float]) -> QuestionTerms:
    terms = analysis.match_terms
    raw = np.array([max(float(idf(t)), 0.0) for t in terms], dtype=np.float64)
    known = raw > 0
    # Relative to the question's known terms: in a corpus of three paragraphs every idf is
    # small, and a fixed weight would let one unknown word outweigh the whole question.
    unknown_weight = float(raw.max()) if known.any() else MIN_UNKNOWN_IDF
    weights = np.where(known, raw, unknown_weight)
    content = tuple(sorted(w for w in analysis.word_set if w not in STOPWORDS))
    return QuestionTerms(
        analysis=analysis,
        terms=terms,
        weights=weights,
        known=known,
        mass=float(weights.sum()) or 1.0,
        content_words=content,
    )


@lru_cache(maxsize=8192)
def title_terms(title: str) -> frozenset[str]:
    return frozenset(tokenize(title))


@dataclass(slots=True)
class Reading:
    """How the words of all passages meet the question; arrays run over all passages' words
    (``word_offset`` says where each passage starts) or over all their sentences."""

    passages: Sequence[Passage]
    words: list[PassageWords]
    word_offset: np.ndarray  # per passage, plus the total at the end
    sentence_offset: np.ndarray  # per passage, plus the total at the end
    term_ids: np.ndarray  # per word: index of its term in the question, -1 when none
    is_question: np.ndarray  # per word: a question word (its term or its exact form)
    is_exact: np.ndarray  # per word: a question word in its exact (normalised) form
    is_content: np.ndarray  # per word: not a stopword
    sentence_of: np.ndarray  # per word: its sentence row
    sentence_passage: np.ndarray  # per sentence row: its passage
    sentence_local: np.ndarray  # per sentence row: its number within the passage
    sentence_bounds: np.ndarray  # per sentence row: [first, last) word, batch-wide
    presence: np.ndarray  # (sentence rows, question terms) bool
    term_counts: np.ndarray  # (sentence rows, question terms): occurrences
    title_presence: np.ndarray  # (passages, question terms) bool


def read_passages(passages: Sequence[Passage], question: QuestionTerms) -> Reading:
    words = [passage_words(p.chunk.text, p.chunk.sentences) for p in passages]
    word_counts = np.array([len(w) for w in words], dtype=np.int64)
    sentence_counts = np.array([len(w.sentence_words) for w in words], dtype=np.int64)
    word_offset = np.concatenate(([0], np.cumsum(word_counts)))
    sentence_offset = np.concatenate(([0], np.cumsum(sentence_counts)))
    n_passages = len(passages)
    if word_offset[-1]:
        term_codes = np.concatenate([w.term_codes for w in words])
        word_codes = np.concatenate([w.word_codes for w in words])
        is_content = ~np.concatenate([w.is_stop for w in words])
        sentence_of = np.concatenate([w.sentence_of for w in words]) + np.repeat(
            sentence_offset[:-1], word_counts
        )
        sentence_bounds = (
            np.concatenate([w.sentence_bounds for w in words])
            + np.repeat(word_offset[:-1], sentence_counts)[:, None]
        )
    else:
        term_codes = word_codes = sentence_of = np.zeros(0, dtype=np.int64)
        is_content = np.zeros(0, dtype=bool)
        sentence_bounds = np.zeros((0, 2), dtype=np.int64)
    # Codes are looked up only now: the passages' words have just been given theirs.
    term_ids = np.full(len(term_codes), -1, dtype=np.int64)
    for number, term in enumerate(question.terms):
        code = known_code(term)
        if code >= 0:
            term_ids[term_codes == code] = number
    # The stemmer keeps "syrian" and "syria" apart; a question term one or two letters longer
    # than a passage term of at least five letters counts as the same word.
    for number, term in enumerate(question.terms):
        for cut in (1, 2):
            if len(term) - cut >= 5 and (code := known_code(term[:-cut])) >= 0:
                term_ids[(term_codes == code) & (term_ids < 0)] = number
    content_codes = [known_code(w) for w in question.content_words]
    is_exact = np.isin(word_codes, [c for c in content_codes if c >= 0])
    is_question = (term_ids >= 0) | is_exact
    term_counts = np.zeros((int(sentence_offset[-1]), len(question.terms)), dtype=np.float64)
    matched = np.flatnonzero(term_ids >= 0)
    np.add.at(term_counts, (sentence_of[matched], term_ids[matched]), 1.0)
    presence = term_counts > 0
    title_presence = np.array(
        [[t in title_terms(p.chunk.title) for t in question.terms] for p in passages],
        dtype=bool,
    ).reshape(n_passages, len(question.terms))
    sentence_passage = np.repeat(np.arange(n_passages), sentence_counts)
    return Reading(
        passages=passages,
        words=words,
        word_offset=word_offset,
        sentence_offset=sentence_offset,
        term_ids=term_ids,
        is_question=is_question,
        is_exact=is_exact,
        is_content=is_content,
        sentence_of=sentence_of,
        sentence_passage=sentence_passage,
        sentence_local=np.arange(len(sentence_passage)) - sentence_offset[sentence_passage],
        sentence_bounds=sentence_bounds,
        presence=presence,
        term_counts=term_counts,
        title_presence=title_presence,
    )


def _bm25(
    counts: np.ndarray, lengths: np.ndarray, weights: np.ndarray, k1: float, b: float
) -> np.ndarray:
    """BM25 of each row (sentence or passage) for the question, over the question's idf mass;
    average length taken over the rows given."""
    average = float(lengths.mean()) or 1.0
    norm = k1 * (1 - b + b * lengths / average)
    saturated = counts * (k1 + 1) / (counts + norm[:, None])
    return saturated @ weights / (float(weights.sum()) or 1.0)


def _local_weights(passage_presence: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Question term weights for telling the retrieved passages apart: corpus idf times the
    term's idf among the passages, normalised to sum to 1."""
    n_passages = len(passage_presence)
    document_frequency = passage_presence.sum(axis=0)
    local = weights * np.log((n_passages + 1) / (document_frequency + 0.5))
    total = float(local.sum())
    return local / total if total > 0 else local


def _per_sentence(mask: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """How many words of each sentence the mask holds."""
    cumulative = np.concatenate(([0], np.cumsum(mask)))
    return cumulative[bounds[:, 1]] - cumulative[bounds[:, 0]]


def _per_passage_max(values: np.ndarray, passage_of: np.ndarray, n_passages: int) -> np.ndarray:
    best = np.full(n_passages, -np.inf)
    np.maximum.at(best, passage_of, values)
    return best


# -- sentences ---------------------------------------------------------------------------------

_SENTENCE_BASE = (
    "bias",
    "coverage",  # idf mass of question terms in the sentence / question mass
    "coverage_with_title",
    "coverage_sq",
    "matched_fraction",  # distinct terms matched / question terms
    "coverage_with_previous",  # of the sentence and the one before it, together
    "coverage_with_next",
    "passage_coverage",
    "passage_coverage_gap",  # passage coverage minus the best passage's
    "coverage_gap",  # sentence coverage minus the best sentence's over all passages
    "passage_best_coverage_gap",  # the passage's best sentence minus the best overall
    "bigram_fraction",
    "proximity",  # matched words / window they sit in
    "bm25_relative",  # passage score / best passage score
    "bm25_log",
    "rank_0",
    "rank_1",
    "rank_2_4",
    "rank_5_9",
    "rank_10_plus",
    "first_sentence",
    "relative_position",
    "log_length",
    "new_word_fraction",  # words of the sentence that are not question words
    "rarest_matched",  # max idf matched / max idf of the question
    "unknown_term_fraction",
    "exact_word_fraction",  # question words matched in their exact form
    # The same coverage with each term weighted by its rarity among the retrieved passages:
    # a word every candidate shares ("Super Bowl" in a Super Bowl article) cannot tell them
    # apart, however rare it is in the whole corpus.
    "local_coverage",
    "local_coverage_with_neighbours",
    "local_passage_coverage_gap",
    "local_coverage_gap",
    "sentence_bm25",  # BM25 of the sentence alone, over the question's idf mass
    "passage_bm25_flat",  # BM25 of the passage text with little tf saturation (k1 = 0.3)
    "coverage_x_bm25_relative",
    "coverage_x_rank_0",
    "expected_type_present",  # the sentence holds the kind of thing the question asks for
)
_SENTENCE_TYPE_SIGNALS = ("numbers", "years", "months", "capitals", "number_unit")
SENTENCE_FEATURES: tuple[str, ...] = _SENTENCE_BASE + tuple(
    f"{qtype.value}*{signal}" for qtype in QUESTION_TYPES for signal in _SENTENCE_TYPE_SIGNALS
)


@dataclass(slots=True)
class SentenceTable:
    features: np.ndarray  # (sentence rows, len(SENTENCE_FEATURES))
    coverage: np.ndarray
    passage_coverage: np.ndarray  # per passage


def sentence_table(reading: Reading, question: QuestionTerms) -> SentenceTable:
    n_rows = len(reading.sentence_passage)
    n_passages = len(reading.passages)
    features = np.zeros((n_rows, len(SENTENCE_FEATURES)))
    if n_rows == 0 or not len(question.terms):
        return SentenceTable(features, np.zeros(n_rows), np.zeros(n_passages))
    weights = question.weights / question.mass
    presence = reading.presence
    passage_of = reading.sentence_passage
    local = reading.sentence_local
    bounds = reading.sentence_bounds
    first_of_passage = local == 0
    last_of_passage = np.append(passage_of[1:] != passage_of[:-1], True)

    coverage = presence @ weights
    passage_presence = np.zeros((n_passages, presence.shape[1]), dtype=bool)
    np.logical_or.at(passage_presence, passage_of, presence)
    passage_coverage = (passage_presence | reading.title_presence) @ weights
    previous = np.vstack((presence[:1] & False, presence[:-1]))
    previous[first_of_passage] = False
    following = np.vstack((presence[1:], presence[:1] & False))
    following[last_of_passage] = False
    best_in_passage = _per_passage_max(coverage, passage_of, n_passages)
    scores = np.array([p.score for p in reading.passages])
    ranks = np.array([p.rank for p in reading.passages])
    best_score = float(scores.max()) or 1.0
    n_sentences = np.diff(reading.sentence_offset)[passage_of]
    length = np.maximum(bounds[:, 1] - bounds[:, 0], 1)

    features[:, 0] = 1.0
    features[:, 1] = coverage
    features[:, 2] = (presence | reading.title_presence[passage_of]) @ weights
    features[:, 3] = coverage**2
    features[:, 4] = presence.mean(axis=1)
    features[:, 5] = (presence | previous) @ weights
    features[:, 6] = (presence | following) @ weights
    features[:, 7] = passage_coverage[passage_of]
    features[:, 8] = passage_coverage[passage_of] - passage_coverage.max()
    features[:, 9] = coverage - coverage.max()
    features[:, 10] = best_in_passage[passage_of] - coverage.max()
    features[:, 13] = scores[passage_of] / best_score
    features[:, 14] = np.log1p(np.maximum(scores[passage_of], 0.0))
    rank_column = np.select(
        [ranks == 0, ranks == 1, ranks < 5, ranks < 10], [15, 16, 17, 18], default=19
    )
    features[np.arange(n_rows), rank_column[passage_of]] = 1.0
    features[:, 20] = first_of_passage
    features[:, 21] = local / np.maximum(n_sentences - 1, 1)
    features[:, 22] = np.log(length)
    is_question, is_content = reading.is_question, reading.is_content
    features[:, 23] = _per_sentence(is_content & ~is_question, bounds) / length
    matched_weight = np.where(presence, question.weights, 0.0)
    features[:, 24] = matched_weight.max(axis=1) / float(question.weights.max())
    features[:, 25] = 1.0 - float(question.known.mean())
    local = _local_weights(passage_presence, question.weights)
    local_coverage = presence @ local
    local_passage = passage_presence @ local
    features[:, 27] = local_coverage
    features[:, 28] = np.maximum((presence | previous) @ local, (presence | following) @ local)
    features[:, 29] = local_passage[passage_of] - local_passage.max()
    features[:, 30] = local_coverage - local_coverage.max()
    content_length = _per_sentence(reading.is_content, bounds).astype(np.float64)
    features[:, 31] = _bm25(reading.term_counts, content_length, question.weights, 1.2, 0.75)
    passage_counts = np.zeros((n_passages, presence.shape[1]))
    np.add.at(passage_counts, passage_of, reading.term_counts)
    passage_length = np.bincount(passage_of, weights=content_length, minlength=n_passages)
    passage_flat = _bm25(passage_counts, passage_length, question.weights, 0.3, 0.5)
    features[:, 32] = passage_flat[passage_of] - passage_flat.max()
    features[:, 33] = coverage * features[:, 13]
    features[:, 34] = coverage * features[:, 15]
    _fill_word_level(features, reading, question, bounds, length)
    return SentenceTable(features, coverage, passage_coverage)


def _fill_word_level(
    features: np.ndarray,
    reading: Reading,
    question: QuestionTerms,
    bounds: np.ndarray,
    length: np.ndarray,
) -> None:
    """Exact words, bigrams, proximity and answer-type signals of each sentence."""
    n_rows = len(bounds)
    term_ids = reading.term_ids
    sentence_of = reading.sentence_of
    n_content_words = max(len(question.content_words), 1)
    features[:, 26] = np.minimum(_per_sentence(reading.is_exact, bounds) / n_content_words, 1.0)
    # Bigrams: consecutive content words matching consecutive question terms.
    content_positions = np.flatnonzero(reading.is_content)
    ids = term_ids[content_positions]
    same_sentence = sentence_of[content_positions[1:]] == sentence_of[content_positions[:-1]]
    bigram = (ids[:-1] >= 0) & (ids[1:] == ids[:-1] + 1) & same_sentence
    counts = np.bincount(sentence_of[content_positions[:-1][bigram]], minlength=n_rows)
    features[:, 11] = counts / max(len(question.terms) - 1, 1)
    # Proximity: matched words over the width of the window they span.
    matched = np.flatnonzero(term_ids >= 0)
    if len(matched):
        rows = sentence_of[matched]
        unique_rows, first_index = np.unique(rows, return_index=True)
        last_index = np.append(first_index[1:], len(rows)) - 1
        window = matched[last_index] - matched[first_index] + 1
        count = last_index - first_index + 1
        features[unique_rows, 12] = count / window
    # Answer-type signals, in the columns of the question's type.
    words = reading.words
    column = len(_SENTENCE_BASE) + _TYPE_INDEX[question.analysis.qtype] * len(
        _SENTENCE_TYPE_SIGNALS
    )
    new = reading.is_content & ~reading.is_question
    is_number = np.concatenate([w.is_number for w in words])
    is_capital = np.concatenate([w.is_capital for w in words])
    first_word = np.zeros(len(new), dtype=bool)
    first_word[bounds[:, 0][bounds[:, 0] < len(new)]] = True
    number_unit = np.append(is_number[:-1] & new[1:], False)
    features[:, column] = np.minimum(_per_sentence(is_number & new, bounds), 3)
    features[:, column + 1] = np.minimum(
        _per_sentence(np.concatenate([w.is_year for w in words]), bounds), 2
    )
    features[:, column + 2] = np.minimum(
        _per_sentence(np.concatenate([w.is_month for w in words]), bounds), 2
    )
    features[:, column + 3] = (
        np.minimum(_per_sentence(is_capital & new & ~first_word, bounds), 5) / 5
    )
    features[:, column + 4] = np.minimum(_per_sentence(number_unit, bounds), 2)
    # The same signals pooled over types, so that rare types (how long) learn from common ones.
    qtype = question.analysis.qtype
    is_time_unit = np.concatenate([w.is_time_unit for w in words])
    if qtype is QuestionType.DATE:
        expected = features[:, column + 1] + features[:, column + 2]
    elif qtype is QuestionType.NUMBER:
        expected = features[:, column]
    elif qtype is QuestionType.DURATION:
        expected = _per_sentence(np.append(is_number[:-1] & is_time_unit[1:], False), bounds)
    elif qtype in (QuestionType.PERSON, QuestionType.PLACE):
        expected = features[:, column + 3] * 5
    else:
        expected = np.zeros(len(bounds))
    features[:, SENTENCE_FEATURES.index("expected_type_present")] = expected > 0


# -- passages ----------------------------------------------------------------------------------

PASSAGE_FEATURES: tuple[str, ...] = (
    "best_sentence_score",
    "second_sentence_score",
    "log_sum_exp_scores",
    "passage_coverage",
    "passage_coverage_gap",
    "bm25_relative",
    "bm25_log",
    "rank_0",
    "rank_1",
    "rank_2_4",
    "rank_5_plus",
    "bigram_fraction",  # question bigrams found anywhere in the passage
    "title_coverage",  # question mass found in the title
)


def passage_table(
    reading: Reading, question: QuestionTerms, table: SentenceTable, scores: np.ndarray
) -> np.ndarray:
    features = passage_evidence(reading, question, table)
    fill_passage_scores(features, scores, reading.sentence_passage)
    return features


def passage_evidence(reading: Reading, question: QuestionTerms, table: SentenceTable) -> np.ndarray:
    """The passage features that do not depend on the sentence model (training computes them
    once and fills the sentence-score columns for each model it tries)."""
    n_passages = len(reading.passages)
    features = np.zeros((n_passages, len(PASSAGE_FEATURES)))
    if n_passages == 0:
        return features
    passage_scores = np.array([p.score for p in reading.passages])
    ranks = np.array([p.rank for p in reading.passages])
    weights = question.weights / question.mass
    features[:, 3] = table.passage_coverage
    features[:, 4] = table.passage_coverage - table.passage_coverage.max()
    features[:, 5] = passage_scores / (float(passage_scores.max()) or 1.0)
    features[:, 6] = np.log1p(np.maximum(passage_scores, 0.0))
    rank_column = np.select([ranks == 0, ranks == 1, ranks < 5], [7, 8, 9], default=10)
    features[np.arange(n_passages), rank_column] = 1.0
    bigram_rows = table.features[:, SENTENCE_FEATURES.index("bigram_fraction")]
    features[:, 11] = np.minimum(
        np.bincount(reading.sentence_passage, weights=bigram_rows, minlength=n_passages), 1.0
    )
    if len(question.terms):
        features[:, 12] = reading.title_presence @ weights
    return features


def fill_passage_scores(features: np.ndarray, scores: np.ndarray, passage_of: np.ndarray) -> None:
    """Columns 0–2: each passage's best and second-best sentence score (relative to the best
    overall) and the log-sum-exp of its sentence scores."""
    n_passages = len(features)
    if n_passages == 0 or len(scores) == 0:
        return
    top = float(scores.max())
    best = _per_passage_max(scores, passage_of, n_passages)
    best = np.where(np.isfinite(best), best, float(scores.min()) - 1.0)
    is_best = scores >= best[passage_of]
    second = _per_passage_max(np.where(is_best, -np.inf, scores), passage_of, n_passages)
    second = np.where(np.isfinite(second), second, best - 1.0)
    total = np.bincount(passage_of, weights=np.exp(scores - top), minlength=n_passages)
    features[:, 0] = best - top
    features[:, 1] = second - top
    features[:, 2] = np.log(np.maximum(total, 1e-12))


# -- spans -------------------------------------------------------------------------------------

_SPAN_SHAPES = (
    "length_1",
    "length_2",
    "length_3",
    "length_4",
    "length_5_plus",
    "all_capital",
    "first_capital",  # capitalised first word that is not the sentence's first
    "has_number",
    "only_number",
    "starts_number",
    "has_year",
    "has_month",
    "has_time_unit",
    "number_then_word",
    "bounded",  # punctuation or the sentence's edge on both sides
)
_SPAN_BASE = (
    "bias",
    "question_word_fraction",
    "internal_break",
    "break_before",
    "break_after",
    "distance_log",
    "adjacent_question_word",
    "question_word_before",
    "question_word_after",
    "question_words_left",  # the nearest question word is on the left
    "sentence_end",
    "sentence_start",
    "question_density",  # question words within 3 words of the span / 6
    "lowercase_content",
    "whole_new_run",  # a maximal run of words the question does not have, between its words
    "has_head_noun",  # "how many (radio stations)" → "seven radio stations"
    "ends_with_head_noun",
    "single_letter",  # "O" of a formula, "A" of a list: rarely an answer alone
    "matches_type",  # a date for "when", a number for "how many", a duration for "how long"
)
SPAN_FEATURES: tuple[str, ...] = (
    _SPAN_BASE
    + _SPAN_SHAPES
    + tuple(f"{qtype.value}*{shape}" for qtype in QUESTION_TYPES for shape in _SPAN_SHAPES)
)
# Lexical features, hashed: (what the question asks for) × (what the span looks like, or the
# words around it). Not the span's own words: those memorise the training articles' answers.
SPAN_HASH_TEMPLATES = ("qtype_head_shape", "qtype_word_before", "qtype_word_after")
_SHAPE_CLASSES = ("lower", "capital", "number", "year", "month")
_BOUNDARY_HASH = zlib.crc32(b"<edge>")


@lru_cache(maxsize=4096)
def _template_keys(qtype: str, head: str) -> np.ndarray:
    keys = (f"0|{qtype}|{head}", f"1|{qtype}", f"2|{qtype}")
    return np.array([zlib.crc32(k.encode("utf-8")) for k in keys], dtype=np.int64)


@dataclass(slots=True)
class SpanTable:
    """Candidate spans of one sentence: word offsets (inclusive) in the passage, features."""

    start_word: np.ndarray
    end_word: np.ndarray
    features: np.ndarray
    hashed: np.ndarray  # (spans, len(SPAN_HASH_TEMPLATES)) bucket indexes


def span_table(reading: Reading, row: int, question: QuestionTerms) -> SpanTable:
    """Candidates of sentence row ``row``. Features that are the same for every span of the
    sentence (its score, its rank) are left out: the span model compares spans of one
    sentence."""
    passage = int(reading.sentence_passage[row])
    words = reading.words[passage]
    offset = int(reading.word_offset[passage])
    is_question = reading.is_question[offset : offset + len(words)]
    first, last = words.sentence_words[int(reading.sentence_local[row])]
    starts, ends = candidate_spans(first, last, words.is_stop, is_question, MAX_SPAN_WORDS)
    n = len(starts)
    features = np.zeros((n, len(SPAN_FEATURES)))
    if n == 0:
        return SpanTable(starts, ends, features, np.zeros((0, len(SPAN_HASH_TEMPLATES)), np.int64))
    length = ends - starts + 1

    def count(mask: np.ndarray) -> np.ndarray:
        cumulative = np.concatenate(([0], np.cumsum(mask[first:last])))
        return cumulative[ends + 1 - first] - cumulative[starts - first]

    content = ~words.is_stop
    n_content = np.maximum(count(content), 1)
    question_content = is_question & content
    breaks = words.break_after
    internal_break = count(breaks) - breaks[ends]
    before_break = np.where(starts > first, breaks[np.maximum(starts - 1, 0)], True)
    after_break = np.where(ends < last - 1, breaks[ends], True)
    # Distance from the span to the nearest question word outside it, on either side.
    positions = np.flatnonzero(question_content[first:last]) + first
    if len(positions):
        left_index = np.searchsorted(positions, starts) - 1
        left_distance = np.where(left_index >= 0, starts - positions[np.maximum(left_index, 0)], 99)
        right_index = np.searchsorted(positions, ends, side="right")
        right_distance = np.where(
            right_index < len(positions),
            positions[np.minimum(right_index, len(positions) - 1)] - ends,
            99,
        )
    else:
        left_distance = right_distance = np.full(n, 99)
    distance = np.minimum(left_distance, right_distance)
    window = np.concatenate(([0], np.cumsum(question_content)))
    low = np.maximum(starts - 3, first)
    high = np.minimum(ends + 4, last)
    near = (window[starts] - window[low]) + (window[high] - window[ends + 1])
    word_before = np.where(starts > first, is_question[np.maximum(starts - 1, 0)], False)
    word_after = np.where(ends < last - 1, is_question[np.minimum(ends + 1, len(words) - 1)], False)

    features[:, 0] = 1.0
    features[:, 1] = count(question_content) / n_content
    features[:, 2] = internal_break > 0
    features[:, 3] = before_break
    features[:, 4] = after_break
    features[:, 5] = np.log1p(np.minimum(distance, 30))
    features[:, 6] = distance == 1
    features[:, 7] = word_before
    features[:, 8] = word_after
    features[:, 9] = left_distance < right_distance
    features[:, 10] = ends == last - 1
    features[:, 11] = starts == first
    features[:, 12] = near / 6
    features[:, 13] = count(content & ~words.is_capital & ~words.is_number) > 0
    # Bounded on each side by a question word, punctuation or the sentence's edge.
    edge_before = before_break | np.where(
        starts > first, is_question[np.maximum(starts - 1, 0)], True
    )
    edge_after = after_break | np.where(
        ends < last - 1, is_question[np.minimum(ends + 1, len(words) - 1)], True
    )
    features[:, 14] = (count(is_question) == 0) & edge_before & edge_after
    features[:, 17] = (length == 1) & words.is_single_letter[starts]
    head = question.analysis.head_noun
    if head:
        is_head = np.array([t == head for t in words.terms[first:last]], dtype=bool)
        padded = np.zeros(len(words), dtype=bool)
        padded[first:last] = is_head
        features[:, 15] = count(padded) > 0
        features[:, 16] = padded[ends]

    numbers = count(words.is_number)
    shapes = np.zeros((n, len(_SPAN_SHAPES)))
    shapes[np.arange(n), np.minimum(length, 5) - 1] = 1.0
    shapes[:, 5] = count(words.is_capital & content) == n_content
    shapes[:, 6] = words.is_capital[starts] & (starts > first)
    shapes[:, 7] = numbers > 0
    shapes[:, 8] = numbers == length
    shapes[:, 9] = words.is_number[starts]
    shapes[:, 10] = count(words.is_year) > 0
    shapes[:, 11] = count(words.is_month) > 0
    shapes[:, 12] = count(words.is_time_unit) > 0
    shapes[:, 13] = words.is_number[starts] & (length > 1) & ~words.is_number[ends]
    shapes[:, 14] = before_break & after_break
    qtype = question.analysis.qtype
    if qtype is QuestionType.DATE:
        matches_type = (shapes[:, 10] > 0) | (shapes[:, 11] > 0)
    elif qtype is QuestionType.NUMBER:
        matches_type = shapes[:, 7] > 0
    elif qtype is QuestionType.DURATION:
        matches_type = (shapes[:, 7] > 0) & (shapes[:, 12] > 0)
    elif qtype in (QuestionType.PERSON, QuestionType.PLACE):
        matches_type = shapes[:, 5] > 0
    else:
        matches_type = np.zeros(n, dtype=bool)
    features[:, 18] = matches_type
    shape_base = len(_SPAN_BASE)
    features[:, shape_base : shape_base + len(_SPAN_SHAPES)] = shapes
    type_base = shape_base + len(_SPAN_SHAPES) * (1 + _TYPE_INDEX[question.analysis.qtype])
    features[:, type_base : type_base + len(_SPAN_SHAPES)] = shapes
    hashed = _span_hashes(words, starts, ends, first, last, question.analysis, shapes)
    return SpanTable(starts, ends, features, hashed)


def _span_hashes(
    words: PassageWords,
    starts: np.ndarray,
    ends: np.ndarray,
    first: int,
    last: int,
    analysis: QuestionAnalysis,
    shapes: np.ndarray,
) -> np.ndarray:
    """Bucket of each (template key, span word) pair: a multiplicative mix of two crc32s, the
    same in every run (Python's own str hash is salted per process)."""
    keys = _template_keys(analysis.qtype.value, analysis.head_noun)
    hashes = words.word_hashes
    shape_class = np.zeros(len(starts), dtype=np.int64)
    shape_class[shapes[:, 5] > 0] = 1
    shape_class[shapes[:, 7] > 0] = 2
    shape_class[shapes[:, 10] > 0] = 3
    shape_class[shapes[:, 11] > 0] = 4
    before = np.where(starts > first, hashes[np.maximum(starts - 1, 0)], _BOUNDARY_HASH)
    after = np.where(ends + 1 < last, hashes[np.minimum(ends + 1, len(hashes) - 1)], _BOUNDARY_HASH)
    values = np.stack((shape_class + 1, before, after), axis=1)
    mixed = (keys[None, :] * 1_000_003 + values * 7_919) & 0x7FFFFFFFFFFF
    return (mixed ^ (mixed >> 17)) % HASH_BUCKETS


# -- answerability -----------------------------------------------------------------------------

ANSWERABILITY_FEATURES: tuple[str, ...] = (
    "bias",
    "best_passage_coverage",
    "best_sentence_coverage",
    "top_sentence_coverage",  # coverage of the sentence the model chose
    "top_sentence_probability",
    "top_sentence_score",
    "known_term_fraction",
    "known_mass_fraction",
    "term_count_log",
    "bm25_per_mass",  # best passage score / question idf mass
    "top_passage_coverage",
    "rarest_term_found",  # the question's rarest term occurs in the chosen passage
)


def answerability_features(
    question: QuestionTerms,
    reading: Reading,
    table: SentenceTable,
    top_row: int,
    probabilities: np.ndarray,
    scores: np.ndarray,
) -> np.ndarray:
    features = np.zeros(len(ANSWERABILITY_FEATURES))
    features[0] = 1.0
    if len(table.coverage) == 0 or not len(question.terms):
        return features
    top_passage = int(reading.sentence_passage[top_row])
    rarest = int(np.argmax(question.weights))
    in_passage = reading.sentence_passage == top_passage
    features[1] = float(table.passage_coverage.max())
    features[2] = float(table.coverage.max())
    features[3] = float(table.coverage[top_row])
    features[4] = float(probabilities[top_row])
    features[5] = float(scores[top_row])
    features[6] = float(question.known.mean())
    features[7] = float(question.weights[question.known].sum()) / question.mass
    features[8] = np.log(len(question.terms))
    features[9] = max(p.score for p in reading.passages) / question.mass
    features[10] = float(table.passage_coverage[top_passage])
    features[11] = float(
        reading.presence[in_passage, rarest].any() or reading.title_presence[top_passage, rarest]
    )
    return features
