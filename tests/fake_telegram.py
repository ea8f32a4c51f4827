"""A local fake of the Telegram Bot API, served over HTTP on 127.0.0.1.

The bot under test uses the real python-telegram-bot library against it. The fake keeps the
updates to deliver and records every call the bot makes, so tests can play users and read
what the bot sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.web import WebServer

BOT_ID = 777000
SEND_METHODS = {"sendMessage", "sendDocument", "sendPhoto"}


@dataclass
class FloodControl:
    """Telegram-like limits on sends: at most `per_second` in any sliding second for the bot and
    `per_group_minute` in any sliding minute per group chat; over that, 429 with retry_after.
    `every_nth` also refuses every n-th send, so a test sees retries whatever the pacing."""

    per_second: int = 30
    per_group_minute: int = 20
    every_nth: int = 0
    accepted: list[float] = field(default_factory=list)
    per_group: dict[int, list[float]] = field(default_factory=dict)
    refused: int = 0
    _calls: int = 0

    def check(self, chat_id: int) -> int | None:
        """None to accept the send, else the seconds to tell the bot to wait."""
        now = time.monotonic()
        self._calls += 1
        self.accepted = [t for t in self.accepted if now - t < 1.0]
        group = [t for t in self.per_group.get(chat_id, []) if now - t < 60.0]
        wait: int | None = None
        if (self.every_nth and self._calls % self.every_nth == 0) or len(self.accepted) >= self.per_second:
            wait = 1
        elif chat_id < 0 and len(group) >= self.per_group_minute:
            wait = max(1, int(60 - (now - group[0])) + 1)
        if wait is not None:
            self.refused += 1
            return wait
        self.accepted.append(now)
        if chat_id < 0:
            group.append(now)
            self.per_group[chat_id] = group
        return None


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    content_type: str = ""  # how the body came: application/json, form-encoded, multipart


class FakeBotAPI:
    def __init__(self, token: str = "123:TEST") -> None:
        self.token = token
        self.updates: list[dict[str, Any]] = []
        self.calls: list[Call] = []
        self.sent: list[dict[str, Any]] = []  # every message the bot sent or edited, as stored
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.files: dict[str, bytes] = {}
        self.per_chat: dict[int, int] = {}  # messages sent to each chat, for cheap waiting
        self._sent_to: dict[int, asyncio.Event] = {}  # set when a message reaches that chat
        self.webhook: dict[str, Any] | None = None
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._new_update = asyncio.Condition()
        self._server: WebServer | None = None
        self.port = 0
        self.flood: FloodControl | None = None
        self.forbidden_chats: set[int] = set()  # chats the bot was removed from (403)
        self.send_delay = 0.0  # seconds each send takes, to catch the bot mid-flight
        self.blackhole_chats: set[int] = set()  # sends to these never get an answer (lost on the wire)
        self._stopping = asyncio.Event()

    # ----- server -------------------------------------------------------------------------

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = WebServer("127.0.0.1", 0, None, [
            web.route("*", "/bot{token}/{method}", self._dispatch),
            web.get("/file/bot{token}/{path:.+}", self._file),
        ], client_max_size=50 * 1024 * 1024)
        self.port = await self._server.start()

    async def stop(self) -> None:
        self._stopping.set()
        async with self._new_update:
            self._new_update.notify_all()
        if self._server:
            await self._server.stop()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if part.filename:  # type: ignore[union-attr]
                    data = await part.read()  # type: ignore[union-attr]
                    params[part.name] = {"filename": part.filename, "bytes": data}  # type: ignore[union-attr]
                else:
                    params[part.name] = await part.text()  # type: ignore[union-attr]
        elif request.can_read_body:
            params.update(await request.post())
        for key, value in list(params.items()):
            if isinstance(value, str) and value[:1] in "[{":
                with contextlib.suppress(ValueError):
                    params[key] = json.loads(value)
        return params

    async def _dispatch(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params = await self._params(request)
        self.calls.append(Call(method, params, content_type=request.content_type))
        if method in SEND_METHODS:
            chat_id = int(params.get("chat_id", 0))
            if self.send_delay:
                await asyncio.sleep(self.send_delay)
            if chat_id in self.blackhole_chats:
                await self._stopping.wait()  # never answered, never delivered
                return web.json_response({"ok": False, "error_code": 502, "description": "Bad Gateway"}, status=502)
            if chat_id in self.forbidden_chats:
                return web.json_response({"ok": False, "error_code": 403,
                                          "description": "Forbidden: bot was kicked from the group chat"}, status=403)
            wait = self.flood.check(chat_id) if self.flood else None
            if wait is not None:
                return web.json_response({"ok": False, "error_code": 429,
                                          "description": f"Too Many Requests: retry after {wait}",
                                          "parameters": {"retry_after": wait}}, status=429)
        handler = getattr(self, f"api_{method}", None)
        if handler is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": f"Not Found: method {method}"}, status=404)
        result = await handler(params)
        return web.json_response({"ok": True, "result": result})

    # ----- API methods --------------------------------------------------------------------

    async def api_getMe(self, _p: dict[str, Any]) -> dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Rà soát", "username": "rasoat_test_bot",
                "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}

    async def api_setMyCommands(self, _p: dict[str, Any]) -> bool:
        return True

    async def api_deleteWebhook(self, _p: dict[str, Any]) -> bool:
        self.webhook = None
        return True

    async def api_setWebhook(self, p: dict[str, Any]) -> bool:
        self.webhook = p
        return True

    async def api_getUpdates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(p.get("offset") or 0)
        timeout = float(p.get("timeout") or 0)
        # Confirmed updates (below the offset) are forgotten, as Telegram does; what stays is
        # delivered, including an update re-delivered on purpose (see redeliver).
        self.updates = [u for u in self.updates if u["update_id"] >= offset or u.get("_redelivered")]
        if not self.updates and timeout > 0:
            async with self._new_update:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._new_update.wait(), timeout)
        batch = self.updates[: int(p.get("limit") or 100)]
        for u in batch:
            u.pop("_redelivered", None)
        return batch

    def _message(self, chat_id: Any, text: str | None, p: dict[str, Any], **extra: Any) -> dict[str, Any]:
        chat_id = int(chat_id)
        message = {
            "message_id": next(self._message_ids), "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Rà soát"},
            **({"text": text} if text is not None else {}),
            **({"reply_markup": p["reply_markup"]} if p.get("reply_markup") else {}),
            **extra,
        }
        self.messages[(chat_id, message["message_id"])] = message
        self.sent.append(message)
        self.per_chat[chat_id] = self.per_chat.get(chat_id, 0) + 1
        if chat_id in self._sent_to:
            self._sent_to[chat_id].set()
        return message

    async def wait_sent(self, chat_id: int, count: int) -> None:
        """Until `count` messages in all have been sent to the chat (woken by each send, not by
        polling, so a benchmark's waiting users cost nothing)."""
        event = self._sent_to.setdefault(chat_id, asyncio.Event())
        while self.per_chat.get(chat_id, 0) < count:
            event.clear()
            await event.wait()

    async def api_sendMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._message(p["chat_id"], p["text"], p)

    async def api_sendDocument(self, p: dict[str, Any]) -> dict[str, Any]:
        doc = p["document"]
        file_id = f"file{len(self.files) + 1}"
        self.files[file_id] = doc["bytes"]
        return self._message(p["chat_id"], None, p, caption=p.get("caption"),
                             document={"file_id": file_id, "file_unique_id": file_id,
                                       "file_name": doc["filename"], "file_size": len(doc["bytes"])})

    async def api_sendPhoto(self, p: dict[str, Any]) -> dict[str, Any]:
        photo = p["photo"]
        file_id = f"file{len(self.files) + 1}"
        self.files[file_id] = photo["bytes"]
        return self._message(p["chat_id"], None, p, caption=p.get("caption"),
                             photo=[{"file_id": file_id, "file_unique_id": file_id, "width": 1, "height": 1}])

    async def api_editMessageText(self, p: dict[str, Any]) -> dict[str, Any]:
        key = (int(p["chat_id"]), int(p["message_id"]))
        message = self.messages[key]
        message["text"] = p["text"]
        if p.get("reply_markup"):
            message["reply_markup"] = p["reply_markup"]
        else:
            message.pop("reply_markup", None)
        return message

    async def api_getFile(self, p: dict[str, Any]) -> dict[str, Any]:
        file_id = p["file_id"]
        return {"file_id": file_id, "file_unique_id": file_id, "file_size": len(self.files[file_id]),
                "file_path": f"documents/{file_id}"}

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        file_id = request.match_info["path"].rsplit("/", 1)[-1]
        if file_id not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[file_id])

    async def api_answerCallbackQuery(self, _p: dict[str, Any]) -> bool:
        return True

    # ----- playing users ------------------------------------------------------------------

    async def push(self, update: dict[str, Any]) -> int:
        """Queue an update (an update_id is given unless the caller re-delivers one)."""
        update.setdefault("update_id", next(self._update_ids))
        self.updates.append(update)
        async with self._new_update:
            self._new_update.notify_all()
        return update["update_id"]

    async def redeliver(self, update: dict[str, Any]) -> int:
        """Deliver an update again with the same update_id, as Telegram does when a bot died
        before confirming it."""
        again = json.loads(json.dumps(update))
        again["_redelivered"] = True
        self.updates.append(again)
        async with self._new_update:
            self._new_update.notify_all()
        return again["update_id"]

    async def until_sent(self, chat_id: int, done: Any = None, timeout: float = 30) -> list[dict[str, Any]]:
        """Wait until the bot has sent to the chat (and `done(messages)` holds, when given)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sent = self.sent_to(chat_id)
            if sent and (done is None or done(sent)):
                return sent
            await asyncio.sleep(0.005)
        raise AssertionError(f"the bot did not send the expected messages to {chat_id}")

    def sent_to(self, chat_id: int) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["chat"]["id"] == chat_id]


@dataclass
class TgUser:
    """A Telegram user in a chat (their private chat unless a group id is given)."""

    api: FakeBotAPI
    user_id: int
    first_name: str
    chat_id: int | None = None
    chat_title: str | None = None

    @property
    def chat(self) -> dict[str, Any]:
        if self.chat_id is not None and self.chat_id < 0:
            return {"id": self.chat_id, "type": "group", "title": self.chat_title or "Nhóm"}
        return {"id": self.user_id, "type": "private", "first_name": self.first_name}

    @property
    def sender(self) -> dict[str, Any]:
        return {"id": self.user_id, "is_bot": False, "first_name": self.first_name, "language_code": "vi"}

    def text_update(self, text: str) -> dict[str, Any]:
        message: dict[str, Any] = {"message_id": 10_000 + len(self.api.updates), "date": int(time.time()),
                                   "chat": self.chat, "from": self.sender, "text": text}
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return {"message": message}

    def document_update(self, file_name: str, data: bytes, caption: str | None = None) -> dict[str, Any]:
        file_id = f"up{len(self.api.files) + 1}"
        self.api.files[file_id] = data
        message: dict[str, Any] = {
            "message_id": 10_000 + len(self.api.updates), "date": int(time.time()), "chat": self.chat,
            "from": self.sender,
            "document": {"file_id": file_id, "file_unique_id": file_id, "file_name": file_name,
                         "file_size": len(data)},
        }
        if caption:
            message["caption"] = caption
        return {"message": message}

    def callback_update(self, data: str, message: dict[str, Any] | None = None) -> dict[str, Any]:
        message = message or {"message_id": 1, "date": int(time.time()), "chat": self.chat, "text": "?"}
        return {"callback_query": {"id": f"cb{time.monotonic_ns()}", "from": self.sender, "chat_instance": "ci",
                                   "data": data, "message": message}}

    def last_message(self) -> dict[str, Any]:
        return self.api.sent_to(self.chat["id"])[-1]

    def last_keyboard(self) -> list[dict[str, Any]]:
        for message in reversed(self.api.sent_to(self.chat["id"])):
            markup = message.get("reply_markup")
            if markup:
                return [b for row in markup["inline_keyboard"] for b in row]
        return []
