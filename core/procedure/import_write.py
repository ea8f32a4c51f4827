"""Writing an imported list: the same rows as a household created, answered and listed one by
one (the household, its answers with their audit rows, ID numbers and phones sealed with their
keyed hash, the review with its baseline sealed the same way
(core/procedure/baseline.py), the `listed` step and its audit row), written
in a few statements per chunk of households instead of dozens per household.

One by one, through the ORM, a list of 2,000 households took minutes (every answer read its row
back first and bumped the household's revision with a synchronised UPDATE); this is the part of
an import that holds SQLite's one writer, so it is what the chat waits on (bench/imports.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.conversation.engine import SurveyEngine
from core.households import Status
from core.procedure.import_rows import ImportRow
from core.procedure.models import Review, ReviewStep
from core.procedure.steps import Origin, Stage
from core.storage.models import Answer, AuditLog, Household, utcnow
from core.storage.sealed import seal_answer
from core.surveys.model import Survey

CHUNK = 500  # households per statement: well under SQLite's and asyncpg's parameter limits


@dataclass(frozen=True)
class Imported:
    """A household the import created."""

    id: int
    village_id: int
    head_name: str | None


async def write_rows(s: AsyncSession, rows: Sequence[ImportRow], survey: Survey, year: int, area: str,
                     user_id: int | None, file: str) -> list[Imported]:
    first = _FirstQuestion(survey, year, area)
    conn = await s.connection()
    created: list[Imported] = []
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        now = utcnow()
        households = [{
            "village_id": item.village.id, "survey_id": survey.id, "survey_version": survey.version,
            "review_year": year, "status": Status.DRAFT, "head_name": item.answers.get("chu_ho_ten"),
            "created_by": user_id, "area": area, "created_at": now, "updated_at": now, "revision": 1,
            "state": {"cursor": first(item.answers), "mode": "ask"}} for item in chunk]
        ids = await _insert_households(conn, households)
        answers: list[dict[str, Any]] = []
        audits: list[dict[str, Any]] = []
        reviews: list[dict[str, Any]] = []
        steps: list[dict[str, Any]] = []
        for hid, item in zip(ids, chunk, strict=True):
            created.append(Imported(hid, item.village.id, item.answers.get("chu_ho_ten")))
            audits.append(_audit(hid, "create", user_id, now, {"survey": survey.key, "village": item.village.name,
                                                               "import": file, "row": item.row}))
            baseline = {}
            for key, value in item.answers.items():
                stored, lookup = seal_answer(s, key, value)
                baseline[key] = stored  # last year's answers as stored: sealed the same way, sealed once
                answers.append({"household_id": hid, "key": key, "value": stored, "lookup": lookup,
                                "updated_at": now, "updated_by": user_id})
                audits.append(_audit(hid, "answer", user_id, now, stored, key))
            reviews.append({"household_id": hid, "origin": Origin.LIST, "stage": Stage.LISTED,
                            "listed_class": item.listed_class, "baseline": baseline, "updated_at": now})
            data = {"file": file, "sheet": item.sheet, "row": item.row, "class": item.listed_class}
            steps.append({"household_id": hid, "step": "listed", "event_id": None, "data": data, "user_id": user_id,
                          "at": now})
            audits.append(_audit(hid, "listed", user_id, now, {"step": "listed", "stage": str(Stage.LISTED), **data}))
        for table, params in ((Answer, answers), (Review, reviews), (ReviewStep, steps), (AuditLog, audits)):
            if params:
                await conn.execute(insert(table), params)
    return created


async def _insert_households(conn: AsyncConnection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert the households and return their ids in the rows' order. PostgreSQL returns them in
    order from one statement; SQLite cannot promise an order for a many-row RETURNING (SQLAlchemy
    would fall back to a statement per row), but this transaction is its only writer (BEGIN
    IMMEDIATE), so the ids after the largest one are ours to give."""
    if conn.dialect.name == "postgresql":
        result = await conn.execute(insert(Household).returning(Household.id, sort_by_parameter_order=True), rows)
        return list(result.scalars().all())
    last = await conn.scalar(select(func.max(Household.id))) or 0
    ids = list(range(last + 1, last + 1 + len(rows)))
    await conn.execute(insert(Household), [{**r, "id": i} for r, i in zip(rows, ids, strict=True)])
    return ids


class _FirstQuestion:
    """Where each household's survey starts: the first question of the form's view of its
    answers. The view is the same for households whose answers differ only in free values (a
    name, an ID number, a phone: no relevance rule reads them), so it is worked out once per
    kind of row, not once per row (about 1 ms each)."""

    FREE = ("text", "id_number", "phone")

    def __init__(self, survey: Survey, year: int, area: str) -> None:
        self.engine = SurveyEngine(survey, {"review_year": year, "is_urban": area == "urban"})
        questions = [*survey.household_questions(), *(q for g in survey.groups() for q in g.questions)]
        self.free = {q.id for q in questions if getattr(q.type, "value", q.type) in self.FREE}
        self.known: dict[tuple[Any, ...], str] = {}

    def __call__(self, answers: dict[str, Any]) -> str:
        kind = tuple(sorted((k, True if k.rsplit(".", 1)[-1] in self.free else v) for k, v in answers.items()))
        if kind not in self.known:
            self.known[kind] = self.engine.view(answers).slots[0].key
        return self.known[kind]


def _audit(hid: int, action: str, user_id: int | None, at: Any, new_value: Any, key: str | None = None
           ) -> dict[str, Any]:
    return {"household_id": hid, "action": action, "key": key, "old_value": None, "new_value": new_value,
            "user_id": user_id, "at": at}
