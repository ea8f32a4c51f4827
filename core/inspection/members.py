"""What a team member is told when their inspection does not reach a commune today: that they
belong to no inspection, that it is closed, or on which days it runs."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.i18n import fmt_date, t
from core.inspection.scope import member_inspections
from core.storage.models_inspection import Inspection


async def scope_refusal(s: AsyncSession, user_id: int, day: date) -> str:
    last = await s.scalar(select(Inspection).where(Inspection.id.in_(member_inspections(user_id)))
                          .order_by(Inspection.id.desc()).limit(1))
    if last is None:
        return t("insp_scope_none")
    if last.closed_at is not None:
        return t("insp_scope_closed")
    return t("insp_scope_dates", start=fmt_date(last.starts_on), end=fmt_date(last.ends_on), today=fmt_date(day))
