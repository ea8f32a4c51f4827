"""The plan scheduler end to end: a controllable clock plays Lạng Sơn's 2023 plan day by day
through the real Telegram library and the fake Bot API; the 'process' is killed in the middle
of a delivery and restarted; every notice must reach exactly the right chats exactly once."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.app import ChatApp, build_app
from bot.channels.telegram import TelegramChannel
from core.chat.messages import Attachment, Incoming
from core.config import Settings
from core.plans.model import Phase
from core.plans.timeline import notices
from core.retention import Retention
from core.storage.db import Database
from core.storage.models import GroupBinding, NoticeRun, OutboxMessage, ReportSubmission, Unit
from scheduler.clock import FixedClock, SystemClock
from scheduler.runner import Scheduler
from tests.fake_telegram import FakeBotAPI, FloodControl
from tests.scheduling import Province, expected_chats, make_province

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def plan_settings(settings: Settings) -> Settings:
    """The 2023 review on the 200-commune units, without send pacing (the plan is played in
    seconds of real time; pacing has its own test below)."""
    return dataclasses.replace(settings, units_configuration="200", review_year=2023, plans=("lang_son_2023",),
                               telegram_max_rate=0, telegram_group_rate=0)


@pytest.fixture
async def plan_service(plan_settings: Settings, db: Database) -> ChatApp:
    return await build_app(plan_settings, db)


class Process:
    """What one scheduler process holds: a Telegram bot connection and the scheduler."""

    def __init__(self, service: ChatApp, api: FakeBotAPI, clock: FixedClock) -> None:
        self.channel = TelegramChannel(service, api.token, api.base)
        self.scheduler = Scheduler(service.db, service.plans, {"telegram": self.channel}, clock)

    async def start(self) -> None:
        await self.channel.app.initialize()
        assert await self.scheduler.start()

    async def stop(self) -> None:
        await self.scheduler.stop()
        await self.channel.app.shutdown()


@pytest.fixture
async def clock() -> FixedClock:
    return FixedClock(datetime(2023, 8, 31, 9, 0, tzinfo=TZ))


async def _submit(service: ChatApp, p: Province, who: str, request_id: str, at: datetime,
                  document: Attachment | None = None) -> str:
    service.clock = lambda: at
    text = f"/nopbaocao lang_son_2023/{request_id}" if document is None else "/nopbaocao " + request_id
    reply = await service.handle(p.officers[who], Incoming(text=text, document=document))
    p.submitted[(request_id, p.ids[who])] = at
    return reply.messages[0].text


async def test_a_whole_plan_with_a_kill_mid_delivery_sends_every_notice_once_to_the_right_chats(
    plan_service: ChatApp, api: FakeBotAPI, clock: FixedClock, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    service = plan_service
    p = await make_province(service)
    plan = service.plans[0]
    upload = tmp_path / "bc_so_bo_huyen.xlsx"
    upload.write_bytes(b"PK fake workbook")
    submissions = {  # (who, request, when, file)
        date(2023, 11, 3): ("C1", "so_bo_xa", None),  # before the reminders: C1 is never reminded
        date(2023, 11, 12): ("D1", "so_bo_huyen", Attachment(upload.name, str(upload))),  # 2 days late, by file
        date(2023, 11, 20): ("C1", "chinh_thuc_xa", None),
    }
    process = Process(service, api, clock)
    await process.start()
    killed = False
    day = date(2023, 8, 31)
    while day <= date(2024, 1, 5):
        clock.move_to(datetime.combine(day, time(9, 0), tzinfo=TZ))
        if day == date(2023, 11, 15) and not killed:
            # Kill while C3's message is on the wire and never acknowledged by the platform.
            api.blackhole_chats.add(p.groups["C3"])
            mark = len(api.calls)
            tick = asyncio.create_task(process.scheduler.tick())
            await _until(lambda mark=mark: any(
                c.method == "sendMessage" and int(c.params["chat_id"]) == p.groups["C3"] for c in api.calls[mark:]))
            await asyncio.sleep(0.2)  # everyone else's messages of the day are delivered by now
            tick.cancel()
            await asyncio.gather(tick, return_exceptions=True)
            await process.stop()
            async with service.db.read() as s:
                stuck = await s.scalar(select(func.count()).select_from(OutboxMessage).where(
                    OutboxMessage.status == "pending", OutboxMessage.chat_id == str(p.groups["C3"])))
            assert stuck and stuck >= 1
            api.blackhole_chats.clear()
            process = Process(service, api, clock)  # the restarted process catches up at start
            await process.start()
            killed = True
        else:
            await process.scheduler.tick()
        if day in submissions:
            who, request_id, document = submissions[day]
            text = await _submit(service, p, who, request_id, datetime.combine(day, time(10, 0), tzinfo=TZ),
                                 document)
            assert "Đã" in text, text
        day += timedelta(days=1)
    await process.stop()
    assert killed

    expected: Counter[tuple[str, int]] = Counter()
    for notice in notices(plan):
        for chat in expected_chats(p, plan, notice):
            expected[(notice.key, chat)] += 1
    async with service.db.read() as s:
        rows = (await s.scalars(select(OutboxMessage))).all()
        runs = (await s.scalars(select(NoticeRun))).all()
    assert {r.status for r in runs} == {"fired"} and len(runs) == len(notices(plan))
    queued = Counter((r.notice_key, int(r.chat_id)) for r in rows)
    assert queued == expected, (set(queued) ^ set(expected))
    assert {r.status for r in rows} == {"sent"}
    # What the platform received, chat by chat, is exactly the queued messages: nothing twice.
    for chat in {c for _, c in expected}:
        received = sorted(m["text"] for m in api.sent_to(chat))
        assert received == sorted(r.message["text"] for r in rows if int(r.chat_id) == chat), chat
    # Spot checks on what the oracle means.
    c1_texts = [m["text"] for m in api.sent_to(p.groups["C1"])]
    assert not any("sơ bộ cấp xã" in t and ("Còn" in t or "Quá hạn" in t) for t in c1_texts)
    d1_texts = [m["text"] for m in api.sent_to(p.groups["D1"])]
    assert any(t.startswith("🔴 Báo cáo kết quả rà soát sơ bộ cấp xã") and "chưa nộp" in t for t in d1_texts)
    assert sum("sơ bộ cấp huyện" in t and "Quá hạn" in t for t in d1_texts) == 1  # 11/11 only; then D1 submitted
    drafts = [m["text"] for m in api.sent_to(p.head_chat)]
    assert len(drafts) == 5 and all("Lộc Văn Tư" in t and "Vi Thị Năm" in t for t in drafts)
    async with service.db.read() as s:
        by_file = await s.scalar(select(ReportSubmission).where(ReportSubmission.unit_id == p.ids["D1"]))
    assert by_file is not None and by_file.file_name == upload.name


async def _until(condition, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


async def test_a_notice_fires_once_however_often_the_timers_and_restarts_call_it(
    plan_service: ChatApp, api: FakeBotAPI, clock: FixedClock
) -> None:
    p = await make_province(plan_service)
    clock.move_to(datetime(2023, 11, 1, 9, 0, tzinfo=TZ))
    first = Process(plan_service, api, clock)
    await first.start()
    sent = len(api.sent)
    assert sent > 0
    for _ in range(3):
        assert await first.scheduler.tick() == 0
    key = next(n.key for n in notices(plan_service.plans[0]) if n.kind == "report_open")
    await first.scheduler.fire(key)  # a DateTrigger going off late does nothing either
    await first.stop()
    second = Process(plan_service, api, clock)
    await second.start()
    await second.stop()
    assert len(api.sent) == sent
    assert {m["chat"]["id"] for m in api.sent} <= set(p.groups.values())


async def test_notices_later_than_the_catch_up_window_are_recorded_as_missed_not_sent(
    plan_service: ChatApp, api: FakeBotAPI, clock: FixedClock
) -> None:
    await make_province(plan_service)
    clock.move_to(datetime(2023, 11, 7, 9, 0, tzinfo=TZ))  # down since before 1 September
    process = Process(plan_service, api, clock)
    await process.start()
    await process.stop()
    async with plan_service.db.read() as s:
        runs = {r.key.split("/", 2)[2]: r.status for r in (await s.scalars(select(NoticeRun))).all()}
    assert runs["chuan_bi/2023-09-01"] == "missed"
    assert runs["so_bo_xa/2023-11-06"] == "missed"  # due-day notice, 25 h late
    assert runs["so_bo_xa/2023-11-07"] == "fired"  # overdue today: sent
    assert all("Quá hạn 1 ngày" in m["text"] or "Còn 3 ngày" in m["text"] or "quá hạn 1 ngày" in m["text"]
               for m in api.sent)


async def test_a_removed_group_fails_for_good_and_does_not_block_the_others(
    plan_service: ChatApp, api: FakeBotAPI, clock: FixedClock
) -> None:
    p = await make_province(plan_service)
    api.forbidden_chats.add(p.groups["C2"])
    clock.move_to(datetime(2023, 9, 1, 9, 0, tzinfo=TZ))
    process = Process(plan_service, api, clock)
    await process.start()
    await process.stop()
    async with plan_service.db.read() as s:
        rows = {int(r.chat_id): r for r in (await s.scalars(select(OutboxMessage))).all()}
    assert rows[p.groups["C2"]].status == "failed" and "kicked" in (rows[p.groups["C2"]].error or "")
    assert all(r.status == "sent" for chat, r in rows.items() if chat != p.groups["C2"])
    assert {m["chat"]["id"] for m in api.sent} == set(p.groups.values()) - {p.groups["C2"]}


async def test_broadcast_to_500_groups_under_flood_control_loses_nothing(
    api: FakeBotAPI, clock: FixedClock, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """Pacing on (30 messages/s, 20 per minute per group) against a fake that enforces the
    same limits and also refuses every 37th send with 429 retry_after. Pacing does not depend
    on the store, so this runs once, on SQLite (17 s of sending at 30/s)."""
    settings = Settings.from_env({"RASOAT_DATA_DIR": str(tmp_path), "UNITS_CONFIGURATION": "200",
                                  "REVIEW_YEAR": "2023", "RASOAT_PLANS": "lang_son_2023"})
    db = Database(settings.database_url)
    service = await build_app(settings, db)
    async with service.db.transaction() as s:
        communes = (await s.scalars(select(Unit).where(Unit.configuration == "200", Unit.level == "commune")
                                    .order_by(Unit.id))).all()
        for i in range(500):
            s.add(GroupBinding(channel="telegram", chat_id=str(-100_000 - i), title=f"Nhóm {i}",
                               unit_id=communes[i % len(communes)].id))
    api.flood = FloodControl(per_second=30, per_group_minute=20, every_nth=37)
    clock.move_to(datetime(2023, 9, 1, 9, 0, tzinfo=TZ))  # 'chuan_bi' starts: communes are actors
    process = Process(service, api, clock)
    await process.start()
    for _ in range(20):
        if await process.scheduler.outbox.pending() == 0:
            break
        await asyncio.sleep(1)
        await process.scheduler.drain()
    await process.stop()
    per_chat = Counter(m["chat"]["id"] for m in api.sent)
    assert len(per_chat) == 500 and set(per_chat.values()) == {1}
    assert api.flood.refused >= 10  # 429s happened and were retried
    async with service.db.read() as s:
        statuses = Counter((await s.scalars(select(OutboxMessage.status))).all())
    await db.dispose()
    assert statuses == {"sent": 500}


async def test_apscheduler_timer_fires_a_notice_on_the_real_clock_with_the_chosen_settings(
    plan_service: ChatApp, api: FakeBotAPI
) -> None:
    p = await make_province(plan_service)
    now = datetime.now(UTC).replace(microsecond=0)
    soon = now + timedelta(seconds=2)
    plan = dataclasses.replace(plan_service.plans[0], timezone=ZoneInfo("UTC"), notice_time=soon.time(), reports=(),
                               phases=(Phase("thu", "Giai đoạn thử", soon.date(), soon.date(), ("commune",)),))
    channel = TelegramChannel(plan_service, api.token, api.base)
    await channel.app.initialize()
    scheduler = Scheduler(plan_service.db, [plan], {"telegram": channel}, SystemClock())
    assert await scheduler.start()
    try:
        job = scheduler.aps.get_job(f"{plan.id}/phase_start/thu/{soon.date().isoformat()}")
        assert job is not None and job.coalesce and job.max_instances == 1
        assert job.misfire_grace_time == int(plan.catch_up.total_seconds())
        assert scheduler.aps.get_job("outbox").coalesce
        await _until(lambda: len(api.sent) >= 3, timeout=15)
        await asyncio.sleep(0.3)
    finally:
        await scheduler.stop()
        await channel.app.shutdown()
    assert sorted(m["chat"]["id"] for m in api.sent) == sorted(p.groups[c] for c in ("C1", "C2", "C3"))


async def test_scheduler_process_killed_mid_send_resumes_without_duplicates_and_holds_a_single_lock(
    api: FakeBotAPI, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """`rasoat scheduler` as real processes: SIGKILL while a message is on the wire, a second
    process refused while the first holds the lock, a restart that sends only what was left."""
    import os
    import signal
    import sys
    from pathlib import Path

    env = {**os.environ, "RASOAT_DATA_DIR": str(tmp_path), "UNITS_CONFIGURATION": "200", "REVIEW_YEAR": "2023",
           "RASOAT_PLANS": "lang_son_2023", "TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_BASE": api.base,
           "TELEGRAM_MAX_RATE": "0"}
    env.pop("DATABASE_URL", None)
    settings = Settings.from_env(env)
    db = Database(settings.database_url)
    p = await make_province(await build_app(settings, db))
    await db.dispose()

    async def scheduler(now: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "scheduler", "--now", now, cwd=Path(__file__).parents[1], env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)

    api.blackhole_chats.add(p.groups["C3"])
    first = await scheduler("2023-09-01T09:00+07:00")  # 'chuan_bi' starts: P, D1, D2, C1, C2, C3
    others = {p.groups[n] for n in ("P", "D1", "D2", "C1", "C2")}
    await _until(lambda: {m["chat"]["id"] for m in api.sent} == others
                 and any(int(c.params.get("chat_id", 0)) == p.groups["C3"] for c in api.calls), timeout=60)
    second = await scheduler("2023-09-01T09:00+07:00")
    out, _ = await asyncio.wait_for(second.communicate(), 60)
    assert second.returncode == 3, out.decode()
    first.send_signal(signal.SIGKILL)
    await first.wait()
    api.blackhole_chats.clear()
    again = await scheduler("2023-09-01T09:30+07:00")
    await _until(lambda: p.groups["C3"] in {m["chat"]["id"] for m in api.sent}, timeout=60)
    await asyncio.sleep(0.5)
    again.terminate()
    out, _ = await asyncio.wait_for(again.communicate(), 30)
    assert again.returncode == 0, out.decode()
    assert Counter(m["chat"]["id"] for m in api.sent) == Counter({chat: 1 for chat in p.groups.values()})


async def test_only_one_scheduler_lock_per_database(db: Database) -> None:
    from scheduler.lock import SchedulerLock

    other = Database(db.url)
    try:
        first, second = SchedulerLock(db), SchedulerLock(other)
        assert await first.acquire()
        assert not await second.acquire()
        await first.release()
        assert await second.acquire()
        assert not await first.acquire()
        await second.release()
    finally:
        await other.dispose()


async def test_prune_forgets_processed_updates_older_than_two_weeks(plan_service: ChatApp) -> None:
    from core.storage.models import ProcessedUpdate

    async with plan_service.db.transaction() as s:
        s.add(ProcessedUpdate(channel="telegram", update_id="old", chat_id="1",
                              at=datetime.now(UTC) - timedelta(days=15)))
        s.add(ProcessedUpdate(channel="telegram", update_id="new", chat_id="1", at=datetime.now(UTC)))
    scheduler = Scheduler(plan_service.db, plan_service.plans, {}, retention=Retention.of(plan_service.settings))
    assert (await scheduler.prune()).updates == 1
    async with plan_service.db.read() as s:
        assert [r.update_id for r in (await s.scalars(select(ProcessedUpdate))).all()] == ["new"]
