"""`rasoat report [ID] --unit CODE`: a report table or household list to Excel (and a chart), or
with --progress the survey progress of a unit."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from sqlalchemy import select

from bot.app import ChatApp
from bot.cli.command import Command
from core.config import Settings
from core.i18n import t
from core.reports.build import build_report, progress
from core.reports.stage import Basis, Stage, default_basis
from core.storage.models import Unit


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("report_id", nargs="?", help="e.g. 7.1 or ds_ngheo; omit to list them")
    parser.add_argument("--unit", help="GSO code of the commune/district/province (default: the province)")
    parser.add_argument("--config", help="units configuration (default UNITS_CONFIGURATION)")
    parser.add_argument("--year", type=int, help="review year (default REVIEW_YEAR)")
    parser.add_argument("--out", default=None, help="output folder (default: RASOAT_DATA_DIR/reports)")
    parser.add_argument("--progress", action="store_true", help="print survey progress instead")
    parser.add_argument("--stage", choices=["auto", "preliminary", "official"], default="auto",
                        help="tables: preliminary (every submitted survey) or official (recognised by decision); "
                             "auto = official once the unit has a decision")
    parser.add_argument("--as-of", dest="as_of", help="tables: count only what was submitted / recognised by "
                                                      "this day (YYYY-MM-DD)")


async def online(args: argparse.Namespace, settings: Settings, service: ChatApp) -> int:
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
                remaining = t("progress_unknown_total") if row.remaining is None else row.remaining
                print(t("cli_progress_line", name=row.name, submitted=row.submitted, drafts=row.drafts,
                        remaining=remaining))
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


COMMAND = Command("report", "write a report table or household list to Excel (and a chart)", arguments,
                  online=online)
