"""SQLAlchemy's aiosqlite dialect with one trip to the SQLite thread per statement.

aiosqlite runs the sqlite3 connection in its own thread, and SQLAlchemy's adapter makes four
trips there per statement (open a cursor, execute, fetch the rows, close). Each trip is a queue
put, a thread switch and a wake-up of the event loop: measured on this machine, an answer took
43 of them. This cursor does the four in one function on that thread; rows, description,
rowcount and lastrowid come back together, and an answer takes 3.4 ms in-process instead of
5.6 (`bench.statements`, docs/benchmarks.md). Server-side cursors (the streamed household
lists) stay SQLAlchemy's own, as does everything else of the dialect (isolation, commit,
rollback, pooling, errors).

`Database` uses it for every `sqlite+aiosqlite` URL (the driver name `sqlite+rasoat` says so in
the engine's URL); `tests/test_storage.py` runs the store's tests through it, and the whole
suite does on SQLite.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

DRIVER = "rasoat"


class _Done:
    """What a finished sqlite3 cursor told, kept after it was closed on its thread."""

    __slots__ = ("arraysize", "description", "lastrowid", "rowcount", "rows")

    def __init__(self, cursor: sqlite3.Cursor | None = None, rows: list[Any] | None = None) -> None:
        self.description = cursor.description if cursor is not None else None
        self.rowcount = cursor.rowcount if cursor is not None else -1
        self.lastrowid = cursor.lastrowid if cursor is not None else None
        self.arraysize = 1
        self.rows = rows or []

    async def close(self) -> None:
        return None

    async def setinputsizes(self, *_sizes: Any) -> None:
        return None

    async def nextset(self) -> None:
        return None

    async def fetchall(self) -> list[Any]:
        return []


def _run(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Done:
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else None
        return _Done(cursor, rows)
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()

    def __init__(self, adapt_connection: Any) -> None:  # no cursor is opened until a statement runs
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = _Done()  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        return await self._trip(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        return await self._trip(operation, seq_of_parameters, many=True)

    async def _trip(self, operation: Any, parameters: Any, many: bool) -> None:
        async with self._adapt_connection._execute_mutex:
            aio = self._connection
            done = await aio._execute(_run, aio._conn, operation, parameters, many)  # type: ignore[attr-defined]
            self._cursor = done
            self._rows = collections.deque(done.rows)

    async def _async_soft_close(self) -> None:
        return None  # nothing is open on the thread

    def close(self) -> None:
        self._rows.clear()


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        creator = kw.pop("async_creator_fn", None)
        connection = creator(*arg, **kw) if creator else self.aiosqlite.connect(*arg, **kw)
        if not creator:
            connection._thread.daemon = True  # as SQLAlchemy does: never keep the process alive
        return OneTripConnection(self, await_(connection))


class OneTripDialect(SQLiteDialect_aiosqlite):
    driver = DRIVER
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> OneTripDBAPI:  # type: ignore[override]
        return OneTripDBAPI(__import__("aiosqlite"), __import__("sqlite3"))


registry.register(f"sqlite.{DRIVER}", __name__, "OneTripDialect")
