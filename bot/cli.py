"""The `rasoat` command."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import sys
from pathlib import Path

from core.config import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rasoat", description="Rà soát hộ nghèo, hộ cận nghèo")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("run", help="run the bot: Telegram if TELEGRAM_BOT_TOKEN is set, else the console chat")
    chat = sub.add_parser("chat", help="take surveys in this terminal as a village head")
    chat.add_argument("--user", help="console user id (default: your login name)")
    chat.add_argument("--name", help="your full name (first run only)")
    chat.add_argument("--commune", help="commune code, e.g. 6202 (first run only)")
    chat.add_argument("--village", help="village name (first run only)")
    db = sub.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"])
    units = sub.add_parser("units", help="administrative units")
    units.add_argument("action", choices=["load", "villages"])
    units.add_argument("file", nargs="?", help="villages CSV (commune_code,village_name[,kind])")
    units.add_argument("--config", help="units configuration: 200, 194 or 65 (default UNITS_CONFIGURATION)")
    sub.add_parser("check", help="validate forms, rule packs and messages, and print a summary")
    sched = sub.add_parser("scheduler", help="run only the plan scheduler (notices, reminders, outbox)")
    sched.add_argument("--now", help="act as if it were this time (ISO, e.g. 2023-11-20T08:00+07:00): drills, tests")
    sched.add_argument("--once", action="store_true", help="fire what is due, deliver, and exit (for cron)")
    plan = sub.add_parser("plan", help="review plans: list them, or show one's notices and submissions")
    plan.add_argument("plan_id", nargs="?", help="plan id; omit to list plans")
    report = sub.add_parser("report", help="write a report table or household list to Excel (and a chart)")
    report.add_argument("report_id", nargs="?", help="e.g. 7.1 or ds_ngheo; omit to list them")
    report.add_argument("--unit", help="GSO code of the commune/district/province (default: the province)")
    report.add_argument("--config", help="units configuration (default UNITS_CONFIGURATION)")
    report.add_argument("--year", type=int, help="review year (default REVIEW_YEAR)")
    report.add_argument("--out", default=None, help="output folder (default: RASOAT_DATA_DIR/reports)")
    report.add_argument("--progress", action="store_true", help="print survey progress instead")
    _add_security_commands(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    if (refused := _protect_data_dir(settings)) is not None:
        return refused
    try:
        return asyncio.run(_dispatch(args, settings))
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return _read_only(exc.filename or settings.data_dir, exc)
        raise


def _add_security_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    backup = sub.add_parser("backup", help="copy the SQLite database to FILE while the bot runs (0600)")
    backup.add_argument("file")
    restore = sub.add_parser("restore", help="replace the SQLite database by a backup FILE (stop the bot first)")
    restore.add_argument("file")
    sub.add_parser("rekey", help="seal ID numbers and phones anew with a new data key (key rotation)")


def _protect_data_dir(settings: Settings) -> int | None:
    """Owner-only files from here on (umask) and on what is already there; a data folder we
    cannot write is said in one line, not a traceback."""
    import os

    from core.private import private_dir, restrict_process, tighten_tree

    restrict_process()
    try:
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        probe = settings.data_dir / f".write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
        private_dir(settings.data_dir)
    except OSError as exc:
        return _read_only(settings.data_dir, exc)
    tighten_tree(settings.data_dir)
    return None


def _read_only(path: object, exc: OSError) -> int:
    from core.i18n import t

    print(t("sec_data_dir_readonly", path=path, reason=exc.strerror or exc), file=sys.stderr)
    return 4


def _backup_restore(args: argparse.Namespace, settings: Settings) -> int:
    from core.i18n import t
    from core.storage.backup import POSTGRES_ADVICE, BackupError, backup, restore, sqlite_path
    from core.storage.sealed import KEY_FILE

    try:
        database = sqlite_path(settings.database_url)
        if database is None:
            print(POSTGRES_ADVICE, file=sys.stderr)
            return 2
        if args.cmd == "backup":
            path = backup(database, Path(args.file))
            key = "RASOAT_DATA_KEY" if settings.data_key else settings.data_dir / KEY_FILE
            print(t("sec_backup_done", path=path, key_file=key))
        else:
            restore(Path(args.file), database)
            print(t("sec_restore_done", path=args.file))
    except BackupError as exc:
        print(t("sec_backup_failed", reason=exc), file=sys.stderr)
        return 2
    return 0


async def _rekey(service, settings: Settings) -> int:  # type: ignore[no-untyped-def]
    from core.i18n import t
    from core.storage.sealed import rotate, sealed_fields

    count, retired = await rotate(service.db, settings.data_dir, settings.data_key,
                                  sealed_fields(service.forms.values()))
    print(t("sec_rekey_done", count=count))
    print(t("sec_rekey_retired", path=retired) if retired else t("sec_rekey_env"))
    return 0


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from core.app import build_service, load_data_files
    from core.datafile import DataFileError

    if args.cmd == "check":
        try:
            data = load_data_files()
        except DataFileError as exc:
            print(f"LỖI: {exc}", file=sys.stderr)
            return 1
        for f in data.forms.values():
            print(f"form {f.key}: {f.title} ({f.path})")
        for p in data.packs:
            print(f"rule pack {p.id}: years {p.year_from}-{p.year_to}, {len(p.indicators)} indicators ({p.path})")
        for plan in data.plans:
            print(f"plan {plan.id} v{plan.version}: year {plan.year}, {len(plan.phases)} phases, "
                  f"{len(plan.reports)} report requests [{plan.reliability}] ({plan.path})")
        return 0
    if args.cmd in ("backup", "restore"):
        return _backup_restore(args, settings)
    if args.cmd == "run" and settings.telegram_webhook_url and not settings.telegram_webhook_secret:
        print("TELEGRAM_WEBHOOK_SECRET is required with TELEGRAM_WEBHOOK_URL", file=sys.stderr)
        return 2
    service = await build_service(settings)
    try:
        if args.cmd == "run" and (settings.telegram_token or settings.zalo_token):
            return await _run_bots(service, settings)
        if args.cmd in ("run", "chat"):
            from bot.console import Console

            console = Console(service, sys.stdin, sys.stdout, getattr(args, "user", None))
            print(_intro(settings))
            if not await console.setup(getattr(args, "name", None), getattr(args, "commune", None),
                                       getattr(args, "village", None)):
                return 1
            await console.loop()
            return 0
        if args.cmd == "db":
            print(f"database at newest schema: {settings.database_url}")
            return 0
        if args.cmd == "units":
            return await _units(service, args, settings)
        if args.cmd == "report":
            return await _report(service, args, settings)
        if args.cmd == "scheduler":
            return await _run_scheduler(service, settings, args.now, args.once)
        if args.cmd == "plan":
            return await _plan(service, args.plan_id)
        if args.cmd == "rekey":
            return await _rekey(service, settings)
    finally:
        await service.db.dispose()
    return 0


def _stop_event() -> asyncio.Event:
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _run_bots(service, settings: Settings) -> int:  # type: ignore[no-untyped-def]
    """Telegram and/or Zalo and, unless another worker holds the lock, the plan scheduler, in
    one process."""
    from scheduler.runner import Scheduler

    channels = _channels(service, settings)
    stop = _stop_event()
    started = []
    web = None
    try:
        for name, channel in channels.items():
            await channel.start()
            started.append(channel)
            print(f"{name} channel running ({_mode(name, settings)})", flush=True)
        web = await _web_server(settings, channels)
        scheduler = Scheduler(service.db, service.plans, channels)
        scheduling = await scheduler.start()
        print(f"scheduler {'running' if scheduling else 'held by another process'} with plans: "
              f"{', '.join(p.id for p in service.plans) or '-'}; Ctrl+C to stop", flush=True)
        try:
            await stop.wait()
        finally:
            await scheduler.stop()
    finally:
        if web is not None:
            await web.stop()
        for channel in reversed(started):
            await channel.stop()
    return 0


def _mode(name: str, settings: Settings) -> str:
    webhook = settings.telegram_webhook_url if name == "telegram" else settings.zalo_webhook_url
    return "webhook" if webhook else "long polling"


def _channels(service, settings: Settings) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """The chat channels whose tokens are set, by name (also the scheduler's senders)."""
    channels = {}
    if settings.telegram_token:
        from bot.telegram import TelegramChannel, WebhookConfig

        webhook = None
        if settings.telegram_webhook_url:
            webhook = WebhookConfig(settings.telegram_webhook_url, settings.telegram_webhook_secret or "",
                                    settings.telegram_webhook_listen, settings.telegram_webhook_port)
        channels["telegram"] = TelegramChannel(service, settings.telegram_token, settings.telegram_api_base,
                                               webhook)
    if settings.zalo_token:
        from bot.files import FileLinks
        from bot.zalo import ZaloChannel, ZaloWebhook
        from bot.zalo_client import ZaloClient

        links = FileLinks(settings.data_dir, settings.public_url, settings.link_hours) if settings.public_url else None
        zalo_webhook = ZaloWebhook(settings.zalo_webhook_url, settings.zalo_webhook_secret or "") \
            if settings.zalo_webhook_url else None
        channels["zalo"] = ZaloChannel(service, ZaloClient(settings.zalo_token, settings.zalo_api_base), links,
                                       zalo_webhook, settings.zalo_max_rate)
    return channels


async def _web_server(settings: Settings, channels: dict):  # type: ignore[no-untyped-def,type-arg]
    """Zalo's webhook and file links need an HTTP server; Telegram brings its own."""
    zalo = channels.get("zalo")
    if zalo is None or (zalo.links is None and zalo.webhook is None):
        return None
    from bot.web import WebServer

    web = WebServer(settings.http_listen, settings.http_port, zalo.links, zalo.routes())
    await web.start()
    return web


async def _run_scheduler(service, settings: Settings, now: str | None, once: bool) -> int:  # type: ignore[no-untyped-def]
    from datetime import datetime

    from scheduler.clock import FixedClock, SystemClock
    from scheduler.runner import Scheduler

    senders = _channels(service, settings)
    channel = senders.get("telegram")
    if channel is not None:
        await channel.app.initialize()
    clock = FixedClock(datetime.fromisoformat(now)) if now else SystemClock()
    scheduler = Scheduler(service.db, service.plans, senders, clock)
    stop = _stop_event()
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
        if channel is not None:
            await channel.app.shutdown()
        if "zalo" in senders:
            await senders["zalo"].client.close()
    return 0


async def _plan(service, plan_id: str | None) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from core.app import load_data_files
    from core.plans.timeline import notices
    from core.storage.models import NoticeRun, OutboxMessage, ReportSubmission

    plans = {p.id: p for p in load_data_files().plans}
    if plan_id is None:
        active = {p.id for p in service.plans}
        for plan in plans.values():
            print(f"{plan.id:>16}  {plan.year}  {'ACTIVE' if plan.id in active else '      '}  {plan.title}")
        return 0
    if plan_id not in plans:
        print(f"unknown plan {plan_id!r}; known: {', '.join(plans)}", file=sys.stderr)
        return 2
    plan = plans[plan_id]
    async with service.db.read() as s:
        runs = {r.key: r for r in (await s.scalars(select(NoticeRun).where(NoticeRun.plan_id == plan.id))).all()}
        sent = dict((await s.execute(select(OutboxMessage.notice_key, func.count()).where(
            OutboxMessage.status == "sent").group_by(OutboxMessage.notice_key))).all())
        for notice in notices(plan):
            run = runs.get(notice.key)
            state = f"{run.status} ({sent.get(notice.key, 0)}/{run.recipients} sent)" if run else "waiting"
            print(f"{notice.fire_at:%Y-%m-%d %H:%M}  {notice.kind:<16} {notice.key.split('/', 2)[2]:<40} {state}")
        for request in plan.reports:
            count = await s.scalar(select(func.count()).select_from(ReportSubmission).where(
                ReportSubmission.request_key == plan.request_key(request)))
            print(f"report {plan.request_key(request)}: due {request.due}, {count} submissions")
    return 0


def _intro(settings: Settings) -> str:
    from core.i18n import t

    return t("console_intro", db=settings.database_url)


async def _report(service, args: argparse.Namespace, settings: Settings) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from core.reports.build import build_report, progress
    from core.storage.models import Unit

    if not args.report_id and not args.progress:
        for rid, title in service.reports.names():
            print(f"{rid:>20}  {title}")
        return 0
    config = args.config or settings.units_configuration
    year = args.year or settings.review_year
    async with service.db.read() as s:
        query = select(Unit).where(Unit.configuration == config)
        query = query.where(Unit.code == args.unit) if args.unit else query.where(Unit.level == "province")
        units = (await s.scalars(query)).all()
        if len(units) != 1:
            print(f"no single unit with code {args.unit!r} in configuration {config}", file=sys.stderr)
            return 2
        if args.progress:
            for row in await progress(s, units[0], year):
                print(f"{row.name}: submitted {row.submitted}, drafts {row.drafts}, remaining {row.remaining}")
            return 0
        if args.report_id not in dict(service.reports.names()):
            print(f"unknown report {args.report_id!r}; run 'rasoat report' to list them", file=sys.stderr)
            return 2
        out = Path(args.out) if args.out else settings.data_dir / "reports"
        for path in await build_report(s, service.reports, args.report_id, units[0], year, out,
                                       service.forms["phieu_b"]):
            print(path)
    return 0


async def _units(service, args: argparse.Namespace, settings: Settings) -> int:  # type: ignore[no-untyped-def]
    from core.units.loader import import_villages, load_units

    config = args.config or settings.units_configuration
    async with service.db.transaction() as s:
        if args.action == "load":
            added = await load_units(s, config)
        else:
            if not args.file:
                print("usage: rasoat units villages FILE.csv", file=sys.stderr)
                return 2
            added = await import_villages(s, config, Path(args.file))
    print(f"{added} units added (configuration {config})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
