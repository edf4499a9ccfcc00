"""The Telegram handlers on a real Application whose HTTP layer is a recording fake.

Each test builds its own Application (pytest-asyncio 1.x: one event loop per test), feeds it
updates with ``process_update`` and looks at what the bot sent. The fake Bot API behind the
recording request rejects invalid Telegram HTML, like the real one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from bot_harness import running_application
from fake_bot_api import (
    BOT_USERNAME,
    FakeBotApi,
    Fault,
    InProcessRequest,
    bot_message_json,
    group_chat,
    message_json,
    private_chat,
    user_json,
)
from telegram import Update
from telegram.ext import Application

from bot.app import build_application
from bot.config import Settings
from bot.telegram_html import check_message
from retrieval.answers import Answer, AnswerResult
from retrieval.engine import ReloadInProgress

TOKEN = "123456:HANDLER-TEST-TOKEN"
ADMIN = 1001
USER = 2002
GROUP = -100500


# Requests go to an in-process FakeBotApi and are recorded there.
RecordingRequest = InProcessRequest


# -- a small engine with known answers ---------------------------------------------------------


SENTENCE = "The attack on a town killed 87 people last week."


def canned_answer(question: str) -> AnswerResult:
    if "unknowable" in question:
        return AnswerResult(question=question, no_answer=True, answers=[])
    start = SENTENCE.index("87 people")
    answer = Answer(
        "87 people",
        start,
        start + 9,
        SENTENCE,
        0,
        SENTENCE,
        "Bromance <over>",
        "https://example.com/bromance",
        "seed.txt",
        22,
        4.0,
        0.8,
    )
    return AnswerResult(question=question, no_answer=False, answers=[answer])


@dataclass
class SourceRow:
    doc_id: str
    title: str
    url: str | None
    paragraphs: int


@dataclass
class Summary:
    added: int = 1
    skipped: list[Any] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.added} added, 0 updated, 0 removed, 0 skipped; 2 articles, 40 paragraphs"


class FakeEngine:
    def __init__(self, *, sources: int = 3, db_path: Path | str = ":memory:") -> None:
        self.db_path = db_path
        self.article_count = sources
        self.chunk_count = 40
        self.questions: list[str] = []
        self.reloads = 0
        self.reload_gate: threading.Event | None = None  # set: let a running reload finish
        self.reload_started = threading.Event()
        self.reload_error: Exception | None = None
        self.closed = False
        self._sources = [
            SourceRow(f"d{n}", f"Article {n}", f"https://e.com/{n}", n)
            for n in range(1, sources + 1)
        ]
        self._reload_lock = threading.Lock()

    def answer(
        self, question: str, k: int = 3, depth: int = 10, short_answers: int | None = None
    ) -> AnswerResult:
        self.questions.append(question)
        if "explode" in question:
            raise RuntimeError("engine exploded")
        return canned_answer(question)

    def sources(self) -> list[SourceRow]:
        return self._sources

    def reload(self, cancel: threading.Event | None = None) -> Summary:
        if not self._reload_lock.acquire(blocking=False):
            raise ReloadInProgress("a reload is already running")
        try:
            self.reloads += 1
            self.reload_started.set()
            if self.reload_gate is not None:
                self.reload_gate.wait(5)
            if self.reload_error is not None:
                raise self.reload_error
            return Summary()
        finally:
            self._reload_lock.release()

    def close(self) -> None:
        self.closed = True


@contextlib.asynccontextmanager
async def running_bot(
    engine: FakeEngine | None = None, **overrides: Any
) -> AsyncIterator[tuple[Application, FakeBotApi, FakeEngine]]:
    engine = engine or FakeEngine()
    settings: dict[str, Any] = {"admins": frozenset({ADMIN}), **overrides}
    async with running_application(engine, TOKEN, **settings) as (application, api):
        yield application, api, engine


async def send(application: Application, **update: Any) -> None:
    update.setdefault("update_id", 1)
    await application.process_update(Update.de_json(update, application.bot))


def messages(api: FakeBotApi) -> list[dict[str, Any]]:
    sent = [m for m in api.sent if m["method"] == "sendMessage"]
    for message in sent:
        check_message(message["text"])  # every message is valid Telegram HTML within limits
    return sent


# -- questions --------------------------------------------------------------------------------


async def test_private_text_is_a_question() -> None:
    async with running_bot() as (app, api, engine):
        await send(app, message=message_json(private_chat(USER), USER, "How many people died?"))
        assert engine.questions == ["How many people died?"]
        [reply] = messages(api)
        assert reply["chat_id"] == USER
        assert reply["parse_mode"] == "HTML"
        assert "<b>87 people</b>" in reply["text"]
        assert "Bromance &lt;over&gt;" in reply["text"]
        assert "reply_parameters" not in reply  # no need to quote in a private chat
        assert reply["link_preview_options"] == {"is_disabled": True}


async def test_no_answer_reply() -> None:
    async with running_bot() as (app, api, _engine):
        await send(app, message=message_json(private_chat(USER), USER, "something unknowable"))
        [reply] = messages(api)
        assert "don't answer that" in reply["text"] and "/sources" in reply["text"]


@pytest.mark.parametrize("command", ["/ask", f"/ask@{BOT_USERNAME}"])
async def test_ask_command_in_private_and_group(command: str) -> None:
    async with running_bot() as (app, api, engine):
        await send(app, message=message_json(private_chat(USER), USER, f"{command} Who won?"))
        asking = message_json(group_chat(GROUP), USER, f"{command}   How many\ndied? ")
        await send(app, message=asking)
        assert engine.questions == ["Who won?", "How many\ndied?"]
        private, group = messages(api)
        assert private["chat_id"] == USER and group["chat_id"] == GROUP
        assert group["reply_parameters"]["message_id"] == asking["message_id"]


async def test_ask_for_another_bot_is_ignored() -> None:
    async with running_bot() as (app, api, engine):
        await send(app, message=message_json(group_chat(GROUP), USER, "/ask@other_bot Who won?"))
        assert engine.questions == [] and messages(api) == []


async def test_ask_alone_explains_how_to_ask() -> None:
    async with running_bot() as (app, api, engine):
        await send(app, message=message_json(group_chat(GROUP), USER, f"/ask@{BOT_USERNAME}"))
        await send(app, message=message_json(private_chat(USER), USER, "/ask"))
        assert engine.questions == []
        group, private = messages(api)
        assert f"@{BOT_USERNAME}" in group["text"] and "/ask" in group["text"]
        assert "just send me your question" in private["text"]


async def test_group_mention_is_a_question_without_the_mention() -> None:
    async with running_bot() as (app, api, engine):
        asking = message_json(
            group_chat(GROUP), USER, f"Hey @{BOT_USERNAME.upper()} how many died in Syria? 🇸🇾"
        )
        await send(app, message=asking)
        assert engine.questions == ["Hey how many died in Syria? 🇸🇾"]
        [reply] = messages(api)
        assert reply["reply_parameters"]["message_id"] == asking["message_id"]
        assert reply["reply_parameters"]["allow_sending_without_reply"] is True


async def test_mention_after_an_emoji_is_removed_at_the_right_place() -> None:
    async with running_bot() as (app, _api, engine):
        text = f"😀😀 @{BOT_USERNAME} who resigned?"  # UTF-16 offsets differ from str offsets
        await send(app, message=message_json(group_chat(GROUP), USER, text))
        assert engine.questions == ["😀😀 who resigned?"]


async def test_bare_mention_explains_how_to_ask() -> None:
    async with running_bot() as (app, api, engine):
        await send(app, message=message_json(group_chat(GROUP), USER, f"@{BOT_USERNAME}"))
        assert engine.questions == []
        [reply] = messages(api)
        assert "Ask me a question" in reply["text"]


async def test_reply_to_the_bot_is_a_question() -> None:
    async with running_bot() as (app, api, engine):
        chat = group_chat(GROUP)
        earlier = bot_message_json(chat, "87 people")
        await send(app, message=message_json(chat, USER, "And who was blamed?", reply_to=earlier))
        assert engine.questions == ["And who was blamed?"]
        assert len(messages(api)) == 1


async def test_group_chatter_is_ignored() -> None:
    async with running_bot() as (app, api, engine):
        chat = group_chat(GROUP, supergroup=True)
        someone = {"message_id": 5, "date": 0, "chat": chat, "from": user_json(3), "text": "hi"}
        for update_id, message in enumerate(
            [
                message_json(chat, USER, "What a day, how many died?"),
                message_json(chat, USER, "@someone_else how many died?"),
                message_json(chat, USER, "replying to a person", reply_to=someone),
                message_json(chat, USER, "/help@other_bot"),
            ]
        ):
            await send(app, update_id=update_id, message=message)
        assert engine.questions == [] and messages(api) == []


async def test_forum_topic_answer_goes_to_the_same_topic() -> None:
    async with running_bot() as (app, api, engine):
        chat = group_chat(GROUP, forum=True)
        # In a topic, every message replies to the topic's creation message, even one the bot
        # created: that alone does not address the bot.
        topic_start = bot_message_json(chat, "") | {
            "message_thread_id": 77,
            "forum_topic_created": {"name": "News", "icon_color": 7322096},
        }
        topic_start.pop("text")
        chatter = message_json(chat, USER, "just chatting", reply_to=topic_start, thread_id=77)
        await send(app, message=chatter)
        assert engine.questions == []
        asking = message_json(
            chat, USER, f"@{BOT_USERNAME} how many died?", reply_to=topic_start, thread_id=77
        )
        await send(app, message=asking)
        [reply] = messages(api)
        assert reply["message_thread_id"] == 77
        assert reply["reply_parameters"]["message_id"] == asking["message_id"]


async def test_edits_channel_posts_and_non_text_do_not_crash() -> None:
    async with running_bot() as (app, api, engine):
        chat = private_chat(USER)
        await send(app, edited_message=message_json(chat, USER, "edited question?"))
        channel = {"id": -1009, "type": "channel", "title": "News"}
        post = {"message_id": 1, "date": 0, "chat": channel, "text": "post"}
        await send(app, channel_post=post)
        sticker = {
            "file_id": "f",
            "file_unique_id": "u",
            "type": "regular",
            "width": 1,
            "height": 1,
            "is_animated": False,
            "is_video": False,
        }
        await send(app, message=message_json(chat, USER, extra={"sticker": sticker}))
        photo = [{"file_id": "p", "file_unique_id": "q", "width": 1, "height": 1}]
        await send(
            app,
            message=message_json(group_chat(GROUP), USER, extra={"photo": photo, "caption": "?"}),
        )
        assert engine.questions == []
        [note] = messages(api)  # only the private sticker gets a note
        assert note["chat_id"] == USER and "only understand text" in note["text"]


async def test_unknown_command_in_private_points_to_help() -> None:
    async with running_bot() as (app, api, _engine):
        await send(app, message=message_json(private_chat(USER), USER, "/frobnicate"))
        [reply] = messages(api)
        assert "/help" in reply["text"]


# -- commands ---------------------------------------------------------------------------------


async def test_start_and_help_describe_the_corpus() -> None:
    async with running_bot(examples=("Who <won>?",)) as (app, api, _engine):
        await send(app, message=message_json(private_chat(USER), USER, "/start"))
        await send(app, message=message_json(group_chat(GROUP), USER, f"/help@{BOT_USERNAME}"))
        await send(app, message=message_json(private_chat(ADMIN), ADMIN, "/help"))
        start, group_help, admin_help = messages(api)
        assert start["text"].startswith("Hello!")
        for reply in (start, group_help):
            assert "3 articles (40 paragraphs)" in reply["text"]
            assert "Who &lt;won&gt;?" in reply["text"]
            assert f"@{BOT_USERNAME}" in reply["text"]
            assert "/reload" not in reply["text"]
        assert "/reload" in admin_help["text"]


async def test_sources_are_paged_with_inline_buttons() -> None:
    async with running_bot(FakeEngine(sources=25)) as (app, api, _engine):
        await send(app, message=message_json(private_chat(USER), USER, "/sources"))
        [first] = messages(api)
        assert "page 1 of 3" in first["text"]
        assert '<a href="https://e.com/1">Article 1</a>' in first["text"]
        [[next_button]] = first["reply_markup"]["inline_keyboard"]
        assert next_button["callback_data"] == "sources:1"
        bot_message = bot_message_json(private_chat(USER), "sources") | {
            "message_id": first["message_id"]
        }
        callback = {
            "id": "cb1",
            "from": user_json(USER),
            "chat_instance": "ci",
            "message": bot_message,
            "data": "sources:1",
        }
        await send(app, update_id=2, callback_query=callback)
        [edit] = [m for m in api.sent if m["method"] == "editMessageText"]
        check_message(edit["text"])
        assert edit["message_id"] == first["message_id"]
        assert "page 2 of 3" in edit["text"] and "11. " in edit["text"]
        buttons = edit["reply_markup"]["inline_keyboard"][0]
        assert [b["callback_data"] for b in buttons] == ["sources:0", "sources:2"]
        assert "answerCallbackQuery" in api.methods_called()


async def test_reload_by_an_admin_reports_the_summary() -> None:
    async with running_bot() as (app, api, engine):
        await send(app, message=message_json(private_chat(ADMIN), ADMIN, "/reload"))
        assert engine.reloads == 1
        [reply] = messages(api)
        assert reply["text"].startswith("Reloaded: 1 added, 0 updated, 0 removed, 0 skipped")


async def test_reload_by_anyone_else_is_refused() -> None:
    async with running_bot() as (app, api, engine):
        await send(app, message=message_json(group_chat(GROUP), USER, "/reload"))
        assert engine.reloads == 0
        [reply] = messages(api)
        assert "only the bot's admins" in reply["text"]


async def test_failed_reload_reports_the_escaped_error() -> None:
    engine = FakeEngine()
    engine.reload_error = OSError("cannot read <corpus> & friends")
    async with running_bot(engine) as (app, api, _engine):
        await send(app, message=message_json(private_chat(ADMIN), ADMIN, "/reload"))
        [reply] = messages(api)
        assert "previous index is still in use" in reply["text"]
        assert "cannot read &lt;corpus&gt; &amp; friends" in reply["text"]


async def test_a_second_reload_while_one_runs_does_not_start_another() -> None:
    engine = FakeEngine()
    engine.reload_gate = threading.Event()
    async with running_bot(engine) as (app, api, _engine):
        first = asyncio.create_task(
            send(app, message=message_json(private_chat(ADMIN), ADMIN, "/reload"))
        )
        await asyncio.to_thread(engine.reload_started.wait, 5)
        await send(app, message=message_json(private_chat(ADMIN), ADMIN, "/reload"))
        # Questions are still answered while the reload runs.
        await send(app, message=message_json(private_chat(USER), USER, "How many died?"))
        engine.reload_gate.set()
        await first
        running, answer, done = messages(api)
        assert "already running" in running["text"]
        assert "<b>87 people</b>" in answer["text"]
        assert done["text"].startswith("Reloaded:")
        assert engine.reloads == 1


async def test_rate_limit_note_is_sent_once_per_window() -> None:
    async with running_bot(rate_limit=2) as (app, api, engine):
        for n in range(5):
            await send(app, update_id=n, message=message_json(private_chat(USER), USER, f"q{n}?"))
        await send(app, message=message_json(private_chat(ADMIN), ADMIN, "other user?"))
        assert engine.questions == ["q0?", "q1?", "other user?"]
        replies = [m["text"] for m in messages(api)]
        assert len(replies) == 4
        assert "2 questions per minute" in replies[2]
        assert "<b>87 people</b>" in replies[3]


async def test_errors_get_an_apology_and_a_log_line_with_ids(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with running_bot() as (app, api, _engine):
        with caplog.at_level(logging.ERROR, logger="bot.handlers"):
            await send(
                app,
                update_id=4242,
                message=message_json(private_chat(USER), USER, "please explode"),
            )
        [apology] = messages(api)
        assert apology["text"].startswith("Sorry, something went wrong")
        assert "Traceback" not in apology["text"] and "exploded" not in apology["text"]
        [record] = [r for r in caplog.records if r.name == "bot.handlers"]
        message = record.getMessage()
        assert "'update_id': 4242" in message and f"'chat_id': {USER}" in message
        assert f"'user_id': {USER}" in message
        assert record.exc_info is not None and TOKEN not in message
        # The bot keeps running: the next question is answered.
        await send(app, message=message_json(private_chat(USER), USER, "How many died?"))
        assert "<b>87 people</b>" in messages(api)[-1]["text"]


# -- start-up and shutdown --------------------------------------------------------------------


async def test_command_menus_for_everyone_and_for_admins() -> None:
    async with running_bot(admins=frozenset({ADMIN, 3003})) as (_app, api, _engine):
        default = json.dumps({"type": "default"}, sort_keys=True)
        public = [c["command"] for c in api.commands[default]]
        assert public == ["ask", "help", "sources", "start"]
        for admin in (ADMIN, 3003):
            scope = json.dumps({"type": "chat", "chat_id": admin}, sort_keys=True)
            assert [c["command"] for c in api.commands[scope]] == [*public, "reload"]


async def test_command_menu_failures_are_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    engine = FakeEngine()
    api_faults = [Fault.status(400), Fault.status(400)]

    class FailingRequest(RecordingRequest):
        async def do_request(self, url: str, method: str, *args: Any, **kwargs: Any):
            if url.endswith("/setMyCommands") and api_faults:
                self.api.inject("setMyCommands", api_faults.pop())
            return await super().do_request(url, method, *args, **kwargs)

    api = FakeBotApi(TOKEN)
    settings = Settings(corpus=Path("x"), db=Path("x.db"), admins=frozenset({ADMIN}))
    app = build_application(
        settings, TOKEN, engine_factory=lambda: engine, request=FailingRequest(api)
    )
    with caplog.at_level(logging.WARNING, logger="bot.app"):
        async with app:
            await app.post_init(app)
            await send(app, message=message_json(private_chat(USER), USER, "How many died?"))
            await app.post_shutdown(app)
    assert len(messages(api)) == 1
    assert sum("could not set" in r.getMessage() for r in caplog.records) == 2


async def test_query_log_rows_and_engine_closed_on_shutdown(tmp_path: Path) -> None:
    db_path = tmp_path / "index.db"
    engine = FakeEngine(db_path=db_path)
    async with running_bot(engine) as (app, _api, _engine):
        await send(app, message=message_json(group_chat(GROUP), USER, "/ask How many died?"))
        await send(app, message=message_json(private_chat(USER), USER, "unknowable thing"))
    assert engine.closed
    rows = list(sqlite_utils.Database(db_path)["queries"].rows)
    assert [(r["chat_type"], r["chat_id"], r["user_id"], r["answered"]) for r in rows] == [
        ("group", GROUP, USER, 1),
        ("private", USER, USER, 0),
    ]
    assert rows[0]["question"] == "How many died?" and rows[0]["doc_id"] == "seed.txt"


async def test_query_log_can_be_switched_off(tmp_path: Path) -> None:
    db_path = tmp_path / "index.db"
    engine = FakeEngine(db_path=db_path)
    async with running_bot(engine, log_queries=False) as (app, _api, _engine):
        await send(app, message=message_json(private_chat(USER), USER, "How many died?"))
    assert not db_path.exists()
