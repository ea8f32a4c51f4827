"""Every report table's workbook header is the layout of its data file (titles, nested
headers, numbering, row groups), and the tables that read answers (7.2 tái nghèo, 7.8, 7.10,
7.11) count households surveyed through the service on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.app import ChatApp
from core.reports.build import build_report
from core.reports.excel import column_numbers, label_columns
from core.reports.filters import Filter, MemberCount
from core.reports.query import aggregate
from core.reports.stage import Basis
from core.reports.table_spec import Column, TableSpec
from core.storage.models import Unit
from tests.households import CHILD, NEAR_POOR, POOR, make_village_head, run_survey


def header_cells(columns: tuple[Column, ...], top: int, col: int, depth: int) -> list[tuple[int, int, int, int, str]]:
    """(row, col, last row, last col, label) of every header cell, as the data file nests them."""
    out = []
    for c in columns:
        span = len(c.leaves())
        if c.children:
            out.append((top, col, top, col + span - 1, c.label))
            out += header_cells(c.children, top + 1, col, depth - 1)
        else:
            out.append((top, col, top + depth - 1, col, c.label))
        col += span
    return out


def merged_range(ws, row: int, col: int) -> tuple[int, int, int, int]:  # type: ignore[no-untyped-def]
    for m in ws.merged_cells.ranges:
        if m.min_row == row and m.min_col == col:
            return m.min_row, m.min_col, m.max_row, m.max_col
    return row, col, row, col


async def commune(service: ChatApp, code: str = "6202") -> Unit:
    async with service.db.read() as s:
        return (await s.scalars(select(Unit).where(Unit.configuration == "65", Unit.code == code))).one()


async def test_every_table_header_matches_its_data_file(service: ChatApp, tmp_path: Path) -> None:
    await run_survey(service, await make_village_head(service), POOR)
    unit = await commune(service)
    for spec in service.reports.tables.values():
        async with service.db.read() as s:
            xlsx = (await build_report(s, service.reports, spec.id, unit, 2026, tmp_path, service.forms,
                                       chart=False))[0]
        ws = load_workbook(xlsx).active
        title_row = next(r for r in range(1, 10) if ws.cell(r, 1).value == Basis().heading(spec.title, 2026))
        assert ws.cell(title_row - 1, 1).value == spec.form
        top = next(r for r in range(title_row, title_row + 6) if ws.cell(r, 1).value == "STT")
        depth = max(c.depth() for c in spec.columns)
        labels = label_columns(spec, "village")
        assert labels[1] == "Thôn, bản, tổ dân phố"  # a commune's rows are its villages, whatever the form says
        for i, label in enumerate(labels, 1):
            assert ws.cell(top, i).value == label, (spec.id, label)
        for row, col, last_row, last_col, label in header_cells(spec.columns, top, len(labels) + 1, depth):
            assert ws.cell(row, col).value == Basis().heading(label, 2026), (spec.id, row, col, label)
            assert merged_range(ws, row, col) == (row, col, last_row, last_col), (spec.id, label)
        numbers = [ws.cell(top + depth, c).value for c in range(1, len(labels) + len(spec.leaves()) + 1)]
        assert numbers == column_numbers(spec), spec.id
        body = [ws.cell(r, 2).value for r in range(top + depth + 1, ws.max_row + 1)]
        if spec.area_groups:
            assert body.index("Khu vực thành thị") < body.index("Khu vực nông thôn") < body.index("Tổng cộng (I + II)")
        if spec.splits:
            assert [ws.cell(top + depth + 1 + k, 3).value for k in range(len(spec.splits))] == [
                v.label for v in spec.splits]
    # above a commune the rows are communes: the form's own header (Biểu 7.1: «Phường/Xã»)
    async with service.db.read() as s:
        province = (await s.scalars(select(Unit).where(Unit.configuration == "65", Unit.level == "province"))).one()
        xlsx = (await build_report(s, service.reports, "7.1", province, 2026, tmp_path, service.forms,
                                   chart=False))[0]
    ws = load_workbook(xlsx).active
    assert any(ws.cell(r, 2).value == "Phường/Xã" for r in range(1, 12))


def poor(**over: Any) -> Filter:
    return Filter(outcome=("poor",), **over)


async def test_tables_that_read_answers_count_surveyed_households(service: ChatApp) -> None:
    chat = await make_village_head(service)
    # Poor: a meritorious-service family, main cause "no capital", child not in school and
    # without health insurance.
    child = {**CHILD, "dang_di_hoc": "không", "co_bhyt": "không"}
    await run_survey(service, chat, {**POOR, "co_nguoi_co_cong": "có", "members": [*POOR["members"][:2], child]})
    # Poor again, newly outside the lists but escaped before: tái nghèo; cause "illness".
    await run_survey(service, chat, {**POOR, "da_thoat_ngheo": "có", "nguyen_nhan": "om dau"})
    await run_survey(service, chat, NEAR_POOR)  # near-poor, in school, cause "no capital"
    unit = await commune(service)
    tables = service.reports.tables
    async with service.db.read() as s:
        t72 = await aggregate(s, tables["7.2"], unit, 2026, ("kinh",))
        t78 = await aggregate(s, tables["7.8"], unit, 2026, ("kinh",))
        t710 = await aggregate(s, tables["7.10"], unit, 2026, ("kinh",))
        t711 = await aggregate(s, tables["7.11"], unit, 2026, ("kinh",))
    renewed = poor(prior_class=("none",), answers=(("da_thoat_ngheo", ("true",)),))
    fresh = poor(prior_class=("none",), answers=(("da_thoat_ngheo", ("false",)),))
    assert (t72.total.value(renewed), t72.total.value(fresh)) == (1, 1)
    assert t72.total.split(1).value(renewed) == 3  # Nhân khẩu: three members
    merit = poor(answers=(("co_nguoi_co_cong", ("true",)),))
    assert t78.total.value(merit) == 1 and t78.total.value(poor(minority=True)) == 2  # both Tày
    other = next(leaf for leaf in tables["7.8"].leaves() if leaf.difference)
    assert t78.difference(t78.total, other.difference) == 2 - 2 - 0 - 1
    capital = Filter(outcome=("poor", "near_poor"), answers=(("nguyen_nhan", ('"khong_von"',)),))
    assert t710.total.split(0).value(capital) == 1 and t710.total.split(1).value(capital) == 1
    children = poor(members=MemberCount("suy_dinh_duong"))
    no_card = poor(members=MemberCount("suy_dinh_duong", where=(("co_bhyt", ("false",)),)))
    out_of_school = poor(members=MemberCount("suy_dinh_duong", where=(("dang_di_hoc", ("false",)),)))
    assert (t711.total.value(children), t711.total.value(no_card), t711.total.value(out_of_school)) == (2, 1, 2)
    rural = next(section for section in t711.sections if section.area == "rural")
    assert rural.subtotal.value(children) == 2 and not next(s for s in t711.sections if s.area == "urban").rows


@pytest.mark.parametrize("table", ["7.8", "7.9", "7.10", "7.11"])
def test_new_tables_declare_their_source_and_assumptions(service: ChatApp, table: str) -> None:
    spec: TableSpec = service.reports.tables[table]
    assert spec.provenance is not None and spec.provenance.assumptions and len(spec.short_title) <= 40
