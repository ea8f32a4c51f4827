"""Fault tests: the bot process is SIGKILLed at random moments while 50 household surveys are
taken over Telegram, and restarted each time. Every answer the user saw acknowledged must be
stored, each survey must go on at the question the user last saw, and the re-delivered
updates of each kill must count nothing twice (households, answers, audit rows)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.app import ChatApp, build_app
from core.chat.messages import ChatRef
from core.config import Settings
from core.datafiles import DataFiles
from core.journal import reply_of
from core.storage.db import Database
from core.storage.models import Answer, AuditLog, Household, ProcessedUpdate, Unit
from core.storage.repo import ensure_user
from core.units.loader import add_village
from tests.fake_telegram import FakeBotAPI, TgUser
from tests.households import NEAR_POOR, NOT_POOR, POOR, answer_for, cursor, questions_of

HEADS = int(os.environ.get("FAULT_HEADS", "10"))
SURVEYS_EACH = int(os.environ.get("FAULT_SURVEYS", "5"))
PROFILES = ((POOR, "poor"), (NEAR_POOR, "near_poor"), (NOT_POOR, "not_poor"))
ROOT = Path(__file__).parents[1]


class Bot:
    """`rasoat run` as a child process serving the fake Bot API; killed and restarted at will."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None
        self.kills = 0

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", cwd=ROOT, env=self.env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()
        self.kills += 1

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await asyncio.wait_for(self.proc.wait(), 30)


async def _reply_to(service: ChatApp, api: FakeBotAPI, chat: int, update_id: int,
                    before: int) -> list[dict[str, Any]]:
    """Wait until the bot committed the update and the user received the whole reply: however
    many kills come between, a message is neither lost nor applied twice."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    seen = -1
    stored: list[str] | None = None
    while loop.time() - start < 120:
        arrived = api.sent_to(chat)[before:]
        if not arrived or len(arrived) == seen:  # look at the store only when something new arrived
            await asyncio.sleep(0.01)
            continue
        seen = len(arrived)
        if stored is None:
            async with service.db.read() as s:
                row = await s.get(ProcessedUpdate, ("telegram", str(chat), str(update_id)))
                stored = [m["text"] for m in reply_of(s, row) or []] \
                    if row is not None and row.reply is not None else None
        if stored:
            # Replies are sent at least once: a restart may repeat an earlier one, so look for
            # this reply's messages, in order, among what arrived since the user sent it.
            found, at = [], 0
            for message in arrived:
                if at < len(stored) and message.get("text") == stored[at]:
                    found.append(message)
                    at += 1
            if at == len(stored):
                return found
        else:
            seen = -1  # committed later than the messages we saw: ask the store again
            await asyncio.sleep(0.02)
    what = 'applied but its reply never arrived' if stored else 'lost'
    raise AssertionError(f"update {update_id} in chat {chat}: {what}")


async def _village_head(service: ChatApp, api: FakeBotAPI, data: DataFiles, user: TgUser,
                        surveys: list[tuple[dict[str, Any], str]], log: list[str]) -> None:
    questions = questions_of(data.forms)
    ref = ChatRef("telegram", str(user.user_id), str(user.user_id))
    chat = user.user_id

    async def say(text: str) -> list[dict[str, Any]]:
        before = len(api.sent_to(chat))
        update_id = await api.push(user.text_update(text))
        return await _reply_to(service, api, chat, update_id, before)

    for profile, _outcome in surveys:
        seen = await say("/hoimoi phieu_b")
        for _ in range(200):
            key = await cursor(service, ref)
            if key is None:
                break
            label = questions[key.split(".")[-1]].label.split("{")[0].strip()[:25]
            # The question the store will apply the answer to is the one the user last saw.
            assert label in seen[-1].get("text", ""), (key, seen[-1].get("text"))
            seen = await say(answer_for(profile, key))
        result = await say("/xacnhan")
        if "Chưa nộp được vì số CCCD trùng" in result[0]["text"]:  # the profiles share ID numbers
            result = await say("/xacnhan hồ sơ mẫu dùng lại trong thử nghiệm")
        log.append(result[0]["text"])


async def test_random_kills_during_50_surveys_lose_no_acknowledged_answer_and_count_nothing_twice(
    api: FakeBotAPI, db_url: str, data: DataFiles, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_BASE": api.base,
           "RASOAT_DATA_DIR": str(tmp_path), "DATABASE_URL": db_url, "UNITS_CONFIGURATION": "65",
           "REVIEW_YEAR": "2026", "TELEGRAM_MAX_RATE": "0",
           "RASOAT_REDELIVER_AFTER": "1.5"}
    settings = Settings.from_env(env)
    db = Database(settings.database_url)
    service = await build_app(settings, db)
    async with service.db.transaction() as s:
        commune = await s.scalar(select(Unit).where(Unit.configuration == "65", Unit.code == "6202"))
        users = []
        for i in range(HEADS):
            village = await add_village(s, commune, f"Thôn {i + 1}")
            await ensure_user(s, "telegram", str(5000 + i), f"Trưởng thôn {i + 1}", "village_head", village.id)
            users.append(TgUser(api, 5000 + i, f"Trưởng thôn {i + 1}"))
    rng = random.Random(20261122)
    plans = [[PROFILES[rng.randrange(3)] for _ in range(SURVEYS_EACH)] for _ in range(HEADS)]
    bot = Bot(env)
    await bot.start()
    results: list[str] = []
    heads = asyncio.gather(*(_village_head(service, api, data, u, p, results) for u, p in zip(users, plans,
                                                                                                 strict=True)))

    async def chaos() -> None:
        while not heads.done():
            await asyncio.sleep(rng.uniform(2.0, 5.0))  # at 4-10 s faster answers could finish after 4 kills
            if heads.done():
                return
            await bot.kill()
            await bot.start()

    killer = asyncio.create_task(chaos())
    try:
        await heads
    finally:  # a failed survey stops the kills too, so that no bot outlives the test
        killer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await killer
        await bot.stop()
    assert bot.kills >= 5, bot.kills

    expected = Counter(outcome for p in plans for _, outcome in p)
    async with service.db.read() as s:
        households = (await s.scalars(select(Household))).all()
        answers = await s.scalar(select(func.count()).select_from(Answer))
        answer_audits = await s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "answer"))
        creates = await s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "create"))
        submits = await s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "submit"))
    await db.dispose()
    assert len(households) == HEADS * SURVEYS_EACH == creates == submits  # no household twice
    assert Counter(h.outcome for h in households) == expected
    assert all(h.status == "submitted" for h in households)
    assert answers == answer_audits  # every answer given once: no re-delivered update wrote again
    assert len(results) == HEADS * SURVEYS_EACH and all("Kết quả phân loại" in r for r in results)


async def test_duplicate_and_out_of_order_delivery_counts_nothing_twice(service: ChatApp) -> None:
    """The same updates delivered twice, the second copies shuffled: state as after one pass."""
    from core.chat.messages import Incoming
    from tests.households import make_village_head

    chat = await make_village_head(service)
    steps = ["/hoimoi phieu_b", "Hoàng Văn Minh", "020180001234", "1", "/boqua"]
    for i, text in enumerate(steps):
        await service.handle(chat, Incoming(text=text, update_id=f"u{i}"))
    async with service.db.read() as s:
        before = (await s.scalar(select(func.count()).select_from(Answer)),
                  await s.scalar(select(func.count()).select_from(AuditLog)),
                  await s.scalar(select(func.count()).select_from(Household)))
    position = await cursor(service, chat)
    again = [(f"u{i}", text) for i, text in enumerate(steps)]
    random.Random(7).shuffle(again)
    for update_id, text in again:
        reply = await service.handle(chat, Incoming(text=text, update_id=update_id))
        assert reply.duplicate
    async with service.db.read() as s:
        after = (await s.scalar(select(func.count()).select_from(Answer)),
                 await s.scalar(select(func.count()).select_from(AuditLog)),
                 await s.scalar(select(func.count()).select_from(Household)))
    assert after == before and await cursor(service, chat) == position
