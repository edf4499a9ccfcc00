"""Answered and refused at product scale: SQuAD questions against a news archive.

The no-answer model is fitted on indexes of a few SQuAD articles (~400 passages); a news archive
holds 100,000, where an off-topic question meets far more near-misses. This puts the SQuAD
validation articles (odd positions in the file) into one index with the news corpora, asks a
sample of their questions (answerable) and of the dev articles' questions (unanswerable: their
articles are not indexed), and reports both shares, as docs/evaluation.md quotes them.

    .venv/bin/python bench/bench_refusals_at_scale.py --news ../shared/data/news \\
        --squad ../shared/data/qa/squad-dev-shared.json --model /tmp/dev-only.json \\
        [--thresholds 0.3,0.5,0.7]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from retrieval.answerer import DEFAULT_MODEL_PATH, RERANK_DEPTH, Answerer
from retrieval.corpus import read_articles
from retrieval.evaluation import _ask_all, select_articles, squad_articles, squad_questions
from retrieval.train_answerer import InMemoryIndex, is_dev, is_validation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--news", type=Path, required=True, help="a news corpus folder")
    parser.add_argument("--squad", type=Path, required=True, help="squad-dev-shared.json")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--sample", type=int, default=800, help="questions of each kind")
    parser.add_argument(
        "--thresholds",
        type=lambda text: [float(value) for value in text.split(",")],
        default=[],
        help="also answered / refused at these no-answer thresholds, e.g. 0.3,0.5,0.7",
    )
    args = parser.parse_args()

    started = time.perf_counter()
    data = json.loads(args.squad.read_text(encoding="utf-8"))["data"]
    validation = select_articles(data, is_validation)
    rng = random.Random(0)
    answerable = squad_questions(validation)
    answerable = rng.sample(answerable, min(args.sample, len(answerable)))
    unanswerable = squad_questions(select_articles(data, is_dev))
    unanswerable = rng.sample(unanswerable, min(args.sample, len(unanswerable)))
    news = list(read_articles(args.news))
    index = InMemoryIndex(news + squad_articles(validation))
    answerer = Answerer(args.model)
    metrics = _ask_all(index, answerer, answerable, unanswerable, 5, progress=False)
    print(
        f"{len(news)} news articles + {len(validation)} SQuAD articles: "
        f"{index.index.n_docs} passages; weights {args.model}"
    )
    shown = ("recall@1", "recall@5", "sentence_accuracy", "answered", "refused", "threshold")
    print(json.dumps({name: metrics[name] for name in shown}))
    if args.thresholds:
        # How an operator's --threshold moves both shares on an index of this size.
        scores = [
            [_answerability(answerer, index, gold.question) for gold in questions]
            for questions in (answerable, unanswerable)
        ]
        print("| threshold | answered | refused |\n| --- | --- | --- |")
        for threshold in args.thresholds:
            answered = sum(score >= threshold for score in scores[0]) / len(scores[0])
            refused = sum(score < threshold for score in scores[1]) / len(scores[1])
            print(f"| {threshold:g} | {answered:.3f} | {refused:.3f} |")
    print(f"{time.perf_counter() - started:.0f} s")


def _answerability(answerer: Answerer, index: InMemoryIndex, question: str) -> float:
    passages = index.retrieve(question, RERANK_DEPTH)  # as the evaluation reads them
    return answerer.read(question, passages, index.index, k=1).answerability


if __name__ == "__main__":
    main()
