"""The bot's Application run in this process on the fake Bot API, for handler-level tests.

Each test builds its own Application (pytest-asyncio 1.x: one event loop per test) and feeds
it updates with ``process_update``; replies go through python-telegram-bot's request path to
the fake Bot API, which rejects invalid Telegram HTML like the real one.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fake_bot_api import FakeBotApi, InProcessRequest
from telegram.ext import Application

from bot.app import build_application
from bot.config import Settings


@contextlib.asynccontextmanager
async def running_application(
    engine: Any,
    token: str,
    request_class: type[InProcessRequest] = InProcessRequest,
    **settings: Any,
) -> AsyncIterator[tuple[Application, FakeBotApi]]:
    """The bot with ``engine`` in place of a QAEngine, started as post_init starts it and shut
    down as post_shutdown does; ``settings`` override the test defaults."""
    api = FakeBotApi(token)
    options: dict[str, Any] = {"corpus": Path("unused"), "db": Path("unused.db"), **settings}
    application = build_application(
        Settings(**options), token, engine_factory=lambda: engine, request=request_class(api)
    )
    async with application:
        await application.post_init(application)
        try:
            yield application, api
        finally:
            await application.post_shutdown(application)
