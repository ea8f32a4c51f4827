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
    run = sub.add_parser("run", help="run the bot: Telegram if TELEGRAM_BOT_TOKEN is set, else the console chat")
    run.add_argument("--workers", type=int, default=1,
                     help="worker processes sharing the webhook port (webhook mode; PostgreSQL for more than one)")
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
    sched.add_argument("--dry-run", action="store_true",
                       help="print what would be sent now, and to whom, writing nothing (drills on a real database)")
    plan = sub.add_parser("plan", help="review plans: list them, or show one's notices and submissions")
    plan.add_argument("plan_id", nargs="?", help="plan id; omit to list plans")
    report = sub.add_parser("report", help="write a report table or household list to Excel (and a chart)")
    report.add_argument("report_id", nargs="?", help="e.g. 7.1 or ds_ngheo; omit to list them")
    report.add_argument("--unit", help="GSO code of the commune/district/province (default: the province)")
    report.add_argument("--config", help="units configuration (default UNITS_CONFIGURATION)")
    report.add_argument("--year", type=int, help="review year (default REVIEW_YEAR)")
    report.add_argument("--out", default=None, help="output folder (default: RASOAT_DATA_DIR/reports)")
    report.add_argument("--progress", action="store_true", help="print survey progress instead")
    report.add_argument("--stage", choices=["auto", "preliminary", "official"], default="auto",
                        help="tables: preliminary (every submitted survey) or official (recognised by decision); "
                             "auto = official once the unit has a decision")
    report.add_argument("--as-of", dest="as_of", help="tables: count only what was submitted / recognised by "
                                                     "this day (YYYY-MM-DD)")
    _add_security_commands(sub)
    imp = sub.add_parser("import", help="import last year's list of poor and near-poor households")
    imp.add_argument("what", choices=["danh-sach"])
    imp.add_argument("file", help="the workbook (.xlsx): a ds_ngheo / ds_can_ngheo export, or use --mapping")
    imp.add_argument("--commune", required=True, help="GSO code of the commune, e.g. 6202")
    imp.add_argument("--mapping", help="YAML mapping of fields to the file's column headers")
    imp.add_argument("--config", help="units configuration (default UNITS_CONFIGURATION)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    if (refused := _protect_data_dir(settings)) is not None:
        return refused
    if args.cmd == "run" and args.workers > 1:
        return _workers(args.workers, settings)
    try:
        code = asyncio.run(_dispatch(args, settings))
        sys.stdout.flush()  # inside the try: a closed pipe shows here, not as "Exception ignored" at exit
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _pipe_closed()
    except OSError as exc:
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return _read_only(exc.filename or settings.data_dir, exc)
        raise


def _workers(n: int, settings: Settings) -> int:
    """N copies of `rasoat run` on one webhook port (SO_REUSEPORT: the kernel spreads the
    connections). They share nothing but the database: the inbox keeps each chat's order
    (core/inbox.py), the journal makes a re-sent update a no-op, the scheduler runs in the one
    holding its lock. A worker that dies is started again; SIGTERM/SIGINT stop them all."""
    import signal
    import subprocess
    import time

    if not (settings.telegram_webhook_url or settings.zalo_webhook_url):
        print("--workers needs webhook mode (TELEGRAM_WEBHOOK_URL): only one process may long-poll", file=sys.stderr)
        return 2
    command = [sys.executable, "-m", "bot.cli", "run"]
    procs = [subprocess.Popen(command) for _ in range(n)]
    stopping = False

    def stop(_sig: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for p in procs:
            p.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        for i, p in enumerate(procs):
            if p.poll() is not None and not stopping:
                print(f"worker {p.pid} exited with {p.returncode}; starting another", file=sys.stderr, flush=True)
                procs[i] = subprocess.Popen(command)
        time.sleep(0.5)
    return max((p.wait() for p in procs), default=0)


def _pipe_closed() -> int:
    """The reader of our output went away (`rasoat report | head -1`): that is the reader's choice,
    not an error to show. Python ignores SIGPIPE, so a write raises instead; point stdout at
    /dev/null so the interpreter's last flush does not raise again, and exit as a process killed
    by SIGPIPE would (128 + 13)."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141


def _add_security_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    backup = sub.add_parser("backup", help="copy the SQLite database to FILE while the bot runs (0600)")
    backup.add_argument("file")
    restore = sub.add_parser("restore", help="replace the SQLite database by a backup FILE (stop the bot first)")
    restore.add_argument("file")
    sub.add_parser("rekey", help="seal ID numbers and phones anew with a new data key (key rotation)")
    users = sub.add_parser("users", help="list users; disable or enable one; revoke an unused invite code")
    users.add_argument("action", choices=["list", "disable", "enable", "revoke"])
    users.add_argument("target", nargs="?", help="user id (disable, enable) or invite code (revoke)")
    audit = sub.add_parser("audit", help="the access log: who viewed or exported personal data, account changes")
    audit.add_argument("--unit", help="GSO code of a unit: only entries inside it")
    audit.add_argument("--limit", type=int, default=50)


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
    from bot.app import build_app

    if args.cmd == "check":
        return _check()
    if args.cmd in ("backup", "restore"):
        return _backup_restore(args, settings)
    if args.cmd == "run":
        for url, secret, name in ((settings.telegram_webhook_url, settings.telegram_webhook_secret, "TELEGRAM"),
                                  (settings.zalo_webhook_url, settings.zalo_webhook_secret, "ZALO")):
            if url and not secret:
                print(f"{name}_WEBHOOK_SECRET is required with {name}_WEBHOOK_URL", file=sys.stderr)
                return 2
    service = await build_app(settings)
    try:
        if args.cmd == "run" and (settings.telegram_token or settings.zalo_token):
            return await _run_bots(service, settings)
        if args.cmd in ("run", "chat"):
            from bot.channels.console import Console

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
            if args.dry_run:
                return await _scheduler_dry_run(service, args.now)
            return await _run_scheduler(service, settings, args.now, args.once)
        if args.cmd == "plan":
            return await _plan(service, settings, args.plan_id)
        if args.cmd == "rekey":
            return await _rekey(service, settings)
        if args.cmd == "users":
            return await _users(service, args)
        if args.cmd == "audit":
            return await _audit(service, args, settings)
        if args.cmd == "import":
            from core.procedure.cli import import_command

            return await import_command(service, args, settings)
    finally:
        await service.db.dispose()
    return 0


def _check() -> int:
    """Validate every data file, then list each with its source and what it still assumes,
    so an official sees at a glance which tables are placeholders to correct."""
    from core.app import load_data_files
    from core.classification.screening import load_phieu_a
    from core.datafile import DataFileError
    from core.provenance import describe, provenance_of

    try:
        data = load_data_files()
        phieu_a, stop_rule = load_phieu_a()
    except DataFileError as exc:
        print(f"LỖI: {exc}", file=sys.stderr)
        return 1
    entries: list[tuple[str, str]] = []
    for f in data.forms.values():
        entries.append((f"form {f.key}: {f.title}", f.path))
    for p in data.packs:
        entries.append((f"rule pack {p.id}: years {p.year_from}-{p.year_to}, {len(p.indicators)} indicators", p.path))
        if p.b1 is not None:
            entries.append((f"B1 table {p.b1.id} (pack {p.id}, form {p.b1.form}): {len(p.b1.items)} scored items",
                            p.b1.path))
    entries.append((f"form {phieu_a.key}: {phieu_a.title} (screening, before Phiếu B)", phieu_a.path))
    entries.append((f"Phiếu A stop rule {stop_rule.id}: {len(stop_rule.criteria)} criteria", stop_rule.path))
    for t in data.reports.tables.values():
        entries.append((f"report table {t.id}: {t.form}", t.path))
    lists = data.reports.lists
    if lists.lists:
        entries.append((f"household lists: {', '.join(lists.lists)}", next(iter(lists.lists.values())).path))
    from core.procedure.screening import procedure

    proc = procedure()
    entries.append((f"procedure {proc.id} v{proc.version}: {len(proc.steps)} steps, meeting "
                    f"{proc.min_agreement_percent:g}%, posting {proc.posting_days} working days", proc.path))
    for plan in data.plans:
        entries.append((f"plan {plan.id} v{plan.version}: year {plan.year}, {len(plan.phases)} phases, "
                        f"{len(plan.reports)} report requests [{plan.reliability}]", plan.path))
    provisional, undeclared = [], 0
    for title, path in entries:
        print(f"{title} ({path})")
        for line in describe(path):
            print(line)
        prov = provenance_of(path)
        if prov is not None and prov.provisional:
            provisional.append(path)
        undeclared += prov is None
    print(f"{len(entries)} data files valid; {undeclared} declare no source; "
          f"{len(provisional)} hold assumptions or missing official content:")
    for path in provisional:
        print(f"  - {path}")
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
        from bot.channels.telegram import TelegramChannel, WebhookConfig

        webhook = None
        if settings.telegram_webhook_url:
            webhook = WebhookConfig(settings.telegram_webhook_url, settings.telegram_webhook_secret or "",
                                    settings.telegram_webhook_listen, settings.telegram_webhook_port)
        channels["telegram"] = TelegramChannel(service, settings.telegram_token, settings.telegram_api_base,
                                               webhook)
    if settings.zalo_token:
        from bot.channels.zalo import ZaloChannel, ZaloWebhook
        from bot.channels.zalo_client import ZaloClient
        from bot.files import FileLinks

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


async def _scheduler_dry_run(service, now: str | None) -> int:  # type: ignore[no-untyped-def]
    """The notices due at `now` (default: the real clock) and the chats each would go to, plus
    the outbox rows waiting to be sent; no lock, no row written, nothing sent."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from core.storage.models import OutboxMessage
    from scheduler.dispatch import Dispatcher

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


async def _plan(service, settings: Settings, plan_id: str | None) -> int:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from core.app import active_plans, load_data_files
    from core.plans.status import plan_status

    loaded = load_data_files().plans
    # one-year plans, and each several-year file as read for the review year when it covers it
    plans = {p.id: p for p in loaded if p.template is None}
    plans.update({p.id: p for p in service.plans})
    for p in loaded:
        if p.template is not None and not any(q.template == p.template for q in plans.values()):
            plans[p.id] = p
    if plan_id is None:
        active = {p.id for p in service.plans}
        for plan in plans.values():
            every = f"  (file {plan.path.name} for every year {plan.years[0]}-{plan.years[1]})" if plan.years else ""
            print(f"{plan.id:>16}  {plan.year}  {'ACTIVE' if plan.id in active else '      '}  {plan.title}{every}")
        return 0
    if plan_id not in plans:
        try:  # another year of a several-year file, e.g. lang_son_2028
            plans.update({p.id: p for p in active_plans(loaded, replace(settings, plans=(plan_id,)))})
        except ValueError:
            print(f"unknown plan {plan_id!r}; known: {', '.join(plans)}", file=sys.stderr)
            return 2
    async with service.db.read() as s:
        status = await plan_status(s, plans[plan_id])
    for n in status.notices:
        state = f"{n.status} ({n.sent}/{n.recipients} sent)" if n.status else "waiting"
        print(f"{n.notice.fire_at:%Y-%m-%d %H:%M}  {n.notice.kind:<16} {n.notice.key.split('/', 2)[2]:<40} {state}")
    for r in status.requests:
        print(f"report {r.key}: due {r.due}, {r.submissions} submissions")
    return 0


async def _users(service, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    """The operator at the server's console stands above everyone; every change is logged."""
    from sqlalchemy import select

    from core.accounts import AccountError
    from core.accounts_admin import revoke_code, set_disabled
    from core.storage.models import Unit, User

    async with service.db.transaction() as s:
        if args.action == "list":
            rows = (await s.execute(select(User, Unit.name).outerjoin(Unit, Unit.id == User.unit_id)
                                    .order_by(User.id))).all()
            for user, unit in rows:
                state = "DISABLED" if user.disabled_at else "active"
                print(f"{user.id:>6}  {state:<8}  {user.role:<12}  {user.channel}:{user.external_id:<14}  "
                      f"{user.display_name}  ({unit or '-'})")
            return 0
        if not args.target:
            print(f"usage: rasoat users {args.action} {'CODE' if args.action == 'revoke' else 'USER_ID'}",
                  file=sys.stderr)
            return 2
        try:
            if args.action == "revoke":
                invite = await revoke_code(s, None, args.target)
                print(f"code {invite.code} revoked")
                return 0
            user = await s.get(User, int(args.target)) if args.target.isdigit() else None
            if user is None:
                print(f"no user with id {args.target!r}", file=sys.stderr)
                return 2
            await set_disabled(s, None, user, args.action == "disable")
            print(f"user {user.id} ({user.display_name}) {args.action}d")
        except AccountError as exc:
            print(f"refused: {exc.key}", file=sys.stderr)
            return 2
    return 0


async def _audit(service, args: argparse.Namespace, settings: Settings) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from core.access_log import recent
    from core.i18n import local_time
    from core.storage.models import Unit

    async with service.db.read() as s:
        unit = None
        if args.unit:
            unit = await s.scalar(select(Unit).where(Unit.configuration == settings.units_configuration,
                                                     Unit.code == args.unit))
            if unit is None:
                print(f"no unit with code {args.unit!r}", file=sys.stderr)
                return 2
        for entry, who, where in await recent(s, unit, args.limit):
            print(f"{local_time(entry.at):%Y-%m-%d %H:%M}  {who or entry.actor:<24}  {entry.action:<20}  "
                  f"{where or '-':<24}  {'#' + str(entry.household_id) if entry.household_id else ''}  "
                  f"{entry.detail or ''}")
    return 0


def _intro(settings: Settings) -> str:
    from core.i18n import t

    return t("console_intro", db=settings.database_url)


async def _report(service, args: argparse.Namespace, settings: Settings) -> int:  # type: ignore[no-untyped-def]
    from datetime import date

    from sqlalchemy import select

    from core.reports.build import build_report, progress
    from core.reports.stage import Basis, Stage, default_basis
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
            from core.i18n import t

            for row in await progress(s, units[0], year):
                remaining = t("progress_unknown_total") if row.remaining is None else row.remaining
                print(f"{row.name}: submitted {row.submitted}, drafts {row.drafts}, remaining {remaining}")
            return 0
        if args.report_id not in dict(service.reports.names()):
            print(f"unknown report {args.report_id!r}; run 'rasoat report' to list them", file=sys.stderr)
            return 2
        out = Path(args.out) if args.out else settings.data_dir / "reports"
        try:
            as_of = date.fromisoformat(args.as_of) if args.as_of else None
        except ValueError:
            print(f"--as-of must be a day as YYYY-MM-DD, got {args.as_of!r}", file=sys.stderr)
            return 2
        basis = await default_basis(s, units[0], year, as_of) if args.stage == "auto" \
            else Basis(Stage(args.stage), as_of)
        if args.report_id in service.reports.tables:
            print(basis.line(), file=sys.stderr)
        for path in await build_report(s, service.reports, args.report_id, units[0], year, out,
                                       service.forms, basis=basis):
            print(path)
    return 0


async def _units(service, args: argparse.Namespace, settings: Settings) -> int:  # type: ignore[no-untyped-def]
    from core.datafile import DataFileError
    from core.units.loader import import_villages, load_units

    config = args.config or settings.units_configuration
    if args.action == "villages" and not args.file:
        print("usage: rasoat units villages FILE.csv", file=sys.stderr)
        return 2
    try:
        async with service.db.transaction() as s:  # one bad row rolls the whole file back
            if args.action == "load":
                added = await load_units(s, config)
            else:
                added = await import_villages(s, config, Path(args.file))
    except DataFileError as exc:
        print(f"LỖI: {exc}", file=sys.stderr)
        return 2
    except (OSError, UnicodeDecodeError) as exc:
        print(f"LỖI: {args.file}: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # an unknown units configuration
        print(f"LỖI: {exc}", file=sys.stderr)
        return 2
    print(f"{added} units added (configuration {config})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
