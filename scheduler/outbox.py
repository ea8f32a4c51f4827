"""Delivering queued notices through the channels, within the platforms' limits.

Each row is marked sent in its own transaction right after the platform accepted it, so a
restart re-sends nothing that was acknowledged. The one window left is a crash between the
platform's acceptance and that commit (one HTTP round trip): the row is then sent again on
restart. Telegram has no idempotency key that could close it; a duplicate notice is the
lesser harm next to a lost deadline.

Chats are served concurrently and each chat's rows in order; the channel paces its own calls
(python-telegram-bot's AIORateLimiter: 30 messages/s, 20 per minute per group, retry after
429). When the platform still says "retry after N s", the row waits N s and the rest of that
chat's queue waits behind it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from core.chat.messages import OutMessage
from core.delivery import Sender, SendError
from core.storage.db import Database
from core.storage.models import OutboxMessage

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
BATCH = 1000


@dataclass
class DrainResult:
    sent: int = 0
    failed: int = 0
    deferred: int = 0


def _now() -> datetime:
    return datetime.now(UTC)


class Outbox:
    def __init__(self, db: Database, senders: Mapping[str, Sender], concurrency: int = 32) -> None:
        self.db = db
        self.senders = senders
        self.concurrency = concurrency
        self._lock = asyncio.Lock()

    async def pending(self) -> int:
        async with self.db.read() as s:
            return int(await s.scalar(select(func.count()).select_from(OutboxMessage)
                                      .where(OutboxMessage.status == "pending")) or 0)

    async def drain(self) -> DrainResult:
        """Send everything that is due, batch after batch, until nothing due is left."""
        async with self._lock:  # one drain at a time in a process (timer and notice firing)
            total = DrainResult()
            while True:
                rows = await self._due()
                if not rows:
                    return total
                result = await self._send_batch(rows)
                total.sent += result.sent
                total.failed += result.failed
                total.deferred += result.deferred
                if result.sent == 0 and result.failed == 0:
                    return total  # everything left is waiting for a retry time

    async def _due(self) -> list[OutboxMessage]:
        async with self.db.read() as s:
            rows = await s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= _now(),
                       OutboxMessage.channel.in_(list(self.senders)))
                .order_by(OutboxMessage.id).limit(BATCH))
            return list(rows.all())

    async def _send_batch(self, rows: list[OutboxMessage]) -> DrainResult:
        by_chat: dict[tuple[str, str], list[OutboxMessage]] = {}
        for row in rows:
            by_chat.setdefault((row.channel, row.chat_id), []).append(row)
        result = DrainResult()
        gate = asyncio.Semaphore(self.concurrency)

        async def serve(chat_rows: list[OutboxMessage]) -> None:
            async with gate:
                for row in chat_rows:
                    if not await self._send_one(row, result):
                        break  # keep the chat's order: the rest waits behind a deferred row

        await asyncio.gather(*(serve(r) for r in by_chat.values()))
        return result

    async def _send_one(self, row: OutboxMessage, result: DrainResult) -> bool:
        sender = self.senders[row.channel]
        try:
            await sender.deliver(row.chat_id, OutMessage.from_json(row.message))
        except SendError as exc:
            return await self._failed(row, exc, result)
        except Exception as exc:  # a network error or a bug: retry later, never drop silently
            log.exception("delivery of outbox row %s failed", row.id)
            return await self._failed(row, SendError(f"{type(exc).__name__}: {exc}"), result)
        async with self.db.transaction() as s:
            await s.execute(update(OutboxMessage).where(OutboxMessage.id == row.id)
                            .values(status="sent", sent_at=_now(), attempts=row.attempts + 1, error=None))
        result.sent += 1
        return True

    async def _failed(self, row: OutboxMessage, exc: SendError, result: DrainResult) -> bool:
        attempts = row.attempts + 1
        gave_up = exc.permanent or attempts >= MAX_ATTEMPTS
        if gave_up:
            values = {"status": "failed", "attempts": attempts, "error": exc.reason[:300]}
            result.failed += 1
            log.warning("outbox row %s to %s:%s failed for good: %s", row.id, row.channel, row.chat_id, exc.reason)
        else:
            wait = exc.retry_after if exc.retry_after is not None else min(3600, 5 * 2 ** attempts)
            values = {"attempts": attempts, "error": exc.reason[:300],
                      "next_attempt_at": _now() + timedelta(seconds=wait)}
            result.deferred += 1
        async with self.db.transaction() as s:
            await s.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(**values))
        return gave_up  # a chat that refuses one message may take the next; a deferred one holds the queue
