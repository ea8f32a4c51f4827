"""How many households stand at each step of the procedure, for '/viecchotoi' and '/tiendo'.

Counts only, no names: the figures a village head, a commune or a province sees of the
procedure, from one grouped query each."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.households import Status
from core.procedure.models import Complaint, HouseholdFile, Review
from core.procedure.steps import Stage
from core.storage.models import Household, Unit
from core.units.scope import village_filter

TO_REVIEW = "to_review"  # last year's households whose Phiếu B is still a draft


async def stage_counts(s: AsyncSession, unit: Unit, year: int) -> Counter[str]:
    """Households per stage, plus TO_REVIEW."""
    rows = await s.execute(select(Review.stage, Household.status, func.count()).join(
        Household, Household.id == Review.household_id).where(
        await village_filter(s, unit), Household.review_year == year).group_by(Review.stage, Household.status))
    counts: Counter[str] = Counter()
    for stage, status, n in rows.all():
        counts[stage] += n
        if stage == Stage.LISTED and status == Status.DRAFT:
            counts[TO_REVIEW] += n
    return counts


async def households_with_photos(s: AsyncSession, unit: Unit, year: int) -> int:
    return await s.scalar(select(func.count(func.distinct(HouseholdFile.household_id))).join(
        Household, Household.id == HouseholdFile.household_id).where(
        await village_filter(s, unit), Household.review_year == year, HouseholdFile.kind == "photo")) or 0


async def open_complaints(s: AsyncSession, unit: Unit) -> int:
    return await s.scalar(select(func.count()).select_from(Complaint).join(
        Household, Household.id == Complaint.household_id).where(
        await village_filter(s, unit), Complaint.resolved_at.is_(None))) or 0
