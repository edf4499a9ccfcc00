"""Feature vectors of the short-answer candidates of one sentence (the span model's input).

Without a tagger or a parser, the span model leans on what the SQuAD logistic-regression reader
showed matters most: where the span sits relative to the question's words in the sentence (in
particular the words next to the wh-phrase: "known *by what name*" → the span right after
"known"), the span's shape (a capitalised run, a number with its unit, a lower-case phrase,
word endings as a stand-in for parts of speech), whether it is a whole chunk (bounded by
punctuation, stopwords or the sentence's edge, not cutting a name or a number in two), and
hashed pairs of (what the question asks for) × (the words around the span). Not the span's own
words: those memorise the training articles' answers.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from retrieval.answer_features import QuestionTerms, Reading
from retrieval.linear_model import LinearModel
from retrieval.question_types import QUESTION_TYPES, QuestionType
from retrieval.segments import joined
from retrieval.spans import (
    MAX_SPAN_WORDS,
    PassageWords,
    WordColumns,
    candidate_spans,
    joined_words,
)
from retrieval.word_table import SUFFIX_CLASSES, known_code

HASH_BUCKETS = 1 << 14
_TYPE_INDEX = {qtype: index for index, qtype in enumerate(QUESTION_TYPES)}

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
    "chunk",  # punctuation, a stopword or the sentence's edge on both sides
    "all_lowercase",
    *(name for name, _ in SUFFIX_CLASSES),
)
# Where the span sits: crossed with the question type, since "who" answers precede the
# question's verb and "what … called" answers follow it.
_SPAN_PLACES = (
    "anchor_after_1",  # the question's word after the wh-phrase comes right after the span
    "anchor_after_2_3",
    "anchor_after_4_6",
    "anchor_before_1",  # the question's word before the wh-phrase comes right before the span
    "anchor_before_2_3",
    "anchor_before_4_6",
    "question_words_left",  # the nearest question word is on the left
    "distance_1",
    "distance_2_3",
    "distance_4_plus",
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
    "sentence_end",
    "sentence_start",
    "question_density",  # question words within 3 words of the span / 6
    "lowercase_content",
    "whole_new_run",  # a maximal run of words the question does not have, between its words
    "has_head_noun",  # "how many (radio stations)" → "seven radio stations"
    "ends_with_head_noun",
    "head_noun_after",  # "the (ONdigital) consortium" for "what consortium"
    "head_noun_before",  # "the kicker (McManus)" for "what kicker"
    "single_letter",  # "O" of a formula, "A" of a list: rarely an answer alone
    "matches_type",  # a date for "when", a number for "how many", a duration for "how long"
    "has_question_word",
    "cuts_capital_run",  # a capitalised word right outside a capitalised edge: half a name
    "cuts_number",  # a number right outside a number at the edge: half a figure
    "weighted_left_density",  # idf mass of question words in the 5 words before the span
    "weighted_right_density",
    "whole_name",  # exactly a run of capitalised words ("Imperial Academy of Medicine")
    "part_of_name",  # inside such a run, not all of it
)
SPAN_FEATURES: tuple[str, ...] = (
    _SPAN_BASE
    + _SPAN_SHAPES
    + _SPAN_PLACES
    + tuple(f"{qtype.value}*{shape}" for qtype in QUESTION_TYPES for shape in _SPAN_SHAPES)
    + tuple(f"{qtype.value}*{place}" for qtype in QUESTION_TYPES for place in _SPAN_PLACES)
)
_SHAPE_BASE = len(_SPAN_BASE)
_PLACE_BASE = _SHAPE_BASE + len(_SPAN_SHAPES)
_TYPED_SHAPE_BASE = _PLACE_BASE + len(_SPAN_PLACES)
_TYPED_PLACE_BASE = _TYPED_SHAPE_BASE + len(QUESTION_TYPES) * len(_SPAN_SHAPES)
# Lexical features, hashed: (what the question asks for) × (what the span looks like, or the
# words around it).
SPAN_HASH_TEMPLATES = (
    "qtype_head_shape",
    "qtype_word_before",
    "qtype_word_after",
    "qtype_head_word_after",
    "qtype_two_words_before",
)
_BOUNDARY_HASH = zlib.crc32(b"<edge>")
# Lower-case words that may sit inside a name: "Academy of Medicine", "Leonardo da Vinci".
_NAME_CONNECTORS = frozenset("of the de da di von van der du la le del and for".split())
_NEAR_WINDOW = 5


@lru_cache(maxsize=4096)
def _template_keys(qtype: str, head: str) -> np.ndarray:
    keys = (f"0|{qtype}|{head}", f"1|{qtype}", f"2|{qtype}", f"3|{qtype}|{head}", f"4|{qtype}")
    return np.array([zlib.crc32(k.encode("utf-8")) for k in keys], dtype=np.int64)


# The features a span has whatever the question type: the rest of SPAN_FEATURES repeats the
# shape and place columns in the block of the question's type.
_UNTYPED = _TYPED_SHAPE_BASE


@dataclass(slots=True)
class SpanTable:
    """Candidate spans of one sentence: word offsets (inclusive) in the passage, features.

    ``features`` holds the first columns of SPAN_FEATURES only (``all_features`` adds the
    question type's copies): most of the full rows are the other types' zeros, which cost more
    to write and to multiply than everything else here."""

    start_word: np.ndarray
    end_word: np.ndarray
    features: np.ndarray  # (spans, the untyped columns of SPAN_FEATURES)
    hashed: np.ndarray  # (spans, len(SPAN_HASH_TEMPLATES)) bucket indexes
    type_number: int  # the question's type: its index in QUESTION_TYPES

    def all_features(self) -> np.ndarray:
        """The rows over every column of SPAN_FEATURES (what the span model is trained on)."""
        full = np.zeros((len(self.features), len(SPAN_FEATURES)))
        full[:, :_UNTYPED] = self.features
        typed_shapes, typed_places = _typed_columns(self.type_number)
        full[:, typed_shapes] = self.features[:, _SHAPE_BASE:_PLACE_BASE]
        full[:, typed_places] = self.features[:, _PLACE_BASE:_UNTYPED]
        return full


def _typed_columns(type_number: int) -> tuple[slice, slice]:
    """Where the shape and the place columns are repeated for question type ``type_number``."""
    shapes = _TYPED_SHAPE_BASE + len(_SPAN_SHAPES) * type_number
    places = _TYPED_PLACE_BASE + len(_SPAN_PLACES) * type_number
    return slice(shapes, shapes + len(_SPAN_SHAPES)), slice(places, places + len(_SPAN_PLACES))


@dataclass(frozen=True, slots=True)
class SpanScorer:
    """The span model (a LinearModel over SPAN_FEATURES) applied to SpanTables."""

    by_type: np.ndarray  # see weights_by_type
    hashed: np.ndarray | None

    @classmethod
    def of(cls, model: LinearModel) -> SpanScorer:
        return cls(weights_by_type(model.weights), model.hashed)

    def scores(self, table: SpanTable) -> np.ndarray:
        scores = table.features @ self.by_type[table.type_number]
        if self.hashed is not None and len(table.hashed):
            scores = scores + self.hashed[table.hashed].sum(axis=1)
        return scores


def weights_by_type(weights: np.ndarray) -> np.ndarray:
    """(question types, untyped columns): the span model's weights over SPAN_FEATURES folded
    onto the untyped columns for each question type, so that ``table.features @
    folded[table.type_number]`` scores what ``table.all_features() @ weights`` does."""
    folded = np.tile(weights[:_UNTYPED], (len(QUESTION_TYPES), 1))
    for number in range(len(QUESTION_TYPES)):
        typed_shapes, typed_places = _typed_columns(number)
        folded[number, _SHAPE_BASE:_PLACE_BASE] += weights[typed_shapes]
        folded[number, _PLACE_BASE:_UNTYPED] += weights[typed_places]
    return folded


def _gap_to(
    positions: np.ndarray, starts: np.ndarray, ends: np.ndarray, first: np.ndarray, last: np.ndarray
) -> tuple:
    """Words from the span's end to the first of ``positions`` after it, and from the last one
    before it to its start, within the span's sentence [first, last) (99 when there is none)."""
    if not len(positions):
        return np.full(len(starts), 99), np.full(len(starts), 99)
    right = np.minimum(np.searchsorted(positions, ends, side="right"), len(positions) - 1)
    following = positions[right]
    after = np.where((following > ends) & (following < last), following - ends, 99)
    left = np.maximum(np.searchsorted(positions, starts) - 1, 0)
    preceding = positions[left]
    before = np.where((preceding < starts) & (preceding >= first), starts - preceding, 99)
    return after, before


def _buckets(gap: np.ndarray) -> np.ndarray:
    """Gap 1, 2–3, 4–6 as three indicator columns."""
    return np.stack((gap == 1, (gap >= 2) & (gap <= 3), (gap >= 4) & (gap <= 6)), axis=1)


def span_table(reading: Reading, row: int, question: QuestionTerms) -> SpanTable:
    """Candidates of sentence row ``row`` (see ``span_tables``)."""
    return span_tables(reading, [row], question)[0]


def span_tables(reading: Reading, rows: list[int], question: QuestionTerms) -> list[SpanTable]:
    """Candidates of each sentence row in ``rows``, with their features; word offsets are the
    passage's own. Features that are the same for every span of a sentence (its score, its
    rank) are left out: the span model compares spans of one sentence."""
    return span_tables_of_many([(reading, rows, question)])[0]


SpanRequest = tuple[Reading, list[int], QuestionTerms]


def span_tables_of_many(requests: Sequence[SpanRequest]) -> list[list[SpanTable]]:
    """``span_tables`` of several questions' readings at once, each table bit for bit as it
    would be alone.

    All the sentences are scored by one set of numpy operations over the words of their
    passages (numpy's cost here is per call, not per word: thirty sentences of ten questions
    cost hardly more than one); each span carries its sentence's bounds and its question, and no
    feature looks past them."""
    if not requests:
        return []
    parts = [_words_of_request(request) for request in requests]
    words = joined_words([passage for part in parts for passage in part.passages])
    offsets = np.cumsum([0] + [len(part.is_question) for part in parts])
    bounds = [
        (first + int(offset), last + int(offset))
        for part, offset in zip(parts, offsets.tolist(), strict=False)
        for first, last in part.bounds
    ]
    is_question = joined([part.is_question for part in parts])
    # A title with the question's words repeats the question too: "Mr Tillerson".
    starts, ends, counts = candidate_spans(
        bounds, words.is_stop, is_question | words.is_title, MAX_SPAN_WORDS
    )
    n = len(starts)
    features = np.zeros((n, _UNTYPED))
    hashed = np.zeros((n, len(SPAN_HASH_TEMPLATES)), np.int64)
    rows_per_request = [len(part.bounds) for part in parts]
    if n:
        span_ends = np.concatenate(([0], np.cumsum(counts)))
        spans_per_request = np.diff(span_ends[np.cumsum([0, *rows_per_request])])
        first = np.repeat(np.array([b[0] for b in bounds], dtype=np.int64), counts)
        last = np.repeat(np.array([b[1] for b in bounds], dtype=np.int64), counts)
        questions = _SpanQuestions.of(requests, parts, words, offsets, spans_per_request)
        hashed = _fill(features, (words, is_question), bounds, starts, ends, first, last, questions)
    tables: list[list[SpanTable]] = []
    counts_left = iter(counts.tolist())
    low = 0
    for (_, _, question), part, offset in zip(requests, parts, offsets.tolist(), strict=False):
        request_tables = []
        type_number = _TYPE_INDEX[question.analysis.qtype]
        for shift in part.shifts:
            high = low + next(counts_left)
            request_tables.append(
                SpanTable(
                    starts[low:high] - (shift + offset),
                    ends[low:high] - (shift + offset),
                    features[low:high],
                    hashed[low:high],
                    type_number,
                )
            )
            low = high
        tables.append(request_tables)
    return tables


@dataclass(slots=True)
class _RequestWords:
    """The words of one request's passages (from the first passage it needs to the last)."""

    passages: list[PassageWords]
    is_question: np.ndarray
    term_ids: np.ndarray
    bounds: list[tuple[int, int]]  # per row: its sentence's [first, last) in ``words``
    shifts: list[int]  # per row: where its passage's words start in ``words``


def _words_of_request(request: SpanRequest) -> _RequestWords:
    reading, rows, _ = request
    passage_of_row = [int(reading.sentence_passage[row]) for row in rows]
    # The passages concerned only: one passage's, for a top answer alone.
    low_passage = min(passage_of_row, default=0)
    high_passage = max(passage_of_row, default=-1) + 1
    low_word = int(reading.word_offset[low_passage])
    high_word = int(reading.word_offset[high_passage])
    bounds = []
    shifts = []
    for row, passage in zip(rows, passage_of_row, strict=True):
        first, last = (
            reading.words[passage].sentence_bounds[int(reading.sentence_local[row])].tolist()
        )
        shift = int(reading.word_offset[passage]) - low_word
        bounds.append((first + shift, last + shift))
        shifts.append(shift)
    return _RequestWords(
        passages=reading.words[low_passage:high_passage],
        is_question=reading.is_question[low_word:high_word],
        term_ids=reading.term_ids[low_word:high_word],
        bounds=bounds,
        shifts=shifts,
    )


@dataclass(slots=True)
class _SpanQuestions:
    """What the span features need of the questions, per word or per span of the batch."""

    word_weight: np.ndarray  # per word: its question term's share of the question's idf mass
    is_head: np.ndarray | None  # per word: its question's head noun; None: no question has one
    anchor_after: np.ndarray  # words of each question's term after its wh-phrase (sorted)
    anchor_before: np.ndarray
    qtype_of_span: list[tuple[QuestionType, int, int]]  # (type, first span, end span)
    hash_keys: np.ndarray  # per span: its question's template keys

    @classmethod
    def of(
        cls,
        requests: Sequence[SpanRequest],
        parts: list[_RequestWords],
        words: WordColumns,
        offsets: np.ndarray,
        spans_per_request: np.ndarray,
    ) -> _SpanQuestions:
        weights, after, before = [], [], []
        is_head = None
        for (_, _, question), part, offset in zip(requests, parts, offsets.tolist(), strict=False):
            term_ids = part.term_ids
            weight = np.zeros(len(term_ids))
            matched = np.flatnonzero(term_ids >= 0)
            weight[matched] = question.weights[term_ids[matched]] / question.mass
            weights.append(weight)
            if head := question.analysis.head_noun:
                if is_head is None:
                    is_head = np.zeros(len(words), dtype=bool)
                own = slice(offset, offset + len(term_ids))
                is_head[own] = words.term_codes[own] == known_code(head)
            anchors = ((question.anchor_after, after), (question.anchor_before, before))
            for anchor, positions in anchors:
                if anchor >= 0:
                    positions.append(np.flatnonzero(term_ids == anchor) + offset)
        qtypes = [question.analysis.qtype for _, _, question in requests]
        span_bounds = np.concatenate(([0], np.cumsum(spans_per_request))).tolist()
        keys = np.stack(
            [_template_keys(q.analysis.qtype.value, q.analysis.head_noun) for _, _, q in requests]
        )
        return cls(
            word_weight=joined(weights),
            is_head=is_head,
            anchor_after=joined(after) if after else np.zeros(0, dtype=np.int64),
            anchor_before=joined(before) if before else np.zeros(0, dtype=np.int64),
            qtype_of_span=[
                (qtype, low, high)
                for qtype, low, high in zip(qtypes, span_bounds, span_bounds[1:], strict=False)
                if high > low
            ],
            hash_keys=np.repeat(keys, spans_per_request, axis=0),
        )


def _fill(
    features: np.ndarray,
    context: tuple[WordColumns, np.ndarray],
    bounds: list[tuple[int, int]],
    starts: np.ndarray,
    ends: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    questions: _SpanQuestions,
) -> np.ndarray:
    """Fills ``features`` for the spans [starts, ends] of sentences [first, last) (both per
    span) and returns their hashed buckets. No feature looks past the span's sentence."""
    n = len(starts)
    words, is_question = context  # the words, and which are question words
    length = ends - starts + 1
    not_first = starts > first
    not_last = ends < last - 1
    before_word = np.maximum(starts - 1, 0)
    after_word = np.minimum(ends + 1, len(words) - 1)

    content = ~words.is_stop
    question_content = is_question & content
    breaks = words.break_after
    is_capital, is_number = words.is_capital, words.is_number
    # Words of each kind inside each span, from one cumulative sum over all the words.
    (
        n_content,
        n_question_content,
        n_breaks,
        n_question,
        n_lowercase_content,
        numbers,
        capital_content,
        years,
        months,
        time_units,
        capitals,
    ) = _counts_in_spans(
        (
            content,
            question_content,
            breaks,
            is_question,
            content & ~is_capital & ~is_number,
            is_number,
            is_capital & content,
            words.is_year,
            words.is_month,
            words.is_time_unit,
            is_capital,
        ),
        starts,
        ends,
    )
    n_content = np.maximum(n_content, 1)
    internal_break = n_breaks - breaks[ends]
    before_break = np.where(not_first, breaks[before_word], True)
    after_break = np.where(not_last, breaks[ends], True)
    # Distance from the span to the nearest question word outside it, on either side.
    right_distance, left_distance = _gap_to(
        np.flatnonzero(question_content), starts, ends, first, last
    )
    distance = np.minimum(left_distance, right_distance)
    window = np.concatenate(([0], np.cumsum(question_content)))
    low = np.maximum(starts - 3, first)
    high = np.minimum(ends + 4, last)
    near = (window[starts] - window[low]) + (window[high] - window[ends + 1])
    word_before = np.where(not_first, is_question[before_word], False)
    word_after = np.where(not_last, is_question[after_word], False)

    features[:, 0] = 1.0
    features[:, 1] = n_question_content / n_content
    features[:, 2] = internal_break > 0
    features[:, 3] = before_break
    features[:, 4] = after_break
    features[:, 5] = np.log1p(np.minimum(distance, 30))
    features[:, 6] = distance == 1
    features[:, 7] = word_before
    features[:, 8] = word_after
    features[:, 9] = ends == last - 1
    features[:, 10] = starts == first
    features[:, 11] = near / 6
    features[:, 12] = n_lowercase_content > 0
    # Bounded on each side by a question word, punctuation or the sentence's edge.
    edge_before = before_break | np.where(not_first, is_question[before_word], True)
    edge_after = after_break | np.where(not_last, is_question[after_word], True)
    features[:, 13] = (n_question == 0) & edge_before & edge_after
    is_head = questions.is_head
    if is_head is not None:
        features[:, 14] = _counts_in_spans((is_head,), starts, ends)[0] > 0
        features[:, 15] = is_head[ends]
        features[:, 16] = not_last & is_head[after_word]
        features[:, 17] = (not_first & is_head[before_word]) | (
            (starts > first + 1) & is_head[np.maximum(starts - 2, 0)]
        )
    features[:, 18] = (length == 1) & words.is_single_letter[starts]
    features[:, 20] = n_question > 0
    name_word = is_capital & content
    features[:, 21] = (not_first & name_word[before_word] & is_capital[starts]) | (
        not_last & name_word[after_word] & is_capital[ends]
    )
    features[:, 22] = (not_first & is_number[before_word] & is_number[starts]) | (
        not_last & is_number[after_word] & is_number[ends]
    )
    # Idf mass of the question words just outside the span, on each side.
    # Summed word by word over the window, not as a difference of running sums: a running
    # sum's rounding would depend on the words before the sentence, hence on what else is read.
    word_weight = questions.word_weight
    steps = np.arange(1, _NEAR_WINDOW + 1)
    left = starts[:, None] - steps
    features[:, 23] = np.where(left >= first[:, None], word_weight[np.maximum(left, 0)], 0).sum(1)
    right = ends[:, None] + steps
    inside = right < last[:, None]
    features[:, 24] = np.where(inside, word_weight[np.minimum(right, len(words) - 1)], 0).sum(1)

    run_start, run_end = _name_runs(words, bounds)
    whole = (run_start[starts] == starts) & (run_end[ends] == ends) & (run_end[starts] == ends)
    features[:, 25] = whole
    features[:, 26] = (run_end[starts] >= ends) & (run_start[starts] >= 0) & ~whole

    shapes = np.zeros((n, len(_SPAN_SHAPES)))
    shapes[np.arange(n), np.minimum(length, 5) - 1] = 1.0
    shapes[:, 5] = capital_content == n_content
    shapes[:, 6] = is_capital[starts] & not_first
    shapes[:, 7] = numbers > 0
    shapes[:, 8] = numbers == length
    shapes[:, 9] = is_number[starts]
    shapes[:, 10] = years > 0
    shapes[:, 11] = months > 0
    shapes[:, 12] = time_units > 0
    shapes[:, 13] = is_number[starts] & (length > 1) & ~is_number[ends]
    shapes[:, 14] = before_break & after_break
    shapes[:, 15] = (before_break | words.is_stop[before_word] | ~not_first) & (
        after_break | words.is_stop[after_word] | ~not_last
    )
    shapes[:, 16] = (capitals == 0) & (numbers == 0)
    end_suffix = words.suffix_class[ends]
    has_suffix = end_suffix > 0
    shapes[np.flatnonzero(has_suffix), 16 + end_suffix[has_suffix]] = 1.0
    for qtype, low, high in questions.qtype_of_span:
        features[low:high, 19] = _matches_type(qtype, shapes[low:high])
    places = np.zeros((n, len(_SPAN_PLACES)))
    anchors = (questions.anchor_after, questions.anchor_before)
    for column, anchor_positions in zip((0, 3), anchors, strict=True):
        # A span of a question without this anchor finds none in its sentence: no bucket.
        if len(anchor_positions):
            gap_after, gap_before = _gap_to(anchor_positions, starts, ends, first, last)
            places[:, column : column + 3] = _buckets(gap_after if column == 0 else gap_before)
    places[:, 6] = left_distance < right_distance
    places[:, 7] = distance == 1
    places[:, 8] = (distance >= 2) & (distance <= 3)
    places[:, 9] = (distance >= 4) & (distance < 99)
    features[:, _SHAPE_BASE:_PLACE_BASE] = shapes
    features[:, _PLACE_BASE:_UNTYPED] = places
    return _span_hashes(words, starts, ends, first, last, questions.hash_keys, shapes)


def _name_runs(words: WordColumns, bounds: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Per word of the sentences, the first and last word of the run of capitalised words it
    belongs to (connectors such as "of" may join two capitalised words); -1 outside runs."""
    run_start = np.full(len(words), -1, dtype=np.int64)
    run_end = np.full(len(words), -1, dtype=np.int64)
    is_name = (words.is_capital & ~words.is_stop).tolist()
    breaks = words.break_after.tolist()
    lower = words.lower
    for first, last in bounds:
        position = first
        while position < last:
            if not is_name[position]:
                position += 1
                continue
            end = position
            probe = position + 1
            while probe < last and not breaks[probe - 1]:
                if is_name[probe]:
                    end = probe
                elif lower[probe] not in _NAME_CONNECTORS:
                    break
                probe += 1
            run_start[position : end + 1] = position
            run_end[position : end + 1] = end
            position = end + 1
    return run_start, run_end


def _counts_in_spans(
    masks: tuple[np.ndarray, ...], starts: np.ndarray, ends: np.ndarray
) -> np.ndarray:
    """Per mask, how many words of each span [start, end] it holds."""
    cumulative = np.zeros((len(masks), len(masks[0]) + 1), dtype=np.int64)
    np.cumsum(np.stack(masks), axis=1, out=cumulative[:, 1:])
    return cumulative[:, ends + 1] - cumulative[:, starts]


def _matches_type(qtype: QuestionType, shapes: np.ndarray) -> np.ndarray:
    if qtype is QuestionType.DATE:
        return (shapes[:, 10] > 0) | (shapes[:, 11] > 0)
    if qtype is QuestionType.NUMBER:
        return shapes[:, 7] > 0
    if qtype is QuestionType.DURATION:
        return (shapes[:, 7] > 0) & (shapes[:, 12] > 0)
    if qtype in (QuestionType.PERSON, QuestionType.PLACE):
        return shapes[:, 5] > 0
    return np.zeros(len(shapes), dtype=bool)


def _span_hashes(
    words: WordColumns,
    starts: np.ndarray,
    ends: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    keys: np.ndarray,
    shapes: np.ndarray,
) -> np.ndarray:
    """Bucket of each (template key, span word) pair: a multiplicative mix of two crc32s, the
    same in every run (Python's own str hash is salted per process). ``keys``: each span's
    question's template keys."""
    hashes = words.word_hashes
    shape_class = np.zeros(len(starts), dtype=np.int64)
    shape_class[shapes[:, 5] > 0] = 1
    shape_class[shapes[:, 7] > 0] = 2
    shape_class[shapes[:, 10] > 0] = 3
    shape_class[shapes[:, 11] > 0] = 4
    before = np.where(starts > first, hashes[np.maximum(starts - 1, 0)], _BOUNDARY_HASH)
    two_before = np.where(starts > first + 1, hashes[np.maximum(starts - 2, 0)], _BOUNDARY_HASH)
    after = np.where(ends + 1 < last, hashes[np.minimum(ends + 1, len(hashes) - 1)], _BOUNDARY_HASH)
    values = np.stack((shape_class + 1, before, after, after, before * 31 + two_before), axis=1)
    mixed = (keys * 1_000_003 + values * 7_919) & 0x7FFFFFFFFFFF
    return (mixed ^ (mixed >> 17)) % HASH_BUCKETS
