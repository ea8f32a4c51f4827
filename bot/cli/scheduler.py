"""`rasoat scheduler`: only the plan scheduler (notices, reminders, outbox), for a process of
its own or cron (--once), or a dry run that says what would go to whom (--dry-run)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from sqlalchemy import select

from bot.app import ChatApp
from bot.cli.channels import channels, stop_event
from bot.cli.command import Command
from core.config import Settings
from core.storage.models import OutboxMessage
from scheduler.clock import FixedClock, SystemClock
from scheduler.dispatch import Dispatcher
from scheduler.runner import Scheduler


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--now", help="act as if it were this time (ISO, e.g. 2023-11-20T08:00+07:00): drills, tests")
    parser.add_argument("--once", action="store_true", help="fire what is due, deliver, and exit (for cron)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print what would be sent now, and to whom, writing nothing (drills on a real database)")


async def online(args: argparse.Namespace, settings: Settings, service: ChatApp) -> int:
    if args.dry_run:
        return await dry_run(service, args.now)
    return await run_scheduler(service, settings, args.now, args.once)


async def run_scheduler(service: ChatApp, settings: Settings, now: str | None, once: bool) -> int:
    found = channels(service, settings)
    telegram = found.telegram
    if telegram is not None:
        await telegram.app.initialize()
    clock = FixedClock(datetime.fromisoformat(now)) if now else SystemClock()
    scheduler = Scheduler(service.db, service.plans, found.senders(), clock)
    stop = stop_event()
    try:
        if not await scheduler.start():
            print("another process holds the scheduler lock", file=sys.stderr)
            return 3
        print(f"scheduler running with plans: {', '.join(p.id for p in service.plans) or '-'} "
              f"(clock {clock.now().isoformat()})", flush=True)
        if not once:
            await stop.wait()
        pending = await scheduler.outbox.pending()
        print(f"outbox: {pending} messages pending", flush=True)
    finally:
        await scheduler.stop()
        if telegram is not None:
            await telegram.app.shutdown()
        if found.zalo is not None:
            await found.zalo.client.close()
    return 0


async def dry_run(service: ChatApp, now: str | None) -> int:
    """The notices due at `now` (default: the real clock) and the chats each would go to, plus
    the outbox rows waiting to be sent; no lock, no row written, nothing sent."""
    moment = datetime.fromisoformat(now) if now else datetime.now(UTC)
    dispatcher = Dispatcher(service.db, service.plans)
    print(f"DRY RUN (nothing is written or sent) at {moment.isoformat()}, plans: "
          f"{', '.join(p.id for p in service.plans) or '-'}", flush=True)
    previews = await dispatcher.preview(moment)
    for preview in previews:
        if preview.deliveries is None:
            print(f"{preview.notice.key}: too late for the catch-up window, would be recorded as missed")
            continue
        print(f"{preview.notice.key}: {len(preview.deliveries)} chat(s)")
        for d in preview.deliveries:
            first = d.message.text.splitlines()[0] if d.message.text else ""
            print(f"  -> {d.channel}:{d.chat_id}  {first}")
    async with service.db.read() as s:
        pending = (await s.scalars(select(OutboxMessage).where(OutboxMessage.status == "pending"))).all()
    for row in pending:
        print(f"already queued, would be sent: {row.notice_key} -> {row.channel}:{row.chat_id}")
    print(f"would fire {sum(p.deliveries is not None for p in previews)} notice(s); "
          f"{len(pending)} message(s) already queued")
    return 0


COMMAND = Command("scheduler", "run only the plan scheduler (notices, reminders, outbox)", arguments,
                  online=online)
