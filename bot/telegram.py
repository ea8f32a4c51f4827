"""The Telegram channel: translates Bot API updates into service calls and replies into
messages with inline keyboards. It holds no survey logic.

Updates from different chats are handled concurrently; updates from one chat strictly in the
order Telegram sent them (bot/lanes.py), so "answer, then /quaylai" never runs backwards. The
channel feeds updates to the library itself (long polling or its own webhook endpoint), so that
an update is confirmed to Telegram only once it has been handled.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.lanes import Backoff, ChatLanes
from bot.plain import split_text
from bot.redeliver import redeliver
from bot.web import WebServer
from core.conversation.messages import Attachment, Incoming, OutMessage
from core.delivery import SendError
from core.i18n import catalog, t
from core.service import ChatRef, SurveyService

log = logging.getLogger(__name__)
CHANNEL = "telegram"
TEXT_LIMIT = 4096
FILE_LIMIT_MB = 20  # the Bot API's getFile limit
ALLOWED = ["message", "callback_query"]


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    secret: str
    listen: str = "0.0.0.0"
    port: int = 8443
    path: str = "telegram"


def keyboard(message: OutMessage) -> InlineKeyboardMarkup | None:
    if not message.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.payload) for b in row] for row in message.buttons]
    )


def menu_commands() -> list[BotCommand]:
    commands = []
    for line in catalog().words("menu_commands"):
        name, _, description = line.partition(" - ")
        commands.append(BotCommand(name.strip().lstrip("/"), description.strip()))
    return commands


def safe_file_name(name: str) -> str:
    """Keep a user's file name readable but harmless on disk (no paths, no control chars)."""
    cleaned = "".join(c if c.isalnum() or c in "._- " else "_" for c in name.replace("/", "_"))
    return cleaned.strip(" .")[:100] or "tep"


class TelegramChannel:
    """Sends pace themselves through AIORateLimiter: about 30 messages/s for the bot and 20 per
    minute per group (Settings.telegram_max_rate / telegram_group_rate), and a 429 'retry after'
    is waited out and retried up to three times before the caller sees it."""

    def __init__(self, service: SurveyService, token: str, api_base: str | None = None,
                 webhook: WebhookConfig | None = None, poll_timeout: int = 30) -> None:
        self.service = service
        self.webhook = webhook
        self.poll_timeout = poll_timeout
        self._redelivery: asyncio.Task[int] | None = None
        self._poller: asyncio.Task[None] | None = None
        self._web: WebServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._lanes = ChatLanes()
        settings = service.settings
        builder = ApplicationBuilder().token(token).updater(None)  # updates come from _poll or _on_webhook
        if settings.telegram_max_rate > 0:
            # One token at a time, evenly spaced (1 per 1/30 s; per group 1 per 3 s): a bucket of
            # 30 would allow 60 sends inside one sliding second and meet Telegram's flood control.
            group = settings.telegram_group_rate
            builder = builder.rate_limiter(AIORateLimiter(
                overall_max_rate=1, overall_time_period=1 / settings.telegram_max_rate,
                group_max_rate=1 if group > 0 else 0, group_time_period=60 / group if group > 0 else 0,
                max_retries=3))
        if api_base:
            base = api_base.rstrip("/")
            builder = builder.base_url(f"{base}/bot").base_file_url(f"{base}/file/bot")
        self.app: Application = builder.build()
        self.app.add_handler(CallbackQueryHandler(self.on_callback))
        self.app.add_handler(MessageHandler(filters.TEXT, self.on_text))
        self.app.add_handler(MessageHandler(filters.Document.ALL, self.on_document))
        self.app.add_handler(MessageHandler(~filters.TEXT & ~filters.StatusUpdate.ALL, self.on_other))
        self.app.add_error_handler(self.on_error)

    # ----- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        await self.app.initialize()
        await self.app.bot.set_my_commands(menu_commands())
        await self.app.start()
        self._redelivery = asyncio.create_task(
            redeliver(self.service, CHANNEL,
                      lambda chat, messages: self._lanes.run(int(chat), self.send(int(chat), messages))))
        if self.webhook:
            await self._start_webhook(self.webhook)
        else:
            await self.app.bot.delete_webhook()
            self._poller = asyncio.create_task(self._poll())

    async def _start_webhook(self, hook: WebhookConfig) -> None:
        """Our own webhook endpoint, which answers 200 only once the update has been handled:
        if the process dies first, Telegram sends the update again (the library's endpoint
        answers as soon as the update is queued, and a kill would lose it)."""
        self._web = WebServer(hook.listen, hook.port, None, [web.post(f"/{hook.path.strip('/')}", self._on_webhook)])
        await self._web.start()
        await self.app.bot.set_webhook(hook.url, secret_token=hook.secret, allowed_updates=ALLOWED)

    async def _on_webhook(self, request: web.Request) -> web.Response:
        assert self.webhook is not None
        if not hmac.compare_digest(request.headers.get("X-Telegram-Bot-Api-Secret-Token", ""), self.webhook.secret):
            return web.Response(status=403)
        try:
            update = Update.de_json(await request.json(), self.app.bot)
        except ValueError:
            return web.Response(status=400)
        if update is not None:
            await self._handle_update(update)
        return web.Response(status=200)

    async def _handle_update(self, update: Update) -> None:
        """Run the handlers in the chat's lane; then the reply has been sent, which is recorded
        (a reply committed but not recorded as sent is sent again after a restart)."""
        await self._lanes.run(update.effective_chat.id if update.effective_chat else 0,
                              self.app.process_update(update))
        await self.service.delivered(CHANNEL, str(update.update_id))

    async def _poll(self) -> None:
        """Long polling that confirms an update to Telegram only once it has been handled.

        python-telegram-bot's own poller confirms a batch as soon as it is fetched, so a process
        killed mid-batch loses those updates: the user's message vanishes. Here the offset
        stays at the oldest update still in hand; after a kill Telegram hands the unfinished
        ones to the next process, and the service's processed-update record makes the
        finished ones no-ops. Updates returned again while older ones are in hand are skipped.
        """
        inflight: set[int] = set()
        done: set[int] = set()
        newest = -1
        backoff = Backoff()
        while True:
            offset = min(inflight) if inflight else newest + 1
            done.difference_update({i for i in done if i < offset})
            try:
                updates = await self.app.bot.get_updates(
                    offset=offset if offset > 0 else None, timeout=0 if inflight else self.poll_timeout,
                    allowed_updates=ALLOWED)
                backoff.reset()
            except TelegramError as exc:
                await backoff.wait("telegram getUpdates", exc)
                continue
            fresh = [u for u in updates if u.update_id not in inflight and u.update_id not in done]
            for update in fresh:
                inflight.add(update.update_id)
                newest = max(newest, update.update_id)
                task = asyncio.create_task(self._process(update, inflight, done))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            if inflight and not fresh:
                await asyncio.sleep(0.05)  # only unfinished updates came back: do not spin

    async def _process(self, update: Update, inflight: set[int], done: set[int]) -> None:
        try:
            await self._handle_update(update)
        finally:
            inflight.discard(update.update_id)
            done.add(update.update_id)

    async def stop(self) -> None:
        if self._web is not None:
            await self._web.stop()
        for task in (self._redelivery, self._poller):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.service.flush()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    # ----- handlers -----------------------------------------------------------------------

    @staticmethod
    def chat_ref(update: Update) -> ChatRef:
        chat, user = update.effective_chat, update.effective_user
        assert chat is not None and user is not None
        return ChatRef(CHANNEL, str(chat.id), str(user.id), user.full_name, chat.type != "private", chat.title)

    async def on_text(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or update.effective_user is None:
            return
        reply = await self.service.handle(
            self.chat_ref(update), Incoming(text=message.text or "", update_id=str(update.update_id)),
            notify=lambda m: self.send(message.chat_id, [m]),
        )
        await self.send(message.chat_id, reply.messages)

    async def on_callback(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.message is None:
            return
        await self._quietly(query.answer())
        chat_id = query.message.chat.id
        reply = await self.service.handle(
            self.chat_ref(update), Incoming(payload=query.data or "", update_id=str(update.update_id)),
            notify=lambda m: self.send(chat_id, [m]),
        )
        if not reply.duplicate:
            await self._mark_pressed(query)
        await self.send(query.message.chat.id, reply.messages)

    async def on_document(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """A report file: saved under RASOAT_DATA_DIR/uploads, then handed to the service."""
        message = update.effective_message
        if message is None or message.document is None or update.effective_user is None:
            return
        doc = message.document
        if doc.file_size and doc.file_size > FILE_LIMIT_MB * 1024 * 1024:
            await self.send(message.chat_id, [OutMessage(t("file_too_big", mb=FILE_LIMIT_MB))])
            return
        folder = self.service.settings.data_dir / "uploads" / CHANNEL / str(message.chat_id)
        folder.mkdir(parents=True, exist_ok=True)
        name = doc.file_name or "tep"
        path = folder / f"{update.update_id}-{safe_file_name(name)}"
        telegram_file = await doc.get_file()
        await telegram_file.download_to_drive(path)
        reply = await self.service.handle(
            self.chat_ref(update),
            Incoming(text=message.caption or "", update_id=str(update.update_id),
                     document=Attachment(name, str(path))),
        )
        await self.send(message.chat_id, reply.messages)

    async def on_other(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """Photos, stickers, voice: say what the bot understands instead of ignoring them."""
        chat = update.effective_chat
        if chat is not None and chat.type == "private":
            await self.send(chat.id, [OutMessage(t("only_text"))])

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram handler error for %s", update, exc_info=context.error)
        if isinstance(update, Update) and update.effective_chat is not None:
            await self._quietly(self.app.bot.send_message(update.effective_chat.id, t("internal_error")))

    # ----- output -------------------------------------------------------------------------

    async def send(self, chat_id: int | str, messages: list[OutMessage]) -> None:
        for message in messages:
            if message.photo:
                with open(message.photo, "rb") as fh:
                    await self.app.bot.send_photo(chat_id, fh, caption=message.text[:1024],
                                                  reply_markup=keyboard(message))
                continue
            if message.document:
                with open(message.document, "rb") as fh:
                    await self.app.bot.send_document(chat_id, fh, caption=message.text[:1024],
                                                     reply_markup=keyboard(message))
                continue
            parts = split_text(message.text, TEXT_LIMIT)
            for i, part in enumerate(parts):
                last = i == len(parts) - 1
                await self.app.bot.send_message(chat_id, part, reply_markup=keyboard(message) if last else None)

    async def deliver(self, chat_id: str, message: OutMessage) -> None:
        """One notice for the scheduler's outbox; platform refusals become SendError."""
        try:
            await self.send(int(chat_id), [message])
        except RetryAfter as exc:
            seconds = exc.retry_after.total_seconds() if hasattr(exc.retry_after, "total_seconds") else exc.retry_after
            raise SendError(str(exc), retry_after=float(seconds)) from exc
        except Forbidden as exc:  # removed from the group, or the user blocked the bot
            raise SendError(str(exc), permanent=True) from exc
        except BadRequest as exc:  # chat not found, message malformed: retrying cannot help
            raise SendError(str(exc), permanent=True) from exc
        except TelegramError as exc:  # network trouble, timeouts: try again later
            raise SendError(str(exc)) from exc

    async def _mark_pressed(self, query: Any) -> None:
        """Replace the keyboard of the answered question by the chosen answer, so old buttons
        cannot be pressed by mistake later."""
        label = next(
            (b.text for row in (query.message.reply_markup.inline_keyboard if query.message.reply_markup else ())
             for b in row if b.callback_data == query.data),
            None,
        )
        if label and query.message.text:
            await self._quietly(query.edit_message_text(f"{query.message.text}\n\n➡️ {label}"))

    @staticmethod
    async def _quietly(call: Awaitable[Any]) -> None:
        try:
            await call
        except (BadRequest, TelegramError) as exc:
            log.warning("telegram call failed: %s", exc)
