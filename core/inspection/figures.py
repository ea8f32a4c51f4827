"""What the inspection's Word documents are filled with: the commune's report "có số liệu", the
province's report and the team's visit minutes. Figures come from the database (core/inspection/
counts.py, the re-checks); the parts a person writes come from `inspection_texts`, None where
nobody wrote them (the renderer prints a marked blank). Keys are the templates' own
(core/documents/templates/<id>.yaml), which also say which parts a person writes.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.documents import WrittenPart, dated, unit_words, written_parts
from core.i18n import t
from core.inspection.counts import CommuneCounts, commune_counts
from core.inspection.recheck import SUBMITTED
from core.inspection.resolve import ACCEPTED, EXPLAINED, agreement
from core.inspection.selection import picked_units
from core.plans.inspection import InspectionRules
from core.plans.model import Plan
from core.storage.models import Household, Unit, User
from core.storage.models_inspection import InspectedUnit, Inspection, InspectionText, Recheck, RecheckDifference

COMMUNE_REPORT, PROVINCE_REPORT, MINUTES = "bao_cao_kiem_tra_xa", "bao_cao_kiem_tra_tinh", "bien_ban_kiem_tra"


def sections(doc_id: str) -> list[WrittenPart]:
    """The parts a person writes, in the template's order: asked one by one in chat."""
    return written_parts(doc_id)


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


async def texts(s: AsyncSession, inspection: Inspection, unit: Unit, doc_id: str) -> dict[str, str | None]:
    rows = await s.execute(select(InspectionText.section, InspectionText.text).where(
        InspectionText.inspection_id == inspection.id, InspectionText.unit_id == unit.id,
        InspectionText.document == doc_id))
    written = dict(rows.all())
    return {part.key: (written.get(part.key) or None) for part in sections(doc_id)}


async def save_text(s: AsyncSession, inspection: Inspection, unit: Unit, doc_id: str, section: str,
                    text: str | None, user: User) -> None:
    row = await s.scalar(select(InspectionText).where(
        InspectionText.inspection_id == inspection.id, InspectionText.unit_id == unit.id,
        InspectionText.document == doc_id, InspectionText.section == section))
    if row is None:
        s.add(InspectionText(inspection_id=inspection.id, unit_id=unit.id, document=doc_id, section=section,
                             text=text, user_id=user.id))
    else:
        row.text, row.user_id = text, user.id
    await s.flush()


def _counts(c: CommuneCounts) -> dict[str, Any]:
    return {"households_total": c.resident if c.resident is not None else c.submitted, "surveyed": c.submitted,
            "poor_before": c.poor_before, "poor_after": c.poor_after,
            "near_poor_before": c.near_before, "near_poor_after": c.near_after,
            "poor_rate_before": c.rate(c.poor_before), "poor_rate_after": c.rate(c.poor_after),
            "near_poor_rate_before": c.rate(c.near_before), "near_poor_rate_after": c.rate(c.near_after),
            "escaped_poor": c.left_poverty, "escaped_near_poor": c.left_near, "new_poor": c.entered_poverty,
            "new_near_poor": c.entered_near, "complaints": c.complaints,
            "complaints_resolved": c.complaints - c.complaints_open}


async def _rechecks(s: AsyncSession, row: InspectedUnit | None) -> dict[str, Any]:
    if row is None:
        return {"rechecked": 0, "recheck_agreed": 0, "agreement_rate": None}
    total = await agreement(s, row)
    return {"rechecked": total.rechecked, "recheck_agreed": total.same_class,
            "agreement_rate": _pct(total.same_class, total.rechecked)}


async def commune_report(s: AsyncSession, plan: Plan, rules: InspectionRules, inspection: Inspection,
                         commune: Unit, on: date) -> dict[str, Any]:
    counts = (await commune_counts(s, [commune], plan.year))[commune.id]
    row = await s.scalar(select(InspectedUnit).where(InspectedUnit.inspection_id == inspection.id,
                                                     InspectedUnit.unit_id == commune.id))
    words = unit_words(commune)
    return {"commune": words.sentence, "place": words.place, "dated": dated(on), "number": None,
            "year": plan.year, "recipient": rules.documents["recipient_commune"], "plan": plan.title,
            **_counts(counts), **await _rechecks(s, row),
            **await texts(s, inspection, commune, COMMUNE_REPORT)}


async def province_report(s: AsyncSession, plan: Plan, rules: InspectionRules, inspection: Inspection,
                          province: Unit, on: date) -> dict[str, Any]:
    picked = await picked_units(s, inspection)
    counts = await commune_counts(s, [u for _, u in picked], plan.year)
    rows, sums, flagged = [], Counter[str](), 0
    for n, (row, commune) in enumerate(picked, 1):
        figures, re = _counts(counts[commune.id]), await _rechecks(s, row)
        total = await agreement(s, row)
        flag = total.flagged(rules)
        flagged += flag
        rows.append({"no": n, "name": commune.name, **{k: figures[k] for k in (
            "surveyed", "poor_before", "poor_after", "near_poor_before", "near_poor_after", "complaints")},
            "rechecked": re["rechecked"], "agreement_rate": re["agreement_rate"],
            "note": t("insp_flag_note") if flag else ""})
        for key in ("surveyed", "poor_before", "poor_after", "near_poor_before", "near_poor_after", "complaints"):
            sums[key] += figures[key]
        sums["rechecked"] += re["rechecked"]
        sums["recheck_agreed"] += re["recheck_agreed"]
    d = rules.documents
    return {"issuer_parent": d["issuer_parent"], "issuer": d["issuer"], "issuer_code": d["issuer_code"],
            "number": None, "place": d["place"], "dated": dated(on), "year": plan.year,
            "recipient": d["recipient_province"],
            "plan": plan.title, "communes": rows, **dict(sums),
            "agreement_rate": _pct(sums["recheck_agreed"], sums["rechecked"]), "flagged": flagged,
            "signer_title": d["signer_title"], **await texts(s, inspection, province, PROVINCE_REPORT)}


async def visit_minutes(s: AsyncSession, plan: Plan, rules: InspectionRules, inspection: Inspection,
                        commune: Unit, team: list[str], on: date) -> dict[str, Any]:
    counts = (await commune_counts(s, [commune], plan.year))[commune.id]
    row = await s.scalar(select(InspectedUnit).where(InspectedUnit.inspection_id == inspection.id,
                                                     InspectedUnit.unit_id == commune.id))
    figures = _counts(counts)
    listed: list[dict[str, Any]] = []
    resolved: Counter[str | None] = Counter()
    if row is not None:
        found = (await s.execute(select(Recheck, Household.head_name, Unit.name).join(
            Household, Household.id == Recheck.household_id).join(Unit, Unit.id == Household.village_id).where(
            Recheck.inspected_unit_id == row.id, Recheck.status == SUBMITTED).order_by(Recheck.id))).all()
        per: dict[int, Counter[str | None]] = {}
        for rid, resolution, n in (await s.execute(select(
                RecheckDifference.recheck_id, RecheckDifference.resolution, func.count()).join(
                Recheck, Recheck.id == RecheckDifference.recheck_id).where(Recheck.inspected_unit_id == row.id)
                .group_by(RecheckDifference.recheck_id, RecheckDifference.resolution))).all():
            per.setdefault(rid, Counter())[resolution] += n
            resolved[resolution] += n
        for n, (recheck, head, village) in enumerate(found, 1):
            mine = per.get(recheck.id, Counter())
            outcome = t("insp_outcome_same") if not sum(mine.values()) else ", ".join(
                t(f"insp_outcome_{k or 'open'}", n=v) for k, v in sorted(mine.items(), key=lambda kv: str(kv[0])))
            listed.append({"no": n, "head": head or "-", "village": village,
                           "commune_class": t(f"insp_class_{recheck.original_class}"),
                           "inspector_class": t(f"insp_class_{recheck.found_class}"),
                           "differences": sum(mine.values()), "outcome": outcome})
    words = unit_words(commune)
    return {"issuer": rules.documents["issuer"], "commune": words.sentence, "place": words.place,
            "dated": dated(on), "year": plan.year, "plan": plan.title,
            "team": [{"no": i, "name": name, "position": ""} for i, name in enumerate(team, 1)],
            **{k: figures[k] for k in ("surveyed", "poor_before", "poor_after", "near_poor_before",
                                       "near_poor_after", "complaints")},
            **await _rechecks(s, row), "sample_seed": row.sample_seed if row is not None else None,
            "differences": sum(resolved.values()), "differences_accepted": resolved[ACCEPTED],
            "differences_explained": resolved[EXPLAINED], "rechecks": listed,
            "team_leader": team[0] if team else "", **await texts(s, inspection, commune, MINUTES)}
