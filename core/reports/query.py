"""Report figures computed in the database: one GROUP BY query per table, one SUM(CASE ...)
per measure, so a province of 200,000 households is never loaded into Python."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from core.reports.spec import Filter, ListSpec, Measure, TableSpec
from core.storage.models import Answer, Household, Unit
from core.storage.sealed import open_answer
from core.units.tree import UnitTree, children


@dataclass
class Row:
    unit_id: int | None
    name: str
    counts: dict[Measure, int | None] = field(default_factory=dict)

    def value(self, measure: Measure) -> int | None:
        return self.counts.get(measure)


@dataclass
class TableData:
    spec: TableSpec
    unit: Unit
    year: int
    rows: list[Row]
    total: Row

    def ratio(self, row: Row, num: Measure, den: Measure) -> float | None:
        n, d = row.value(num), row.value(den)
        if n is None or not d:
            return None
        return round(100 * n / d, 2)


def condition(f: Filter, majority: tuple[str, ...]) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = []
    if f.outcome:
        parts.append(Household.outcome.in_(f.outcome))
    if f.prior_class:
        parts.append(Household.prior_class.in_(f.prior_class))
    if f.minority is True:
        parts.append(and_(Household.ethnicity.is_not(None), Household.ethnicity.not_in(majority)))
    elif f.minority is False:
        parts.append(Household.ethnicity.in_(majority))
    if f.indicator is not None:
        parts.append(Household.deprived_mask.op("&")(1 << (f.indicator - 1)) != 0)
    if f.area is not None:
        parts.append(Household.area == f.area)
    return and_(true(), *parts)


async def aggregate(session: AsyncSession, spec: TableSpec, unit: Unit, year: int,
                    majority: tuple[str, ...]) -> TableData:
    tree = await UnitTree.of(session, unit)
    filters = [m for m in spec.measures() if isinstance(m, Filter)]
    sums = [func.sum(case((condition(f, majority), 1), else_=0)) for f in filters]
    query = tree.join(select(tree.key, func.count(Household.id), *sums), households=True).where(
        Household.status == "submitted", Household.review_year == year).group_by(tree.key)
    counted: dict[int, tuple[Any, ...]] = {row[0]: tuple(row[1:]) for row in (await session.execute(query)).all()}
    households_total = await tree.resident_totals(session)

    rows = []
    for child in await children(session, unit):
        got = counted.get(child.id)
        counts: dict[Measure, int | None] = {"surveyed": int(got[0]) if got else 0,
                                             "households_total": households_total.get(child.id)}
        for i, f in enumerate(filters):
            counts[f] = int(got[i + 1] or 0) if got else 0
        rows.append(Row(child.id, child.name, counts))
    total = Row(None, "", {})  # labelled by the renderer (rpt_total)
    for measure in ["surveyed", "households_total", *filters]:
        values = [r.counts.get(measure) for r in rows]
        known = [v for v in values if v is not None]
        total.counts[measure] = sum(known) if known else None
    return TableData(spec, unit, year, rows, total)


@dataclass
class ListRow:
    household: Household
    village: str
    members: list[dict[str, Any]] = field(default_factory=list)
    id_number: str | None = None


async def list_rows(session: AsyncSession, spec: ListSpec, unit: Unit, year: int,
                    majority: tuple[str, ...]) -> AsyncIterator[ListRow]:
    """Households of a list in village, then head-name order; with members when the list asks."""
    tree = await UnitTree.of(session, unit)
    query = tree.join(select(Household, tree.village.name), households=True).where(
        Household.status == "submitted", Household.review_year == year, condition(spec.filter, majority)
    ).order_by(tree.village.name, Household.head_name, Household.id)
    households = (await session.execute(query)).all()
    details: dict[int, dict[str, Any]] = {}
    if spec.members and households:
        ids = [h.id for h, _ in households]
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            answers = await session.execute(select(Answer.household_id, Answer.key, Answer.value).where(
                Answer.household_id.in_(chunk), or_(Answer.key.like("tv.%"), Answer.key == "chu_ho_cccd")))
            for hid, key, value in answers.all():
                details.setdefault(hid, {})[key] = open_answer(session, value)
    for household, village in households:
        row = ListRow(household, village)
        if spec.members:
            answers = details.get(household.id, {})
            row.id_number = answers.get("chu_ho_cccd")
            for index in range(1, (household.member_count or 0) + 1):
                prefix = f"tv.{index}."
                row.members.append({
                    "index": index,
                    "name": household.head_name if index == 1 else answers.get(prefix + "ho_ten"),
                    "sex": answers.get(prefix + "gioi_tinh"),
                    "birth_year": answers.get(prefix + "nam_sinh"),
                    "relation": answers.get(prefix + "quan_he") if index > 1 else "chu_ho",
                })
        yield row
