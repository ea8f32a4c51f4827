"""Delivery marks (core/journal.py): a batch marks exactly the replies sent, whatever else the
journal holds under the same ids."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import select

from core import journal
from core.chat.messages import ChatRef, OutMessage
from core.storage.db import Database
from core.storage.models import ProcessedUpdate


async def test_a_batch_of_marks_sets_only_the_replies_sent(db: Database) -> None:
    await db.migrate()
    rows = [("telegram", "1", "10"), ("telegram", "1", "11"), ("telegram", "2", "10"), ("zalo", "1", "10"),
            ("telegram", "3", "12")]
    async with db.transaction() as s:
        for channel, chat, update in rows:
            await journal.store(s, journal.claim(ChatRef(channel, chat, chat), update), [OutMessage("đã nhận")])
    marks = journal.DeliveryMarks(db, flush_every=3600)
    for chat, update in (("1", "10"), ("2", "10"), ("3", "12"), ("3", "99")):  # 99: no such row
        marks.mark("telegram", chat, update)
    marks.mark("telegram", "1", None)  # an update without an id is never marked
    await marks.flush()
    async with db.read() as s:
        sent = {(r.channel, r.chat_id, r.update_id) for r in (await s.scalars(select(ProcessedUpdate))).all()
                if r.delivered_at is not None}
    assert sent == {("telegram", "1", "10"), ("telegram", "2", "10"), ("telegram", "3", "12")}


async def test_marks_being_written_when_the_bot_stops_are_not_lost(db: Database) -> None:
    await db.migrate()
    async with db.transaction() as s:
        await journal.store(s, journal.claim(ChatRef("telegram", "1", "1"), "10"), [OutMessage("đã nhận")])
    marks = journal.DeliveryMarks(db, flush_every=0)
    started, release = asyncio.Event(), asyncio.Event()
    transaction = db.transaction

    @contextlib.asynccontextmanager
    async def slow() -> AsyncIterator[Any]:  # the flusher's write, held open until released
        started.set()
        await release.wait()
        async with transaction() as s:
            yield s

    db.transaction = slow  # type: ignore[method-assign]
    marks.mark("telegram", "1", "10")
    await asyncio.wait_for(started.wait(), 5)
    stopping = asyncio.create_task(marks.flush())  # at shutdown, while the write is under way
    await asyncio.sleep(0.05)
    release.set()
    await stopping
    db.transaction = transaction  # type: ignore[method-assign]
    async with db.read() as s:
        row = await s.get(ProcessedUpdate, ("telegram", "1", "10"))
    assert row is not None and row.delivered_at is not None
