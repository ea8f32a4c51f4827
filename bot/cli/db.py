"""`rasoat db upgrade`: building the application brings the schema to the newest; this says so."""

from __future__ import annotations

import argparse

from bot.app import ChatApp
from bot.cli.command import Command
from core.config import Settings


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["upgrade"])


async def online(_args: argparse.Namespace, settings: Settings, _service: ChatApp) -> int:
    print(f"database at newest schema: {settings.database_url}")
    return 0


COMMAND = Command("db", "database maintenance", arguments, online=online)
