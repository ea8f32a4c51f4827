"""Report figures computed in the database: one GROUP BY query per table, one SUM(CASE ...)
per measure, so a province of 200,000 households is never loaded into Python."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, String, and_, case, cast, exists, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.households import indicator_bit
from core.i18n import t
from core.procedure.models import Review
from core.procedure.start_class import on_last_years_list, start_class_column
from core.reports.filters import Filter, Measure, MemberCount
from core.reports.list_spec import ListSpec
from core.reports.stage import Basis
from core.reports.table_spec import TableSpec
from core.storage.models import Answer, Household, Unit
from core.storage.sealed import sealer_of
from core.surveys.model import Survey
from core.units.tree import UnitTree

NOTE_NAMES = 10  # units named in the note line; the rest are counted
AREAS = ("urban", "rural")  # the official order: I. Khu vực thành thị, II. Khu vực nông thôn
URBAN_KINDS = ("Phường", "Thị trấn")  # communes that are urban; a unit with no household yet is placed by kind
# the household's review row, outer-joined under its own name (the official basis joins Review
# too): where the start-of-review class comes from (core/procedure/start_class.py)
LISTED = aliased(Review, name="listed")


def with_start_class(query: Select) -> Select:
    """Only review rows that carry last year's class are joined: every use of LISTED reads
    listed_class alone, so the others would add nothing but a four times larger hash table
    (55 ms of PostgreSQL's CPU per 200,000 households)."""
    return query.outerjoin(LISTED, and_(LISTED.household_id == Household.id, LISTED.listed_class.is_not(None)))


@dataclass
class Row:
    unit_id: int | None
    name: str
    counts: dict[Measure, int | None] = field(default_factory=dict)
    splits: list[dict[Measure, int | None]] = field(default_factory=list)  # one per split row (Hộ, Nhân khẩu)

    def value(self, measure: Measure) -> int | None:
        return self.counts.get(measure)

    def split(self, i: int) -> Row:
        return Row(self.unit_id, self.name, self.splits[i])


@dataclass
class Section:
    area: str  # urban | rural
    rows: list[Row]
    subtotal: Row


@dataclass
class TableData:
    spec: TableSpec
    unit: Unit
    year: int
    rows: list[Row]
    total: Row
    sections: list[Section] = field(default_factory=list)
    # Rows whose resident household count is unknown (a village without one, or a unit with such a
    # village): they have no rate, and the total row leaves them out when any row has a count, so
    # the total's rate divides like by like. The workbook says so in a note line.
    without_count: list[str] = field(default_factory=list)
    basis: Basis = field(default_factory=Basis)
    provisional: bool = False  # a household counted was classified with a provisional rule: «TẠM TÍNH»

    @property
    def total_excludes(self) -> bool:
        return bool(self.without_count) and len(self.without_count) < len(self.rows)

    def note(self) -> str | None:
        if not self.without_count:
            return None
        if not self.total_excludes:
            return t("rpt_note_no_counts")
        names = ", ".join(self.without_count[:NOTE_NAMES]) + ("…" if len(self.without_count) > NOTE_NAMES else "")
        return t("rpt_note_total_excludes", n=len(self.without_count), names=names)

    def difference(self, row: Row, terms: tuple[Measure, ...]) -> int | None:
        values = [row.value(m) for m in terms]
        if any(v is None for v in values):
            return None
        return values[0] - sum(values[1:])  # type: ignore[operator]

    def ratio(self, row: Row, num: Measure, den: Measure) -> float | None:
        n, d = row.value(num), row.value(den)
        if n is None or not d:
            return None
        return round(100 * n / d, 2)


def condition(f: Filter, majority: tuple[str, ...],
              outcome: ColumnElement[str] | None = None) -> ColumnElement[bool]:
    """`outcome`: the column holding the class counted (the survey's, or the decision's)."""
    parts: list[ColumnElement[bool]] = []
    if f.outcome:
        parts.append((Household.outcome if outcome is None else outcome).in_(f.outcome))
    if f.prior_class:
        parts.append(start_class_column(LISTED).in_(f.prior_class))
    if f.minority is True:
        parts.append(and_(Household.ethnicity.is_not(None), Household.ethnicity.not_in(majority)))
    elif f.minority is False:
        parts.append(Household.ethnicity.in_(majority))
    if f.indicator is not None:
        parts.append(Household.deprived_mask.op("&")(indicator_bit(f.indicator)) != 0)
    if f.area is not None:
        parts.append(Household.area == f.area)
    if f.ethnicity:
        parts.append(Household.ethnicity.in_(f.ethnicity))
    if f.ethnicity_not:
        parts.append(and_(Household.ethnicity.is_not(None), Household.ethnicity.not_in(f.ethnicity_not)))
    for qid, values in f.answers:
        parts.append(exists().where(Answer.household_id == Household.id, Answer.key == qid,
                                    cast(Answer.value, String).in_(values)))
    return and_(true(), *parts)


def _answer_text(answer: Any) -> ColumnElement[str]:
    """The stored JSON as text, the same on SQLite and PostgreSQL ("khong_dat", true)."""
    return cast(answer.value, String)


def member_count(m: MemberCount) -> ColumnElement[int]:
    """Members of the current household who answered `m.question` (with `m.values`) and whose
    answers to the `where` questions (same member index: the key differs only in its last
    part) match."""
    anchor = aliased(Answer)
    suffix = f".{m.question}"
    query = select(func.count(anchor.id)).where(anchor.household_id == Household.id,
                                                anchor.key.like(f"%.%{suffix}"))
    if m.values:
        query = query.where(_answer_text(anchor).in_(m.values))
    for qid, values in m.where:
        other = aliased(Answer)
        query = query.where(exists().where(other.household_id == anchor.household_id,
                                           other.key == func.replace(anchor.key, suffix, f".{qid}"),
                                           _answer_text(other).in_(values)))
    return query.scalar_subquery()


def _weight(f: Filter) -> ColumnElement[int] | int:
    if f.members is not None:
        return member_count(f.members)
    return func.coalesce(Household.member_count, 0) if f.persons else 1


async def aggregate(session: AsyncSession, spec: TableSpec, unit: Unit, year: int,
                    majority: tuple[str, ...], basis: Basis | None = None, tree: UnitTree | None = None) -> TableData:
    """Counts per (unit, area) in one query; rows per unit, and per area for the official
    I. thành thị / II. nông thôn / III. tổng cộng layout. `tree`: the unit's, when the caller
    has read it already."""
    tree = tree or await UnitTree.of(session, unit)
    filters = [m for m in spec.measures() if isinstance(m, Filter)]
    variants = filters + [f.split(v) for v in spec.splits for f in filters]
    basis = basis or Basis()
    counted = await _counted(session, tree, variants, year, majority, basis)
    provisional = any([got.pop() for got in counted.values()])  # the pass's last sum: provisional results
    households_total = await tree.resident_totals(session)
    # a unit with a village of unknown size has no known resident count (a partial sum would
    # inflate its rate)
    for key in tree.partial():
        households_total[key] = None
    units = await tree.children(session)

    def make(child: Unit, areas: tuple[str, ...], resident: int | None) -> Row:
        got = [counted[(child.id, a)] for a in areas if (child.id, a) in counted]
        column = lambda i: sum(int(g[i] or 0) for g in got)  # noqa: E731 - one column of the grouped result
        counts: dict[Measure, int | None] = {"surveyed": column(0), "households_total": resident,
                                             "persons_total": None, "not_collected": None}
        for i, f in enumerate(filters):
            counts[f] = column(i + 2)
        splits = []
        for k, variant in enumerate(spec.splits):
            named = variant.persons and not variant.outcome
            split: dict[Measure, int | None] = {"surveyed": column(1) if named else None,
                                                "households_total": None if variant.persons else resident,
                                                "persons_total": None, "not_collected": None}
            for i, f in enumerate(filters):
                split[f] = column(2 + len(filters) * (k + 1) + i)
            splits.append(split)
        return Row(child.id, child.name, counts, splits)

    rows = [make(child, AREAS, households_total.get(child.id)) for child in units]
    without = [r.name for r in rows if r.counts["households_total"] is None]
    with_count = [r for r in rows if r.counts["households_total"] is not None] or rows
    total = _sum_rows(with_count, len(spec.splits))
    sections: list[Section] = []
    if spec.area_groups:
        for area in AREAS:
            members = []
            for child in units:
                # A unit is listed under each area it has households in; its resident count only
                # under its one area (a district with both gets no rate per area).
                seen = {a for (cid, a) in counted if cid == child.id}
                home = (next(iter(seen)) if len(seen) == 1 else None) if seen else _area_of(child, unit)
                if area in seen or home == area:
                    members.append(make(child, (area,), households_total.get(child.id) if home == area else None))
            counted_members = [m for m in members if m.counts["households_total"] is not None] or members
            sections.append(Section(area, members, _sum_rows(counted_members, len(spec.splits))))
    return TableData(spec, unit, year, rows, total, sections, without, basis, provisional)


def start_only(f: Filter) -> bool:
    """A start-of-year measure ("hộ nghèo đầu năm"): the start class alone, no outcome."""
    return bool(f.prior_class) and not f.outcome and not f.answers


async def _counted(session: AsyncSession, tree: UnitTree, variants: list[Filter], year: int,
                   majority: tuple[str, ...], basis: Basis) -> dict[tuple[int | None, str], list[int]]:
    """(unit, area) -> submitted households, their members, one sum per variant, and how many of
    them were classified with a provisional rule.

    The households the basis counts (submitted; recognised for official figures), except for
    start-of-year measures, which count last year's list whatever each listed household's stage
    now: one never surveyed again, or sent back by the meeting, was still poor at the start of
    the year. Households not on the list count there by their Phiếu B, as the basis allows.

    One pass over the households, grouped by village (no join up the unit tree per household),
    the villages then added up per child unit here: a start-of-year measure counts a household
    the basis counts or one on the list, every other sum only the former."""
    starts = {i for i, f in enumerate(variants) if start_only(f)}
    counts = basis.counts()
    listed = on_last_years_list(LISTED)

    def sums(f: Filter, start: bool) -> ColumnElement[int]:
        cond = condition(f, majority, basis.outcome())
        return func.sum(case((and_(or_(counts, listed), cond) if start else
                              and_(counts, cond) if starts else cond, _weight(f)), else_=0))

    first = [func.sum(case((counts, 1), else_=0)), func.sum(case((counts, func.coalesce(Household.member_count, 0)),
                                                                 else_=0))] if starts else [
        func.count(Household.id), func.sum(func.coalesce(Household.member_count, 0))]
    # last: households counted whose class came from a provisional rule (the table says «TẠM TÍNH»)
    provisional = func.sum(case((and_(counts, Household.provisional.is_(True)), 1), else_=0))
    query = tree.households(select(Household.village_id, Household.area, *first,
                                   *(sums(f, i in starts) for i, f in enumerate(variants)), provisional))
    if starts or any(f.prior_class for f in variants):
        query = with_start_class(query)
    query = basis.join(query).where(Household.review_year == year, or_(counts, listed) if starts else counts)
    return tree.roll_up((await session.execute(query.group_by(Household.village_id, Household.area))).all())


def _area_of(child: Unit, parent: Unit) -> str | None:
    """The area of a unit without households: a commune by its kind, a village by its commune;
    a district holds both."""
    if child.level == "commune":
        return "urban" if child.kind in URBAN_KINDS else "rural"
    if child.level == "village":
        return "urban" if parent.kind in URBAN_KINDS else "rural"
    return None


def _sum(values: list[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _sum_rows(rows: list[Row], splits: int) -> Row:
    """Totals of known figures; a column nobody could fill stays blank, not 0."""
    total = Row(None, "", {}, [{} for _ in range(splits)])  # labelled by the renderer (rpt_total)
    measures = list(rows[0].counts) if rows else []
    for measure in measures:
        total.counts[measure] = _sum([r.counts.get(measure) for r in rows])
        for k in range(splits):
            total.splits[k][measure] = _sum([r.splits[k].get(measure) for r in rows])
    return total


@dataclass
class ListRow:
    household: Any  # a row of the households table (attribute access by column name)
    village: str
    answers: dict[str, Any] = field(default_factory=dict)  # the list's answer columns
    members: list[dict[str, Any]] = field(default_factory=list)  # per member: question id -> answer


LIST_CHUNK = 1000  # households per fetch from the streamed query, and per answers query


async def list_rows(session: AsyncSession, spec: ListSpec, survey: Survey, unit: Unit, year: int,
                    majority: tuple[str, ...]) -> AsyncIterator[ListRow]:
    """Households of a list in village, then head-name order, with the answers its columns
    name. Streamed: LIST_CHUNK households at a time from a server-side cursor (PostgreSQL) or
    SQLite's stepping cursor, their answers read in one query per chunk, so memory stays flat
    whatever the province's size. Plain rows, not ORM objects: nothing is tracked."""
    tree = await UnitTree.of(session, unit)
    query = with_start_class(tree.join(select(*Household.__table__.columns, tree.village.name.label("list_village"),
                                              start_class_column(LISTED).label("start_class")),
                                       households=True)).where(
        Household.status == "submitted", Household.review_year == year, Household.survey_id == survey.id,
        condition(spec.filter, majority)).order_by(tree.village.name, Household.head_name, Household.id)
    group = survey.groups()[0].id if spec.members else None
    keys = spec.answer_keys()
    member_keys = spec.member_keys()
    wanted = Answer.key.in_(keys) if keys else None
    if group:
        by_group = Answer.key.like(f"{group}.%")
        wanted = by_group if wanted is None else or_(wanted, by_group)
    sealer = sealer_of(session)  # once per list, not once per answer (about 400,000 for ds_bhyt)
    stream = await session.stream(query.execution_options(yield_per=LIST_CHUNK))
    async for chunk in stream.partitions(LIST_CHUNK):
        details: dict[int, dict[str, Any]] = {}
        if wanted is not None:
            answers = await session.execute(select(Answer.household_id, Answer.key, Answer.value).where(
                Answer.household_id.in_([h.id for h in chunk]), wanted))
            for hid, key, value in answers.all():
                details.setdefault(hid, {})[key] = sealer.open(value) if sealer is not None else value
        for household in chunk:
            got = details.get(household.id, {})
            row = ListRow(household, household.list_village, {k: got.get(k) for k in keys})
            if group:
                for index in range(1, (household.member_count or 0) + 1):
                    prefix = f"{group}.{index}."
                    row.members.append({"_index": index, **{q: got.get(prefix + q) for q in member_keys}})
            yield row
