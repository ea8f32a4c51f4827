"""Households as the web view lists and opens them: the village's or commune's households with
the filters officers ask for, and one household's answers, steps, photos and audit trail.

ID numbers are shown masked, all but the last three digits; the sealed values are opened only
to be masked (core/storage/sealed.py), and phone numbers the same way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.procedure.models import HouseholdFile, Review, ReviewStep
from core.storage.models import Answer, AuditLog, Household, Unit, User
from core.storage.repo import load_answers
from core.storage.sealed import SEALED_TYPES, open_answer
from core.surveys.model import QType, Survey
from core.units.tree import UnitTree

PAGE = 50
CLASSES = ("poor", "near_poor", "average", "not_poor", "above_average", "undetermined")
PRIOR_OF = {"poor": "poor", "near_poor": "near_poor"}  # outcome -> the start-of-year class it matches


def mask(value: Any) -> str:
    """All but the last three digits hidden: «*********234»."""
    digits = "".join(ch for ch in str(value) if ch.isalnum())
    return "*" * max(0, len(digits) - 3) + digits[-3:] if digits else ""


@dataclass(frozen=True)
class Filters:
    q: str = ""
    cls: str = ""
    stage: str = ""
    changed: bool = False
    page: int = 1

    def apply(self, query: Select) -> Select:
        if self.q:
            query = query.where(func.lower(Household.head_name).contains(self.q.lower(), autoescape=True))
        if self.cls:
            query = query.where(Household.outcome == self.cls)
        if self.stage:
            query = query.where(Review.stage == self.stage)
        if self.changed:
            now_poor = func.coalesce(Household.outcome, "")
            query = query.where(Household.status == "submitted", or_(
                and_(Household.prior_class == "poor", now_poor != "poor"),
                and_(Household.prior_class == "near_poor", now_poor != "near_poor"),
                and_(func.coalesce(Household.prior_class, "none") == "none", now_poor.in_(("poor", "near_poor")))))
        return query


@dataclass
class ListItem:
    household: Household
    stage: str | None
    id_masked: str


async def household_list(s: AsyncSession, unit: Unit, year: int, filters: Filters,
                         id_keys: tuple[str, ...]) -> tuple[list[ListItem], int]:
    """One page of households inside the unit, and how many match in all."""
    tree = await UnitTree.of(s, unit)
    base = tree.join(select(Household, Review.stage), households=True).outerjoin(
        Review, Review.household_id == Household.id).where(Household.review_year == year)
    base = filters.apply(base)
    count = await s.scalar(select(func.count()).select_from(base.order_by(None).subquery())) or 0
    rows = (await s.execute(base.order_by(Household.head_name, Household.id).limit(PAGE)
                            .offset((filters.page - 1) * PAGE))).all()
    ids = [h.id for h, _ in rows]
    numbers: dict[int, str] = {}
    if ids and id_keys:
        for hid, value in (await s.execute(select(Answer.household_id, Answer.value).where(
                Answer.household_id.in_(ids), Answer.key.in_(id_keys)))).all():
            numbers.setdefault(hid, mask(open_answer(s, value)))
    return [ListItem(h, stage, numbers.get(h.id, "")) for h, stage in rows], int(count)


def head_id_keys(forms: dict[str, Survey]) -> tuple[str, ...]:
    """The household-level ID-number questions of every form (the head's ID)."""
    return tuple(sorted({q.id for f in forms.values() for q in f.household_questions() if q.type is QType.ID_NUMBER}))


@dataclass
class Shown:
    label: str
    value: str


@dataclass
class Detail:
    household: Household
    village: Unit
    sections: list[tuple[str, list[Shown]]]
    stage: str | None
    steps: list[tuple[ReviewStep, str | None]]
    photos: list[HouseholdFile]
    audit: list[tuple[AuditLog, str | None]]


def _shown(question: Any, value: Any) -> str:
    if value is None:
        return ""
    if question.type.value in SEALED_TYPES:
        return mask(value)
    if question.type is QType.CHOICE and question.choice(str(value)) is not None:
        return question.choice(str(value)).label
    if question.type is QType.YES_NO:
        return "✓" if value else "✗"
    if isinstance(value, list):
        labels = [question.choice(str(v)).label if question.choice(str(v)) else str(v) for v in value]
        return ", ".join(labels)
    return str(value)


def _sections(survey: Survey | None, answers: dict[str, Any], member_word: str) -> list[tuple[str, list[Shown]]]:
    if survey is None:
        return [("", [Shown(k, "") for k in sorted(answers)])]
    out: dict[str, list[Shown]] = {}
    for item in survey.items:
        if hasattr(item, "questions"):  # a repeat group: one block per member
            n = 1
            while any(k.startswith(f"{item.id}.{n}.") for k in answers):
                for q in item.questions:
                    key = f"{item.id}.{n}.{q.id}"
                    if key in answers:
                        out.setdefault(f"{item.label} – {member_word.format(n=n)}", []).append(
                            Shown(q.label, _shown(q, answers[key])))
                n += 1
        elif item.id in answers and item.asked:
            out.setdefault(item.section or survey.title, []).append(Shown(item.label, _shown(item, answers[item.id])))
    return list(out.items())


async def detail(s: AsyncSession, household: Household, forms: dict[str, Survey], member_word: str) -> Detail:
    village = await s.get(Unit, household.village_id)
    assert village is not None
    answers = await load_answers(s, household.id)
    review = await s.get(Review, household.id)
    steps = (await s.execute(select(ReviewStep, User.display_name).outerjoin(User, User.id == ReviewStep.user_id)
                             .where(ReviewStep.household_id == household.id).order_by(ReviewStep.at))).all()
    photos = (await s.scalars(select(HouseholdFile).where(
        HouseholdFile.household_id == household.id, HouseholdFile.kind == "photo").order_by(HouseholdFile.id))).all()
    audit = (await s.execute(select(AuditLog, User.display_name).outerjoin(User, User.id == AuditLog.user_id).where(
        AuditLog.household_id == household.id).order_by(AuditLog.at.desc(), AuditLog.id.desc()).limit(200))).all()
    return Detail(household, village, _sections(forms.get(household.survey_id), answers, member_word),
                  review.stage if review else None, [(a, b) for a, b in steps], list(photos),
                  [(a, b) for a, b in audit])
