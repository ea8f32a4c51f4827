"""Which standard a review applies (core/procedure/standards.py): the review of year Y is
judged by the standard of the list it sets (Y+1), listed years carry their text, and a
province's recorded override wins."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import ChatApp, build_app
from core.config import Settings
from core.datafile import DataFileError
from core.datafiles import DataFiles
from core.procedure.models import ReviewEvent
from core.procedure.standards import (
    by_rule,
    load_review_years,
    record_override,
    standard_detail,
    standard_for,
    standard_line,
)
from core.storage.models import Household, Unit
from core.storage.repo import ensure_user, load_answers
from tests.households import NEAR_POOR, make_village_head, run_survey
from tests.test_people import say, staff


@pytest.fixture(scope="module")
def rules(data: DataFiles):  # type: ignore[no-untyped-def]
    return load_review_years(data.packs)


@pytest.mark.parametrize(("year", "pack", "list_year"), [
    (2021, "nd07_2021", 2022), (2023, "nd07_2021", 2024), (2025, "nd07_2021", 2026),
    (2026, "nd351_2025", 2027), (2027, "nd351_2025", 2028), (2029, "nd351_2025", 2030),
])
def test_a_review_of_year_y_applies_the_standard_of_the_list_it_sets(data: DataFiles, rules, year: int,  # type: ignore[no-untyped-def]
                                                                     pack: str, list_year: int) -> None:
    standard = by_rule(rules, data.packs, year)
    assert (standard.pack.id, standard.list_year) == (pack, list_year)


def test_2026_names_the_2027_2030_standard_and_says_why(data: DataFiles, rules) -> None:  # type: ignore[no-untyped-def]
    standard = by_rule(rules, data.packs, 2026)
    assert standard_line(standard) == "Chuẩn áp dụng: NĐ 351/2025, giai đoạn 2027–2030"
    detail = "\n".join(standard_detail(standard))
    assert "danh sách năm 2027" in detail and "[giả định của phần mềm, chờ văn bản]" in detail


def test_a_review_whose_list_year_no_standard_covers_is_refused(data: DataFiles, rules) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LookupError, match="2031"):
        by_rule(rules, data.packs, 2030)


def test_every_error_of_the_file_is_named_with_its_line(data: DataFiles, tmp_path: Path) -> None:
    bad = tmp_path / "review_years.yaml"
    bad.write_text("""rule:
  list_year_offset: 1
  text: "r"
  source: "s"
  tag: C
years:
  - {review_year: 2026, pack: nd999, why: w, source: s, tag: C}
  - {review_year: 2025, pack: nd07_2021, why: w, source: s, tag: maybe}
  - {review_year: 2025, pack: nd07_2021, why: w, source: s, tag: C}
""", encoding="utf-8")
    with pytest.raises(DataFileError) as caught:
        load_review_years(data.packs, bad)
    text = str(caught.value)
    assert "nd999" in text and ":7" in text
    assert "tag must be one of" in text and "listed twice" in text


async def test_a_recorded_override_wins_and_says_which_text_decided_it(
        data: DataFiles, rules, shipped: ChatApp) -> None:  # type: ignore[no-untyped-def]
    service = shipped
    async with service.db.transaction() as s:
        province = await s.scalar(select(Unit).where(Unit.level == "province").limit(1))
        assert province is not None
        assert (await standard_for(s, rules, data.packs, 2026)).pack.id == "nd351_2025"
        officer = await ensure_user(s, "test", "p1", "Cán bộ tỉnh", "province", province.id)
        old = next(p for p in data.packs if p.id == "nd07_2021")
        record_override(s, province.id, 2026, old, "123/QĐ-UBND", date(2026, 10, 1), "Văn bản của Bộ", officer.id)
    async with service.db.read() as s:
        standard = await standard_for(s, rules, data.packs, 2026)
        assert standard.pack.id == "nd07_2021" and standard.override is not None
        assert "123/QĐ-UBND" in "\n".join(standard_detail(standard))
        assert (await standard_for(s, rules, data.packs, 2027)).pack.id == "nd351_2025"  # other years untouched


@pytest.fixture
async def shipped(settings: Settings, service: ChatApp) -> ChatApp:
    """The app with the review-year rule as shipped (the suite's default maps 2026 to NĐ 07/2021)."""
    return await build_app(dataclasses.replace(settings, review_years_file=None), service.db)


async def test_a_province_officer_records_the_standard_in_chat_citing_the_text(shipped: ChatApp) -> None:
    service = shipped
    province = await staff(service, "p1", "province", None, "province")
    clerk = await staff(service, "c1", "commune", "6202", "commune")
    shown = await say(service, clerk, "/chuanapdung")
    assert "Chuẩn áp dụng: NĐ 351/2025, giai đoạn 2027–2030" in shown and "danh sách năm 2027" in shown
    assert "Chỉ cán bộ tỉnh" in await say(service, clerk, "/chuanapdung nd07_2021 1/QĐ 01/10/2026 lý do đủ dài")
    for bad in ("nd99 1/QĐ 01/10/2026 lý do", "nd07_2021 1/QĐ 31/02/2026 lý do", "nd07_2021 1/QĐ 01/10/2026 x",
                "nd07_2021 1/QĐ 01/10/2099 lý do dài", "nd07_2021"):
        assert "Cách ghi" in await say(service, province, f"/chuanapdung {bad}"), bad
    assert "Chuẩn áp dụng: NĐ 351/2025" in await say(service, clerk, "/chuanapdung")  # nothing was recorded
    done = await say(service, province, "/chuanapdung nd07_2021 123/QĐ-UBND 01/10/2026 Theo hướng dẫn của Bộ")
    assert "123/QĐ-UBND" in done and "Chuẩn áp dụng: NĐ 07/2021" in done
    after = await say(service, clerk, "/chuanapdung")
    assert "Chuẩn áp dụng: NĐ 07/2021" in after and "123/QĐ-UBND ngày 01/10/2026" in after
    async with service.db.read() as s:
        events = (await s.scalars(select(ReviewEvent).where(ReviewEvent.kind == "standard"))).all()
    assert len(events) == 1 and events[0].user_id is not None and events[0].at is not None


async def test_a_2026_household_under_the_2027_2030_standard_is_not_guessed(shipped: ChatApp) -> None:
    """NĐ 351/2025 has no signed B1 table: the B1 answers are kept, the class is not guessed, the
    message says why and names the standard; a household classified earlier keeps its standard."""
    head = await make_village_head(shipped)
    said = "\n".join(await run_survey(shipped, head, NEAR_POOR))
    assert "CHƯA XÁC ĐỊNH ĐƯỢC" in said and "chưa có bảng điểm B1" in said and "/chuanapdung" in said
    assert "Chuẩn áp dụng: NĐ 351/2025, giai đoạn 2027–2030" in said
    async with shipped.db.read() as s:
        household = await s.scalar(select(Household).order_by(Household.id.desc()).limit(1))
        assert household is not None and household.pack_id == "nd351_2025" and household.outcome == "undetermined"
        answers = await load_answers(s, household.id)
    assert answers.get("b1_tu_lanh") is True  # the B1 answers are kept for the table to come


async def test_the_suite_default_classifies_2026_under_nd07_and_says_so(service: ChatApp) -> None:
    head = await make_village_head(service)
    said = "\n".join(await run_survey(service, head, NEAR_POOR))
    assert "Chuẩn áp dụng: NĐ 07/2021, giai đoạn 2022–2026" in said and "CẬN NGHÈO" in said.upper()


async def test_an_officer_sees_the_standard_in_whoami(shipped: ChatApp) -> None:
    clerk = await staff(shipped, "c1", "commune", "6202", "commune")
    assert "Chuẩn áp dụng: NĐ 351/2025, giai đoạn 2027–2030" in await say(shipped, clerk, "/toila")
