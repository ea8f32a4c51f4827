"""The re-check sample of a commune (phúc tra): stratified, reproducible, and recorded.

Strata: households whose class changed since the start of the period first (they are the ones
a wrong survey moves), then the others by this year's class: poor, near-poor, not poor. The
plan file gives each stratum's size and a minimum; a stratum short of households gives its
places to the others. The seed is stored on the commune's row, so the same seed over the same
households draws the same sample again (`draw`), which anyone can check.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.households import Status
from core.inspection.counts import class_of
from core.inspection.scope import CONFIRMED, member_inspections
from core.inspection.selection import InspectionError
from core.plans.inspection import STRATA, InspectionRules
from core.procedure.models import Review
from core.procedure.start_class import start_class_column
from core.storage.models import Household, Unit, User
from core.storage.models_inspection import InspectedUnit, Inspection, Recheck

COMPLAINT = "complaint"
# 8 digits at most: a 9- or 12-digit number in a dump reads as a citizen ID (tests/test_sealed_scan.py)
SEEDS = 10**8


def stratum_of(outcome: str | None, prior: str | None) -> str:
    now = class_of(outcome)
    if prior is not None and prior != now:
        return "changed"
    return "not_poor" if now == "none" else now


def strata(households: Iterable[tuple[int, str | None, str | None]]) -> dict[str, list[int]]:
    """(id, outcome, prior class) -> ids per stratum, each sorted (the draw must not depend on
    the order a database returns rows in)."""
    out: dict[str, list[int]] = {name: [] for name in STRATA}
    for hid, outcome, prior in households:
        out[stratum_of(outcome, prior)].append(hid)
    return {k: sorted(v) for k, v in out.items()}


def draw(groups: dict[str, list[int]], rules: InspectionRules, seed: int) -> list[tuple[int, str]]:
    """(household id, stratum) of the sample, in a fixed order for a given seed."""
    rng = random.Random(seed)
    chosen: list[tuple[int, str]] = []
    left: list[tuple[int, str]] = []
    for name in STRATA:
        pool = groups.get(name, [])
        want = max(rules.sizes[name], rules.minimum) if pool else 0
        picked = rng.sample(pool, min(want, len(pool)))
        chosen += [(h, name) for h in picked]
        taken = set(picked)
        left += [(h, name) for h in pool if h not in taken]
    short = rules.sample_size - len(chosen)
    if short > 0 and left:
        chosen += rng.sample(left, min(short, len(left)))
    return chosen


async def surveyed(s: AsyncSession, commune: Unit, year: int) -> list[tuple[int, str | None, str | None]]:
    villages = select(Unit.id).where(Unit.parent_id == commune.id)
    # the class at the period's start as every output reads it (last year's list, else Phiếu B)
    rows = await s.execute(select(Household.id, Household.outcome, start_class_column())
                           .outerjoin(Review, Review.household_id == Household.id).where(
        Household.village_id.in_(villages), Household.review_year == year, Household.status == Status.SUBMITTED,
        Household.outcome.is_not(None)))
    return [(h, o, p) for h, o, p in rows.all()]


async def sample(s: AsyncSession, row: InspectedUnit, commune: Unit, rules: InspectionRules, year: int,
                 user: User, now: datetime) -> list[Recheck]:
    """The commune's sample: drawn once (its seed recorded), the same rows every later time."""
    existing = await rechecks_of(s, row)
    if row.sample_seed is not None:
        return existing
    groups = strata(await surveyed(s, commune, year))
    if not any(groups.values()):
        raise InspectionError("insp_sample_empty", commune=commune.name, year=year)
    seed = secrets.randbelow(SEEDS)
    have = {r.household_id for r in existing}  # households a complaint named before the draw
    for hid, name in draw(groups, rules, seed):
        if hid not in have:
            s.add(Recheck(inspected_unit_id=row.id, household_id=hid, stratum=name, added_by=user.id))
    row.sample_seed, row.sampled_by, row.sampled_at = seed, user.id, now
    await s.flush()
    return await rechecks_of(s, row)


async def add_named(s: AsyncSession, row: InspectedUnit, commune: Unit, household: Household, note: str,
                    user: User, year: int) -> Recheck:
    """A household named in a complaint joins the sample (once)."""
    village = await s.get(Unit, household.village_id)
    if village is None or village.parent_id != commune.id or household.review_year != year \
            or household.status != Status.SUBMITTED:
        raise InspectionError("insp_add_not_surveyed", id=household.id, commune=commune.name)
    found = await s.scalar(select(Recheck).where(Recheck.inspected_unit_id == row.id,
                                                 Recheck.household_id == household.id))
    if found is not None:
        return found
    recheck = Recheck(inspected_unit_id=row.id, household_id=household.id, stratum=COMPLAINT, note=note[:300],
                      added_by=user.id)
    s.add(recheck)
    await s.flush()
    return recheck


async def rechecks_of(s: AsyncSession, row: InspectedUnit) -> list[Recheck]:
    return list((await s.scalars(select(Recheck).where(Recheck.inspected_unit_id == row.id)
                                 .order_by(Recheck.id))).all())


async def row_for(s: AsyncSession, commune_id: int, member: int | None = None) -> InspectedUnit | None:
    """The commune's row in the confirmed inspection that chose it (one the user `member` is on
    the team of, when given), locked: the sample is drawn once."""
    query = select(InspectedUnit).join(Inspection, Inspection.id == InspectedUnit.inspection_id).where(
        InspectedUnit.unit_id == commune_id, InspectedUnit.picked.is_(True), Inspection.status == CONFIRMED)
    if member is not None:
        query = query.where(Inspection.id.in_(member_inspections(member)))
    return await s.scalar(query.order_by(Inspection.id.desc()).limit(1).with_for_update(of=InspectedUnit.__table__))
