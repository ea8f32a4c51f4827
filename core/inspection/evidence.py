"""Why a commune should be inspected: the evidence the plan file weighs (behind schedule, a large
change in the poverty rate, complaints, data-quality findings of /kiemtra, many households whose
class changed), each with its value and threshold, so the officer reads the reason, not a score.

The data-quality findings are core/procedure/checks.py's own (the ones nobody confirmed), run
only for communes that have households: an empty commune has nothing to check.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.inspection.counts import CommuneCounts, commune_counts
from core.plans.inspection import InspectionRules
from core.procedure import checks
from core.storage.models import Unit


@dataclass(frozen=True)
class Reason:
    name: str  # behind_schedule | rate_change | complaints | check_flags | class_changes
    value: float
    threshold: float

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "value": self.value, "threshold": self.threshold}


@dataclass(frozen=True)
class Ranked:
    commune: Unit
    parent: Unit | None  # the district, where the configuration has districts
    counts: CommuneCounts
    reasons: tuple[Reason, ...]
    score: float

    @property
    def strength(self) -> float:
        """Ties of score are broken by how far past its threshold each reason is."""
        out = 0.0
        for r in self.reasons:
            if r.threshold:
                out += abs(r.value - r.threshold) / abs(r.threshold)
            else:
                out += r.value
        return out


async def communes_under(s: AsyncSession, province: Unit) -> list[Unit]:
    """The communes of a province, through its districts where it has them."""
    below = (await s.scalars(select(Unit).where(Unit.parent_id == province.id))).all()
    districts = [u.id for u in below if u.level == "district"]
    communes = [u for u in below if u.level == "commune"]
    if districts:
        communes += (await s.scalars(select(Unit).where(Unit.parent_id.in_(districts),
                                                        Unit.level == "commune"))).all()
    return sorted(communes, key=lambda u: (u.code or "", u.name))


async def rank(s: AsyncSession, rules: InspectionRules, province: Unit, year: int) -> list[Ranked]:
    """Every commune of the province with its reasons, strongest evidence first."""
    communes = await communes_under(s, province)
    counts = await commune_counts(s, communes, year)
    parents = {u.id: u for u in (await s.scalars(select(Unit).where(
        Unit.id.in_({c.parent_id for c in communes if c.parent_id}), Unit.level == "district"))).all()}
    out = []
    for commune in communes:
        c = counts[commune.id]
        values: dict[str, float | None] = {
            "behind_schedule": round(c.surveyed_share, 3),
            "rate_change": abs(c.rate_change) if c.rate_change is not None else None,
            "complaints": float(c.complaints),
            "class_changes": round(c.changed_share, 3) if c.changed_share is not None else None,
        }
        if c.submitted + c.drafts and any(e.name == "check_flags" for e in rules.evidence):
            values["check_flags"] = float(len(await checks.blocking(s, commune, year)))
        reasons = tuple(Reason(e.name, values[e.name] or 0.0, e.threshold) for e in rules.evidence
                        if e.present(values.get(e.name)))
        weights = {e.name: e.weight for e in rules.evidence}
        out.append(Ranked(commune, parents.get(commune.parent_id or 0), c, reasons,
                          sum(weights[r.name] for r in reasons)))
    return sorted(out, key=lambda r: (-r.score, -r.strength, r.commune.code or "", r.commune.name))


def proposal(ranked: list[Ranked], rules: InspectionRules) -> list[Ranked]:
    """The communes the bot proposes: the strongest with some evidence, no more than the plan's
    number, and no more than its share from one district."""
    chosen: list[Ranked] = []
    per_parent: dict[int, int] = {}
    for r in ranked:
        if len(chosen) >= rules.propose or r.score <= 0:
            break
        if r.parent is not None:
            if per_parent.get(r.parent.id, 0) >= rules.max_per_parent:
                continue
            per_parent[r.parent.id] = per_parent.get(r.parent.id, 0) + 1
        chosen.append(r)
    return chosen
