"""Feature vectors of the retrieved passages (the passage model's input: which passage ranks
first) and of the question as a whole (the answerability model's: whether the corpus answers
it at all), for one question or for many read together (their passages and sentences end to
end, retrieval.segments saying whose they are)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.answer_features import QuestionTerms, Reading
from retrieval.segments import Segments, joined
from retrieval.sentence_features import (
    SENTENCE_FEATURES,
    SentenceTable,
    per_passage_max,
    rank_column,
)

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
_BIGRAMS = SENTENCE_FEATURES.index("bigram_fraction")


@dataclass(frozen=True, slots=True)
class PassageBatch:
    """The passages of several questions' readings end to end."""

    passages: Segments  # each passage's question
    passage_of: np.ndarray  # per sentence row: its passage, batch-wide
    scores: np.ndarray  # per passage: its retrieval score
    coverage: np.ndarray  # per passage: question mass in the passage and its title

    @classmethod
    def of(cls, readings: Sequence[Reading], tables: Sequence[SentenceTable]) -> PassageBatch:
        passages = Segments.of_counts([len(reading.passages) for reading in readings])
        firsts = passages.first.tolist()
        return cls(
            passages=passages,
            passage_of=joined(
                [r.sentence_passage + f for r, f in zip(readings, firsts, strict=True)]
            ),
            scores=np.array([p.score for reading in readings for p in reading.passages]),
            coverage=joined([table.passage_coverage for table in tables]),
        )


def passage_evidence(reading: Reading, question: QuestionTerms, table: SentenceTable) -> np.ndarray:
    """The passage features that do not depend on the sentence model (training computes them
    once and fills the sentence-score columns for each model it tries)."""
    if not reading.passages:
        return np.zeros((0, len(PASSAGE_FEATURES)))
    batch = PassageBatch.of([reading], [table])
    return passage_evidence_of_many([reading], [question], table.features, batch)


def passage_evidence_of_many(
    readings: Sequence[Reading],
    questions: Sequence[QuestionTerms],
    sentence_features: np.ndarray,
    batch: PassageBatch,
) -> np.ndarray:
    """``passage_evidence`` of several questions' passages, end to end (``sentence_features``:
    their sentence rows, end to end)."""
    question = batch.passages.question
    features = np.zeros((len(batch.scores), len(PASSAGE_FEATURES)))
    coverage, scores = batch.coverage, batch.scores
    features[:, 3] = coverage
    features[:, 4] = coverage - batch.passages.max(coverage)[question]
    best_score = batch.passages.max(scores)
    features[:, 5] = scores / np.where(best_score == 0, 1.0, best_score)[question]
    features[:, 6] = np.log1p(np.maximum(scores, 0.0))
    ranks = [rank_column(p.rank, (7, 8, 9, 10, 10)) for r in readings for p in r.passages]
    features[np.arange(len(scores)), ranks] = 1.0
    bigrams = np.bincount(
        batch.passage_of, weights=sentence_features[:, _BIGRAMS], minlength=len(scores)
    )
    features[:, 11] = np.minimum(bigrams, 1.0)
    for reading, terms, first in zip(
        readings, questions, batch.passages.first.tolist(), strict=True
    ):
        if len(terms.terms):
            own = slice(first, first + len(reading.passages))
            features[own, 12] = np.einsum(
                "ij,j->i", reading.title_presence, terms.weights / terms.mass
            )
    return features


def fill_passage_scores(features: np.ndarray, scores: np.ndarray, passage_of: np.ndarray) -> None:
    """Columns 0–2 of one question's passage ``features``: each passage's best and second-best
    sentence score (relative to the best overall) and the log-sum-exp of its sentence scores."""
    if len(features) and len(scores):
        passages, rows = Segments.of_counts([len(features)]), Segments.of_counts([len(scores)])
        fill_passage_scores_of_many(features, scores, passage_of, passages, rows)


def fill_passage_scores_of_many(
    features: np.ndarray,
    scores: np.ndarray,
    passage_of: np.ndarray,
    passages: Segments,
    rows: Segments,
) -> None:
    """``fill_passage_scores`` of several questions' passages and sentence rows, end to end."""
    n_passages = len(features)
    top = rows.max(scores)
    best = per_passage_max(scores, passage_of, n_passages)
    best = np.where(np.isfinite(best), best, (rows.min(scores) - 1.0)[passages.question])
    is_best = scores >= best[passage_of]
    second = per_passage_max(np.where(is_best, -np.inf, scores), passage_of, n_passages)
    second = np.where(np.isfinite(second), second, best - 1.0)
    total = np.bincount(
        passage_of, weights=np.exp(scores - top[rows.question]), minlength=n_passages
    )
    features[:, 0] = best - top[passages.question]
    features[:, 1] = second - top[passages.question]
    features[:, 2] = np.log(np.maximum(total, 1e-12))


# -- answerability -----------------------------------------------------------------------------

ANSWERABILITY_FEATURES: tuple[str, ...] = (
    "bias",
    "best_passage_coverage",
    "best_sentence_coverage",
    "top_sentence_coverage",  # coverage of the sentence the model chose
    "top_sentence_probability",
    "top_sentence_score",
    "known_term_fraction",
    "term_count_log",
    "bm25_per_mass",  # best passage score / question idf mass
    "top_passage_coverage",
    "rarest_term_found",  # the question's rarest term occurs in the chosen passage
    # The idf mass of the question terms the chosen passage holds, minus the log of the number
    # of passages: the log of how many passages would hold them all by chance (as far as the
    # terms are independent), negated. The same coverage is less telling in a bigger index, and
    # this says by how much, which training on a few SQuAD articles could not learn.
    "match_surprise",
)


def answerability_features_of_many(
    readings: Sequence[Reading],
    questions: Sequence[QuestionTerms],
    batch: PassageBatch,
    rows: Segments,
    sentence_coverage: np.ndarray,
    sentence_scores: tuple[np.ndarray, np.ndarray],
    top_rows: np.ndarray,
    corpus_size: int,
) -> np.ndarray:
    """One row per question (each with sentence rows and terms) for the answerability model:
    how much of the question its passages and the chosen sentence (``top_rows``, batch-wide)
    cover. ``sentence_scores``: the sentence model's scores and probabilities, batch-wide."""
    scores, probabilities = sentence_scores
    features = np.zeros((len(questions), len(ANSWERABILITY_FEATURES)))
    top_passages = batch.passage_of[top_rows]
    mass = np.array([question.mass for question in questions])
    rarest = [int(np.argmax(question.weights)) for question in questions]
    rarest_in_row = joined(
        [reading.presence[:, term] for reading, term in zip(readings, rarest, strict=True)]
    )
    rarest_in_title = joined(
        [reading.title_presence[:, term] for reading, term in zip(readings, rarest, strict=True)]
    )
    rarest_in_passage = (
        np.bincount(batch.passage_of, weights=rarest_in_row, minlength=len(batch.scores)) > 0
    )
    features[:, 0] = 1.0
    features[:, 1] = batch.passages.max(batch.coverage)
    features[:, 2] = rows.max(sentence_coverage)
    features[:, 3] = sentence_coverage[top_rows]
    features[:, 4] = probabilities[top_rows]
    features[:, 5] = scores[top_rows]
    features[:, 6] = [np.count_nonzero(q.known) / len(q.known) for q in questions]
    features[:, 7] = np.log([len(question.terms) for question in questions])
    features[:, 8] = batch.passages.max(batch.scores) / mass
    features[:, 9] = batch.coverage[top_passages]
    features[:, 10] = rarest_in_passage[top_passages] | rarest_in_title[top_passages]
    features[:, 11] = features[:, 9] * mass - np.log(max(corpus_size, 1))
    return features
