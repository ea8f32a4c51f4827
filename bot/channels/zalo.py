"""The Zalo channel: Zalo Bot API updates into (ChatRef, Incoming), replies into Zalo messages.

What Zalo Bot Platform bots lack, as public clients document it [secondary]: they cannot be
added to group chats, have no inline buttons, and send files only as photos by URL. So every
keyboard is shown as numbered choices and commands to type (bot/plain.py); a report workbook
goes out as a signed download link (bot/files.py) and a chart as a photo Zalo fetches from
such a link; an official on Zalo receives the plan's notices in their private chat after
/nhanthongbao. Text is split at 2,000 characters; sends are paced at ZALO_MAX_RATE and a 429
is retried. Ordering, confirm-after-handling, redelivery and report jobs are the runner's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import httpx
from aiohttp import web
from aiolimiter import AsyncLimiter

from bot.app import ChatApp
from bot.channels.zalo_client import ZaloAPIError, ZaloClient, updates_of
from bot.files import FileLinks
from bot.plain import plain_text, split_text
from bot.runner import Backoff, Runner, cancel_and_wait
from bot.web import BadBody, json_body, refuse_body, secret_matches
from core.chat.messages import Attachment, ChatRef, Incoming, OutMessage
from core.delivery import SendError
from core.i18n import t

log = logging.getLogger(__name__)
CHANNEL = "zalo"
TEXT_LIMIT = 2000
SECRET_HEADER = "X-Bot-Api-Secret-Token"
RETRIES = 3
TEXT_EVENT = "message.text.received"
IMAGE_EVENT = "message.image.received"  # carries the picture's URL in message.photo [secondary]
PHOTO_TIMEOUT = 30.0


@dataclass(frozen=True)
class ZaloWebhook:
    url: str
    secret: str
    path: str = "/zalo"

    def __post_init__(self) -> None:
        if not self.secret:
            raise ValueError("a Zalo webhook needs ZALO_WEBHOOK_SECRET: without it anyone could post updates")


class ZaloChannel:
    name = CHANNEL

    def __init__(self, app: ChatApp, client: ZaloClient, links: FileLinks | None,
                 webhook: ZaloWebhook | None = None, max_rate: float = 10, poll_timeout: int = 30,
                 photo_hosts: frozenset[str] = frozenset()) -> None:
        self.chat_app = app
        self.photo_hosts = photo_hosts  # hosts pictures may come from over plain http (tests' fake)
        self.client = client
        self.links = links
        self.webhook = webhook
        self.poll_timeout = poll_timeout
        self.limiter = AsyncLimiter(max_rate, 1) if max_rate > 0 else None
        self.runner = Runner(app, self)
        self._poller: asyncio.Task[None] | None = None

    # ----- lifecycle ----------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        """What the shared web server must serve for this channel."""
        return [web.post(self.webhook.path, self.on_webhook)] if self.webhook else []

    async def start(self) -> None:
        await self.client.get_me()
        await self.runner.start()
        if self.webhook:
            self.runner.use_inbox(self._apply_raw)
            await self.client.set_webhook(self.webhook.url, self.webhook.secret)
        else:
            with contextlib.suppress(ZaloAPIError):
                await self.client.delete_webhook()
            self._poller = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        await cancel_and_wait(self._poller)
        await self.runner.stop()
        await self.client.close()

    async def _poll(self) -> None:
        """Zalo's getUpdates has no offset to confirm with: updates are handed over when fetched,
        so each is handled at once in its chat's lane."""
        backoff = Backoff()
        while True:
            try:
                updates = await self.client.get_updates(self.poll_timeout)
                backoff.reset()
            except ZaloAPIError as exc:
                await backoff.wait("zalo getUpdates", exc)
                continue
            for update in updates:
                translated = self.translate(update)
                if translated is not None:
                    self.runner.background(self._take(*translated))

    async def on_webhook(self, request: web.Request) -> web.Response:
        """As Telegram's: each update is committed to the inbox (core/inbox.py) and applied in its
        chat's order by whichever worker holds the chat, so `--workers N` keeps one chat's
        answers in order on Zalo too; 200 goes back once the call's updates have been applied.
        The order is the message's `date` (milliseconds), the id its `message_id`; a message
        without an id cannot be deduplicated or queued, and is handled at once as before."""
        assert self.webhook is not None
        if not secret_matches(request.headers.get(SECRET_HEADER), self.webhook.secret):
            return web.Response(status=401)
        try:
            updates = updates_of(await json_body(request))
            if not updates or not all(isinstance(u["message"], dict) and isinstance(u["message"].get("chat"), dict)
                                      for u in updates):
                raise BadBody("not an update")
            translations = [self.translate(u) for u in updates]
        except BadBody as exc:
            return refuse_body(CHANNEL, str(exc))
        except (AttributeError, TypeError, ValueError) as exc:  # a message of the wrong shape
            return refuse_body(CHANNEL, f"unreadable update ({type(exc).__name__})")
        work = []
        for update, translated in zip(updates, translations, strict=True):
            if translated is None:
                continue
            ref, incoming, _photo = translated
            if incoming is not None and incoming.update_id is not None:
                work.append(self.runner.receive(ref.chat_id, incoming.update_id, _order(update), update))
            else:
                work.append(self._take(*translated))
        await asyncio.gather(*work)
        return web.json_response({"ok": True})

    async def _apply_raw(self, update: dict[str, Any]) -> None:
        translated = self.translate(update)
        if translated is not None:
            await self._take(*translated)

    # ----- translating updates ------------------------------------------------------------

    async def _take(self, ref: ChatRef, incoming: Incoming | None, photo_url: str | None = None) -> None:
        if photo_url is not None:
            await self._photo(ref, incoming, photo_url)
            return
        if incoming is None:  # a sticker or voice in a private chat: say what the bot reads
            await self.runner.send(ref.chat_id, [OutMessage(t("only_text"))])
            return
        await self.runner.handle(ref, incoming)

    async def _photo(self, ref: ChatRef, incoming: Incoming | None, url: str) -> None:
        """A picture of a household (or of meeting minutes): the sender is checked before anything
        is fetched; only https URLs (or the hosts this channel was told to trust) are fetched, up to
        the upload size cap, into the uploads folder; the procedure keeps what it needs."""
        uploads = self.chat_app.uploads
        refusal = await uploads.refusal(ref, 0)
        if refusal is None and not self._fetchable(url):
            refusal = OutMessage(t("only_text"))
        if refusal is not None:
            await self.runner.send(ref.chat_id, [refusal])
            return
        uid = incoming.update_id if incoming is not None else None
        path = uploads.path_for(ref, uid or "zalo", "anh.jpg")
        limit = uploads.max_mb * 1024 * 1024
        try:
            async with httpx.AsyncClient(timeout=PHOTO_TIMEOUT, follow_redirects=False) as client, \
                    client.stream("GET", url) as response:
                response.raise_for_status()
                size = 0
                with open(path, "wb") as out:
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > limit:
                            raise ValueError("too big")
                        out.write(chunk)
        except (httpx.HTTPError, ValueError, OSError) as exc:
            path.unlink(missing_ok=True)
            log.warning("zalo photo of chat %s not fetched: %s", ref.chat_id, type(exc).__name__)
            await self.runner.send(ref.chat_id, [OutMessage(t("photo_not_fetched", mb=uploads.max_mb))])
            return
        uploads.secure(path)
        caption = incoming.text if incoming is not None else ""
        await self.runner.handle(ref, Incoming(text=caption or "", update_id=uid,
                                               photo=Attachment("anh.jpg", str(path))))
        path.unlink(missing_ok=True)

    def _fetchable(self, url: str) -> bool:
        parsed = urlparse(url)
        return (parsed.scheme == "https" and bool(parsed.hostname)) or (parsed.hostname in self.photo_hosts)

    def translate(self, update: dict[str, Any]) -> tuple[ChatRef, Incoming | None, str | None] | None:
        """(who, what, the URL of a picture to fetch), or None for what is not for the bot."""
        message = update.get("message") if isinstance(update, dict) else None
        if not isinstance(message, dict) or not isinstance(message.get("chat"), dict):
            return None
        chat, sender = message["chat"], message.get("from") or {}
        ref = ChatRef(CHANNEL, str(chat.get("id", "")), str(sender.get("id", chat.get("id", ""))),
                      str(sender.get("display_name") or sender.get("name") or ""),
                      str(chat.get("chat_type", "PRIVATE")).upper() == "GROUP", chat.get("title"))
        if not ref.chat_id:
            return None
        mid = message.get("message_id")
        uid = str(mid) if mid not in (None, "") else None  # no id: never deduplicated against another
        text = message.get("text")
        event = update.get("event_name", TEXT_EVENT)
        if ref.is_group and event != TEXT_EVENT:
            return None
        photo = message.get("photo")
        if event == IMAGE_EVENT and isinstance(photo, str) and photo:
            caption = message.get("caption")
            return ref, Incoming(text=caption if isinstance(caption, str) else "", update_id=uid), photo
        if event != TEXT_EVENT or not isinstance(text, str):
            return ref, None, None
        return ref, Incoming(text=text, update_id=uid), None

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


def _order(update: dict[str, Any]) -> int:
    """A chat's order on Zalo: the message's date in milliseconds (no update counter exists)."""
    date = update["message"].get("date")
    return date if isinstance(date, int) and not isinstance(date, bool) else int(time.time() * 1000)
