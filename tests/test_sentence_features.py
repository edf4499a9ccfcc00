"""Sentence feature tables: a question's table is the same, float for float, whether its
sentences are scored alone or stacked with other questions' (whose term lists are longer or
shorter: the stacked term matrices are padded to the widest)."""

from __future__ import annotations

import numpy as np

from retrieval.answer_features import question_terms, read_passages
from retrieval.question_types import analyze_question
from retrieval.sentence_features import SENTENCE_FEATURES, sentence_table, sentence_tables_of_many

QUESTIONS = [
    "Who?",  # no term at all
    "Where is Idlib?",
    "How many people did the gas attack kill?",
    "What did the United States say the Syrian government had done with chemical weapons in "
    "Khan Sheikhoun, and how did Russia, Iran and the rebels answer the accusation last week?",
    "When did Tillerson meet Putin and Lavrov in Moscow?",
]


def _readings(engine):
    readings = []
    for question in QUESTIONS:
        passages = engine.retrieve(question, 5)
        terms = question_terms(analyze_question(question), engine.index.idf)
        readings.append((read_passages(passages, terms), terms))
    return readings


def test_tables_of_questions_read_together_are_those_read_alone(engine):
    pairs = _readings(engine)
    assert len({len(terms.terms) for _, terms in pairs}) == len(QUESTIONS)  # all widths differ
    together = sentence_tables_of_many(pairs)
    for (reading, terms), table in zip(pairs, together, strict=True):
        alone = sentence_table(reading, terms)
        assert np.array_equal(table.features, alone.features)
        assert np.array_equal(table.coverage, alone.coverage)
        assert np.array_equal(table.passage_coverage, alone.passage_coverage)
    # In reverse order the padding and positions change; the numbers must not.
    backwards = sentence_tables_of_many(pairs[::-1])[::-1]
    for table, again in zip(together, backwards, strict=True):
        assert np.array_equal(table.features, again.features)


def test_term_columns_weigh_what_the_sentence_holds(engine):
    (reading, terms), *_ = _readings(engine)[2:]
    table = sentence_table(reading, terms)
    coverage = table.features[:, SENTENCE_FEATURES.index("coverage")]
    expected = (reading.presence * (terms.weights / terms.mass)).sum(axis=1)
    assert np.allclose(coverage, expected, rtol=1e-12, atol=0)
    assert coverage.max() > 0.5  # the answering sentence holds most of the question
    local = table.features[:, SENTENCE_FEATURES.index("local_coverage_gap")]
    assert local.max() == 0.0 and local.min() <= 0.0
