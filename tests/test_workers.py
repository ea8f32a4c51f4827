"""Several workers serving one bot (webhook mode, core/inbox.py), on SQLite and PostgreSQL.

The probe of issue 15: ten chats send their answers in bursts of five, each burst spread
round-robin over two workers with the calls racing each other. Every answer must land on the
question it answers, exactly as when one worker takes the same answers one by one. Then a
worker is SIGKILLed with an update committed to the inbox but not yet applied: the other
worker applies it and the conversation carries on."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, select, update

from bot.app import ChatApp, build_app
from bot.channels.telegram import TelegramChannel, WebhookConfig
from core.chat.messages import Incoming
from core.config import Settings
from core.storage.db import Database
from core.storage.models import Conversation, InboxUpdate, User
from core.storage.repo import load_answers
from core.storage.sealed import load_keys
from tests.fake_telegram import FakeBotAPI, TgUser
from tests.households import POOR, answer_for, cursor, make_village_head

SECRET = "probe-Secret_1"
HEADER = {"X-Telegram-Bot-Api-Secret-Token": SECRET}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Ids:
    """Telegram's update ids: one increasing sequence for the whole bot."""

    def __init__(self) -> None:
        self.n = 0

    def next(self, body: dict[str, Any]) -> dict[str, Any]:
        self.n += 1
        return {"update_id": self.n, **body}


async def _reference(app: ChatApp, n: int) -> tuple[list[str], dict[str, Any]]:
    """The first n answers of a Phiếu B as one worker takes them one by one, and what it stores."""
    probe = await make_village_head(app, "ref", village="Thôn Mẫu")
    await app.handle(probe, Incoming(text="/hoimoi phieu_b"))
    texts = []
    for _ in range(n):
        texts.append(answer_for(POOR, await cursor(app, probe)))  # type: ignore[arg-type]
        await app.handle(probe, Incoming(text=texts[-1]))
    return texts, await _stored(app, probe.chat_id)


async def _stored(app: ChatApp, chat_id: str) -> dict[str, Any]:
    async with app.db.read() as s:
        conv = await s.scalar(select(Conversation).where(Conversation.chat_id == chat_id))
        assert conv is not None and conv.household_id is not None
        return await load_answers(s, conv.household_id)  # plain values (ID numbers are sealed at rest)


async def _heads(app: ChatApp, api: FakeBotAPI, n: int) -> list[TgUser]:
    users = []
    for i in range(n):
        await make_village_head(app, str(7000 + i), village=f"Thôn Dò {i}")
        users.append(TgUser(api, 7000 + i, f"Trưởng thôn {i}"))
    async with app.db.transaction() as s:
        await s.execute(update(User).where(User.channel == "test", User.external_id != "ref")
                        .values(channel="telegram"))
    return users


async def _post(http: aiohttp.ClientSession, port: int, body: dict[str, Any]) -> int:
    async with http.post(f"http://127.0.0.1:{port}/telegram", json=body, headers=HEADER) as r:
        return r.status


def _hook(port: int) -> WebhookConfig:
    return WebhookConfig(url="https://bot.example/telegram", secret=SECRET, listen="127.0.0.1", port=port)


async def test_bursts_over_two_workers_land_every_answer_on_its_question(
        api: FakeBotAPI, settings: Settings, db: Database) -> None:
    # the window in which an earlier update still on the wire is waited for: fifty racing calls
    # on two shared cores can take longer than the default 0.1 s to reach the database
    settings = replace(settings, inbox_settle=1.0)
    one = await build_app(settings, db)
    other_db = Database(settings.database_url)
    two = await build_app(settings, other_db)
    texts, expected = await _reference(one, 15)
    users = await _heads(one, api, 10)
    ports = [_port(), _port()]
    channels = [TelegramChannel(one, api.token, api.base, webhook=_hook(ports[0])),
                TelegramChannel(two, api.token, api.base, webhook=_hook(ports[1]))]
    for channel in channels:
        await channel.start()
    ids = Ids()
    try:
        async with aiohttp.ClientSession() as http:
            assert {await _post(http, ports[0], ids.next(u.text_update("/hoimoi phieu_b"))) for u in users} == {200}
            for burst in range(3):
                calls = []
                for u in users:
                    bodies = [ids.next(u.text_update(t)) for t in texts[burst * 5:(burst + 1) * 5]]
                    calls += [_post(http, ports[k % 2], b) for k, b in enumerate(bodies)]  # round-robin
                assert set(await asyncio.gather(*calls)) == {200}
        for u in users:
            assert await _stored(one, str(u.user_id)) == expected, f"chat {u.user_id}"
        async with one.db.read() as s:
            assert await s.scalar(select(func.count()).select_from(InboxUpdate)) == 0
    finally:
        for channel in channels:
            await channel.stop()
        await other_db.dispose()


async def test_a_killed_worker_leaves_nothing_behind_the_other_carries_on(
        api: FakeBotAPI, settings: Settings, db: Database, tmp_path: Path) -> None:
    app = await build_app(settings, db)
    texts, expected = await _reference(app, 8)
    users = await _heads(app, api, 3)
    port_a, port_b = _port(), _port()
    env = {**os.environ, "DATABASE_URL": settings.database_url, "RASOAT_DATA_DIR": str(tmp_path / "a"),
           "REVIEW_YEAR": "2026", "UNITS_CONFIGURATION": "65", "TELEGRAM_BOT_TOKEN": api.token,
           "TELEGRAM_API_BASE": api.base, "TELEGRAM_WEBHOOK_URL": "https://bot.example/telegram",
           "TELEGRAM_WEBHOOK_SECRET": SECRET, "TELEGRAM_WEBHOOK_LISTEN": "127.0.0.1",
           "TELEGRAM_WEBHOOK_PORT": str(port_a), "TELEGRAM_MAX_RATE": "0",
           "RASOAT_INBOX_SETTLE": "30",  # worker A commits updates but holds them back until killed
           # every worker seals with the same data key (the inbox holds sealed updates)
           "RASOAT_DATA_KEY": ",".join(k.decode() for k in load_keys(settings.data_dir, settings.data_key))}
    worker_a = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", cwd=Path(__file__).parents[1], env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    channel_b = TelegramChannel(app, api.token, api.base, webhook=_hook(port_b))
    await channel_b.start()
    ids = Ids()
    try:
        assert worker_a.stdout is not None
        while b"telegram channel running" not in await asyncio.wait_for(worker_a.stdout.readline(), 60):
            pass
        async with aiohttp.ClientSession() as http:
            for u in users:
                assert await _post(http, port_b, ids.next(u.text_update("/hoimoi phieu_b"))) == 200
                for t in texts[:3]:
                    assert await _post(http, port_b, ids.next(u.text_update(t))) == 200
            # worker A takes the fourth answer of every chat: committed, acknowledged never
            held = [asyncio.create_task(_post(http, port_a, ids.next(u.text_update(texts[3])))) for u in users]
            for _ in range(400):
                async with app.db.read() as s:
                    if await s.scalar(select(func.count()).select_from(InboxUpdate)) == len(users):
                        break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("worker A never committed the updates")
            worker_a.send_signal(signal.SIGKILL)
            await worker_a.wait()
            results = await asyncio.gather(*held, return_exceptions=True)
            assert all(isinstance(r, aiohttp.ClientError) for r in results), results  # A died before 200
            # B's sweep applies A's rows; the chats go on through B in their order
            for u in users:
                for t in texts[4:]:
                    assert await _post(http, port_b, ids.next(u.text_update(t))) == 200
        for u in users:
            assert await _stored(app, str(u.user_id)) == expected, f"chat {u.user_id}"
    finally:
        if worker_a.returncode is None:
            worker_a.kill()
            await worker_a.wait()
        await channel_b.stop()


async def test_zalo_bursts_over_two_workers_land_every_answer_on_its_question(
        settings: Settings, db: Database) -> None:
    """The same probe on Zalo's webhook (bot/channels/zalo.py): ordered by the message date."""
    import itertools

    from bot.channels.zalo import ZaloChannel, ZaloWebhook
    from bot.channels.zalo_client import ZaloClient
    from bot.web import WebServer
    from tests.fake_zalo import FakeZaloAPI, ZaloUser

    zalo_api = FakeZaloAPI()
    await zalo_api.start()
    settings = replace(settings, inbox_settle=1.0)
    one = await build_app(settings, db)
    other_db = Database(settings.database_url)
    two = await build_app(settings, other_db)
    texts, expected = await _reference(one, 10)
    users = []
    for i in range(6):
        await make_village_head(one, f"z{i}", village=f"Thôn Zalo {i}")
        users.append(ZaloUser(zalo_api, f"z{i}", f"Trưởng thôn {i}"))
    async with one.db.transaction() as s:
        await s.execute(update(User).where(User.channel == "test", User.external_id != "ref").values(channel="zalo"))
    hook = ZaloWebhook("https://bot.example/zalo", SECRET)
    channels = [ZaloChannel(app, ZaloClient(zalo_api.token, zalo_api.base), None, webhook=hook) for app in (one, two)]
    servers = [WebServer("127.0.0.1", 0, None, c.routes()) for c in channels]
    ports = [await w.start() for w in servers]
    for channel in channels:
        await channel.start()
    clock = itertools.count(1_700_000_000_000)  # Zalo's message dates, one millisecond apart

    def body(u: ZaloUser, text: str) -> dict[str, Any]:
        update = u.text_update(text)
        update["message"]["date"] = next(clock)
        return {"ok": True, "result": update}

    async def post(http: aiohttp.ClientSession, port: int, b: dict[str, Any]) -> int:
        async with http.post(f"http://127.0.0.1:{port}/zalo", json=b,
                             headers={"X-Bot-Api-Secret-Token": SECRET}) as r:
            return r.status

    try:
        async with aiohttp.ClientSession() as http:
            assert {await post(http, ports[0], body(u, "/hoimoi phieu_b")) for u in users} == {200}
            for burst in range(2):
                calls = []
                for u in users:
                    bodies = [body(u, t) for t in texts[burst * 5:(burst + 1) * 5]]
                    calls += [post(http, ports[k % 2], b) for k, b in enumerate(bodies)]
                assert set(await asyncio.gather(*calls)) == {200}
        for u in users:
            assert await _stored(one, u.user_id) == expected, f"chat {u.user_id}"
        async with one.db.read() as s:
            assert await s.scalar(select(func.count()).select_from(InboxUpdate)) == 0
    finally:
        for channel in channels:
            await channel.stop()
        for w in servers:
            await w.stop()
        await other_db.dispose()
        await zalo_api.stop()
