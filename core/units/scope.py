"""Which villages a unit stands for, as ids or as a filter on households.

Commands of the review procedure and the progress counts ask the same question ("the
households of this village or commune"), so it is answered once, here, for every caller.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from core.storage.models import Household, Unit


async def village_ids(s: AsyncSession, unit: Unit) -> list[int]:
    """A village is itself; a commune is its villages (the procedure's two levels)."""
    if unit.level == "village":
        return [unit.id]
    return list((await s.scalars(select(Unit.id).where(Unit.parent_id == unit.id))).all())


async def villages_of(s: AsyncSession, commune: Unit) -> list[Unit]:
    """A commune's villages by name, for every "pick a village" step."""
    return list((await s.scalars(select(Unit).where(Unit.parent_id == commune.id, Unit.level == "village")
                                 .order_by(Unit.name))).all())


async def village_filter(s: AsyncSession, unit: Unit) -> ColumnElement[bool]:
    """Households of a village or commune; above the commune every household of the year (the
    procedure's counts are asked of a village or commune, a province sees the totals)."""
    if unit.level in ("village", "commune"):
        return Household.village_id.in_(await village_ids(s, unit))
    return true()


async def village_names(s: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {u.id: u.name for u in (await s.scalars(select(Unit).where(Unit.id.in_(ids)))).all()}
