"""`rasoat backup FILE` and `rasoat restore FILE`: the SQLite database copied out while the bot
runs, or replaced by a copy (bot stopped). PostgreSQL has its own tools, said instead."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli.command import Command
from core.config import Settings
from core.i18n import t
from core.storage.backup import POSTGRES_ADVICE, BackupError, backup, restore, sqlite_path
from core.storage.sealed import KEY_FILE


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file")


def _copy(args: argparse.Namespace, settings: Settings) -> int:
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


BACKUP = Command("backup", "copy the SQLite database to FILE while the bot runs (0600)", arguments, offline=_copy)
RESTORE = Command("restore", "replace the SQLite database by a backup FILE (stop the bot first)", arguments,
                  offline=_copy)
