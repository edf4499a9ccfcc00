"""Builds the python-telegram-bot Application: engine, handlers, flood control, command menus.

The engine is opened once, in post_init (so a slow index refresh happens after the token has
been checked with getMe), stored in ``bot_data`` and closed in post_shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder
from telegram.request import BaseRequest

from bot import handlers
from bot.config import Settings
from bot.query_log import QueryLog
from bot.rate_limit import SlidingWindowLimiter

EngineFactory = Callable[[], Any]  # returns a retrieval.engine.QAEngine (or a test double)

PUBLIC_COMMANDS = (
    BotCommand("ask", "Ask a question about the news"),
    BotCommand("help", "What I know and how to ask"),
    BotCommand("sources", "The articles I answer from"),
    BotCommand("start", "Introduction"),
)
ADMIN_COMMANDS = (*PUBLIC_COMMANDS, BotCommand("reload", "Re-read the article folder"))
RATE_WINDOW_SECONDS = 60.0
# Several updates at once, so a question is answered while a /reload runs in its thread.
CONCURRENT_UPDATES = 8

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds allowed for each part of a Bot API request. Short, so that shutdown and retries
    are quick; getUpdates adds its long-poll time to ``get_updates_read`` itself."""

    connect: float = 5.0
    read: float = 10.0
    write: float = 10.0
    pool: float = 5.0
    get_updates_read: float = 5.0


def open_engine(settings: Settings, stopping: threading.Event | None = None) -> Any:
    """The engine, in a process of its own (bot.engine_process), its index first brought up
    to date with the corpus; a stop signal during that update (a first index of a big archive
    takes minutes) cancels it."""
    from bot.engine_process import EngineProcess

    return EngineProcess(
        settings.db,
        settings.corpus,
        no_answer_threshold=settings.no_answer_threshold,
        cancel=stopping,
        log_level=settings.log_level,
    )


def build_application(
    settings: Settings,
    token: str,
    *,
    engine_factory: EngineFactory | None = None,
    request: BaseRequest | None = None,
    timeouts: Timeouts = Timeouts(),
) -> Application:
    """The bot, ready for run_polling. ``engine_factory`` and ``request`` let tests put a
    small engine and a recording HTTP layer in place of the real ones; ``timeouts`` apply to
    the built-in HTTP layer only."""
    builder: ApplicationBuilder = (
        Application.builder()
        .token(token)
        .concurrent_updates(CONCURRENT_UPDATES)
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    if settings.api_url:
        builder = builder.base_url(settings.api_url).base_file_url(settings.api_file_url)
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    else:
        builder = (
            builder.connect_timeout(timeouts.connect)
            .read_timeout(timeouts.read)
            .write_timeout(timeouts.write)
            .pool_timeout(timeouts.pool)
            .get_updates_connect_timeout(timeouts.connect)
            .get_updates_read_timeout(timeouts.get_updates_read)
            .get_updates_write_timeout(timeouts.write)
            .get_updates_pool_timeout(timeouts.pool)
        )
    if settings.rate_limit > 0:
        # Keeps the bot under Telegram's flood limits and retries after a 429 RetryAfter.
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))
    application = builder.build()
    stopping = threading.Event()
    application.bot_data[handlers.SETTINGS] = settings
    application.bot_data[handlers.STOPPING] = stopping
    application.bot_data["engine_factory"] = engine_factory or (
        lambda: open_engine(settings, stopping)
    )
    handlers.register_handlers(application)
    return application


def request_stop(application: Application) -> None:
    """The first thing a stop signal does: work that could hold up the shutdown for long (a
    /reload re-indexing the corpus) is cancelled; answers in flight still finish."""
    application.bot_data[handlers.STOPPING].set()


async def _post_init(application: Application) -> None:
    settings: Settings = application.bot_data[handlers.SETTINGS]
    factory: EngineFactory = application.bot_data.pop("engine_factory")
    engine = await asyncio.to_thread(factory)
    application.bot_data[handlers.ENGINE] = engine
    application.bot_data[handlers.RATE_LIMITER] = SlidingWindowLimiter(
        settings.rate_limit, RATE_WINDOW_SECONDS
    )
    if settings.log_queries and str(engine.db_path) != ":memory:":
        # A user who pastes the token into a question must not get it into the database.
        application.bot_data[handlers.QUERY_LOG] = QueryLog(
            engine.db_path, secrets=(application.bot.token,)
        )
    logger.info(
        "serving @%s: articles=%d paragraphs=%d admins=%d query_log=%s",
        application.bot.username,
        engine.article_count,
        engine.chunk_count,
        len(settings.admins),
        "on" if handlers.QUERY_LOG in application.bot_data else "off",
    )
    await set_command_menus(application, settings.admins)


async def set_command_menus(application: Application, admins: frozenset[int]) -> None:
    """Public commands for everyone, plus /reload in each admin's private chat. A failure
    (an admin who never started the bot: "chat not found") is logged, never fatal."""
    try:
        await application.bot.set_my_commands(PUBLIC_COMMANDS, scope=BotCommandScopeDefault())
    except TelegramError as error:
        logger.warning("could not set the command menu: %s", error)
    for admin_id in sorted(admins):
        try:
            await application.bot.set_my_commands(
                ADMIN_COMMANDS, scope=BotCommandScopeChat(chat_id=admin_id)
            )
        except TelegramError as error:
            logger.warning("could not set the admin command menu for %s: %s", admin_id, error)


async def _post_shutdown(application: Application) -> None:
    query_log: QueryLog | None = application.bot_data.pop(handlers.QUERY_LOG, None)
    if query_log is not None:
        await asyncio.to_thread(query_log.close)
    engine = application.bot_data.pop(handlers.ENGINE, None)
    if engine is not None:
        engine.close()
