"""The extractive answerer: short answers by question type, substring guarantees, no-answer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ranked_passages import ranked_passages

from retrieval.answerer import Answerer
from retrieval.bm25 import BM25Index
from retrieval.documents import Article, Passage
from retrieval.engine import QAEngine
from retrieval.linear_model import WeightsError
from retrieval.text_reader import read_plain_text

SEED = Path(__file__).resolve().parent.parent / "seeds" / "000_75b43c9b3084b6a9.txt"

# Sentences written for these tests, one fact per question type, with distractors around.
PARAGRAPHS = (
    "The old harbour bridge in Port Avalon was completed in 1932 after years of delays. "
    "Engineers still inspect its steel cables every spring.",
    "A magnitude 6.1 earthquake struck the coastal city on Tuesday. The quake killed 12 people "
    "and injured more than 200, according to the regional health ministry.",
    "Mayor Helena Duarte said rescue teams had worked through the night to reach collapsed "
    "buildings. Volunteers brought blankets and water to the shelters.",
    "The climate summit was held in Geneva, where delegates from 41 countries met. "
    "Protesters gathered outside the conference hall.",
    "The dock workers' strike lasted three weeks and halted most container traffic. "
    "Shipping companies said the losses would take months to recover.",
    "Northwind Motors unveiled an electric pickup truck called the Ranger E at the show. "
    "The company said deliveries would begin next year.",
)


@pytest.fixture(scope="module")
def answerer() -> Answerer:
    return Answerer()


@pytest.fixture(scope="module")
def harbour_engine(answerer: Answerer) -> QAEngine:
    article = Article("harbour.txt", "Port Avalon news", None, None, PARAGRAPHS)
    engine = QAEngine.from_articles([article], answerer=answerer)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def seed_engine(answerer: Answerer) -> QAEngine:
    article = read_plain_text(SEED.read_text(encoding="utf-8"), SEED.name, "seed")
    assert article is not None
    engine = QAEngine.from_articles([article], answerer=answerer)
    yield engine
    engine.close()


def _passages(paragraphs: tuple[str, ...], question: str) -> tuple[list[Passage], BM25Index]:
    return ranked_passages(paragraphs, question)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Who said rescue teams had worked through the night?", "Helena Duarte"),
        ("In what year was the harbour bridge completed?", "1932"),
        ("How many people did the quake kill?", "12 people"),
        ("Where was the climate summit held?", "Geneva"),
        ("How long did the dock workers' strike last?", "three weeks"),
        ("What truck did Northwind Motors unveil?", "Ranger E"),
    ],
)
def test_short_answer_by_question_type(
    harbour_engine: QAEngine, question: str, expected: str
) -> None:
    result = harbour_engine.answer(question, k=3)
    assert not result.no_answer
    best = result.answers[0]
    assert best.answer is not None
    assert expected in best.answer
    # Short: the answer is the fact, not the sentence around it.
    assert len(best.answer) <= len(expected) + 15
    assert best.answer in best.sentence


@pytest.mark.parametrize(
    ("sentence", "question", "expected"),
    [
        (
            "Firefighters reached the burning warehouse on Tuesday, the city council said.",
            "When did firefighters reach the warehouse?",
            "Tuesday",
        ),
        (
            "The new ferry line to Kingsport opened two weeks ago after long delays.",
            "When did the ferry line to Kingsport open?",
            "two weeks ago",
        ),
        (
            "Hopes of a deal were dashed in the past week after the minister resigned.",
            "When were hopes of a deal dashed?",
            "past week",
        ),
        (
            "The bakery on Mill Street closed last week after the fire.",
            "When did the bakery on Mill Street close?",
            "last week",
        ),
    ],
)
def test_when_without_a_date_answers_with_the_day_or_the_time_ago(
    answerer: Answerer, sentence: str, question: str, expected: str
) -> None:
    """News says when the news way: a "when" answer then ends with the day or "ago", not with
    whatever the span model likes best in a sentence that holds no date."""
    passages, index = _passages((sentence,), question)
    assert answerer.answer(question, passages, index, k=1).answers[0].answer == expected


def test_how_long_wants_a_counted_duration_or_no_short_answer(answerer: Answerer) -> None:
    question = "How long did the strike at the smelter last?"
    counted = "The strike at the smelter lasted 18 months, the union said."
    passages, index = _passages((counted,), question)
    assert answerer.answer(question, passages, index, k=1).answers[0].answer == "18 months"
    # A number and a time unit, but no duration: the sentence is shown without a short answer.
    uncounted = "The strike at the smelter cut 110,000 long tons of lead from output last year."
    passages, index = _passages((uncounted,), question)
    best = answerer.answer(question, passages, index, k=1).answers[0]
    assert best.sentence == uncounted
    assert best.answer is None
    # "Since" a date says how long too.
    since = "Radio Tyneside has been the hospital radio service since 1951."
    question = "How long has Radio Tyneside been the hospital radio service?"
    passages, index = _passages((since,), question)
    assert answerer.answer(question, passages, index, k=1).answers[0].answer == "since 1951"


def test_answers_are_exact_substrings_with_true_offsets(harbour_engine: QAEngine) -> None:
    questions = [
        "Who said rescue teams had worked through the night?",
        "How many people did the quake kill?",
        "What did volunteers bring?",
        "When did the earthquake strike?",
        "What will shipping companies recover?",
    ]
    for question in questions:
        for answer in harbour_engine.answer(question, k=3).answers:
            start = answer.sentence_start
            assert answer.passage[start : start + len(answer.sentence)] == answer.sentence
            if answer.answer is not None:
                assert answer.sentence[answer.answer_start : answer.answer_end] == answer.answer
            assert 0.0 <= answer.confidence <= 1.0


def test_answer_never_only_repeats_the_question(harbour_engine: QAEngine) -> None:
    question = "Who said rescue teams had worked through the night?"
    question_words = {w.lower().strip("?") for w in question.split()}
    for answer in harbour_engine.answer(question, k=3).answers:
        if answer.answer is not None:
            assert {w.lower() for w in answer.answer.split()} - question_words


@pytest.mark.parametrize(
    ("sentence", "question"),
    [
        (
            "The census counted 1,388 (0.9%) same-sex married couples or partnerships.",
            "How many same-sex married couples or partnerships were there?",
        ),
        (
            "Of the households, 68,511 (43.3%) had children under the age of 18 living there.",
            "How many households had children under 18?",
        ),
        (
            "The team won 160 (1976) and later 172 (1980) matches in the league.",
            "How many matches did the team win?",
        ),
    ],
)
def test_a_short_answer_never_leaves_a_bracket_open(
    answerer: Answerer, sentence: str, question: str
) -> None:
    """Spans such as "1,388 (0.9%" score well here (a figure next to the question's words):
    whichever the model prefers, the answer is a figure with its brackets closed."""
    passages, index = _passages((sentence,), question)
    answer = answerer.answer(question, passages, index, k=1).answers[0].answer
    assert answer and any(c.isdigit() for c in answer) and answer in sentence
    assert answer.count("(") == answer.count(")")


def test_answers_come_from_different_sentences(harbour_engine: QAEngine) -> None:
    answers = harbour_engine.answer("What did the company say?", k=3).answers
    assert len(answers) == 3
    assert len({(a.chunk_id, a.sentence_start) for a in answers}) == 3


def test_short_answers_only_for_the_first_answers_when_asked(seed_engine: QAEngine) -> None:
    question = "How many people did the attack kill?"
    full = seed_engine.answer(question, k=3)
    lean = seed_engine.answer(question, k=3, short_answers=1)
    assert len(lean.answers) == len(full.answers) == 3
    assert lean.answers[0] == full.answers[0]  # the best answer keeps its short answer
    assert [a.sentence for a in lean.answers] == [a.sentence for a in full.answers]
    assert [a.confidence for a in lean.answers] == [a.confidence for a in full.answers]
    assert all(a.answer is None and a.answer_start is None for a in lean.answers[1:])


def test_paragraph_is_the_one_holding_the_sentence() -> None:
    # The short first paragraph is merged into the next chunk: the sentence in the second
    # paragraph must cite paragraph 2, not the chunk's first paragraph.
    paragraphs = ("Breaking news.", "The museum reopened on Monday with 300 new paintings.")
    question = "How many new paintings did the museum show?"
    passages, index = _passages(paragraphs, question)
    assert passages[0].chunk.paragraph == 1
    best = Answerer().answer(question, passages, index, k=1).answers[0]
    assert best.paragraph == 2
    assert "300" in (best.answer or "")


def test_no_answer_when_the_corpus_does_not_hold_it(seed_engine: QAEngine) -> None:
    result = seed_engine.answer("What is the boiling point of liquid nitrogen?", k=3)
    assert result.no_answer
    assert result.best is None
    # The closest candidates are still listed for the CLI to show.
    assert result.answers


def test_confidence_is_high_for_the_answer_and_low_for_the_nearest_miss(
    seed_engine: QAEngine,
) -> None:
    answered = seed_engine.answer("How many people did the attack kill?", k=1).answers[0]
    missed = seed_engine.answer("What is the boiling point of liquid nitrogen?", k=1).answers[0]
    assert answered.confidence > 0.7
    assert missed.confidence < 0.1


def test_threshold_is_configurable(seed_engine: QAEngine) -> None:
    question = "What is the boiling point of liquid nitrogen?"
    passages = seed_engine.retrieve(question, 10)
    index = seed_engine.index
    assert not Answerer(no_answer_threshold=0.0).answer(question, passages, index).no_answer
    answered = "How many people did the attack kill?"
    passages = seed_engine.retrieve(answered, 10)
    assert Answerer(no_answer_threshold=1.01).answer(answered, passages, index).no_answer


def test_default_threshold_comes_from_the_weights_file(answerer: Answerer) -> None:
    assert 0.0 < answerer.no_answer_threshold < 1.0
    assert answerer.no_answer_threshold == answerer.model.no_answer_threshold


def test_no_passages_means_no_answer(answerer: Answerer) -> None:
    index = BM25Index.from_documents([["unrelated"]])
    result = answerer.answer("Who met Tillerson?", [], index)
    assert result.no_answer
    assert result.answers == []


def test_question_without_content_words(answerer: Answerer) -> None:
    passages, index = _passages(PARAGRAPHS, "quake")
    result = answerer.answer("What is it?", passages, index)
    assert result.no_answer


def test_weights_for_other_features_are_refused(tmp_path: Path) -> None:
    shipped = json.loads(
        (Path(__file__).resolve().parent.parent / "retrieval/data/answerer.json").read_text()
    )
    shipped["sentence"]["features"] = shipped["sentence"]["features"][:-1]
    broken = tmp_path / "answerer.json"
    broken.write_text(json.dumps(shipped))
    with pytest.raises(WeightsError):
        Answerer(broken)


# -- the bundled article, through the real engine ----------------------------------------------


def test_seed_how_many_were_killed(seed_engine: QAEngine) -> None:
    result = seed_engine.answer("How many people were killed in the attack?", k=3)
    assert not result.no_answer
    best = result.answers[0]
    assert best.answer == "87 people"
    assert "killed 87 people" in best.sentence
    assert best.title and best.doc_id == SEED.name and best.paragraph >= 1


def test_seed_who_met_tillerson(seed_engine: QAEngine) -> None:
    result = seed_engine.answer("Who met Tillerson?", k=3)
    assert not result.no_answer
    names = " ".join(a.answer or "" for a in result.answers)
    assert "Putin" in names and "Lavrov" in names
    assert result.answers[0].answer is not None
    assert any(name in result.answers[0].answer for name in ("Putin", "Lavrov"))


def test_seed_how_long_has_the_war_lasted(seed_engine: QAEngine) -> None:
    result = seed_engine.answer("How long has the Syrian war lasted?", k=3)
    assert not result.no_answer
    assert result.answers[0].answer in ("six-year", "six years", "six-year civil war")


def test_seed_when_did_the_us_fire_missiles(seed_engine: QAEngine) -> None:
    # "... has been dashed in the past week after the new US leader fired missiles at Syria"
    result = seed_engine.answer("When did Trump fire missiles at Syria?", k=1)
    assert result.answers[0].answer == "past week"


def test_the_best_span_is_cut_before_a_bracket_it_leaves_open() -> None:
    from retrieval.answerer import _best_balanced
    from retrieval.span_features import SpanTable
    from retrieval.spans import passage_words, span_offsets

    text = "The census counted 1,388 (0.9%) couples."
    words = passage_words(text, ((0, len(text)),))
    first = next(i for i in range(len(words)) if text[slice(*span_offsets(words, i, i))] == "1,388")
    broken_end = next(
        i
        for i in range(first, len(words))
        if text[slice(*span_offsets(words, first, i))] == "1,388 (0.9%"
    )
    # Favoured: "1,388 (0.9%" (broken); the other candidate is "couples".
    spans = SpanTable(
        np.array([first, len(words) - 1]),
        np.array([broken_end, len(words) - 1]),
        np.zeros((2, 1)),
        np.zeros((2, 1), dtype=np.int64),
        type_number=0,
    )
    start, end = _best_balanced(np.array([2.0, 1.0]), spans, words)
    assert text[slice(*span_offsets(words, start, end))] == "1,388"


def test_the_same_match_tells_less_in_a_bigger_index(
    answerer: Answerer, seed_engine: QAEngine
) -> None:
    # A passage holding the question's words is likelier by chance among a million passages
    # than among a hundred: the same evidence must weigh less (match_surprise).
    question = "How many people did the attack kill?"
    passages = seed_engine.retrieve(question, 10)
    index = seed_engine.index

    class Bigger:
        n_docs = index.n_docs * 10_000
        idf = staticmethod(index.idf)

    as_indexed = answerer.read(question, passages, index, k=1)
    bigger = answerer.read(question, passages, Bigger(), k=1)
    assert bigger.answerability < as_indexed.answerability
    assert [a.sentence for a in bigger.result.answers] == [
        a.sentence for a in as_indexed.result.answers
    ]
