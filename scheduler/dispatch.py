"""Firing plan notices: each notice once, whatever restarts happen.

Firing is one transaction that inserts the notice's run row (primary key = notice key) and
one outbox row per recipient chat. If the process dies before the commit, nothing happened
and the notice fires on the next start; after the commit the run row makes any later timer,
catch-up or second scheduler a no-op. Sending is the outbox's job.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.plans.model import Plan
from core.plans.notices import Delivery, deliveries
from core.plans.timeline import Notice, notices
from core.storage.db import Database
from core.storage.models import NoticeRun, OutboxMessage

log = logging.getLogger(__name__)


class Dispatcher:
    def __init__(self, db: Database, plans: Iterable[Plan]) -> None:
        self.db = db
        self.plans = list(plans)
        self.timeline = sorted((n for p in self.plans for n in notices(p)), key=lambda n: (n.fire_at, n.key))
        self.by_key = {n.key: n for n in self.timeline}

    async def done_keys(self) -> set[str]:
        async with self.db.read() as s:
            rows = await s.scalars(select(NoticeRun.key).where(NoticeRun.plan_id.in_([p.id for p in self.plans])))
            return set(rows.all())

    async def run_due(self, now: datetime) -> int:
        """Fire every notice whose time has come and that has not been dealt with: at start-up
        (catch-up after downtime) and on every tick. Returns how many were fired."""
        done = await self.done_keys()
        fired = 0
        for notice in self.timeline:
            if notice.fire_at > now:
                break
            if notice.key not in done and await self.fire(notice, now):
                fired += 1
        return fired

    async def fire(self, notice: Notice, now: datetime) -> bool:
        """Queue the notice for its recipients, or record it as missed when it is later than the
        plan's catch-up window allows (a 'phase starts today' message a week late misleads)."""
        late = now - notice.fire_at
        try:
            async with self.db.transaction() as s:
                if await s.get(NoticeRun, notice.key) is not None:
                    return False
                if late > notice.plan.catch_up:
                    s.add(NoticeRun(key=notice.key, plan_id=notice.plan.id, kind=notice.kind,
                                    fire_at=notice.fire_at, fired_at=now, status="missed", recipients=0))
                    log.warning("notice %s missed: %s late, catch-up window %s", notice.key, late,
                                notice.plan.catch_up)
                    return False
                targets = await deliveries(s, notice, now)
                s.add(NoticeRun(key=notice.key, plan_id=notice.plan.id, kind=notice.kind, fire_at=notice.fire_at,
                                fired_at=now, status="fired", recipients=len(targets)))
                s.add_all(OutboxMessage(notice_key=notice.key, channel=d.channel, chat_id=d.chat_id,
                                        message=d.message.to_json(), status="pending", attempts=0)
                          for d in _unique(targets))
        except IntegrityError:
            return False  # another scheduler fired it at the same moment
        log.info("notice %s fired to %d chats", notice.key, len(targets))
        return True


    async def preview(self, now: datetime) -> list[Preview]:
        """What run_due(now) would do, computed the same way and written nowhere: the scheduler
        drill (`rasoat scheduler --dry-run`) on a real database."""
        done = await self.done_keys()
        out: list[Preview] = []
        async with self.db.read() as s:
            for notice in self.timeline:
                if notice.fire_at > now:
                    break
                if notice.key in done:
                    continue
                if now - notice.fire_at > notice.plan.catch_up:
                    out.append(Preview(notice, None))
                    continue
                out.append(Preview(notice, _unique(await deliveries(s, notice, now))))
        return out


@dataclass(frozen=True)
class Preview:
    notice: Notice
    deliveries: list[Delivery] | None  # None: too late, would be recorded as missed


def _unique(targets: list[Delivery]) -> list[Delivery]:
    """One message per chat per notice, even if a chat is bound twice over."""
    seen: set[tuple[str, str]] = set()
    out: list[Delivery] = []
    for d in targets:
        if (d.channel, d.chat_id) not in seen:
            seen.add((d.channel, d.chat_id))
            out.append(d)
    return out
