"""Train the answerer's weights (retrieval/data/answerer.json) on SQuAD v1.1.

    python -m retrieval.train_answerer [--data ../shared/data/qa/squad-dev-shared.json]
                                       [--output PATH] [--all]

The split is by article and deterministic: articles at even positions of the file (0, 2, 4, …)
are "dev", the only ones trained and tuned on; articles at odd positions are "validation",
never read here. Inside dev, ``ANSWERABILITY_FOLDS`` folds of articles give answerable and
unanswerable questions for the no-answer model: each fold's questions are asked against an
index of the other folds (unanswerable: the answer is truly absent), and so are the next
fold's (answerable). ``--all`` trains the same way on every article of the file (dev and
validation), for the shipped model; the weights file records which split it was trained on,
and validation numbers measured with such a model are not held-out numbers.

Models, all linear, fitted by full-batch Adam written here with numpy:
  sentence       softmax over every sentence of the BM25 top-``RERANK_DEPTH`` passages; the
                 right ones hold a gold answer inside the gold passage
  span           softmax over the candidate spans of the gold sentence; the right ones equal a
                 gold answer after SQuAD normalisation (or, when none does, have the best F1)
  answerability  logistic regression, answerable vs. unanswerable
  confidence     logistic regression: does the top answer's sentence hold the answer?
The no-answer threshold is the highest that still answers ``TARGET_ANSWERED`` of dev's
answerable questions. Takes about two minutes on one core.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.answer_features import Reading, question_terms, read_passages
from retrieval.answerer import (
    CONFIDENCE_FEATURES,
    DEFAULT_MODEL_PATH,
    Answerer,
    AnswererModel,
    confidence_features,
)
from retrieval.bm25 import BM25Index
from retrieval.chunks import chunk_article
from retrieval.documents import Article, Chunk, Passage
from retrieval.evaluation import (
    RERANK_DEPTH,
    GoldQuestion,
    _ask_all,
    _is_gold_passage,
    best_over_golds,
    contains_answer,
    exact_match,
    f1_score,
    select_articles,
    squad_articles,
    squad_doc_id,
    squad_questions,
)
from retrieval.linear_model import LinearModel, sigmoid
from retrieval.passage_features import (
    ANSWERABILITY_FEATURES,
    fill_passage_scores,
    passage_evidence,
)
from retrieval.question_types import analyze_question
from retrieval.sentence_features import sentence_table
from retrieval.span_features import HASH_BUCKETS, SPAN_HASH_TEMPLATES, span_table
from retrieval.spans import span_offsets
from retrieval.tokenizer import tokenize

DEFAULT_DATA = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "qa" / "squad-dev-shared.json"
)
# Chosen by 2-fold cross-validation on dev (top sentence right: 0.722 at 1e-4 / 400 steps,
# 0.730 here).
SENTENCE_L2 = 1e-3
SENTENCE_STEPS = 1000
# Dev is dealt into this many folds for the no-answer model (see _answerability_runs): indexes
# of three quarters of the training articles.
ANSWERABILITY_FOLDS = 4
TARGET_ANSWERED = 0.965  # the target is ≥ 95 %: unseen articles answer ~1 point less


TRAINED_ON_DEV = "dev = articles at even positions of the file; validation (odd) not read"
TRAINED_ON_ALL = "dev + validation: every article of the file (validation numbers mean nothing)"


def is_dev(position: int, _article: dict) -> bool:
    return position % 2 == 0


def is_validation(position: int, _article: dict) -> bool:
    return position % 2 == 1


class InMemoryIndex:
    """BM25 over chunks exactly as the engine indexes them (title terms + chunk terms), without
    the SQLite store: training asks thousands of questions and needs nothing else."""

    def __init__(self, articles: Sequence[Article]) -> None:
        self.chunks: list[Chunk] = []
        documents = []
        for article in articles:
            title = tokenize(article.title)
            for chunk in chunk_article(article):
                self.chunks.append(chunk)
                documents.append(title + tokenize(chunk.text))
        self.index = BM25Index.from_documents(documents)

    def retrieve(self, question: str, k: int = 5) -> list[Passage]:
        doc_indexes, scores = self.index.top_k(tokenize(question), k)
        return [
            Passage(chunk_id=int(i), chunk=self.chunks[int(i)], score=float(s), rank=rank)
            for rank, (i, s) in enumerate(zip(doc_indexes, scores, strict=True))
        ]


# -- optimisers --------------------------------------------------------------------------------


@dataclass
class _Adam:
    rate: float
    beta1: float = 0.9
    beta2: float = 0.999
    step: int = 0

    def __post_init__(self) -> None:
        self.moments: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def update(self, key: int, value: np.ndarray, gradient: np.ndarray) -> None:
        first, second = self.moments.get(key, (np.zeros_like(value), np.zeros_like(value)))
        first = self.beta1 * first + (1 - self.beta1) * gradient
        second = self.beta2 * second + (1 - self.beta2) * gradient**2
        self.moments[key] = (first, second)
        corrected_first = first / (1 - self.beta1**self.step)
        corrected_second = second / (1 - self.beta2**self.step)
        value -= self.rate * corrected_first / (np.sqrt(corrected_second) + 1e-8)


def fit_listwise(
    features: np.ndarray,
    group_sizes: np.ndarray,
    labels: np.ndarray,
    hashed: np.ndarray | None = None,
    *,
    l2: float = 1e-4,
    hashed_l2: float = 1e-3,
    steps: int = 400,
    rate: float = 0.05,
) -> LinearModel:
    """Weights maximising the log of each group's total softmax probability on its positive
    rows (every group must have one)."""
    features = features.astype(np.float32)  # twice as fast, and precise enough to rank
    n_groups = len(group_sizes)
    starts = np.concatenate(([0], np.cumsum(group_sizes)[:-1]))
    group_of = np.repeat(np.arange(n_groups), group_sizes)
    weights = np.zeros(features.shape[1])
    hash_weights = np.zeros(HASH_BUCKETS) if hashed is not None else None
    adam = _Adam(rate)
    positive = labels.astype(np.float64)
    for _ in range(steps):
        adam.step += 1
        scores = (features @ weights.astype(np.float32)).astype(np.float64)
        if hash_weights is not None:
            scores = scores + hash_weights[hashed].sum(axis=1)
        shifted = np.exp(scores - np.maximum.reduceat(scores, starts)[group_of])
        probabilities = shifted / np.add.reduceat(shifted, starts)[group_of]
        on_positive = probabilities * positive
        target = on_positive / np.add.reduceat(on_positive, starts)[group_of]
        gradient = (probabilities - target) / n_groups
        adam.update(0, weights, features.T @ gradient.astype(np.float32) + l2 * weights)
        if hash_weights is not None:
            per_bucket = np.bincount(
                hashed.ravel(),
                weights=np.repeat(gradient, hashed.shape[1]),
                minlength=HASH_BUCKETS,
            )
            adam.update(1, hash_weights, per_bucket + hashed_l2 * hash_weights)
    return LinearModel(weights, hash_weights)


def fit_logistic(
    features: np.ndarray, labels: np.ndarray, *, l2: float = 1e-4, steps: int = 1500
) -> LinearModel:
    weights = np.zeros(features.shape[1])
    adam = _Adam(0.05)
    target = labels.astype(np.float64)
    for _ in range(steps):
        adam.step += 1
        probabilities = 1 / (1 + np.exp(-(features @ weights)))
        gradient = features.T @ (probabilities - target) / len(target) + l2 * weights
        adam.update(0, weights, gradient)
    return LinearModel(weights)


# -- training data -----------------------------------------------------------------------------


@dataclass
class _QuestionExamples:
    """What one dev question contributes to training."""

    fold: int  # which half of the dev articles it belongs to
    sentence_rows: np.ndarray
    sentence_labels: np.ndarray
    sentence_passage: np.ndarray
    passage_rows: np.ndarray  # passage features without the sentence-score columns
    passage_labels: np.ndarray
    span_rows: np.ndarray | None
    span_hashed: np.ndarray | None
    span_labels: np.ndarray | None


def _gold_sentences(reading: Reading, gold: GoldQuestion) -> np.ndarray:
    """Per sentence row: it lies in the gold article and holds a gold answer's start."""
    labels = np.zeros(len(reading.sentence_passage), dtype=bool)
    for row, (number, local) in enumerate(
        zip(reading.sentence_passage.tolist(), reading.sentence_local.tolist(), strict=True)
    ):
        chunk = reading.passages[number].chunk
        if chunk.doc_id != gold.doc_id:
            continue
        start, end = chunk.sentences[local]
        labels[row] = any(
            chunk.start + start <= offset < chunk.start + end for offset in gold.answer_offsets
        )
    return labels


def _span_labels(words, spans, gold: GoldQuestion) -> np.ndarray:
    texts = [
        words.text[slice(*span_offsets(words, int(s), int(e)))]
        for s, e in zip(spans.start_word, spans.end_word, strict=True)
    ]
    exact = np.array([best_over_golds(exact_match, t, gold.answers) > 0 for t in texts])
    if exact.any():
        return exact
    f1 = np.array([best_over_golds(f1_score, t, gold.answers) for t in texts])
    if len(f1) and f1.max() >= 0.5:
        return f1 == f1.max()
    return np.zeros(len(texts), dtype=bool)


def collect_examples(
    index: InMemoryIndex, questions: Sequence[GoldQuestion], folds: dict[str, int]
) -> list[_QuestionExamples]:
    examples = []
    for gold in questions:
        passages = index.retrieve(gold.question, RERANK_DEPTH)
        terms = question_terms(analyze_question(gold.question), index.index.idf)
        if not passages or not terms.terms:
            continue
        reading = read_passages(passages, terms)
        table = sentence_table(reading, terms)
        labels = _gold_sentences(reading, gold)
        if not labels.any():
            continue
        span_rows = span_hashed = span_labels = None
        row = int(np.flatnonzero(labels)[0])
        spans = span_table(reading, row, terms)
        words = reading.words[int(reading.sentence_passage[row])]
        candidate_labels = _span_labels(words, spans, gold)
        if candidate_labels.any():
            span_rows, span_hashed = spans.all_features().astype(np.float32), spans.hashed
            span_labels = candidate_labels
        examples.append(
            _QuestionExamples(
                fold=folds[gold.doc_id],
                sentence_rows=table.features.astype(np.float32),
                sentence_labels=labels,
                sentence_passage=reading.sentence_passage,
                passage_rows=passage_evidence(reading, terms, table),
                passage_labels=np.array([_is_gold_passage(p, gold) for p in passages]),
                span_rows=span_rows,
                span_hashed=span_hashed,
                span_labels=span_labels,
            )
        )
    return examples


def _fit_sentences(examples: Sequence[_QuestionExamples]) -> LinearModel:
    return fit_listwise(
        np.vstack([e.sentence_rows for e in examples]).astype(np.float64),
        np.array([len(e.sentence_rows) for e in examples]),
        np.concatenate([e.sentence_labels for e in examples]),
        l2=SENTENCE_L2,
        steps=SENTENCE_STEPS,
    )


def _fit_passages(
    examples: Sequence[_QuestionExamples], sentence_models: dict[int, LinearModel]
) -> LinearModel:
    """The passage model learns from sentence scores of a model that did not see the question
    (the other fold's), so that it trusts them as much as they deserve on new questions."""
    rows, sizes, labels = [], [], []
    for example in examples:
        if not example.passage_labels.any():
            continue
        scores = sentence_models[example.fold].scores(example.sentence_rows.astype(np.float64))
        features = example.passage_rows.copy()
        fill_passage_scores(features, scores, example.sentence_passage)
        rows.append(features)
        sizes.append(len(features))
        labels.append(example.passage_labels)
    return fit_listwise(np.vstack(rows), np.array(sizes), np.concatenate(labels), steps=600)


def _fit_spans(examples: Sequence[_QuestionExamples]) -> LinearModel:
    usable = [e for e in examples if e.span_rows is not None]
    return fit_listwise(
        np.vstack([e.span_rows for e in usable]).astype(np.float64),
        np.array([len(e.span_rows) for e in usable]),
        np.concatenate([e.span_labels for e in usable]),
        np.vstack([e.span_hashed for e in usable]),
    )


@dataclass
class _Evidence:
    """Per question asked in the no-answer runs: the answerability features, the confidence
    model's other inputs, and whether the top answer's sentence holds a gold answer."""

    features: np.ndarray
    confidence_inputs: np.ndarray
    right: np.ndarray

    @classmethod
    def join(cls, parts: Sequence[_Evidence]) -> _Evidence:
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in cls.__annotations__))


def _answerability_rows(
    answerer: Answerer, index: InMemoryIndex, questions: Sequence[GoldQuestion]
) -> _Evidence:
    features, inputs, right = [], [], []
    for gold in questions:
        passages = index.retrieve(gold.question, RERANK_DEPTH)
        reading = answerer.read(gold.question, passages, index.index, k=1)
        evidence = reading.answerability_features
        features.append(evidence if evidence is not None else np.zeros(len(ANSWERABILITY_FEATURES)))
        known = reading.confidence_inputs
        inputs.append(known if known is not None else np.zeros(len(CONFIDENCE_FEATURES) - 2))
        top = reading.result.answers[0] if reading.result.answers else None
        right.append(
            top is not None
            and top.doc_id == gold.doc_id
            and contains_answer(top.sentence, gold.answers)
        )
    return _Evidence(np.array(features), np.array(inputs), np.array(right, dtype=bool))


def _answerability_runs(answerer: Answerer, dev: Sequence[dict]) -> tuple[_Evidence, _Evidence]:
    """Evidence of answerable and unanswerable questions. Dev is dealt into folds; each fold's
    questions are asked against an index of all the other folds (unanswerable: the answer is
    truly absent), and so are the next fold's questions (answerable). An index of most of dev,
    not half of it: a bigger index holds more near-misses for an unanswerable question (a
    "Prime number" article for a question on complexity classes), and the product's corpora
    are bigger still."""
    count = min(ANSWERABILITY_FOLDS, len(dev))
    folds = [list(dev[i::count]) for i in range(count)]
    answerable, unanswerable = [], []
    for number, fold in enumerate(folds):
        others = [article for other in folds if other is not fold for article in other]
        index = InMemoryIndex(squad_articles(others))
        following = folds[(number + 1) % count]
        answerable.append(_answerability_rows(answerer, index, squad_questions(following)))
        unanswerable.append(_answerability_rows(answerer, index, squad_questions(fold)))
    return _Evidence.join(answerable), _Evidence.join(unanswerable)


def _fit_confidence(answerability: LinearModel, evidence: _Evidence) -> LinearModel:
    """P(the top answer's sentence holds the answer), over answerable and unanswerable
    questions alike (for these, never)."""
    rows = np.array(
        [
            confidence_features(sigmoid(float(score)), inputs)
            for score, inputs in zip(
                answerability.scores(evidence.features), evidence.confidence_inputs, strict=True
            )
        ]
    )
    return fit_logistic(rows, evidence.right)


def choose_threshold(answerable: np.ndarray, unanswerable: np.ndarray) -> tuple[float, float]:
    """The highest threshold answering ``TARGET_ANSWERED`` of the answerable questions, and the
    share of unanswerable ones it refuses."""
    threshold = float(np.quantile(answerable, 1 - TARGET_ANSWERED))
    return threshold, float((unanswerable < threshold).mean())


def _log(started: float, message: str) -> None:
    print(f"[{time.perf_counter() - started:6.1f} s] {message}", flush=True)


def train(data_path: Path, output: Path, *, all_articles: bool = False) -> dict:
    """Fit every model on dev (or, with ``all_articles``, on dev and validation together, with
    the same hyperparameters), write the weights to ``output`` and return dev's metrics."""
    started = time.perf_counter()
    data = json.loads(data_path.read_text(encoding="utf-8"))["data"]
    dev = list(data) if all_articles else select_articles(data, is_dev)
    halves = (dev[0::2], dev[1::2])
    folds = {squad_doc_id(a): fold for fold, half in enumerate(halves) for a in half}
    dev_index = InMemoryIndex(squad_articles(dev))
    dev_questions = squad_questions(dev)
    examples = collect_examples(dev_index, dev_questions, folds)
    _log(
        started,
        f"{len(examples)} of {len(dev_questions)} dev questions have the answer "
        f"in the top {RERANK_DEPTH}",
    )
    sentence = _fit_sentences(examples)
    held_out = {fold: _fit_sentences([e for e in examples if e.fold != fold]) for fold in (0, 1)}
    passage = _fit_passages(examples, held_out)
    span = _fit_spans(examples)
    _log(started, "sentence, passage and span models fitted")
    placeholders = (
        LinearModel(np.zeros(len(ANSWERABILITY_FEATURES))),
        LinearModel(np.zeros(len(CONFIDENCE_FEATURES))),
    )
    answerer = Answerer(model=AnswererModel(sentence, passage, span, *placeholders, 0.0))
    answerable, unanswerable = _answerability_runs(answerer, dev)
    answerability = fit_logistic(
        np.vstack([answerable.features, unanswerable.features]),
        np.concatenate([np.ones(len(answerable.right)), np.zeros(len(unanswerable.right))]),
    )
    confidence = _fit_confidence(answerability, _Evidence.join([answerable, unanswerable]))

    def probability(rows: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-answerability.scores(rows)))

    threshold, refused = choose_threshold(
        probability(answerable.features), probability(unanswerable.features)
    )
    _log(started, f"threshold {threshold:.4f} refuses {refused:.3f} of dev's unanswerable")
    model = AnswererModel(sentence, passage, span, answerability, confidence, threshold)
    summary = {
        "data": data_path.name,
        "split": TRAINED_ON_ALL if all_articles else TRAINED_ON_DEV,
        "includes_validation": all_articles,
        "dev_articles": len(dev),
        "threshold_refuses_on_dev_folds": round(refused, 4),
        "rerank_depth": RERANK_DEPTH,
        "span_hash_templates": list(SPAN_HASH_TEMPLATES),
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        json.dumps(model.to_json({"training": summary}), separators=(",", ":")) + "\n",
        encoding="utf-8",
    )
    metrics = _ask_all(dev_index, Answerer(model=model), dev_questions, [], 5, progress=False)
    _log(started, f"dev (trained on): {json.dumps(metrics)}")
    _log(started, f"wrote {output}")
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--output", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument(
        "--all",
        action="store_true",
        help="train on dev and validation articles together (for shipping; validation is then "
        "no longer held out)",
    )
    args = parser.parse_args(argv)
    train(args.data, args.output, all_articles=args.all)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
