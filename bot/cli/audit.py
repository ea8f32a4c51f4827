"""`rasoat audit [--unit CODE]`: the access log, newest first: who viewed or exported personal
data, and account changes."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import select

from bot.app import ChatApp
from bot.cli.command import Command
from core.access_log import recent
from core.config import Settings
from core.i18n import local_time
from core.storage.models import Unit


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--unit", help="GSO code of a unit: only entries inside it")
    parser.add_argument("--limit", type=int, default=50)


async def online(args: argparse.Namespace, settings: Settings, service: ChatApp) -> int:
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


COMMAND = Command("audit", "the access log: who viewed or exported personal data, account changes", arguments,
                  online=online)
