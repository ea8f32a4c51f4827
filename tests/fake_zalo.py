"""A local fake of the Zalo Bot API on 127.0.0.1, shaped as public clients describe it:
POST /bot<token>/<method>, {"ok", "result"}; getUpdates hands out one update per call (408 when
none came within the timeout); sendMessage takes text only, sendPhoto a photo URL that the
platform fetches itself (so the fake fetches it too, as a check that links work)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from dataclasses import dataclass
from typing import Any

import httpx
from aiohttp import web

from bot.web import WebServer


class FakeZaloAPI:
    def __init__(self, token: str = "zalo-test-token") -> None:
        self.token = token
        self.updates: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.photos: dict[str, bytes] = {}
        self.images: dict[str, bytes] = {}  # pictures users "sent", served where Zalo's CDN would
        self.fetched: list[str] = []  # which of them the bot downloaded
        self.webhook: dict[str, Any] | None = None
        self.text_limit = 2000
        self._message_ids = itertools.count(1)
        self._new = asyncio.Condition()
        self._server: WebServer | None = None
        self.port = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = WebServer("127.0.0.1", 0, None, [web.post("/bot{token}/{method}", self._dispatch),
                                                         web.get("/img/{name}", self._image)])
        self.port = await self._server.start()

    async def stop(self) -> None:
        async with self._new:
            self._new.notify_all()
        if self._server:
            await self._server.stop()

    async def _image(self, request: web.Request) -> web.Response:
        self.fetched.append(request.match_info["name"])
        data = self.images.get(request.match_info["name"])
        return web.Response(body=data, content_type="image/jpeg") if data is not None else web.Response(status=404)

    def image_url(self, name: str, data: bytes) -> str:
        self.images[name] = data
        return f"{self.base}/img/{name}"

    async def _dispatch(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"})
        params = await request.json() if request.can_read_body else {}
        method = request.match_info["method"]
        self.calls.append((method, params))
        handler = getattr(self, f"api_{method}", None)
        if handler is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"})
        try:
            return web.json_response({"ok": True, "result": await handler(params)})
        except ApiRefusal as exc:
            return web.json_response({"ok": False, "error_code": exc.code, "description": exc.description})

    async def api_getMe(self, _p: dict[str, Any]) -> dict[str, Any]:
        return {"id": "bot-1", "account_name": "bot.rasoat", "account_type": "BASIC", "can_join_groups": False}

    async def api_deleteWebhook(self, _p: dict[str, Any]) -> dict[str, Any]:
        self.webhook = None
        return {"url": "", "updated_at": int(time.time() * 1000)}

    async def api_setWebhook(self, p: dict[str, Any]) -> dict[str, Any]:
        self.webhook = p
        return {"url": p["url"], "updated_at": int(time.time() * 1000)}

    async def api_getUpdates(self, p: dict[str, Any]) -> dict[str, Any]:
        timeout = float(p.get("timeout") or 0)
        if not self.updates:
            async with self._new:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._new.wait(), timeout)
        if not self.updates:
            raise ApiRefusal(408, "Request timeout")
        return self.updates.pop(0)

    def _record(self, p: dict[str, Any], **extra: Any) -> dict[str, Any]:
        message = {"message_id": f"out{next(self._message_ids)}", "chat_id": str(p["chat_id"]),
                   "date": int(time.time() * 1000), **extra}
        self.sent.append(message)
        return {"message_id": message["message_id"], "date": message["date"]}

    def add_bot_to_group(self, group_id: str) -> None:
        """What a Zalo group admin who tries to add the bot meets: Zalo Bot Platform bots cannot
        be members of group chats (public clients document it)."""
        raise ApiRefusal(403, f"bots cannot be added to group chats ({group_id})")

    async def api_sendMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        if str(p.get("chat_id", "")).startswith(GROUP_PREFIX):
            raise ApiRefusal(403, "the bot is not a member of this chat: bots cannot join groups")
        text = str(p.get("text", ""))
        if not text or len(text) > self.text_limit:
            raise ApiRefusal(400, f"text must be 1-{self.text_limit} characters")
        return self._record(p, text=text)

    async def api_sendPhoto(self, p: dict[str, Any]) -> dict[str, Any]:
        async with httpx.AsyncClient() as client:  # Zalo downloads the photo from its URL
            response = await client.get(p["photo"])
        if response.status_code != 200:
            raise ApiRefusal(400, f"cannot fetch photo: {response.status_code}")
        self.photos[p["photo"]] = response.content
        return self._record(p, photo=p["photo"], caption=p.get("caption"))

    # ----- playing users ------------------------------------------------------------------

    async def push(self, update: dict[str, Any]) -> str:
        self.updates.append(update)
        async with self._new:
            self._new.notify_all()
        return str(update["message"]["message_id"])

    def sent_to(self, chat_id: str) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["chat_id"] == str(chat_id)]


class ApiRefusal(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


_ids = itertools.count(1)
GROUP_PREFIX = "zgroup"  # chat ids the fake treats as group chats (which a bot can never be in)


@dataclass
class ZaloUser:
    api: FakeZaloAPI
    user_id: str
    name: str
    group_id: str | None = None

    @property
    def chat_id(self) -> str:
        return self.group_id or self.user_id

    def photo_update(self, url: str, caption: str | None = None) -> dict[str, Any]:
        """A picture sent to the bot, as public clients show it: event message.image.received,
        the picture's URL in message.photo [secondary]."""
        update = self.text_update("")
        update["event_name"] = "message.image.received"
        message = update["message"]
        message.pop("text")
        message["photo"] = url
        if caption:
            message["caption"] = caption
        return update

    def text_update(self, text: str) -> dict[str, Any]:
        if self.group_id:
            self.api.add_bot_to_group(self.group_id)  # refuses: no update can come from a group
        return {"event_name": "message.text.received", "message": {
            "message_id": f"in{next(_ids)}", "date": int(time.time() * 1000), "text": text,
            "from": {"id": self.user_id, "display_name": self.name, "is_bot": False},
            "chat": {"id": self.chat_id, "chat_type": "GROUP" if self.group_id else "PRIVATE"}}}
