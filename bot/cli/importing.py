"""`rasoat import danh-sach FILE.xlsx --commune CODE`: last year's list of poor and near-poor
households (the work itself is core/procedure/cli.py)."""

from __future__ import annotations

import argparse

from bot.app import ChatApp
from bot.cli.command import Command
from core.config import Settings
from core.procedure.cli import import_command


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", choices=["danh-sach"])
    parser.add_argument("file", help="the workbook (.xlsx) or CSV file (UTF-8): a ds_ngheo / ds_can_ngheo export, "
                        "or use --mapping")
    parser.add_argument("--commune", required=True, help="GSO code of the commune, e.g. 6202")
    parser.add_argument("--mapping", help="YAML mapping of fields to the file's column headers")
    parser.add_argument("--config", help="units configuration (default UNITS_CONFIGURATION)")


async def online(args: argparse.Namespace, settings: Settings, service: ChatApp) -> int:
    return await import_command(service, args, settings)


COMMAND = Command("import", "import last year's list of poor and near-poor households", arguments, online=online)
