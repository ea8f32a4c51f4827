"""The chat channels whose tokens are set, as `run` and `scheduler` start them, and the signal
that stops a long-running command."""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.app import ChatApp
from bot.context import AppData
from core.config import Settings
from core.delivery import Sender

if TYPE_CHECKING:
    from bot.channels.telegram import TelegramChannel
    from bot.channels.zalo import ZaloChannel
    from bot.web import WebServer


@dataclass
class Channels:
    telegram: TelegramChannel | None = None
    zalo: ZaloChannel | None = None

    def by_name(self) -> dict[str, TelegramChannel | ZaloChannel]:
        """In start order; also the scheduler's senders."""
        found: dict[str, TelegramChannel | ZaloChannel] = {}
        if self.telegram is not None:
            found["telegram"] = self.telegram
        if self.zalo is not None:
            found["zalo"] = self.zalo
        return found

    def senders(self) -> dict[str, Sender]:
        return dict(self.by_name())


def channels(service: ChatApp, settings: Settings) -> Channels:
    # The channel libraries (python-telegram-bot; aiohttp for Zalo) are imported only when their
    # token is set: most runs (console chat, reports, checks) never need them, and each costs a
    # tenth of a second or more at start-up, paid by every `rasoat` invocation otherwise.
    found = Channels()
    if settings.telegram_token:
        from bot.channels.telegram import TelegramChannel, WebhookConfig

        webhook = None
        if settings.telegram_webhook_url:
            webhook = WebhookConfig(settings.telegram_webhook_url, settings.telegram_webhook_secret or "",
                                    settings.telegram_webhook_listen, settings.telegram_webhook_port)
        found.telegram = TelegramChannel(service, settings.telegram_token, settings.telegram_api_base, webhook)
    if settings.zalo_token:
        from bot.channels.zalo import ZaloChannel, ZaloWebhook
        from bot.channels.zalo_client import ZaloClient
        from bot.files import FileLinks

        links = FileLinks(settings.data_dir, settings.public_url, settings.link_hours) if settings.public_url else None
        zalo_webhook = ZaloWebhook(settings.zalo_webhook_url, settings.zalo_webhook_secret or "") \
            if settings.zalo_webhook_url else None
        found.zalo = ZaloChannel(service, ZaloClient(settings.zalo_token, settings.zalo_api_base), links,
                                 zalo_webhook, settings.zalo_max_rate)
    return found


def mode(name: str, settings: Settings) -> str:
    webhook = settings.telegram_webhook_url if name == "telegram" else settings.zalo_webhook_url
    return "webhook" if webhook else "long polling"


async def web_server(settings: Settings, found: Channels, data: AppData | None = None) -> WebServer | None:
    """Zalo's webhook and file links need an HTTP server; Telegram brings its own. The officers'
    web view (bot/webview/, /web) rides on it whenever RASOAT_PUBLIC_URL is set."""
    zalo = found.zalo
    needed = zalo is not None and (zalo.links is not None or zalo.webhook is not None)
    if not needed and not (data is not None and settings.public_url):
        return None
    from bot.web import WebServer  # aiohttp: only with Zalo or the web view, see channels()

    web = WebServer(settings.http_listen, settings.http_port, zalo.links if needed and zalo else None,
                    zalo.routes() if needed and zalo else [])
    if data is not None and settings.public_url:
        from bot.webview import PREFIX, WebView

        web.app.add_subapp(PREFIX, WebView(data).app)
    await web.start()
    return web


def stop_event() -> asyncio.Event:
    """Set by SIGINT or SIGTERM: the long-running commands wait on it."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
