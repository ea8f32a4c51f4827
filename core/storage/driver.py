"""Statements on the database driver itself, under SQLAlchemy's pool: for the few statements
every chat message runs, where the ORM session and its greenlet bridge cost more than the
statement (issue 25). The statements are still written in SQLAlchemy, next to the ORM code that
runs them too, and compiled here once per dialect with the engine's own type processors.

Used by the survey answer (core/storage/answer_path.py) and the inbox's look-up of a chat's
oldest update (core/inbox.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.util import greenlet_spawn

from core.storage.db import Database


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
        await greenlet_spawn(pooled.close)  # in SQLAlchemy's greenlet: closing one beyond the pool awaits
    return [query.row(r) for r in rows]
