"""Only one scheduler per database, however many bot workers run.

PostgreSQL: a session-level advisory lock held on a dedicated connection for the scheduler's
lifetime; the server releases it when that connection ends, including when the process is
killed. SQLite (one machine): an exclusive flock on a file next to the database, which the
kernel releases when the process dies.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from core.storage.db import Database

log = logging.getLogger(__name__)
LOCK_NAME = "rasoat-scheduler"


def lock_key(name: str = LOCK_NAME) -> int:
    """A stable signed 64-bit key for pg_try_advisory_lock."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class SchedulerLock:
    def __init__(self, db: Database, name: str = LOCK_NAME) -> None:
        self.db = db
        self.name = name
        self._conn: AsyncConnection | None = None
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None or self._file is not None

    async def acquire(self) -> bool:
        if self.held:
            return True
        if self.db.is_sqlite:
            return self._acquire_file()
        conn = await self.db.engine.connect()
        got = (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_key(self.name)})).scalar()
        await conn.commit()  # end the implicit transaction; the session-level lock stays
        if not got:
            await conn.close()
            return False
        self._conn = conn
        return True

    def _acquire_file(self) -> bool:
        database = make_url(self.db.url).database or "memory"
        path = Path(f"{database}.{self.name}.lock") if database != ":memory:" else Path(f"/tmp/{self.name}.lock")
        fh = path.open("a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            return False
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._file = fh
        return True

    async def release(self) -> None:
        if self._conn is not None:
            try:
                await self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(self.name)})
                await self._conn.commit()
            finally:
                await self._conn.close()
                self._conn = None
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None
