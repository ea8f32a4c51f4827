"""Choosing where to inspect: the bot's proposal, the officer's edits and confirmation (who, when),
and closing the inspection, which ends its team's access at once.

One inspection per plan is open at a time (proposed or confirmed); a closed one stays for the
record. The team's days are the plan's visit phase.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import access_log
from core.inspection.evidence import Ranked, proposal, rank
from core.inspection.scope import CLOSED, CONFIRMED, PROPOSED
from core.plans.inspection import InspectionRules
from core.plans.model import Plan
from core.storage.models import Unit, User
from core.storage.models_inspection import InspectedUnit, Inspection


class InspectionError(Exception):
    """A refusal with a locale key, shown to the user as is."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def rules_of(plan: Plan) -> InspectionRules:
    assert plan.inspection is not None, plan.id
    return plan.inspection


def inspection_plan(plans: list[Plan], configuration: str, year: int) -> Plan | None:
    """The active plan of the review year that carries inspection rules for these units."""
    return next((p for p in plans if p.inspection is not None and p.units_configuration == configuration
                 and p.year == year), None)


async def current(s: AsyncSession, plan: Plan, lock: bool = False) -> Inspection | None:
    """The plan's open inspection (proposed or confirmed), if any."""
    query = select(Inspection).where(Inspection.plan_id == plan.id, Inspection.status.in_((PROPOSED, CONFIRMED)))
    if lock:
        query = query.with_for_update()
    return await s.scalar(query.order_by(Inspection.id.desc()).limit(1))


async def picked_units(s: AsyncSession, inspection: Inspection) -> list[tuple[InspectedUnit, Unit]]:
    rows = await s.execute(select(InspectedUnit, Unit).join(Unit, Unit.id == InspectedUnit.unit_id).where(
        InspectedUnit.inspection_id == inspection.id, InspectedUnit.picked.is_(True))
        .order_by(InspectedUnit.rank.is_(None), InspectedUnit.rank, Unit.code))
    return [(iu, u) for iu, u in rows.all()]


@dataclass(frozen=True)
class Proposal:
    inspection: Inspection
    ranked: list[Ranked]  # every commune, strongest evidence first
    rows: dict[int, InspectedUnit]  # commune id -> its row in the proposal


async def propose(s: AsyncSession, plan: Plan, province: Unit, user: User, now: datetime,
                  again: bool = False) -> Proposal:
    """The open inspection's list, or a fresh proposal when there is none (or `again` while it
    is still only proposed)."""
    rules = rules_of(plan)
    inspection = await current(s, plan, lock=True)
    ranked = await rank(s, rules, province, plan.year)
    if inspection is not None and inspection.status == PROPOSED and again:
        for row in (await s.scalars(select(InspectedUnit).where(
                InspectedUnit.inspection_id == inspection.id))).all():
            await s.delete(row)
        await s.flush()
    elif inspection is not None:
        return Proposal(inspection, ranked, await _rows(s, inspection))
    if inspection is None:
        visit = plan.phase(rules.visit_phase)
        assert visit is not None
        inspection = Inspection(plan_id=plan.id, year=plan.year, unit_id=province.id, status=PROPOSED,
                                starts_on=visit.start, ends_on=visit.end, created_by=user.id, created_at=now)
        s.add(inspection)
        await s.flush()
    for place, r in enumerate(proposal(ranked, rules), 1):
        s.add(InspectedUnit(inspection_id=inspection.id, unit_id=r.commune.id, rank=place, score=r.score,
                            reasons=[x.to_json() for x in r.reasons], picked=True))
    await s.flush()
    return Proposal(inspection, ranked, await _rows(s, inspection))


async def _rows(s: AsyncSession, inspection: Inspection) -> dict[int, InspectedUnit]:
    rows = await s.scalars(select(InspectedUnit).where(InspectedUnit.inspection_id == inspection.id))
    return {r.unit_id: r for r in rows.all()}


async def set_picked(s: AsyncSession, proposal_: Proposal, commune: Unit, picked: bool, user: User,
                     now: datetime) -> None:
    """Keep, drop or add a commune while the list is only proposed."""
    if proposal_.inspection.status != PROPOSED:
        raise InspectionError("insp_already_confirmed")
    row = proposal_.rows.get(commune.id)
    if row is None:
        if not picked:
            return
        found = next((r for r in proposal_.ranked if r.commune.id == commune.id), None)
        if found is None:
            raise InspectionError("insp_commune_unknown")
        row = InspectedUnit(inspection_id=proposal_.inspection.id, unit_id=commune.id, rank=None,
                            score=found.score, reasons=[x.to_json() for x in found.reasons])
        s.add(row)
        proposal_.rows[commune.id] = row
    row.picked, row.changed_by, row.changed_at = picked, user.id, now
    await s.flush()


async def confirm(s: AsyncSession, inspection: Inspection, user: User, now: datetime) -> list[Unit]:
    if inspection.status != PROPOSED:
        raise InspectionError("insp_already_confirmed")
    chosen = [u for _, u in await picked_units(s, inspection)]
    if not chosen:
        raise InspectionError("insp_confirm_empty")
    inspection.status, inspection.confirmed_by, inspection.confirmed_at = CONFIRMED, user.id, now
    access_log.record(s, "inspection_confirmed", user, inspection.unit_id,
                      detail={"inspection": inspection.id, "communes": [u.id for u in chosen]})
    return chosen


async def close(s: AsyncSession, inspection: Inspection, user: User, now: datetime) -> None:
    """The team's access ends with this commit, whatever the plan's days say."""
    inspection.status, inspection.closed_by, inspection.closed_at = CLOSED, user.id, now
    access_log.record(s, "inspection_closed", user, inspection.unit_id, detail={"inspection": inspection.id})
