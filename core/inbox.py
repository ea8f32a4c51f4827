"""The inbox: how several workers serve one bot without reordering a chat's updates.

A webhook update is committed here before the platform hears 200 (so it is durable), then
applied by whichever worker holds the chat's lock, oldest first (the platform's order: `seq`).
The lock is taken inside the transaction that applies the update, and the row is deleted in
that same transaction: an update is applied once, and never before an earlier one of its chat
that has already been committed. `FOR UPDATE` on the conversation serialises transactions but
not their order; this gives the order.

- PostgreSQL: `pg_advisory_xact_lock(hashtext('channel:chat'))`, released at commit.
- SQLite: `BEGIN IMMEDIATE` already makes every writing transaction, in any process, one at a
  time; the oldest-first check does the rest (and `rasoat run` refuses several workers on it).

What decides that an earlier update is not still on its way:
- Telegram: the bot-wide counter (core/inbox_counter.py): an update is applied only once every
  smaller update id has been committed. Timing plays no part unless an id never comes.
- Zalo, which numbers nothing: a row is applied once it is `settle` seconds old
  (RASOAT_INBOX_SETTLE, 0.1 s), ordered by the message's date; equal dates in arrival order.

Either way, the applying transaction also checks the chat's last applied `seq`
(`inbox_applied`): an update older than it came after a newer one had been applied, and is
refused with a message asking to send the answer again ("late"), journaled like any reply.
"""

from __future__ import annotations

import contextvars
import enum
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import JSON, Boolean, and_, bindparam, delete, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import inbox_counter
from core.storage import driver
from core.storage.db import Database
from core.storage.models import InboxUpdate, utcnow
from core.storage.models_inbox import InboxApplied
from core.storage.sealed import open_blob, seal_blob

COUNTER_RESET = timedelta(days=1)  # Telegram retries an update for a day; past that a smaller id is a new count


@dataclass
class Claim:
    """The inbox row a worker is applying, passed to the application's transaction."""

    id: int
    channel: str
    chat_id: str
    seq: int
    counted: bool = False  # `seq` is a bot-wide counter that may start again (Telegram), not a date
    skipped: bool = False  # not the chat's oldest any more, or gone: apply nothing
    committed: bool = False  # the transaction that deleted it committed


class Taken(enum.Enum):
    APPLY = "apply"  # the chat's oldest, and not older than what the chat has applied
    GONE = "gone"  # another worker took it, or an older one came in: apply nothing
    LATE = "late"  # a newer update of the chat was applied first: refuse it, ask to send again


CURRENT: contextvars.ContextVar[Claim | None] = contextvars.ContextVar("inbox_claim", default=None)


@dataclass(frozen=True)
class Waiting:
    id: int
    seq: int
    payload: dict[str, Any]
    age: float  # seconds since it was committed


def _add(insert_of: Any) -> Any:
    return insert_of(InboxUpdate).values(channel=bindparam("channel"), chat_id=bindparam("chat"),
                                         update_id=bindparam("update"), seq=bindparam("seq"),
                                         payload=bindparam("payload", type_=JSON),
                                         received_at=bindparam("at")).on_conflict_do_nothing()


_ADD = {"sqlite": _add(sqlite_insert), "postgresql": _add(pg_insert)}


async def add(db: Database, channel: str, chat_id: str, update_id: str, seq: int, payload: dict[str, Any],
              counted: bool = False) -> None:
    """Commit an update (a re-sent one is already there: nothing happens); with `counted`, its
    id is recorded in the bot-wide counter in the same transaction."""
    values = {"channel": channel, "chat": chat_id, "update": update_id, "seq": seq,
              "payload": seal_blob(db.session_info, payload), "at": utcnow()}  # it may carry an ID number
    dialect = db.engine.dialect.name
    steps = [driver.Step(_ADD[dialect], values)]
    if counted:
        steps += inbox_counter.seen_steps(dialect, channel, seq)
    await driver.write(db, steps)  # on the driver: through the ORM session this was a tenth of an update's CPU


async def count(db: Database, channel: str, seq: int) -> None:
    """Record the id of a counted update that has no chat to queue in (nothing to order)."""
    await driver.write(db, inbox_counter.seen_steps(db.engine.dialect.name, channel, seq))


_OLDEST_ROW = select(InboxUpdate.id, InboxUpdate.seq, InboxUpdate.payload, InboxUpdate.received_at).where(
    InboxUpdate.channel == bindparam("channel"), InboxUpdate.chat_id == bindparam("chat")).order_by(
    InboxUpdate.seq, InboxUpdate.id).limit(1)


async def oldest(db: Database, channel: str, chat_id: str) -> Waiting | None:
    """The chat's oldest row; on the driver (core/storage/driver.py): a worker looks twice per
    webhook update, and through the ORM session this was a fifth of the update's CPU."""
    rows = await driver.fetch(db, _OLDEST_ROW, {"channel": channel, "chat": chat_id})
    if not rows:
        return None
    row_id, seq, payload, received_at = rows[0]
    received = received_at if received_at.tzinfo else received_at.replace(tzinfo=utcnow().tzinfo)
    return Waiting(row_id, seq, open_blob(db.session_info, payload), (utcnow() - received).total_seconds())


# The applying transaction's statements, with named values (claim_values) so they compile once
# and the database driver's answer path (core/storage/answer_path.py) runs the same ones.
CHAT_LOCK = text("SELECT pg_advisory_xact_lock(hashtext(:lock_key))")  # PostgreSQL; SQLite's writers are one
_APPLIED = InboxApplied.__table__
_OLDEST = _OLDEST_ROW.with_only_columns(InboxUpdate.id).scalar_subquery()
# the row, deleted if it is still the chat's oldest
TAKE = delete(InboxUpdate.__table__).where(InboxUpdate.id == bindparam("claim"), InboxUpdate.id == _OLDEST) \
    .returning(InboxUpdate.id)


def _recorded(insert_of: Any) -> Any:
    """Its `seq` recorded as the chat's last applied unless a newer one is there (equal: a Zalo
    date two messages share, or a re-sent update); a counted chat's last update from before the
    counter started again does not count."""
    ins = insert_of(InboxApplied).values(channel=bindparam("channel"), chat_id=bindparam("chat"),
                                         seq=bindparam("seq"), at=bindparam("at"))
    not_older = or_(_APPLIED.c.seq <= ins.excluded.seq,
                    and_(bindparam("counted", type_=Boolean), _APPLIED.c.at < bindparam("reset_before")))
    return ins.on_conflict_do_update(index_elements=[_APPLIED.c.channel, _APPLIED.c.chat_id],
                                     set_={"seq": ins.excluded.seq, "at": ins.excluded.at},
                                     where=not_older).returning(_APPLIED.c.seq)


RECORD = {"sqlite": _recorded(sqlite_insert), "postgresql": _recorded(pg_insert)}


def claim_values(claim: Claim) -> dict[str, Any]:
    now = utcnow()
    return {"lock_key": _lock_key(claim.channel, claim.chat_id), "claim": claim.id, "channel": claim.channel,
            "chat": claim.chat_id, "seq": claim.seq, "at": now, "counted": claim.counted,
            "reset_before": now - COUNTER_RESET}


def _lock_key(channel: str, chat_id: str) -> str:
    return f"inbox:{channel}:{chat_id}"


async def lock_chat(session: AsyncSession, channel: str, chat_id: str) -> None:
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(CHAT_LOCK, {"lock_key": _lock_key(channel, chat_id)})


async def take(session: AsyncSession, claim: Claim) -> Taken:
    """In the applying transaction: lock the chat, delete the row if it is still the chat's
    oldest, and record its `seq` as the chat's last applied unless a newer one is there."""
    await lock_chat(session, claim.channel, claim.chat_id)
    values = claim_values(claim)
    if (await session.execute(TAKE, values)).first() is None:
        return Taken.GONE
    recorded = (await session.execute(RECORD[session.get_bind().dialect.name], values)).first()
    return Taken.APPLY if recorded is not None else Taken.LATE


async def discard(db: Database, claim: Claim) -> None:
    """Drop a row whose update was handled without a transaction of its own, or failed (it was
    answered with the error message, as before the inbox; retrying it forever would block the chat)."""
    async with db.transaction() as s:
        await lock_chat(s, claim.channel, claim.chat_id)
        await s.execute(delete(InboxUpdate).where(InboxUpdate.id == claim.id))


async def waiting_chats(db: Database, channel: str, older_than: timedelta) -> list[str]:
    """Chats with rows nobody applied (their worker died after committing them)."""
    async with db.read() as s:
        rows = await s.scalars(select(InboxUpdate.chat_id).where(
            InboxUpdate.channel == channel, InboxUpdate.received_at < utcnow() - older_than)
            .group_by(InboxUpdate.chat_id).order_by(func.min(InboxUpdate.seq)))
        return list(rows.all())
