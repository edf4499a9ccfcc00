"""Hostile input: whatever users send and whatever articles hold, nothing raises and every
message the bot sends is valid Telegram HTML within 4096 characters.

Three levels: the text pipeline (tokenizer, sentence splitter, chunker) on arbitrary text; the
engine (BM25 and the answerer, through ``QAEngine``) and the formatter on arbitrary questions
and articles; and the whole bot (python-telegram-bot, handlers, engine, formatter, query log)
on named hostile updates and on arbitrary message texts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from bot_harness import running_application
from fake_bot_api import (
    BOT_USERNAME,
    FakeBotApi,
    bot_message_json,
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
from bot.handlers import MAX_QUESTION_CHARS
from bot.telegram_html import MAX_MESSAGE_LENGTH, check_message, utf16_length
from retrieval.chunks import chunk_article
from retrieval.documents import Article
from retrieval.engine import QAEngine
from retrieval.sentences import split_sentences
from retrieval.tokenizer import tokenize

REPO = Path(__file__).resolve().parent.parent
TOKEN = "246810:AAH-hostile-input-token"
USER = 4001
GROUP = -1004002
ANONYMOUS_ADMIN_BOT = 1087968824  # the "from" of messages sent by anonymous group admins
CHANNEL_BOT = 136817688  # the "from" of messages sent on behalf of a channel

HOSTILE_PIECES = [
    "<b>",
    "</a>",
    "&",
    "&amp;",
    "&nbsp;",
    "<script>alert(1)</script>",
    '<a href="tg://user?id=1">x</a>',
    "*bold* _it_ `code` ```pre```",
    "[link](https://evil.example)",
    "\u202eevil\u202c",  # right-to-left override
    "مرحبا بالعالم",
    "שלום עולם",
    "\u200b\u200c\u200d\u2060\ufeff",  # zero-width characters
    "\x00\x01\x07\x1b[31m\x7f",
    "\r\n\t\v\f\u2028\u2029\x85",
    "😀🇸🇾👍🏽👨‍👩‍👧",
    "e\u0301\u0301\u0301",
    "ﬁ İ ß ǅ",
    "?!?!...;:,",
    "Putin",
    "Syria",
    "chemical attack",
]
hostile_text = st.lists(
    st.one_of(st.sampled_from(HOSTILE_PIECES), st.text(max_size=30)), max_size=25
).map("".join)

HOSTILE_ARTICLE = "\n\n".join(
    [
        '<script>alert("title")</script> & </a> headline <b>',
        'Officials said the <b>flood</b> & storm of 2019 &amp; "rain" cost <i>£3m</i>'
        ' </blockquote> <a href="javascript:alert(1)">click</a>.',
        "Zero\u200bwidth\u200dwords, right-to-left \u202eevil\u202c text, مرحبا بالعالم,"
        " emoji 😀🇸🇾 and *markdown* _here_ `code` [x](https://evil.example).",
        "The harbour master, Ana <script>Kovač</script>, said 42 boats sank in the storm"
        " &lt;surge&gt;.",
        'Original URL: https://example.com/a?b=1&c="2"<x>',
    ]
)


# -- the text pipeline --------------------------------------------------------------------------


@settings(max_examples=120, deadline=None)
@given(hostile_text)
def test_tokenizer_sentences_and_chunker_never_raise(text: str) -> None:
    assert all(term for term in tokenize(text))
    for start, end in split_sentences(text):
        assert 0 <= start < end <= len(text)
    paragraphs = tuple(p for p in text.split("\n\n") if p.strip())
    if paragraphs:
        article = Article("hostile.txt", text[:80], None, None, paragraphs)
        chunks = chunk_article(article)
        assert chunks and all(chunk.text for chunk in chunks)


# -- the engine and the formatter -----------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile") / "corpus"
    shutil.copytree(REPO / "seeds", folder)
    (folder / "hostile.txt").write_text(HOSTILE_ARTICLE, encoding="utf-8")
    record = {
        "title": "</i><b>Bold & broken",
        "url": "javascript:alert(1)",
        "text": "The storm <tg-spoiler>hit</tg-spoiler> 7 towns &#0; on Monday, "
        "police said.\n\nRescuers found 3 people.",
    }
    (folder / "records.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def engine(corpus: Path) -> Iterator[QAEngine]:
    qa = QAEngine.open(corpus, corpus.parent / "index.db")
    yield qa
    qa.close()


def assert_valid_reply(html_text: str) -> None:
    parsed = check_message(html_text)  # raises if Telegram would reject it
    assert utf16_length(parsed.visible_text) <= MAX_MESSAGE_LENGTH


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_text)
def test_any_question_gets_a_valid_reply(engine: QAEngine, question: str) -> None:
    result = engine.answer(question[:MAX_QUESTION_CHARS], k=3)
    assert_valid_reply(formatting.format_result(result))


@pytest.mark.parametrize(
    "question",
    [
        "How many boats sank in the storm?",
        "Who is the harbour master?",
        "What did the storm hit?",
        "<script>alert(1)</script> storm?",
    ],
)
def test_hostile_articles_are_quoted_as_text(engine: QAEngine, question: str) -> None:
    result = engine.answer(question, k=3)
    html_text = formatting.format_result(result)
    assert_valid_reply(html_text)
    assert "<script>" not in html_text  # shown as text, escaped
    assert all(link.startswith("https://") for link in check_message(html_text).links)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=hostile_text,
    url=st.one_of(st.none(), st.sampled_from(["javascript:alert(1)", 'https://e.com/"><b>'])),
    paragraphs=st.lists(hostile_text.filter(str.strip), min_size=1, max_size=4),
    pick=st.randoms(use_true_random=False),
)
def test_any_article_is_answered_with_valid_html(
    title: str, url: str | None, paragraphs: list[str], pick: Any
) -> None:
    article = Article("a.txt", title, url, None, tuple(paragraphs))
    words = " ".join(paragraphs).split()
    question = " ".join(pick.sample(words, min(len(words), 6))) + "?"
    engine = QAEngine.from_articles([article])
    try:
        result = engine.answer(question, k=3)
    finally:
        engine.close()
    assert_valid_reply(formatting.format_result(result))


def test_a_sentence_of_invisible_characters_is_read_without_error() -> None:
    # Found by the test above: a sentence with no words left an empty candidate table.
    article = Article("a.txt", "", None, None, ("<b>", "\u200b\u200c\u200d\u2060\ufeff"))
    engine = QAEngine.from_articles([article])
    try:
        result = engine.answer("<b> \u200b\u200c\u200d\u2060\ufeff?", k=3)
    finally:
        engine.close()
    assert_valid_reply(formatting.format_result(result))


# -- the whole bot ------------------------------------------------------------------------------


class SpyEngine:
    """The real engine, remembering the questions it was asked."""

    def __init__(self, engine: QAEngine) -> None:
        self.engine = engine
        self.questions: list[str] = []

    def answer(
        self, question: str, k: int = 3, depth: int = 10, short_answers: int | None = None
    ) -> Any:
        self.questions.append(question)
        return self.engine.answer(question, k)

    def close(self) -> None:
        pass  # the module fixture owns the engine

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)


@contextlib.asynccontextmanager
async def running_bot(engine: QAEngine) -> AsyncIterator[tuple[Application, FakeBotApi, Any]]:
    spy = SpyEngine(engine)
    async with running_application(spy, TOKEN, rate_limit=0) as (app, api):
        yield app, api, spy


def sent_messages(api: FakeBotApi) -> list[dict[str, Any]]:
    for sent in api.sent:
        assert_valid_reply(sent["text"])
        assert formatting.APOLOGY_TEXT not in sent["text"]  # the apology means a handler failed
    return api.sent


STICKER = {
    "file_id": "s",
    "file_unique_id": "su",
    "type": "regular",
    "width": 512,
    "height": 512,
    "is_animated": False,
    "is_video": False,
}
PHOTO = [{"file_id": "p", "file_unique_id": "pu", "width": 90, "height": 90}]
VOICE = {"file_id": "v", "file_unique_id": "vu", "duration": 3}
DOCUMENT = {"file_id": "d", "file_unique_id": "du", "file_name": "<b>.pdf"}
MENTION = f"@{BOT_USERNAME}"


def private(text: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"message": message_json(private_chat(USER), USER, text, extra=extra)}


def in_group(text: str | None = None, *, user: int = USER, **extra: Any) -> dict[str, Any]:
    return {"message": message_json(group_chat(GROUP, supergroup=True), user, text, extra=extra)}


def on_behalf_of(chat: dict[str, Any], sender: int, text: str, **extra: Any) -> dict[str, Any]:
    update = in_group(text, user=sender, **extra)
    update["message"]["sender_chat"] = chat
    return update


GROUP_CHAT = group_chat(GROUP, supergroup=True)
CHANNEL = {"id": -1009001, "type": "channel", "title": "<b>News</b> & co"}

# name -> (update, number of replies expected)
NAMED_CASES: dict[str, tuple[dict[str, Any], int]] = {
    "100k characters": (private("why did the storm " * 5_556), 1),
    "only punctuation": (private("?!?!... ;:,-- «»"), 1),
    "right to left": (private("كم عدد القتلى في الهجوم الكيميائي؟ \u202egnp.exe"), 1),
    "emoji": (private("😀🇸🇾👍🏽👨‍👩‍👧"), 1),
    "zero width": (private("\u200b\u200c\u200d\u2060\ufeff"), 1),
    "control characters": (private("\x00\x01\x07\x1b[31mPutin\x7f"), 1),
    "html injection": (private('<b>x</b> </a> & <script>alert(1)</script> <a href="x">'), 1),
    "markdown injection": (private("*bold* _it_ `code` ```pre``` [x](https://evil.example)"), 1),
    "whitespace only": (private("   \n\t  "), 1),
    "lone surrogate": (private("Putin \ud800 Syria \udfff?"), 1),
    "combining marks": (private("Pu\u0301\u0301\u0301tin" * 50), 1),
    "bare mention": (in_group(MENTION), 1),
    "mention with injection": (in_group(f"{MENTION} <script>&amp;</a> Putin?"), 1),
    "mention with lone surrogate": (in_group(f"{MENTION} Putin \ud800?"), 0),
    "ask with injection": (in_group(f"/ask@{BOT_USERNAME} <b>Syria</b> &"), 1),
    "reply to the bot": (
        in_group("<i>and then?</i>", reply_to_message=bot_message_json(GROUP_CHAT, "x")),
        1,
    ),
    "group chatter with injection": (in_group("<b>hi</b> & bye"), 0),
    "sticker in private": (private(sticker=STICKER), 1),
    "photo with caption in private": (private(photo=PHOTO, caption="<b>what?</b>"), 1),
    "voice in private": (private(voice=VOICE), 1),
    "document in private": (private(document=DOCUMENT, caption="&"), 1),
    "sticker in a group": (in_group(sticker=STICKER), 0),
    "photo with a mention caption in a group": (
        in_group(photo=PHOTO, caption=f"{MENTION} who?"),
        0,
    ),
    "voice in a group": (in_group(voice=VOICE), 0),
    "edited message": (
        {"edited_message": message_json(private_chat(USER), USER, "edited <b>", extra={})},
        0,
    ),
    "edited mention in a group": (
        {"edited_message": message_json(GROUP_CHAT, USER, f"{MENTION} edited?")},
        0,
    ),
    "channel post": (
        {"channel_post": {"message_id": 9, "date": 0, "chat": CHANNEL, "text": "<b>post</b>"}},
        0,
    ),
    "edited channel post": (
        {"edited_channel_post": {"message_id": 9, "date": 0, "chat": CHANNEL, "text": "x"}},
        0,
    ),
    "anonymous group admin": (
        on_behalf_of(GROUP_CHAT, ANONYMOUS_ADMIN_BOT, f"{MENTION} Putin?"),
        1,
    ),
    "message on behalf of a channel": (
        on_behalf_of(CHANNEL, CHANNEL_BOT, f"{MENTION} Syria?"),
        1,
    ),
    "automatic forward from the linked channel": (
        on_behalf_of(CHANNEL, 777000, "<b>news</b>", is_automatic_forward=True),
        0,
    ),
    "new members": (in_group(new_chat_members=[user_json(7, "<b>Eve</b>")]), 0),
    "unknown command with injection": (private("/<b>x</b>"), 1),
}


@pytest.mark.parametrize("name", NAMED_CASES)
async def test_named_hostile_updates(
    engine: QAEngine, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    update, replies = NAMED_CASES[name]
    async with running_bot(engine) as (app, api, spy):
        with caplog.at_level(logging.ERROR):
            await app.process_update(Update.de_json({"update_id": 1, **update}, app.bot))
        assert len(sent_messages(api)) == replies
        assert all(len(question) <= MAX_QUESTION_CHARS for question in spy.questions)
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_huge_message_costs_the_engine_a_short_question(engine: QAEngine) -> None:
    async with running_bot(engine) as (app, api, spy):
        text = "How many people did the chemical attack kill? " + "x" * 100_000
        update = {"update_id": 1, "message": message_json(private_chat(USER), USER, text)}
        await app.process_update(Update.de_json(update, app.bot))
        [question] = spy.questions
        assert len(question) == MAX_QUESTION_CHARS
        assert question.startswith("How many people did the chemical attack kill?")
        [reply] = sent_messages(api)
        assert reply["chat_id"] == USER


async def test_hostile_questions_reach_the_query_log_intact(engine: QAEngine) -> None:
    questions = ["<b>&</b> \x00 \u202e 😀", "Putin \ud800 Syria?", "x" * 5_000]
    async with running_bot(engine) as (app, _api, _spy):
        for number, text in enumerate(questions, 1):
            update = {"update_id": number, "message": message_json(private_chat(USER), USER, text)}
            await app.process_update(Update.de_json(update, app.bot))
    rows = list(sqlite_utils.Database(engine.db_path)["queries"].rows_where("user_id = ?", [USER]))
    stored = [row["question"] for row in rows[-3:]]
    assert stored == [questions[0], "Putin \ufffd Syria?", "x" * MAX_QUESTION_CHARS]


@pytest.fixture(scope="module")
def bot_loop(engine: QAEngine) -> Iterator[tuple[asyncio.Runner, Application, FakeBotApi]]:
    """One bot for every hypothesis example (an event loop outside pytest-asyncio)."""
    with asyncio.Runner() as runner:
        context = running_bot(engine)
        app, api, _spy = runner.run(context.__aenter__())
        try:
            yield runner, app, api
        finally:
            runner.run(context.__aexit__(None, None, None))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    text=hostile_text.filter(str.strip),
    where=st.sampled_from(["private", "mention", "ask", "reply"]),
)
def test_any_message_text_gets_valid_replies(
    bot_loop: tuple[asyncio.Runner, Application, FakeBotApi], text: str, where: str
) -> None:
    runner, app, api = bot_loop
    chat = private_chat(USER) if where == "private" else GROUP_CHAT
    reply_to = bot_message_json(chat, "x") if where == "reply" else None
    prefix = {"private": "", "mention": f"{MENTION} ", "ask": "/ask ", "reply": ""}[where]
    message = message_json(chat, USER, prefix + text, reply_to=reply_to)
    before = len(api.sent)
    runner.run(app.process_update(Update.de_json({"update_id": 1, "message": message}, app.bot)))
    assert len(sent_messages(api)) == before + 1
