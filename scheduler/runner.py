"""The scheduler process: APScheduler 3.x timers around the dispatcher and the outbox.

Jobs and why their settings are what they are:

* one DateTrigger job per future notice (id = notice key). `misfire_grace_time` is the plan's
  catch-up window: if the event loop was stalled past the notice time it still runs, up to that
  window; `coalesce=True`, `max_instances=1`. The job fires the notice (idempotent: the notice's
  run row) and drains the outbox at once.
* at start-up, before any timer, `Dispatcher.run_due(now)` fires what came due while the
  process was down (within the same window; older notices are recorded as missed). Jobs are
  kept in memory and rebuilt from the plan files at every start, so no job store can drift from
  the plans, and nothing is lost: what matters across restarts is in the database.
* "outbox": IntervalTrigger, retries deferred deliveries; `coalesce=True` and `max_instances=1`
  so a long pause yields one catch-up run, not a burst; `misfire_grace_time=None`.
* "catch-up": IntervalTrigger, `run_due(now)` again: covers clock jumps and a notice whose
  timer was lost; cheap because it only reads which keys are done.
* "prune": daily, deletes what is kept only for a while (core.retention): report files older
  than a link lives, stored replies after RASOAT_REPLY_HOURS, processed-update records and
  finished outbox rows after RASOAT_RETENTION_DAYS.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from core.config import Settings
from core.delivery import Sender
from core.plans.model import Plan
from core.plans.timeline import Notice
from core.retention import Pruned, Retention, prune_records, prune_reports
from core.storage.db import Database
from scheduler.clock import Clock, SystemClock
from scheduler.dispatch import Dispatcher
from scheduler.lock import SchedulerLock
from scheduler.outbox import Outbox

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, db: Database, plans: list[Plan], senders: Mapping[str, Sender], clock: Clock | None = None,
                 outbox_every: float = 30, catch_up_every: float = 600, retention: Retention | None = None) -> None:
        self.db = db
        self.retention = retention or Retention.of(Settings.from_env())
        self.clock = clock or SystemClock()
        self.dispatcher = Dispatcher(db, plans)
        self.outbox = Outbox(db, senders)
        self.lock = SchedulerLock(db)
        self.outbox_every = outbox_every
        self.catch_up_every = catch_up_every
        self.aps = AsyncIOScheduler(timezone=UTC)

    async def start(self) -> bool:
        """Take the lock and start; False (and nothing started) if another process has it."""
        if not await self.lock.acquire():
            log.info("another process runs the scheduler; this one only serves chats")
            return False
        await self.tick()
        if isinstance(self.clock, SystemClock):
            # Timers run on the real clock; a drill or test clock is driven by tick() instead.
            now = self.clock.now()
            for notice in self.dispatcher.timeline:
                if notice.fire_at > now:
                    self._add_notice_job(notice)
        self.aps.add_job(self.drain, IntervalTrigger(seconds=self.outbox_every), id="outbox",
                         coalesce=True, max_instances=1, misfire_grace_time=None)
        self.aps.add_job(self.tick, IntervalTrigger(seconds=self.catch_up_every), id="catch-up",
                         coalesce=True, max_instances=1, misfire_grace_time=None)
        self.aps.add_job(self.prune, CronTrigger(hour=3, minute=17, timezone=UTC), id="prune",
                         coalesce=True, max_instances=1, misfire_grace_time=None)
        self.aps.start()
        return True

    def _add_notice_job(self, notice: Notice) -> None:
        self.aps.add_job(self.fire, DateTrigger(run_date=notice.fire_at), args=[notice.key], id=notice.key,
                         coalesce=True, max_instances=1,
                         misfire_grace_time=max(1, int(notice.plan.catch_up.total_seconds())))

    async def stop(self) -> None:
        if self.aps.running:
            self.aps.shutdown(wait=False)
        await self.lock.release()

    async def tick(self) -> int:
        """Fire whatever is due by the clock, then deliver."""
        fired = await self.dispatcher.run_due(self.clock.now())
        await self.drain()
        return fired

    async def fire(self, key: str) -> None:
        notice = self.dispatcher.by_key[key]
        await self.dispatcher.fire(notice, self.clock.now())
        await self.drain()

    async def drain(self) -> None:
        result = await self.outbox.drain()
        if result.sent or result.failed or result.deferred:
            log.info("outbox: %d sent, %d failed, %d deferred", result.sent, result.failed, result.deferred)

    async def prune(self, now: datetime | None = None) -> Pruned:
        now = now or datetime.now(UTC)
        async with self.db.transaction() as s:
            result = await prune_records(s, self.retention, now)
        result.reports = prune_reports(self.retention.reports, self.retention.link_lifetime, now)
        log.info("prune: %d reports, %d replies, %d update records, %d outbox rows", result.reports,
                 result.replies, result.updates, result.outbox)
        return result
