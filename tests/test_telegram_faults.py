"""Telegram faults: the real polling loop and HTTP layer against the fake Bot API over loopback.

Each test runs the bot in-process (python-telegram-bot's updater, httpx, our handlers and
retries), with short timeouts, injects one kind of fault and then checks that every question
was answered exactly once and every update confirmed, so a restart would not see it again.
The engine is a stand-in that echoes the question: these tests are about the transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fake_bot_api import FakeBotApi, Fault, message_json, private_chat
from telegram.ext import Application

from bot import serve
from bot.app import Timeouts, build_application
from bot.config import Settings
from bot.telegram_html import check_message
from retrieval.answers import Answer, AnswerResult

TOKEN = "424242:AAE-faults-test-token"
POLL_SECONDS = 0.5  # long-poll time; getUpdates' read timeout is this + get_updates_read
FAST = Timeouts(connect=0.5, read=1.0, write=1.0, pool=1.0, get_updates_read=0.3)
SLOWER_THAN_A_READ = 1.2  # a server this slow makes the bot give up waiting (read timeout 1.0)
USER = 5150


class EchoEngine:
    """Answers every question with a sentence that quotes it. ``gate``, when set, holds each
    answer until it is opened, to have answers in flight at a chosen moment."""

    db_path = ":memory:"
    article_count = 1
    chunk_count = 1

    def __init__(self) -> None:
        self.gate: threading.Event | None = None
        self.started = threading.Semaphore(0)

    def answer(
        self, question: str, k: int = 3, depth: int = 10, short_answers: int | None = None
    ) -> AnswerResult:
        self.started.release()
        if self.gate is not None:
            self.gate.wait(10)
        sentence = f"You asked: {question}"
        answer = Answer(None, None, None, sentence, 0, sentence, "Echo", None, "echo", 1, 1.0, 0.9)
        return AnswerResult(question=question, no_answer=False, answers=[answer])

    def sources(self) -> list[object]:
        return []

    def close(self) -> None:
        pass


@contextlib.asynccontextmanager
async def polling_bot(
    api: FakeBotApi, engine: EchoEngine, *, rate_limit: int = 0
) -> AsyncIterator[Application]:
    """The bot long-polling ``api``; stopped the way a stop signal stops it (updater first,
    then the application, which lets the updates it has fetched be handled)."""
    settings = Settings(
        corpus=Path("unused"),
        db=Path("unused.db"),
        api_url=api.base_url,
        rate_limit=rate_limit,
        log_queries=False,
    )
    app = build_application(settings, TOKEN, engine_factory=lambda: engine, timeouts=FAST)
    await app.initialize()
    await app.post_init(app)

    def report(error: Exception) -> None:  # what run_polling does with polling errors
        app.create_task(app.process_error(update=None, error=error))

    await app.updater.start_polling(
        timeout=POLL_SECONDS,
        poll_interval=serve.POLL_INTERVAL_SECONDS,  # also where the back-off after errors starts
        allowed_updates=serve.ALLOWED_UPDATES,
        drop_pending_updates=False,
        error_callback=report,
    )
    await app.start()
    try:
        yield app
    finally:
        if app.updater.running:
            await app.updater.stop()
        await app.stop()
        await app.shutdown()
        await app.post_shutdown(app)


_numbers = itertools.count(1)


def ask(api: FakeBotApi) -> str:
    """Queue a question; its marker appears in the answer and nowhere else."""
    return ask_update(api)[0]


def ask_update(api: FakeBotApi) -> tuple[str, int]:
    """``ask``, also returning the question's update id."""
    marker = f"#{next(_numbers)}#"
    message = message_json(private_chat(USER), USER, f"question {marker}")
    return marker, api.add_update({"message": message})


async def wait_for_answers(api: FakeBotApi, markers: list[str], timeout: float = 10.0) -> None:
    for marker in markers:
        await asyncio.to_thread(api.wait_for_sent, lambda m, x=marker: x in m["text"], timeout)


def assert_each_answered_once(api: FakeBotApi, markers: list[str]) -> None:
    for sent in api.sent:
        check_message(sent["text"])
    counts = {marker: sum(marker in sent["text"] for sent in api.sent) for marker in markers}
    assert counts == dict.fromkeys(markers, 1)
    assert api.unconfirmed_updates() == []  # a restart would not get any of them again


async def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)


@pytest.fixture
def api():
    with FakeBotApi(TOKEN) as server:
        yield server


@pytest.mark.parametrize(
    "fault",
    [
        Fault.retry_after(1),
        Fault.status(502),
        Fault.delay(POLL_SECONDS + SLOWER_THAN_A_READ),  # getUpdates times out
        Fault.drop(),
    ],
    ids=["429", "5xx", "timeout", "dropped"],
)
async def test_polling_backs_off_and_loses_nothing(api: FakeBotApi, fault: Fault) -> None:
    engine = EchoEngine()
    async with polling_bot(api, engine):
        await asyncio.to_thread(api.wait_for_call, "getUpdates")
        api.inject("getUpdates", fault)
        # The running long poll returns these at once; the next poll meets the fault, so their
        # confirmation is delayed until polling recovers.
        before = [ask(api), ask(api)]
        await wait_for_answers(api, before)
        after = [ask(api), ask(api)]
        await wait_for_answers(api, after)
    assert api.take_fault("getUpdates") is None  # the fault did happen
    assert_each_answered_once(api, before + after)


async def test_network_loss_and_refused_connections_during_polling(
    api: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    engine = EchoEngine()
    with caplog.at_level(logging.WARNING):
        async with polling_bot(api, engine):
            first = [ask(api)]
            await wait_for_answers(api, first)
            await asyncio.to_thread(api.wait_for_call, "getUpdates")
            api.go_offline()  # cuts the running long poll, then refuses to connect
            while_offline = [ask(api), ask(api)]
            await wait_until(lambda: "ConnectError" in caplog.text)
            api.go_online()
            await wait_for_answers(api, while_offline)
    assert_each_answered_once(api, first + while_offline)
    warnings = [r.getMessage() for r in caplog.records if r.name == "bot.handlers"]
    assert any("network problem talking to the Bot API" in w for w in warnings)
    assert TOKEN not in caplog.text


async def test_a_second_poller_with_the_same_token_is_reported_and_outlasted(
    api: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    """409 Conflict: another process polls with this token. One clear warning each time, no
    traceback, and once the other poller is gone the bot answers everything, once."""
    with caplog.at_level(logging.WARNING):
        async with polling_bot(api, EchoEngine()):
            first = [ask(api)]
            await wait_for_answers(api, first)
            await asyncio.to_thread(api.wait_for_call, "getUpdates")
            api.inject("getUpdates", Fault.status(409), times=2)
            during = [ask(api), ask(api)]
            await wait_for_answers(api, during)
    assert api.take_fault("getUpdates") is None  # both conflicts happened
    assert_each_answered_once(api, first + during)
    warnings = [r.getMessage() for r in caplog.records if r.name == "bot.handlers"]
    assert sum("409 Conflict" in w for w in warnings) == 2
    assert not [r for r in caplog.records if r.exc_info]
    assert TOKEN not in caplog.text


@pytest.mark.parametrize(
    ("rate_limit", "faults"),
    [
        (0, [Fault.status(502), Fault.retry_after(1)]),  # no flood control: our retries
        (20, [Fault.status(503), Fault.retry_after(1)]),  # PTB's limiter retries the 429
    ],
    ids=["without-flood-control", "with-flood-control"],
)
async def test_an_answer_is_sent_again_after_429_and_5xx(
    api: FakeBotApi, rate_limit: int, faults: list[Fault]
) -> None:
    async with polling_bot(api, EchoEngine(), rate_limit=rate_limit):
        for fault in faults:
            api.inject("sendMessage", fault)
        markers = [ask(api)]
        await wait_for_answers(api, markers)
    assert api.take_fault("sendMessage") is None
    assert_each_answered_once(api, markers)


async def test_an_answer_is_sent_again_when_the_connection_is_refused(api: FakeBotApi) -> None:
    engine = EchoEngine()
    engine.gate = threading.Event()
    async with polling_bot(api, engine):
        markers = [ask(api)]
        await asyncio.to_thread(engine.started.acquire, True, 10)
        api.go_offline()
        engine.gate.set()  # the answer is ready while nothing listens
        await asyncio.sleep(0.3)
        api.go_online()
        await wait_for_answers(api, markers)
    assert_each_answered_once(api, markers)


async def test_a_reply_that_may_have_arrived_is_not_sent_twice(
    api: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    """A timeout or a cut connection after the request went out: Telegram may have the
    message (here the slow server does deliver it), so sending again could duplicate it."""

    def gave_up_on(update_id: int) -> bool:
        return f"could not deliver the reply to update {{'update_id': {update_id}," in caplog.text

    with caplog.at_level(logging.WARNING, logger="bot.handlers"):
        async with polling_bot(api, EchoEngine()):
            api.inject("sendMessage", Fault.delay(SLOWER_THAN_A_READ))
            slow, slow_id = ask_update(api)
            await wait_for_answers(api, [slow])
            await wait_until(lambda: gave_up_on(slow_id))
            # One question at a time from here: the drop must meet this question's reply.
            api.inject("sendMessage", Fault.drop())
            cut, cut_id = ask_update(api)
            await wait_until(lambda: gave_up_on(cut_id))
            after = [ask(api)]
            await wait_for_answers(api, after)
    assert_each_answered_once(api, [slow, *after])
    assert not [sent for sent in api.sent if cut in sent["text"]]
    assert not [sent for sent in api.sent if "Sorry" in sent["text"]]  # no apology either


async def test_a_restart_answers_what_came_meanwhile_and_nothing_twice(api: FakeBotApi) -> None:
    engine = EchoEngine()
    async with polling_bot(api, engine) as app:
        answered = [ask(api), ask(api)]
        await wait_for_answers(api, answered)
        # A stop while an answer is in flight: the answer is still sent.
        while engine.started.acquire(blocking=False):
            pass  # forget the answers already given
        engine.gate = threading.Event()
        in_flight = ask(api)
        assert await asyncio.to_thread(engine.started.acquire, True, 10)
        stopping = asyncio.create_task(app.updater.stop())
        await asyncio.sleep(0.1)
        engine.gate.set()
        await stopping
    assert api.unconfirmed_updates() == []
    while_down = [ask(api), ask(api)]
    engine.gate = None
    async with polling_bot(api, engine):
        await wait_for_answers(api, while_down)
    assert_each_answered_once(api, [*answered, in_flight, *while_down])
