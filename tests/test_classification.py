"""Classification under the rule packs: the decision rule at its boundaries, the indicator
rules on real form answers, and pack validation."""

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.classification.classify import Outcome, classify, decide_average, decide_poverty
from core.classification.pack import RulePack, load_pack, pack_for_year
from core.datafile import DataFileError
from core.datafiles import DataFiles
from core.surveys.evaluate import evaluate

PACKS_DIR = Path(__file__).parents[1] / "core" / "classification" / "packs"


def pack(data: DataFiles, year: int) -> RulePack:
    return pack_for_year(data.packs, year)


@pytest.mark.parametrize("year, pack_id, rural, urban", [
    (2022, "nd07_2021", 1_500_000, 2_000_000), (2026, "nd07_2021", 1_500_000, 2_000_000),
    (2027, "nd351_2025", 2_200_000, 2_800_000), (2030, "nd351_2025", 2_200_000, 2_800_000),
])
def test_pack_by_review_year(data: DataFiles, year: int, pack_id: str, rural: int, urban: int) -> None:
    p = pack(data, year)
    assert (p.id, p.income_line["rural"], p.income_line["urban"]) == (pack_id, rural, urban)
    assert len(p.indicators) == 12 and p.poor_min_deprived == 3


def test_no_pack_outside_the_covered_years(data: DataFiles) -> None:
    with pytest.raises(LookupError):
        pack_for_year(data.packs, 2021)


def test_2027_pack_swaps_information_means_for_waste(data: DataFiles) -> None:
    codes = {i.code for i in pack(data, 2027).indicators}
    assert "xu_ly_rac" in codes and "phuong_tien_tt" not in codes
    assert "phuong_tien_tt" in {i.code for i in pack(data, 2026).indicators}


lines = st.sampled_from([1_500_000, 2_000_000, 2_200_000, 2_800_000, 140, 175])


@given(line=lines, deprived=st.integers(0, 12))
def test_exactly_at_the_line_is_poor_or_near_poor(line: int, deprived: int) -> None:
    outcome = decide_poverty(line, line, deprived, 3)
    assert outcome == (Outcome.POOR if deprived >= 3 else Outcome.NEAR_POOR)


@given(line=lines, deprived=st.integers(0, 12), above=st.integers(1, 10**7))
def test_above_the_line_is_never_poor_whatever_the_deprivations(line: int, deprived: int, above: int) -> None:
    assert decide_poverty(line + above, line, deprived, 3) is Outcome.NOT_POOR


@given(line=lines, below=st.integers(0, 10**6))
def test_exactly_three_indicators_is_poor_two_is_near_poor(line: int, below: int) -> None:
    income = max(0, line - below)
    assert decide_poverty(income, line, 3, 3) is Outcome.POOR
    assert decide_poverty(income, line, 2, 3) is Outcome.NEAR_POOR


@given(income=st.integers(0, 5_000_000))
def test_average_band_boundaries(income: int) -> None:
    outcome = decide_average(income, 1_500_000, (1_500_000, 2_250_000))
    if income <= 1_500_000:
        assert outcome is Outcome.BELOW_LINE
    elif income <= 2_250_000:
        assert outcome is Outcome.AVERAGE
    else:
        assert outcome is Outcome.ABOVE_AVERAGE


def household(**overrides: Any) -> dict[str, Any]:
    """A two-member household with no deprivation at all; overrides add them one by one."""
    answers: dict[str, Any] = {
        "so_thanh_vien": 2, "nha_tuong_ben": True, "nha_khung_ben": True, "nha_mai_ben": True,
        "dien_tich_nha": 40, "nguon_nuoc": "nuoc_may", "nha_tieu": "tu_hoai", "dung_internet": True,
        "co_phuong_tien_tt": True, "thu_nhap_tham_dinh": True, "can_cu_tham_dinh": "BB 01/2026",
        "thu_nhap_bq": 1_000_000,
        "xu_ly_rac": "thu_gom",
    }
    for i, year in ((1, 1980), (2, 1985)):
        answers |= {f"tv.{i}.nam_sinh": year, f"tv.{i}.co_bhyt": True, f"tv.{i}.dang_di_hoc": False,
                    f"tv.{i}.trinh_do": "thpt", f"tv.{i}.viec_lam": "co_hd", f"tv.{i}.tro_cap": False}
    answers |= overrides
    return answers


def deprived(data: DataFiles, answers: dict[str, Any], year: int = 2026, area: str = "rural") -> list[int]:
    survey = data.forms["phieu_b"]
    result = classify(survey, pack(data, year), evaluate(survey, answers, {"review_year": year}), area)
    return [i.number for i in result.deprived]


@pytest.mark.parametrize("overrides, number", [
    ({"tv.1.viec_lam": "that_nghiep"}, 1),
    ({"tv.2.viec_lam": "lam_thue_khong_hd"}, 1),
    ({"tv.1.tro_cap": True, "tv.2.tro_cap": True}, 2),
    ({"tv.1.co_bhyt": False}, 4),
    ({"tv.2.nam_sinh": 2000, "tv.2.trinh_do": "thcs"}, 5),  # aged 26, no upper secondary, not studying
    ({"nha_tuong_ben": False, "nha_mai_ben": False}, 7),
    ({"dien_tich_nha": 15}, 8),  # 7.5 m² per person
    ({"nguon_nuoc": "song_suoi"}, 9),
    ({"nha_tieu": "khong_co"}, 10),
    ({"dung_internet": False}, 11),
    ({"co_phuong_tien_tt": False, "nghe_loa": False}, 12),
])
def test_each_indicator_fires_on_its_own(data: DataFiles, overrides: dict[str, Any], number: int) -> None:
    assert deprived(data, household()) == []
    assert deprived(data, household(**overrides)) == [number]


def test_child_indicators(data: DataFiles) -> None:
    child = {"so_thanh_vien": 3, "tv.3.nam_sinh": 2016, "tv.3.co_bhyt": True, "tv.3.suy_dinh_duong": True,
             "tv.3.dang_di_hoc": False}
    assert deprived(data, household(**child)) == [3, 6]


def test_a_stale_answer_of_a_no_longer_asked_question_does_not_count(data: DataFiles) -> None:
    # Malnutrition was recorded while member 2 was a child; then the birth year was corrected to 1985.
    assert deprived(data, household(**{"tv.2.suy_dinh_duong": True})) == []


def test_one_sided_housing_is_not_deprived(data: DataFiles) -> None:
    assert deprived(data, household(nha_mai_ben=False)) == []


def test_2027_waste_indicator(data: DataFiles) -> None:
    assert deprived(data, household(xu_ly_rac="khong_hvs"), year=2027) == [12]
    assert deprived(data, household(xu_ly_rac="khong_hvs"), year=2026) == []


def test_without_assessed_income_2027_has_no_b1_line(data: DataFiles) -> None:
    survey = data.forms["phieu_b"]
    answers = household(thu_nhap_tham_dinh=False)
    view27 = evaluate(survey, answers, {"review_year": 2027})
    result = classify(survey, pack(data, 2027), view27, "urban")
    assert result.outcome is Outcome.UNDETERMINED and result.note == "cls_note_no_b1_line"


def test_phieu_c_average_living_standard(data: DataFiles) -> None:
    survey = data.forms["phieu_c"]
    answers = {"so_nhan_khau": 4, "tn_trong_trot": 60_000_000, "tn_chan_nuoi": 30_000_000, "tn_lam_nghiep": 0,
               "tn_thuy_san": 0, "tn_diem_nghiep": 0, "tn_tien_cong": 2_000_000, "tn_khac": 0}
    view = evaluate(survey, answers, {"review_year": 2026})
    result = classify(survey, pack(data, 2026), view, "rural")
    assert result.income_per_capita == pytest.approx(92_000_000 / 4 / 12)  # 1,916,667 đ
    assert result.outcome is Outcome.AVERAGE
    assert classify(survey, pack(data, 2026), view, "urban").outcome is Outcome.BELOW_LINE
    assert classify(survey, pack(data, 2027), view, "rural").outcome is Outcome.UNDETERMINED  # no band yet


def pack_text(**changes: str) -> str:
    text = (PACKS_DIR / "nd07_2021.yaml").read_text(encoding="utf-8")
    for old, new in changes.items():
        assert old in text
        text = text.replace(old, new)
    return text


def test_pack_errors_name_file_and_line(tmp_path: Path, data: DataFiles) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(pack_text(**{"income_line: {rural: 1500000": "income_line: {rural: -1"}), encoding="utf-8")
    with pytest.raises(DataFileError, match="positive"):
        load_pack(path)
    path.write_text(pack_text(**{'"dung_internet == False"': '"dung_intenet == False"'}), encoding="utf-8")
    broken = load_pack(path)
    with pytest.raises(DataFileError, match="unknown name 'dung_intenet'") as info:
        broken.compiled(data.forms["phieu_b"])
    assert info.value.path == str(path)
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if "code: vien_thong" in t) - 1
    assert info.value.line == line



def test_every_indicator_that_does_not_fit_the_form_is_reported_at_once(tmp_path: Path, data: DataFiles) -> None:
    """Two indicators that name no question of the form: one error, each with its line."""
    path = tmp_path / "p.yaml"
    path.write_text(pack_text(**{'"dung_internet == False"': '"dung_intenet == False"',
                                 '"nha_tieu in (': '"nha_tieux in ('}), encoding="utf-8")
    lines = path.read_text(encoding="utf-8").splitlines()
    with pytest.raises(DataFileError) as info:
        load_pack(path).compiled(data.forms["phieu_b"])
    assert [(e.line, e.detail.split(": ", 1)[1]) for e in info.value.errors] == [
        (next(i for i, text in enumerate(lines, 1) if "code: nha_tieu" in text) - 1, "unknown name 'nha_tieux'"),
        (next(i for i, text in enumerate(lines, 1) if "code: vien_thong" in text) - 1, "unknown name 'dung_intenet'")]


def test_every_mistake_of_a_pack_is_reported_at_once(tmp_path: Path) -> None:
    """Three independent mistakes (years upside down, a negative line, an indicator numbered in
    words) come back in one error, each with its file and line, as an XLSForm checker lists them."""
    path = tmp_path / "p.yaml"
    path.write_text(pack_text(**{"years: {from: 2022, to: 2026}": "years: {from: 2027, to: 2026}",
                                 "income_line: {rural: 1500000": "income_line: {rural: -1",
                                 "  - number: 5\n": "  - number: five\n"}), encoding="utf-8")
    lines = path.read_text(encoding="utf-8").splitlines()
    with pytest.raises(DataFileError) as info:
        load_pack(path)
    assert [(e.path, e.line) for e in info.value.errors] == [(str(path), lines.index(text) + 1) for text in (
        "years: {from: 2027, to: 2026}", "income_line: {rural: -1, urban: 2000000}", "  - number: five")]
    assert str(info.value).startswith("3 errors:")
    for words in ("'from' is after 'to'", "income_line.rural must be positive", "'number' must be int"):
        assert words in str(info.value)
