"""Where a household lies in the unit tree (village -> commune -> district -> province), as SQL.

One place answers "which households are inside this unit" and "which units are its rows", for
lists of households in chat, report tables and progress alike; the 200-commune configuration
has districts between commune and province, the 65-commune one does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.storage.models import Household, Unit

CHILD_LEVEL = {"village": "village", "commune": "village", "district": "commune"}


class UnitTree:
    """Aliases for village -> commune -> district, and the grouping key for a unit's children.

    `of()` also reads the villages inside the unit once (a few hundred small rows for a province):
    queries over households are limited by their village ids, which the planner estimates
    exactly, instead of by the unit's place up the tree. PostgreSQL cannot estimate
    "commune's parent or district's parent is X" across two joined tables, guessed a few dozen
    villages for a whole province and read 200,000 households through as many index probes
    (1.7 s instead of 40 ms of CPU). The same rows give the resident totals without a query."""

    def __init__(self, unit: Unit, has_districts: bool, villages: list[VillageRow] | None = None) -> None:
        self.unit = unit
        self.village, self.commune, self.district = aliased(Unit), aliased(Unit), aliased(Unit)
        self.child_level = CHILD_LEVEL.get(unit.level, "district" if has_districts else "commune")
        self.key = {"village": self.village.id, "commune": self.commune.id, "district": self.district.id}[
            self.child_level]
        self.villages = villages
        self._children: list[Unit] | None = None

    def join(self, query: Select, households: bool) -> Select:
        """FROM households (or villages) up through commune and district, limited to the unit."""
        if households:
            query = query.select_from(Household).join(self.village, Household.village_id == self.village.id)
        else:
            query = query.select_from(self.village).where(self.village.level == "village")
        inside = self.households_inside() if households else None
        return (query.join(self.commune, self.village.parent_id == self.commune.id)
                .outerjoin(self.district, self.commune.parent_id == self.district.id)
                .where(self.in_area() if inside is None else inside))

    def households_inside(self) -> ColumnElement[bool] | None:
        """Households of the unit's villages, by village id (ids written into the SQL, so a
        prepared statement's generic plan still sees how many); None before the villages are read."""
        if self.villages is None:
            return None
        if self.unit.level == "village":
            return Household.village_id == self.unit.id
        ids = sorted(v.id for v in self.villages)
        return Household.village_id.in_(bindparam("village_ids", ids, expanding=True, literal_execute=True))

    def households(self, query: Select) -> Select:
        """FROM households alone, limited to the unit's villages: for counts grouped by
        village and added up by `roll_up` (three joins fewer per household)."""
        inside = self.households_inside()
        assert inside is not None, "UnitTree.of reads the villages"
        return query.select_from(Household).where(inside)

    def roll_up(self, rows: Sequence[Sequence[Any]]) -> dict[tuple[int | None, str], list[int]]:
        """Rows (village id, area, figures...) added up per (child unit, area); no area is rural."""
        keys = {v.id: self.key_of(v) for v in self.villages or ()}
        out: dict[tuple[int | None, str], list[int]] = {}
        for village, area, *figures in rows:
            key = (keys.get(village), area or "rural")
            got = out.get(key)
            if got is None:
                out[key] = [int(v or 0) for v in figures]
            else:
                for i, v in enumerate(figures):
                    got[i] += int(v or 0)
        return out

    def in_area(self) -> ColumnElement[bool]:
        u = self.unit
        if u.level == "village":
            return self.village.id == u.id
        if u.level == "commune":
            return self.commune.id == u.id
        if u.level == "district":
            return self.district.id == u.id
        return or_(self.commune.parent_id == u.id, self.district.parent_id == u.id)

    def key_of(self, v: VillageRow) -> int | None:
        return {"village": v.id, "commune": v.commune_id, "district": v.district_id}[self.child_level]

    async def resident_totals(self, session: AsyncSession) -> dict[int, int | None]:
        """Resident households (villages' households_total) per child unit; a child whose
        villages have no count at all has None (as SQL's SUM)."""
        if self.villages is None:
            query = self.join(select(self.key, func.sum(self.village.households_total)), households=False)
            return {k: v for k, v in (await session.execute(query.group_by(self.key))).all()}
        totals: dict[int, int | None] = {}
        for v in self.villages:
            key = self.key_of(v)
            if key is None:
                continue
            got = totals.get(key)
            totals[key] = got if v.households_total is None else (got or 0) + v.households_total
        return totals

    def partial(self) -> set[int]:
        """Child units with a village of unknown size (their resident count is not known)."""
        assert self.villages is not None
        return {k for v in self.villages if v.households_total is None and (k := self.key_of(v)) is not None}

    async def children(self, session: AsyncSession) -> list[Unit]:
        """The rows of a report on the unit (see `children`), read once per tree."""
        if self._children is None:
            self._children = await children(session, self.unit)
        return self._children

    @classmethod
    async def of(cls, session: AsyncSession, unit: Unit) -> UnitTree:
        """The tree below `unit`, with its villages read (one small query over units; none
        for a village, which is its own only village)."""
        if unit.level == "village":
            return cls(unit, False, [VillageRow(unit.id, unit.parent_id or 0, None, unit.households_total)])
        probe = cls(unit, False)
        rows = (await session.execute(probe.join(select(
            probe.village.id, probe.commune.id, probe.district.id, probe.village.households_total),
            households=False))).all()
        districts = unit.level == "province" and await has_districts(session, unit)
        return cls(unit, districts, [VillageRow(*r) for r in rows])


@dataclass(frozen=True)
class VillageRow:
    id: int
    commune_id: int
    district_id: int | None
    households_total: int | None


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
