"""The driver's answer path on SQLite (core/storage/answer_path.py): two trips to SQLite's
thread per typed answer, where the ORM path makes one per statement plus BEGIN and COMMIT.

1. `BEGIN IMMEDIATE`, a webhook update's inbox row taken (core/inbox.py), and the read of the
   chat, its household and the sender, in one function on the thread (the database's write
   lock is taken first, as `Database.transaction` does: one writer at a time in this process,
   other processes wait in SQLite's busy handler).
2. The answer, its audit row, the household's position and the journal row as one statement,
   then `COMMIT`, in one function; on any error there `ROLLBACK`, and the error goes to the
   caller (a re-delivered update's journal row fails like on the ORM path).

SQLite has no data-modifying `WITH`, which makes these four writes one statement on PostgreSQL.
Its equivalent here is a temporary view per connection whose `INSTEAD OF INSERT` trigger runs
the four statements (`_as_one`): generated from the same compiled statements, each `?` becoming
the matching column of the inserted row, so they stay the ORM path's statements. The insert is
one statement for Python and sqlite3; the four run inside SQLite's engine.
An ID number's look-up of other households is one more trip between the two.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from core.storage.answer_path import AnswerPath, Locked
from core.storage.db import Database
from core.storage.driver import Compiled, committed, sqlite_writer, trip

_JSON_COLUMNS = (1, 8)  # Locked.chat_state and Locked.state: SQLite returns the JSON text
VIEW = "rasoat_answer_write"  # temporary: this connection's own, gone with it
READY = "rasoat_answer_write"  # key of a pooled connection's info: its view and trigger exist


@dataclass(frozen=True)
class OneStatement:
    """Several statements written as one: the view, its trigger, and the insert that runs them."""

    view: str
    trigger: str
    insert: str

    def args(self, statements: tuple[Compiled, ...], values: dict[str, Any]) -> list[Any]:
        return [arg for statement in statements for arg in statement.args(values)]


def _as_one(statements: tuple[Compiled, ...]) -> OneStatement:
    columns: list[str] = []
    bodies: list[str] = []
    for i, statement in enumerate(statements):
        parts = statement.sql.split("?")
        if len(parts) - 1 != len(statement.names):  # a literal "?" in the SQL would shift every value
            raise ValueError(f"statement {i}: {len(parts) - 1} placeholders for {len(statement.names)} values")
        names = [f"s{i}_{j}" for j in range(len(statement.names))]
        columns += names
        bodies.append(parts[0] + "".join(f'NEW."{name}"{rest}' for name, rest in zip(names, parts[1:], strict=True)))
    return OneStatement(
        f"CREATE TEMP VIEW IF NOT EXISTS {VIEW} AS SELECT " + ", ".join(f'NULL AS "{c}"' for c in columns),
        f"CREATE TEMP TRIGGER IF NOT EXISTS {VIEW}_insert INSTEAD OF INSERT ON {VIEW} BEGIN "
        + "; ".join(bodies) + "; END",
        f"INSERT INTO {VIEW} (" + ", ".join(f'"{c}"' for c in columns) + ") VALUES ("
        + ", ".join("?" * len(columns)) + ")")


def _create(one: OneStatement) -> Callable[[sqlite3.Connection], None]:
    def work(conn: sqlite3.Connection) -> None:
        conn.execute(one.view)
        conn.execute(one.trigger)
    return work


class Tx:
    """One transaction on a pooled SQLite connection: trips to its thread, writes held until
    the commit trip."""

    def __init__(self, adapted: Any) -> None:
        self._adapted = adapted  # SQLAlchemy's adapted aiosqlite connection (its mutex, its thread)
        self.pending: list[tuple[str, list[Any]]] = []

    async def trip(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        return await trip(self._adapted, work)


def _read(sql: str, args: list[Any], begin: bool,
          claim: Sequence[tuple[str, list[Any]]] = ()) -> Callable[[sqlite3.Connection], list[Any]]:
    """The read, after `BEGIN IMMEDIATE` (`begin`) and a webhook update's inbox statements
    (`claim`): none of the read's rows when one of them returns none."""
    def work(conn: sqlite3.Connection) -> list[Any]:
        if begin:
            conn.execute("BEGIN IMMEDIATE")
        for claimed, claimed_args in claim:
            if not conn.execute(claimed, claimed_args).fetchall():
                return []
        return conn.execute(sql, args).fetchall()
    return work


def _commit(pending: list[tuple[str, list[Any]]]) -> Callable[[sqlite3.Connection], None]:
    def statements(conn: sqlite3.Connection) -> None:
        for sql, args in pending:
            conn.execute(sql, args)
    return lambda conn: committed(conn, statements)


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


class SqliteAnswerPath(AnswerPath):
    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.one = _as_one(self.statements.write)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with sqlite_writer(self.db) as pooled:
            tx = Tx(pooled.dbapi_connection)
            if not pooled.info.get(READY):  # once per connection, outside any transaction
                await tx.trip(_create(self.one))
                pooled.info[READY] = True
            try:
                yield tx
                await tx.trip(_commit(tx.pending))
            except BaseException:
                await tx.trip(_rollback)
                self._seen("ROLLBACK")
                raise
            self._seen("COMMIT")

    async def lock(self, tx: Tx, channel: str, chat_id: str, me: int,
                   claim: dict[str, Any] | None = None) -> Locked | None:
        taking = [] if claim is None else [*self.statements.claim, self.statements.record]
        for statement in taking:
            self._seen(statement.sql)
        lock = self.statements.lock
        self._seen(lock.sql)
        rows = await tx.trip(_read(lock.sql, lock.args({"channel": channel, "chat": chat_id, "me": me}), True,
                                   [(s.sql, s.args(claim or {})) for s in taking]))
        if not rows:
            return None
        row = list(rows[0])
        for i in _JSON_COLUMNS:
            row[i] = json.loads(row[i]) if isinstance(row[i], str) else row[i]
        return Locked(*row)

    async def holders(self, tx: Tx, digest: str | None, year: int, besides: int) -> tuple[int, ...]:
        if digest is None:
            return ()
        holders = self.statements.holders
        self._seen(holders.sql)
        rows = await tx.trip(_read(holders.sql, holders.args({"digest": digest, "year": year, "besides": besides}),
                                   False))
        return tuple(r[0] for r in rows)

    async def write(self, tx: Tx, values: dict[str, Any]) -> None:
        if not values.get("update"):  # never journalled (no id): rare, the statements one by one
            self._hold(tx, self.statements.write_unjournalled, values)
            return
        self._seen(self.one.insert)
        tx.pending.append((self.one.insert, self.one.args(self.statements.write, values)))

    async def reply_only(self, tx: Tx, values: dict[str, Any]) -> None:
        if values.get("update"):
            self._hold(tx, (self.statements.reply_only,), values)

    def _hold(self, tx: Tx, statements: tuple[Compiled, ...], values: dict[str, Any]) -> None:
        for statement in statements:
            self._seen(statement.sql)
            tx.pending.append((statement.sql, statement.args(values)))
