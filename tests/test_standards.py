"""Which standard a review applies (core/procedure/standards.py): the review of year Y is
judged by the standard of the list it sets (Y+1), listed years carry their text, and a
province's recorded override wins."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import ChatApp
from core.app import DataFiles
from core.datafile import DataFileError
from core.procedure.standards import (
    by_rule,
    load_review_years,
    record_override,
    standard_detail,
    standard_for,
    standard_line,
)
from core.storage.models import Unit
from core.storage.repo import ensure_user


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
    assert "danh sách năm 2027" in detail and "[assumption]" in detail


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
        data: DataFiles, rules, service: ChatApp) -> None:  # type: ignore[no-untyped-def]
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
