"""One entry point for every way of asking for a report: chat command, CLI, benchmark."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.datafile import DataFileError, Errors
from core.private import private_dir, private_file
from core.reports.chart import NEAR, POOR, render_chart
from core.reports.excel import render_list, render_table
from core.reports.filters import Measure, check_filters_against
from core.reports.list_spec import ListsFile, check_list_against, load_lists
from core.reports.query import aggregate, list_rows
from core.reports.stage import Basis, default_basis
from core.reports.table_spec import Column, TableSpec, load_tables
from core.storage.models import Household, Unit
from core.surveys.loader import load_forms
from core.surveys.model import Survey
from core.units.tree import UnitTree


@dataclass
class Catalogue:
    tables: dict[str, TableSpec]
    lists: ListsFile

    @classmethod
    def load(cls, forms: dict[str, Survey] | None = None) -> Catalogue:
        """Tables and lists, each checked against the form it names (like the rule packs)."""
        forms = load_forms() if forms is None else forms
        errors = Errors()
        tables: dict[str, TableSpec] = {}
        lists = ListsFile({}, ())
        with errors.catch():
            tables = load_tables()
        with errors.catch():
            lists = load_lists()
        catalogue = cls(tables, lists)
        for spec in catalogue.tables.values():
            with errors.catch():
                check_headings(spec)
            with errors.catch():
                survey = _form(forms, spec.survey, spec.path)
                for leaf in spec.leaves():
                    with errors.catch():
                        check_filters_against(spec.path, _leaf_measures(leaf), survey, leaf.line)
        for lspec in catalogue.lists.lists.values():
            with errors.catch():
                check_list_against(lspec, _form(forms, lspec.form, lspec.path))
        errors.raise_any()
        return catalogue

    def names(self) -> list[tuple[str, str]]:
        """(id, short title of at most 40 characters) of every table and list, for buttons."""
        return [(k, v.short_title) for k, v in self.tables.items()] + [
            (k, v.short_title) for k, v in self.lists.lists.items()]

    def title(self, report_id: str, year: int, basis: Basis | None = None) -> str:
        """The full title for a caption: the form number and the title with the year and, for a
        table, the stage of its figures (preliminary unless told)."""
        if report_id in self.tables:
            spec = self.tables[report_id]
            return f"{spec.form}: {(basis or Basis()).heading(spec.title, year)}".strip()
        return self.lists.lists[report_id].title.format(year=year).strip()


def check_headings(spec: TableSpec) -> None:
    """A table's title, subtitle and headers fill in only `{year}`, `{stage}` and `{STAGE}`
    (core/reports/stage.py): a mistyped placeholder fails at load, with its line."""
    def every(columns: tuple[Column, ...]) -> list[Column]:
        return [x for c in columns for x in (c, *every(c.children))]

    for text, line in [(spec.title, None), (spec.subtitle, None), *((c.label, c.line or None)
                                                                  for c in every(spec.columns))]:
        try:
            Basis().heading(text, 2000)
        except (KeyError, IndexError, ValueError) as exc:
            raise DataFileError(spec.path, line, f"«{text}» may fill in only {{year}}, {{stage}} and {{STAGE}}: "
                                                 f"{exc!r}") from exc


def _form(forms: dict[str, Survey], sid: str, path: str) -> Survey:
    if sid not in forms:
        raise DataFileError(path, None, f"form '{sid}' is not among the forms ({', '.join(forms)})")
    return forms[sid]


def _leaf_measures(leaf: Column) -> list[Measure]:
    return [m for m in (leaf.value, *(leaf.ratio or ()), *leaf.difference) if m is not None]


PARTIAL = "-tmp"  # marks a file still being written


def _stamp() -> str:
    """Down to the microsecond: two reports of one unit asked in the same second (a second
    officer, a preliminary and an official table) must never overwrite each other."""
    return datetime.now().strftime("%Y%m%d-%H%M%S-%f")


async def build_report(session: AsyncSession, catalogue: Catalogue, report_id: str, unit: Unit, year: int,
                       out_dir: Path, forms: dict[str, Survey], chart: bool = True,
                       basis: Basis | None = None) -> list[Path]:
    """Write the workbook (and for tables the chart); returns the files. A list finds the form
    it names in `forms`. The files list names and ID numbers, so the folder and files are
    owner-only whatever the umask; each is written under a temporary name and renamed when
    complete, so a crash mid-build never leaves a half-written workbook under a real name."""
    private_dir(out_dir)
    written = await _build(session, catalogue, report_id, unit, year, out_dir, forms, chart, basis)
    files = []
    for path in written:
        final = path.with_name(path.name.replace(PARTIAL, ""))
        os.replace(private_file(path), final)
        files.append(final)
    return files


async def _build(session: AsyncSession, catalogue: Catalogue, report_id: str, unit: Unit, year: int,
                 out_dir: Path, forms: dict[str, Survey], chart: bool = True,
                 basis: Basis | None = None) -> list[Path]:
    """Tables count by `basis` (default: official once the unit has a recognition decision)."""
    parent = await session.get(Unit, unit.parent_id) if unit.parent_id else None
    base = out_dir / f"{report_id.replace('.', '_')}_{unit.code or unit.id}_{year}_{_stamp()}{PARTIAL}"
    if report_id in catalogue.tables:
        basis = basis or await default_basis(session, unit, year)
        data = await aggregate(session, catalogue.tables[report_id], unit, year, catalogue.lists.majority_ethnicities,
                               basis)
        files = [render_table(data, parent, base.with_suffix(".xlsx"))]
        if chart:
            chart_spec = _chart_spec(catalogue.tables[report_id])
            chart_data = data if chart_spec is None else await aggregate(
                session, chart_spec, unit, year, catalogue.lists.majority_ethnicities, basis)
            files.append(render_chart(chart_data, base.with_suffix(".png")))
        return files
    spec = catalogue.lists.lists[report_id]
    survey = forms[spec.form]
    rows = list_rows(session, spec, survey, unit, year, catalogue.lists.majority_ethnicities)
    return [await render_list(spec, rows, unit, parent, year, survey, base.with_suffix(".xlsx"))]


def _chart_spec(spec: TableSpec) -> TableSpec | None:
    """The chart needs poor and near-poor counts; borrow them from table 7.1's shape if absent."""
    if POOR in spec.measures() and NEAR in spec.measures():
        return None
    return TableSpec(spec.id, spec.form, spec.title, (Column("poor", POOR), Column("near", NEAR)), spec.path,
                     survey=spec.survey)


@dataclass
class ProgressRow:
    name: str
    submitted: int
    drafts: int
    households_total: int | None
    unit_id: int | None = None

    @property
    def remaining(self) -> int | None:
        return None if self.households_total is None else max(0, self.households_total - self.submitted)


async def progress(session: AsyncSession, unit: Unit, year: int, tree: UnitTree | None = None) -> list[ProgressRow]:
    """Surveyed / drafts / still to survey, per village (for a commune) or per child unit."""
    tree = tree or await UnitTree.of(session, unit)
    counts = tree.households(select(
        Household.village_id,
        func.sum(case((Household.status == "submitted", 1), else_=0)),
        func.sum(case((Household.status == "draft", 1), else_=0)),
    )).where(Household.review_year == year).group_by(Household.village_id)
    rows = [(village, None, s, d) for village, s, d in (await session.execute(counts)).all()]
    got = {k: (s, d) for (k, _), (s, d) in tree.roll_up(rows).items()}
    totals = await tree.resident_totals(session)
    return [ProgressRow(c.name, *got.get(c.id, (0, 0)), totals.get(c.id), c.id) for c in await tree.children(session)]
