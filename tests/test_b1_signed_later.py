"""Issue 21 point 3 end to end: under the shipped rule a 2026 review applies NĐ 351/2025, which
has no B1 table. A household surveyed now is not guessed («CHƯA XÁC ĐỊNH ĐƯỢC») and its B1
answers are kept; once the province fills and signs the 2027-2030 B1 table in the rules
workbook, the household is scored from those kept answers, after its commune confirms."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.app import ChatApp, build_app
from core.config import Settings
from core.procedure.models import Review, ReviewEvent
from core.rules import layout as L
from core.storage.models import Household
from tests.households import NEAR_POOR, make_village_head, run_survey
from tests.test_people import say, staff
from tests.test_rules_versions import exported, row_of, send

pytestmark = pytest.mark.usefixtures("provisional_rules")  # the shipped packs, as a province has them


@pytest.fixture
async def shipped(settings: Settings, service: ChatApp) -> ChatApp:
    """The app with the review-year rule as shipped: 2026 applies NĐ 351/2025."""
    return await build_app(dataclasses.replace(settings, review_years_file=None), service.db)


async def stage(app: ChatApp) -> str:
    async with app.db.read() as s:
        return str((await s.scalars(select(Review.stage))).one())


def filled(path: Path) -> Path:
    """The 2027-2030 B1 sheet filled as an official would from a printed table: here every
    answer of every question 5 points, base 0, lines 150 / 180."""
    wb = load_workbook(path)
    b1 = wb["B1"]
    for row in range(L.ROW_BASE, b1.max_row + 1):
        for col in (6, 7):
            b1.cell(row, col).value = 0 if row == L.ROW_BASE else 5
    general = wb["Chung"]
    for key, value in (("b1_line.rural", 150), ("b1_line.urban", 180), ("b1.id", "b1_2027"),
                       ("b1.title", "Điểm B1 giai đoạn 2027-2030")):
        general.cell(row_of(general, 1, key), 3).value = value
    wb.save(path)
    return path


async def test_a_household_kept_unclassified_is_scored_once_the_b1_table_is_signed(shipped: ChatApp,
                                                                                   tmp_path: Path) -> None:
    head = await make_village_head(shipped)
    said = "\n".join(await run_survey(shipped, head, NEAR_POOR))
    assert "CHƯA XÁC ĐỊNH ĐƯỢC" in said and "/nhapquydinh" in said
    assert await stage(shipped) == "surveying"  # no class to vote on or post: it waits for its rules
    commune = await staff(shipped, "x1", "commune", "6202", "commune")
    await say(shipped, commune, "/toila")
    province = await staff(shipped, "p1", "province", None, "province")
    path = filled(await exported(shipped, province, "nd351_2025", tmp_path / "b1_2027.xlsx"))
    shown = await send(shipped, province, path)
    assert "Bảng điểm B1: (chưa có) → " in shown.text, shown.text
    row_id = shown.buttons[0][0].payload.rsplit(":", 1)[1]
    signed = await say(shipped, province, f"/kyquydinh {row_id}")
    assert "1 xã nhận danh sách" in signed, signed
    async with shipped.db.read() as s:
        household = (await s.scalars(select(Household))).one()
        proposal = (await s.scalars(select(ReviewEvent).where(ReviewEvent.kind == "rescore"))).one()
    assert household.outcome == "undetermined" and household.b1_score is None  # nothing moved yet
    await say(shipped, commune, f"/apdungquydinh {proposal.id}")
    async with shipped.db.read() as s:
        household = (await s.scalars(select(Household))).one()
    assert household.outcome != "undetermined" and household.b1_score is not None and household.b1_score > 0
    assert (household.pack_id, household.pack_version) == ("nd351_2025", 1)
    assert await stage(shipped) == "surveyed"  # classified: on to the village meeting
