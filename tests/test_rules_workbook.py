"""The rules workbook (core/rules/): exported, read back unchanged without a single change for
both packs, a corrected table shown as changes in the officer's words, and every bad input
refused whole with its sheet, row and column."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from core.classification.pack import load_packs
from core.datafile import DataFileError
from core.datafiles import DataFiles
from core.procedure.screening import phieu_a
from core.rules import layout as L
from core.rules import workbook_read
from core.rules.cells import WorkbookRefused
from core.rules.content import build_pack, content_of
from core.rules.versions import Rules, preview
from core.rules.workbook_read import MIB

PACKS = ("nd07_2021", "nd351_2025")


@pytest.fixture
def rules(data: DataFiles) -> Rules:
    """The workbook of the shipped packs, as a province first exports it (the suite's `data`
    holds copies signed in the test suite, tests/rules.py)."""
    form, stop_rule = phieu_a()
    return Rules(load_packs(), data.forms, form, stop_rule)


def exported(rules: Rules, tmp_path: Path, pack: str = "nd07_2021") -> Path:
    return rules.export(pack, tmp_path / f"{pack}.xlsx")


def edit(path: Path, change: Callable[[Any], None]) -> Path:
    wb = load_workbook(path)
    change(wb)
    wb.save(path)
    return path


def row_of(ws: Any, column: int, value: Any, start: int = 1) -> int:
    return next(r for r in range(start, ws.max_row + 1) if ws.cell(r, column).value == value)


def refused(rules: Rules, path: Path) -> list[str]:
    with pytest.raises(WorkbookRefused) as caught:
        rules.read(path)
    return [str(e) for e in caught.value.errors]


@pytest.mark.parametrize("pack", PACKS)
def test_an_unchanged_workbook_changes_nothing(rules: Rules, tmp_path: Path, pack: str) -> None:
    reading = rules.read(exported(rules, tmp_path, pack))
    assert reading.pack_id == pack
    assert reading.content == rules.contents[pack]
    assert preview(rules, reading) == []


def test_the_workbook_has_every_sheet_typed_and_validated(rules: Rules, tmp_path: Path) -> None:
    wb = load_workbook(exported(rules, tmp_path))
    assert wb.sheetnames == ["Hướng dẫn", "Chung", "B1", "Chỉ số", "Phiếu A", "Nguồn"]
    assert "Cán bộ tỉnh điền theo văn bản in" in "\n".join(str(c.value) for c in wb["Hướng dẫn"]["A"])
    b1 = wb["B1"]
    assert [b1.cell(1, c).value for c in (6, 7)] == ["Nông thôn - Trung du và miền núi phía Bắc", "Thành thị"]
    assert [b1.cell(L.ROW_AREA, c).value for c in (6, 7)] == ["nông thôn", "thành thị"]
    tivi = row_of(b1, 1, "b1_tivi")
    assert b1.cell(tivi, 2).value == "Tivi" and b1.cell(tivi, 3).value == "có"
    assert isinstance(b1.cell(tivi, 6).value, int) and b1.cell(tivi, 6).value == 10
    assert any(dv.type == "whole" for dv in b1.data_validations.dataValidation)
    general = wb["Chung"]
    income = row_of(general, 1, "income_line.rural")
    assert general.cell(income, 3).value == 1_500_000 and general.cell(income, 2).value == "Chuẩn thu nhập nông thôn"
    indicators = wb["Chỉ số"]
    two = row_of(indicators, 1, 2)
    assert indicators.cell(two, 6).value == "count_members(tuoi < [1] or tro_cap == True) * [2] > so_thanh_vien"
    assert [indicators.cell(two, 7).value, indicators.cell(two, 8).value] == [16, 2]
    params = row_of(indicators, 1, "Tham số chung")
    assert indicators.cell(params + 1, 1).value == "p_tuoi_lao_dong_min"
    assert wb["Phiếu A"].cell(2, 1).value == "Điều kiện dừng"
    assert [wb["Nguồn"].cell(r, 1).value for r in range(2, 6)] == ["chung", "chi_so", "b1", "phieu_a"]


def test_a_pack_without_a_b1_table_gets_the_form_questions_with_empty_points(rules: Rules, tmp_path: Path) -> None:
    b1 = load_workbook(exported(rules, tmp_path, "nd351_2025"))["B1"]
    tivi = row_of(b1, 1, "b1_tivi")
    assert b1.cell(tivi, 6).value is None and b1.cell(tivi, 7).value is None
    assert b1.cell(L.ROW_SCHEME, 6).value == "nt_tdmnpb"


def test_a_corrected_table_is_read_as_changes_in_the_officers_words(rules: Rules, tmp_path: Path) -> None:
    def change(wb: Any) -> None:
        b1 = wb["B1"]
        b1.cell(row_of(b1, 1, "b1_tivi"), 6).value = 5
        general = wb["Chung"]
        general.cell(row_of(general, 1, "income_line.rural"), 3).value = 1_600_000
        ind = wb["Chỉ số"]
        ind.cell(row_of(ind, 1, 2), 7).value = 15
        pa = wb["Phiếu A"]
        pa.cell(row_of(pa, 2, "tai_san"), 5).value = 3

    reading = rules.read(edit(exported(rules, tmp_path), change))
    lines = preview(rules, reading)
    assert "B1 · Tivi: 10 → 5 điểm (có; Nông thôn - Trung du và miền núi phía Bắc)" in lines
    assert "Chuẩn thu nhập nông thôn: 1.500.000 → 1.600.000 đồng" in lines
    assert any(line.startswith("Chỉ số 2 · Người phụ thuộc trong hộ gia đình: count_members(tuoi < 16")
               and "→ count_members(tuoi < 15" in line for line in lines)
    assert "Phiếu A · Điều kiện dừng «tai_san»: 2 → 3 (Số tiêu chí tối thiểu)" in lines
    assert len(lines) == 4
    assert reading.pack.b1 is not None and reading.pack.b1.items[4].points["co"]["nt_tdmnpb"] == 5


def fill_2027_2030(wb: Any) -> None:
    """The 2027-2030 B1 sheet filled as an official would from a printed table: here every
    answer of every question 5 points, base 0, lines 150 / 180."""
    b1 = wb["B1"]
    for row in range(L.ROW_BASE, b1.max_row + 1):
        for col in (6, 7):
            b1.cell(row, col).value = 0 if row == L.ROW_BASE else 5
    general = wb["Chung"]
    for key, value in (("b1_line.rural", 150), ("b1_line.urban", 180), ("b1.id", "b1_2027"),
                       ("b1.title", "Điểm B1 giai đoạn 2027-2030")):
        general.cell(row_of(general, 1, key), 3).value = value


def test_a_table_filled_for_the_2027_2030_standard_is_scored_by_the_same_loaders(rules: Rules, tmp_path: Path) -> None:
    reading = rules.read(edit(exported(rules, tmp_path, "nd351_2025"), fill_2027_2030))
    assert reading.pack.b1 is not None and reading.pack.b1_line == {"rural": 150, "urban": 180}
    lines = preview(rules, reading)
    assert "Bảng điểm B1: (chưa có) → 16 câu hỏi, 2 vùng" in lines
    assert "Ngưỡng điểm B1 nông thôn: (chưa có) → 150 điểm" in lines


def test_another_region_is_added_as_a_column(rules: Rules, tmp_path: Path) -> None:
    def add(wb: Any) -> None:
        b1 = wb["B1"]
        b1.cell(1, 8).value = "Nông thôn - Đồng bằng sông Hồng"
        b1.cell(L.ROW_SCHEME, 8).value = "nt_dbsh"
        b1.cell(L.ROW_AREA, 8).value = "nông thôn"
        b1.cell(L.ROW_APPLIES, 8).value = "không"
        for row in range(L.ROW_BASE, b1.max_row + 1):
            b1.cell(row, 8).value = 1

    reading = rules.read(edit(exported(rules, tmp_path), add))
    table = reading.pack.b1
    assert table is not None and set(table.schemes) == {"nt_tdmnpb", "thanh_thi", "nt_dbsh"}
    assert table.scheme_for("rural") == "nt_tdmnpb"  # Lạng Sơn still scores with its own region


def test_every_error_is_named_by_sheet_row_and_column_all_at_once(rules: Rules, tmp_path: Path) -> None:
    def spoil(wb: Any) -> None:
        b1 = wb["B1"]
        b1.cell(row_of(b1, 1, "b1_tivi"), 6).value = "mười"  # text in a points cell
        b1.cell(row_of(b1, 1, "b1_tu_lanh"), 7).value = -3
        general = wb["Chung"]
        general.cell(row_of(general, 1, "income_line.rural"), 3).value = -1_500_000  # a negative line
        general.cell(row_of(general, 1, "income_line.urban"), 3).value = 5  # an absurd line
        general.cell(row_of(general, 1, "b1_line.urban"), 3).value = 99_999

    errors = refused(rules, edit(exported(rules, tmp_path), spoil))
    b1 = load_workbook(exported(rules, tmp_path / "again"))["B1"]
    tivi, fridge = row_of(b1, 1, "b1_tivi"), row_of(b1, 1, "b1_tu_lanh")
    assert f"trang «B1», dòng {tivi}, cột F: «mười» không phải là số; gõ một con số" in errors
    assert f"trang «B1», dòng {fridge}, cột G: -3 là số âm; không được âm" in errors
    assert "trang «Chung», dòng 8, cột C: -1500000 là số âm; không được âm" in errors
    assert "trang «Chung», dòng 9, cột C: 5 không hợp lý (phải từ 100.000 đến 100.000.000)" in errors
    assert any(e.startswith("trang «Chung», dòng 11, cột C: 99999 không hợp lý") for e in errors)
    assert len(errors) == 5


def test_wrong_or_missing_sheets_are_refused(rules: Rules, tmp_path: Path) -> None:
    def rename(wb: Any) -> None:
        wb["Chỉ số"].title = "Chi so"
        del wb["Nguồn"]

    errors = refused(rules, edit(exported(rules, tmp_path), rename))
    assert any(e.startswith("trang «Chi so»: trang lạ; sổ chỉ có các trang:") for e in errors)
    assert "trang «Chỉ số»: thiếu trang này (xuất lại sổ bằng /xuatquydinh, không đổi tên trang)" in errors
    assert any(e.startswith("trang «Nguồn»: thiếu trang này") for e in errors)


def test_a_missing_region_is_refused(rules: Rules, tmp_path: Path) -> None:
    errors = refused(rules, edit(exported(rules, tmp_path), lambda wb: wb["B1"].delete_cols(7)))
    assert any(e.startswith("trang «B1»: thiếu cột vùng «Thành thị» (mã thanh_thi)") for e in errors)
    assert "trang «B1», dòng 4, cột F: phải có đúng một cột vùng thành thị ghi «có» ở dòng 4 (đang có 0)" in errors


def test_a_question_written_twice_is_refused(rules: Rules, tmp_path: Path) -> None:
    def twice(wb: Any) -> None:
        b1 = wb["B1"]
        b1.cell(row_of(b1, 1, "b1_may_giat") + 1, 1).value = "b1_tivi"  # b1_may_giat's "khong" row

    errors = refused(rules, edit(exported(rules, tmp_path), twice))
    b1 = load_workbook(exported(rules, tmp_path / "again"))["B1"]
    row, first = row_of(b1, 1, "b1_may_giat") + 1, row_of(b1, 1, "b1_tivi")
    assert f"trang «B1», dòng {row}, cột A: câu hỏi «b1_tivi» đã có từ dòng {first}; mỗi câu hỏi chỉ ghi ở " \
           "các dòng liền nhau một lần" in errors


def test_formula_cells_are_refused(rules: Rules, tmp_path: Path) -> None:
    def formula(wb: Any) -> None:
        b1 = wb["B1"]
        b1.cell(row_of(b1, 1, "b1_tivi"), 6).value = "=5+5"

    errors = refused(rules, edit(exported(rules, tmp_path), formula))
    assert len(errors) == 1 and "cột F: ô có công thức «=5+5»; gõ con số thay cho công thức" in errors[0]


def test_a_50_mb_file_is_refused_before_it_is_opened(rules: Rules, tmp_path: Path) -> None:
    big = tmp_path / "lon.xlsx"
    with big.open("wb") as fh:
        fh.truncate(50 * MIB)
    assert refused(rules, big) == ["Tệp: tệp nặng 50.0 MB, quá giới hạn 5 MB của sổ quy định (sổ thật chỉ vài "
                                   "chục KB). Dùng đúng tệp đã xuất."]


@pytest.mark.parametrize(("size_mb", "says"), [(20, "nén"), (60, "giải nén ra 60 MB")])
def test_a_zip_bomb_is_refused_before_it_is_inflated(rules: Rules, tmp_path: Path, size_mb: int, says: str) -> None:
    bomb = tmp_path / "bom.xlsx"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive, \
            archive.open("xl/worksheets/sheet1.xml", "w") as member:
        for _ in range(size_mb):
            member.write(bytes(MIB))
    assert bomb.stat().st_size < MIB
    errors = refused(rules, bomb)
    assert len(errors) == 1 and errors[0].startswith("Tệp: tệp bị từ chối trước khi mở:") and says in errors[0]


def test_a_file_that_is_not_a_workbook_is_refused(rules: Rules, tmp_path: Path) -> None:
    fake = tmp_path / "gia.xlsx"
    fake.write_bytes(b"PK\x03\x04 not really")
    assert refused(rules, fake) == ["Tệp: không phải tệp Excel .xlsx. Lưu lại bằng Excel dạng .xlsx rồi gửi."]


def test_a_part_marked_official_must_cite_its_document(rules: Rules, tmp_path: Path) -> None:
    def official(wb: Any) -> None:
        wb["Nguồn"].cell(4, 3).value = "chính thức"  # the B1 part, without number or date

    errors = refused(rules, edit(exported(rules, tmp_path), official))
    assert "trang «Nguồn», dòng 4, cột D: phần «chính thức» phải ghi Số văn bản" in errors
    assert "trang «Nguồn», dòng 4, cột E: phần «chính thức» phải ghi Ngày văn bản" in errors


def test_a_condition_naming_no_question_is_refused_at_its_cell(rules: Rules, tmp_path: Path) -> None:
    def bad(wb: Any) -> None:
        ind = wb["Chỉ số"]
        ind.cell(row_of(ind, 1, 9), 6).value = "khong_co_cau_nay == False"

    errors = refused(rules, edit(exported(rules, tmp_path), bad))
    assert len(errors) == 1 and errors[0].startswith("trang «Chỉ số», dòng 10, cột F: điều kiện không dùng được")


def test_signed_content_builds_the_same_pack_as_the_yaml(data: DataFiles, rules: Rules) -> None:
    """The content of a pack, built again through the loaders, scores like the shipped pack."""
    form, stop_rule = phieu_a()
    for pack in data.packs:
        built = build_pack(content_of(pack, stop_rule), f"test/{pack.id}", data.forms, form)
        assert (built.income_line, built.b1_line, built.average_band) == (pack.income_line, pack.b1_line,
                                                                           pack.average_band)
        assert [i.source for i in built.indicators] == [" ".join(i.source.split()) for i in pack.indicators]
        assert (built.b1 is None) == (pack.b1 is None)
        assert built.digest == pack.digest  # the same rules: results under either name the same rules
        if pack.b1 is not None and built.b1 is not None:
            assert [(i.question, i.label, i.points, i.bands) for i in built.b1.items] == \
                [(i.question, i.label, i.points, i.bands) for i in pack.b1.items]
            assert built.b1.base == pack.b1.base and built.b1.scheme_for("rural") == pack.b1.scheme_for("rural")


def spoiled(content: dict[str, Any]) -> dict[str, Any]:
    """Three mistakes only the loaders see, one in each part: a scheme's area, a stop group's
    count, a negative income line."""
    out = deepcopy(content)
    out["b1"]["schemes"]["thanh_thi"]["area"] = "town"
    out["phieu_a"]["stop_when"][0]["at_least"] = 0
    out["pack"]["income_line"]["rural"] = -1
    return out


def test_content_with_mistakes_in_three_parts_lists_them_all(data: DataFiles, rules: Rules) -> None:
    """A signed version is checked like a file: every part's mistakes at once, naming where it is."""
    form, stop_rule = phieu_a()
    pack = next(p for p in data.packs if p.id == "nd07_2021")
    with pytest.raises(DataFileError) as caught:
        build_pack(spoiled(content_of(pack, stop_rule)), "test/v9", data.forms, form)
    assert [e.path for e in caught.value.errors] == ["test/v9"] * 3
    assert [e.detail for e in caught.value.errors] == ["scheme thanh_thi: area must be rural or urban",
                                                       "at_least must be 1 or more",
                                                       "income_line.rural must be positive"]


def test_each_mistake_the_loaders_find_in_a_workbook_is_shown_to_the_officer(
        rules: Rules, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What passes the cell checks but not the loaders comes back as one line per mistake."""
    real = workbook_read.build_pack
    monkeypatch.setattr(workbook_read, "build_pack", lambda content, *args: real(spoiled(content), *args))
    errors = refused(rules, exported(rules, tmp_path))
    assert len(errors) == 3 and all("quy định không hợp lệ: " in e for e in errors), errors
    for words in ("area must be rural or urban", "at_least must be 1 or more", "income_line.rural must be positive"):
        assert any(e.endswith(words) for e in errors), errors
