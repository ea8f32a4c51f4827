"""The inbox: how several workers serve one bot without reordering a chat's updates.

A webhook update is committed here before the platform hears 200 (so it is durable), then
applied by whichever worker holds the chat's lock, oldest first (the platform's update id).
The lock is taken inside the transaction that applies the update, and the row is deleted in
that same transaction: an update is applied once, and never before an earlier one of its chat
that has already been committed. `FOR UPDATE` on the conversation serialises transactions but
not their order; this gives the order.

- PostgreSQL: `pg_advisory_xact_lock(hashtext('channel:chat'))`, released at commit.
- SQLite: `BEGIN IMMEDIATE` already makes every writing transaction, in any process, one at a
  time; the oldest-first check does the rest.

An update committed a moment after a later one of the same chat (two webhook calls racing)
would still be overtaken, so a row is applied only once it is `settle` seconds old
(RASOAT_INBOX_SETTLE, 0.1 s): by then an earlier update on the wire has been committed too.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.storage.db import Database
from core.storage.models import InboxUpdate, utcnow
from core.storage.sealed import open_blob, seal_blob


@dataclass
class Claim:
    """The inbox row a worker is applying, passed to the application's transaction."""

    id: int
    channel: str
    chat_id: str
    seq: int
    skipped: bool = False  # not the chat's oldest any more, or gone: apply nothing
    committed: bool = False  # the transaction that deleted it committed


CURRENT: contextvars.ContextVar[Claim | None] = contextvars.ContextVar("inbox_claim", default=None)


@dataclass(frozen=True)
class Waiting:
    id: int
    seq: int
    payload: dict[str, Any]
    age: float  # seconds since it was committed


async def add(db: Database, channel: str, chat_id: str, update_id: str, seq: int, payload: dict[str, Any]) -> None:
    """Commit an update (a re-sent one is already there: nothing happens)."""
    values = {"channel": channel, "chat_id": chat_id, "update_id": update_id, "seq": seq,
              "payload": seal_blob(db.session_info, payload), "received_at": utcnow()}  # it may carry an ID number
    async with db.transaction() as s:
        ins = (sqlite_insert if db.is_sqlite else pg_insert)(InboxUpdate).values(values)
        await s.execute(ins.on_conflict_do_nothing())


async def oldest(db: Database, channel: str, chat_id: str) -> Waiting | None:
    async with db.read() as s:
        row = await s.scalar(select(InboxUpdate).where(InboxUpdate.channel == channel, InboxUpdate.chat_id == chat_id)
                             .order_by(InboxUpdate.seq, InboxUpdate.id).limit(1))
    if row is None:
        return None
    received = row.received_at if row.received_at.tzinfo else row.received_at.replace(tzinfo=utcnow().tzinfo)
    return Waiting(row.id, row.seq, open_blob(db.session_info, row.payload), (utcnow() - received).total_seconds())


async def lock_chat(session: AsyncSession, channel: str, chat_id: str) -> None:
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"inbox:{channel}:{chat_id}"})


async def take(session: AsyncSession, claim: Claim) -> bool:
    """In the applying transaction: lock the chat, and delete the row if it is still the chat's
    oldest. False: apply nothing (another worker took it, or an older one arrived)."""
    await lock_chat(session, claim.channel, claim.chat_id)
    first = select(InboxUpdate.id).where(InboxUpdate.channel == claim.channel, InboxUpdate.chat_id == claim.chat_id) \
        .order_by(InboxUpdate.seq, InboxUpdate.id).limit(1).scalar_subquery()
    gone = await session.execute(delete(InboxUpdate).where(InboxUpdate.id == claim.id, InboxUpdate.id == first))
    return gone.rowcount == 1  # type: ignore[attr-defined]


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
