"""``newsbite eval`` logic: SQuAD scoring, file detection, metrics on tiny QA files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.engine import QAEngine
from retrieval.evaluation import (
    calibration_error,
    contains_answer,
    evaluate_jsonl,
    evaluate_squad,
    exact_match,
    f1_score,
    format_report,
    is_squad_file,
    load_questions,
    normalize_answer,
)
from retrieval.text_reader import read_plain_text

SEED = Path(__file__).resolve().parent.parent / "seeds" / "000_75b43c9b3084b6a9.txt"

HARBOUR = (
    "The old harbour bridge in Port Avalon was completed in 1932 after years of delays. "
    "Engineers inspect its steel cables every spring."
)
QUAKE = (
    "A magnitude 6.1 earthquake struck the coastal city on Tuesday. The quake killed 12 people "
    "and injured more than 200, according to the regional health ministry."
)
FESTIVAL = (
    "The Northbridge Film Festival opened on Friday with a record 45,000 visitors. "
    "The festival runs for ten days and shows 180 films from 41 countries."
)


def _qa(question: str, answer: str, context: str) -> dict:
    return {
        "id": question,
        "question": question,
        "answers": [{"text": answer, "answer_start": context.index(answer)}],
    }


def _squad(path: Path) -> Path:
    data = {
        "version": "1.1",
        "data": [
            {
                "title": "Port_Avalon",
                "paragraphs": [
                    {
                        "context": HARBOUR,
                        "qas": [_qa("When was the harbour bridge completed?", "1932", HARBOUR)],
                    },
                    {
                        "context": QUAKE,
                        "qas": [_qa("How many people did the quake kill?", "12 people", QUAKE)],
                    },
                ],
            },
            {
                "title": "Northbridge",
                "paragraphs": [
                    {
                        "context": FESTIVAL,
                        "qas": [
                            _qa("How many visitors came to the film festival?", "45,000", FESTIVAL)
                        ],
                    }
                ],
            },
        ],
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("The Denver Broncos", "denver broncos"),
        ("  an   apple, a pear!", "apple pear"),
        ("$1.2 billion", "12 billion"),
        ("Theatre", "theatre"),
    ],
)
def test_normalize_answer_is_squad_v1_1(text: str, normalised: str) -> None:
    assert normalize_answer(text) == normalised


def test_exact_match_and_f1() -> None:
    assert exact_match("the Broncos", "Broncos")
    assert not exact_match("Denver", "Denver Broncos")
    assert f1_score("Denver", "Denver Broncos") == pytest.approx(2 / 3)
    assert f1_score("Panthers", "Denver Broncos") == 0.0
    assert f1_score("", "Broncos") == 0.0


def test_contains_answer_matches_whole_words_after_normalising() -> None:
    assert contains_answer("It killed 87 people last week.", ["87 people"])
    assert contains_answer("Won by the Denver Broncos.", ["Denver Broncos!"])
    assert not contains_answer("It killed 187 people.", ["87 people"])
    assert not contains_answer("anything", [""])


def test_is_squad_file(tmp_path: Path) -> None:
    assert is_squad_file(_squad(tmp_path / "qa.json"))
    jsonl = tmp_path / "qa.jsonl"
    jsonl.write_text('{"question": "Who?", "answers": ["Putin"]}\n{"question": "When?"}\n')
    assert not is_squad_file(jsonl)
    assert [q.question for q in load_questions(jsonl)] == ["Who?", "When?"]


def test_squad_questions_carry_their_paragraph(tmp_path: Path) -> None:
    questions = load_questions(_squad(tmp_path / "qa.json"))
    assert [(q.doc_id, q.paragraph) for q in questions] == [
        ("Port_Avalon", 1),
        ("Port_Avalon", 2),
        ("Northbridge", 1),
    ]
    # The answer offset is in the article body: paragraphs joined by a blank line.
    body = HARBOUR + "\n\n" + QUAKE
    second = questions[1]
    assert body[second.answer_offsets[0] :].startswith("12 people")


def test_evaluate_squad_on_a_tiny_file(tmp_path: Path) -> None:
    metrics = evaluate_squad(_squad(tmp_path / "qa.json"), k=5)
    assert metrics["questions"] == 3
    assert metrics["articles"] == 2
    assert metrics["recall@1"] == 1.0
    assert metrics["recall@5"] == 1.0
    assert metrics["mrr"] == 1.0
    assert metrics["sentence_accuracy"] == 1.0
    assert metrics["em"] >= 2 / 3
    assert 0.0 <= metrics["f1"] <= 1.0
    assert metrics["refused"] is None
    assert 0.0 <= metrics["confidence_error"] <= 1.0
    assert metrics["latency_ms_p50"] > 0


def test_evaluate_squad_article_selection(tmp_path: Path) -> None:
    path = _squad(tmp_path / "qa.json")
    metrics = evaluate_squad(path, articles=slice(1, 2))
    assert metrics["questions"] == 1
    assert metrics["articles"] == 1


def test_unanswerable_questions_are_counted_as_refusals(tmp_path: Path) -> None:
    path = _squad(tmp_path / "qa.json")
    unanswerable = tmp_path / "other.jsonl"
    unanswerable.write_text(
        '{"question": "Which chemical element has the atomic number 79?", "answers": []}\n'
        '{"question": "Who wrote the opera Tosca?", "answers": []}\n'
    )
    metrics = evaluate_squad(path, unanswerable=unanswerable)
    assert metrics["unanswerable_questions"] == 2
    assert metrics["refused"] == 1.0
    assert "refused" in format_report(metrics)


def test_evaluate_jsonl_against_an_engine(tmp_path: Path) -> None:
    article = read_plain_text(SEED.read_text(encoding="utf-8"), SEED.name, "seed")
    engine = QAEngine.from_articles([article])
    questions = tmp_path / "seed.jsonl"
    questions.write_text(
        json.dumps({"question": "How many people did the attack kill?", "answers": ["87"]}) + "\n"
    )
    try:
        metrics = evaluate_jsonl(questions, engine, k=3)
    finally:
        engine.close()
    assert metrics["questions"] == 1
    assert metrics["recall@1"] == 1.0
    assert metrics["sentence_accuracy"] == 1.0
    assert metrics["answered"] == 1.0


def test_calibration_error() -> None:
    # Right as often as claimed in every bin: calibrated.
    assert (
        calibration_error([0.25] * 4 + [0.95] * 20, [True] + [False] * 3 + [True] * 19 + [False])
        == 0.0
    )
    # Always sure, right half the time: off by half.
    assert calibration_error([1.0, 1.0], [True, False]) == 0.5
    # Two bins, each off by 0.1, weighted by their sizes.
    assert calibration_error(
        [0.1, 0.1, 0.9, 0.9, 0.9, 0.9], [False, False, True, True, True, True]
    ) == pytest.approx(0.1)
    assert calibration_error([], []) is None


def test_format_report_lists_every_metric() -> None:
    metrics = {
        "questions": 10,
        "k": 5,
        "recall@1": 0.8,
        "recall@5": 0.9,
        "mrr": 0.85,
        "sentence_accuracy": 0.7,
        "em": 0.4,
        "f1": 0.5,
        "answered": 0.95,
        "refused": None,
        "threshold": 0.4,
        "latency_ms_p50": 3.0,
        "latency_ms_p95": 5.0,
        "answer_ms_p50": 2.0,
        "answer_ms_p95": 4.0,
    }
    report = format_report(metrics)
    for label in ("recall@1", "recall@5", "MRR", "answer sentence", "exact match", "F1"):
        assert label in report
    assert "80.0 %" in report and "n/a" in report
