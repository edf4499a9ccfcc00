"""``newsbite serve``: run the Telegram bot with long polling until SIGINT/SIGTERM.

bot/cli.py creates the ``serve`` subcommand with --corpus and --db, then calls
``add_arguments`` for the rest and ``main`` to run it. The CLI imports this module for every
command, so python-telegram-bot, asyncio, the settings and the engine are only imported once
``main`` runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import Settings

# Updates we act on; edited messages, channel posts, member changes etc. are not even fetched.
ALLOWED_UPDATES = ["message", "callback_query"]
POLL_TIMEOUT_SECONDS = 10  # long-poll duration; a stop signal interrupts it at once
# Pause between two getUpdates calls. A getUpdates costs the bot about as much CPU as the
# sendMessage of an answer; under load the pause lets several updates come in one call (a
# third less CPU per answer at 80 questions/s). An update that arrives while a long poll
# waits is delivered at once, so a quiet bot answers with no added delay. After a failed
# poll, python-telegram-bot backs off from 1.5 × this pause, × 1.5 per failure, up to 30 s.
POLL_INTERVAL_SECONDS = 0.03
REDACTED = "<token>"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGABRT)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        default=None,
        help="TOML settings file (default: $NEWSBITE_CONFIG); environment and flags override it",
    )
    parser.add_argument(
        "--api-url",
        metavar="URL",
        default=None,
        help="Bot API base URL, e.g. http://127.0.0.1:8081/bot (default: $NEWSBITE_API_URL or"
        " Telegram's)",
    )
    parser.add_argument(
        "--admins",
        metavar="IDS",
        default=None,
        help="comma-separated numeric Telegram user ids allowed to /reload"
        " (default: $NEWSBITE_ADMINS)",
    )


class RedactToken(logging.Filter):
    """Replaces the bot token in any log record, message, arguments and traceback alike; also
    its secret part alone (after the colon), however it got there.

    Installed on the root handlers, so it also sees records of libraries (httpx logs request
    URLs, and Bot API URLs contain the token)."""

    def __init__(self, token: str) -> None:
        from bot.config import secret_variants

        super().__init__()
        self.token = token
        self.secrets = secret_variants([token])

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def configure_logging(level: str, token: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactToken(token))
    # httpx logs every request URL at INFO, and the URL contains the token.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def skip_missing_sniffio() -> None:
    """Make ``import sniffio`` fail at once when sniffio is not installed.

    httpcore imports it each time it sets up a connection lock (several times per Bot API
    request) and falls back to asyncio when the import fails. A failing import is not cached:
    each one searches every sys.path entry again, about 0.1 ms, close to a tenth of the CPU a
    bot spends per answer. A ``None`` in sys.modules is Python's way to say "absent"."""
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


def _fail(message: str, token: str | None, code: int) -> int:
    if token:
        message = RedactToken(token).redact(message)
    print(f"newsbite: {message}", file=sys.stderr)
    return code


def main(args: argparse.Namespace) -> int:
    """Run the bot until a stop signal; the exit code (0 after a clean stop, 2 for bad
    settings or a missing corpus/database, 1 for anything else)."""
    # Imported here, as the rest below: `newsbite ask` and the others never need them.
    import asyncio

    from bot.config import ConfigError, load_settings, read_token

    try:
        settings: Settings = load_settings(args)
        token = read_token()
    except ConfigError as error:
        return _fail(str(error), None, 2)
    configure_logging(settings.log_level, token)
    skip_missing_sniffio()
    from telegram.error import InvalidToken, TelegramError

    from bot.app import build_application, request_stop
    from retrieval.corpus import CorpusNotFound
    from retrieval.store import StoreError

    application = build_application(settings, token)
    # run_polling runs on the current event loop and closes it when done: give it a fresh one,
    # so that main() can be called more than once in a process (tests).
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def on_stop_signal() -> None:
        # What python-telegram-bot's own handler does (SystemExit ends run_polling's loop and
        # starts its orderly stop), after cancelling what would hold that stop up.
        request_stop(application)
        raise SystemExit

    for stop_signal in STOP_SIGNALS:
        loop.add_signal_handler(stop_signal, on_stop_signal)
    try:
        application.run_polling(
            drop_pending_updates=False,  # a restart answers what arrived while it was down
            allowed_updates=ALLOWED_UPDATES,
            timeout=POLL_TIMEOUT_SECONDS,
            poll_interval=POLL_INTERVAL_SECONDS,
            stop_signals=None,  # ours, above
        )
    except InvalidToken:
        return _fail("the Bot API rejected TELEGRAM_BOT_TOKEN (check it with @BotFather)", token, 1)
    except (CorpusNotFound, StoreError) as error:
        return _fail(str(error), token, 2)
    except TelegramError as error:
        return _fail(f"cannot reach the Bot API: {error}", token, 1)
    logging.getLogger(__name__).info("stopped")
    return 0
