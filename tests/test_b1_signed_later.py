"""Issue 21 point 3 end to end: under the shipped rule a 2026 review applies NĐ 351/2025, which
has no B1 table. A household surveyed now is not guessed («CHƯA XÁC ĐỊNH ĐƯỢC») and its B1
answers are kept; once the province fills and signs the 2027-2030 B1 table in the rules
workbook, the household is scored from those kept answers, after its commune confirms."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import ChatApp, build_app
from core.config import Settings
from core.procedure.models import Review, ReviewEvent
from core.storage.models import Household
from tests.households import NEAR_POOR, make_village_head, run_survey
from tests.test_people import say, staff
from tests.test_rules_versions import exported, send
from tests.test_rules_workbook import edit, fill_2027_2030

pytestmark = pytest.mark.usefixtures("provisional_rules")  # the shipped packs, as a province has them


@pytest.fixture
async def shipped(settings: Settings, service: ChatApp) -> ChatApp:
    """The app with the review-year rule as shipped: 2026 applies NĐ 351/2025."""
    return await build_app(dataclasses.replace(settings, review_years_file=None), service.db)


async def stage(app: ChatApp) -> str:
    async with app.db.read() as s:
        return str((await s.scalars(select(Review.stage))).one())


async def test_a_household_kept_unclassified_is_scored_once_the_b1_table_is_signed(shipped: ChatApp,
                                                                                   tmp_path: Path) -> None:
    head = await make_village_head(shipped)
    said = "\n".join(await run_survey(shipped, head, NEAR_POOR))
    assert "CHƯA XÁC ĐỊNH ĐƯỢC" in said and "/nhapquydinh" in said
    assert await stage(shipped) == "surveying"  # no class to vote on or post: it waits for its rules
    assert "không phải khảo sát lại" in said  # the village head is told nothing is asked of him
    # what waits is the rules, not the village head's Phiếu B (found in the fresh-clone trial)
    waiting = await say(shipped, head, "/viecchotoi")
    assert "1 hộ đã nộp Phiếu B, chờ tỉnh nạp bảng điểm B1" in waiting and "chờ Phiếu B" not in waiting, waiting
    commune = await staff(shipped, "x1", "commune", "6202", "commune")
    await say(shipped, commune, "/toila")
    steps = await say(shipped, commune, "/tiendo")
    assert "1 đã nộp, chờ bảng điểm B1 chính thức" in steps and "đang làm Phiếu B" not in steps, steps
    province = await staff(shipped, "p1", "province", None, "province")
    path = edit(await exported(shipped, province, "nd351_2025", tmp_path / "b1_2027.xlsx"), fill_2027_2030)
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
