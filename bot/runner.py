"""What every chat channel needs between the platform and the application, written once.

- Per-chat lanes: updates of different chats run at once; updates of one chat run one after
  the other in arrival order, so "answer, then /quaylai" never runs backwards.
- Handle, then send, then mark delivered: the reply is sent only after the application
  committed it, and marked sent afterwards (in batches); `handle` returns only when all of
  that is done, so a channel confirms an update to its platform (poll offset, webhook 200)
  after it has been handled.
- Redelivery: a reply that a previous process committed but never sent is sent after a
  restart, in the chat's lane (Telegram and Zalo will not deliver the update again, so without
  this the user would never see the next question and would answer the wrong one).
- Report jobs: the reports asked for in this channel's chats are built and sent by a worker
  (core/reports/jobs.py), so a crash mid-build still delivers the report after a restart.
- Shutdown: stop taking work, finish what is in hand, write the pending delivery marks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from datetime import timedelta
from typing import Any, Protocol

from bot.app import ChatApp
from bot.jobs import ReportWorker
from core import inbox, journal
from core.chat.messages import ChatRef, Incoming, OutMessage, Reply
from core.inbox_counter import Gate

log = logging.getLogger(__name__)


class Channel(Protocol):
    """A platform adapter: it turns updates into (ChatRef, Incoming) and sends messages."""

    name: str

    async def send(self, chat_id: str, messages: list[OutMessage]) -> None: ...


class ChatLanes:
    def __init__(self) -> None:
        self._tails: dict[Hashable, asyncio.Future[None]] = {}

    async def run(self, key: Hashable, coroutine: Awaitable[Any]) -> Any:
        previous = self._tails.get(key)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[key] = mine  # registered before any await: arrival order is kept
        try:
            if previous is not None:
                await asyncio.shield(previous)
            return await coroutine
        finally:
            mine.set_result(None)
            if self._tails.get(key) is mine:
                del self._tails[key]


async def cancel_and_wait(*tasks: asyncio.Task[Any] | None) -> None:
    """Cancel the tasks and return once each has ended, cancelling again while one goes on.
    One cancel is not always enough on Python 3.11: a cancel that lands just as an inner
    `asyncio.wait_for` (a connection slot, aiohttp's read timeout) completes is swallowed
    (CPython gh-86296), and a poller that swallowed it polls on forever; a test's teardown then
    hung until CI gave up."""
    pending = {task for task in tasks if task is not None and not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        done, pending = await asyncio.wait(pending, timeout=0.5)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.debug("a task ended with %r while stopping", task.exception())


class Backoff:
    """Waits between failed polls: 1 s, doubling up to 30 s, back to 1 s after a success."""

    def __init__(self, first: float = 1.0, most: float = 30.0) -> None:
        self.first = first
        self.most = most
        self.delay = first

    def reset(self) -> None:
        self.delay = self.first

    async def wait(self, what: str, exc: Exception) -> None:
        log.warning("%s failed: %s; retrying in %.0f s", what, exc, self.delay)
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, self.most)


Present = Callable[[Reply], Awaitable[None]]
Apply = Callable[[dict[str, Any]], Awaitable[None]]
INBOX_SWEEP = 1.0  # seconds between looks for inbox rows nobody is applying
INBOX_ORPHAN_AFTER = 2.0  # seconds after which a committed row counts as left by a dead worker


class Runner:
    def __init__(self, app: ChatApp, channel: Channel) -> None:
        self.app = app
        self.channel = channel
        self.lanes = ChatLanes()
        self.reports = ReportWorker(app, channel.name, self.send)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._background: list[asyncio.Task[Any]] = []
        self._draining: dict[str, asyncio.Lock] = {}
        self._apply: Apply | None = None
        self.gate: Gate | None = None  # the bot-wide update counter, on channels that have one

    async def start(self) -> None:
        self._background = [asyncio.create_task(self._redeliver()), asyncio.create_task(self.reports.run())]

    # ----- the inbox (webhook mode, any number of workers: core/inbox.py) ----------------------

    def use_inbox(self, apply: Apply, counted: bool = False) -> None:
        """Apply committed webhook updates through `apply` (the channel's translation of a raw
        update), and look every INBOX_SWEEP seconds for rows a dead worker left. `counted`: the
        platform numbers every update of the bot one after the other (Telegram's update_id), so
        a chat's order waits for the counter (core/inbox_counter.py), not for a settle window."""
        self._apply = apply
        if counted:
            self.gate = Gate(self.app.db, self.channel.name, self.app.settings.inbox_gap_wait)
        self._background.append(asyncio.create_task(self._sweep()))

    async def receive(self, chat_id: str, update_id: str, seq: int, payload: dict[str, Any]) -> None:
        """Commit a webhook update, then apply this chat's waiting updates in order; returns once
        the update has been applied (here or by another worker)."""
        await inbox.add(self.app.db, self.channel.name, chat_id, update_id, seq, payload, counted=self.gate is not None)
        if self.gate is not None:
            self.gate.committed(seq)
        await self.drain(chat_id)

    async def count(self, seq: int) -> None:
        """A counted update with no chat (nothing to order): its id still fills the counter."""
        if self.gate is not None:
            await inbox.count(self.app.db, self.channel.name, seq)
            self.gate.committed(seq)

    async def drain(self, chat_id: str) -> None:
        lock = self._draining.setdefault(chat_id, asyncio.Lock())
        async with lock:
            try:
                while await self._apply_oldest(chat_id):
                    pass
            finally:
                if self._draining.get(chat_id) is lock and not lock._waiters:  # type: ignore[attr-defined]
                    del self._draining[chat_id]

    async def _apply_oldest(self, chat_id: str) -> bool:
        """Apply the chat's oldest row; False when none is left."""
        db, settle, gate = self.app.db, self.app.settings.inbox_settle, self.gate
        row = await inbox.oldest(db, self.channel.name, chat_id)
        if row is None:
            return False
        if gate is not None:
            if not gate.passed(row.seq):  # a smaller update id is not committed yet: it may be this chat's
                await gate.wait(row.seq, row.age)
                return True  # look again: an earlier update of this chat may have come in meanwhile
        elif row.age < settle:  # no counter: an earlier update of this chat may still be on the wire
            await asyncio.sleep(settle - row.age)
            return True
        claim = inbox.Claim(row.id, self.channel.name, chat_id, row.seq, counted=gate is not None)
        token = inbox.CURRENT.set(claim)
        try:
            assert self._apply is not None, "use_inbox first"
            await self._apply(row.payload)
        finally:
            inbox.CURRENT.reset(token)
        if not claim.skipped and not claim.committed:
            await inbox.discard(db, claim)  # handled without a transaction, or failed: answered once
        return True

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(INBOX_SWEEP)
            try:
                if self.gate is not None:
                    await self.gate.store()
                for chat_id in await inbox.waiting_chats(self.app.db, self.channel.name,
                                                         timedelta(seconds=INBOX_ORPHAN_AFTER)):
                    if chat_id not in self._draining:
                        self.background(self.drain(chat_id))
            except Exception:
                log.exception("%s: inbox sweep failed", self.channel.name)

    async def stop(self) -> None:
        await cancel_and_wait(*self._background)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.app.flush()

    # ----- updates ----------------------------------------------------------------------------

    async def handle(self, chat: ChatRef, incoming: Incoming, present: Present | None = None) -> Reply:
        """Handle one update in its chat's lane and send the reply; returns when the reply is out.
        `present` lets a channel do its own thing with the reply (edit a pressed keyboard)
        before it is sent."""
        return await self.lanes.run(chat.chat_id, self._handle(chat, incoming, present))

    async def _handle(self, chat: ChatRef, incoming: Incoming, present: Present | None) -> Reply:
        reply = await self.app.handle(chat, incoming)
        if reply.duplicate and not reply.messages:
            return reply  # nothing to send (an inbox row another worker applied, a silent group)
        if present is not None:
            await present(reply)
        await self.channel.send(chat.chat_id, reply.messages)
        self.app.delivered(chat.channel, chat.chat_id, incoming.update_id)
        return reply

    def background(self, work: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run without waiting (a poller with nothing to confirm); tracked so shutdown waits for it."""
        task = asyncio.create_task(self._logged(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _logged(self, work: Awaitable[Any]) -> Any:
        try:
            return await work
        except Exception:
            log.exception("%s: an update failed", self.channel.name)
            return None

    async def send(self, chat_id: str, messages: list[OutMessage]) -> None:
        """Send outside an update (report jobs, redelivery), still in the chat's lane."""
        await self.lanes.run(chat_id, self.channel.send(chat_id, messages))

    # ----- replies a dead process never sent ---------------------------------------------------

    async def _redeliver(self) -> int:
        """Settings.redeliver_after (RASOAT_REDELIVER_AFTER, 8 s) after start-up; replies younger
        than that are left alone, so another worker's reply in flight is not doubled."""
        after = self.app.settings.redeliver_after
        await asyncio.sleep(after)
        count = 0
        for item in await journal.undelivered(self.app.db, self.channel.name, timedelta(seconds=after)):
            try:
                await self.send(item.chat_id, item.messages)
            except Exception:
                log.exception("could not send the stored reply to %s update %s", self.channel.name, item.update_id)
                continue
            self.app.delivered(self.channel.name, item.chat_id, item.update_id)
            count += 1
        if count:
            log.warning("%s: sent %d replies that a previous process had committed but not sent",
                        self.channel.name, count)
        return count
