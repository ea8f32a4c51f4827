"""The households of a village or commune in this year's review, with their review rows, and
the entries the procedure's documents are written from. Every procedure command asks these
questions; they are answered once here so the chat handlers only translate."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.procedure.documents import Entry
from core.procedure.models import Review
from core.procedure.start_class import start_class
from core.procedure.steps import Stage
from core.storage.models import Household, Unit
from core.storage.repo import load_answers
from core.units.scope import village_ids, village_names

Pair = tuple[Household, Review]


async def reviews(s: AsyncSession, unit: Unit, year: int, stages: Iterable[Stage] | None = None) -> list[Pair]:
    """This year's reviewed households of the unit's villages, in household order."""
    query = select(Household, Review).join(Review, Review.household_id == Household.id).where(
        Household.village_id.in_(await village_ids(s, unit)), Household.review_year == year)
    wanted = [str(st) for st in stages or ()]
    if wanted:
        query = query.where(Review.stage.in_(wanted))
    return [(h, r) for h, r in (await s.execute(query.order_by(Household.id))).all()]


async def entries(s: AsyncSession, pairs: list[Pair]) -> list[Entry]:
    """What the posted list, the decision and the certificates print for each household."""
    names = await village_names(s, {h.village_id for h, _ in pairs})
    return [Entry(h, names.get(h.village_id, ""), await load_answers(s, h.id), start_class(h, r), r.final_class)
            for h, r in pairs]
