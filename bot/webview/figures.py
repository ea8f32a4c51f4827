"""What the overview shows, computed by the builders the bot already uses: progress rows from
core/reports/build.progress (the same as /tiendo), poor and near-poor counts and rates from
core/reports/query.aggregate with the measures of Biểu 7.1 (and the start-of-year class for last
year), on the stage Biểu 7.1 would use (default_basis), and the plan's phases and report
requests from core/plans. Nothing here counts on its own, so a figure on the page and in the
workbook cannot disagree."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import AppData
from core.plans.model import Phase, Plan, ReportRequest
from core.plans.tracking import UnitIndex, status
from core.reports.build import ProgressRow, progress
from core.reports.chart import NEAR, POOR
from core.reports.filters import Filter
from core.reports.query import Row, TableData, aggregate
from core.reports.stage import Basis, default_basis
from core.reports.table_spec import Column, TableSpec
from core.storage.models import Unit
from core.units.tree import UnitTree

START_POOR, START_NEAR = Filter(prior_class=("poor",)), Filter(prior_class=("near_poor",))
BASE = "households_total"
RATES = TableSpec("web", "", "", (Column("poor", POOR), Column("near", NEAR), Column("poor0", START_POOR),
                                  Column("near0", START_NEAR)), "bot/webview/figures.py")


@dataclass
class ChildRow:
    unit: Unit | None
    progress: ProgressRow
    poor: int | None = None
    near: int | None = None
    poor_rate: float | None = None
    near_rate: float | None = None
    poor_rate_before: float | None = None
    near_rate_before: float | None = None

    @property
    def percent(self) -> float | None:
        total = self.progress.households_total
        return None if not total else round(100 * self.progress.submitted / total, 1)


@dataclass
class RequestLine:
    title: str
    due: date
    owed: int
    submitted: int
    late: int


@dataclass
class Overview:
    unit: Unit
    year: int
    basis: Basis
    rows: list[ChildRow]
    total: ChildRow
    phases: list[Phase] = field(default_factory=list)
    deadlines: list[tuple[date, str]] = field(default_factory=list)
    requests: list[RequestLine] = field(default_factory=list)
    days_left: int | None = None


def behind_first(row: ChildRow) -> tuple[float, str]:
    """Furthest behind first, as /tiendo orders its units (unknown totals first)."""
    total = row.progress.households_total
    if not total:
        return (0.0 if row.progress.submitted == 0 else 0.5, row.progress.name)
    return (row.progress.submitted / total, row.progress.name)


def _rates(data: TableData, row: ChildRow, got: Row) -> None:
    row.poor, row.near = got.value(POOR), got.value(NEAR)
    row.poor_rate, row.near_rate = data.ratio(got, POOR, BASE), data.ratio(got, NEAR, BASE)
    row.poor_rate_before, row.near_rate_before = data.ratio(got, START_POOR, BASE), data.ratio(got, START_NEAR, BASE)


def plan_of(plans: list[Plan], unit: Unit, year: int) -> Plan | None:
    return next((p for p in plans if p.covers(year) and p.units_configuration == unit.configuration), None)


async def overview(s: AsyncSession, app: AppData, unit: Unit, now: datetime) -> Overview:
    year = app.settings.review_year
    tree = await UnitTree.of(s, unit)  # read once for the three builders
    basis = await default_basis(s, unit, year, tree=tree)
    prog = await progress(s, unit, year, tree)
    data = await aggregate(s, RATES, unit, year, app.reports.lists.majority_ethnicities, basis, tree)
    by_id = {r.unit_id: r for r in data.rows}
    units = {u.id: u for u in await tree.children(s)}
    rows = []
    for p in prog:
        row = ChildRow(units.get(p.unit_id) if p.unit_id is not None else None, p)
        if p.unit_id in by_id:
            _rates(data, row, by_id[p.unit_id])
        rows.append(row)
    rows.sort(key=behind_first)
    remaining = [r.remaining for r in prog]
    total = ChildRow(unit, ProgressRow(unit.name, sum(r.submitted for r in prog), sum(r.drafts for r in prog),
                                       None if None in remaining else sum(r.households_total or 0 for r in prog),
                                       unit.id))
    _rates(data, total, data.total)
    out = Overview(unit, year, basis, rows, total)
    plan = plan_of(app.plans, unit, year)
    if plan is not None:
        await _plan(s, out, plan, unit, now)
    return out


async def _plan(s: AsyncSession, out: Overview, plan: Plan, unit: Unit, now: datetime) -> None:
    today = plan.today(now)
    out.phases = [p for p in plan.phases if p.start <= today <= p.end]
    if out.phases:
        out.days_left = (min(p.end for p in out.phases) - today).days
    upcoming = [(p.end, p.title) for p in plan.phases if p.end >= today]
    upcoming += [(r.due, r.title) for r in plan.reports if r.due >= today]
    out.deadlines = sorted(upcoming)[:5]
    receivers = [r for r in plan.reports if _receives(r, unit)]
    if not receivers:
        return
    index = await UnitIndex.load(s, unit.configuration)
    for request in receivers:
        owed = await status(s, index, plan, request, unit)
        late = sum(1 for u in owed if u.late_days(plan, request, now) > 0)
        out.requests.append(RequestLine(request.title, request.due, len(owed),
                                        sum(1 for u in owed if u.submission is not None), late))


def _receives(request: ReportRequest, unit: Unit) -> bool:
    """The unit is at the request's receiving level, or above its submitters (it follows them)."""
    order = ("village", "commune", "district", "province")
    return unit.level in order and order.index(unit.level) > order.index(request.submitter) \
        if request.submitter in order else False
