"""The Word templates (issue 22 item 6): checked at start-up against their placeholder files (a
template that lost a required placeholder, names an unknown one or breaks a tag is refused with
the file and the placeholder), laid out as NĐ 30/2020 asks, made again the same way by
make_templates, and filled through the generic entry point the inspection documents use."""

from __future__ import annotations

import io
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from docx import Document

from bot.cli import main
from core.datafile import DataFileError
from core.documents import (
    DocumentContextError,
    blank,
    blank_parts,
    dated,
    render_document,
    written_parts,
)
from core.documents import spec as spec_module
from core.documents.make_templates import build_all
from core.documents.spec import TEMPLATES, load_templates

DOCS = ("bao_cao_kiem_tra_tinh", "bao_cao_kiem_tra_xa", "bien_ban_hop_dan", "bien_ban_kiem_tra", "giay_chung_nhan",
        "quyet_dinh_cong_nhan")


def copy_templates(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATES, folder)
    return folder


def edit_run(path: Path, old: str, new: str) -> None:
    """Change the text of the first run holding `old`, as an official would in Word."""
    doc = Document(str(path))
    runs = [r for p in doc.paragraphs for r in p.runs] + [
        r for t in doc.tables for row in t.rows for c in row.cells for p in c.paragraphs for r in p.runs]
    run = next(r for r in runs if old in r.text)
    run.text = run.text.replace(old, new)
    doc.save(str(path))


def all_text(data: bytes) -> str:
    doc = Document(io.BytesIO(data))
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    return "\n".join([p.text for p in doc.paragraphs] + cells)


def test_every_template_passes_its_check() -> None:
    specs = load_templates()
    assert sorted(specs) == list(DOCS)
    cert = specs["giay_chung_nhan"]
    assert {"households.head", "households.number", "households.members.name"} <= cert.uses
    assert cert.provenance is not None and cert.provenance.status == "secondary"


def test_a_template_missing_a_required_placeholder_is_refused_naming_file_and_placeholder(tmp_path: Path) -> None:
    folder = copy_templates(tmp_path)
    edit_run(folder / "giay_chung_nhan.docx", "{{ h.head }}", "")
    with pytest.raises(DataFileError) as err:
        load_templates(folder)
    assert err.value.path == str(folder / "giay_chung_nhan.docx")
    assert "missing placeholder {{ households.head }}" in str(err.value)
    assert "required by giay_chung_nhan.yaml" in str(err.value)


def test_unknown_placeholders_and_broken_tags_are_refused_all_at_once(tmp_path: Path) -> None:
    folder = copy_templates(tmp_path)
    edit_run(folder / "giay_chung_nhan.docx", "{{ h.ethnicity }}", "{{ h.ethnicity }} {{ h.nickname }}")
    edit_run(folder / "bien_ban_hop_dan.docx", "{{ held_at }}", "{{ held_at }} {{ weather }}")
    edit_run(folder / "bao_cao_kiem_tra_xa.docx", "{{ proposals }}", "{{ proposals ")
    with pytest.raises(DataFileError) as err:
        load_templates(folder)
    message = str(err.value)
    assert f"{folder / 'giay_chung_nhan.docx'}: unknown placeholder {{{{ households.nickname }}}}" in message
    assert f"{folder / 'bien_ban_hop_dan.docx'}: unknown placeholder {{{{ weather }}}}" in message
    assert f"{folder / 'bao_cao_kiem_tra_xa.docx'}: placeholder syntax error" in message


def test_a_file_that_is_not_a_word_document_is_refused(tmp_path: Path) -> None:
    folder = copy_templates(tmp_path)
    (folder / "bien_ban_hop_dan.docx").write_text("not a document", encoding="utf-8")
    (folder / "giay_chung_nhan.docx").unlink()
    with pytest.raises(DataFileError) as err:
        load_templates(folder)
    assert f"{folder / 'bien_ban_hop_dan.docx'}: not a Word document (.docx)" in str(err.value)
    assert f"{folder / 'giay_chung_nhan.yaml'}:" in str(err.value) and "giay_chung_nhan.docx does not exist" in str(
        err.value)


def test_a_wrong_placeholder_file_names_its_line(tmp_path: Path) -> None:
    folder = copy_templates(tmp_path)
    yaml_path = folder / "bien_ban_hop_dan.yaml"
    text = yaml_path.read_text(encoding="utf-8")
    yaml_path.write_text(text.replace("  attendees: ", "  Attendees: "), encoding="utf-8")
    with pytest.raises(DataFileError) as err:
        load_templates(folder)
    assert err.value.path == str(yaml_path) and "'Attendees'" in str(err.value)
    assert err.value.line == next(i for i, line in enumerate(text.splitlines(), 1) if "  attendees: " in line)


def test_rasoat_check_refuses_a_broken_template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    folder = copy_templates(tmp_path)
    edit_run(folder / "quyet_dinh_cong_nhan.docx", ", {{ dated }}", "")
    monkeypatch.setattr(spec_module, "TEMPLATES", folder)
    spec_module.templates.cache_clear()
    try:
        assert main(["check"]) == 1
    finally:
        spec_module.templates.cache_clear()
    err = capsys.readouterr().err
    assert "LỖI:" in err and "quyet_dinh_cong_nhan.docx: missing placeholder {{ dated }}" in err


@pytest.mark.parametrize("doc_id", DOCS)
def test_the_layout_of_nd_30_2020(doc_id: str) -> None:
    """A4, margins within Phụ lục I's ranges, Times New Roman 13-14 pt, the national title
    and motto top right, the place and date in italics."""
    doc = Document(str(TEMPLATES / f"{doc_id}.docx"))
    section = doc.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    mm = {k: round(getattr(section, f"{k}_margin").mm, 1) for k in ("top", "bottom", "left", "right")}
    assert 20 <= mm["top"] <= 25 and 20 <= mm["bottom"] <= 25 and 30 <= mm["left"] <= 35 and 15 <= mm["right"] <= 20
    normal = doc.styles["Normal"].font
    assert normal.name == "Times New Roman" and 13 <= normal.size.pt <= 14
    head = doc.tables[0]
    right = [p for p in head.cell(0, 1).paragraphs if p.text]
    assert [p.text for p in right] == ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc"]
    assert all(r.bold for p in right for r in p.runs)
    assert 12 <= right[0].runs[0].font.size.pt <= 13 and 13 <= right[1].runs[0].font.size.pt <= 14
    rules = [p for p in head.cell(0, 1).paragraphs if p._p.pPr is not None and p._p.pPr.find(
        "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}pBdr") is not None]
    assert len(rules) == 1  # the line under the motto
    date_line = head.cell(1, 1).paragraphs[0]
    assert ", {{ dated }}" in date_line.text and all(r.italic for r in date_line.runs)


def test_make_templates_is_reproducible_and_its_output_passes_the_check(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    made = build_all(first)
    build_all(second)
    assert sorted(p.stem for p in made) == list(DOCS)
    for path in made:
        assert path.read_bytes() == (second / path.name).read_bytes(), path.name
        shutil.copy(TEMPLATES / f"{path.stem}.yaml", first)
    assert sorted(load_templates(first)) == list(DOCS)


COMMUNE_REPORT: dict[str, Any] = {
    "commune": "xã Ba Sơn", "place": "Ba Sơn", "dated": "ngày 20 tháng 11 năm 2026", "number": None,
    "year": 2026, "recipient": "Đoàn kiểm tra, giám sát của tỉnh", "plan": None, "households_total": 812,
    "surveyed": 140, "poor_before": 61, "poor_after": 52, "poor_rate_before": 100 * 61 / 812,
    "poor_rate_after": 100 * 52 / 812, "near_poor_before": 40, "near_poor_after": 44, "near_poor_rate_before": 4.93,
    "near_poor_rate_after": 5.42, "escaped_poor": 12, "escaped_near_poor": 5, "new_poor": 3, "new_near_poor": 9,
    "complaints": 2, "complaints_resolved": 2, "rechecked": 10, "recheck_agreed": 9, "agreement_rate": 90.0,
    "difficulties": "Địa bàn rộng, đi lại khó khăn.\nMột số hộ đi làm ăn xa <&> chưa gặp được.",
}


def test_the_commune_report_shows_its_figures_and_marks_what_nobody_wrote() -> None:
    assert [(p.key, p.title) for p in written_parts("bao_cao_kiem_tra_xa")] == [
        ("advantages", "Thuận lợi"), ("difficulties", "Khó khăn, vướng mắc"), ("proposals", "Đề xuất, kiến nghị"),
        ("signer", "Họ tên người ký")]
    assert blank_parts("bao_cao_kiem_tra_xa", COMMUNE_REPORT) == ["number", "plan", "advantages", "proposals",
                                                                  "signer"]
    doc = Document(io.BytesIO(render_document("bao_cao_kiem_tra_xa", COMMUNE_REPORT)))
    figures = {row.cells[1].text: (row.cells[2].text, row.cells[3].text) for row in doc.tables[1].rows}
    assert figures["Số hộ nghèo"] == ("61", "52")
    assert figures["Tỷ lệ hộ nghèo (%)"] == ("7,51", "6,4")
    assert figures["Số khiếu nại (đã giải quyết)"] == ("", "2 (2)")
    assert figures["Tỷ lệ phúc tra khớp kết quả (%)"] == ("", "90")
    text = [p.text for p in doc.paragraphs]
    at = text.index("Địa bàn rộng, đi lại khó khăn.")  # each line typed, its own paragraph
    assert text[at + 1] == "Một số hộ đi làm ăn xa <&> chưa gặp được."
    assert text.count(blank()) == 2  # advantages and proposals, each left as a marked blank
    assert "Số: ……/BC-UBND" in doc.tables[0].cell(1, 0).text  # the clerk's number, its own blank
    assert "Kính gửi: Đoàn kiểm tra, giám sát của tỉnh." in text


def test_a_context_that_does_not_fit_is_refused() -> None:
    with pytest.raises(DocumentContextError, match="unknown keys poor_ratio"):
        render_document("bao_cao_kiem_tra_xa", {**COMMUNE_REPORT, "poor_ratio": 1})
    without = {k: v for k, v in COMMUNE_REPORT.items() if k != "surveyed"}
    with pytest.raises(DocumentContextError, match="missing keys surveyed"):
        render_document("bao_cao_kiem_tra_xa", without)
    with pytest.raises(DocumentContextError, match=r"team\[0\]: missing keys name"):
        render_document("bien_ban_kiem_tra", {**VISIT, "team": [{"no": 1}]})
    with pytest.raises(DocumentContextError, match="no document template 'bien_ban'"):
        render_document("bien_ban", {})


VISIT: dict[str, Any] = {
    "issuer": "Sở Nông nghiệp và Môi trường", "commune": "xã Ba Sơn", "place": "Ba Sơn",
    "dated": dated(date(2026, 12, 2)), "year": 2026, "plan": "Kế hoạch số 12/KH-SNNMT",
    "team": [{"no": 1, "name": "Nguyễn Văn Đoàn", "position": "Phó Giám đốc Sở, Trưởng đoàn"},
             {"no": 2, "name": "Lê Thị Kiểm", "position": None}],
    "surveyed": 140, "poor_before": 61, "poor_after": 52, "near_poor_before": 40, "near_poor_after": 44,
    "complaints": 2, "rechecked": 3, "sample_seed": "7f3a", "recheck_agreed": 1, "agreement_rate": 100 / 3,
    "differences": 2, "differences_accepted": 1, "differences_explained": 1,
    "rechecks": [{"no": n, "head": h, "village": "Thôn Nà Pàn", "commune_class": c, "inspector_class": i,
                  "differences": d, "outcome": o} for n, (h, c, i, d, o) in enumerate((
                      ("Hoàng Văn Minh", "Hộ nghèo", "Hộ nghèo", 0, "Khớp"),
                      ("Lò Văn Nam", "Hộ nghèo", "Hộ cận nghèo", 1, "Xã chấp nhận"),
                      ("Vi Văn Hùng", "Hộ cận nghèo", "Hộ cận nghèo", 1, "Xã giải trình")), 1)],
    "team_leader": "Nguyễn Văn Đoàn",
}


def test_the_visit_minutes_and_the_province_report_render() -> None:
    doc = Document(io.BytesIO(render_document("bien_ban_kiem_tra", VISIT)))
    team = [[c.text for c in row.cells] for row in doc.tables[1].rows]
    assert team == [["TT", "Họ và tên", "Chức vụ, đơn vị"], ["1", "Nguyễn Văn Đoàn", "Phó Giám đốc Sở, Trưởng đoàn"],
                    ["2", "Lê Thị Kiểm", blank()]]
    rechecks = [[c.text for c in row.cells] for row in doc.tables[2].rows][1:]
    assert [(r[1], r[3], r[4], r[6]) for r in rechecks] == [
        ("Hoàng Văn Minh", "Hộ nghèo", "Hộ nghèo", "Khớp"), ("Lò Văn Nam", "Hộ nghèo", "Hộ cận nghèo", "Xã chấp nhận"),
        ("Vi Văn Hùng", "Hộ cận nghèo", "Hộ cận nghèo", "Xã giải trình")]
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "tỷ lệ khớp 33,33%" in text and "mã chọn mẫu 7f3a" in text
    assert "Kiểm tra công tác rà soát hộ nghèo, hộ cận nghèo năm 2026 tại xã Ba Sơn" in text
    assert "ngày 02 tháng 12 năm 2026" in doc.tables[0].cell(1, 1).text
    communes = [{"no": 1, "name": "Xã Ba Sơn", "surveyed": 140, "poor_before": 61, "poor_after": 52,
                 "near_poor_before": 40, "near_poor_after": 44, "complaints": 2, "rechecked": 10,
                 "agreement_rate": 90.0, "note": ""},
                {"no": 2, "name": "Xã Xuất Lễ", "surveyed": 98, "poor_before": 20, "poor_after": 18,
                 "near_poor_before": 11, "near_poor_after": 12, "complaints": 0, "rechecked": 10,
                 "agreement_rate": 70.0, "note": "Vượt ngưỡng khác biệt"}]
    province = {"issuer_parent": "UBND tỉnh Lạng Sơn", "issuer": "Sở Nông nghiệp và Môi trường",
                "issuer_code": "SNNMT", "number": None, "place": "Lạng Sơn", "dated": "ngày 15 tháng 12 năm 2026",
                "year": 2026, "recipient": "Ủy ban nhân dân tỉnh", "communes": communes, "surveyed": 238,
                "poor_before": 81, "poor_after": 70, "near_poor_before": 51, "near_poor_after": 56, "complaints": 2,
                "rechecked": 20, "recheck_agreed": 16, "agreement_rate": 80.0, "flagged": 1,
                "signer_title": "Giám đốc"}
    data = render_document("bao_cao_kiem_tra_tinh", province)
    doc = Document(io.BytesIO(data))
    rows = [[c.text for c in row.cells] for row in doc.tables[1].rows][1:]
    assert [(r[1], r[3], r[8]) for r in rows] == [("Xã Ba Sơn", "61 / 52", ""),
                                                 ("Xã Xuất Lễ", "20 / 18", "Vượt ngưỡng khác biệt")]
    assert [c.text for c in doc.tables[2].rows[1].cells] == ["Cộng", "238", "81 / 70", "51 / 56", "2", "20 (16)",
                                                             "80", "1"]
    assert "tại 2 xã, phường" in all_text(data) and "GIÁM ĐỐC" in all_text(data)


def test_dates_follow_nd_30() -> None:
    assert dated(date(2026, 2, 5)) == "ngày 05 tháng 02 năm 2026"
    assert dated(date(2026, 11, 23)) == "ngày 23 tháng 11 năm 2026"
