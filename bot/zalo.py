"""The Zalo channel: Zalo Bot API updates into service calls, replies into Zalo messages.

Zalo has no inline buttons: every keyboard is shown as numbered choices and commands to type
(bot/plain.py), and the service already understands the typed forms. Zalo sends no documents:
a report workbook goes out as a signed download link (bot/files.py), a chart as a photo that
Zalo fetches from such a link. Limits, as far as they are known [secondary]: text up to 2,000
characters per message (longer replies are split at line ends); no published send rate, so
sends are paced at ZALO_MAX_RATE (default 10 per second) and an error 429 is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiolimiter import AsyncLimiter

from bot.files import FileLinks
from bot.lanes import Backoff, ChatLanes
from bot.plain import plain_text, split_text
from bot.redeliver import redeliver
from bot.zalo_client import ZaloAPIError, ZaloClient, updates_of
from core.conversation.messages import Incoming, OutMessage
from core.delivery import SendError
from core.i18n import t
from core.service import ChatRef, SurveyService

log = logging.getLogger(__name__)
CHANNEL = "zalo"
TEXT_LIMIT = 2000
SECRET_HEADER = "X-Bot-Api-Secret-Token"
RETRIES = 3


@dataclass(frozen=True)
class ZaloWebhook:
    url: str
    secret: str
    path: str = "/zalo"


class ZaloChannel:
    def __init__(self, service: SurveyService, client: ZaloClient, links: FileLinks | None,
                 webhook: ZaloWebhook | None = None, max_rate: float = 10, poll_timeout: int = 30) -> None:
        self.service = service
        self.client = client
        self.links = links
        self.webhook = webhook
        self.poll_timeout = poll_timeout
        self.limiter = AsyncLimiter(max_rate, 1) if max_rate > 0 else None
        self.lanes = ChatLanes()
        self._poller: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = False
        self._redelivery: asyncio.Task[int] | None = None

    # ----- lifecycle ----------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        """What the shared web server must serve for this channel."""
        return [web.post(self.webhook.path, self.on_webhook)] if self.webhook else []

    async def start(self) -> None:
        await self.client.get_me()
        self._running = True
        self._redelivery = asyncio.create_task(redeliver(
            self.service, CHANNEL, lambda chat, messages: self.lanes.run(chat, self.send(chat, messages))))
        if self.webhook:
            await self.client.set_webhook(self.webhook.url, self.webhook.secret)
        else:
            with contextlib.suppress(ZaloAPIError):
                await self.client.delete_webhook()
            self._poller = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        self._running = False
        if self._redelivery is not None:
            self._redelivery.cancel()
            await asyncio.gather(self._redelivery, return_exceptions=True)
        if self._poller:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.service.flush()
        await self.client.close()

    async def _poll(self) -> None:
        backoff = Backoff()
        while self._running:
            try:
                updates = await self.client.get_updates(self.poll_timeout)
                backoff.reset()
            except ZaloAPIError as exc:
                await backoff.wait("zalo getUpdates", exc)
                continue
            for update in updates:
                self._dispatch(update)

    async def on_webhook(self, request: web.Request) -> web.Response:
        assert self.webhook is not None
        if request.headers.get(SECRET_HEADER) != self.webhook.secret:
            return web.Response(status=403)
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=400)
        for update in updates_of(body):
            self._dispatch(update)
        return web.json_response({"ok": True})

    def _dispatch(self, update: dict[str, Any]) -> None:
        message = update.get("message") or {}
        chat = str((message.get("chat") or {}).get("id", ""))
        task = asyncio.create_task(self.lanes.run(chat, self.on_update(update)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ----- handling -----------------------------------------------------------------------

    async def on_update(self, update: dict[str, Any]) -> None:
        try:
            message = update["message"]
            chat, sender = message["chat"], message.get("from") or {}
            ref = ChatRef(CHANNEL, str(chat["id"]), str(sender.get("id", chat["id"])),
                          str(sender.get("display_name") or sender.get("name") or ""),
                          str(chat.get("chat_type", "PRIVATE")).upper() == "GROUP", chat.get("title"))
            text = message.get("text")
            if update.get("event_name", "message.text.received") != "message.text.received" or text is None:
                if not ref.is_group:
                    await self.send(ref.chat_id, [OutMessage(t("only_text"))])
                return
            reply = await self.service.handle(
                ref, Incoming(text=text, update_id=str(message.get("message_id"))),
                notify=lambda m: self.send(ref.chat_id, [m]))
            await self.send(ref.chat_id, reply.messages)
            await self.service.delivered(CHANNEL, str(message.get("message_id")))
        except Exception:
            log.exception("zalo update failed: %s", update)

    # ----- output -------------------------------------------------------------------------

    async def send(self, chat_id: str, messages: list[OutMessage]) -> None:
        for message in messages:
            await self._send_one(chat_id, message)

    async def deliver(self, chat_id: str, message: OutMessage) -> None:
        """One notice for the scheduler's outbox; refusals become SendError."""
        try:
            await self._send_one(chat_id, message)
        except ZaloAPIError as exc:
            if exc.error_code == 429:
                raise SendError(str(exc), retry_after=5) from exc
            if exc.error_code in (400, 403, 404):
                raise SendError(str(exc), permanent=True) from exc
            raise SendError(str(exc)) from exc

    async def _send_one(self, chat_id: str, message: OutMessage) -> None:
        text = plain_text(message, with_files=False)
        if message.photo and self.links:
            await self._call(self.client.send_photo, chat_id, self.links.url(message.photo), text[:TEXT_LIMIT])
            return
        if message.document or message.photo:
            path = message.document or message.photo
            link = t("file_link", url=self.links.url(path), hours=self.links.seconds // 3600) if self.links \
                else t("file_link_unavailable")
            text = f"{text}\n{link}"
        for part in split_text(text, TEXT_LIMIT):
            await self._call(self.client.send_message, chat_id, part)

    async def _call(self, method: Any, *args: Any) -> Any:
        """Paced, and retried after 429 ('too many requests') with a growing pause."""
        for attempt in range(RETRIES + 1):
            try:
                if self.limiter is not None:
                    async with self.limiter:
                        return await method(*args)
                return await method(*args)
            except ZaloAPIError as exc:
                if exc.error_code != 429 or attempt == RETRIES:
                    raise
                await asyncio.sleep(1.0 * 2 ** attempt)
        return None
