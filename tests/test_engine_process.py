"""The engine in a child process (what `newsbite serve` runs): the same answers as the engine
in-process, reloads that the child picks up, stop signals it leaves to the bot, and a clear
error, never a hang, when the child is gone."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from bot.engine_process import EngineProcess, EngineProcessError
from retrieval.engine import QAEngine, stored_generation
from retrieval.indexer import IndexingCancelled

QUESTION = "How many people did the attack on the town kill?"


@pytest.fixture
def engine(seeds_corpus: Path, tmp_path: Path):
    engine = EngineProcess(tmp_path / "index.db", seeds_corpus)
    yield engine
    engine.close()


def add_article(corpus: Path) -> None:
    (corpus / "harbour.txt").write_text(
        "Harbour reopens\n\nThe harbour reopened on Monday after the storm, said the mayor.\n"
    )


def test_answers_and_sources_are_the_in_process_engines(engine, seeds_corpus):
    local = QAEngine.open(seeds_corpus, engine.db_path)
    try:
        assert engine.answer(QUESTION, k=3) == local.answer(QUESTION, k=3)
        assert engine.answer(QUESTION, 3, short_answers=1) == local.answer(
            QUESTION, 3, short_answers=1
        )
        assert engine.sources() == local.sources()
        assert (engine.article_count, engine.chunk_count) == (
            local.article_count,
            local.chunk_count,
        )
    finally:
        local.close()
    assert engine.answer(QUESTION).best.answer == "87 people"


def test_a_reload_is_served_by_the_child(engine, seeds_corpus):
    add_article(seeds_corpus)
    summary = engine.reload()
    assert summary.added == 1
    assert engine.article_count == 2
    best = engine.answer("When did the harbour reopen?").best
    assert best is not None and best.doc_id == "harbour.txt"


def test_a_cancelled_reload_keeps_the_old_index(engine, seeds_corpus):
    generation = stored_generation(engine.db_path)
    add_article(seeds_corpus)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(IndexingCancelled):
        engine.reload(cancel=cancel)
    assert stored_generation(engine.db_path) == generation
    assert engine.article_count == 1
    assert engine.answer(QUESTION).best.answer == "87 people"


def test_stop_signals_are_left_to_the_bot(engine):
    # Ctrl-C and systemd signal the whole process group; the bot finishes its answers first.
    os.kill(engine._child.pid, signal.SIGINT)
    os.kill(engine._child.pid, signal.SIGTERM)
    assert engine.answer(QUESTION).best.answer == "87 people"


def test_a_dead_child_is_replaced(engine, caplog):
    first = engine._child
    first.kill()
    # What it was doing is lost (an error, never a hang); the next question starts a new one.
    with caplog.at_level(logging.WARNING, logger="bot.engine_process"):
        while first.dead is None:
            time.sleep(0.01)
        with pytest.raises(EngineProcessError):
            first.call("answer", QUESTION)
        assert engine.answer(QUESTION).best.answer == "87 people"
    assert engine._child is not first
    assert "starting a new engine process" in caplog.text


def test_close_stops_the_child(seeds_corpus, tmp_path):
    engine = EngineProcess(tmp_path / "index.db", seeds_corpus)
    child = engine._child
    engine.close()
    assert child.exitcode == 0
    with pytest.raises(EngineProcessError):
        engine.answer(QUESTION)  # closed: no new process either


def test_questions_asked_at_once_get_what_they_get_alone(engine, seeds_corpus):
    # Under load the child takes the questions waiting in its pipe and reads them together;
    # each must get exactly its own answer, whatever it was asked with.
    questions = [
        (QUESTION, 3, 1),
        ("Who met Tillerson in Moscow?", 3, 1),
        ("What did Russia say about the gas attack?", 2, None),
        ("zzzqx qqqzz", 3, 1),
        ("How long has the war in Syria lasted?", 3, 1),
    ] * 6
    results: dict[int, object] = {}

    def ask(number: int) -> None:
        question, k, short_answers = questions[number]
        results[number] = engine.answer(question, k, short_answers=short_answers)

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(len(questions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    local = QAEngine.open(seeds_corpus, engine.db_path)
    try:
        for number, (question, k, short_answers) in enumerate(questions):
            assert results[number] == local.answer(question, k, short_answers=short_answers)
    finally:
        local.close()
