"""Sending replies: Telegram HTML, in the right chat and topic, retried when that is safe.

A reply is sent again only after a failure that proves the Bot API did not take it: a 429
(when python-telegram-bot's flood-control limiter is off or has given up), a 5xx answer, a
refused connection or a full connection pool. After an ambiguous failure (the request went
out, no answer came back: a read timeout, a dropped connection) it is not, because Telegram
has no way to drop a duplicate message and a user would see the answer twice.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from datetime import timedelta

import httpx
from telegram import InlineKeyboardMarkup, LinkPreviewOptions, Message
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

# Pauses before the 2nd, 3rd and 4th attempt; short, so that a stop signal never waits long
# for an answer that cannot be delivered.
SEND_RETRY_PAUSES = (0.5, 1.0, 2.0)
MAX_RETRY_AFTER_SECONDS = 10.0  # a longer flood wait is not worth holding an answer for
# Failures that prove the request never reached the Bot API, so sending again cannot duplicate.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)

logger = logging.getLogger(__name__)


async def reply(
    message: Message, text: str, reply_markup: InlineKeyboardMarkup | None = None
) -> Message:
    """Send ``text`` (Telegram HTML) to the message's chat, in its forum topic if it has one;
    outside private chats as a reply to it, so the asker can tell whose question it answers.

    Retried after failures that prove the message was not taken (see ``retry_pause``)."""
    has_flood_control = message.get_bot().rate_limiter is not None
    for pause in (*SEND_RETRY_PAUSES, None):
        try:
            return await message.reply_text(
                text,
                parse_mode=ParseMode.HTML,
                do_quote=message.chat.type != ChatType.PRIVATE,
                allow_sending_without_reply=True,
                link_preview_options=_NO_PREVIEW,
                reply_markup=reply_markup,
            )
        except TelegramError as error:
            wait = retry_pause(error, pause, has_flood_control=has_flood_control)
            if wait is None:
                raise
            logger.warning(
                "sending to chat %s failed (%s); trying again in %.1f s",
                message.chat_id,
                error,
                wait,
            )
            await asyncio.sleep(wait)
    raise AssertionError("unreachable: the last attempt returns or raises")


def retry_pause(
    error: TelegramError, pause: float | None, *, has_flood_control: bool
) -> float | None:
    """Seconds to wait before sending again after ``error``, or None to give up.

    ``pause`` is the planned pause (None: no attempts left). A 429 waits as long as Telegram
    asks, unless the flood-control limiter has already retried it. A 5xx answer, a refused
    connection or a full connection pool mean the message was not taken. A timeout or a
    dropped connection after the request went out may hide a delivered message: not retried.
    """
    if pause is None:
        return None
    if isinstance(error, RetryAfter):
        seconds = retry_after_seconds(error)
        if has_flood_control or seconds > MAX_RETRY_AFTER_SECONDS:
            return None
        return max(seconds, pause)
    if not isinstance(error, NetworkError) or isinstance(error, BadRequest):
        return None
    cause = error.__cause__
    if cause is None or isinstance(cause, _NOT_SENT):  # None: the Bot API answered 5xx
        return pause
    return None


def retry_after_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB warns that the int form will become a timedelta
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def is_delivery_failure(error: BaseException | None) -> bool:
    """The Bot API could not be reached or refused the chat (the bot was blocked, removed from
    the group): nothing more can be said there now. A BadRequest is a bug of ours: not this."""
    if isinstance(error, BadRequest):
        return False
    return isinstance(error, NetworkError | RetryAfter | Forbidden)
