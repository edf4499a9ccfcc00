"""Feature vectors of the retrieved passages (the passage model's input: which passage ranks
first) and of the question as a whole (the answerability model's: whether the corpus answers
it at all)."""

from __future__ import annotations

import numpy as np

from retrieval.answer_features import QuestionTerms, Reading
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
    rank_columns = [rank_column(rank, (7, 8, 9, 10, 10)) for rank in ranks.tolist()]
    features[np.arange(n_passages), rank_columns] = 1.0
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
    best = per_passage_max(scores, passage_of, n_passages)
    best = np.where(np.isfinite(best), best, float(scores.min()) - 1.0)
    is_best = scores >= best[passage_of]
    second = per_passage_max(np.where(is_best, -np.inf, scores), passage_of, n_passages)
    second = np.where(np.isfinite(second), second, best - 1.0)
    total = np.bincount(passage_of, weights=np.exp(scores - top), minlength=n_passages)
    features[:, 0] = best - top
    features[:, 1] = second - top
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


def answerability_features(
    question: QuestionTerms,
    reading: Reading,
    table: SentenceTable,
    top_row: int,
    probabilities: np.ndarray,
    scores: np.ndarray,
    corpus_size: int,
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
    features[7] = np.log(len(question.terms))
    features[8] = max(p.score for p in reading.passages) / question.mass
    features[9] = float(table.passage_coverage[top_passage])
    features[10] = float(
        reading.presence[in_passage, rarest].any() or reading.title_presence[top_passage, rarest]
    )
    features[11] = features[9] * question.mass - np.log(max(corpus_size, 1))
    return features
