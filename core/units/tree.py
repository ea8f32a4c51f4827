"""Where a household lies in the unit tree (village -> commune -> district -> province), as SQL.

One place answers "which households are inside this unit" and "which units are its rows", for
lists of households in chat, report tables and progress alike; the 200-commune configuration
has districts between commune and province, the 65-commune one does not.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.storage.models import Household, Unit

CHILD_LEVEL = {"village": "village", "commune": "village", "district": "commune"}


class UnitTree:
    """Aliases for village -> commune -> district, and the grouping key for a unit's children."""

    def __init__(self, unit: Unit, has_districts: bool) -> None:
        self.unit = unit
        self.village, self.commune, self.district = aliased(Unit), aliased(Unit), aliased(Unit)
        self.child_level = CHILD_LEVEL.get(unit.level, "district" if has_districts else "commune")
        self.key = {"village": self.village.id, "commune": self.commune.id, "district": self.district.id}[
            self.child_level]

    def join(self, query: Select, households: bool) -> Select:
        """FROM households (or villages) up through commune and district, limited to the unit."""
        if households:
            query = query.select_from(Household).join(self.village, Household.village_id == self.village.id)
        else:
            query = query.select_from(self.village).where(self.village.level == "village")
        return (query.join(self.commune, self.village.parent_id == self.commune.id)
                .outerjoin(self.district, self.commune.parent_id == self.district.id).where(self.in_area()))

    def in_area(self) -> ColumnElement[bool]:
        u = self.unit
        if u.level == "village":
            return self.village.id == u.id
        if u.level == "commune":
            return self.commune.id == u.id
        if u.level == "district":
            return self.district.id == u.id
        return or_(self.commune.parent_id == u.id, self.district.parent_id == u.id)

    async def resident_totals(self, session: AsyncSession) -> dict[int, int | None]:
        """Resident households (villages' households_total) per child unit."""
        query = self.join(select(self.key, func.sum(self.village.households_total)), households=False)
        return {k: v for k, v in (await session.execute(query.group_by(self.key))).all()}

    @classmethod
    async def of(cls, session: AsyncSession, unit: Unit) -> UnitTree:
        return cls(unit, await has_districts(session, unit))


async def has_districts(session: AsyncSession, unit: Unit) -> bool:
    found = await session.scalar(select(Unit.id).where(Unit.parent_id == unit.id, Unit.level == "district").limit(1))
    return found is not None


async def children(session: AsyncSession, unit: Unit) -> list[Unit]:
    """The rows of a report on `unit`: its villages, communes or districts (itself for a village)."""
    if unit.level == "village":
        return [unit]
    rows = await session.scalars(select(Unit).where(Unit.parent_id == unit.id).order_by(Unit.code, Unit.name))
    return list(rows.all())


async def commune_of(session: AsyncSession, unit: Unit) -> Unit | None:
    """The commune a village (or the commune itself) belongs to; its kind decides rural/urban."""
    current: Unit | None = unit
    while current is not None and current.level not in ("commune",):
        current = await session.get(Unit, current.parent_id) if current.parent_id else None
    return current


async def ancestors(session: AsyncSession, unit: Unit) -> list[int]:
    """Ids of the unit and all units above it, nearest first (for access checks)."""
    ids = []
    current: Unit | None = unit
    while current is not None:
        ids.append(current.id)
        current = await session.get(Unit, current.parent_id) if current.parent_id else None
    return ids
