"""A reload is cancelled when the bot stops: a stop signal never waits for a long re-index,
and a cancelled reload leaves the index as it was, still serving.

From the engine (cancelled between files, and between batches with worker processes) up to
`newsbite serve` receiving SIGTERM while an admin's /reload runs.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from fake_bot_api import FakeBotApi, message_json, private_chat

import bot.app
import retrieval.indexer as indexer_module
from bot import formatting, serve
from retrieval.engine import QAEngine, stored_generation
from retrieval.indexer import IndexingCancelled

TOKEN = "246810:AAH-reload-cancel-test-token"
ADMIN = 4242


def add_articles(corpus: Path, count: int) -> None:
    for n in range(count):
        (corpus / f"harbour{n}.txt").write_text(
            f"Harbour report {n}\n\nThe harbour story number {n} tells of ships and tides.\n"
        )


@pytest.fixture
def engine(seeds_corpus: Path, tmp_path: Path):
    engine = QAEngine.open(seeds_corpus, tmp_path / "index.db")
    yield engine
    engine.close()


def assert_unchanged(engine: QAEngine, generation: str | None) -> None:
    assert stored_generation(engine.db_path) == generation
    assert engine.article_count == 1
    assert engine.retrieve("harbour story ships tides", k=1) == []
    assert engine.retrieve("Tillerson", k=1)  # the old index still answers


def test_a_reload_cancelled_between_files_keeps_the_old_index(engine, seeds_corpus):
    add_articles(seeds_corpus, 5)
    generation = stored_generation(engine.db_path)
    cancel = threading.Event()

    def cancel_after_two_files(stage: str, done: int, total: int) -> None:
        if done == 2:
            cancel.set()

    with pytest.raises(IndexingCancelled):
        engine.reload(progress=cancel_after_two_files, cancel=cancel)
    assert_unchanged(engine, generation)
    assert engine.reload().added == 5  # nothing was left half done: the next reload is whole
    assert engine.article_count == 6


def test_a_reload_cancelled_between_batches_stops_the_workers(engine, seeds_corpus, monkeypatch):
    # Worker processes and one article per batch, so there are batches to cancel between.
    monkeypatch.setattr(indexer_module, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(indexer_module, "BATCH_ARTICLES", 1)
    add_articles(seeds_corpus, 6)
    generation = stored_generation(engine.db_path)
    cancel = threading.Event()
    real_write = indexer_module._Writer.write
    written = []

    def write_then_cancel(self, *args, **kwargs):
        written.append(args[0].stored.rel_path)
        real_write(self, *args, **kwargs)
        cancel.set()

    monkeypatch.setattr(indexer_module._Writer, "write", write_then_cancel)
    with pytest.raises(IndexingCancelled):
        engine.reload(cancel=cancel)
    assert len(written) == 1  # cancelled after the first batch, not after all of them
    assert_unchanged(engine, generation)


def test_a_cancel_set_before_the_reload_changes_nothing(engine, seeds_corpus):
    add_articles(seeds_corpus, 2)
    generation = stored_generation(engine.db_path)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(IndexingCancelled):
        engine.reload(cancel=cancel)
    assert_unchanged(engine, generation)


@pytest.mark.parametrize("moment", ["reload", "start-up"])
def test_sigterm_during_reindexing_cancels_it_and_exits_0(
    moment: str,
    seeds_corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    restore_logging,
) -> None:
    """The real `serve` in this process, re-indexing (held in parse_file, as a long re-index
    would be) when SIGTERM arrives: during an admin's /reload, or during the index update at
    start-up. The re-index is cancelled, the admin told, the exit code is 0, and the index is
    the one from before."""
    db = tmp_path / "index.db"
    QAEngine.open(seeds_corpus, db).close()
    generation = stored_generation(db)

    stop_requested = threading.Event()
    real_request_stop = bot.app.request_stop

    def request_stop(application) -> None:
        real_request_stop(application)
        stop_requested.set()

    monkeypatch.setattr(bot.app, "request_stop", request_stop)
    reindexing = threading.Event()
    real_parse = indexer_module.parse_file

    def long_parse(rel_path, data):
        reindexing.set()
        while not stop_requested.is_set():  # a long re-index, in small steps
            time.sleep(0.02)
        return real_parse(rel_path, data)

    monkeypatch.setattr(indexer_module, "parse_file", long_parse)
    for name in ("NEWSBITE_CONFIG", "NEWSBITE_API_URL", "NEWSBITE_RATE_LIMIT", "NEWSBITE_ADMINS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    if moment == "start-up":
        add_articles(seeds_corpus, 3)

    with FakeBotApi(TOKEN) as api:

        def reload_then_stop() -> None:
            if moment == "reload":
                api.wait_for_call("getUpdates", timeout=30)  # started, with an unchanged index
                add_articles(seeds_corpus, 3)
                api.add_update({"message": message_json(private_chat(ADMIN), ADMIN, "/reload")})
            if reindexing.wait(30):
                os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=reload_then_stop, daemon=True).start()
        parser = argparse.ArgumentParser()
        parser.add_argument("--corpus", type=Path)
        parser.add_argument("--db", type=Path)
        serve.add_arguments(parser)
        flags = ["--corpus", str(seeds_corpus), "--db", str(db), "--api-url", api.base_url]
        code = serve.main(parser.parse_args([*flags, "--admins", str(ADMIN)]))
        replies = [m["text"] for m in api.sent_to(ADMIN)]
        unconfirmed = api.unconfirmed_updates()

    assert reindexing.is_set()
    assert code == 0
    assert stored_generation(db) == generation
    if moment == "reload":
        assert replies == [formatting.escape(formatting.RELOAD_CANCELLED_TEXT)]
        assert unconfirmed == []  # a restart will not run the cancelled /reload again
    else:
        assert replies == []
