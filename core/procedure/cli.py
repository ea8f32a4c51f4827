"""`rasoat import danh-sach FILE.xlsx|FILE.csv --commune CODE [--mapping M.yaml]`: one transaction,
so a file with one bad row imports nothing; every error is printed once as a `LỖI:` line, then
how many errors on how many rows (a refused file, too big or not a list, is one line)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core.classification.pack import pack_for_year
from core.config import Settings
from core.datafile import DataFileError
from core.i18n import t
from core.procedure.importer import DEFAULT, ImportFailed, import_list, load_import_mapping
from core.storage.models import Unit


class _Rollback(Exception):
    def __init__(self, failure: ImportFailed) -> None:
        self.failure = failure


async def import_command(service: Any, args: argparse.Namespace, settings: Settings) -> int:
    config = args.config or settings.units_configuration
    try:
        mapping = load_import_mapping(args.mapping) if args.mapping else DEFAULT
    except DataFileError as exc:
        print(t("cli_error", error=exc), file=sys.stderr)
        return 2
    path = Path(args.file)
    if not path.is_file():
        print(t("cli_no_file", path=path), file=sys.stderr)
        return 2
    try:
        async with service.db.transaction() as s:
            commune = await s.scalar(select(Unit).where(Unit.configuration == config, Unit.level == "commune",
                                                        Unit.code == args.commune))
            if commune is None:
                print(t("cli_no_commune", code=args.commune, config=config), file=sys.stderr)
                return 2
            area = pack_for_year(service.data.packs, settings.review_year).area_of(commune.kind)
            try:
                created = await import_list(s, path, commune, service.forms["phieu_b"], settings.review_year, area,
                                            None, mapping)
            except ImportFailed as exc:
                raise _Rollback(exc) from exc
    except _Rollback as rollback:
        failure = rollback.failure
        if failure.refused:
            print(t("cli_error", error=t("im_cli_refused", file=path.name, message=failure.refused)), file=sys.stderr)
            return 2
        for error in failure.errors:
            print(t("cli_error", error=error), file=sys.stderr)
        print(t("im_cli_failed", n=len(failure.errors), rows=failure.rows), file=sys.stderr)
        return 2
    print(t("cli_imported", n=len(created), year=settings.review_year, commune=commune.name))
    return 0
