"""The bot-wide update counter: how several workers order a chat's updates by Telegram's
update_id instead of by timing.

Telegram numbers a bot's updates one after the other, so that a webhook "can restore the
correct update sequence, should they get out of order" (Bot API, Update). A webhook update is
committed to the inbox together with its id (`inbox_seen`). An update with id N is applied
only once every id below N has been committed somewhere: by then each earlier update of its
chat is in the inbox, and the inbox applies a chat's oldest first (core/inbox.py). So two
racing webhook calls of one chat are applied in the user's order however late the earlier one
reaches the database. The first id not yet committed is the channel's *mark*.

An id that never comes (Telegram could not deliver it yet, or skipped it) holds the mark for
RASOAT_INBOX_GAP_WAIT seconds (5 s), measured from the waiting update's commit; then it is
given up: the floor jumps over it, and if it comes after all and its chat has applied a newer
update meanwhile, it is refused as late (core/inbox.py), never applied to the wrong question.
After an hour without updates the floor starts again from the next id (Telegram picks a new
random id after a week of silence).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.storage.db import Database
from core.storage.driver import Step
from core.storage.models import utcnow
from core.storage.models_inbox import InboxFloor, InboxSeen

log = logging.getLogger(__name__)
POLL = 0.02  # seconds between reads of the counter while an update waits for a smaller id
STORE_EVERY = 1.0  # seconds between writes of the floor (which also prunes inbox_seen)
IDLE_RESET = timedelta(hours=1)  # a floor that has not moved for this long starts again at the next id
READ_LIMIT = 10_000


def _insert(session: AsyncSession):  # type: ignore[no-untyped-def]
    return sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert


def _seen_insert(insert_of: Any) -> Any:
    return insert_of(InboxSeen).values(channel=bindparam("s_channel"), seq=bindparam("s_seq")).on_conflict_do_nothing()


# What committing an update's id writes, with named values (seen_steps), run on the database
# driver in the transaction that commits the update (core/inbox.py add, count).
SEEN = {"sqlite": _seen_insert(sqlite_insert), "postgresql": _seen_insert(pg_insert)}
_FLOOR = InboxFloor.__table__
FLOOR_RESET = update(_FLOOR).where(_FLOOR.c.channel == bindparam("s_channel"), _FLOOR.c.at < bindparam(
    "s_idle_before")).values(seq=bindparam("s_seq"), at=bindparam("s_at")).returning(_FLOOR.c.channel)
_SEEN_TABLE = InboxSeen.__table__
SEEN_CLEARED = delete(_SEEN_TABLE).where(_SEEN_TABLE.c.channel == bindparam("s_channel"),
                                        _SEEN_TABLE.c.seq != bindparam("s_seq"))


def seen_steps(dialect: str, channel: str, seq: int) -> list[Step]:
    """Record the id, and start the floor again from it after a long silence (the ids seen
    before are dropped then)."""
    now = utcnow()
    values = {"s_channel": channel, "s_seq": seq, "s_at": now, "s_idle_before": now - IDLE_RESET}
    return [Step(SEEN[dialect], values), Step(FLOOR_RESET, values), Step(SEEN_CLEARED, values, if_rows=True)]


async def mark(db: Database, channel: str, known: int | None = None) -> int | None:
    """The first id not yet committed (every smaller one is, or was given up on); None before
    the first update. `known` is a mark this process already holds: reading starts there."""
    async with db.read() as s:
        floor = await s.scalar(select(InboxFloor.seq).where(InboxFloor.channel == channel))
        start = max((v for v in (floor, known) if v is not None), default=None)
        query = select(InboxSeen.seq).where(InboxSeen.channel == channel)
        if start is not None:
            query = query.where(InboxSeen.seq >= start)
        ids = list((await s.scalars(query.order_by(InboxSeen.seq).limit(READ_LIMIT))).all())
    if start is None:
        if not ids:
            return None
        start = ids[0]  # the first update this store has seen
    first_missing = start
    for seq in ids:
        if seq > first_missing:
            break
        first_missing = seq + 1
    return first_missing


async def advance(db: Database, channel: str, to: int) -> None:
    """Move the floor up to `to` (never down) and forget the ids below it."""
    now = utcnow()
    async with db.transaction() as s:
        table = InboxFloor.__table__
        await s.execute(_insert(s)(InboxFloor).values(channel=channel, seq=to, at=now).on_conflict_do_update(
            index_elements=[table.c.channel], set_={"seq": to, "at": now}, where=table.c.seq < to))
        await s.execute(delete(InboxSeen).where(InboxSeen.channel == channel, InboxSeen.seq < to))


class Gate:
    """One channel's counter as this process knows it. `passed(n)` is cheap (the cached mark);
    `wait` reads the store every POLL seconds, one read shared by every waiting update."""

    def __init__(self, db: Database, channel: str, gap_wait: float) -> None:
        self.db = db
        self.channel = channel
        self.gap_wait = gap_wait
        self.mark: int | None = None
        self._stored: int | None = None
        self._stored_at = 0.0
        self._active = 0.0
        self._read: asyncio.Task[None] | None = None

    def _now(self) -> float:
        now = asyncio.get_running_loop().time()
        if now - self._active > IDLE_RESET.total_seconds():
            self.mark = None  # after a silence the counter may have started again elsewhere: read it
        self._active = now
        return now

    def passed(self, seq: int) -> bool:
        """Every id below `seq` has been committed (or given up on)."""
        self._now()
        return self.mark is not None and seq <= self.mark

    def committed(self, seq: int) -> None:
        """This process committed or applied `seq`: the mark moves on without a read."""
        if self.mark == seq:
            self.mark = seq + 1

    async def wait(self, seq: int, age: float) -> None:
        """Return once every id below `seq` is committed, or once the update has waited
        `gap_wait` seconds since its commit (`age` of them are gone already): then the
        missing ids are given up."""
        deadline = self._now() + max(0.0, self.gap_wait - age)
        while not self.passed(seq):
            left = deadline - self._now()
            if left <= 0:
                log.warning("%s: update ids below %d still missing after %.1f s; going on without them",
                            self.channel, seq, self.gap_wait)
                await advance(self.db, self.channel, seq)
                self.mark = max(seq, self.mark or seq)
                return
            if self._read is None or self._read.done():
                self._read = asyncio.create_task(self._refresh())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._read), left)

    async def _refresh(self) -> None:
        await asyncio.sleep(POLL)
        try:
            found = await mark(self.db, self.channel, self.mark)
            if found is not None and (self.mark is None or found > self.mark):
                self.mark = found
            await self.store()
        except Exception:
            log.exception("%s: reading the update counter failed", self.channel)

    async def store(self) -> None:
        """Write the mark as the floor, at most every STORE_EVERY seconds (the inbox sweep calls
        this too): it prunes the seen ids and lets a new worker start from there."""
        now = asyncio.get_running_loop().time()
        if self.mark is None or (self._stored is not None and self.mark <= self._stored) \
                or now - self._stored_at < STORE_EVERY:
            return
        self._stored, self._stored_at = self.mark, now
        await advance(self.db, self.channel, self.mark)
