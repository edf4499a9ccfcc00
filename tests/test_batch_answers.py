"""Batches of questions read by forked worker processes: the same answers, in the same order,
as one by one; no worker left behind."""

from __future__ import annotations

import functools
import multiprocessing
import os
import pickle
from dataclasses import fields

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.answerer import Answerer
from retrieval.batch_answers import BATCH_SIZE, WorkerDied, answer_all
from retrieval.bm25 import BM25Index
from retrieval.chunks import chunk_article
from retrieval.documents import Article, Chunk, Passage
from retrieval.tokenizer import tokenize
from retrieval.worker_processes import can_fork

QUESTIONS = [
    "How many people did the attack kill?",
    "Who met Tillerson?",
    "How long has the Syrian war lasted?",
    "zzzqx qqqzz",  # no passage at all
    "Where did Tillerson meet Putin?",
    "What did Russia say about the gas attack?",
]


def _as_json(results):
    return [result.to_json() for result in results]


needs_fork = pytest.mark.skipif(not can_fork(), reason="workers are forked on Linux only")


@needs_fork
def test_workers_answer_as_this_process_does_in_order(engine):
    questions = QUESTIONS * 7  # several tasks, more than the workers hold at once
    assert len(questions) > 2 * BATCH_SIZE
    alone = [engine.answer(q, k=3, depth=5) for q in questions]
    results = []
    workers_seen = 0
    for result in answer_all(engine, questions, k=3, depth=5, workers=2):
        workers_seen = max(workers_seen, len(multiprocessing.active_children()))
        results.append(result)
    assert workers_seen == 2
    assert _as_json(results) == _as_json(alone)
    assert results[3].no_answer and not results[3].answers
    assert not multiprocessing.active_children()


def test_one_worker_reads_here(engine):
    results = list(answer_all(engine, QUESTIONS, k=2, depth=5, workers=1))
    assert not multiprocessing.active_children()
    assert _as_json(results) == _as_json([engine.answer(q, k=2, depth=5) for q in QUESTIONS])


@needs_fork
def test_a_batch_given_up_early_stops_its_workers(engine):
    results = answer_all(engine, QUESTIONS * 20, k=3, depth=5, workers=2)
    first = next(results)
    assert first.question == QUESTIONS[0]
    assert multiprocessing.active_children()
    results.close()
    assert not multiprocessing.active_children()


@needs_fork
def test_a_failing_question_fails_the_batch_and_stops_its_workers(engine, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("the answerer broke")

    # Patched before the fork: the workers inherit it.
    monkeypatch.setattr(engine.answerer, "answer_many", broken)
    with pytest.raises(RuntimeError, match="the answerer broke"):
        list(answer_all(engine, QUESTIONS * 10, k=3, depth=5, workers=2))
    assert not multiprocessing.active_children()


@needs_fork
def test_a_worker_killed_fails_the_batch_with_a_clear_error(engine, monkeypatch):
    def killed(*_args, **_kwargs):
        os._exit(9)  # as the kernel's OOM killer would end it: no exception, no result

    monkeypatch.setattr(engine.answerer, "answer_many", killed)
    with pytest.raises(WorkerDied, match="--workers 1"):
        list(answer_all(engine, QUESTIONS * 10, k=3, depth=5, workers=2))
    assert not multiprocessing.active_children()


def test_questions_read_together_get_the_answers_they_get_alone(engine):
    # The workers' answer_many scores a task's short answers at once; every float must come
    # out as it does for the question alone (exact equality, not the JSON's rounding).
    pairs = [(question, engine.retrieve(question, 5)) for question in QUESTIONS]
    together = engine.answerer.answer_many(pairs, engine.index, k=3)
    alone = [engine.answerer.answer(q, passages, engine.index, k=3) for q, passages in pairs]
    assert together == alone
    assert sum(bool(result.answers) for result in together) == len(QUESTIONS) - 1
    # A task may hold nothing to read at all.
    nothing = engine.answerer.answer_many([("zzzqx qqqzz", [])] * 3, engine.index, k=3)
    assert [(r.no_answer, r.answers) for r in nothing] == [(True, [])] * 3


def test_one_at_a_time_answers_each_question_before_reading_the_next(engine):
    # Someone typing questions into `newsbite ask -` waits for no batch to fill.
    read = []

    def typed():
        for question in QUESTIONS:
            read.append(question)
            yield question

    for number, result in enumerate(
        answer_all(engine, typed(), k=1, depth=5, workers=1, batch_size=1)
    ):
        assert result.question == QUESTIONS[number]
        assert len(read) == number + 1


def _field_values(instance) -> list:
    return [getattr(instance, f.name) for f in fields(instance)]


def test_what_travels_to_and_from_the_workers_pickles_whole(engine):
    # Passages, answers and results pickle by their own __reduce__ (faster than a frozen
    # dataclass's default): every field must make the trip, including any added later.
    chunk = Chunk("d.txt", "Title", "https://example.org", 3, "Some text.", 10, 20, ((0, 10),))
    passage = Passage(chunk_id=7, chunk=chunk, score=1.5, rank=2, extra={"why": "test"})
    result = engine.answer(QUESTIONS[0], k=2, depth=5)
    for original in (chunk, passage, result, *result.answers):
        copy = pickle.loads(pickle.dumps(original, pickle.HIGHEST_PROTOCOL))
        assert type(copy) is type(original)
        assert _field_values(copy) == _field_values(original)
    assert result.answers


_WORDS = st.sampled_from(
    [
        "Putin",
        "met",
        "Tillerson",
        "in",
        "Moscow",
        "87",
        "people",
        "1,000",
        "April",
        "2017",
        "the",
        "war",
        "years",
        "six-year",
        "“quoted”",
        "(aside)",
        "—",
        "café",
        "",
        "!",
    ]
)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(_WORDS, max_size=25).map(" ".join), min_size=1, max_size=6),
    st.lists(st.lists(_WORDS, max_size=8).map(" ".join), min_size=1, max_size=5),
)
def test_any_questions_read_together_get_what_they_get_alone(paragraphs, questions):
    # Strange passages (empty, punctuation only, no sentence) and questions (no known term)
    # side by side in one task: each still gets exactly its own answers.
    chunks = chunk_article(
        Article("t.txt", "Title", None, None, tuple(p or "." for p in paragraphs))
    )
    passages = [Passage(chunk_id=i, chunk=c, score=1.0 + i, rank=i) for i, c in enumerate(chunks)]
    index = BM25Index.from_documents([tokenize(c.text) for c in chunks])
    answerer = _answerer()
    pairs = [(q + "?", passages[n % 3 :]) for n, q in enumerate(questions)]
    together = answerer.answer_many(pairs, index, k=3)
    assert together == [answerer.answer(q, p, index, k=3) for q, p in pairs]


@functools.cache
def _answerer() -> Answerer:
    return Answerer()


def test_passages_without_a_single_word_are_read_without_error():
    # Found by the test above: a "." paragraph has a sentence but no word.
    chunks = chunk_article(Article("t.txt", "Title", None, None, (".",)))
    passages = [Passage(chunk_id=0, chunk=chunks[0], score=1.0, rank=0)]
    index = BM25Index.from_documents([["putin"], ["moscow"]])
    result = _answerer().answer("Where is Putin?", passages, index)
    assert [answer.answer for answer in result.answers] == [None]
    assert _answerer().answer_many([("Where is Putin?", passages)], index) == [result]
