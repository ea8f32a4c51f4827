"""Several workers serving one bot (webhook mode, core/inbox.py).

The probe of issue 26 item 1, on PostgreSQL: `rasoat run --workers 2` at the default settle
window, 20 chats each sending 3 bursts of 5 answers, every answer on its own connection and the
calls racing each other. Every answer must land on the question it answers, as when one worker
takes them one by one, or be refused with the "send it again" message; none is lost. A worker
SIGKILLed with updates committed but not applied leaves them to the other. An update older
than one already applied in its chat is refused, once (Telegram's counter, Zalo's dates).
Several workers on one SQLite file are refused at start-up."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select, update

from bot.app import ChatApp, build_app
from bot.channels.telegram import TelegramChannel, WebhookConfig
from core.chat.messages import Incoming
from core.config import Settings
from core.i18n import t
from core.storage.db import Database
from core.storage.models import Conversation, InboxUpdate, ProcessedUpdate, User
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


LATE = t("wk_late_update")  # the reply to an update that came after a newer one of its chat


def _accounted(stored: dict[str, Any], expected: dict[str, Any], sent: list[str], answers: int, chat: str) -> None:
    """No answer on a question it does not answer, and none silently dropped: every answer was
    applied (in order) or refused with the "send it again" message."""
    shifted = {k: (v, expected.get(k)) for k, v in stored.items() if expected.get(k) != v}
    assert not shifted, f"chat {chat}: answers on the wrong questions {shifted}"
    refused = sum(text == LATE for text in sent)
    assert len(stored) + refused == answers, f"chat {chat}: {len(stored)} applied, {refused} refused of {answers}"


def _env(api: FakeBotAPI, settings: Settings, data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    """`rasoat run` in webhook mode on this test's store and fake Bot API."""
    return {**os.environ, "DATABASE_URL": settings.database_url, "RASOAT_DATA_DIR": str(data_dir),
            "REVIEW_YEAR": "2026", "UNITS_CONFIGURATION": "65", "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_API_BASE": api.base, "TELEGRAM_WEBHOOK_URL": "https://bot.example/telegram",
            "TELEGRAM_WEBHOOK_SECRET": SECRET, "TELEGRAM_WEBHOOK_LISTEN": "127.0.0.1",
            "TELEGRAM_WEBHOOK_PORT": str(port), "TELEGRAM_MAX_RATE": "0", **extra}


async def _running(proc: asyncio.subprocess.Process, workers: int) -> None:
    assert proc.stdout is not None
    seen = 0
    while seen < workers:
        line = await asyncio.wait_for(proc.stdout.readline(), 90)
        assert line, "rasoat run stopped before its channels ran"
        seen += b"telegram channel running" in line


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_bursts_over_two_workers_land_every_answer_on_its_question(
        api: FakeBotAPI, settings: Settings, db: Database, tmp_path: Path) -> None:
    """Issue 26 item 1: `rasoat run --workers 2` at the default settle window; 20 chats each send
    3 bursts of 5 answers, each answer on its own connection (the kernel spreads them over the
    two processes sharing the port)."""
    env = _env(api, settings, settings.data_dir, _port())  # the same data key seals the answers
    assert "RASOAT_INBOX_SETTLE" not in env  # the default window, not a wider one
    app = await build_app(settings, db)
    texts, expected = await _reference(app, 15)
    users = await _heads(app, api, 20)
    port = int(env["TELEGRAM_WEBHOOK_PORT"])
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", "--workers", "2", cwd=Path(__file__).parents[1], env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    ids, shuffle = Ids(), random.Random(26).shuffle
    try:
        await _running(proc, 2)
        # force_close: a new connection for every call, as Telegram's deliveries may come
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True, limit=0)) as http:
            assert {await _post(http, port, ids.next(u.text_update("/hoimoi phieu_b"))) for u in users} == {200}
            for burst in range(3):
                bodies = [ids.next(u.text_update(t)) for u in users for t in texts[burst * 5:(burst + 1) * 5]]
                shuffle(bodies)  # the calls race: any of them may reach a worker first
                assert set(await asyncio.gather(*(_post(http, port, b) for b in bodies))) == {200}
        for u in users:
            sent = [m.get("text") or "" for m in api.sent_to(u.user_id)]
            _accounted(await _stored(app, str(u.user_id)), expected, sent, len(texts), str(u.user_id))
        async with app.db.read() as s:
            assert await s.scalar(select(func.count()).select_from(InboxUpdate)) == 0
    finally:
        if proc.returncode is None:
            proc.terminate()
            await asyncio.wait_for(proc.communicate(), 60)


async def test_a_killed_worker_leaves_nothing_behind_the_other_carries_on(
        api: FakeBotAPI, settings: Settings, db: Database, tmp_path: Path) -> None:
    # B gives up on a missing update id after 1 s; A waits 30 s, so it holds what it committed
    app = await build_app(replace(settings, inbox_gap_wait=1.0), db)
    texts, expected = await _reference(app, 8)
    users = await _heads(app, api, 3)
    port_a, port_b = _port(), _port()
    env = _env(api, settings, tmp_path / "a", port_a, RASOAT_INBOX_GAP_WAIT="30",
               # every worker seals with the same data key (the inbox holds sealed updates)
               RASOAT_DATA_KEY=",".join(k.decode() for k in load_keys(settings.data_dir, settings.data_key)))
    worker_a = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", cwd=Path(__file__).parents[1], env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    channel_b = TelegramChannel(app, api.token, api.base, webhook=_hook(port_b))
    await channel_b.start()
    ids = Ids()
    try:
        await _running(worker_a, 1)
        async with aiohttp.ClientSession() as http:
            for u in users:
                assert await _post(http, port_b, ids.next(u.text_update("/hoimoi phieu_b"))) == 200
                for t in texts[:3]:
                    assert await _post(http, port_b, ids.next(u.text_update(t))) == 200
            ids.next({})  # an update Telegram has not delivered yet: A holds what comes after it
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
            # B's sweep applies A's rows, giving up on the missing id; the chats go on through B in order
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


async def _journaled(app: ChatApp, channel: str, chat_id: str) -> int:
    async with app.db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(ProcessedUpdate).where(
            ProcessedUpdate.channel == channel, ProcessedUpdate.chat_id == chat_id)) or 0)


async def test_a_telegram_update_older_than_one_applied_is_refused_once_and_changes_nothing(
        api: FakeBotAPI, settings: Settings, db: Database) -> None:
    """Update 3 waits for id 2 (the counter), is applied when the wait runs out; then 2 comes:
    it would answer the current question with the previous one's text, so it is refused, once."""
    app = await build_app(replace(settings, inbox_gap_wait=0.3), db)
    texts, expected = await _reference(app, 3)
    (head,) = await _heads(app, api, 1)
    port = _port()
    channel = TelegramChannel(app, api.token, api.base, webhook=_hook(port))
    await channel.start()
    try:
        async with aiohttp.ClientSession() as http:
            assert await _post(http, port, {"update_id": 1, **head.text_update("/hoimoi phieu_b")}) == 200
            assert await _post(http, port, {"update_id": 3, **head.text_update(texts[0])}) == 200
            late = {"update_id": 2, **head.text_update("Người gửi trước")}
            before = await _stored(app, str(head.user_id))
            assert await _post(http, port, late) == 200
            assert api.sent_to(head.user_id)[-1]["text"] == LATE
            journaled = await _journaled(app, "telegram", str(head.user_id))
            assert await _post(http, port, late) == 200  # Telegram delivers it again: the same answer
            assert [m["text"] for m in api.sent_to(head.user_id)[-2:]] == [LATE, LATE]
            assert await _stored(app, str(head.user_id)) == before == {k: expected[k] for k in before}
            assert await _journaled(app, "telegram", str(head.user_id)) == journaled
            for i, text in enumerate(texts[1:], start=4):
                assert await _post(http, port, {"update_id": i, **head.text_update(text)}) == 200
        assert await _stored(app, str(head.user_id)) == expected
    finally:
        await channel.stop()


async def test_zalo_orders_by_date_equal_dates_by_arrival_and_refuses_an_older_date(
        settings: Settings, db: Database) -> None:
    """Zalo numbers nothing: the message date orders a chat. Two messages with one date are
    applied in the order they came; a date older than one applied is refused, once."""
    from bot.channels.zalo import ZaloChannel, ZaloWebhook
    from bot.channels.zalo_client import ZaloClient
    from bot.web import WebServer
    from tests.fake_zalo import FakeZaloAPI, ZaloUser

    zalo_api = FakeZaloAPI()
    await zalo_api.start()
    app = await build_app(settings, db)
    texts, expected = await _reference(app, 4)
    await make_village_head(app, "z-late", village="Thôn Muộn")
    async with app.db.transaction() as s:
        await s.execute(update(User).where(User.external_id == "z-late").values(channel="zalo"))
    head = ZaloUser(zalo_api, "z-late", "Trưởng thôn")
    channel = ZaloChannel(app, ZaloClient(zalo_api.token, zalo_api.base), None,
                          webhook=ZaloWebhook("https://bot.example/zalo", SECRET))
    server = WebServer("127.0.0.1", 0, None, channel.routes())
    port = await server.start()
    await channel.start()

    def body(text: str, date: int) -> dict[str, Any]:
        update = head.text_update(text)
        update["message"]["date"] = date
        return {"ok": True, "result": update}

    async def post(http: aiohttp.ClientSession, b: dict[str, Any]) -> int:
        async with http.post(f"http://127.0.0.1:{port}/zalo", json=b, headers={"X-Bot-Api-Secret-Token": SECRET}) as r:
            return r.status

    try:
        async with aiohttp.ClientSession() as http:
            assert await post(http, body("/hoimoi phieu_b", 1_000)) == 200
            assert await post(http, body(texts[0], 3_000)) == 200
            late = body("Người gửi trước", 2_000)
            before = await _stored(app, head.chat_id)
            assert await post(http, late) == 200
            assert zalo_api.sent_to(head.chat_id)[-1]["text"] == LATE
            journaled = await _journaled(app, "zalo", head.chat_id)
            assert await post(http, late) == 200  # delivered again: the same answer, nothing applied
            assert await _stored(app, head.chat_id) == before
            assert await _journaled(app, "zalo", head.chat_id) == journaled
            for text in texts[1:]:  # one date for all three: applied as they came
                assert await post(http, body(text, 4_000)) == 200
        assert await _stored(app, head.chat_id) == expected
        assert sum(m["text"] == LATE for m in zalo_api.sent_to(head.chat_id)) == 2
    finally:
        await channel.stop()
        await server.stop()
        await zalo_api.stop()


async def test_several_workers_on_one_sqlite_database_are_refused_at_start_up(api: FakeBotAPI, tmp_path: Path) -> None:
    """SQLite is not proved safe for several workers: `--workers 2` is refused, and so is a second
    `rasoat run` started beside a running one on the same file."""
    sqlite = Settings.from_env({"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'rasoat.db'}"})
    root = Path(__file__).parents[1]

    async def run(*args: str, port: int) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", *args, cwd=root, env=_env(api, sqlite, tmp_path, port),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)

    several = await run("--workers", "2", port=_port())
    out, _ = await asyncio.wait_for(several.communicate(), 60)
    assert several.returncode == 2 and b"PostgreSQL" in out, out.decode()
    first = await run(port=_port())
    try:
        await _running(first, 1)
        second = await run(port=_port())
        out, _ = await asyncio.wait_for(second.communicate(), 60)
        assert second.returncode == 2 and b"another rasoat run serves bots" in out, out.decode()
    finally:
        first.terminate()
        await asyncio.wait_for(first.communicate(), 60)
    assert first.returncode == 0
