"""Span and sentence features: wh-anchors, name runs, chunk boundaries, question word order."""

from __future__ import annotations

import numpy as np
import pytest
from ranked_passages import ranked_passages

from retrieval.answer_features import QuestionTerms, Reading, question_terms, read_passages
from retrieval.answerer import Answerer
from retrieval.bm25 import BM25Index
from retrieval.chunks import chunk_article
from retrieval.documents import Article, Passage
from retrieval.linear_model import LinearModel
from retrieval.question_types import analyze_question
from retrieval.sentence_features import SENTENCE_FEATURES, sentence_table, sentence_tables_of_many
from retrieval.span_features import (
    SPAN_FEATURES,
    SpanScorer,
    SpanTable,
    span_table,
    span_tables,
    span_tables_of_many,
)
from retrieval.spans import span_offsets

PARAGRAPHS = (
    "Kublai Khan started the Yuan dynasty in 1271. He created the Imperial Academy of Medicine "
    "to train new doctors.",
    "The satellite broadcaster Sky UK Limited was formerly known as British Sky Broadcasting.",
    "Harvest festivals were held in the valley every autumn, and farmers sold the apples. "
    "Traders from the coast arrived quickly.",
    "The Kremlin had declined to confirm if Mr Putin would meet Mr Tillerson in Moscow.",
)


def _read(question: str) -> tuple[QuestionTerms, Reading, BM25Index]:
    passages, index = ranked_passages(PARAGRAPHS, question, "dynasty.txt", "History notes")
    terms = question_terms(analyze_question(question), index.idf)
    return terms, read_passages(passages, terms), index


def _spans_of_sentence(question: str, holding: str) -> tuple[SpanTable, Reading, int]:
    """The span table of the sentence that contains ``holding``."""
    terms, reading, _ = _read(question)
    for row in range(len(reading.sentence_passage)):
        passage = reading.passages[int(reading.sentence_passage[row])]
        start, end = passage.chunk.sentences[int(reading.sentence_local[row])]
        if holding in passage.chunk.text[start:end]:
            return span_table(reading, row, terms), reading, row
    raise AssertionError(f"no sentence holds {holding!r}")


def _feature_of(spans: SpanTable, reading: Reading, row: int, text: str, name: str) -> float:
    words = reading.words[int(reading.sentence_passage[row])]
    for number, (start, end) in enumerate(zip(spans.start_word, spans.end_word, strict=True)):
        if words.text[slice(*span_offsets(words, int(start), int(end)))] == text:
            return float(spans.all_features()[number, SPAN_FEATURES.index(name)])
    raise AssertionError(f"{text!r} is not a candidate")


@pytest.mark.parametrize(
    ("question", "before", "after"),
    [
        ("Sky UK Limited is formerly known by what name?", "known", None),
        ("Who started the Yuan dynasty?", None, "start"),
        ("What type of climate does Jacksonville have?", None, "jacksonvill"),
        ("How many teams had a perfect record?", None, "perfect"),
        ("Tell me about the dynasty", None, None),
    ],
)
def test_wh_anchors_are_the_question_words_around_the_wh_phrase(
    question: str, before: str | None, after: str | None
) -> None:
    terms = question_terms(analyze_question(question), lambda _term: 1.0)
    expected_before = terms.terms.index(before) if before else -1
    expected_after = terms.terms.index(after) if after else -1
    assert (terms.anchor_before, terms.anchor_after) == (expected_before, expected_after)


def test_a_span_right_before_the_questions_verb_is_marked() -> None:
    spans, reading, row = _spans_of_sentence("Who started the Yuan dynasty?", "Kublai")
    assert _feature_of(spans, reading, row, "Kublai Khan", "anchor_after_1") == 1.0
    assert _feature_of(spans, reading, row, "Kublai Khan", "person*anchor_after_1") == 1.0
    assert _feature_of(spans, reading, row, "1271", "anchor_after_1") == 0.0


def test_a_span_after_the_word_before_the_wh_phrase_is_marked() -> None:
    question = "Sky UK Limited is formerly known by what name?"
    spans, reading, row = _spans_of_sentence(question, "formerly")
    assert _feature_of(spans, reading, row, "British Sky Broadcasting", "anchor_before_2_3") == 1.0
    assert _feature_of(spans, reading, row, "British Sky Broadcasting", "anchor_before_1") == 0.0


def test_whole_names_and_halves_of_names() -> None:
    question = "What department did Kublai create to train doctors?"
    spans, reading, row = _spans_of_sentence(question, "Imperial")
    name = "Imperial Academy of Medicine"
    assert _feature_of(spans, reading, row, name, "whole_name") == 1.0
    assert _feature_of(spans, reading, row, name, "part_of_name") == 0.0
    assert _feature_of(spans, reading, row, "Imperial Academy", "part_of_name") == 1.0
    assert _feature_of(spans, reading, row, "Academy of Medicine", "cuts_capital_run") == 1.0
    assert _feature_of(spans, reading, row, name, "cuts_capital_run") == 0.0


def test_chunk_and_word_ending_shapes() -> None:
    question = "What did farmers sell in the valley?"
    spans, reading, row = _spans_of_sentence(question, "apples")
    assert _feature_of(spans, reading, row, "apples", "chunk") == 1.0
    assert _feature_of(spans, reading, row, "apples", "all_lowercase") == 1.0
    assert _feature_of(spans, reading, row, "Harvest festivals were held", "chunk") == 1.0
    assert _feature_of(spans, reading, row, "festivals were held", "chunk") == 0.0
    spans, reading, row = _spans_of_sentence(question, "Traders")
    assert _feature_of(spans, reading, row, "coast arrived quickly", "ends_ly") == 1.0
    assert _feature_of(spans, reading, row, "coast arrived", "ends_ly") == 0.0


def test_sentence_word_order_and_anchor_features() -> None:
    terms, reading, _ = _read("Who started the Yuan dynasty?")
    table = sentence_table(reading, terms)
    texts = []
    for row in range(len(reading.sentence_passage)):
        chunk = reading.passages[int(reading.sentence_passage[row])].chunk
        start, end = chunk.sentences[int(reading.sentence_local[row])]
        texts.append(chunk.text[start:end])
    row = next(i for i, text in enumerate(texts) if text.startswith("Kublai"))
    features = dict(zip(SENTENCE_FEATURES, table.features[row], strict=True))
    # "started the Yuan dynasty": all three question terms in a row, in the question's order.
    assert features["longest_run"] == pytest.approx(1.0)
    assert features["in_order"] == pytest.approx(1.0)
    assert features["anchor_after_present"] == 1.0
    assert features["anchor_before_present"] == 0.0
    other = next(i for i, text in enumerate(texts) if text.startswith("He created"))
    assert table.features[other, SENTENCE_FEATURES.index("longest_run")] == 0.0


def test_the_shipped_model_answers_with_the_new_span_features() -> None:
    _terms, reading, index = _read("Who started the Yuan dynasty?")
    result = Answerer().answer("Who started the Yuan dynasty?", reading.passages, index)
    best = result.answers[0]
    assert best.answer == "Kublai Khan"
    assert best.sentence[best.answer_start : best.answer_end] == best.answer
    assert np.isfinite(best.confidence)


def test_a_title_with_the_question_s_own_name_is_no_candidate() -> None:
    # "Mr Tillerson" and "Mr Putin" only repeat the question's names.
    spans, reading, row = _spans_of_sentence("Where did Tillerson meet Putin?", "Mr Putin")
    words = reading.words[int(reading.sentence_passage[row])]
    candidates = {
        words.text[slice(*span_offsets(words, int(start), int(end)))]
        for start, end in zip(spans.start_word, spans.end_word, strict=True)
    }
    assert "Moscow" in candidates
    assert not candidates & {"Mr", "Mr Tillerson", "Mr Putin", "Putin would meet Mr Tillerson"}


@pytest.mark.parametrize(
    "question",
    [
        "Who started the Yuan dynasty?",
        "Sky UK Limited is formerly known by what name?",
        "When did Putin meet Tillerson in Moscow?",
        "What did the farmers sell in the valley?",
    ],
)
def test_sentences_scored_together_get_the_features_they_get_alone(question: str) -> None:
    # The answerer scores the spans of its top sentences in one batch, across passages: no
    # feature may see past its own sentence.
    chunks = chunk_article(Article("notes.txt", "History notes", None, None, PARAGRAPHS * 3))
    passages = [Passage(chunk_id=i, chunk=c, score=1.0, rank=i) for i, c in enumerate(chunks)]
    terms = question_terms(analyze_question(question), lambda _term: 2.0)
    reading = read_passages(passages, terms)
    rows = list(range(len(reading.sentence_passage)))[::-1]
    together = span_tables(reading, rows, terms)
    assert len({int(reading.sentence_passage[row]) for row in rows}) > 1
    for row, table in zip(rows, together, strict=True):
        alone = span_table(reading, row, terms)
        np.testing.assert_array_equal(table.start_word, alone.start_word)
        np.testing.assert_array_equal(table.end_word, alone.end_word)
        np.testing.assert_array_equal(table.features, alone.features)
        np.testing.assert_array_equal(table.hashed, alone.hashed)


def test_questions_scored_together_get_the_features_they_get_alone() -> None:
    # A batch of questions (newsbite ask -) scores all their spans at once: each question's
    # type, head noun, anchors and term weights must stay with its own spans.
    chunks = chunk_article(Article("notes.txt", "History notes", None, None, PARAGRAPHS))
    passages = [Passage(chunk_id=i, chunk=c, score=1.0, rank=i) for i, c in enumerate(chunks)]
    questions = [
        "Who started the Yuan dynasty?",  # person, anchor after
        "How many teams sold apples in the valley?",  # number, head noun
        "Sky UK Limited is formerly known by what name?",  # anchor before
        "Tell me about the dynasty",  # no wh-phrase, no anchors
        "When did Putin meet Tillerson in Moscow?",
    ]
    requests = []
    for number, question in enumerate(questions):
        terms = question_terms(analyze_question(question), lambda term: 1.0 + len(term) / 7)
        reading = read_passages(passages[number % 2 :], terms)
        rows = list(range(len(reading.sentence_passage)))[number % 3 :: 2]
        requests.append((reading, rows, terms))
    requests.append((requests[0][0], [], requests[0][2]))  # a question with no sentence to score
    assert span_tables_of_many([]) == []
    together = span_tables_of_many(requests)
    assert [len(tables) for tables in together] == [len(rows) for _, rows, _ in requests]
    for (reading, rows, terms), tables in zip(requests, together, strict=True):
        for table, alone in zip(tables, span_tables(reading, rows, terms), strict=True):
            np.testing.assert_array_equal(table.start_word, alone.start_word)
            np.testing.assert_array_equal(table.end_word, alone.end_word)
            np.testing.assert_array_equal(table.features, alone.features)
            np.testing.assert_array_equal(table.hashed, alone.hashed)
            assert table.type_number == alone.type_number


def test_span_scores_over_the_untyped_columns_equal_the_full_models() -> None:
    # The span model is trained over every column of SPAN_FEATURES; at answer time its typed
    # weights are folded onto the untyped columns instead of multiplying the other types' zeros.
    rng = np.random.default_rng(7)
    model = LinearModel(rng.normal(size=len(SPAN_FEATURES)), rng.normal(size=1 << 14))
    scorer = SpanScorer.of(model)
    for question in ("Who started the Yuan dynasty?", "How many teams sold the apples?"):
        terms, reading, _ = _read(question)
        for table in span_tables(reading, list(range(len(reading.sentence_passage))), terms):
            expected = model.scores(table.all_features(), table.hashed)
            np.testing.assert_allclose(scorer.scores(table), expected, rtol=1e-12, atol=1e-12)


def test_sentence_tables_of_many_questions_equal_their_tables_alone() -> None:
    # newsbite ask - scores the sentences of a task's questions together; each question's
    # terms, type and passages must stay its own, to the last bit.
    chunks = chunk_article(Article("notes.txt", "History notes", None, None, PARAGRAPHS * 2))
    passages = [Passage(chunk_id=i, chunk=c, score=9.0 - i, rank=i) for i, c in enumerate(chunks)]
    questions = [
        "Who started the Yuan dynasty in 1271?",
        "How many apples did the farmers sell in the valley every autumn?",
        "When did Putin meet Tillerson?",
        "How long were the harvest festivals held?",
        "Sky UK Limited is formerly known by what name?",
        "the",  # no terms: an empty table
    ]
    pairs = []
    for number, question in enumerate(questions):
        terms = question_terms(analyze_question(question), lambda term: 1.0 + len(term) / 7)
        pairs.append((read_passages(passages[number % 3 : number % 3 + 4], terms), terms))
    pairs.append((read_passages([], pairs[0][1]), pairs[0][1]))  # no passages
    together = sentence_tables_of_many(pairs)
    for (reading, terms), table in zip(pairs, together, strict=True):
        alone = sentence_table(reading, terms)
        np.testing.assert_array_equal(table.features, alone.features)
        np.testing.assert_array_equal(table.coverage, alone.coverage)
        np.testing.assert_array_equal(table.passage_coverage, alone.passage_coverage)
    assert together[0].features.any() and not together[-2].features.any()
