"""`rasoat units load|villages`: the administrative units of a configuration, and villages from
a CSV file, each in one transaction (one bad row rolls the whole file back)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.app import ChatApp
from bot.cli.command import Command
from core.config import Settings
from core.datafile import DataFileError
from core.units.loader import import_villages, load_units


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["load", "villages"])
    parser.add_argument("file", nargs="?", help="villages CSV (commune_code,village_name[,kind])")
    parser.add_argument("--config", help="units configuration: 200, 194 or 65 (default UNITS_CONFIGURATION)")


async def online(args: argparse.Namespace, settings: Settings, service: ChatApp) -> int:
    config = args.config or settings.units_configuration
    if args.action == "villages" and not args.file:
        print("usage: rasoat units villages FILE.csv", file=sys.stderr)
        return 2
    try:
        async with service.db.transaction() as s:
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


COMMAND = Command("units", "administrative units", arguments, online=online)
