"""Per-commune counts of one review year, in a few grouped queries: what the proposal ranks
communes by and what an inspection report prints. Counts only, never a name.

A household's class "before" is its class at the start of the period as every other output
reads it (`core.procedure.start_class`: last year's imported list, else the Phiếu B's answer);
"after" is this year's classification.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.households import PriorClass, Status
from core.procedure.models import Complaint, Review
from core.procedure.start_class import start_class_column
from core.storage.models import Household, Unit

CLASSES = (PriorClass.POOR.value, PriorClass.NEAR_POOR.value, PriorClass.NONE.value)


def class_of(outcome: str | None) -> str:
    """This year's outcome as a class comparable with `prior_class`: poor, near_poor or none."""
    return outcome if outcome in (PriorClass.POOR, PriorClass.NEAR_POOR) else PriorClass.NONE.value


@dataclass(frozen=True)
class CommuneCounts:
    commune_id: int
    resident: int | None  # resident households: the villages' totals when every village's is
    # known (a partial sum would inflate the rates, as in the reports), else the commune's own
    submitted: int = 0
    drafts: int = 0
    poor_before: int = 0
    near_before: int = 0
    poor_after: int = 0
    near_after: int = 0
    prior_known: int = 0  # submitted households whose class at the period's start is recorded
    changed: int = 0  # ... and whose class differs now
    left_poverty: int = 0  # poor before, not poor now (near-poor or neither): "thoát nghèo"
    entered_poverty: int = 0  # not poor before, poor now: "hộ nghèo mới"
    left_near: int = 0  # near-poor before, neither now: "thoát cận nghèo"
    entered_near: int = 0  # neither before, near-poor now: "cận nghèo mới" (a poor household that
    # becomes near-poor is counted as leaving poverty, not as new near-poor [assumption])
    complaints: int = 0
    complaints_open: int = 0

    @property
    def base(self) -> int:
        """What rates are shares of: resident households when known, else those surveyed."""
        return self.resident or self.submitted

    def rate(self, count: int) -> float | None:
        return round(100.0 * count / self.base, 2) if self.base else None

    @property
    def surveyed_share(self) -> float:
        if self.resident:
            return self.submitted / self.resident
        total = self.submitted + self.drafts
        return self.submitted / total if total else 0.0

    @property
    def rate_change(self) -> float | None:
        """Change in the poverty rate, in percentage points (this year's minus last year's)."""
        before, after = self.rate(self.poor_before), self.rate(self.poor_after)
        return None if before is None or after is None else round(after - before, 2)

    @property
    def changed_share(self) -> float | None:
        return self.changed / self.prior_known if self.prior_known else None


async def commune_counts(s: AsyncSession, communes: list[Unit], year: int) -> dict[int, CommuneCounts]:
    ids = [c.id for c in communes]
    if not ids:
        return {}
    village = aliased(Unit)
    submitted = Household.status == Status.SUBMITTED
    before = start_class_column()
    now = case((Household.outcome == PriorClass.POOR.value, PriorClass.POOR.value),
               (Household.outcome == PriorClass.NEAR_POOR.value, PriorClass.NEAR_POOR.value),
               else_=PriorClass.NONE.value)

    def count(cond: object) -> object:
        return func.sum(case((submitted & cond, 1), else_=0))  # type: ignore[operator]

    rows = await s.execute(
        select(village.parent_id,
               count(Household.id.is_not(None)),
               func.sum(case((Household.status == Status.DRAFT, 1), else_=0)),
               count(before == PriorClass.POOR.value),
               count(before == PriorClass.NEAR_POOR.value),
               count(Household.outcome == PriorClass.POOR.value),
               count(Household.outcome == PriorClass.NEAR_POOR.value),
               count(before.is_not(None)),
               count(before.is_not(None) & (before != now)),
               count((before == PriorClass.POOR.value) & (now != PriorClass.POOR.value)),
               count((before != PriorClass.POOR.value) & (now == PriorClass.POOR.value)),
               count((before == PriorClass.NEAR_POOR.value) & (now == PriorClass.NONE.value)),
               count((before == PriorClass.NONE.value) & (now == PriorClass.NEAR_POOR.value)))
        .join(village, village.id == Household.village_id)
        .outerjoin(Review, Review.household_id == Household.id)
        .where(village.parent_id.in_(ids), Household.review_year == year).group_by(village.parent_id))
    got = {row[0]: [int(v or 0) for v in row[1:]] for row in rows.all()}
    residents = {cid: total if unknown == 0 else None for cid, total, unknown in (await s.execute(
        select(village.parent_id, func.sum(village.households_total),
               func.sum(case((village.households_total.is_(None), 1), else_=0)))
        .where(village.parent_id.in_(ids), village.level == "village").group_by(village.parent_id))).all()}
    complaints = {cid: (int(n or 0), int(o or 0)) for cid, n, o in (await s.execute(
        select(village.parent_id, func.count(), func.sum(case((Complaint.resolved_at.is_(None), 1), else_=0)))
        .join(Household, Household.id == Complaint.household_id).join(village, village.id == Household.village_id)
        .where(village.parent_id.in_(ids), Household.review_year == year).group_by(village.parent_id))).all()}
    out = {}
    for commune in communes:
        resident = residents.get(commune.id) or commune.households_total
        values = got.get(commune.id, [0] * 12)
        n, o = complaints.get(commune.id, (0, 0))
        out[commune.id] = CommuneCounts(commune.id, int(resident) if resident else None, *values,
                                        complaints=n, complaints_open=o)
    return out
