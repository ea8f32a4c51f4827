"""Biểu 7.x preliminary and official (SQLite and PostgreSQL): before a decision every submitted
household counts with the village head's class; after it, only recognised households count,
with the decision's class; "as of" a day counts what was there by its end."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select

from bot.app import ChatApp
from core.procedure.models import Review, ReviewEvent
from core.reports.build import build_report
from core.reports.stage import Basis, Stage, default_basis
from core.storage.models import Household, Unit
from core.units.loader import add_village


def total_row(path: Path) -> tuple:
    ws = load_workbook(path).active
    return next(r for r in ws.iter_rows(values_only=True) if r[1] == "Tổng cộng (I + II)")


def free_text(path: Path) -> str:
    ws = load_workbook(path).active
    return " ".join(str(c) for row in ws.iter_rows(values_only=True) for c in row if c is not None)


async def test_preliminary_then_official_and_as_of(service: ChatApp, tmp_path: Path) -> None:
    async with service.db.transaction() as s:
        commune = await s.scalar(select(Unit).where(Unit.configuration == "65", Unit.code == "6202"))
        assert commune is not None
        village = await add_village(s, commune, "Thôn Nà Pàn")
        early, late = datetime(2026, 10, 5, 3, tzinfo=UTC), datetime(2026, 11, 20, 3, tzinfo=UTC)
        made = []
        for i, (outcome, when) in enumerate((("poor", early), ("poor", early), ("near_poor", late), ("poor", late))):
            h = Household(village_id=village.id, survey_id="phieu_b", survey_version="1", review_year=2026,
                          status="submitted", head_name=f"H{i}", outcome=outcome, area="rural", submitted_at=when)
            s.add(h)
            made.append(h)
        await s.flush()
        assert await default_basis(s, commune, 2026) == Basis(Stage.PRELIMINARY)
        decision = ReviewEvent(unit_id=commune.id, kind="decision", year=2026, held_on=date(2026, 11, 25))
        s.add(decision)
        await s.flush()
        # the decision recognised three households; one the village head had as poor became near-poor
        for h, final in zip(made[:3], ("poor", "near_poor", "near_poor"), strict=True):
            s.add(Review(household_id=h.id, origin="survey", stage="recognised", final_class=final,
                         decision_id=decision.id))
        commune_id = commune.id
    async with service.db.read() as s:
        commune = await s.get(Unit, commune_id)
        assert commune is not None
        assert (await default_basis(s, commune, 2026)).stage is Stage.OFFICIAL

        async def table(basis: Basis) -> Path:
            (xlsx, *_) = await build_report(s, service.reports, "7.1", commune, 2026, tmp_path, service.forms,
                                            chart=False, basis=basis)
            return xlsx

        preliminary = await table(Basis(Stage.PRELIMINARY))
        official = await table(Basis(Stage.OFFICIAL))
        before_nov = await table(Basis(Stage.PRELIMINARY, date(2026, 10, 31)))
        official_before = await table(Basis(Stage.OFFICIAL, date(2026, 11, 24)))
    assert (total_row(preliminary)[4], total_row(preliminary)[6]) == (3, 1)  # poor, near-poor as surveyed
    assert (total_row(official)[4], total_row(official)[6]) == (1, 2)  # as the decision gave them
    assert (total_row(before_nov)[4], total_row(before_nov)[6]) == (2, 0)  # the two surveyed in October
    assert (total_row(official_before)[4], total_row(official_before)[6]) == (0, 0)  # no decision yet on 24/11
    assert "Số liệu sơ bộ" in free_text(preliminary) and "chính thức" in free_text(official)
    assert "tính đến ngày 31/10/2026" in free_text(before_nov)
