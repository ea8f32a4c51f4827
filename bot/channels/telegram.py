"""The Telegram channel: Bot API updates into (ChatRef, Incoming), replies into messages with
inline keyboards. python-telegram-bot is used as the Bot API client (sending, rate limiting,
update parsing); ordering, confirm-after-handling, redelivery and report jobs are the
runner's (bot/runner.py), shared with every channel.

Updates are fetched by our own long polling (or served by our own webhook endpoint) so that
an update is confirmed to Telegram only once it has been handled: the library's poller
confirms a batch as soon as it is fetched, and a kill would lose those messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import warnings
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from telegram import BotCommand, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder
from telegram.warnings import PTBUserWarning

from bot.app import ChatApp
from bot.channels.telegram_http import AiohttpRequest
from bot.plain import split_text
from bot.runner import Backoff, Runner, cancel_and_wait
from bot.web import BadBody, WebServer, json_body, refuse_body, secret_matches
from core.chat.messages import ChatRef, Incoming, OutMessage, Reply
from core.delivery import SendError
from core.i18n import t

log = logging.getLogger(__name__)
CHANNEL = "telegram"
TEXT_LIMIT = 4096
ALLOWED = ["message", "callback_query"]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# seconds between polls while updates are in hand: each such poll returns them again (the offset
# cannot pass the oldest unfinished one), so it costs more the more are in hand. When the last one
# finishes the poller does not wait this out: with nothing in hand it can long-poll, and the next
# update comes at once (at 20 chats the pause was the limit: docs/benchmarks.md, issue 25). Waking
# at each finished update instead polled so often that SQLite's answers lost a third.
POLL_BUSY = 0.02


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


def raw_keyboard(message: OutMessage) -> dict[str, Any]:
    return {"inline_keyboard": [[{"text": b.label, "callback_data": b.payload} for b in row]
                                for row in message.buttons]}


class TelegramChannel:
    """Sends pace themselves through AIORateLimiter: about 30 messages/s for the bot and 20 per
    minute per group (Settings.telegram_max_rate / telegram_group_rate), and a 429 'retry after'
    is waited out and retried up to three times before the caller sees it."""

    name = CHANNEL

    def __init__(self, app: ChatApp, token: str, api_base: str | None = None,
                 webhook: WebhookConfig | None = None, poll_timeout: int = 30) -> None:
        self.chat_app = app
        self.webhook = webhook
        self.poll_timeout = poll_timeout
        self.runner = Runner(app, self)
        # _poll asks getUpdates through do_api_request on purpose (to parse only new updates)
        warnings.filterwarnings("ignore", message=r".*'Bot\.(getUpdates|sendMessage)' instead of",
                                category=PTBUserWarning)
        self._poller: Any = None
        self._web: WebServer | None = None
        settings = app.settings
        builder = ApplicationBuilder().token(token).updater(None)
        if settings.telegram_http == "aiohttp":
            builder = builder.request(AiohttpRequest()).get_updates_request(AiohttpRequest(connections=1))
        elif settings.telegram_http != "httpx":
            raise ValueError(f"TELEGRAM_HTTP must be aiohttp or httpx, not {settings.telegram_http!r}")
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

    @property
    def bot(self) -> Any:
        return self.app.bot

    # ----- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        await self.app.initialize()
        await self.bot.set_my_commands([BotCommand(name, text[:256]) for name, text in self.chat_app.router.menu()])
        await self.runner.start()
        if self.webhook:
            hook = self.webhook
            self._web = WebServer(hook.listen, hook.port, None, [web.post(f"/{hook.path.strip('/')}", self.on_webhook)],
                                  reuse_port=hasattr(socket, "SO_REUSEPORT"))
            self.runner.use_inbox(self._apply_raw, counted=True)  # update_id counts every update of the bot
            await self._web.start()
            await self.bot.set_webhook(hook.url, secret_token=hook.secret, allowed_updates=ALLOWED)
        else:
            await self.bot.delete_webhook()
            self._poller = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        if self._web is not None:
            await self._web.stop()
        await cancel_and_wait(self._poller)
        await self.runner.stop()
        await self.app.shutdown()

    async def on_webhook(self, request: web.Request) -> web.Response:
        """The update is committed to the inbox first (core/inbox.py), then this chat's waiting
        updates are applied in update-id order by whichever worker holds the chat; 200 goes back
        once this one has been applied. If the process dies after the commit, another worker
        applies it (the inbox sweep); before it, Telegram sends the update again."""
        assert self.webhook is not None
        if not secret_matches(request.headers.get(SECRET_HEADER), self.webhook.secret):
            return web.Response(status=403)
        try:
            raw = await json_body(request)
            if not isinstance(raw, dict) or not isinstance(raw.get("update_id"), int):
                raise BadBody("not an update")
            try:
                update = Update.de_json(raw, self.bot)
            except Exception as exc:  # the library's parser on untrusted input: any fault is the body's
                raise BadBody(f"unparsable update ({type(exc).__name__})") from None
        except BadBody as exc:
            return refuse_body(CHANNEL, str(exc))
        if update is None:
            return web.Response(status=200)
        chat = update.effective_chat
        if chat is None:  # nothing chat-bound to order; its id still fills the counter
            await self.runner.count(update.update_id)
            await self.handle(update)
        else:
            await self.runner.receive(str(chat.id), str(update.update_id), update.update_id, raw)
        return web.Response(status=200)

    async def _apply_raw(self, payload: dict[str, Any]) -> None:
        update = Update.de_json(payload, self.bot)
        if update is not None:
            await self.handle(update)

    async def _poll(self) -> None:
        """Long polling that keeps the offset at the oldest update still in hand: after a kill
        Telegram hands the unfinished ones to the next process, and the journal makes the
        finished ones no-ops. Updates returned again while older ones are in hand are skipped."""
        inflight: set[int] = set()
        done: set[int] = set()
        drained = asyncio.Event()  # the last update in hand finished: the next poll can wait
        newest = -1
        backoff = Backoff()

        def finished(update_id: int) -> None:
            inflight.discard(update_id)
            done.add(update_id)
            if not inflight:
                drained.set()

        while True:
            offset = min(inflight) if inflight else newest + 1
            done.difference_update({i for i in done if i < offset})
            try:
                # the raw answer, so only updates not already in hand are parsed: while some are
                # in hand every poll returns them again, and parsing them was most of its cost
                timeout = 0 if inflight else self.poll_timeout
                raw = await self.bot.do_api_request("getUpdates", api_kwargs={
                    "offset": offset if offset > 0 else None, "timeout": timeout, "allowed_updates": ALLOWED},
                    read_timeout=timeout + 10)
                backoff.reset()
            except TelegramError as exc:
                await backoff.wait("telegram getUpdates", exc)
                continue
            fresh = [u for u in (Update.de_json(r, self.bot) for r in raw or ()
                                 if r["update_id"] not in inflight and r["update_id"] not in done) if u is not None]
            for update in fresh:
                inflight.add(update.update_id)
                newest = max(newest, update.update_id)
                task = self.runner.background(self.handle(update))  # stopping waits for it
                task.add_done_callback(lambda _t, i=update.update_id: finished(i))
            if inflight and not fresh:  # only unfinished updates came back: do not spin
                drained.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(drained.wait(), POLL_BUSY)

    # ----- translating updates ------------------------------------------------------------

    async def handle(self, update: Update) -> None:
        try:
            await self._translate(update)
        except Exception:
            log.exception("telegram update %s failed", update.update_id)

    async def _translate(self, update: Update) -> None:
        chat, user = update.effective_chat, update.effective_user
        if chat is None or user is None:
            return
        ref = ChatRef(CHANNEL, str(chat.id), str(user.id), user.full_name, chat.type != "private", chat.title)
        uid = str(update.update_id)
        if update.callback_query is not None:
            query = update.callback_query
            await self._quietly(query.answer())
            await self.runner.handle(ref, Incoming(payload=query.data or "", update_id=uid),
                                     present=lambda reply: self._mark_pressed(query, reply))
            return
        message = update.effective_message
        if message is None:
            return
        if message.text is not None:
            await self.runner.handle(ref, Incoming(text=message.text, update_id=uid))
        elif message.document is not None:
            await self._document(ref, uid, message)
        elif message.photo and not ref.is_group:
            await self._photo(ref, uid, message)
        elif message.location is not None and not ref.is_group:
            where = (message.location.latitude, message.location.longitude)
            await self.runner.handle(ref, Incoming(text=message.caption or "", update_id=uid, location=where))
        elif not ref.is_group and not message.new_chat_members and not message.left_chat_member:
            await self.runner.send(ref.chat_id, [OutMessage(t("only_text"))])  # photos, stickers, voice

    async def _document(self, ref: ChatRef, uid: str, message: Any) -> None:
        """A report file: the sender is checked before anything is saved (strangers' files are
        never written to disk), then it is saved under RASOAT_DATA_DIR/uploads."""
        doc = message.document

        async def download(path: Path) -> None:
            await (await doc.get_file()).download_to_drive(path)

        refusal = await self.chat_app.uploads.receive(
            ref, uid, doc.file_name or "tep", doc.file_size or 0, False, download,
            lambda file: self.runner.handle(ref, Incoming(text=message.caption or "", update_id=uid, document=file)))
        if refusal is not None:
            await self.runner.send(ref.chat_id, [refusal])

    async def _photo(self, ref: ChatRef, uid: str, message: Any) -> None:
        """A photo of a household or of meeting minutes: the largest size, saved like a document
        (sender checked first); the procedure copies what it keeps under the data folder."""
        size = message.photo[-1]

        async def download(path: Path) -> None:
            await (await size.get_file()).download_to_drive(path)

        refusal = await self.chat_app.uploads.receive(
            ref, uid, "anh.jpg", size.file_size or 0, True, download,
            lambda file: self.runner.handle(ref, Incoming(text=message.caption or "", update_id=uid, photo=file)))
        if refusal is not None:
            await self.runner.send(ref.chat_id, [refusal])

    # ----- output -------------------------------------------------------------------------

    async def send(self, chat_id: str, messages: list[OutMessage]) -> None:
        for message in messages:
            if message.photo or message.document:
                path = message.photo or message.document
                assert path is not None
                with open(path, "rb") as fh:
                    call = self.bot.send_photo if message.photo else self.bot.send_document
                    await call(chat_id, fh, caption=message.text[:1024], reply_markup=keyboard(message))
                continue
            parts = split_text(message.text, TEXT_LIMIT)
            for i, part in enumerate(parts):
                params: dict[str, Any] = {"chat_id": chat_id, "text": part}
                if i == len(parts) - 1 and message.buttons:
                    params["reply_markup"] = raw_keyboard(message)
                # the raw call: the Message Telegram returns is not used, and building the keyboard
                # objects alone was a fifth of a send's CPU time (profiled)
                await self.bot.do_api_request("sendMessage", api_kwargs=params)

    async def deliver(self, chat_id: str, message: OutMessage) -> None:
        """One notice for the scheduler's outbox; platform refusals become SendError."""
        try:
            await self.send(chat_id, [message])
        except RetryAfter as exc:
            seconds = exc.retry_after.total_seconds() if hasattr(exc.retry_after, "total_seconds") else exc.retry_after
            raise SendError(str(exc), retry_after=float(seconds)) from exc
        except Forbidden as exc:  # removed from the group, or the user blocked the bot
            raise SendError(str(exc), permanent=True) from exc
        except BadRequest as exc:  # chat not found, message malformed: retrying cannot help
            raise SendError(str(exc), permanent=True) from exc
        except TelegramError as exc:  # network trouble, timeouts: try again later
            raise SendError(str(exc)) from exc

    async def _mark_pressed(self, query: CallbackQuery, reply: Reply) -> None:
        """Replace the keyboard of an answered question by the answer chosen, so old buttons
        cannot be pressed by mistake later. A press the application refused (stale, or on a
        question answered by typing) edits nothing: the old message never shows an answer
        that was not applied."""
        if reply.duplicate or reply.refused or query.message is None:
            return
        markup = getattr(query.message, "reply_markup", None)
        label = next((b.text for row in (markup.inline_keyboard if markup else ()) for b in row
                      if b.callback_data == query.data), None)
        text = getattr(query.message, "text", None)
        if label and text:
            await self._quietly(query.edit_message_text(f"{text}\n\n➡️ {label}"))

    @staticmethod
    async def _quietly(call: Awaitable[Any]) -> None:
        try:
            await call
        except TelegramError as exc:
            log.warning("telegram call failed: %s", exc)
