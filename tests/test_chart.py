"""The chart and the table agree: one rate rule (poor / resident households, only where the
resident count is known), a total row over like units only, and a legend that covers no bar."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.app import ChatApp
from core.datafiles import DataFiles
from core.i18n import t
from core.reports.build import build_report
from core.reports.chart import chart_values, draw_chart
from core.reports.query import aggregate
from core.storage.models import Household, Unit
from core.storage.repo import ensure_user
from core.units.loader import add_village

# village -> (resident households or None, poor, near-poor, other surveyed)
VILLAGES = {"Thôn Nà Pàn": (40, 4, 2, 6), "Thôn Khòn Pảng": (None, 5, 3, 2), "Thôn Bản Chắt": (50, 1, 5, 4)}


@pytest.fixture
async def commune(service: ChatApp) -> Unit:
    """Xã 6202 with three villages, one without a resident household count, and their surveys."""
    async with service.db.transaction() as s:
        unit = await s.scalar(select(Unit).where(Unit.configuration == "65", Unit.code == "6202"))
        assert unit is not None
        user = await ensure_user(s, "telegram", "77", "Cán bộ", "commune", unit.id)
        for name, (total, poor, near, other) in VILLAGES.items():
            village = await add_village(s, unit, name)
            village.households_total = total
            for outcome, n in (("poor", poor), ("near_poor", near), ("not_poor", other)):
                for i in range(n):
                    s.add(Household(village_id=village.id, survey_id="phieu_b", survey_version="1",
                                    review_year=2026, status="submitted", head_name=f"H{i}", created_by=user.id,
                                    outcome=outcome, ethnicity="tay"))
    return unit


def _table_rows(path: Path) -> dict[str, tuple]:
    ws = load_workbook(path).active
    return {r[1]: r for r in ws.iter_rows(values_only=True) if r[1] in (*VILLAGES, t("rpt_total_areas"))}


async def test_chart_plots_the_table_cells(service: ChatApp, commune: Unit, data: DataFiles,
                                           tmp_path: Path) -> None:
    async with service.db.read() as s:
        files = await build_report(s, data.reports, "7.1", commune, 2026, tmp_path, data.forms)
        table = await aggregate(s, data.reports.tables["7.1"], commune, 2026, data.reports.lists.majority_ethnicities)
    assert [f.suffix for f in files] == [".xlsx", ".png"] and files[1].stat().st_size > 0
    cells = _table_rows(files[0])
    # columns: STT, Đơn vị, resident households, persons, poor, poor %, near-poor, near-poor %, ...
    bars = {b.name: b for b in chart_values(table)}
    assert set(bars) == set(VILLAGES)
    for name, (total, poor, near, _other) in VILLAGES.items():
        row = cells[name]
        assert (row[4], row[6]) == (poor, near)
        if total is None:
            assert row[2] == "-" and row[5] == "-" and row[7] == "-"
            assert bars[name].poor is None and bars[name].near is None  # "no data", not a bar
        else:
            assert (row[5], row[7]) == (bars[name].poor, bars[name].near)
            assert row[5] == pytest.approx(100 * poor / total, abs=0.01)

    # the total row leaves out the village without a count, numerator and denominator alike
    known = [v for v in VILLAGES.values() if v[0] is not None]
    total_row = cells[t("rpt_total_areas")]
    assert total_row[2] == sum(v[0] for v in known)
    assert total_row[4] == sum(v[1] for v in known) and total_row[6] == sum(v[2] for v in known)
    assert total_row[5] == pytest.approx(100 * sum(v[1] for v in known) / sum(v[0] for v in known), abs=0.01)
    texts = [c for r in load_workbook(files[0]).active.iter_rows(values_only=True) for c in r if isinstance(c, str)]
    assert t("rpt_note_total_excludes", n=1, names="Thôn Khòn Pảng") in texts


async def test_legend_is_outside_the_axes_and_covers_no_bar(service: ChatApp, commune: Unit,
                                                           data: DataFiles) -> None:
    async with service.db.read() as s:
        table = await aggregate(s, data.reports.tables["7.1"], commune, 2026, data.reports.lists.majority_ethnicities)
    fig = draw_chart(table)
    fig.canvas.draw()
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    legend = ax.get_legend().get_window_extent(renderer)
    bars = [p.get_window_extent(renderer) for p in ax.patches]
    plotted = sorted(round(p.get_width(), 2) for p in ax.patches)
    expected = sorted(v for b in chart_values(table) for v in (b.poor, b.near) if v is not None)
    assert plotted == pytest.approx(expected) and len(bars) == 4  # two villages with a count, two bars each
    assert not any(legend.overlaps(b) for b in bars)
    assert legend.x0 >= ax.get_window_extent(renderer).x1  # right of the axes
    texts = [x.get_text() for x in ax.texts] + [x.get_text() for x in fig.texts]
    assert texts.count(" " + t("chart_no_data")) == 1 and t("chart_caption") in texts


async def test_no_counts_at_all_keeps_the_full_total_and_says_so(service: ChatApp, data: DataFiles) -> None:
    async with service.db.transaction() as s:
        unit = await s.scalar(select(Unit).where(Unit.configuration == "65", Unit.code == "6202"))
        assert unit is not None
        village = await add_village(s, unit, "Thôn Pò Mạ")
        s.add(Household(village_id=village.id, survey_id="phieu_b", survey_version="1", review_year=2026,
                        status="submitted", head_name="H", outcome="poor"))
    async with service.db.read() as s:
        table = await aggregate(s, data.reports.tables["7.1"], unit, 2026, data.reports.lists.majority_ethnicities)
    assert table.total.value("surveyed") == 1 and table.total.value("households_total") is None
    assert table.note() == t("rpt_note_no_counts")
    assert [b.poor for b in chart_values(table)] == [None]


async def test_a_unit_with_a_village_of_unknown_size_has_no_count(service: ChatApp, commune: Unit,
                                                                  data: DataFiles) -> None:
    """At province level the commune's row would otherwise divide all its poor households by the
    residents of only the villages with a count (90 instead of the unknown whole)."""
    async with service.db.read() as s:
        province = await s.scalar(select(Unit).where(Unit.configuration == "65", Unit.level == "province"))
        assert province is not None
        table = await aggregate(s, data.reports.tables["7.1"], province, 2026, data.reports.lists.majority_ethnicities)
    row = next(r for r in table.rows if r.unit_id == commune.id)
    assert row.value("surveyed") == sum(sum(v[1:]) for v in VILLAGES.values())
    assert row.value("households_total") is None and commune.name in table.without_count
    assert next(b for b in chart_values(table) if b.name == commune.name).poor is None
