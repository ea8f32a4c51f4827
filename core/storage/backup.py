"""Backup and restore of the embedded SQLite store, safe while the bot runs.

A copy of `rasoat.db` taken with `cp` while the bot writes can miss the WAL or catch a page half
written; SQLite's online backup API (`sqlite3.Connection.backup`) copies a consistent snapshot
while writers go on. The backup holds the same personal data as the database, so it is created
owner-only (0600) and only renamed to its name once complete and checked. Sealed ID numbers
need the data key, which is not in the database: keep a copy of RASOAT_DATA_DIR/.data_key (or
RASOAT_DATA_KEY) apart from the backups, or the ID numbers of a restored database are lost.

PostgreSQL has its own tools, `pg_dump -Fc` and `pg_restore` (docs/personal-data.md); `POSTGRES_ADVICE` is
what the CLI prints when the store is PostgreSQL.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from core.private import FILE_MODE, private_dir
from core.storage.db import sqlite_file

POSTGRES_ADVICE = (
    "PostgreSQL: back up with `pg_dump -Fc -f rasoat.dump DATABASE` and restore with "
    "`pg_restore --clean --if-exists -d DATABASE rasoat.dump` (stop the bot first); "
    "keep dumps owner-only (chmod 600) and the data key apart from them."
)


class BackupError(RuntimeError):
    """The store or the file given cannot be backed up or restored (message says why)."""


def sqlite_path(database_url: str) -> Path | None:
    """The database file of a SQLite URL, None for PostgreSQL (or an in-memory database)."""
    if make_url(database_url).get_backend_name() != "sqlite":
        return None
    path = sqlite_file(database_url)
    if path is None:
        raise BackupError("an in-memory database cannot be backed up")
    return path


def _check(path: Path) -> None:
    """A readable SQLite database of this application, intact page by page."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError(f"{path}: integrity check failed")
            if conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'alembic_version'").fetchone()[0] != 1:
                raise BackupError(f"{path}: not a rasoat database (no schema version)")
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: not a SQLite database ({exc})") from None


def _copy(source: Path, target: Path) -> None:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst, pages=1024)  # in steps, so the bot's writers are not held for the whole copy
    finally:
        dst.close()
        src.close()


def backup(database: Path, target: Path) -> Path:
    """Write a consistent copy of the live database to target (0600), replacing it if present."""
    if not database.is_file():
        raise BackupError(f"{database}: no database here")
    if not target.parent.exists():
        private_dir(target.parent)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    try:
        _copy(database, tmp)
        # The copy is a one-file database: no WAL to carry around with it.
        conn = sqlite3.connect(tmp)
        try:
            conn.execute("PRAGMA journal_mode=DELETE")
        finally:
            conn.close()
        _check(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return target


def restore(source: Path, database: Path) -> None:
    """Replace the database's content by the backup's, after checking the backup. Stop the bot
    first: a running process would go on from what it had read."""
    if not source.is_file():
        raise BackupError(f"{source}: no such backup file")
    _check(source)
    private_dir(database.parent)
    if not database.exists():
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    # The backup API writes through SQLite, so the live file's WAL and locks stay consistent.
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(database, timeout=30)
    try:
        src.backup(dst)
        dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        dst.close()
        src.close()
    os.chmod(database, FILE_MODE)
