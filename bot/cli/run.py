"""`rasoat run`: Telegram and/or Zalo with the plan scheduler when a token is set, else the
console chat; `--workers N` runs N such processes on one webhook port."""

from __future__ import annotations

import argparse
import fcntl
import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

from bot.app import ChatApp
from bot.cli.channels import channels, mode, stop_event, web_server
from bot.cli.chat import console
from bot.cli.command import Command
from core.config import Settings
from core.storage.db import sqlite_file
from scheduler.runner import Scheduler

if TYPE_CHECKING:
    from bot.web import WebServer  # aiohttp: imported only with Zalo (bot/cli/channels.py)


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes sharing the webhook port (webhook mode; PostgreSQL for more than one)")


SQLITE_ONE_WORKER = ("several workers on one SQLite database are refused: keeping each chat's answers in order "
                     "across worker processes is proven on PostgreSQL only (docs/deployment.md, Several workers). "
                     "Use PostgreSQL (DATABASE_URL=postgresql+asyncpg://...) for --workers, or run one worker.")
_held: list[int] = []  # the SQLite database's run lock, held until this process ends


def offline(args: argparse.Namespace, settings: Settings) -> int | None:
    if args.workers > 1:
        return workers(args.workers, settings)
    for url, secret, name in ((settings.telegram_webhook_url, settings.telegram_webhook_secret, "TELEGRAM"),
                              (settings.zalo_webhook_url, settings.zalo_webhook_secret, "ZALO")):
        if url and not secret:
            print(f"{name}_WEBHOOK_SECRET is required with {name}_WEBHOOK_URL", file=sys.stderr)
            return 2
    if settings.telegram_token or settings.zalo_token:
        return one_worker_on_sqlite(settings)
    return None


def one_worker_on_sqlite(settings: Settings) -> int | None:
    """A second `rasoat run` serving bots from the same SQLite file (started by hand, or by a
    service manager beside a running one) is refused like `--workers 2`: the lock file beside the
    database is held until the process ends, however it ends (the kernel drops it)."""
    path = sqlite_file(settings.database_url)
    if path is None:
        return None
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".run-lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        print(f"another rasoat run serves bots from {path}; {SQLITE_ONE_WORKER}", file=sys.stderr)
        return 2
    _held.append(fd)
    return None


async def online(args: argparse.Namespace, settings: Settings, service: ChatApp) -> int:
    if settings.telegram_token or settings.zalo_token:
        return await run_bots(service, settings)
    return await console(args, settings, service)


def workers(n: int, settings: Settings) -> int:
    """N copies of `rasoat run` on one webhook port (SO_REUSEPORT: the kernel spreads the
    connections). They share nothing but the database: the inbox keeps each chat's order
    (core/inbox.py), the journal makes a re-sent update a no-op, the scheduler runs in the one
    holding its lock. A worker that dies is started again; SIGTERM/SIGINT stop them all."""
    if not (settings.telegram_webhook_url or settings.zalo_webhook_url):
        print("--workers needs webhook mode (TELEGRAM_WEBHOOK_URL): only one process may long-poll", file=sys.stderr)
        return 2
    if make_url(settings.database_url).get_backend_name() == "sqlite":
        print(SQLITE_ONE_WORKER, file=sys.stderr)
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


async def run_bots(service: ChatApp, settings: Settings) -> int:
    """Telegram and/or Zalo and, unless another worker holds the lock, the plan scheduler, in
    one process."""
    found = channels(service, settings)
    stop = stop_event()
    started = []
    web: WebServer | None = None
    try:
        for name, channel in found.by_name().items():
            await channel.start()
            started.append(channel)
            print(f"{name} channel running ({mode(name, settings)})", flush=True)
        web = await web_server(settings, found, service.data)
        scheduler = Scheduler(service.db, service.plans, found.senders())
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


COMMAND = Command("run", "run the bot: Telegram if TELEGRAM_BOT_TOKEN is set, else the console chat", arguments,
                  offline, online)
