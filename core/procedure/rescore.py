"""What a newly signed rules version would change: every submitted household of the review that
was classified under the pack is classified again from its stored answers, and compared with
the class it has, with the reason in words the officer can check («điểm B1 132 → 145, ngưỡng
140»). Nothing is written here: core/procedure/rules_signed.py shows the list first and writes
only what the commune officer confirms.

A household the commune chairman has decided (/congnhan) is never changed; it is listed as
«sẽ khác theo quy định mới» when the new rules would class it otherwise. A household opened
again for correction is left out: it is classified under the rules in force when it is sent
again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.classification.classify import Classification, classify
from core.classification.pack import RulePack
from core.i18n import fmt_money, t
from core.procedure.models import Review
from core.procedure.steps import Stage
from core.storage.models import Household
from core.storage.repo import load_answers
from core.surveys.evaluate import evaluate
from core.surveys.model import Survey

CLASSIFIED = ("poverty", "average_living")  # forms whose submission is classified under a pack


@dataclass(frozen=True)
class Rescored:
    household: Household
    survey: Survey
    result: Classification
    decided: bool  # recognised by the commune's decision: never changed
    reason: str

    @property
    def before(self) -> str | None:
        return self.household.outcome

    @property
    def after(self) -> str:
        return self.result.outcome.value

    @property
    def changed(self) -> bool:
        return self.before != self.after


def reason(household: Household, result: Classification, pack: RulePack) -> str:
    """Why the class is what it is under the new rules, beside what it was."""
    parts: list[str] = []
    if result.measure == "b1" and result.b1_score is not None and result.line is not None:
        parts.append(t("rp_reason_b1", before=household.b1_score if household.b1_score is not None else "-",
                       after=result.b1_score, line=result.line))
    elif result.income_per_capita is not None and result.line is not None:
        parts.append(t("rp_reason_income", income=fmt_money(result.income_per_capita), line=fmt_money(result.line)))
    if result.note:  # undetermined: the class cannot be computed under the new rules
        parts.append(t("rp_reason_undetermined"))
    if household.deprived_count != len(result.deprived) and result.measure in ("b1", "income"):
        parts.append(t("rp_reason_deprived", before=household.deprived_count if household.deprived_count is not None
                       else "-", after=len(result.deprived), min=pack.poor_min_deprived))
    parts.append(t("rp_reason_version", pack=pack.name, version=pack.version))
    return "; ".join(parts)


async def rescore(s: AsyncSession, forms: Mapping[str, Survey], pack: RulePack, year: int,
                  villages: set[int] | None = None) -> list[Rescored]:
    """Every submitted household of `year` classified under `pack.id` (in `villages` when
    given), in household order, with its class under `pack`."""
    query = (select(Household, Review).outerjoin(Review, Review.household_id == Household.id)
             .where(Household.review_year == year, Household.pack_id == pack.id, Household.status == "submitted",
                    Household.reopened_at.is_(None)).order_by(Household.id))
    if villages is not None:
        query = query.where(Household.village_id.in_(villages))
    out: list[Rescored] = []
    for household, review in (await s.execute(query)).all():
        survey = forms.get(household.survey_id)
        if survey is None or survey.purpose not in CLASSIFIED:
            continue  # a Phiếu A stop: not classified by a pack's lines (issue 21: re-screening is not done)
        answers = await load_answers(s, household.id)
        view = evaluate(survey, answers, {"review_year": household.review_year, "is_urban": household.area == "urban"})
        result = classify(survey, pack, view, household.area or "rural")
        decided = review is not None and (review.stage == Stage.RECOGNISED or review.final_class is not None)
        out.append(Rescored(household, survey, result, decided, reason(household, result, pack)))
    return out
