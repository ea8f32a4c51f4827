"""A typed survey answer on PostgreSQL's driver directly: the same rows as the ORM path, in two
statements instead of three, without SQLAlchemy's session, unit of work and greenlet bridge.

Why: profiled (docs/benchmarks.md, issue 25), about 40 % of an answer's CPU was SQLAlchemy
around statements the bare driver runs in a tenth of the time. The statements are still
written once, in SQLAlchemy, next to the ORM path's (core/storage/repo.py, core/journal.py),
and compiled here for asyncpg at import: a column renamed in the models changes both paths.

What it writes in one statement (`WRITE`): the answer (upsert), its audit row, the household's
position, time and revision, and the update's journal row with the sealed reply. A re-delivered
update fails on the journal's key like on the ORM path, and the whole statement with it.
Anything this path does not cover (a submission, an ID number to compare, a question asked
outside the survey...) is left to the ORM path: the caller rolls back and runs that instead
(bot/conversations/quick.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.util import greenlet_spawn

from core.journal import _INSERT as JOURNAL_ROW
from core.storage.db import Database
from core.storage.models import Conversation, Household, User
from core.storage.repo import _ONE_ANSWER_PG
from core.storage.sealed import holders_query

_DIALECT = asyncpg_dialect()


@dataclass(frozen=True)
class Compiled:
    """A statement compiled once for asyncpg: its SQL and how named values become `$n`."""

    sql: str
    names: tuple[str, ...]
    literals: dict[str, Any]  # values written into the statement (the audit row's action)
    processors: dict[str, Callable[[Any], Any]]  # JSON columns: the engine's own serializer

    @classmethod
    def of(cls, statement: ClauseElement) -> Compiled:
        compiled = statement.compile(dialect=_DIALECT)
        names = tuple(compiled.positiontup or ())
        literals = {name: b.value for name, b in compiled.binds.items() if not b.required and name in names}
        return cls(compiled.string, names, literals, dict(compiled._bind_processors))

    def args(self, values: dict[str, Any]) -> list[Any]:
        merged = {**self.literals, **values}
        out = []
        for name in self.names:
            value = merged[name]
            process = self.processors.get(name)
            out.append(process(value) if process is not None and value is not None else value)
        return out


# The conversation, the household it has open and the sender's row, conversation and household
# locked: the same lock as bot/conversations/session.py's, so both paths queue on one chat.
LOCK = Compiled.of(
    select(Conversation.household_id, Conversation.state.label("chat_state"), Household.village_id,
           Household.survey_id, Household.review_year, Household.area, Household.status, Household.reopened_at,
           Household.state, Household.revision, User.role, User.unit_id, User.disabled_at)
    .join(Household, Household.id == Conversation.household_id).join(User, User.id == bindparam("me"))
    .where(Conversation.channel == bindparam("channel"), Conversation.chat_id == bindparam("chat"))
    .with_for_update(of=[Conversation.__table__, Household.__table__]))
# Answer, audit row, household position and journal row: one round trip.
WRITE = Compiled.of(_ONE_ANSWER_PG.add_cte(JOURNAL_ROW.cte("journal")))
WRITE_UNJOURNALLED = Compiled.of(_ONE_ANSWER_PG)
# Other households of the review holding an ID number just typed (core/duplicate_ids.py)
HOLDERS = Compiled.of(holders_query(bindparam("digest"), bindparam("year"), bindparam("besides")))
REPLY_ONLY = Compiled.of(JOURNAL_ROW)  # an answer refused (a typo): nothing but the journal row


@dataclass(frozen=True)
class Locked:
    """What the answer needs of the locked rows (attribute names as on the ORM objects, so the
    survey session's `editable`, `position` and `engine_for` read it like a Household)."""

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
    """Transactions on a pooled connection's driver. Only for PostgreSQL."""

    def __init__(self, db: Database) -> None:
        assert not db.is_sqlite, "the driver path is asyncpg's"
        self.db = db
        # called with each statement, "COMMIT" and "ROLLBACK" (SQLAlchemy's events do not see
        # this path): the benchmark and the tests count statements and commits of both paths
        self.observers: list[Callable[[str], None]] = []

    def _seen(self, sql: str) -> None:
        for observe in self.observers:
            observe(sql)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        """The asyncpg connection in a transaction: committed when the block ends, rolled back
        if it raises (the caller raises to hand the update to the ORM path). The connection is
        the engine pool's, checked out raw: two hops into SQLAlchemy's greenlet instead of the
        four or five of an AsyncConnection. One left inside a transaction (a cancel
        mid-statement) is dropped from the pool, never reused."""
        pooled = await self.db.engine.raw_connection()
        raw = pooled.driver_connection
        try:
            try:
                async with raw.transaction():
                    yield raw
            except BaseException:
                self._seen("ROLLBACK")
                raise
            self._seen("COMMIT")
        finally:
            # in SQLAlchemy's greenlet: a connection beyond the pool's size is closed on return,
            # and closing an asyncpg connection awaits
            if raw.is_in_transaction() or raw.is_closed():
                await greenlet_spawn(pooled.invalidate)
            else:
                await greenlet_spawn(pooled.close)

    async def lock(self, raw: Any, channel: str, chat_id: str, me: int) -> Locked | None:
        self._seen(LOCK.sql)
        row = await raw.fetchrow(LOCK.sql, *LOCK.args({"channel": channel, "chat": chat_id, "me": me}))
        return None if row is None else Locked(*row)

    async def write(self, raw: Any, values: dict[str, Any]) -> None:
        """One answer with the household's position; the journal row too when the update has an
        id (an update without one is never journalled, as on the ORM path)."""
        statement = WRITE if values.get("update") else WRITE_UNJOURNALLED
        self._seen(statement.sql)
        await raw.execute(statement.sql, *statement.args(values))

    async def holders(self, raw: Any, digest: str | None, year: int, besides: int) -> tuple[int, ...]:
        if digest is None:
            return ()
        self._seen(HOLDERS.sql)
        rows = await raw.fetch(HOLDERS.sql, *HOLDERS.args({"digest": digest, "year": year, "besides": besides}))
        return tuple(r[0] for r in rows)

    async def reply_only(self, raw: Any, values: dict[str, Any]) -> None:
        if values.get("update"):
            self._seen(REPLY_ONLY.sql)
            await raw.execute(REPLY_ONLY.sql, *REPLY_ONLY.args(values))


def names(*compiled: Compiled) -> Sequence[str]:
    """Every value the statements take (the tests hold the caller to them)."""
    return sorted({n for c in compiled for n in c.names} - {k for c in compiled for k in c.literals})
