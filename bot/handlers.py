"""Telegram update handlers. Thin on purpose: parse the update, call the engine, format, send.

Everything shared lives in ``application.bot_data`` (set up by bot.app.post_init): the engine,
the settings, the per-user rate limiter and the query log. Engine calls are blocking, so they run
in worker threads; the event loop keeps polling and answering meanwhile.

Every reply a sender triggers (answers, notes, help) counts against their rate limit, so nobody
can make the bot flood a group. Replies go out through bot.delivery, which retries what can be
retried.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from typing import Any

from telegram import (
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Conflict, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot import formatting
from bot.config import Settings, secret_variants
from bot.delivery import is_delivery_failure, reply
from bot.query_log import QueryLog, QueryRecord
from bot.rate_limit import SlidingWindowLimiter
from retrieval.engine import ReloadInProgress
from retrieval.indexer import IndexingCancelled

ENGINE = "engine"
SETTINGS = "settings"
RATE_LIMITER = "rate_limiter"
QUERY_LOG = "query_log"
STOPPING = "stopping"  # a threading.Event, set when a stop signal arrives (bot.app.request_stop)
MAX_QUESTION_CHARS = 1000  # longer texts are cut: a question is not an essay, and BM25 cost grows
_LONE_SURROGATE_RE = re.compile("[\ud800-\udfff]")

logger = logging.getLogger(__name__)
_NEW_MESSAGE = filters.UpdateType.MESSAGE  # edited messages and channel posts are not questions
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def register_handlers(application: Application) -> None:
    application.add_handler(CommandHandler("start", on_start, filters=_NEW_MESSAGE))
    application.add_handler(CommandHandler("help", on_help, filters=_NEW_MESSAGE))
    application.add_handler(CommandHandler("ask", on_ask, filters=_NEW_MESSAGE))
    application.add_handler(CommandHandler("sources", on_sources, filters=_NEW_MESSAGE))
    application.add_handler(CommandHandler("reload", on_reload, filters=_NEW_MESSAGE))
    application.add_handler(
        CallbackQueryHandler(on_sources_page, pattern=f"^{formatting.SOURCES_CALLBACK_PREFIX}")
    )
    private = filters.ChatType.PRIVATE & _NEW_MESSAGE
    application.add_handler(
        MessageHandler(private & filters.TEXT & ~filters.COMMAND, on_private_text)
    )
    application.add_handler(MessageHandler(private & filters.COMMAND, on_unknown_command))
    application.add_handler(
        MessageHandler(private & ~filters.TEXT & ~filters.StatusUpdate.ALL, on_private_non_text)
    )
    application.add_handler(
        MessageHandler(
            filters.ChatType.GROUPS & _NEW_MESSAGE & filters.TEXT & ~filters.COMMAND,
            on_group_text,
        )
    )
    application.add_error_handler(on_error)


# -- questions --------------------------------------------------------------------------------


async def on_private_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None or message.text is None:
        return
    if not message.text.strip():
        await reply_limited(message, context, _how_to_ask(message, context))
        return
    await answer_question(message, context, message.text)


async def on_ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None or message.text is None:
        return
    parts = message.text.split(None, 1)  # "/ask" or "/ask@botname", then the question
    question = parts[1].strip() if len(parts) > 1 else ""
    if not question:
        await reply_limited(message, context, _how_to_ask(message, context))
        return
    await answer_question(message, context, question)


async def on_group_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None or message.text is None:
        return
    try:
        question = addressed_question(
            message, bot_id=context.bot.id, bot_username=context.bot.username
        )
    except UnicodeEncodeError:  # a lone surrogate: entity offsets cannot be worked out
        return  # (Telegram's clients cannot send one; a message with one is not for us)
    if question is None:
        return  # group chatter: not for us
    if not question:
        await reply_limited(message, context, _how_to_ask(message, context))
        return
    await answer_question(message, context, question)


def addressed_question(message: Message, *, bot_id: int, bot_username: str | None) -> str | None:
    """The question in a group message addressed to the bot, by an @mention of it or as a
    reply to one of its messages, with the mentions removed ("" for a bare mention); None when
    the message is not addressed to the bot."""
    mentions = [
        entity
        for entity, text in message.parse_entities([MessageEntity.MENTION]).items()
        if bot_username and text[1:].casefold() == bot_username.casefold()
    ]
    replied = message.reply_to_message
    # In a forum topic every message "replies" to the topic's first service message: that is
    # not a reply to the bot even when the bot opened the topic.
    replies_to_bot = (
        replied is not None
        and replied.from_user is not None
        and replied.from_user.id == bot_id
        and replied.forum_topic_created is None
    )
    if not mentions and not replies_to_bot:
        return None
    return formatting.one_line(_without_entities(message.text or "", mentions))


def _without_entities(text: str, entities: list[MessageEntity]) -> str:
    # Entity offsets count UTF-16 code units, not Python characters.
    encoded = text.encode("utf-16-le")
    space = " ".encode("utf-16-le")
    for entity in sorted(entities, key=lambda e: e.offset, reverse=True):
        start, end = entity.offset * 2, (entity.offset + entity.length) * 2
        encoded = encoded[:start] + space + encoded[end:]
    return encoded.decode("utf-16-le")


async def answer_question(
    message: Message, context: ContextTypes.DEFAULT_TYPE, question: str
) -> None:
    settings: Settings = context.bot_data[SETTINGS]
    user = message.from_user
    if not await within_rate_limit(message, context):
        return
    engine = context.bot_data[ENGINE]
    question = clean_question(question)
    started = time.perf_counter()
    # The reply shows a short answer for the best answer only ("also relevant" ones are
    # quoted as sentences), so the engine need not find one for the others.
    result = await asyncio.to_thread(
        engine.answer,
        question,
        settings.answer_k,
        depth=settings.answer_depth,
        short_answers=1,
    )
    latency_ms = (time.perf_counter() - started) * 1000
    await reply(message, formatting.format_result(result))
    logger.debug(
        "question in %s chat %s answered=%s in %.0f ms",
        message.chat.type,
        message.chat_id,
        not result.no_answer,
        latency_ms,
    )
    query_log: QueryLog | None = context.bot_data.get(QUERY_LOG)
    if query_log is not None:
        query_log.record(
            QueryRecord.from_result(
                result,
                chat_type=message.chat.type,
                chat_id=message.chat_id,
                user_id=user.id if user else None,
                latency_ms=latency_ms,
            )
        )


def clean_question(text: str) -> str:
    """The question as the engine sees it: at most MAX_QUESTION_CHARS, trimmed, and with any
    lone UTF-16 surrogate (JSON can carry one, UTF-8 cannot) made a replacement character, so
    that it cannot break the query log or a reply."""
    # Cut before stripping: str.strip on a huge message would walk all of it.
    text = text[: MAX_QUESTION_CHARS * 2].strip()[:MAX_QUESTION_CHARS]
    return _LONE_SURROGATE_RE.sub("\ufffd", text)


def _how_to_ask(message: Message, context: ContextTypes.DEFAULT_TYPE) -> str:
    return formatting.format_how_to_ask(
        context.bot.username, in_group=message.chat.type != ChatType.PRIVATE
    )


def sender_id(message: Message) -> int | None:
    """Whom a message counts against: the chat it was sent on behalf of (an anonymous group
    admin, a channel) or else the user. Anonymous admins all share one user id, so that id
    would put every anonymous admin of every group in one bucket."""
    if message.sender_chat is not None:
        return message.sender_chat.id
    return message.from_user.id if message.from_user else None


async def within_rate_limit(message: Message, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Count a reply to ``message`` against its sender's limit. False when over it; then the
    sender is told so, at most once per window."""
    limiter: SlidingWindowLimiter = context.bot_data[RATE_LIMITER]
    sender = sender_id(message)
    if sender is None:
        return True
    decision = limiter.check(sender)
    if decision.allowed:
        return True
    if decision.notify:
        await reply(message, formatting.format_rate_limited(limiter.limit, limiter.window))
    return False


async def reply_limited(
    message: Message,
    context: ContextTypes.DEFAULT_TYPE,
    text: str,
    reply_markup: InlineKeyboardMarkup | None = None,
) -> None:
    """``reply`` if the sender is within their rate limit."""
    if await within_rate_limit(message, context):
        await reply(message, text, reply_markup)


# -- commands ---------------------------------------------------------------------------------


def _help_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    settings: Settings = context.bot_data[SETTINGS]
    engine = context.bot_data[ENGINE]
    user = update.effective_user
    return formatting.format_help(
        engine.article_count,
        engine.chunk_count,
        settings.examples,
        context.bot.username,
        is_admin=user is not None and user.id in settings.admins,
    )


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.effective_message:
        text = formatting.format_start(_help_text(update, context))
        await reply_limited(update.effective_message, context, text)


async def on_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.effective_message:
        await reply_limited(update.effective_message, context, _help_text(update, context))


async def on_sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None or not await within_rate_limit(message, context):
        return
    sources = await asyncio.to_thread(context.bot_data[ENGINE].sources)
    page = formatting.format_sources_page(sources, 0)
    await reply(message, page.text, reply_markup=page.keyboard)


async def on_sources_page(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query is None:
        return
    number = formatting.parse_sources_callback(query.data)
    await query.answer()
    if number is None or query.message is None:
        return
    sources = await asyncio.to_thread(context.bot_data[ENGINE].sources)
    page = formatting.format_sources_page(sources, number)
    try:
        await query.edit_message_text(
            page.text,
            parse_mode=ParseMode.HTML,
            reply_markup=page.keyboard,
            link_preview_options=_NO_PREVIEW,
        )
    except BadRequest as error:
        if "not modified" not in str(error).lower():  # a double tap on the same button
            raise


async def on_reload(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    user = update.effective_user
    if message is None:
        return
    settings: Settings = context.bot_data[SETTINGS]
    # On behalf of a chat (an anonymous group admin, a channel) the user id is Telegram's
    # shared placeholder, not a person: never an admin.
    if user is None or message.sender_chat is not None or user.id not in settings.admins:
        logger.info("refused /reload from user %s", user.id if user else None)
        await reply_limited(message, context, formatting.RELOAD_REFUSED_TEXT)
        return
    engine = context.bot_data[ENGINE]
    logger.info("reload requested by admin %s", user.id)
    stopping: threading.Event = context.bot_data[STOPPING]
    try:
        summary = await asyncio.to_thread(engine.reload, cancel=stopping)
    except ReloadInProgress:
        await reply(message, formatting.RELOAD_RUNNING_TEXT)
        return
    except IndexingCancelled:
        # A stop signal: the bot is shutting down and must not wait for a long re-index.
        logger.info("reload cancelled by shutdown; the index is unchanged")
        await reply(message, formatting.RELOAD_CANCELLED_TEXT)
        return
    # KeyboardInterrupt too: out of the reload's thread it can only be an indexing worker
    # process's, relayed by its pool (this process's own stop signals are handled by serve).
    except (Exception, KeyboardInterrupt) as error:
        if stopping.is_set():
            # Ctrl-C and systemd signal the whole process group: the stop signal can reach
            # the indexing workers and break the reload before it sees the cancel. The index
            # update is rolled back all the same: for the admin, it was cancelled.
            logger.info("reload ended by shutdown (%r); the index is unchanged", error)
            await reply(message, formatting.RELOAD_CANCELLED_TEXT)
            return
        # The engine keeps its old index: report, keep serving.
        logger.exception("reload failed; the previous index stays in use")
        # The error text goes to a chat: never with the token in it, however it got there.
        text = formatting.format_reload_failed(error)
        for secret in secret_variants([context.bot.token]):
            text = text.replace(formatting.escape(secret), "&lt;token&gt;")
        await reply(message, text)
        return
    logger.info("reload done: %s", summary)
    await reply(message, formatting.format_reload_summary(summary))


async def on_unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.effective_message:
        await reply_limited(update.effective_message, context, formatting.UNKNOWN_COMMAND_TEXT)


async def on_private_non_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.effective_message:
        await reply_limited(update.effective_message, context, formatting.NON_TEXT_TEXT)


# -- errors -----------------------------------------------------------------------------------


def describe_update(update: object) -> dict[str, Any]:
    """Where an update came from, for logs: ids only, never message text or tokens."""
    if not isinstance(update, Update):
        return {}
    return {
        "update_id": update.update_id,
        "chat_id": update.effective_chat.id if update.effective_chat else None,
        "user_id": update.effective_user.id if update.effective_user else None,
    }


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    error = context.error
    where = describe_update(update)
    if isinstance(error, Conflict) and not where:
        # 409 on getUpdates: another process polls with this token (a second `serve`, or an
        # old one not yet stopped). Telegram serves one at a time; PTB retries with back-off.
        logger.warning(
            "another process is fetching this bot's updates (409 Conflict): run only one"
            " `newsbite serve` per token; retrying"
        )
        return
    if isinstance(error, NetworkError | RetryAfter) and not where:
        # Polling hiccups (Telegram or the network): PTB retries; a traceback adds nothing.
        logger.warning("network problem talking to the Bot API: %s", error)
        return
    if is_delivery_failure(error):
        # The reply could not be sent (retries are done): an apology would take the same
        # broken way, or follow an answer that did arrive after all.
        logger.warning("could not deliver the reply to update %s: %r", where, error)
        return
    logger.error("error while handling update %s", where or "(none)", exc_info=error)
    if not isinstance(update, Update):
        return
    message = update.effective_message
    if message is None or update.callback_query is not None:
        return
    if message.chat.type == ChatType.CHANNEL:
        return
    try:
        await reply(message, formatting.escape(formatting.APOLOGY_TEXT))
    except TelegramError as send_error:
        logger.warning("could not send the apology to chat %s: %s", message.chat_id, send_error)
