"""The commune's answer to each difference a re-check found, and the commune's agreement rate.

Accepting the inspector's answer changes the household the way any correction does: the
household is reopened with the reason "phúc tra", the answer is saved with its audit row (who,
old, new), and the household is classified again and resubmitted, all in one transaction.
Explaining keeps the commune's answer and records why. A commune whose re-checks change class
too often, or agree on too few answers, is flagged (thresholds in the plan file).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.classification.classify import classify
from core.classification.pack import RulePack
from core.households import record_classification
from core.i18n import t
from core.inspection.recheck import SUBMITTED, engine_of, found_answers
from core.inspection.selection import InspectionError
from core.plans.inspection import InspectionRules
from core.storage.models import Household, Unit, User
from core.storage.models_inspection import InspectedUnit, Recheck, RecheckDifference
from core.storage.repo import audit, load_answers, save_answer
from core.surveys.evaluate import outputs

ACCEPTED, EXPLAINED = "accepted", "explained"
REASON_KEY = "insp_recheck_reason"  # the locale's "phúc tra", written as the reopen reason


@dataclass(frozen=True)
class Shown:
    """A difference as the commune reads it: the question and the two answers in words."""

    difference: RecheckDifference
    recheck: Recheck
    household: Household
    label: str
    original: str
    found: str


async def differences(s: AsyncSession, commune: Unit, forms: dict[str, Any], open_only: bool = True,
                      household_id: int | None = None) -> list[Shown]:
    """Differences of the commune's submitted re-checks, in household and form order."""
    villages = select(Unit.id).where(Unit.parent_id == commune.id)
    query = (select(RecheckDifference, Recheck, Household)
             .join(Recheck, Recheck.id == RecheckDifference.recheck_id)
             .join(Household, Household.id == Recheck.household_id)
             .where(Household.village_id.in_(villages), Recheck.status == SUBMITTED))
    if open_only:
        query = query.where(RecheckDifference.resolution.is_(None))
    if household_id is not None:
        query = query.where(Household.id == household_id)
    out: list[Shown] = []
    cache: dict[int, tuple[Any, dict[str, Any], dict[str, Any]]] = {}
    for diff, recheck, household in (await s.execute(query.order_by(Household.id, RecheckDifference.id))).all():
        if recheck.id not in cache:
            engine = engine_of(forms[household.survey_id], household)
            cache[recheck.id] = (engine, await load_answers(s, household.id), await found_answers(s, recheck.id))
        engine, original, found = cache[recheck.id]
        slot = engine.view(found).slot(diff.key) or engine.view(original).slot(diff.key)
        label = slot.label if slot is not None else diff.key
        out.append(Shown(diff, recheck, household, label, _words(engine, slot, diff.key, original),
                         _words(engine, slot, diff.key, found)))
    return out


def _words(engine: Any, slot: Any, key: str, answers: dict[str, Any]) -> str:
    if answers.get(key) is None:
        return t("value_missing")
    return engine.display(slot.question, answers[key]) if slot is not None else str(answers[key])


async def accept(s: AsyncSession, shown: Shown, survey: Any, pack: RulePack, user: User, now: datetime) -> str:
    """The inspector's answer replaces the commune's through the audited edit; returns the
    household's class afterwards."""
    household = await s.get(Household, shown.household.id, with_for_update=True)
    assert household is not None
    if household.reopened_at is not None or household.status != "submitted":
        raise InspectionError("insp_household_being_edited", id=household.id)
    diff = shown.difference
    found = await found_answers(s, shown.recheck.id)
    answers = await load_answers(s, household.id)
    reason = t(REASON_KEY)
    await audit(s, household.id, "reopen", user.id, {"previous_outcome": household.outcome, "reason": reason})
    await save_answer(s, household.id, diff.key, answers.get(diff.key), found.get(diff.key), user.id)
    answers[diff.key] = found.get(diff.key)
    engine = engine_of(survey, household)
    view = engine.view(answers)
    result = classify(survey, pack, view, household.area or "rural")
    record_classification(household, result, pack, outputs(survey, view), survey.prior_classes)
    await audit(s, household.id, "resubmit", user.id, {**result.to_json(), "reason": reason})
    diff.resolution, diff.resolved_by, diff.resolved_at = ACCEPTED, user.id, now
    await s.flush()
    return result.outcome.value


def explain(shown: Shown, text: str, user: User, now: datetime) -> None:
    diff = shown.difference
    diff.resolution, diff.explanation, diff.resolved_by, diff.resolved_at = EXPLAINED, text[:500], user.id, now


@dataclass(frozen=True)
class Agreement:
    rechecked: int  # submitted re-checks
    waiting: int  # sampled, not yet submitted
    compared: int
    agreed: int
    same_class: int
    open_differences: int

    @property
    def answer_rate(self) -> float | None:
        return round(self.agreed / self.compared, 4) if self.compared else None

    @property
    def class_rate(self) -> float | None:
        return round(self.same_class / self.rechecked, 4) if self.rechecked else None

    def flagged(self, rules: InspectionRules) -> bool:
        if not self.rechecked:
            return False
        class_share = 1 - (self.class_rate or 0.0)
        return class_share > rules.max_class_share or (self.answer_rate or 0.0) < rules.min_answer_agreement


async def agreement(s: AsyncSession, row: InspectedUnit) -> Agreement:
    rechecks = (await s.scalars(select(Recheck).where(Recheck.inspected_unit_id == row.id))).all()
    done = [r for r in rechecks if r.status == SUBMITTED]
    count = await s.scalar(select(func.count()).select_from(RecheckDifference).join(
        Recheck, Recheck.id == RecheckDifference.recheck_id).where(
        Recheck.inspected_unit_id == row.id, RecheckDifference.resolution.is_(None))) or 0
    return Agreement(len(done), len(rechecks) - len(done), sum(r.compared or 0 for r in done),
                     sum(r.agreed or 0 for r in done), sum(1 for r in done if r.original_class == r.found_class),
                     count)
