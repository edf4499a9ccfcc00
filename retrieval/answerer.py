"""The extractive answerer: from a question and its retrieved passages to cited answers.

Three small linear models, trained by ``python -m retrieval.train_answerer`` on SQuAD and
shipped as retrieval/data/answerer.json:

1. a sentence scorer over every sentence of every passage (IDF-weighted stemmed overlap,
   proximity of the question's terms, bigrams, the passage's BM25 score and rank, position,
   whether the sentence holds the kind of thing the question asks for); passages are re-ranked
   by their best sentence;
2. a span scorer over the n-grams of a chosen sentence (retrieval/span_features.py: the
   question type × the span's shape and its place relative to the question's words, hashed
   pairs of the question type × the words around the span);
3. an answerability model over how much of the question the best passage and sentence cover;
   under the threshold the result says ``no_answer`` and still lists the closest candidates;
4. a confidence model that turns the answerability and how clearly the top sentence won into
   the probability that the top answer's sentence holds the answer (what the reader can check).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np

from retrieval.answer_features import (
    QuestionTerms,
    Reading,
    TermStatistics,
    question_terms,
    read_passages,
)
from retrieval.answers import Answer, AnswerResult
from retrieval.documents import Passage
from retrieval.linear_model import LinearModel, WeightsError, sigmoids
from retrieval.passage_features import (
    ANSWERABILITY_FEATURES,
    PASSAGE_FEATURES,
    PassageBatch,
    answerability_features_of_many,
    fill_passage_scores_of_many,
    passage_evidence_of_many,
)
from retrieval.question_types import QuestionType, analyze_question
from retrieval.segments import Segments, joined
from retrieval.sentence_features import (
    SENTENCE_FEATURES,
    SentenceTable,
    sentence_tables_of_many,
)
from retrieval.span_features import (
    HASH_BUCKETS,
    SPAN_FEATURES,
    SpanScorer,
    SpanTable,
    span_tables_of_many,
)
from retrieval.spans import (
    PassageWords,
    extend_number_span,
    passage_words_of_many,
    span_offsets,
    unbalanced_at,
)

# Passages to read per question. On the validation articles reading 10, 20 or 30 gives the same
# quality (recall@1 0.820 / 0.820 / 0.820, recall@5 0.945 / 0.947 / 0.947) while the answer
# stage's cost grows with every sentence read (9.5 ms p50 at 30 on the news corpora, 3.7 at 10).
# The engine and the evaluation both use it, so what is measured is what users get.
RERANK_DEPTH = 10
# Span candidates tried, best first, for one without a broken bracket or quote.
_BALANCE_LOOKAHEAD = 20
DEFAULT_MODEL_PATH = Path(__file__).parent / "data" / "answerer.json"
MODEL_FORMAT = 2  # 2: with the confidence model
# What the confidence model reads (see confidence_features).
CONFIDENCE_FEATURES = (
    "bias",
    "answerability_logit",
    "top_sentence_probability",
    "top_margin",  # the top sentence's combined score minus the next one's
    "top_passage_probability",
)
_MAX_MARGIN = 10.0
DURATION_MISSING_PENALTY = 3.0
_MATCHES_TYPE = SPAN_FEATURES.index("matches_type")
# Words that belong to a "when" or "how long" answer before its first word: "last week", "next
# Tuesday", "since 1951".
_MODIFIERS = {
    QuestionType.DATE: frozenset("last next this past previous coming early late".split()),
    QuestionType.DURATION: frozenset(("since",)),
}
# Last words of a "when" answer without a date in it.
_RELATIVE_DATE_ENDS = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday weekend yesterday today tonight "
    "tomorrow ago morning afternoon evening night".split()
)


@dataclass(frozen=True, slots=True)
class AnswererModel:
    sentence: LinearModel
    passage: LinearModel
    span: LinearModel
    answerability: LinearModel
    confidence: LinearModel
    no_answer_threshold: float

    @classmethod
    def load(cls, path: Path) -> AnswererModel:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != MODEL_FORMAT:
            raise WeightsError(f"{path}: unknown weights format {data.get('format')!r}")
        return cls(
            sentence=LinearModel.from_json(data["sentence"], SENTENCE_FEATURES),
            passage=LinearModel.from_json(data["passage"], PASSAGE_FEATURES),
            span=LinearModel.from_json(data["span"], SPAN_FEATURES, HASH_BUCKETS),
            answerability=LinearModel.from_json(data["answerability"], ANSWERABILITY_FEATURES),
            confidence=LinearModel.from_json(data["confidence"], CONFIDENCE_FEATURES),
            no_answer_threshold=float(data["no_answer_threshold"]),
        )

    def to_json(self, extra: dict | None = None) -> dict:
        return {
            "format": MODEL_FORMAT,
            "no_answer_threshold": round(self.no_answer_threshold, 4),
            "sentence": self.sentence.to_json(SENTENCE_FEATURES),
            "passage": self.passage.to_json(PASSAGE_FEATURES),
            "span": self.span.to_json(SPAN_FEATURES),
            "answerability": self.answerability.to_json(ANSWERABILITY_FEATURES),
            "confidence": self.confidence.to_json(CONFIDENCE_FEATURES),
            **(extra or {}),
        }


@dataclass(slots=True)
class _Ranking:
    """A question's reading up to its short answers: the answers' sentence rows, best first."""

    question: str
    terms: QuestionTerms
    reading: Reading
    ranked: list[Passage]  # re-ranked, best first
    rows: list[int]
    with_span: list[int]  # the rows that get a short answer
    confidences: list[float]  # per row
    answerability: float
    evidence: np.ndarray
    inputs: np.ndarray


@dataclass(slots=True)
class AnswerReading:
    """Everything the answerer worked out for one question (evaluation looks inside)."""

    result: AnswerResult
    ranked_passages: list[Passage]  # re-ranked, best first
    answerability: float
    answerability_features: np.ndarray | None = None  # what the training script learns from
    confidence_inputs: np.ndarray | None = None  # confidence features but the answerability


class Answerer:
    def __init__(
        self,
        model_path: Path | None = None,
        no_answer_threshold: float | None = None,
        *,
        model: AnswererModel | None = None,
    ) -> None:
        self.model = model or AnswererModel.load(model_path or DEFAULT_MODEL_PATH)
        self.no_answer_threshold = (
            self.model.no_answer_threshold if no_answer_threshold is None else no_answer_threshold
        )
        self._span_scorer = SpanScorer.of(self.model.span)

    def answer(
        self,
        question: str,
        passages: Sequence[Passage],
        index: TermStatistics,
        k: int = 3,
        short_answers: int | None = None,
    ) -> AnswerResult:
        """Up to ``k`` answers from different sentences, best first; ``no_answer`` when the
        passages (retrieved from ``index``) do not seem to hold the answer (the candidates are
        listed all the same). Only the first ``short_answers`` (default: all) get a short
        answer in their sentence: a caller that shows the others as sentences saves the span
        scoring for them."""
        return self.read(question, passages, index, k, short_answers).result

    def read(
        self,
        question: str,
        passages: Sequence[Passage],
        index: TermStatistics,
        k: int = 3,
        short_answers: int | None = None,
    ) -> AnswerReading:
        """``answer`` plus the re-ranked passages and the answerability probability."""
        return self._read_many([(question, passages)], index, k, short_answers)[0]

    def answer_many(
        self,
        questions: Sequence[tuple[str, Sequence[Passage]]],
        index: TermStatistics,
        k: int = 3,
        short_answers: int | None = None,
    ) -> list[AnswerResult]:
        """``answer(question, passages, index, k, short_answers)`` of each pair, the same
        answers as one by one but cheaper: the sentences of all the questions are scored
        together, and so are their short-answer candidates (one batch of numpy work rather
        than one per question)."""
        return [reading.result for reading in self._read_many(questions, index, k, short_answers)]

    def _read_many(
        self,
        questions: Sequence[tuple[str, Sequence[Passage]]],
        index: TermStatistics,
        k: int,
        short_answers: int | None,
    ) -> list[AnswerReading]:
        # Every passage of every question analysed in one pass.
        words = iter(
            passage_words_of_many(
                [(p.chunk.text, p.chunk.sentences) for _, passages in questions for p in passages]
            )
        )
        terms = [question_terms(analyze_question(question), index.idf) for question, _ in questions]
        readings = [
            read_passages(passages, of_question, list(islice(words, len(passages))))
            for (_, passages), of_question in zip(questions, terms, strict=True)
        ]
        tables = sentence_tables_of_many(list(zip(readings, terms, strict=True)))
        rankings = self._rank_many(questions, index, k, short_answers, (terms, readings, tables))
        pending = [ranking for ranking in rankings if isinstance(ranking, _Ranking)]
        spans = iter(
            span_tables_of_many(
                [(ranking.reading, ranking.with_span, ranking.terms) for ranking in pending]
            )
        )
        return [
            ranking if isinstance(ranking, AnswerReading) else self._finish(ranking, next(spans))
            for ranking in rankings
        ]

    def _rank_many(
        self,
        questions: Sequence[tuple[str, Sequence[Passage]]],
        index: TermStatistics,
        k: int,
        short_answers: int | None,
        read: tuple[list[QuestionTerms], list[Reading], list[SentenceTable]],
    ) -> list[_Ranking | AnswerReading]:
        """All of the reading but the short answers, for every question at once, from their
        terms, passages read and sentence tables; the whole reading of a question with
        nothing to read."""
        terms, readings, tables = read
        live = [
            n
            for n, (t, table) in enumerate(zip(terms, tables, strict=True))
            if len(table.features) and t.terms
        ]
        live_set = set(live)
        rankings: dict[int, _Ranking | AnswerReading] = {
            n: AnswerReading(AnswerResult(question, no_answer=True), list(passages), 0.0)
            for n, (question, passages) in enumerate(questions)
            if n not in live_set
        }
        if not live:
            return list(rankings.values())
        terms = [terms[n] for n in live]
        readings = [readings[n] for n in live]
        tables = [tables[n] for n in live]
        model = self.model
        rows = Segments.of_counts([len(table.features) for table in tables])
        features = joined([table.features for table in tables])
        scores = model.sentence.scores(features)
        probabilities = rows.softmax(scores)
        batch = PassageBatch.of(readings, tables)
        passage_features = passage_evidence_of_many(readings, terms, features, batch)
        fill_passage_scores_of_many(
            passage_features, scores, batch.passage_of, batch.passages, rows
        )
        passage_scores = model.passage.scores(passage_features)
        # A sentence ranks by its own score and its passage's: the passage model sees
        # evidence spread over the whole paragraph that no single sentence holds.
        combined = scores + passage_scores[batch.passage_of]
        # "How long" is too rare in SQuAD for the model to learn that the sentence must hold a
        # duration ("six-year", "three weeks"): a fixed rule says so.
        is_duration = np.array([t.analysis.qtype is QuestionType.DURATION for t in terms])
        if is_duration.any():
            has_duration = features[:, SENTENCE_FEATURES.index("expected_type_present")]
            penalty = DURATION_MISSING_PENALTY * (1.0 - has_duration)
            combined = np.where(is_duration[rows.question], combined - penalty, combined)
        # Best first within each question, ties to the earlier row (a stable sort).
        order = np.lexsort((np.arange(len(combined)), -combined, rows.question))
        passage_order = np.lexsort(
            (np.arange(len(passage_scores)), -passage_scores, batch.passages.question)
        )
        top_rows = order[rows.first]
        coverage = joined([table.coverage for table in tables])
        evidence = answerability_features_of_many(
            readings,
            terms,
            batch,
            rows,
            coverage,
            (scores, probabilities),
            top_rows,
            index.n_docs,
        )
        answerability = sigmoids(model.answerability.scores(evidence))
        counts = rows.counts
        second_rows = order[np.minimum(rows.first + 1, len(order) - 1)]
        margins = np.where(counts > 1, combined[top_rows] - combined[second_rows], _MAX_MARGIN)
        # 1.0 for a top sentence whose probability underflows to 0: the confidences divide by it.
        top_probability = np.where(probabilities[top_rows] > 0, probabilities[top_rows], 1.0)
        inputs = np.empty((len(live), 3))
        inputs[:, 0] = top_probability
        inputs[:, 1] = np.minimum(margins, _MAX_MARGIN)
        inputs[:, 2] = batch.passages.softmax(passage_scores)[batch.passage_of[top_rows]]
        confidence = sigmoids(
            model.confidence.scores(confidence_features_of_many(answerability, inputs))
        )
        for n, number in enumerate(live):
            question, passages = questions[number]
            first, end = int(rows.first[n]), int(rows.first[n] + counts[n])
            own_order = (order[first:end] - first)[:k].tolist()
            passage_first = int(batch.passages.first[n])
            own_passages = (
                passage_order[passage_first : passage_first + len(passages)] - passage_first
            )
            top = float(top_probability[n])
            own_probabilities = probabilities[first:end]
            rankings[number] = _Ranking(
                question=question,
                terms=terms[n],
                reading=readings[n],
                ranked=[passages[int(i)] for i in own_passages],
                rows=own_order,
                with_span=own_order[: k if short_answers is None else short_answers],
                confidences=[
                    float(confidence[n]) * min(float(own_probabilities[row]) / top, 1.0)
                    for row in own_order
                ],
                answerability=float(answerability[n]),
                evidence=evidence[n],
                inputs=inputs[n],
            )
        return [rankings[n] for n in range(len(questions))]

    def _finish(self, ranking: _Ranking, tables: list[SpanTable]) -> AnswerReading:
        """The reading with the short answers picked from ``tables`` (those of
        ``ranking.with_span``)."""
        spans = dict(zip(ranking.with_span, tables, strict=True))
        answers = [
            self._answer_from(ranking.reading, row, ranking.terms, confidence, spans.get(row))
            for row, confidence in zip(ranking.rows, ranking.confidences, strict=True)
        ]
        result = AnswerResult(
            question=ranking.question,
            no_answer=ranking.answerability < self.no_answer_threshold,
            answers=answers,
        )
        return AnswerReading(
            result, ranking.ranked, ranking.answerability, ranking.evidence, ranking.inputs
        )

    def _answer_from(
        self,
        reading: Reading,
        row: int,
        terms: QuestionTerms,
        confidence: float,
        spans: SpanTable | None,
    ) -> Answer:
        """The answer in sentence row ``row``; its short answer from ``spans`` (its candidates),
        none without them."""
        passage = reading.passages[int(reading.sentence_passage[row])]
        words = reading.words[int(reading.sentence_passage[row])]
        chunk = passage.chunk
        sentence_start, sentence_end = chunk.sentences[int(reading.sentence_local[row])]
        sentence_text = chunk.text[sentence_start:sentence_end]
        answer = answer_start = answer_end = None
        span_scores = None
        if spans is not None and len(spans.start_word):
            span_scores = _prefer_typed_spans(
                self._span_scorer.scores(spans),
                spans,
                words,
                terms.analysis.qtype,
            )
        if spans is not None and span_scores is not None:
            start_word, end_word = _best_balanced(span_scores, spans, words)
            first, last = words.sentence_bounds[int(reading.sentence_local[row])].tolist()
            if terms.analysis.qtype is QuestionType.NUMBER:
                start_word, end_word = extend_number_span(
                    words, start_word, end_word, first, last, terms.analysis.counted_noun
                )
            elif (
                terms.analysis.qtype in _MODIFIERS
                and start_word > first
                and words.lower[start_word - 1] in _MODIFIERS[terms.analysis.qtype]
            ):
                start_word -= 1  # candidates never start with a stopword: "week" -> "last week"
            start, end = span_offsets(words, start_word, end_word)
            answer_start, answer_end = start - sentence_start, end - sentence_start
            answer = sentence_text[answer_start:answer_end]
        return Answer(
            answer=answer,
            answer_start=answer_start,
            answer_end=answer_end,
            sentence=sentence_text,
            sentence_start=sentence_start,
            passage=chunk.text,
            title=chunk.title,
            url=chunk.url,
            doc_id=chunk.doc_id,
            paragraph=chunk.paragraph + chunk.text.count("\n\n", 0, sentence_start),
            score=passage.score,
            confidence=min(max(confidence, 0.0), 1.0),
            chunk_id=passage.chunk_id,
        )


def confidence_features(answerability: float, inputs: np.ndarray) -> np.ndarray:
    """The confidence model's row: the answerability as a logit, then ``inputs`` (top sentence
    probability, its margin, its passage's probability)."""
    return confidence_features_of_many(np.array([answerability]), inputs[None, :])[0]


def confidence_features_of_many(answerability: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """``confidence_features`` of several questions, one row each."""
    clipped = np.minimum(np.maximum(answerability, 1e-6), 1 - 1e-6)
    features = np.empty((len(inputs), len(CONFIDENCE_FEATURES)))
    features[:, 0] = 1.0
    features[:, 1] = np.log(clipped / (1 - clipped))
    features[:, 2:] = inputs
    return features


def _best_balanced(scores: np.ndarray, spans: SpanTable, words: PassageWords) -> tuple[int, int]:
    """(start word, end word) of the best span, cut short before a bracket or quote it opens
    but does not close ("1,388 (0.9%" -> "1,388"); if that leaves no answer, the best of the
    next candidates that is whole; failing that, the best span as it is."""
    best = int(np.argmax(scores))
    first, last = int(spans.start_word[best]), int(spans.end_word[best])
    start, end = span_offsets(words, first, last)
    broken = unbalanced_at(words.text[start:end])
    if broken < 0:
        return first, last  # nearly always
    # The words wholly before the break, without a stopword at the end.
    cut_last = last
    while cut_last >= first and (words.ends[cut_last] > start + broken or words.is_stop[cut_last]):
        cut_last -= 1
    if cut_last >= first and _is_whole(words, first, cut_last):
        return first, cut_last
    for candidate in np.argsort(-scores, kind="stable")[1:_BALANCE_LOOKAHEAD].tolist():
        first, last = int(spans.start_word[candidate]), int(spans.end_word[candidate])
        if _is_whole(words, first, last):
            return first, last
    return int(spans.start_word[best]), int(spans.end_word[best])


def _is_whole(words: PassageWords, first: int, last: int) -> bool:
    start, end = span_offsets(words, first, last)
    return unbalanced_at(words.text[start:end]) < 0


def _prefer_typed_spans(
    scores: np.ndarray, spans: SpanTable, words: PassageWords, qtype: QuestionType
) -> np.ndarray | None:
    """For "how long" and "when", keep only spans that end with the counted unit or the date
    itself ("six-year", "in 1932"), when the sentence has one: "how long" is too rare in SQuAD
    for the model to learn, and a date answer trailing off into the rest of the clause is wrong. A
    "when" sentence without a date may still say when the news way ("on Tuesday", "last
    week", "two days ago"): then those. A "how long" sentence without a counted duration (or
    "since" a date) has no short answer to give (None): the sentence is shown alone."""
    if qtype is not QuestionType.DURATION and qtype is not QuestionType.DATE:
        return scores
    end, lower = spans.end_word, words.lower
    is_type = spans.features[:, _MATCHES_TYPE].astype(bool)
    if qtype is QuestionType.DURATION:
        # The unit right after its number: "18 months", "six-year", not "110,000 long tons of
        # lead last year".
        counted = (end > spans.start_word) & words.is_number[np.maximum(end - 1, 0)]
        typed = words.is_time_unit[end] & is_type & counted
        if not typed.any():  # "since 1951" says how long too
            since = _MODIFIERS[QuestionType.DURATION]
            typed = (words.is_year[end] | words.is_month[end] | words.is_number[end]) & np.array(
                [start > 0 and lower[start - 1] in since for start in spans.start_word.tolist()],
                dtype=bool,
            )
        if not typed.any():
            return None
    else:
        typed = (words.is_number[end] | words.is_year[end] | words.is_month[end]) & is_type
        if not typed.any():
            typed = words.is_time_unit[end] | np.array(
                [lower[word] in _RELATIVE_DATE_ENDS for word in end.tolist()], dtype=bool
            )
    return np.where(typed, scores, -np.inf) if typed.any() else scores
