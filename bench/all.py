"""The whole benchmark in one run, figures side by side:

1. chat throughput: survey answers per second through the Telegram channel (the real
   python-telegram-bot library against the local fake Bot API), stored on SQLite and on
   PostgreSQL, next to a bare echo bot of the same library on the same fake server;
2. broadcast pacing: 500 group notices through the scheduler's outbox against a fake that
   enforces Telegram's limits (30 messages/s, 20 per minute per group);
3. report generation for a province of 200,000 households (bench/reports.py).

    .venv/bin/python -m bench.all                     # everything (about 4 minutes on 2 cores)
    .venv/bin/python -m bench.all --households 20000  # a smaller province for the reports
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from bench.reports import _drop, _pg_db
from bench.reports import run as run_reports
from bot.app import build_app
from bot.channels.telegram import TelegramChannel
from core.config import Settings
from core.storage.db import Database
from core.storage.models import GroupBinding, Unit
from scheduler.clock import FixedClock
from scheduler.runner import Scheduler
from tests.fake_telegram import FakeBotAPI, FloodControl, TgUser
from tests.households import POOR, answer_for, cursor, make_village_head

USERS = 20
ANSWERS = 20


async def _converse(api: FakeBotAPI, users: list[TgUser], scripts: list[list[tuple[str, int]]]) -> float:
    """Each user sends its lines one by one, waiting for the expected number of replies."""
    async def one(user: TgUser, script: list[tuple[str, int]]) -> None:
        for text, replies in script:
            before = api.per_chat.get(user.user_id, 0)
            await api.push(user.text_update(text))
            while api.per_chat.get(user.user_id, 0) - before < replies:
                await asyncio.sleep(0.002)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(u, s) for u, s in zip(users, scripts, strict=True)))
    return time.perf_counter() - t0


async def echo_rate() -> float:
    api = FakeBotAPI()
    await api.start()

    async def echo(update: Update, _c: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(update.effective_message.text or "")

    app = ApplicationBuilder().token(api.token).base_url(f"{api.base}/bot").concurrent_updates(True).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    await app.initialize()
    await app.start()
    await app.updater.start_polling(timeout=1)
    users = [TgUser(api, 9000 + i, f"u{i}") for i in range(USERS)]
    elapsed = await _converse(api, users, [[(f"câu {n}", 1) for n in range(ANSWERS)] for _ in users])
    await app.updater.stop()
    await app.stop()
    await app.shutdown()
    await api.stop()
    return USERS * ANSWERS / elapsed


async def survey_rate(url: str, tmp: Path) -> float:
    api = FakeBotAPI()
    await api.start()
    settings = Settings.from_env({"DATABASE_URL": url, "RASOAT_DATA_DIR": str(tmp), "REVIEW_YEAR": "2026",
                                  "TELEGRAM_MAX_RATE": "0"})
    db = Database(settings.database_url)
    service = await build_app(settings, db)
    # The answers of a Phiếu B in the order the form asks them (a dry run through the service).
    probe = await make_village_head(service, "probe", village="Thôn Dò")
    from core.conversation.messages import Incoming

    await service.handle(probe, Incoming(text="/hoimoi phieu_b"))
    answers = []
    for _ in range(ANSWERS):
        key = await cursor(service, probe)
        answers.append(answer_for(POOR, key))  # type: ignore[arg-type]
        await service.handle(probe, Incoming(text=answers[-1]))
    users = []
    for i in range(USERS):
        ref = await make_village_head(service, str(9000 + i), village=f"Thôn {i}")
        users.append(TgUser(api, 9000 + i, ref.user_external_id))
    async with service.db.transaction() as s:  # the heads' platform ids are their Telegram ids
        from core.storage.models import User

        for user in (await s.scalars(select(User).where(User.channel == "test"))).all():
            user.channel = "telegram"
    channel = TelegramChannel(service, api.token, api.base, poll_timeout=1)
    await channel.start()
    await _converse(api, users, [[("/hoimoi phieu_b", 2)] for _ in users])
    elapsed = await _converse(api, users, [[(a, 1) for a in answers] for _ in users])
    await channel.stop()
    await db.dispose()
    await api.stop()
    return USERS * ANSWERS / elapsed


async def broadcast(tmp: Path, groups: int = 500) -> dict[str, float]:
    api = FakeBotAPI()
    await api.start()
    api.flood = FloodControl(per_second=30, per_group_minute=20)
    settings = Settings.from_env({"RASOAT_DATA_DIR": str(tmp / "bc"), "UNITS_CONFIGURATION": "200",
                                  "REVIEW_YEAR": "2023", "RASOAT_PLANS": "lang_son_2023"})
    db = Database(settings.database_url)
    service = await build_app(settings, db)
    async with db.transaction() as s:
        communes = (await s.scalars(select(Unit).where(Unit.configuration == "200", Unit.level == "commune"))).all()
        for i in range(groups):
            s.add(GroupBinding(channel="telegram", chat_id=str(-100_000 - i), unit_id=communes[i % len(communes)].id))
    channel = TelegramChannel(service, api.token, api.base)
    await channel.app.initialize()
    scheduler = Scheduler(db, service.plans, {"telegram": channel},
                          FixedClock(datetime(2023, 9, 1, 9, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))))
    t0 = time.perf_counter()
    await scheduler.start()
    while await scheduler.outbox.pending():
        await asyncio.sleep(0.5)
        await scheduler.drain()
    elapsed = time.perf_counter() - t0
    await scheduler.stop()
    await channel.app.shutdown()
    await db.dispose()
    stamps = sorted(c.at for c in api.calls if c.method == "sendMessage")
    accepted = len(api.sent)
    window = max(sum(1 for s in stamps[i:] if s - t < 1.0) for i, t in enumerate(stamps))
    await api.stop()
    return {"groups": groups, "delivered": accepted, "seconds": elapsed, "rate": accepted / elapsed,
            "max_per_1s": window, "refused_429": api.flood.refused}


async def main_async(households: int, skip_reports: bool) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="rasoat-bench-"))
    print(f"rasoat benchmark, {datetime.now():%Y-%m-%d %H:%M}, {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    print(f"\n1. chat throughput: {USERS} users at once, {ANSWERS} messages each, fake Bot API on 127.0.0.1")
    echo = await echo_rate()
    sqlite = await survey_rate(f"sqlite+aiosqlite:///{tmp / 'chat.db'}", tmp)
    pg_url, pg_name = await _pg_db()
    try:
        pg = await survey_rate(pg_url, tmp)
    finally:
        await _drop(pg_name)
    print(f"   {'bare echo bot (python-telegram-bot)':<44}{echo:>8.1f} messages/s")
    print(f"   {'rasoat survey answers, SQLite':<44}{sqlite:>8.1f} answers/s  ({sqlite / echo:.0%} of echo)")
    print(f"   {'rasoat survey answers, PostgreSQL':<44}{pg:>8.1f} answers/s  ({pg / echo:.0%} of echo)")
    print("\n2. broadcast pacing: one plan notice to 500 groups, fake enforcing 30/s and 20/min/group")
    b = await broadcast(tmp)
    print(f"   delivered {b['delivered']}/{b['groups']} in {b['seconds']:.1f} s = {b['rate']:.1f} messages/s; "
          f"most sends in any 1 s: {b['max_per_1s']}; 429 refusals retried: {b['refused_429']}")
    if not skip_reports:
        print(f"\n3. reports for {households:,} households (SQLite; tables and two lists)")
        await run_reports(households, "200", False, ["7.1", "7.2", "7.3", "7.4", "7.5", "7.6", "7.7", "ds_ngheo",
                                                     "ds_mstb"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=200_000)
    parser.add_argument("--skip-reports", action="store_true")
    args = parser.parse_args()
    asyncio.run(main_async(args.households, args.skip_reports))


if __name__ == "__main__":
    main()

