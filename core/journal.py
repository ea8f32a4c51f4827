"""The journal of processed updates: what makes a re-delivered update change nothing, and a
reply committed but never sent get sent after a restart.

An update is claimed in the transaction that applies it (the row is inserted first, so a
concurrent duplicate waits on it and then fails); the reply is stored with it; once the
channel has sent the reply, the update is marked delivered. Keys are (channel, chat, update
id): an id is only unique within one platform's stream for one bot, and a stranger who reuses
another chat's id must never be handed that chat's stored reply. An update without an id is
never deduplicated against another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import JSON, bindparam, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.chat.messages import ChatRef, OutMessage
from core.storage.db import Database
from core.storage.models import ProcessedUpdate, utcnow
from core.storage.sealed import open_blob, seal_blob

DELIVERY_FLUSH = 1.0  # seconds between writes of delivery marks


@dataclass(frozen=True)
class Undelivered:
    chat_id: str
    update_id: str
    messages: list[OutMessage]


@dataclass(frozen=True)
class Claim:
    """The key of an update's journal row. A plain record, not an ORM ProcessedUpdate: it is
    never added to a session, and making an instrumented object cost CPU on every update."""

    channel: str
    chat_id: str
    update_id: str


def claim(chat: ChatRef, update_id: str | None) -> Claim:
    """The journal row of this update, written by `store` with the reply at the end of the
    transaction that applies the update: one INSERT, and no read first. A re-delivered update
    fails that INSERT on the primary key (a concurrent one waits on the first's row and then
    fails), its whole transaction is rolled back, and the caller answers with the stored reply
    (bot/app.py). Before, the row was read, inserted, then updated with the reply: three
    statements on every update for the rare duplicate."""
    return Claim(chat.channel, chat.chat_id, update_id or "")


_INSERT = insert(ProcessedUpdate).values(channel=bindparam("channel"), chat_id=bindparam("chat"),
                                         update_id=bindparam("update"), reply=bindparam("reply", type_=JSON),
                                         at=bindparam("at"))  # one compiled statement for every update


async def store(session: AsyncSession, record: Claim, messages: Sequence[OutMessage]) -> None:
    """Write the row with its reply, last in the transaction; an update without an id is never
    stored."""
    if not record.update_id:
        return
    reply = [m.to_json() for m in messages]
    conn = await session.connection()
    await conn.execute(_INSERT, {"channel": record.channel, "chat": record.chat_id, "update": record.update_id,
                                 "reply": seal_blob(session.info, reply), "at": utcnow()})


def reply_of(session: AsyncSession, row: ProcessedUpdate) -> list[dict[str, Any]] | None:
    """The stored reply as sent (it is sealed at rest: it can show an ID number back)."""
    return open_blob(session.info, row.reply)


async def stored_reply(db: Database, chat: ChatRef, update_id: str) -> list[OutMessage] | None:
    async with db.read() as s:
        seen = await s.get(ProcessedUpdate, (chat.channel, chat.chat_id, update_id))
        return None if seen is None else [OutMessage.from_json(m) for m in reply_of(s, seen) or []]


async def undelivered(db: Database, channel: str, older_than: timedelta,
                      newer_than: timedelta = timedelta(days=1)) -> list[Undelivered]:
    """Replies committed but never sent (the process died in between), oldest first."""
    now = utcnow()
    async with db.read() as s:
        rows = (await s.scalars(select(ProcessedUpdate).where(
            ProcessedUpdate.channel == channel, ProcessedUpdate.delivered_at.is_(None),
            ProcessedUpdate.reply.is_not(None), ProcessedUpdate.at < now - older_than,
            ProcessedUpdate.at > now - newer_than).order_by(ProcessedUpdate.at))).all()
        return [Undelivered(r.chat_id, r.update_id, [OutMessage.from_json(m) for m in reply_of(s, r) or []])
                for r in rows]


_ROWS = ProcessedUpdate.__table__.c
# One compiled statement for any number of marks (an expanding IN of (chat, update) pairs, on
# the table: no ORM evaluation of the criteria against the session). An OR of one AND per mark
# was compiled anew at every flush, and evaluated by the ORM: a few per cent of the bot's CPU at
# 20 users answering at once (bench section 1, py-spy).
_MARK = update(ProcessedUpdate.__table__).where(
    _ROWS.channel == bindparam("of_channel"), _ROWS.delivered_at.is_(None),
    tuple_(_ROWS.chat_id, _ROWS.update_id).in_(bindparam("keys", expanding=True))).values(
    delivered_at=bindparam("sent_at"))


class DeliveryMarks:
    """Marks replies as sent in batches (one UPDATE every DELIVERY_FLUSH seconds), so a reply
    costs no second write transaction; a crash loses at most that window of marks, and those
    replies are sent once more."""

    def __init__(self, db: Database, flush_every: float = DELIVERY_FLUSH) -> None:
        self.db = db
        self.flush_every = flush_every
        self._pending: dict[str, set[tuple[str, str]]] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._waiting = False  # the flusher is still in its sleep (a cancel there loses nothing)

    def mark(self, channel: str, chat_id: str, update_id: str | None) -> None:
        if update_id is None:
            return
        self._pending.setdefault(channel, set()).add((chat_id, update_id))
        if self._flusher is None or self._flusher.done():
            self._waiting = True  # from now: a task not started yet has written nothing either
            self._flusher = asyncio.create_task(self._flush(self.flush_every))

    async def _flush(self, wait: float = 0.0) -> None:
        try:
            await asyncio.sleep(wait)
        finally:
            self._waiting = False
        pending, self._pending = self._pending, {}
        for channel, keys in pending.items():
            async with self.db.transaction() as s:
                await s.execute(_MARK, {"of_channel": channel, "keys": sorted(keys), "sent_at": utcnow()})

    async def flush(self) -> None:
        """Write pending marks now (at shutdown). A flusher already writing is waited for, not
        cancelled: cancelled mid-transaction, the marks it had taken were lost (those replies
        would be sent again after a restart) and its connection's close was interrupted."""
        if self._flusher is not None and not self._flusher.done():
            if self._waiting:
                self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        await self._flush()
