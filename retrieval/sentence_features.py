"""Feature vectors of the retrieved passages' sentences: which one answers the question (the
sentence model's input), for one question or for many read together."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from retrieval.answer_features import QuestionTerms, Reading
from retrieval.question_types import QUESTION_TYPES, QuestionType
from retrieval.segments import Segments, joined

_TYPE_INDEX = {qtype: index for index, qtype in enumerate(QUESTION_TYPES)}


def _row_dots(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each row of ``values`` times the same row of ``weights``, summed left to right. A
    question's row gets the same sum whatever else the batch holds (the padding of shorter
    questions adds exact zeros at the end), which a BLAS product does not promise."""
    return np.cumsum(values * weights, axis=-1)[..., -1]


def _bm25(
    counts: np.ndarray,
    lengths: np.ndarray,
    weights: np.ndarray,
    mass: np.ndarray,
    rows: Segments,
    k1: float,
    b: float,
) -> np.ndarray:
    """BM25 of each row (sentence or passage) for its question, over the question's idf mass;
    the average length is taken over the question's ``rows`` (``weights``: each row's term
    weights)."""
    average = rows.sum(lengths) / rows.counts
    average[average == 0] = 1.0
    norm = k1 * (1 - b + b * lengths / average[rows.question])
    saturated = counts * (k1 + 1) / (counts + norm[:, None])
    return _row_dots(saturated, weights) / mass[rows.question]


def _per_sentence(mask: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """How many words of each sentence the mask holds."""
    cumulative = np.concatenate(([0], np.cumsum(mask)))
    return cumulative[bounds[:, 1]] - cumulative[bounds[:, 0]]


def rank_column(rank: int, columns: tuple[int, int, int, int, int]) -> int:
    """The column of a passage's rank: 0, 1, 2-4, 5-9, 10 and more."""
    if rank < 2:
        return columns[rank]
    return columns[2] if rank < 5 else columns[3] if rank < 10 else columns[4]


def per_passage_max(values: np.ndarray, passage_of: np.ndarray, n_passages: int) -> np.ndarray:
    best = np.full(n_passages, -np.inf)
    np.maximum.at(best, passage_of, values)
    return best


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
    "longest_run",  # longest run of consecutive content words that are question terms / terms
    "in_order",  # share of consecutive matched words that keep the question's word order
    "bigram_with_neighbours",  # question bigrams in this sentence and the ones around it
    "anchor_before_present",  # the question's word before its wh-phrase is in the sentence
    "anchor_after_present",
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
    return sentence_tables_of_many([(reading, question)])[0]


def sentence_tables_of_many(
    pairs: Sequence[tuple[Reading, QuestionTerms]],
) -> list[SentenceTable]:
    """``sentence_table`` of each (reading, question), bit for bit as alone, computed together.

    What involves the question's terms (one column each) is computed question by question; the
    rest (word counts, positions, bigrams, answer-type signals: most of the numpy calls) once
    over the sentences of all the readings, which numpy does for about the price of one."""
    tables = [
        SentenceTable(
            np.zeros((len(reading.sentence_passage), len(SENTENCE_FEATURES))),
            np.zeros(len(reading.sentence_passage)),
            np.zeros(len(reading.passages)),
        )
        for reading, _ in pairs
    ]
    live = [
        number
        for number, (reading, question) in enumerate(pairs)
        if len(reading.sentence_passage) and len(question.terms)
    ]
    if not live:
        return tables
    batch = _SentenceBatch.of([pairs[number] for number in live])
    features = np.zeros((batch.n_rows, len(SENTENCE_FEATURES)))
    coverage = np.empty(batch.n_rows)
    passage_coverage = np.empty(batch.n_passages)
    _fill_term_columns(features, coverage, passage_coverage, batch)
    _fill_sentence_columns(features, coverage, passage_coverage, batch)
    bigrams = _fill_word_level(features, batch)
    _fill_order(features, batch, bigrams)
    for (rows, passages), number in zip(batch.slices, live, strict=True):
        tables[number] = SentenceTable(features[rows], coverage[rows], passage_coverage[passages])
    return tables


@dataclass(slots=True)
class _SentenceBatch:
    """The readings of several questions end to end: sentence rows, passages and words
    numbered across all of them, and each row's question facts."""

    pairs: Sequence[tuple[Reading, QuestionTerms]]
    slices: list[tuple[slice, slice]]  # per question: its rows, its passages
    row_counts: list[int]  # per question
    n_rows: int
    n_passages: int
    passage_of: np.ndarray  # per row
    local: np.ndarray  # per row: its number within its passage
    bounds: np.ndarray  # per row: [first, last) word
    n_sentences: np.ndarray  # per row: sentences of its passage
    scores: np.ndarray  # per passage: its retrieval score
    ranks: np.ndarray
    sentence_of: np.ndarray  # per word: its row
    term_ids: np.ndarray  # per word: its question term, -1 for none
    is_question: np.ndarray
    is_exact: np.ndarray
    is_content: np.ndarray
    is_number: np.ndarray
    is_capital: np.ndarray
    is_year: np.ndarray
    is_month: np.ndarray
    is_time_unit: np.ndarray
    last_words: list[int]  # each reading's last word
    n_terms: np.ndarray | int  # per row (see per_row): its question's terms
    type_number: np.ndarray | int  # per row: its question's type (index in QUESTION_TYPES)

    @classmethod
    def of(cls, pairs: Sequence[tuple[Reading, QuestionTerms]]) -> _SentenceBatch:
        readings = [reading for reading, _ in pairs]
        row_counts = [len(reading.sentence_passage) for reading in readings]
        passage_of, bounds, sentence_of, slices, last_words = [], [], [], [], []
        row = passage = word = 0
        for reading, n_rows in zip(readings, row_counts, strict=True):
            # The first reading's numbers are the batch's (and a lone reading's, as they are).
            passage_of.append(
                reading.sentence_passage + passage if passage else reading.sentence_passage
            )
            bounds.append(reading.sentence_bounds + word if word else reading.sentence_bounds)
            sentence_of.append(reading.sentence_of + row if row else reading.sentence_of)
            slices.append(
                (slice(row, row + n_rows), slice(passage, passage + len(reading.passages)))
            )
            row, passage, word = (
                row + n_rows,
                passage + len(reading.passages),
                word + len(reading.term_ids),
            )
            last_words.append(word - 1)
        sentences_per_passage = joined([np.diff(r.sentence_offset) for r in readings])
        global_passage_of = joined(passage_of)
        words = [reading.joined for reading in readings]
        return cls(
            pairs=pairs,
            slices=slices,
            row_counts=row_counts,
            n_rows=row,
            n_passages=passage,
            passage_of=global_passage_of,
            local=joined([reading.sentence_local for reading in readings]),
            bounds=joined(bounds),
            n_sentences=sentences_per_passage[global_passage_of],
            scores=np.array([p.score for reading in readings for p in reading.passages]),
            ranks=np.array([p.rank for reading in readings for p in reading.passages]),
            sentence_of=joined(sentence_of),
            term_ids=joined([reading.term_ids for reading in readings]),
            is_question=joined([reading.is_question for reading in readings]),
            is_exact=joined([reading.is_exact for reading in readings]),
            is_content=joined([reading.is_content for reading in readings]),
            is_number=joined([w.is_number for w in words]),
            is_capital=joined([w.is_capital for w in words]),
            is_year=joined([w.is_year for w in words]),
            is_month=joined([w.is_month for w in words]),
            is_time_unit=joined([w.is_time_unit for w in words]),
            last_words=last_words,
            n_terms=_per_row([len(question.terms) for _, question in pairs], row_counts),
            type_number=_per_row(
                [_TYPE_INDEX[question.analysis.qtype] for _, question in pairs], row_counts
            ),
        )

    def per_row(self, values: list) -> Any:
        return _per_row(values, self.row_counts)

    def rows_of_type(self, qtype: QuestionType) -> slice | np.ndarray:
        """The rows of the questions of type ``qtype``."""
        if len(self.pairs) == 1:
            return slice(None)
        return self.type_number == _TYPE_INDEX[qtype]


def _per_row(values: list, rows: Sequence[int] | np.ndarray) -> Any:
    """A value per question, repeated for each of its ``rows``; the value itself when there is
    one question (the same arithmetic, without an array)."""
    return values[0] if len(values) == 1 else np.repeat(values, rows)


def _fill_term_columns(
    features: np.ndarray,
    coverage: np.ndarray,
    passage_coverage: np.ndarray,
    batch: _SentenceBatch,
) -> None:
    """The columns that weigh the question's terms, for all the batch's questions at once: a
    question's terms are the columns of its presence matrix, and the matrices are stacked, each
    padded with absent terms to the widest. Also fills ``coverage`` and ``passage_coverage``."""
    questions = [question for _, question in batch.pairs]
    n_terms = np.array([len(question.terms) for question in questions])
    rows = Segments.of_counts(batch.row_counts)
    passages = Segments.of_counts([p.stop - p.start for _, p in batch.slices])
    row_question, passage_question = rows.question, passages.question
    passage_of = batch.passage_of

    idf, presence, term_counts, title_presence = _stacked_terms(batch, n_terms)
    mass = np.array([question.mass for question in questions])
    weights = idf / mass[:, None]
    row_weights = weights[row_question]

    # Sums over each passage's rows (whole numbers: exact in any order).
    passage_rows = np.searchsorted(passage_of, np.arange(batch.n_passages + 1))
    passage_presence = _sums_over(presence.astype(np.int64), passage_rows) > 0
    passage_term_counts = _sums_over(term_counts, passage_rows)

    previous = np.zeros_like(presence)
    previous[1:] = presence[:-1]
    previous[batch.local == 0] = False
    following = np.zeros_like(presence)
    following[:-1] = presence[1:]
    following[np.append(passage_of[1:] != passage_of[:-1], True)] = False
    features[:, 4] = presence.sum(axis=1, dtype=np.float64) / n_terms[row_question]
    matched_weight = np.where(presence, idf[row_question], 0.0)
    features[:, 24] = matched_weight.max(axis=1) / idf.max(axis=1)[row_question]
    unknown = [1.0 - np.count_nonzero(q.known) / len(q.known) for q in questions]
    features[:, 25] = np.repeat(unknown, batch.row_counts)

    local = _local_weights(idf, passage_presence, passages, n_terms)

    # Every weighted sum at once: (the idf weights, the local ones) × (the sentence alone, with
    # its title, with the sentence before, with the one after); then the passages'.
    sentence_sums = _row_dots(
        np.stack(
            (
                presence,
                presence | title_presence[passage_of],
                presence | previous,
                presence | following,
            )
        ),
        np.stack((row_weights, local[row_question]))[:, None],
    )
    coverage[:] = sentence_sums[0, 0]
    features[:, 2] = sentence_sums[0, 1]
    features[:, 5] = sentence_sums[0, 2]
    features[:, 6] = sentence_sums[0, 3]
    local_coverage = sentence_sums[1, 0]
    features[:, 27] = local_coverage
    features[:, 28] = np.maximum(sentence_sums[1, 2], sentence_sums[1, 3])
    passage_sums = _row_dots(
        np.stack((passage_presence | title_presence, passage_presence)),
        np.stack((weights[passage_question], local[passage_question])),
    )
    passage_coverage[:] = passage_sums[0]
    local_passage = passage_sums[1]
    best_passage = passages.max(local_passage)
    features[:, 29] = local_passage[passage_of] - best_passage[row_question]
    best_sentence = rows.max(local_coverage)
    features[:, 30] = local_coverage - best_sentence[row_question]

    content_length = _per_sentence(batch.is_content, batch.bounds).astype(np.float64)
    features[:, 31] = _bm25(term_counts, content_length, idf[row_question], mass, rows, 1.2, 0.75)
    passage_length = np.bincount(passage_of, weights=content_length, minlength=batch.n_passages)
    passage_flat = _bm25(
        passage_term_counts,
        passage_length,
        idf[passage_question],
        mass,
        passages,
        0.3,
        0.5,
    )
    best_flat = passages.max(passage_flat)
    features[:, 32] = passage_flat[passage_of] - best_flat[row_question]
    column = SENTENCE_FEATURES.index("anchor_before_present")
    for offset, anchors in enumerate(
        ([q.anchor_before for q in questions], [q.anchor_after for q in questions])
    ):
        anchor = np.array(anchors)[row_question]
        has_anchor = np.flatnonzero(anchor >= 0)
        features[has_anchor, column + offset] = presence[has_anchor, anchor[has_anchor]]


def _stacked_terms(
    batch: _SentenceBatch, n_terms: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The questions' idf weights (one row each) and their readings' presence, term counts and
    title presence, stacked; each question's columns padded with absent terms to the widest."""
    if len(batch.pairs) == 1:  # a question read alone: its own matrices, nothing to pad
        ((reading, question),) = batch.pairs
        idf = question.weights[None, :]
        return idf, reading.presence, reading.term_counts, reading.title_presence
    width = int(n_terms.max())
    idf = np.zeros((len(batch.pairs), width))
    presence = np.zeros((batch.n_rows, width), dtype=bool)
    term_counts = np.zeros((batch.n_rows, width))
    title_presence = np.zeros((batch.n_passages, width), dtype=bool)
    for number, ((reading, question), (rows, passages)) in enumerate(
        zip(batch.pairs, batch.slices, strict=True)
    ):
        terms = len(question.terms)
        idf[number, :terms] = question.weights
        presence[rows, :terms] = reading.presence
        term_counts[rows, :terms] = reading.term_counts
        title_presence[passages, :terms] = reading.title_presence
    return idf, presence, term_counts, title_presence


def _local_weights(
    idf: np.ndarray, passage_presence: np.ndarray, passages: Segments, n_terms: np.ndarray
) -> np.ndarray:
    """Term weights for telling a question's retrieved passages apart: corpus idf times the
    term's idf among those passages, normalised to sum to 1 (one row per question)."""
    document_frequency = np.add.reduceat(passage_presence, passages.first, axis=0, dtype=np.int64)
    local = idf * np.log((passages.counts[:, None] + 1) / (document_frequency + 0.5))
    totals = np.array([float(row[:terms].sum()) for row, terms in zip(local, n_terms, strict=True)])
    positive = totals > 0
    local[positive] /= totals[positive, None]
    return local


def _sums_over(values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Column sums of ``values`` over the row ranges [bounds[i], bounds[i + 1]), empty ones
    included."""
    cumulative = np.zeros((len(values) + 1, values.shape[1]), dtype=values.dtype)
    np.cumsum(values, axis=0, out=cumulative[1:])
    return cumulative[bounds[1:]] - cumulative[bounds[:-1]]


def _fill_sentence_columns(
    features: np.ndarray,
    coverage: np.ndarray,
    passage_coverage: np.ndarray,
    batch: _SentenceBatch,
) -> None:
    """Coverage relative to the best, retrieval score and rank, position and length."""
    passage_of = batch.passage_of
    slices = batch.slices
    best_coverage = batch.per_row([float(coverage[rows].max()) for rows, _ in slices])
    best_passage = batch.per_row(
        [float(passage_coverage[passages].max()) for _, passages in slices]
    )
    best_score = batch.per_row(
        [float(batch.scores[passages].max()) or 1.0 for _, passages in slices]
    )
    best_in_passage = per_passage_max(coverage, passage_of, batch.n_passages)
    length = np.maximum(batch.bounds[:, 1] - batch.bounds[:, 0], 1)
    scores = batch.scores[passage_of]
    features[:, 0] = 1.0
    features[:, 1] = coverage
    features[:, 3] = coverage**2
    features[:, 7] = passage_coverage[passage_of]
    features[:, 8] = passage_coverage[passage_of] - best_passage
    features[:, 9] = coverage - best_coverage
    features[:, 10] = best_in_passage[passage_of] - best_coverage
    features[:, 13] = scores / best_score
    features[:, 14] = np.log1p(np.maximum(scores, 0.0))
    rank_columns = np.array(
        [rank_column(rank, (15, 16, 17, 18, 19)) for rank in batch.ranks.tolist()]
    )
    features[np.arange(batch.n_rows), rank_columns[passage_of]] = 1.0
    features[:, 20] = batch.local == 0
    features[:, 21] = batch.local / np.maximum(batch.n_sentences - 1, 1)
    features[:, 22] = np.log(length)
    features[:, 23] = _per_sentence(batch.is_content & ~batch.is_question, batch.bounds) / length
    features[:, 33] = coverage * features[:, 13]
    features[:, 34] = coverage * features[:, 15]


def _fill_word_level(features: np.ndarray, batch: _SentenceBatch) -> np.ndarray:
    """Exact words, bigrams, proximity and answer-type signals of each sentence; returns the
    bigrams of each row."""
    n_rows = batch.n_rows
    term_ids, sentence_of, bounds = batch.term_ids, batch.sentence_of, batch.bounds
    n_content_words = batch.per_row(
        [max(len(question.content_words), 1) for _, question in batch.pairs]
    )
    features[:, 26] = np.minimum(_per_sentence(batch.is_exact, bounds) / n_content_words, 1.0)
    # Bigrams: consecutive content words matching consecutive question terms.
    content_positions = np.flatnonzero(batch.is_content)
    ids = term_ids[content_positions]
    same_sentence = sentence_of[content_positions[1:]] == sentence_of[content_positions[:-1]]
    bigram = (ids[:-1] >= 0) & (ids[1:] == ids[:-1] + 1) & same_sentence
    counts = np.bincount(sentence_of[content_positions[:-1][bigram]], minlength=n_rows)
    features[:, 11] = counts / np.maximum(batch.n_terms - 1, 1)
    # Proximity: matched words over the width of the window they span.
    matched = np.flatnonzero(term_ids >= 0)
    if len(matched):
        rows = sentence_of[matched]
        # Rows come in order: each new value starts a sentence's run.
        first_index = np.flatnonzero(np.concatenate(([True], rows[1:] != rows[:-1])))
        unique_rows = rows[first_index]
        last_index = np.append(first_index[1:], len(rows)) - 1
        window = matched[last_index] - matched[first_index] + 1
        count = last_index - first_index + 1
        features[unique_rows, 12] = count / window
    # Answer-type signals, in the columns of the question's type.
    new = batch.is_content & ~batch.is_question
    is_number, is_capital = batch.is_number, batch.is_capital
    first_word = np.zeros(len(new), dtype=bool)
    first_word[bounds[:, 0][bounds[:, 0] < len(new)]] = True
    # A word followed by another: never the last word of a reading.
    number_unit = np.append(is_number[:-1] & new[1:], False)
    number_unit[batch.last_words] = False
    signals = (
        np.minimum(_per_sentence(is_number & new, bounds), 3),
        np.minimum(_per_sentence(batch.is_year, bounds), 2),
        np.minimum(_per_sentence(batch.is_month, bounds), 2),
        np.minimum(_per_sentence(is_capital & new & ~first_word, bounds), 5) / 5,
        np.minimum(_per_sentence(number_unit, bounds), 2),
    )
    column = len(_SENTENCE_BASE) + batch.type_number * len(_SENTENCE_TYPE_SIGNALS)
    for offset, signal in enumerate(signals):
        if isinstance(column, int):
            features[:, column + offset] = signal
        else:
            features[np.arange(n_rows), column + offset] = signal
    # The same signals pooled over types, so that rare types (how long) learn from common ones.
    expected = np.zeros(n_rows)
    for qtype in {question.analysis.qtype for _, question in batch.pairs}:
        of_type = batch.rows_of_type(qtype)
        if qtype is QuestionType.DATE:
            expected[of_type] = (signals[1] + signals[2])[of_type]
        elif qtype is QuestionType.NUMBER:
            expected[of_type] = signals[0][of_type]
        elif qtype is QuestionType.DURATION:
            duration = np.append(is_number[:-1] & batch.is_time_unit[1:], False)
            duration[batch.last_words] = False
            expected[of_type] = _per_sentence(duration, bounds)[of_type]
        elif qtype in (QuestionType.PERSON, QuestionType.PLACE):
            expected[of_type] = (signals[3] * 5)[of_type]
    features[:, SENTENCE_FEATURES.index("expected_type_present")] = expected > 0
    return counts


def _fill_order(features: np.ndarray, batch: _SentenceBatch, bigrams: np.ndarray) -> None:
    """How much of the question appears as it is phrased: runs, word order (the anchors are
    filled with the term columns)."""
    column = SENTENCE_FEATURES.index("longest_run")
    n_rows = batch.n_rows
    content_positions = np.flatnonzero(batch.is_content)
    ids = batch.term_ids[content_positions]
    rows = batch.sentence_of[content_positions]
    matched = ids >= 0
    # Run lengths of matched content words, reset by a miss or a new sentence.
    new_run = ~matched | np.concatenate(([True], rows[1:] != rows[:-1]))
    run_id = np.cumsum(new_run)
    run_length = np.zeros(len(ids), dtype=np.int64)
    if len(ids):
        run_length = np.bincount(run_id, weights=matched)[run_id]
    longest = np.zeros(n_rows)
    np.maximum.at(longest, rows[matched], run_length[matched])
    features[:, column] = longest / np.maximum(batch.n_terms, 1)
    # Consecutive matched words of one sentence: does the question term index go up?
    matched_ids = ids[matched]
    matched_rows = rows[matched]
    pairs = matched_rows[1:] == matched_rows[:-1]
    rising = (matched_ids[1:] > matched_ids[:-1]) & pairs
    total = np.bincount(matched_rows[1:][pairs], minlength=n_rows)
    features[:, column + 1] = np.bincount(matched_rows[1:][rising], minlength=n_rows) / np.maximum(
        total, 1
    )
    passage_of = batch.passage_of
    same_before = np.concatenate(([False], passage_of[1:] == passage_of[:-1]))
    same_after = np.concatenate((passage_of[1:] == passage_of[:-1], [False]))
    around = bigrams.astype(np.float64).copy()
    around[1:] += np.where(same_before[1:], bigrams[:-1], 0)
    around[:-1] += np.where(same_after[:-1], bigrams[1:], 0)
    features[:, column + 2] = around / np.maximum(batch.n_terms - 1, 1)
