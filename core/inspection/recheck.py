"""The inspector's re-survey of a sampled household, kept apart from the commune's answers.

Until the re-check is submitted the inspector does not see the commune's answers (so they
cannot copy them) and the commune does not see the inspector's (so it cannot argue them
away before they are final). At submission the two are compared answer by answer, over the
questions either survey asked, and class against class; each differing answer becomes a
difference for the commune to accept or explain (core/inspection/resolve.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import Role
from core.classification.classify import classify
from core.classification.pack import RulePack
from core.conversation.engine import SurveyEngine
from core.inspection.counts import class_of
from core.inspection.scope import member_inspections
from core.plans.inspection import InspectionRules
from core.storage.models import Household, User, utcnow
from core.storage.models_inspection import InspectedUnit, Recheck, RecheckAnswer, RecheckDifference
from core.storage.repo import load_answers
from core.storage.sealed import open_answer, seal_answer

SAMPLED, STARTED, SUBMITTED = "sampled", "started", "submitted"


def engine_of(survey: Any, household: Household) -> SurveyEngine:
    """The survey engine as the household's own survey ran it (same form, year and area)."""
    return SurveyEngine(survey, {"review_year": household.review_year, "is_urban": household.area == "urban"})


async def found_answers(s: AsyncSession, recheck_id: int) -> dict[str, Any]:
    rows = await s.execute(select(RecheckAnswer.key, RecheckAnswer.value).where(RecheckAnswer.recheck_id == recheck_id))
    return {key: open_answer(s, value) for key, value in rows.all()}


async def save_found(s: AsyncSession, recheck: Recheck, changes: Sequence[tuple[str, Any]], user_id: int) -> None:
    """The inspector's answers, sealed like the commune's; never written to `answers`."""
    if not changes:
        return
    rows = {r.key: r for r in (await s.scalars(select(RecheckAnswer).where(
        RecheckAnswer.recheck_id == recheck.id, RecheckAnswer.key.in_([k for k, _ in changes])))).all()}
    now = utcnow()
    for key, value in changes:
        stored, _ = seal_answer(s, key, value)
        row = rows.get(key)
        if row is None:
            s.add(RecheckAnswer(recheck_id=recheck.id, key=key, value=stored, updated_at=now, updated_by=user_id))
        else:
            row.value, row.updated_at, row.updated_by = stored, now, user_id


def same(a: Any, b: Any) -> bool:
    """Equal answers: typed text compared without case or extra spaces."""
    if isinstance(a, str) and isinstance(b, str):
        return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()
    return a == b


def compared_keys(engine: SurveyEngine, original: Mapping[str, Any], found: Mapping[str, Any],
                  ignore: frozenset[str]) -> list[str]:
    """The questions either survey asked, in form order (answers of hidden questions are not
    compared: a household with fewer members has no answers for the others)."""
    keys = [slot.key for slot in engine.view(original).slots]
    seen = set(keys)
    keys += [slot.key for slot in engine.view(found).slots if slot.key not in seen]
    return [k for k in keys if k.split(".")[-1] not in ignore and k not in ignore]


@dataclass(frozen=True)
class Outcome:
    compared: int
    agreed: int
    differences: list[str]
    original_class: str
    found_class: str


async def submit(s: AsyncSession, recheck: Recheck, household: Household, survey: Any, pack: RulePack,
                 rules: InspectionRules, user: User, now: datetime) -> Outcome:
    found = await found_answers(s, recheck.id)
    original = await load_answers(s, household.id)
    engine = engine_of(survey, household)
    result = classify(survey, pack, engine.view(found), household.area or "rural")
    keys = compared_keys(engine, original, found, rules.ignore)
    differ = [k for k in keys if not same(original.get(k), found.get(k))]
    for key in differ:
        s.add(RecheckDifference(recheck_id=recheck.id, key=key))
    recheck.status, recheck.submitted_at, recheck.state = SUBMITTED, now, None
    recheck.original_class, recheck.found_class = class_of(household.outcome), class_of(result.outcome.value)
    recheck.compared, recheck.agreed = len(keys), len(keys) - len(differ)
    await s.flush()
    return Outcome(len(keys), len(keys) - len(differ), differ, recheck.original_class, recheck.found_class)


async def open_recheck_of(s: AsyncSession, user: User, household_id: int) -> Recheck | None:
    """The inspector's unsubmitted re-check of this household, if it is in one of their samples:
    while there is one, the commune's answers are hidden from them."""
    if user.role != Role.INSPECTOR:
        return None
    return await s.scalar(select(Recheck).join(InspectedUnit, InspectedUnit.id == Recheck.inspected_unit_id).where(
        Recheck.household_id == household_id, Recheck.status != SUBMITTED,
        InspectedUnit.inspection_id.in_(member_inspections(user.id))).limit(1))


async def recheck_for(s: AsyncSession, user: User, household_id: int, lock: bool = False) -> Recheck | None:
    """The re-check of this household in one of the inspector's inspections (their sample)."""
    query = select(Recheck).join(InspectedUnit, InspectedUnit.id == Recheck.inspected_unit_id).where(
        Recheck.household_id == household_id, InspectedUnit.inspection_id.in_(member_inspections(user.id)))
    if lock:
        query = query.with_for_update(of=Recheck.__table__)
    return await s.scalar(query.order_by(Recheck.id.desc()).limit(1))
