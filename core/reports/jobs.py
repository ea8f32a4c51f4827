"""Reports asked for in chat, as durable jobs.

The request is a row committed in the same transaction as the "đang lập báo cáo" reply, so a
crash cannot lose it. A worker claims a job for a lease, builds the files, stores the messages
to send (status 'built') and, once the channel has sent them, marks it 'sent'. A job whose
lease ran out (its worker died mid-build) is claimed again and built anew; a built job whose
sending was cut short is sent again. The workbook therefore arrives, at the latest after a
restart, and at most one extra time if a process dies between sending and marking.

A job is built once: each attempt builds into a folder of its own (reports/.building/<job>-<n>),
and its files become the job's (reports/job-<id>/) only in the transaction that marks the job
built, and only if that attempt still holds the job (it is the job's latest attempt, still
running). An attempt that lost its lease, or whose process was killed, leaves nothing under a
name anyone is sent; the attempt that publishes clears the others' folders (and the daily
prune of reports/ whatever a job that failed for good left).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Update, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.chat.messages import OutMessage
from core.private import private_dir
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
    attempt: int = 0  # which attempt this claim is: only the job's latest may publish its files


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
        return Claimed(job.id, job.channel, job.chat_id, job.report_id, job.unit_id, job.year, built, job.attempts)


async def renew(db: Database, job_id: int, lease: timedelta, attempt: int) -> None:
    """Extend the lease, only while that attempt still holds the job."""
    async with db.transaction() as s:
        await s.execute(update(ReportJob).where(ReportJob.id == job_id, ReportJob.attempts == attempt)
                        .values(claimed_until=utcnow() + lease))


def staging(reports: Path, job: Claimed) -> Path:
    """This attempt's own folder to build in (reports/.building/<job>-<attempt>), empty."""
    building = private_dir(private_dir(reports) / ".building")
    folder = building / f"{job.id}-{job.attempt}"
    shutil.rmtree(folder, ignore_errors=True)
    return private_dir(folder)


def published(reports: Path, job_id: int) -> Path:
    """Where a job's files are, once built: one folder per job, so a job has one copy."""
    return reports / f"job-{job_id}"


def _while_held(job: Claimed) -> Update:
    """An UPDATE of the job that touches it only while this attempt still holds it (a later
    attempt, after a lease ran out, has another number)."""
    return update(ReportJob).where(ReportJob.id == job.id, ReportJob.attempts == job.attempt,
                                   ReportJob.status == RUNNING)


async def publish(db: Database, job: Claimed, staged: Path, folder: Path, messages: list[OutMessage],
                  lease: timedelta) -> bool:
    """Mark the job built with `messages` and move the attempt's files to the job's folder, in
    one transaction, if this attempt still holds the job; False (nothing moved) otherwise. A
    crash between the move and the commit leaves the folder to the next attempt, which replaces
    it whole: never a second copy."""
    async with db.transaction() as s:
        held = await s.execute(_while_held(job).values(
            status=BUILT, result=[m.to_json() for m in messages], claimed_until=utcnow() + lease))
        if held.rowcount != 1:  # type: ignore[attr-defined]
            return False
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staged, folder)
    for left in staged.parent.glob(f"{job.id}-*"):  # what killed or overtaken attempts wrote
        shutil.rmtree(left, ignore_errors=True)
    return True


async def fail(db: Database, job: Claimed, error: str) -> bool:
    """Mark the job failed if this attempt still holds it; False if another attempt does."""
    async with db.transaction() as s:
        held = await s.execute(_while_held(job).values(status=FAILED, error=error[:300], finished_at=utcnow()))
        return held.rowcount == 1  # type: ignore[attr-defined]


async def finish(db: Database, job_id: int) -> None:
    """The job's messages were sent."""
    async with db.transaction() as s:
        await s.execute(update(ReportJob).where(ReportJob.id == job_id).values(status=SENT, finished_at=utcnow()))


async def waiting(db: Database, channel: str | None = None, chat_id: str | None = None) -> int:
    """Jobs not yet sent (of one chat, when named)."""
    query = select(func.count()).select_from(ReportJob).where(ReportJob.status.in_((PENDING, RUNNING, BUILT)))
    if channel is not None and chat_id is not None:
        query = query.where(ReportJob.channel == channel, ReportJob.chat_id == chat_id)
    async with db.read() as s:
        return int(await s.scalar(query) or 0)
