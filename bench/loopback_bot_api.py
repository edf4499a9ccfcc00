"""A light fake Telegram Bot API for load benchmarks: asyncio, raw HTTP/1.1, loopback only.

It is part of the measurement loop (it runs on the same two cores as the bot), so it does the
least it can: updates are serialized once when queued, a getUpdates answer is a join of those
bytes, and a sendMessage is answered after pulling ``chat_id`` out of the form body with a regex.
It speaks what python-telegram-bot needs for long polling and replying: getMe, deleteWebhook,
getUpdates (offset confirms, ``timeout`` long-polls), sendMessage, setMyCommands and the like.

Latency is measured here, on one clock: from the moment a question is queued (a real Bot API
would have it ready for getUpdates) to the moment the bot's sendMessage for that chat arrives.
Answers are matched to questions first-in first-out per chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

BOT_USER = {
    "id": 700000002,
    "is_bot": True,
    "first_name": "NewsBite",
    "username": "newsbite_load_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
_PATH_RE = re.compile(rb"^/bot([^/]+)/([A-Za-z]+)")
_CHAT_ID_RE = re.compile(rb"(?:^|&)chat_id=(-?\d+)")
_TRUE = b'{"ok":true,"result":true}'
_EMPTY_LIST = b'{"ok":true,"result":[]}'


@dataclass(slots=True)
class Delivery:
    chat_id: int
    queued: float  # perf_counter when the question was queued
    answered: float  # perf_counter when the bot's sendMessage arrived

    @property
    def latency_ms(self) -> float:
        return (self.answered - self.queued) * 1000


@dataclass
class Stats:
    deliveries: list[Delivery] = field(default_factory=list)
    unmatched_sends: int = 0  # a sendMessage to a chat with no question waiting
    get_updates_calls: int = 0
    updates_delivered: int = 0  # counted per getUpdates answer (repeats included)


class LoopbackBotApi:
    def __init__(self, token: str) -> None:
        self.token = token.encode()
        self.stats = Stats()
        self.texts_to: dict[int, list[str]] = {}  # full texts, only for watched chats
        self._pending: deque[tuple[int, bytes]] = deque()  # (update_id, JSON), unconfirmed
        self._next_update_id = 1
        self._next_message_id = 1
        self._waiting: dict[int, deque[float]] = {}  # chat -> queue times of open questions
        self._new_update = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.StreamWriter, asyncio.Task[None]] = {}
        self.port = 0

    # -- control ------------------------------------------------------------------------------

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and end every connection (their handlers then return quietly)."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._connections):
                writer.close()
            self._new_update.set()
            await asyncio.gather(*self._connections.values(), return_exceptions=True)
            await self._server.wait_closed()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    def watch(self, chat_id: int) -> None:
        """Keep the texts sent to ``chat_id`` (the admin's chat, for /reload reports)."""
        self.texts_to.setdefault(chat_id, [])

    def ask(self, chat_id: int, text: str) -> None:
        """Queue a private-chat message from user ``chat_id``."""
        update_id = self._next_update_id
        self._next_update_id += 1
        user = {"id": chat_id, "is_bot": False, "first_name": "Load"}
        message = {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Load"},
            "from": user,
            "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        payload = json.dumps({"update_id": update_id, "message": message}).encode()
        self._pending.append((update_id, payload))
        self._waiting.setdefault(chat_id, deque()).append(time.perf_counter())
        self._new_update.set()

    def open_questions(self) -> int:
        return sum(len(times) for times in self._waiting.values())

    def forget_open_questions(self) -> None:
        """Stop waiting for the answers still due (a late one then counts as unmatched)."""
        self._waiting.clear()

    def take_stats(self) -> Stats:
        """The stats so far, and a fresh start; questions still open stay open."""
        stats, self.stats = self.stats, Stats()
        return stats

    # -- HTTP ---------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[writer] = task
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, _, header_block = head.partition(b"\r\n")
                length = 0
                for line in header_block.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length) if length else b""
                path = request_line.split(b" ", 2)[1]
                status, payload = await self._dispatch(path, body)
                writer.write(
                    b"HTTP/1.1 %d OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n" % (status, len(payload)) + payload
                )
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._connections.pop(writer, None)
            writer.close()

    async def _dispatch(self, path: bytes, body: bytes) -> tuple[int, bytes]:
        match = _PATH_RE.match(path)
        if match is None or match[1] != self.token:
            return 401, b'{"ok":false,"error_code":401,"description":"Unauthorized"}'
        method = match[2]
        if method == b"sendMessage":
            return 200, self._send_message(body)
        if method == b"getUpdates":
            return 200, await self._get_updates(body)
        if method == b"getMe":
            return 200, json.dumps({"ok": True, "result": BOT_USER}).encode()
        if method == b"getMyCommands":
            return 200, _EMPTY_LIST
        return 200, _TRUE  # deleteWebhook, setMyCommands, close, ...

    async def _get_updates(self, body: bytes) -> bytes:
        params = dict(parse_qsl(body.decode()))
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        self.stats.get_updates_calls += 1
        while self._pending and self._pending[0][0] < offset:
            self._pending.popleft()  # confirmed by the offset
        if not self._pending and timeout > 0:
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), timeout)
        batch = [payload for _, payload in itertools.islice(self._pending, limit)]
        self.stats.updates_delivered += len(batch)
        return b'{"ok":true,"result":[' + b",".join(batch) + b"]}"

    def _send_message(self, body: bytes) -> bytes:
        arrived = time.perf_counter()
        match = _CHAT_ID_RE.search(body)
        chat_id = int(match[1]) if match else 0
        waiting = self._waiting.get(chat_id)
        if waiting:
            self.stats.deliveries.append(Delivery(chat_id, waiting.popleft(), arrived))
        else:
            self.stats.unmatched_sends += 1
        if chat_id in self.texts_to:
            self.texts_to[chat_id].append(dict(parse_qsl(body.decode())).get("text", ""))
        message_id = self._next_message_id
        self._next_message_id += 1
        return (
            b'{"ok":true,"result":{"message_id":%d,"date":0,'
            b'"chat":{"id":%d,"type":"private","first_name":"Load"}}}' % (message_id, chat_id)
        )
