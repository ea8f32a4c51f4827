"""A typed survey answer on the database driver directly: the same rows as the ORM path, without
SQLAlchemy's session, unit of work and per-statement greenlet bridge.

Why: profiled (docs/benchmarks.md, issue 25), about half of an answer's CPU in
`ChatApp.handle` was SQLAlchemy around a few statements the bare driver runs in a fraction of
the time. The statements are still written once, in SQLAlchemy, next to the ORM path's
(core/storage/repo.py, core/journal.py), and compiled here with the engine's own dialect: a
column renamed in the models changes both paths.

What an answer writes: the answer (upsert), its audit row, the household's position, time and
revision, and the update's journal row with the sealed reply. On PostgreSQL that is one
statement (data-modifying WITHs); on SQLite one too (a view's trigger runs the four), with the
answers of other chats in one transaction (core/storage/sqlite_answer_path.py: group commit). A
re-delivered update fails on the
journal's key like on the ORM path, and the whole transaction with it. Anything this path does
not cover is left to the ORM path: the caller rolls back and runs that instead
(bot/conversations/quick.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Boolean, Dialect, String, bindparam, case, select
from sqlalchemy.sql import ClauseElement

from core.inbox import CHAT_LOCK, RECORD, TAKE
from core.journal import _INSERT as JOURNAL_ROW
from core.storage.db import Database
from core.storage.driver import Compiled, pg_transaction
from core.storage.models import Conversation, Household, User
from core.storage.repo import _STATEMENTS, MOVE
from core.storage.sealed import holders_query

# The conversation, the household it has open and the sender's row, conversation and household
# locked (PostgreSQL; SQLite's writers hold the database): the same lock as
# bot/conversations/session.py's, so both paths queue on one chat.
_LOCK = (select(Conversation.household_id, Conversation.state.label("chat_state"), Household.village_id,
                Household.survey_id, Household.review_year, Household.area, Household.status,
                Household.reopened_at, Household.state, Household.revision, User.role, User.unit_id,
                User.disabled_at)
         .join(Household, Household.id == Conversation.household_id).join(User, User.id == bindparam("me"))
         .where(Conversation.channel == bindparam("channel"), Conversation.chat_id == bindparam("chat"))
         .with_for_update(of=[Conversation.__table__, Household.__table__]))
# The household's position, time and revision as the ORM path writes them (MOVE), and its head's
# name when the answer is that name (`named`; the ORM path sets Household.head_name)
_HOUSEHOLDS = Household.__table__
_MOVE = MOVE.values(head_name=case((bindparam("named", type_=Boolean), bindparam("head", type_=String)),
                                   else_=_HOUSEHOLDS.c.head_name))
# Other households of the review holding an ID number just typed (core/duplicate_ids.py)
_HOLDERS = holders_query(bindparam("digest"), bindparam("year"), bindparam("besides"))


T = TypeVar("T")


@dataclass(frozen=True)
class Statements:
    lock: Compiled
    holders: Compiled
    write: tuple[Compiled, ...]  # answer, audit row, position, journal row
    write_unjournalled: tuple[Compiled, ...]  # an update without an id is never journalled
    reply_only: Compiled  # an answer refused (a typo): nothing but the journal row
    claim: tuple[Compiled, ...]  # a webhook update's inbox row: the chat's lock (PostgreSQL), taking it
    record: Compiled  # and recording its seq as the chat's last applied (core/inbox.py take())

    @classmethod
    def of(cls, dialect: Dialect) -> Statements:
        def c(statement: ClauseElement) -> Compiled:
            return Compiled.of(statement, dialect)

        if dialect.name == "postgresql":
            one = _STATEMENTS[True][0].add_cte(_MOVE.cte("moved"))
            write = (c(one.add_cte(JOURNAL_ROW.cte("journal"))),)
            unjournalled = (c(one),)
            claim = (c(CHAT_LOCK), c(TAKE))
        else:
            unjournalled = (*(c(s) for s in _STATEMENTS[False]), c(_MOVE))
            write = (*unjournalled, c(JOURNAL_ROW))
            claim = (c(TAKE),)
        return cls(c(_LOCK), c(_HOLDERS), write, unjournalled, c(JOURNAL_ROW), claim, c(RECORD[dialect.name]))


@dataclass(frozen=True)
class Locked:
    """What the answer needs of the locked rows (attribute names as on the ORM objects, so the
    survey session's `editable`, `position` and `engine_of` read it like a Household). SQLite
    gives its dates as text: only whether they are set is read here."""

    id: int
    chat_state: Any
    village_id: int
    survey_id: str
    review_year: int
    area: str | None
    status: str
    reopened_at: datetime | None
    state: Any
    revision: int | None
    role: str
    unit_id: int | None
    disabled_at: datetime | None


class AnswerPath:
    """Transactions on a pooled connection's driver: `run(body)` gives `body` what `lock`,
    `holders`, `write` and `reply_only` take. One subclass per store."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.statements = Statements.of(db.engine.dialect)
        # called with each statement, "COMMIT" and "ROLLBACK" (SQLAlchemy's events do not see
        # this path): the benchmark and the tests count statements and commits of both paths
        self.observers: list[Callable[[str], None]] = []

    def _seen(self, sql: str) -> None:
        for observe in self.observers:
            observe(sql)

    async def run(self, body: Callable[[Any], Awaitable[T]]) -> T:
        """`body(tx)` in a transaction: its result once committed; whatever it raises rolls
        the transaction back and goes to the caller. `tx` is what `lock`, `holders`, `write` and
        `reply_only` take."""
        async with self.transaction() as tx:
            return await body(tx)

    def transaction(self) -> AbstractAsyncContextManager[Any]:
        raise NotImplementedError

    async def lock(self, tx: Any, channel: str, chat_id: str, me: int,
                   claim: dict[str, Any] | None = None) -> Locked | None:
        """The locked rows; None when there are none, or when a webhook update's inbox row
        (`claim`, core/inbox.claim_values) is gone or late: the ORM path says what then."""
        raise NotImplementedError

    async def holders(self, tx: Any, digest: str | None, year: int, besides: int) -> tuple[int, ...]:
        raise NotImplementedError

    async def write(self, tx: Any, values: dict[str, Any]) -> None:
        """One answer with the household's position; the journal row too when the update has an
        id (an update without one is never journalled, as on the ORM path)."""
        raise NotImplementedError

    async def reply_only(self, tx: Any, values: dict[str, Any]) -> None:
        raise NotImplementedError


class PostgresAnswerPath(AnswerPath):
    """asyncpg: the lock, then one statement (two with an ID number's look-up)."""

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        """The asyncpg connection in a transaction (core/storage/driver.py pg_transaction):
        committed when the block ends, rolled back if it raises (the caller raises to hand the
        update to the ORM path)."""
        try:
            async with pg_transaction(self.db) as raw:
                yield raw
        except BaseException:
            self._seen("ROLLBACK")
            raise
        self._seen("COMMIT")

    async def lock(self, tx: Any, channel: str, chat_id: str, me: int,
                   claim: dict[str, Any] | None = None) -> Locked | None:
        if claim is not None:
            *exclusive, take = self.statements.claim
            for statement in exclusive:  # the chat's advisory lock first, as on the ORM path
                self._seen(statement.sql)
                await tx.execute(statement.sql, *statement.args(claim))
            for statement in (take, self.statements.record):
                self._seen(statement.sql)
                if await tx.fetchrow(statement.sql, *statement.args(claim)) is None:
                    return None
        lock = self.statements.lock
        self._seen(lock.sql)
        row = await tx.fetchrow(lock.sql, *lock.args({"channel": channel, "chat": chat_id, "me": me}))
        return None if row is None else Locked(*row)

    async def write(self, tx: Any, values: dict[str, Any]) -> None:
        for statement in self.statements.write if values.get("update") else self.statements.write_unjournalled:
            self._seen(statement.sql)
            await tx.execute(statement.sql, *statement.args(values))

    async def holders(self, tx: Any, digest: str | None, year: int, besides: int) -> tuple[int, ...]:
        if digest is None:
            return ()
        holders = self.statements.holders
        self._seen(holders.sql)
        rows = await tx.fetch(holders.sql, *holders.args({"digest": digest, "year": year, "besides": besides}))
        return tuple(r[0] for r in rows)

    async def reply_only(self, tx: Any, values: dict[str, Any]) -> None:
        if values.get("update"):
            self._seen(self.statements.reply_only.sql)
            await tx.execute(self.statements.reply_only.sql, *self.statements.reply_only.args(values))

