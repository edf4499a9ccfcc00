"""A small fake Telegram Bot API server for tests, on 127.0.0.1 and a free port.

It speaks enough of the Bot API for python-telegram-bot's long polling: getMe, deleteWebhook,
getUpdates (offset confirms updates, ``timeout`` long-polls), sendMessage, editMessageText,
answerCallbackQuery, setMyCommands / getMyCommands / deleteMyCommands, close, logOut. Like the
real server it rejects a message whose HTML Telegram could not parse or that is too long
(400 Bad Request), so a formatting bug fails the test that triggers it.

Tests enqueue updates (``add_update`` and the ``*_message`` builders below) and wait for what
the bot sends (``wait_for_sent``). Faults can be injected per method for resilience tests:
``inject(method, Fault.retry_after(1))``, ``Fault.status(502)``, ``Fault.delay(3)`` (the
request is handled after the pause, as a slow server would), ``Fault.drop()`` (the connection
is closed without an answer) — each applies to the next matching request(s). ``go_offline()``
cuts every open connection and refuses new ones (network loss) until ``go_online()``.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from telegram.request import BaseRequest, RequestData

from bot.telegram_html import (
    MAX_MESSAGE_LENGTH,
    TelegramHTMLError,
    parse_telegram_html,
    utf16_length,
)

BOT_ID = 700000001
BOT_USERNAME = "newsbite_test_bot"
# Parameters PTB sends as plain strings; every other form value is JSON.
_STRING_PARAMS = {"text", "parse_mode", "callback_query_id", "inline_message_id", "language_code"}
_PATH_RE = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)$")


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str  # "retry_after", "status", "delay", "drop"
    value: float = 0

    @classmethod
    def retry_after(cls, seconds: int) -> Fault:
        return cls("retry_after", seconds)

    @classmethod
    def status(cls, code: int) -> Fault:
        return cls("status", code)

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        return cls("delay", seconds)

    @classmethod
    def drop(cls) -> Fault:
        return cls("drop")


@dataclass(frozen=True, slots=True)
class ApiCall:
    method: str
    params: dict[str, Any]


class FakeBotApi:
    def __init__(self, token: str, *, bot_id: int = BOT_ID, username: str = BOT_USERNAME) -> None:
        self.token = token
        self.bot_user = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "NewsBite",
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.calls: list[ApiCall] = []
        self.sent: list[dict[str, Any]] = []  # sendMessage/editMessageText params, in order
        self.commands: dict[str, list[dict[str, Any]]] = {}  # scope (JSON) -> commands
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._confirmed_offset = 0
        self._next_message_id = 1_000
        self._chats: dict[int, dict[str, Any]] = {}
        self._faults: dict[str, list[Fault]] = {}
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None  # only once started: tests of the
        # handlers call ``handle`` directly, without HTTP
        self._port = 0  # kept across go_offline / go_online, so the bot's URL stays valid
        self._connections: set[socket.socket] = set()

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if not self._port:
            raise RuntimeError("the server is not started")
        return f"http://127.0.0.1:{self._port}/bot"

    def start(self) -> FakeBotApi:
        self._server = _QuietServer(("127.0.0.1", self._port), _make_handler(self))
        self._server.daemon_threads = True
        self._port = self._server.server_address[1]
        # A short poll interval: stop() (and go_offline) wait for it.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        with self._changed:
            self._changed.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def go_offline(self) -> None:
        """Network loss: stop listening (connecting is refused) and cut every open connection,
        long polls included. Updates and faults are kept."""
        self.stop()
        with self._changed:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def go_online(self) -> None:
        """Listen again on the same port."""
        self.start()

    @property
    def online(self) -> bool:
        return self._server is not None

    def __enter__(self) -> FakeBotApi:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- what tests do ------------------------------------------------------------------------

    def add_update(self, update: dict[str, Any]) -> int:
        """Queue an update (without update_id: one is assigned and returned)."""
        with self._changed:
            update_id = self._next_update_id
            self._next_update_id += 1
            self._updates.append({"update_id": update_id, **update})
            for key in ("message", "edited_message", "channel_post"):
                if key in update:
                    chat = update[key]["chat"]
                    self._chats[chat["id"]] = chat
            self._changed.notify_all()
        return update_id

    def inject(self, method: str, fault: Fault, times: int = 1) -> None:
        with self._changed:
            self._faults.setdefault(method, []).extend([fault] * times)

    def wait_for_sent(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0
    ) -> dict[str, Any]:
        """The first message sent (or edited) that satisfies ``predicate``, waiting for it."""
        with self._changed:
            found: list[dict[str, Any]] = []

            def ready() -> bool:
                found[:] = [m for m in self.sent if predicate(m)]
                return bool(found)

            if not self._changed.wait_for(ready, timeout):
                raise TimeoutError(f"no matching message within {timeout} s; sent: {self.sent}")
            return found[0]

    def wait_for_call(self, method: str, timeout: float = 10.0) -> ApiCall:
        """The first call of ``method`` the bot made, waiting for it."""
        with self._changed:
            found: list[ApiCall] = []

            def called() -> bool:
                found[:] = [call for call in self.calls if call.method == method]
                return bool(found)

            if not self._changed.wait_for(called, timeout):
                raise TimeoutError(f"{method} not called within {timeout} s")
            return found[0]

    def wait_until_confirmed(self, update_id: int, timeout: float = 10.0) -> None:
        """Wait until the bot has fetched ``update_id`` and confirmed it with a later offset."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._confirmed_offset > update_id, timeout):
                raise TimeoutError(f"update {update_id} not confirmed within {timeout} s")

    def unconfirmed_updates(self) -> list[dict[str, Any]]:
        """Updates the bot has not confirmed yet: a restarted bot would get them again."""
        with self._changed:
            return list(self._updates)

    def sent_to(self, chat_id: int) -> list[dict[str, Any]]:
        with self._changed:
            return [m for m in self.sent if m.get("chat_id") == chat_id]

    def methods_called(self) -> list[str]:
        with self._changed:
            return [call.method for call in self.calls]

    # -- the API ------------------------------------------------------------------------------

    def handle(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._changed:
            self.calls.append(ApiCall(method, params))
            self._changed.notify_all()
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        return handler(params)

    def pending_faults(self, method: str) -> int:
        """Faults injected for ``method`` that no request has met yet."""
        with self._changed:
            return len(self._faults.get(method, []))

    def take_fault(self, method: str) -> Fault | None:
        with self._changed:
            faults = self._faults.get(method)
            return faults.pop(0) if faults else None

    def _api_getMe(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return _ok(self.bot_user)

    def _api_deleteWebhook(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if params.get("drop_pending_updates"):
            with self._changed:
                self._updates.clear()
        return _ok(True)

    def _api_close(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return _ok(True)

    _api_logOut = _api_close

    def _api_getUpdates(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        with self._changed:
            if offset:
                # Telegram forgets every update before the offset: they are confirmed.
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                self._confirmed_offset = max(self._confirmed_offset, offset)
                self._changed.notify_all()
            while not self._updates and time.monotonic() < deadline:
                self._changed.wait(min(deadline - time.monotonic(), 0.5))
            return _ok(self._updates[:limit])

    def _api_sendMessage(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        problem = _check_text(params)
        if problem:
            return _error(400, problem)
        with self._changed:
            message_id = self._next_message_id
            self._next_message_id += 1
            record = {"method": "sendMessage", "message_id": message_id, **params}
            self.sent.append(record)
            self._changed.notify_all()
        return _ok(self._message_json(record))

    def _api_editMessageText(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        problem = _check_text(params)
        if problem:
            return _error(400, problem)
        with self._changed:
            record = {"method": "editMessageText", **params}
            self.sent.append(record)
            self._changed.notify_all()
        return _ok(self._message_json(record))

    def _api_answerCallbackQuery(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return _ok(True)

    def _api_setMyCommands(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        scope = json.dumps(params.get("scope") or {"type": "default"}, sort_keys=True)
        with self._changed:
            self.commands[scope] = list(params.get("commands") or [])
        return _ok(True)

    def _api_getMyCommands(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        scope = json.dumps(params.get("scope") or {"type": "default"}, sort_keys=True)
        with self._changed:
            return _ok(self.commands.get(scope, []))

    def _api_deleteMyCommands(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        scope = json.dumps(params.get("scope") or {"type": "default"}, sort_keys=True)
        with self._changed:
            self.commands.pop(scope, None)
        return _ok(True)

    def _message_json(self, record: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(record["chat_id"])
        chat = self._chats.get(chat_id, {"id": chat_id, "type": "private", "first_name": "User"})
        message: dict[str, Any] = {
            "message_id": int(record.get("message_id", 1)),
            "date": int(time.time()),
            "chat": chat,
            "from": self.bot_user,
            "text": parse_telegram_html(record["text"]).visible_text
            if record.get("parse_mode") == "HTML"
            else record["text"],
        }
        if record.get("message_thread_id"):
            message["message_thread_id"] = record["message_thread_id"]
            message["is_topic_message"] = True
        return message


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Connections cut by a fault or by go_offline are expected: no traceback for them."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class InProcessRequest(BaseRequest):
    """python-telegram-bot's HTTP layer replaced by direct calls to a FakeBotApi (no server,
    no sockets): for tests that drive an Application with ``process_update``. Parameters go
    through JSON as they would over HTTP; ``Fault.status`` faults apply, the others need HTTP.
    """

    def __init__(self, api: FakeBotApi) -> None:
        self.api = api

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        api_method = url.rsplit("/", 1)[-1]
        fault = self.api.take_fault(api_method)
        if fault is not None and fault.kind == "status":
            return _encode(*_status_error(int(fault.value)))
        # Encoded as UTF-8 like a real request body, so text that cannot be sent fails here too.
        body = json.dumps(request_data.parameters if request_data else {}, ensure_ascii=False)
        params = json.loads(body.encode("utf-8"))
        return _encode(*self.api.handle(api_method, params))


def _encode(status: int, payload: dict[str, Any]) -> tuple[int, bytes]:
    return status, json.dumps(payload).encode("utf-8")


def _check_text(params: dict[str, Any]) -> str | None:
    """What the real Bot API would say about this text, or None if it would accept it."""
    text = params.get("text")
    if not isinstance(text, str) or not text.strip():
        return "Bad Request: message text is empty"
    visible = text
    if params.get("parse_mode") == "HTML":
        try:
            visible = parse_telegram_html(text).visible_text
        except TelegramHTMLError as error:
            return f"Bad Request: can't parse entities: {error}"
    if utf16_length(visible) > MAX_MESSAGE_LENGTH:
        return "Bad Request: message is too long"
    return None


def _ok(result: Any) -> tuple[int, dict[str, Any]]:
    return 200, {"ok": True, "result": result}


def _error(code: int, description: str, **parameters: Any) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return code, body


# What the Bot API says with an error status that a fault injects.
_STATUS_DESCRIPTIONS = {
    409: "Conflict: terminated by other getUpdates request; make sure that only one bot"
    " instance is running",
}


def _status_error(code: int) -> tuple[int, dict[str, Any]]:
    return _error(code, _STATUS_DESCRIPTIONS.get(code, "Internal Server Error"))


def _decode_form(body: bytes) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, values in parse_qs(body.decode("utf-8"), keep_blank_values=True).items():
        value = values[-1]
        if key in _STRING_PARAMS:
            params[key] = value
            continue
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def _make_handler(api: FakeBotApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            with api._changed:
                api._connections.add(self.connection)

        def finish(self) -> None:
            with api._changed:
                api._connections.discard(self.connection)
            with contextlib.suppress(OSError):
                super().finish()

        def do_POST(self) -> None:
            self._serve()

        def do_GET(self) -> None:
            self._serve()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            match = _PATH_RE.match(self.path.split("?", 1)[0])
            if match is None:
                self._send(*_error(404, "Not Found"))
                return
            if match["token"] != api.token:
                self._send(*_error(401, "Unauthorized"))
                return
            method = match["method"]
            fault = api.take_fault(method)
            if fault is not None and self._apply(fault):
                return
            if self.headers.get("Content-Type", "").startswith("application/json"):
                params = json.loads(body or b"{}")
            else:
                params = _decode_form(body)
            self._send(*api.handle(method, params))

        def _apply(self, fault: Fault) -> bool:
            """Act out ``fault``; True when the request has been answered (or dropped)."""
            if fault.kind == "delay":
                time.sleep(fault.value)
                return False
            if fault.kind == "retry_after":
                seconds = int(fault.value)
                self._send(
                    *_error(429, f"Too Many Requests: retry after {seconds}", retry_after=seconds)
                )
            elif fault.kind == "status":
                self._send(*_status_error(int(fault.value)))
            elif fault.kind == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            return True

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode("utf-8")
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                # The bot gave up waiting (timeout, shutdown), or go_offline cut the connection.
                self.close_connection = True

    return Handler


# -- update builders --------------------------------------------------------------------------

_MENTION_RE = re.compile(r"@[A-Za-z0-9_]{3,}")
_COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?")


def user_json(user_id: int, first_name: str = "Alice") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": first_name}


def private_chat(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "type": "private", "first_name": "Alice"}


def group_chat(chat_id: int, *, supergroup: bool = False, forum: bool = False) -> dict[str, Any]:
    chat: dict[str, Any] = {
        "id": chat_id,
        "type": "supergroup" if supergroup or forum else "group",
        "title": "News readers",
    }
    if forum:
        chat["is_forum"] = True
    return chat


def text_entities(text: str) -> list[dict[str, Any]]:
    """bot_command and mention entities as Telegram computes them (UTF-16 offsets)."""
    entities = []

    def utf16_offset(index: int) -> int:
        return utf16_length(text[:index])

    command = _COMMAND_RE.match(text)
    if command:
        entities.append({"type": "bot_command", "offset": 0, "length": utf16_offset(command.end())})
    for match in _MENTION_RE.finditer(text):
        if command and match.start() < command.end():
            continue
        start = utf16_offset(match.start())
        entities.append(
            {"type": "mention", "offset": start, "length": utf16_offset(match.end()) - start}
        )
    return entities


_message_ids = iter(range(1, 10**9))


def message_json(
    chat: dict[str, Any],
    user_id: int,
    text: str | None = None,
    *,
    reply_to: dict[str, Any] | None = None,
    thread_id: int | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": next(_message_ids),
        "date": int(time.time()),
        "chat": chat,
        "from": user_json(user_id),
    }
    if text is not None:
        message["text"] = text
        entities = text_entities(text)
        if entities:
            message["entities"] = entities
    if reply_to is not None:
        message["reply_to_message"] = reply_to
    if thread_id is not None:
        message["message_thread_id"] = thread_id
        message["is_topic_message"] = True
    message.update(extra or {})
    return message


def bot_message_json(chat: dict[str, Any], text: str, bot_id: int = BOT_ID) -> dict[str, Any]:
    """A message the bot sent earlier, for replies to it."""
    return {
        "message_id": next(_message_ids),
        "date": int(time.time()),
        "chat": chat,
        "from": {"id": bot_id, "is_bot": True, "first_name": "NewsBite", "username": BOT_USERNAME},
        "text": text,
    }
