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
# submitted but not classified: no signed B1 table for the standard yet, so they stay at
# «surveying» (core/procedure/transitions.py) until the province signs one; counted apart so
# that nobody is told these still need their Phiếu B
WAITING_RULES = "waiting_rules"


async def stage_counts(s: AsyncSession, unit: Unit, year: int) -> Counter[str]:
    """Households per stage, plus TO_REVIEW and WAITING_RULES (both also counted in their stage)."""
    rows = await s.execute(select(Review.stage, Household.status, func.count()).join(
        Household, Household.id == Review.household_id).where(
        await village_filter(s, unit), Household.review_year == year).group_by(Review.stage, Household.status))
    counts: Counter[str] = Counter()
    for stage, status, n in rows.all():
        counts[stage] += n
        if stage == Stage.LISTED and status == Status.DRAFT:
            counts[TO_REVIEW] += n
        if stage == Stage.SURVEYING and status == Status.SUBMITTED:
            counts[WAITING_RULES] += n
    return counts


def shown_apart(counts: Counter[str]) -> Counter[str]:
    """The counts as told to people: households waiting for their rules are not also «đang làm
    Phiếu B»."""
    out = Counter(counts)
    out[Stage.SURVEYING.value] -= out[WAITING_RULES]
    return +out


async def households_with_photos(s: AsyncSession, unit: Unit, year: int) -> int:
    return await s.scalar(select(func.count(func.distinct(HouseholdFile.household_id))).join(
        Household, Household.id == HouseholdFile.household_id).where(
        await village_filter(s, unit), Household.review_year == year, HouseholdFile.kind == "photo")) or 0


async def open_complaints(s: AsyncSession, unit: Unit) -> int:
    return await s.scalar(select(func.count()).select_from(Complaint).join(
        Household, Household.id == Complaint.household_id).where(
        await village_filter(s, unit), Complaint.resolved_at.is_(None))) or 0
