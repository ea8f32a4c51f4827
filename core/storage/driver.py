"""Statements on the database driver itself, under SQLAlchemy's pool: for the few statements
every chat message runs, where the ORM session and its greenlet bridge cost more than the
statement (issue 25). The statements are still written in SQLAlchemy, next to the ORM code that
runs them too, and compiled here once per dialect with the engine's own type processors.

Used by the survey answer (core/storage/answer_path.py) and the inbox's commit and look-up of
a webhook update (core/inbox.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.util import greenlet_spawn

from core.storage.db import Database, to_completion


@dataclass(frozen=True)
class Compiled:
    """A statement compiled once for the engine's driver: its SQL and how named values become
    positional ones."""

    sql: str
    names: tuple[str, ...]
    literals: dict[str, Any]  # values written into the statement (the audit row's action)
    processors: dict[str, Callable[[Any], Any]]  # the engine's own: JSON, SQLite's dates
    results: tuple[Callable[[Any], Any] | None, ...] = ()  # for the rows it returns, likewise

    @classmethod
    def of(cls, statement: ClauseElement, dialect: Dialect) -> Compiled:
        compiled = statement.compile(dialect=dialect)
        names = tuple(compiled.positiontup or ())
        literals = {name: b.value for name, b in compiled.binds.items() if not b.required and name in names}
        results = tuple(column.type._cached_result_processor(dialect, None)
                        for column in getattr(compiled, "_result_columns", ()))
        return cls(compiled.string, names, literals, dict(compiled._bind_processors), results)

    def args(self, values: dict[str, Any]) -> list[Any]:
        merged = {**self.literals, **values}
        out = []
        for name in self.names:
            value = merged[name]
            process = self.processors.get(name)
            out.append(process(value) if process is not None and value is not None else value)
        return out

    def row(self, raw: Any) -> tuple[Any, ...]:
        """A returned row with the engine's result processing (SQLite's dates and JSON are text)."""
        return tuple(value if process is None or value is None else process(value)
                     for value, process in zip(raw, self.results or (None,) * len(raw), strict=True))


_COMPILED: dict[tuple[str, int], Compiled] = {}


def compiled(dialect: Dialect, statement: ClauseElement) -> Compiled:
    """Compiled once per dialect; statements are module constants, so their id is stable."""
    key = (dialect.name, id(statement))
    found = _COMPILED.get(key)
    if found is None:
        found = _COMPILED[key] = Compiled.of(statement, dialect)
    return found


async def trip(adapted: Any, work: Callable[[sqlite3.Connection], Any]) -> Any:
    """One call on SQLite's thread with the pooled connection's sqlite3 connection (SQLAlchemy's
    adapted aiosqlite connection: its mutex, its thread)."""
    async with adapted._execute_mutex:
        aio = adapted._connection
        return await aio._execute(work, aio._conn)


async def give_back(close: Callable[[], None]) -> None:
    """A pooled connection back to the pool (`pooled.close`, or `pooled.invalidate`), in
    SQLAlchemy's greenlet (closing one beyond the pool's size awaits), to the end even when the
    task is cancelled meanwhile (core/storage/db.py `to_completion`)."""
    await to_completion(greenlet_spawn(close))


@asynccontextmanager
async def pg_transaction(db: Database) -> AsyncIterator[Any]:
    """A pooled connection's asyncpg connection in a transaction: committed when the block
    ends, rolled back if it raises. Checked out raw: two hops into SQLAlchemy's greenlet instead
    of the four or five of an AsyncConnection. One left inside a transaction (a cancel
    mid-statement) is dropped from the pool, never reused."""
    pooled = await db.engine.raw_connection()
    raw = pooled.driver_connection
    try:
        async with raw.transaction():
            yield raw
    finally:
        # in SQLAlchemy's greenlet: a connection beyond the pool's size is closed on return, and
        # closing an asyncpg connection awaits
        await give_back(pooled.invalidate if raw.is_in_transaction() or raw.is_closed() else pooled.close)


@asynccontextmanager
async def sqlite_writer(db: Database) -> AsyncIterator[Any]:
    """A pooled SQLite connection under the database's write lock (one writer at a time in this
    process, as `Database.transaction`), back to the pool after, which rolls back anything left."""
    assert db.write_lock is not None
    async with db.write_lock:
        pooled = await db.engine.raw_connection()
        try:
            yield pooled
        finally:
            await give_back(pooled.close)


async def fetch(db: Database, statement: ClauseElement, values: dict[str, Any]) -> list[tuple[Any, ...]]:
    """A read outside any transaction (each statement sees committed rows), on a pooled
    connection's driver."""
    query = compiled(db.engine.dialect, statement)
    args = query.args(values)
    pooled = await db.engine.raw_connection()
    try:
        if db.is_sqlite:
            rows = await trip(pooled.dbapi_connection, lambda conn: conn.execute(query.sql, args).fetchall())
        else:
            rows = await pooled.driver_connection.fetch(query.sql, *args)
    finally:
        await give_back(pooled.close)
    return [query.row(r) for r in rows]


class Step(NamedTuple):
    """One statement of a write; `if_rows`: only when the step before it returned rows."""

    statement: ClauseElement
    values: dict[str, Any]
    if_rows: bool = False


async def write(db: Database, steps: list[Step]) -> None:
    """Steps in one transaction on a pooled connection's driver: on SQLite in one trip to its
    thread under the database's write lock (`BEGIN IMMEDIATE` ... `COMMIT`, as
    `Database.transaction`), on PostgreSQL one round trip per statement between BEGIN and COMMIT."""
    queries = [(compiled(db.engine.dialect, s.statement), s) for s in steps]
    plan = [(query.sql, query.args(step.values), step.if_rows) for query, step in queries]
    if db.is_sqlite:
        async with sqlite_writer(db) as pooled:
            await trip(pooled.dbapi_connection, _script(plan))
        return
    async with pg_transaction(db) as raw:
        rows: list[Any] = []
        for sql, args, if_rows in plan:
            if not if_rows or rows:
                rows = await raw.fetch(sql, *args)


def committed(conn: sqlite3.Connection, statements: Callable[[sqlite3.Connection], None]) -> None:
    """On SQLite's thread: the statements, then COMMIT; on any error ROLLBACK, and the error
    goes to the caller."""
    try:
        statements(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _script(plan: list[tuple[str, list[Any], bool]]) -> Callable[[sqlite3.Connection], None]:
    def statements(conn: sqlite3.Connection) -> None:
        rows: list[Any] = []
        for sql, args, if_rows in plan:
            if not if_rows or rows:
                rows = conn.execute(sql, args).fetchall()

    def work(conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        committed(conn, statements)
    return work
