"""A reload is cancelled when the bot stops: a stop signal never waits for a long re-index,
and a cancelled reload leaves the index as it was, still serving.

From the engine (cancelled between files, and between batches with worker processes; an
exception from the progress callback) through the /reload handler (a reload broken by the
stop signal reaching the indexing workers) up to `newsbite serve` receiving SIGTERM while an
admin's /reload runs.

The indexer's worker processes ignore stop signals sent to the whole process group, and an
abandoned run kills them: nothing is left for the interpreter's exit to wait for.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import signal
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest
from bot_harness import running_application
from fake_bot_api import FakeBotApi, message_json, private_chat
from processes import children
from telegram import Update

import bot.app
import retrieval.indexer as indexer_module
from bot import formatting, serve
from retrieval.engine import QAEngine, stored_generation
from retrieval.index_pipeline import worker_pool
from retrieval.index_writer import StoreWriter
from retrieval.indexer import IndexingCancelled

TOKEN = "246810:AAH-reload-cancel-test-token"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # what Ctrl-C and systemd send the group
ADMIN = 4242


def add_articles(corpus: Path, count: int) -> None:
    for n in range(count):
        (corpus / f"harbour{n}.txt").write_text(
            f"Harbour report {n}\n\nThe harbour story number {n} tells of ships and tides.\n"
        )


def assert_unchanged(engine: QAEngine, generation: str | None) -> None:
    assert stored_generation(engine.db_path) == generation
    assert engine.article_count == 1
    assert engine.retrieve("harbour story ships tides", k=1) == []
    assert engine.retrieve("Tillerson", k=1)  # the old index still answers
    # The store on disk is the old one too: opened afresh, it has the same articles.
    reopened = QAEngine.open(None, engine.db_path)
    try:
        counts = (reopened.article_count, reopened.chunk_count)
        assert counts == (engine.article_count, engine.chunk_count)
        assert reopened.retrieve("harbour story ships tides", k=1) == []
    finally:
        reopened.close()


def files_done_counter():
    """For a progress callback: how many times the bytes done have grown (a file each, for
    files not read in parts), given each report's bytes done."""
    seen = {"done": 0, "files": 0}

    def files_done(done: int) -> int:
        if done > seen["done"]:
            seen["done"], seen["files"] = done, seen["files"] + 1
        return seen["files"]

    return files_done


def test_a_reload_cancelled_between_files_keeps_the_old_index(engine, seeds_corpus):
    add_articles(seeds_corpus, 5)
    generation = stored_generation(engine.db_path)
    cancel = threading.Event()

    files_done = files_done_counter()

    def cancel_after_two_files(stage: str, done: int, total: int) -> None:
        if files_done(done) == 2:
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
    real_write = StoreWriter.write_many
    written = []

    def write_then_cancel(self, writes, batch):
        written.extend(file.stored.rel_path for file, _, _ in writes)
        real_write(self, writes, batch)
        cancel.set()

    monkeypatch.setattr(StoreWriter, "write_many", write_then_cancel)
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


class StopReindexing(Exception):
    """What a caller's progress callback raises to end an index update."""


def test_an_exception_from_the_progress_callback_ends_a_parallel_reload(
    engine, seeds_corpus, monkeypatch
):
    """The other way to stop a reload: its progress callback raises. With worker processes
    and one article per batch, the exception comes out as it is, after one batch written."""
    monkeypatch.setattr(indexer_module, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(indexer_module, "BATCH_ARTICLES", 1)
    add_articles(seeds_corpus, 6)
    generation = stored_generation(engine.db_path)
    real_write = StoreWriter.write_many
    written = []

    def count_writes(self, writes, batch):
        written.extend(file.stored.rel_path for file, _, _ in writes)
        real_write(self, writes, batch)

    monkeypatch.setattr(StoreWriter, "write_many", count_writes)

    files_done = files_done_counter()

    def stop_after_the_first_file(stage: str, done: int, total: int) -> None:
        if files_done(done) >= 2:  # the unchanged bundled article, then the first new file
            raise StopReindexing

    with pytest.raises(StopReindexing):
        engine.reload(progress=stop_after_the_first_file)
    assert len(written) == 1
    assert_unchanged(engine, generation)
    assert engine.reload().added == 6


def big_html_page(paragraphs: int) -> str:
    """A page slow to parse: about a second per 1000 paragraphs on this machine's cores."""
    words = "harbour ship tide storm council budget election market river bridge".split()
    pick = random.Random(7).choice
    body = "".join(
        f"<p>{' '.join(pick(words) for _ in range(30))}.</p>\n" for _ in range(paragraphs)
    )
    return f"<html><head><title>Almanac</title></head><body><article>{body}</article></body></html>"


def test_a_cancelled_reload_leaves_no_worker_parsing(engine, seeds_corpus, monkeypatch):
    monkeypatch.setattr(indexer_module, "PARALLEL_MIN_BYTES", 0)
    (seeds_corpus / "almanac.html").write_text(big_html_page(2000))
    generation = stored_generation(engine.db_path)
    before = set(children(os.getpid()))
    cancel = threading.Event()

    def cancel_at_the_first_report(stage: str, done: int, total: int) -> None:
        cancel.set()  # reported while a worker parses the page

    with pytest.raises(IndexingCancelled):
        engine.reload(progress=cancel_at_the_first_report, cancel=cancel)
    assert_unchanged(engine, generation)
    # Nothing left that this process's exit would wait for.
    assert set(children(os.getpid())) - before == set()


def test_indexing_workers_outlive_a_stop_signal_to_the_process_group() -> None:
    pool = worker_pool()
    try:
        dispositions = [pool.submit(signal.getsignal, s).result() for s in STOP_SIGNALS]
    finally:
        pool.shutdown()
    assert dispositions == [signal.SIG_IGN] * len(STOP_SIGNALS)


# -- the /reload handler --------------------------------------------------------------------


class BrokenReloadEngine:
    """Stands in for the engine: its reload fails with ``error``, as one whose indexing
    workers were stopped by a signal does."""

    db_path = ":memory:"
    article_count = 1
    chunk_count = 1

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def reload(self, cancel: threading.Event | None = None) -> None:
        raise self.error

    def close(self) -> None:
        pass


async def send_reload(application) -> None:
    message = message_json(private_chat(ADMIN), ADMIN, "/reload")
    await application.process_update(
        Update.de_json({"update_id": 1, "message": message}, application.bot)
    )


@pytest.mark.parametrize(
    "error",
    [
        BrokenProcessPool("a process in the process pool was terminated abruptly"),
        KeyboardInterrupt(),
    ],
    ids=["worker-killed", "worker-interrupted"],
)
async def test_a_reload_broken_by_the_stop_signal_is_reported_as_cancelled(
    error: BaseException, caplog: pytest.LogCaptureFixture
) -> None:
    """SIGTERM (systemd) or SIGINT (Ctrl-C) sent to the whole process group also reaches the
    indexing workers, which can break the reload before it sees the cancel."""
    with caplog.at_level(logging.INFO, logger="bot.handlers"):
        async with running_application(
            BrokenReloadEngine(error), TOKEN, admins=frozenset({ADMIN})
        ) as (application, api):
            bot.app.request_stop(application)
            await send_reload(application)
    assert [m["text"] for m in api.sent_to(ADMIN)] == [
        formatting.escape(formatting.RELOAD_CANCELLED_TEXT)
    ]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_worker_interrupted_while_the_bot_runs_is_a_failed_reload() -> None:
    """Without a stop of the bot, a worker's KeyboardInterrupt fails the reload (the bot goes
    on with its old index) rather than ending the bot."""
    async with running_application(
        BrokenReloadEngine(KeyboardInterrupt()), TOKEN, admins=frozenset({ADMIN})
    ) as (application, api):
        await send_reload(application)
    [reply] = [m["text"] for m in api.sent_to(ADMIN)]
    assert reply.startswith("Reload failed; the previous index is still in use.")


# -- newsbite serve -------------------------------------------------------------------------


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
