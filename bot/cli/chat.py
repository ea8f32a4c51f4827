"""`rasoat chat`: the console chat, as a village head or (--role) as an officer. `rasoat run`
without a bot token comes here too."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from bot.app import ChatApp
from bot.channels.console import Console
from bot.cli.command import Command
from bot.jobs import ReportWorker
from bot.runner import cancel_and_wait
from core.access import Role
from core.config import Settings
from core.i18n import t
from core.reports import jobs

REPORT_WAIT = 180.0  # seconds the console waits, at the end of its input, for reports being built
# --role values: ASCII, typed at a shell prompt
ROLES = {"thon": Role.VILLAGE_HEAD, "xa": Role.COMMUNE, "huyen": Role.DISTRICT, "tinh": Role.PROVINCE}


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", help="console user id (default: your login name; login@ROLE with --role "
                                       "xa/huyen/tinh)")
    parser.add_argument("--role", choices=list(ROLES),
                        help="who you are (first run only): thon = village head (default), xa = commune officer, "
                             "huyen = district officer, tinh = province officer")
    parser.add_argument("--name", help="your full name (first run only)")
    parser.add_argument("--commune", help="commune code, e.g. 6202 (first run only; thon and xa)")
    parser.add_argument("--village", help="village name (first run only; thon)")
    parser.add_argument("--unit", help="district or province code (first run only; huyen and tinh; not needed "
                                       "when the configuration has only one)")


def console_user(role: str | None, user: str | None) -> str:
    """An officer tried on the same machine gets an id of their own, so trying the officers'
    side never collides with the village head already registered under the login name."""
    if user:
        return user
    login = getpass.getuser()
    return login if role in (None, "thon") else f"{login}@{role}"


async def console(args: argparse.Namespace, settings: Settings, service: ChatApp) -> int:
    role = getattr(args, "role", None)
    chat = Console(service, sys.stdin, sys.stdout, console_user(role, getattr(args, "user", None)))
    print(t("console_intro", db=settings.database_url))
    if not await chat.setup(getattr(args, "name", None), getattr(args, "commune", None),
                            getattr(args, "village", None), ROLES[role] if role else None,
                            getattr(args, "unit", None)):
        if chat.input_ended:
            print("", flush=True)
            print(t("console_input_ended"), file=sys.stderr)
        return 1
    # a report asked for in the console is a durable job like on Telegram: built in the report
    # process and printed here when it is ready, while the chat goes on
    reports = asyncio.create_task(ReportWorker(service, chat.name, chat.send).run())
    try:
        await chat.loop()
        # input ended (a pipe, Ctrl+D): the reports asked for are printed before the program ends
        if await jobs.waiting(service.db, chat.name, chat.user):
            print(t("console_waiting_reports"), flush=True)
            for _ in range(int(REPORT_WAIT / 0.5)):
                if not await jobs.waiting(service.db, chat.name, chat.user):
                    break
                await asyncio.sleep(0.5)
    finally:
        await cancel_and_wait(reports)
    return 0


COMMAND = Command("chat", "take surveys in this terminal as a village head (or --role xa/huyen/tinh: an officer)",
                  arguments, online=console)
