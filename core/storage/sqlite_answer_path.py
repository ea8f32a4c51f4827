"""The driver's answer path on SQLite (core/storage/answer_path.py): answers of several chats
committed together, in one trip to SQLite's thread (group commit).

SQLite has one writer at a time, and each transaction is a trip to its thread and back, a
wake-up of the event loop, and a sync of the WAL to disk. Answers that arrive while a batch is
being written wait for the next batch (at most BATCH), which runs them one after the other in one
transaction under the database's write lock (as `Database.transaction`: one writer at a time in
this process, other processes wait in SQLite's busy handler):

    BEGIN IMMEDIATE
      each answer: a webhook update's inbox row taken (core/inbox.py), the read of the chat,
      its household and the sender, the engine's step (bot/conversations/quick.py, driven on
      this thread: its awaits on this path never wait), the writes
    COMMIT

Each answer's reply waits for that COMMIT: it is durable before it is sent. An answer that fails
(its update re-delivered: the journal's key; or one the ORM path must take) leaves no row behind
and the others commit: its writes are one statement, which SQLite undoes alone on error, and
when it writes more than that (an inbox row taken, an update without an id) it runs inside a
savepoint. A batch where no answer succeeds commits nothing (its observers are told ROLLBACK).

SQLite has no data-modifying `WITH`, which makes these four writes one statement on PostgreSQL.
Its equivalent here is a temporary view per connection whose `INSTEAD OF INSERT` trigger runs
the four statements (`_as_one`): generated from the same compiled statements, each `?` becoming
the matching column of the inserted row, so they stay the ORM path's statements. The insert is
one statement for Python and sqlite3; the four run inside SQLite's engine. An ID number's look-up
of other households is one more statement before it.

Running the engine's step on SQLite's thread is safe: what it reads that the event loop's thread
may change at the same time (the answers' cache, the units' parents) is read with single
operations, never walked.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from core.storage.answer_path import AnswerPath, Locked
from core.storage.db import Database
from core.storage.driver import Compiled, committed, sqlite_writer, trip

_JSON_COLUMNS = (1, 8)  # Locked.chat_state and Locked.state: SQLite returns the JSON text
VIEW = "rasoat_answer_write"  # temporary: this connection's own, gone with it
READY = "rasoat_answer_write"  # key of a pooled connection's info: its view and trigger exist
BATCH = 32  # answers per transaction at most: the write lock is not held long for other writers
SAVEPOINT = "rasoat_answer"


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


class Tx:
    """One answer's part of a batch, on SQLite's thread inside the batch's transaction: reads run
    at once, writes are held until the answer's work is done (`pending`)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.pending: list[tuple[str, list[Any]]] = []
        self.guarded = False

    def guard(self) -> None:
        """A savepoint before this answer's first write that is not its last statement."""
        if not self.guarded:
            self.conn.execute(f"SAVEPOINT {SAVEPOINT}")
            self.guarded = True


def drive(work: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never waits to its end, on this thread; one that would wait (on the
    event loop, which is not this thread's) is a bug, refused."""
    try:
        work.send(None)
    except StopIteration as done:
        return done.value
    work.close()
    raise RuntimeError("an answer's work on SQLite's thread waited on the event loop")


Body = Callable[[Tx], Coroutine[Any, Any, Any]]
Outcome = tuple[bool, Any]  # (succeeded, its result or its exception)


def _answer(conn: sqlite3.Connection, body: Body) -> Outcome:
    tx = Tx(conn)
    try:
        result = drive(body(tx))
        if len(tx.pending) > 1:
            tx.guard()
        for sql, args in tx.pending:
            conn.execute(sql, args)
    except Exception as exc:
        if not conn.in_transaction:  # SQLite gave the whole transaction up (a full disk): so do we
            raise
        if tx.guarded:
            conn.execute(f"ROLLBACK TO {SAVEPOINT}")
            conn.execute(f"RELEASE {SAVEPOINT}")
        return False, exc
    if tx.guarded:
        conn.execute(f"RELEASE {SAVEPOINT}")
    return True, result


def _batch(bodies: list[Body], create: OneStatement | None) -> Callable[[sqlite3.Connection], list[Outcome]]:
    def work(conn: sqlite3.Connection) -> list[Outcome]:
        if create is not None:  # once per connection, outside any transaction
            conn.execute(create.view)
            conn.execute(create.trigger)
        conn.execute("BEGIN IMMEDIATE")
        outcomes: list[Outcome] = []
        committed(conn, lambda c: outcomes.extend(_answer(c, body) for body in bodies))
        return outcomes
    return work


def _read(tx: Tx, sql: str, args: list[Any], claim: Sequence[tuple[str, list[Any]]] = ()) -> list[Any]:
    """The read, after a webhook update's inbox statements (`claim`, inside the answer's
    savepoint): none of the read's rows when one of them returns none."""
    if claim:
        tx.guard()
    for claimed, claimed_args in claim:
        if not tx.conn.execute(claimed, claimed_args).fetchall():
            return []
    return tx.conn.execute(sql, args).fetchall()


class SqliteAnswerPath(AnswerPath):
    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.one = _as_one(self.statements.write)
        self._waiting: list[tuple[Body, asyncio.Future[Any]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def run(self, body: Callable[[Any], Awaitable[Any]]) -> Any:
        """`body` in the next batch; its result once the batch is committed, or its error."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append((body, future))  # type: ignore[arg-type]
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        return await future

    async def _write(self) -> None:
        """Batches while answers wait; a batch's failure (its COMMIT) is each of its answers'."""
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:BATCH], self._waiting[BATCH:]
                try:
                    outcomes = await self._commit([body for body, _ in batch])
                except Exception as exc:
                    outcomes = [(False, exc)] * len(batch)
                except BaseException:
                    for _, future in batch:
                        future.cancel()
                    raise
                for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():  # its caller was cancelled
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:  # cancelled (the loop closing): nobody waits for ever
            for _, future in self._waiting:
                future.cancel()
            self._waiting = []

    async def _commit(self, bodies: list[Body]) -> list[Outcome]:
        async with sqlite_writer(self.db) as pooled:
            create = None if pooled.info.get(READY) else self.one
            outcomes = await trip(pooled.dbapi_connection, _batch(bodies, create))
            pooled.info[READY] = True
        self._seen("COMMIT" if any(ok for ok, _ in outcomes) else "ROLLBACK")
        return outcomes

    async def lock(self, tx: Tx, channel: str, chat_id: str, me: int,
                   claim: dict[str, Any] | None = None) -> Locked | None:
        taking = [] if claim is None else [*self.statements.claim, self.statements.record]
        for statement in taking:
            self._seen(statement.sql)
        lock = self.statements.lock
        self._seen(lock.sql)
        rows = _read(tx, lock.sql, lock.args({"channel": channel, "chat": chat_id, "me": me}),
                     [(s.sql, s.args(claim or {})) for s in taking])
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
        args = holders.args({"digest": digest, "year": year, "besides": besides})
        rows = tx.conn.execute(holders.sql, args).fetchall()
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
