"""Where a plan stands: each notice it implies (waiting, fired or missed, and how many of its
messages were sent) and each report request's submissions, for `rasoat plan` and officials."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.plans.model import Plan
from core.plans.timeline import Notice, notices
from core.storage.models import NoticeRun, OutboxMessage, ReportSubmission


@dataclass(frozen=True)
class NoticeStatus:
    notice: Notice
    status: str | None  # None: not yet due; fired | missed
    recipients: int
    sent: int


@dataclass(frozen=True)
class RequestStatus:
    key: str
    due: date
    submissions: int


@dataclass(frozen=True)
class PlanStatus:
    notices: list[NoticeStatus]
    requests: list[RequestStatus]


async def plan_status(session: AsyncSession, plan: Plan) -> PlanStatus:
    runs = {r.key: r for r in (await session.scalars(select(NoticeRun).where(NoticeRun.plan_id == plan.id))).all()}
    sent = dict((await session.execute(select(OutboxMessage.notice_key, func.count()).where(
        OutboxMessage.status == "sent").group_by(OutboxMessage.notice_key))).all())
    out = []
    for notice in notices(plan):
        run = runs.get(notice.key)
        out.append(NoticeStatus(notice, run.status if run else None, run.recipients if run else 0,
                                sent.get(notice.key, 0)))
    counts = dict((await session.execute(select(ReportSubmission.request_key, func.count()).group_by(
        ReportSubmission.request_key))).all())
    requests = [RequestStatus(plan.request_key(r), r.due, counts.get(plan.request_key(r), 0)) for r in plan.reports]
    return PlanStatus(out, requests)
