import threading

import pytest

from retrieval.engine import QAEngine, ReloadInProgress


def test_retrieves_the_paragraph_that_answers(engine):
    passages = engine.retrieve("How many people did the attack on the town kill?", k=3)
    assert "killed 87 people" in passages[0].chunk.text
    assert passages[0].chunk.title == "Why Donald Trump and Vladimir Putin’s bromance is over"
    assert passages[0].chunk.url.startswith("https://www.news.com.au/")
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)


def test_unknown_words_retrieve_nothing(engine):
    assert engine.retrieve("zyzzyva quux", k=3) == []
    assert engine.retrieve("", k=3) == []


def test_reload_picks_up_a_new_article(engine, seeds_corpus):
    assert engine.retrieve("earthquake Port Avalon", k=1) == []
    (seeds_corpus / "quake.txt").write_text(
        "Earthquake in Port Avalon\n\nA magnitude 6.1 earthquake struck Port Avalon on Tuesday.\n"
    )
    summary = engine.reload()
    assert summary.added == 1
    assert engine.article_count == 2
    assert "Port Avalon" in engine.retrieve("earthquake Port Avalon", k=1)[0].chunk.text


def test_reload_with_nothing_changed_keeps_the_index(engine):
    index = engine.index
    summary = engine.reload()
    assert not summary.changed and engine.index is index


def test_second_reload_while_one_runs_is_refused(engine, monkeypatch):
    started, release = threading.Event(), threading.Event()
    import retrieval.index_update as index_update

    real_refresh = index_update.refresh

    def slow_refresh(*args, **kwargs):
        started.set()
        release.wait(5)
        return real_refresh(*args, **kwargs)

    monkeypatch.setattr(index_update, "refresh", slow_refresh)
    worker = threading.Thread(target=engine.reload)
    worker.start()
    started.wait(5)
    with pytest.raises(ReloadInProgress):
        engine.reload()
    # Questions are answered while the reload runs.
    assert engine.retrieve("Tillerson Lavrov", k=1)
    release.set()
    worker.join(5)


def test_failed_reload_keeps_the_old_index_serving(engine, seeds_corpus, monkeypatch):
    import retrieval.index_update as index_update

    def broken(*args, **kwargs):
        raise OSError("disk on fire")

    index = engine.index
    monkeypatch.setattr(index_update, "refresh", broken)
    with pytest.raises(OSError):
        engine.reload()
    assert engine.index is index
    assert engine.retrieve("Tillerson", k=1)


def test_questions_during_reloads_always_get_consistent_passages(engine, seeds_corpus):
    errors: list[BaseException] = []
    stop = threading.Event()

    def ask():
        while not stop.is_set():
            try:
                passages = engine.retrieve("Putin Tillerson meeting Kremlin", k=5)
                assert passages and all(p.chunk.text for p in passages)
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)
                return

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for n in range(5):
        (seeds_corpus / f"extra{n}.txt").write_text(
            f"Extra {n}\n\nPutin met Tillerson, take {n}.\n"
        )
        engine.reload()
    stop.set()
    for thread in threads:
        thread.join(5)
    assert not errors


def test_in_memory_engine_from_articles():
    from retrieval.documents import Article

    engine = QAEngine.from_articles(
        [Article("x", "Moon landing", None, None, ("Apollo 11 landed on the Moon in July 1969.",))]
    )
    assert engine.retrieve("When did Apollo 11 land?", k=1)[0].chunk.doc_id == "x"
    with pytest.raises(ValueError):
        engine.reload()
