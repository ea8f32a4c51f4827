"""Issue 26 item 5: bodies that pass the webhook's secret check but are not updates, and a huge
download URL, get 400 and one log line: no traceback, nothing the body held."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.app import ChatApp, build_app
from bot.channels.telegram import TelegramChannel, WebhookConfig
from bot.channels.zalo import ZaloChannel, ZaloWebhook
from bot.channels.zalo_client import ZaloClient
from bot.files import FileLinks
from bot.web import WebServer
from core.config import Settings
from core.storage.db import Database
from tests.fake_telegram import FakeBotAPI
from tests.fake_zalo import FakeZaloAPI

NESTED = "[" * 10_000 + "]" * 10_000
SECRET_MARK = "079123456789"  # an ID number: it must never reach the log
BODIES = ["[1]", "null", "{}", NESTED, '"' + SECRET_MARK + '"', "{not json " + SECRET_MARK,
          '{"update_id": 5, "message": 7}', '{"message": {"chat": 5, "from": "' + SECRET_MARK + '"}}',
          '{"ok": true, "result": {"event_name": "message.text.received", "message": {"chat": {"id": "1"},'
          ' "from": "' + SECRET_MARK + '", "text": 5}}}']


def _assert_one_line_each(caplog: pytest.LogCaptureFixture, calls: int) -> None:
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(records) == calls, [r.getMessage() for r in records]
    for record in records:
        assert record.exc_info is None and record.exc_text is None and "Traceback" not in record.getMessage()
        assert "\n" not in record.getMessage() and SECRET_MARK not in record.getMessage()


@pytest.fixture
async def app(settings: Settings, db: Database) -> ChatApp:
    return await build_app(settings, db)


async def test_telegram_webhook_refuses_bodies_that_are_not_updates(
        api: FakeBotAPI, app: ChatApp, unused_tcp_port: int, caplog: pytest.LogCaptureFixture) -> None:
    hook = WebhookConfig(url="https://bot.example/telegram", secret="s3cret-Token_1", listen="127.0.0.1",
                         port=unused_tcp_port)
    channel = TelegramChannel(app, api.token, api.base, webhook=hook)
    await channel.start()
    caplog.clear()
    try:
        async with aiohttp.ClientSession() as http:
            for body in BODIES:
                async with http.post(f"http://127.0.0.1:{unused_tcp_port}/telegram", data=body,
                                     headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1",
                                              "Content-Type": "application/json"}) as r:
                    assert r.status == 400, body[:40]
    finally:
        await channel.stop()
    _assert_one_line_each(caplog, len(BODIES))


@pytest.fixture
async def zalo_api() -> AsyncIterator[FakeZaloAPI]:
    fake = FakeZaloAPI()
    await fake.start()
    yield fake
    await fake.stop()


async def test_zalo_webhook_refuses_bodies_that_are_not_updates(
        zalo_api: FakeZaloAPI, app: ChatApp, caplog: pytest.LogCaptureFixture) -> None:
    channel = ZaloChannel(app, ZaloClient(zalo_api.token, zalo_api.base), None,
                          webhook=ZaloWebhook("https://rasoat.example.vn/zalo", "s3cret"))
    web = WebServer("127.0.0.1", 0, None, channel.routes())
    port = await web.start()
    await channel.start()
    caplog.clear()
    try:
        async with aiohttp.ClientSession() as http:
            for body in BODIES:
                async with http.post(f"http://127.0.0.1:{port}/zalo", data=body,
                                     headers={"X-Bot-Api-Secret-Token": "s3cret",
                                              "Content-Type": "application/json"}) as r:
                    assert r.status == 400, body[:40]
    finally:
        await channel.stop()
        await web.stop()
    _assert_one_line_each(caplog, len(BODIES))


async def test_a_huge_download_url_gets_400_and_one_line(tmp_path, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    links = FileLinks(tmp_path, "https://rasoat.example.vn")
    web = WebServer("127.0.0.1", 0, links, [])
    port = await web.start()
    caplog.clear()
    try:
        async with aiohttp.ClientSession() as http:
            for token in ("A" * 200_000, "A" * 7_000 + "." + SECRET_MARK):
                async with http.get(f"http://127.0.0.1:{port}/f/{token}/x.xlsx") as r:
                    assert r.status in (400, 410)
            async with http.get(f"http://127.0.0.1:{port}/f/{'B' * 200_000}/x.xlsx") as r:
                assert r.status == 400
    finally:
        await web.stop()
    records = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    for record in records:
        assert record.exc_info is None and "Traceback" not in record.getMessage()
        assert SECRET_MARK not in record.getMessage() and len(record.getMessage()) < 300
    assert len(records) <= 2
