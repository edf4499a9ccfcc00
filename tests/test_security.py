"""Security: who may reload, where the token may never appear, per-sender rate limits, and
markup that only the formatter decides.

The bot runs in-process on a python-telegram-bot Application whose HTTP layer calls the fake
Bot API directly; the engine is a stand-in whose answers and errors are chosen by each test.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from bot_harness import running_application
from fake_bot_api import (
    BOT_USERNAME,
    FakeBotApi,
    group_chat,
    message_json,
    private_chat,
    user_json,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Update
from telegram.ext import Application

from bot import formatting
from bot.serve import configure_logging
from bot.telegram_html import check_message
from retrieval.answers import Answer, AnswerResult
from retrieval.store import SourceInfo

TOKEN = "314159:AAF-security-test-SECRET"
SECRET = TOKEN.split(":")[1]
ADMIN = 7001
USER = 7002
OTHER = 7003
GROUP = -1007004
ANONYMOUS_ADMIN_BOT = 1087968824
SENTENCE = "The storm sank 42 boats in the harbour."


def canned(question: str) -> AnswerResult:
    start = SENTENCE.index("42 boats")
    answer = Answer(
        "42 boats", start, start + 8, SENTENCE, 0, SENTENCE, "Storm", None, "s.txt", 1, 2.0, 0.9
    )
    return AnswerResult(question, False, [answer])


class StandInEngine:
    db_path: Path | str = ":memory:"
    article_count = 1
    chunk_count = 1

    def __init__(self, db_path: Path | str = ":memory:") -> None:
        self.db_path = db_path
        self.reloads = 0
        self.questions: list[str] = []
        self.reload_error: Exception | None = None

    def answer(
        self, question: str, k: int = 3, depth: int = 10, short_answers: int | None = None
    ) -> AnswerResult:
        self.questions.append(question)
        if "explode" in question:
            raise RuntimeError(f"cannot reach https://api.telegram.org/bot{TOKEN}/getMe")
        return canned(question)

    def sources(self) -> list[Any]:
        return []

    def reload(self, cancel: threading.Event | None = None) -> str:
        if self.reload_error is not None:
            raise self.reload_error
        self.reloads += 1
        return "0 added, 1 updated, 0 removed, 0 skipped; 1 articles, 1 paragraphs"

    def close(self) -> None:
        pass


@contextlib.asynccontextmanager
async def running_bot(
    engine: StandInEngine, **overrides: Any
) -> AsyncIterator[tuple[Application, FakeBotApi]]:
    settings: dict[str, Any] = {"admins": frozenset({ADMIN}), **overrides}
    async with running_application(engine, TOKEN, **settings) as running:
        yield running


_update_ids = iter(range(1, 10**9))


async def send(app: Application, kind: str = "message", **message: Any) -> None:
    update = {"update_id": next(_update_ids), kind: message}
    await app.process_update(Update.de_json(update, app.bot))


def texts(api: FakeBotApi) -> list[str]:
    for sent in api.sent:
        check_message(sent["text"])
    return [sent["text"] for sent in api.sent]


# -- /reload ------------------------------------------------------------------------------------


async def test_only_configured_admin_ids_reload() -> None:
    engine = StandInEngine()
    group = group_chat(GROUP, supergroup=True)
    async with running_bot(engine, admins=frozenset({ADMIN, ANONYMOUS_ADMIN_BOT})) as (app, api):
        await send(app, **message_json(private_chat(USER), USER, "/reload"))
        # Named like the admin, or with the admin's id as a name: names are not ids.
        impostor = message_json(private_chat(USER), USER, "/reload")
        impostor["from"] = user_json(USER, str(ADMIN)) | {"username": "admin"}
        await send(app, **impostor)
        # An anonymous group admin shows Telegram's shared placeholder id: never an admin,
        # even when that id is configured.
        anonymous = message_json(group, ANONYMOUS_ADMIN_BOT, f"/reload@{BOT_USERNAME}")
        anonymous["sender_chat"] = group
        await send(app, **anonymous)
        # An admin's /reload forwarded by someone else is that someone's message.
        forwarded = message_json(private_chat(USER), USER, "/reload")
        forwarded["forward_origin"] = {"type": "user", "date": 0, "sender_user": user_json(ADMIN)}
        await send(app, **forwarded)
        # Editing a message into /reload does nothing.
        await send(app, "edited_message", **message_json(private_chat(ADMIN), ADMIN, "/reload"))
        assert engine.reloads == 0
        assert texts(api) == [formatting.RELOAD_REFUSED_TEXT] * 4

        await send(app, **message_json(private_chat(ADMIN), ADMIN, "/reload"))
        await send(app, **message_json(group, ADMIN, f"/reload@{BOT_USERNAME}"))
        assert engine.reloads == 2
        assert [t.startswith("Reloaded: 0 added, 1 updated") for t in texts(api)[4:]] == [
            True,
            True,
        ]


# -- the token ----------------------------------------------------------------------------------


@pytest.fixture
def bot_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The bot's log as `newsbite serve` sets it up (DEBUG: the most it ever writes), written
    to a buffer in place of stderr."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    buffer = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buffer)
    configure_logging("DEBUG", TOKEN)
    yield buffer
    root.handlers[:] = handlers
    root.setLevel(level)


async def test_the_token_appears_in_no_log_reply_or_query_log(
    tmp_path: Path, bot_log: io.StringIO
) -> None:
    db_path = tmp_path / "index.db"
    engine = StandInEngine(db_path)
    engine.reload_error = OSError(f"cannot read /srv/{TOKEN}/corpus ({SECRET})")
    async with running_bot(engine) as (app, api):
        # A user pastes the token (or its secret half) into questions.
        await send(app, **message_json(private_chat(USER), USER, f"is {TOKEN} valid?"))
        await send(app, **message_json(private_chat(USER), USER, f"and {SECRET}?"))
        # Errors whose text holds the token: a traceback in the log, a report to the admin.
        await send(app, **message_json(private_chat(USER), USER, "please explode"))
        await send(app, **message_json(private_chat(ADMIN), ADMIN, "/reload"))
        logging.getLogger("bot.test").error("direct %s and %s", TOKEN, SECRET)
    log = bot_log.getvalue()
    assert "cannot reach https://api.telegram.org/bot<token>/getMe" in log  # in a traceback
    assert "reload failed" in log and "direct <token> and <token>" in log
    replies = texts(api)
    assert any("Reload failed" in text for text in replies)
    stored = b"".join(path.read_bytes() for path in tmp_path.iterdir())
    assert b"is <redacted> valid?" in stored
    for where in (log, "\n".join(replies), stored.decode("utf-8", "replace")):
        assert TOKEN not in where and SECRET not in where


# -- rate limits ------------------------------------------------------------------------------


async def test_rate_limits_hold_per_sender_across_private_chats_and_groups() -> None:
    engine = StandInEngine()
    group = group_chat(GROUP, supergroup=True)
    other_group = group_chat(GROUP - 1, supergroup=True)
    async with running_bot(engine, rate_limit=3) as (app, api):
        for n in range(2):
            await send(app, **message_json(private_chat(USER), USER, f"private {n}?"))
        for n in range(3):  # the limit counts the user, not the chat
            await send(app, **message_json(group, USER, f"@{BOT_USERNAME} group {n}?"))
        await send(app, **message_json(group, OTHER, f"@{BOT_USERNAME} someone else?"))
        # Commands and notes count too: spamming /help does not make the bot spam a group.
        for _ in range(5):
            await send(app, **message_json(group, OTHER, f"/help@{BOT_USERNAME}"))
        # Anonymous admins are counted per group, not all together under their shared id.
        for chat in (group, other_group):
            anonymous = message_json(chat, ANONYMOUS_ADMIN_BOT, f"@{BOT_USERNAME} anonymous?")
            anonymous["sender_chat"] = chat
            await send(app, **anonymous)
    assert engine.questions == [
        "private 0?",
        "private 1?",
        "group 0?",
        "someone else?",
        "anonymous?",
        "anonymous?",
    ]
    replies = [(sent["chat_id"], sent["text"]) for sent in api.sent]
    notes = [chat for chat, text in replies if "faster than I can keep up" in text]
    assert notes == [GROUP, GROUP]  # one per limited sender, then silence
    helps = [text for _, text in replies if text.startswith("<b>NewsBite QA</b>")]
    assert len(helps) == 2  # OTHER: one question and two /help, then the note
    assert len(replies) == 6 + 2 + 2


# -- markup ---------------------------------------------------------------------------------------

FORMATTER_TAGS = {"b", "i", "blockquote", "a"}
_TAG_RE = re.compile(r"<([a-z-]+)")
hostile = st.lists(
    st.one_of(
        st.sampled_from(
            [
                *("<b>", "</b>", "<a href='https://evil.example'>", "</a>", "&", "&lt;", '"'),
                *("<tg-spoiler>", "<pre>", "<code>", "</blockquote>", "<blockquote>", "<i>"),
                *("'", "\n"),
            ]
        ),
        st.text(max_size=12),
    ),
    max_size=12,
).map("".join)


# The engine's own record of an indexed article.
Source = SourceInfo


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    before=hostile,
    span=hostile.filter(str.strip),
    after=hostile,
    title=hostile,
    url=st.one_of(st.none(), hostile, hostile.map(lambda s: "https://news.example/" + s)),
    other_title=hostile,
)
def test_article_text_cannot_add_markup(
    before: str, span: str, after: str, title: str, url: str | None, other_title: str
) -> None:
    sentence = before + span + after
    best = Answer(
        span, len(before), len(before) + len(span), sentence, 0, sentence, title, url, "a", 1, 1, 1
    )
    other = Answer(None, None, None, after or "x", 0, after or "x", other_title, url, "b", 2, 1, 1)
    html_text = formatting.format_result(AnswerResult("q", False, [best, other]))
    parsed = check_message(html_text)
    tags = _TAG_RE.findall(html_text)
    assert set(tags) <= FORMATTER_TAGS
    assert tags.count("blockquote") == 1 and tags.count("i") == 1 and tags.count("b") <= 2
    linkable = formatting.linkable_url(url)
    assert set(parsed.links) <= ({linkable} if linkable else set())

    page = formatting.format_sources_page([Source("a", title, url, 1)] * 3, 0)
    assert set(_TAG_RE.findall(page.text)) <= {"b", "a"}


async def test_questions_are_never_echoed_as_markup() -> None:
    async with running_bot(StandInEngine()) as (app, api):
        for text in ["<b>bold</b>?", "</a><a href='https://evil.example'>x</a>", "&lt;i&gt;"]:
            await send(app, **message_json(private_chat(USER), USER, text))
            await send(app, **message_json(private_chat(USER), USER, f"/ask {text}"))
            await send(app, **message_json(private_chat(USER), USER, f"/{text}"))
    for html_text in texts(api):
        assert set(_TAG_RE.findall(html_text)) <= FORMATTER_TAGS
        assert "evil" not in html_text
