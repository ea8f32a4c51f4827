"""Reports asked for in chat, as durable jobs.

The request is a row committed in the same transaction as the "đang lập báo cáo" reply, so a
crash cannot lose it. A worker claims a job for a lease, builds the files, stores the messages
to send (status 'built') and, once the channel has sent them, marks it 'sent'. A job whose
lease ran out (its worker died mid-build) is claimed again and built anew; a built job whose
sending was cut short is sent again. The workbook therefore arrives, at the latest after a
restart, and at most one extra time if a process dies between sending and marking.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.chat.messages import OutMessage
from core.storage.db import Database
from core.storage.models import ReportJob, utcnow

PENDING, RUNNING, BUILT, SENT, FAILED = "pending", "running", "built", "sent", "failed"
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class Claimed:
    id: int
    channel: str
    chat_id: str
    report_id: str
    unit_id: int
    year: int
    built: list[OutMessage] | None  # already built by an earlier attempt: only sending is left


def enqueue(session: AsyncSession, channel: str, chat_id: str, user_id: int | None, report_id: str, unit_id: int,
            year: int) -> ReportJob:
    job = ReportJob(channel=channel, chat_id=chat_id, user_id=user_id, report_id=report_id, unit_id=unit_id,
                    year=year, status=PENDING, attempts=0)
    session.add(job)
    return job


async def claim(db: Database, channels: set[str], lease: timedelta) -> Claimed | None:
    """The oldest job that is waiting, or whose worker's lease ran out; None when there is none."""
    now = utcnow()
    async with db.transaction() as s:
        query = select(ReportJob).where(
            ReportJob.channel.in_(sorted(channels)),
            or_(ReportJob.status == PENDING,
                ReportJob.status.in_((RUNNING, BUILT)) & (ReportJob.claimed_until < now)),
        ).order_by(ReportJob.id).limit(1)
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        job = await s.scalar(query)
        if job is None:
            return None
        built = [OutMessage.from_json(m) for m in job.result] if job.status == BUILT and job.result else None
        if built is None:
            job.attempts += 1
            if job.attempts > MAX_ATTEMPTS:
                job.status, job.error, job.finished_at = FAILED, "too many attempts", now
                return None
            job.status = RUNNING
        job.claimed_until = now + lease
        return Claimed(job.id, job.channel, job.chat_id, job.report_id, job.unit_id, job.year, built)


async def renew(db: Database, job_id: int, lease: timedelta) -> None:
    async with db.transaction() as s:
        await s.execute(update(ReportJob).where(ReportJob.id == job_id).values(claimed_until=utcnow() + lease))


async def built(db: Database, job_id: int, messages: list[OutMessage], lease: timedelta) -> None:
    async with db.transaction() as s:
        await s.execute(update(ReportJob).where(ReportJob.id == job_id).values(
            status=BUILT, result=[m.to_json() for m in messages], claimed_until=utcnow() + lease))


async def finish(db: Database, job_id: int, status: str = SENT, error: str | None = None) -> None:
    async with db.transaction() as s:
        await s.execute(update(ReportJob).where(ReportJob.id == job_id).values(
            status=status, error=error[:300] if error else None, finished_at=utcnow()))


async def waiting(db: Database) -> int:
    from sqlalchemy import func

    async with db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(ReportJob).where(
            ReportJob.status.in_((PENDING, RUNNING, BUILT)))) or 0)
