"""Household lists as streamed workbooks (core/reports/excel.py render_list): text that users
typed stays text in every cell, however it starts, and the sheet keeps the printed layout."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select, update

from bench.dataset import seed
from core.datafiles import DataFiles
from core.reports.build import build_report
from core.storage.db import Database
from core.storage.models import Answer, Household, Unit

HOSTILE = ['=HYPERLINK("http://x.example","bấm")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
           "=1+1\x07\x1b"]


async def test_typed_text_is_never_a_formula_in_a_list(db: Database, data: DataFiles, tmp_path: Path) -> None:
    await seed(db, households=300, config="200", villages_per_commune=1)
    async with db.transaction() as s:
        poor = (await s.scalars(select(Household).where(Household.outcome.in_(["poor", "near_poor"]))
                                .order_by(Household.id).limit(len(HOSTILE)))).all()
        for household, text in zip(poor, HOSTILE, strict=True):
            household.head_name = text
            await s.execute(update(Answer).where(Answer.household_id == household.id,
                                                 Answer.key == "tv.2.ho_ten").values(value=text))
        village = await s.get(Unit, poor[0].village_id)
        assert village is not None
        village.name = "=cmd|'/C notepad'!A1"
        province = (await s.scalars(select(Unit).where(Unit.configuration == "200",
                                                       Unit.level == "province"))).one()
    async with db.read() as s:
        for list_id in ("ds_ngheo", "ds_can_ngheo", "ds_bhyt"):
            (xlsx,) = await build_report(s, data.reports, list_id, province, 2026, tmp_path, data.forms)
            ws = load_workbook(xlsx).active
            cells = [c for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
            assert not [c.coordinate for c in cells if c.data_type == "f"], list_id
            texts = {c.value for c in cells}
            found = {h for h in HOSTILE[:4] if h in texts}
            assert found, list_id  # the hostile names are in the list, as the text typed
            if list_id == "ds_bhyt":  # every poor and near-poor household's members
                assert "=cmd|'/C notepad'!A1" in texts
                assert set(HOSTILE[:4]) <= texts
                assert any(v.startswith("=1+1") for v in texts)  # the control characters did not break it
    ws = load_workbook(xlsx).active
    assert ws.print_title_rows is not None and ws.page_setup.orientation == "landscape"
    header = next(r for r in ws.iter_rows(values_only=True) if r[0] == "STT")
    assert header[:4] == ("STT", "Họ và tên", "Giới tính", "Năm sinh")
    assert any(str(m) .startswith("A1:") for m in ws.merged_cells.ranges)  # the heading is merged as before
