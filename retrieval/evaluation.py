"""``newsbite eval``: retrieval and answer quality on SQuAD v1.1 JSON or on a JSONL file.

SQuAD: a temporary in-memory index is built from the file's contexts (one article per SQuAD
article, one paragraph per context) and every question is asked against it. JSONL lines
{"question": ..., "answers": [...]} are asked against the configured corpus. With
``unanswerable``, that file's questions are asked too, and the answer counted right when it is
refused. EM and F1 use the official SQuAD v1.1 normalisation (lower case, no punctuation, no
articles, single spaces).

Metrics (answerable questions unless said otherwise):
  recall@1, recall@k  a gold passage among the first 1 / k passages after re-ranking (SQuAD: its
                      doc and paragraph range hold the question's context; JSONL: it contains a
                      gold answer)
  mrr                 mean reciprocal rank of the first gold passage among all passages read
  sentence_accuracy   the top answer's sentence contains a gold answer
  em, f1              of the top answer's short span, refused or not (the reader's quality)
  answered            share not refused at the threshold
  refused             share of unanswerable questions refused
  confidence_error    expected calibration error of the top answer's confidence against "its
                      sentence holds a gold answer" (unanswerable questions included: never)
  latency             p50/p95 of retrieve + answer, and of the answer stage alone, in ms
"""

from __future__ import annotations

import collections
import json
import re
import string
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from retrieval.answerer import DEFAULT_MODEL_PATH, RERANK_DEPTH, Answerer
from retrieval.chunks import PARAGRAPH_SEPARATOR
from retrieval.documents import Article, Passage

ArticleSelection = slice | Callable[[int, dict], bool] | None


class Retriever(Protocol):
    """What evaluation needs of an engine: QAEngine has both."""

    def retrieve(self, question: str, k: int = 5) -> list[Passage]: ...

    @property
    def index(self) -> Any: ...


# -- SQuAD -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GoldQuestion:
    question: str
    answers: tuple[str, ...]
    doc_id: str | None = None  # SQuAD only: where the answer is
    paragraph: int | None = None  # 1-based
    answer_offsets: tuple[int, ...] = ()  # answer starts in the article body (chunk offsets)


def is_squad_file(path: Path) -> bool:
    """True for a SQuAD-style JSON file (an object with a "data" list), False for JSONL."""
    with path.open(encoding="utf-8") as handle:
        head = handle.read(4096).lstrip()
    if not head.startswith("{"):
        return False
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return False  # JSONL: one object per line is not one JSON document
    return isinstance(data, dict) and isinstance(data.get("data"), list)


def load_squad(path: Path, articles: ArticleSelection = None) -> list[dict]:
    """The SQuAD file's articles, optionally a selection of them (by slice, or by a predicate
    on (position, article))."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    return select_articles(data, articles)


def select_articles(data: list[dict], articles: ArticleSelection) -> list[dict]:
    if articles is None:
        return list(data)
    if isinstance(articles, slice):
        return list(data[articles])
    return [article for position, article in enumerate(data) if articles(position, article)]


def squad_doc_id(article: dict) -> str:
    return article["title"]


def squad_articles(data: Sequence[dict]) -> list[Article]:
    """One Article per SQuAD article, one paragraph per context."""
    return [
        Article(
            doc_id=squad_doc_id(article),
            title=article["title"].replace("_", " "),
            url=None,
            date=None,
            paragraphs=tuple(p["context"] for p in article["paragraphs"]),
        )
        for article in data
    ]


def squad_questions(data: Sequence[dict]) -> list[GoldQuestion]:
    questions = []
    for article in data:
        offset = 0
        for number, paragraph in enumerate(article["paragraphs"], 1):
            for qa in paragraph["qas"]:
                questions.append(
                    GoldQuestion(
                        question=qa["question"],
                        answers=tuple(a["text"] for a in qa["answers"]),
                        doc_id=squad_doc_id(article),
                        paragraph=number,
                        answer_offsets=tuple(offset + a["answer_start"] for a in qa["answers"]),
                    )
                )
            offset += len(paragraph["context"]) + len(PARAGRAPH_SEPARATOR)
    return questions


def load_jsonl(path: Path) -> list[GoldQuestion]:
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            questions.append(GoldQuestion(record["question"], tuple(record.get("answers") or ())))
    return questions


def load_questions(path: Path, articles: ArticleSelection = None) -> list[GoldQuestion]:
    """Questions of a SQuAD file or of a JSONL file."""
    if is_squad_file(path):
        return squad_questions(load_squad(path, articles))
    return load_jsonl(path)


# -- SQuAD v1.1 answer normalisation and scores -----------------------------------------------

_ARTICLES_RE = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower case, punctuation and articles removed, white space collapsed (SQuAD v1.1)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES_RE.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> bool:
    return normalize_answer(prediction) == normalize_answer(gold)


def f1_score(prediction: str, gold: str) -> float:
    predicted = normalize_answer(prediction).split()
    expected = normalize_answer(gold).split()
    common = collections.Counter(predicted) & collections.Counter(expected)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(expected)
    return 2 * precision * recall / (precision + recall)


def best_over_golds(score: Callable[[str, str], float], prediction: str, golds: Iterable[str]):
    return max((score(prediction, gold) for gold in golds), default=0.0)


def contains_answer(text: str, golds: Iterable[str]) -> bool:
    """``text`` holds one of the answers, compared after SQuAD normalisation, whole words."""
    padded = f" {normalize_answer(text)} "
    return any(
        (normalized := normalize_answer(gold)) and f" {normalized} " in padded for gold in golds
    )


# -- running the questions ----------------------------------------------------------------------


@dataclass(slots=True)
class _Tally:
    """Running sums for the answerable questions and the refusals."""

    asked: int = 0
    hit_at_1: int = 0
    hit_at_k: int = 0
    reciprocal_rank: float = 0.0
    sentence_right: int = 0
    exact: float = 0.0
    f1: float = 0.0
    answered: int = 0
    unanswerable: int = 0
    refused: int = 0


def _is_gold_passage(passage: Passage, gold: GoldQuestion) -> bool:
    chunk = passage.chunk
    if gold.doc_id is None:
        return contains_answer(chunk.text, gold.answers)
    last_paragraph = chunk.paragraph + chunk.text.count(PARAGRAPH_SEPARATOR)
    if chunk.doc_id != gold.doc_id or not chunk.paragraph <= gold.paragraph <= last_paragraph:
        return False
    # A long context is cut into several chunks: the right one holds an answer's offset.
    return any(chunk.start <= offset < chunk.end for offset in gold.answer_offsets) or not (
        gold.answer_offsets
    )


def _ask_all(
    engine: Retriever,
    answerer: Answerer,
    questions: Sequence[GoldQuestion],
    unanswerable: Sequence[GoldQuestion],
    k: int,
    progress: bool,
) -> dict:
    tally = _Tally()
    total_ms: list[float] = []
    answer_ms: list[float] = []
    depth = max(k, RERANK_DEPTH)
    confidences: list[float] = []  # of the top answer, answerable and unanswerable questions
    right: list[bool] = []  # its sentence holds a gold answer (never, when unanswerable)
    work = [(q, True) for q in questions] + [(q, False) for q in unanswerable]
    bar = _Progress(len(work)) if progress else None
    for done, (gold, answerable) in enumerate(work, 1):
        started = time.perf_counter()
        passages = engine.retrieve(gold.question, depth)
        retrieved = time.perf_counter()
        reading = answerer.read(gold.question, passages, engine.index, k=1)
        finished = time.perf_counter()
        total_ms.append((finished - started) * 1000)
        answer_ms.append((finished - retrieved) * 1000)
        result = reading.result
        if bar:
            bar.update(done)
        top = result.answers[0] if result.answers else None
        confidences.append(top.confidence if top else 0.0)
        right.append(answerable and top is not None and contains_answer(top.sentence, gold.answers))
        if not answerable:
            tally.unanswerable += 1
            tally.refused += result.no_answer
            continue
        tally.asked += 1
        tally.answered += not result.no_answer
        ranks = [i for i, p in enumerate(reading.ranked_passages) if _is_gold_passage(p, gold)]
        if ranks:
            tally.hit_at_1 += ranks[0] < 1
            tally.hit_at_k += ranks[0] < k
            tally.reciprocal_rank += 1 / (ranks[0] + 1)
        if top is not None:
            tally.sentence_right += right[-1]
            if top.answer is not None:
                tally.exact += best_over_golds(exact_match, top.answer, gold.answers)
                tally.f1 += best_over_golds(f1_score, top.answer, gold.answers)
    if bar:
        bar.close()
    asked = max(tally.asked, 1)
    return {
        "questions": tally.asked,
        "unanswerable_questions": tally.unanswerable,
        "k": k,
        "depth": depth,
        "recall@1": round(tally.hit_at_1 / asked, 4),
        f"recall@{k}": round(tally.hit_at_k / asked, 4),
        "mrr": round(tally.reciprocal_rank / asked, 4),
        "sentence_accuracy": round(tally.sentence_right / asked, 4),
        "em": round(tally.exact / asked, 4),
        "f1": round(tally.f1 / asked, 4),
        "answered": round(tally.answered / asked, 4),
        "refused": round(tally.refused / tally.unanswerable, 4) if tally.unanswerable else None,
        "threshold": answerer.no_answer_threshold,
        "confidence_error": calibration_error(confidences, right),
        "latency_ms_p50": _percentile(total_ms, 50),
        "latency_ms_p95": _percentile(total_ms, 95),
        "answer_ms_p50": _percentile(answer_ms, 50),
        "answer_ms_p95": _percentile(answer_ms, 95),
    }


def calibration_error(
    confidences: Sequence[float], right: Sequence[bool], bins: int = 10
) -> float | None:
    """Expected calibration error: over ten equal-width bins of confidence, the gap between the
    mean confidence and the share right, weighted by the bin's size (0 = calibrated)."""
    if not confidences:
        return None
    values, hits = np.asarray(confidences, dtype=np.float64), np.asarray(right, dtype=np.float64)
    which = np.minimum((values * bins).astype(np.int64), bins - 1)
    error = 0.0
    for number in np.unique(which):
        inside = which == number
        error += inside.mean() * abs(values[inside].mean() - hits[inside].mean())
    return round(float(error), 4)


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


class _Progress:
    """A one-line progress counter on stderr."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._last = 0.0

    def update(self, done: int) -> None:
        now = time.monotonic()
        if done < self.total and now - self._last < 0.2:
            return
        self._last = now
        width = 30
        filled = width * done // max(self.total, 1)
        sys.stderr.write(f"\reval [{'#' * filled}{'-' * (width - filled)}] {done}/{self.total}")
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")
        sys.stderr.flush()


def evaluate_squad(
    path: Path,
    *,
    unanswerable: Path | None = None,
    k: int = 5,
    answerer: Answerer | None = None,
    progress: bool = False,
    articles: ArticleSelection = None,
    unanswerable_articles: ArticleSelection = None,
) -> dict:
    """Metrics for the SQuAD file's questions against an index of its own contexts."""
    from retrieval.engine import QAEngine

    data = load_squad(path, articles)
    answerer = answerer or Answerer()
    engine = QAEngine.from_articles(squad_articles(data), answerer=answerer)
    try:
        refusals = load_questions(unanswerable, unanswerable_articles) if unanswerable else []
        metrics = _ask_all(engine, answerer, squad_questions(data), refusals, k, progress)
    finally:
        engine.close()
    metrics["articles"] = len(data)
    return metrics


def evaluate_jsonl(
    path: Path,
    engine: Retriever,
    *,
    unanswerable: Path | None = None,
    k: int = 5,
    progress: bool = False,
) -> dict:
    """Metrics for JSONL questions against the engine's corpus (recall: a passage among the
    first k contains a gold answer)."""
    answerer = getattr(engine, "answerer", None) or Answerer()
    refusals = load_questions(unanswerable) if unanswerable else []
    return _ask_all(engine, answerer, load_jsonl(path), refusals, k, progress)


def format_report(metrics: dict) -> str:
    k = metrics.get("k", 5)

    def percent(name: str) -> str:
        value = metrics.get(name)
        return "n/a" if value is None else f"{100 * value:.1f} %"

    lines = [
        f"questions            {metrics.get('questions', 0)}"
        + (
            f" (+ {metrics['unanswerable_questions']} unanswerable)"
            if metrics.get("unanswerable_questions")
            else ""
        ),
        f"recall@1             {percent('recall@1')}",
        f"recall@{k:<14}{percent(f'recall@{k}')}",
        f"MRR                  {metrics.get('mrr', 0):.3f}",
        f"answer sentence      {percent('sentence_accuracy')}",
        f"exact match          {percent('em')}",
        f"F1                   {percent('f1')}",
        f"answered             {percent('answered')}  (threshold {metrics.get('threshold')})",
        f"refused (unanswer.)  {percent('refused')}",
        f"confidence error     {metrics.get('confidence_error')}  (0 = calibrated)",
        f"latency p50 / p95    {metrics.get('latency_ms_p50')} / {metrics.get('latency_ms_p95')} ms"
        f"  (answer stage {metrics.get('answer_ms_p50')} / {metrics.get('answer_ms_p95')} ms)",
    ]
    return "\n".join(lines)


def _by_parity(parity: int) -> Callable[[int, dict], bool]:
    return lambda position, _article: position % 2 == parity


def _trained_on_validation(model_path: Path) -> bool:
    training = json.loads(model_path.read_text(encoding="utf-8")).get("training", {})
    return bool(training.get("includes_validation"))


def main(argv: Sequence[str] | None = None) -> int:
    """The dev / validation measurement of docs/evaluation.md: one split's questions against an
    index of its own contexts, the other split's questions as the unanswerable ones."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m retrieval.evaluation")
    parser.add_argument("file", type=Path, help="SQuAD v1.1 JSON")
    parser.add_argument(
        "--split",
        choices=("dev", "validation"),
        required=True,
        help="dev = articles at even positions of the file, validation = odd",
    )
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--model",
        type=Path,
        default=DEFAULT_MODEL_PATH,
        help="answerer weights (default: the shipped ones); "
        "python -m retrieval.train_answerer --output PATH trains dev-only weights",
    )
    args = parser.parse_args(argv)
    parity = 0 if args.split == "dev" else 1
    if args.split == "validation" and _trained_on_validation(args.model):
        print(
            "warning: the answerer's weights were trained on the validation articles too "
            "(train_answerer --all): these are not held-out numbers",
            file=sys.stderr,
        )
    metrics = evaluate_squad(
        args.file,
        unanswerable=args.file,
        k=args.k,
        answerer=Answerer(args.model),
        progress=sys.stderr.isatty(),
        articles=_by_parity(parity),
        unanswerable_articles=_by_parity(1 - parity),
    )
    print(json.dumps(metrics) if args.json else format_report(metrics))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
