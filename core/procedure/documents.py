"""Printable tables of the procedure: the posted preliminary list, the decision's attached lists
(Mẫu số 02) and the national-software export, in Excel (openpyxl). The documents officials sign
(the decision, the certificates Mẫu số 03, the meeting's minutes) are Word files made from
templates: core/procedure/paperwork.py. They name households (the export their ID numbers too),
so each is private to the server's user."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from core.i18n import fmt_date, t
from core.private import private_dir, private_file
from core.procedure.provisional import Override, mark_for
from core.storage.models import Household, Unit

BOLD = Font(name="Times New Roman", size=12, bold=True)
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)


@dataclass(frozen=True)
class Entry:
    household: Household
    village: str
    answers: dict[str, Any]
    start_class: str | None  # core/procedure/start_class.py
    final_class: str | None


def _sheet(wb: Workbook, title: str, heading: str, headers: Sequence[str], rows: Iterable[Sequence[Any]],
           first: bool) -> None:
    ws = wb.active if first else wb.create_sheet()
    ws.title = title[:31]
    ws.append([heading])
    ws.cell(1, 1).font = BOLD
    ws.append(list(headers))
    for c in range(1, len(headers) + 1):
        ws.cell(2, c).font, ws.cell(2, c).alignment = BOLD, CENTER
    n = 0
    for n, row in enumerate(rows, 1):
        ws.append([n, *row])
    ws.append([t("rpt_list_count", n=n)])
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.print_title_rows = "2:2"
    for col, width in zip("ABCDEFG", (6, 28, 18, 16, 16, 18, 18), strict=False):
        ws.column_dimensions[col].width = width


# the decision's four lists (Mẫu số 02), in order: the name of its Word table
# (core/procedure/paperwork.py), its Excel sheet, which households it holds
DECISION_LISTS: tuple[tuple[str, str, Callable[[Entry], bool]], ...] = (
    ("poor", "doc_sheet_poor", lambda e: e.final_class == "poor"),
    ("near_poor", "doc_sheet_near_poor", lambda e: e.final_class == "near_poor"),
    ("escaped_poor", "doc_sheet_escaped_poor", lambda e: e.start_class == "poor" and e.final_class != "poor"),
    ("escaped_near_poor", "doc_sheet_escaped_near_poor",
     lambda e: e.start_class == "near_poor" and e.final_class not in ("poor", "near_poor")))


def class_words(value: str | None) -> str:
    return t(f"list_outcome_{value}") if value else t("list_prior_unknown")


def _marked(heading: str, mark: str) -> str:
    """A list's heading with «TẠM TÍNH» when any household on it was classified with a
    provisional rule (core/procedure/provisional.py)."""
    return t("rp_doc_title", title=heading, mark=mark) if mark else heading


def start_words(value: str | None) -> str:
    """The start-of-review class in the words of the reports' lists («Không», «Chưa rõ»)."""
    return t(f"list_prior_{value or 'unknown'}")


def posting_list(path: Path, commune: Unit, entries: Sequence[Entry], start: date, end: date,
                 signed: Sequence[Override] = ()) -> Path:
    """The preliminary list posted at the village and the commune office, one sheet per kind."""
    wb = Workbook()
    mark = mark_for([e.household for e in entries], signed)
    headers = [t("rpt_no"), t("doc_col_head"), t("doc_col_village"), t("doc_col_before"), t("doc_col_result")]
    groups = (("poor", "doc_sheet_poor"), ("near_poor", "doc_sheet_near_poor"), (None, "doc_sheet_left"))
    for i, (cls, key) in enumerate(groups):
        if cls is None:
            chosen = [e for e in entries if e.start_class in ("poor", "near_poor")
                      and e.household.outcome not in ("poor", "near_poor")]
        else:
            chosen = [e for e in entries if e.household.outcome == cls]
        heading = _marked(t("doc_posting_title", commune=commune.name, kind=t(key), start=fmt_date(start),
                            end=fmt_date(end)), mark)
        _sheet(wb, t(key), heading, headers,
               ([e.household.head_name or "", e.village, start_words(e.start_class),
                 class_words(e.household.outcome)] for e in chosen), i == 0)
    private_dir(path.parent)
    wb.save(path)
    return private_file(path)


def decision_lists(path: Path, commune: Unit, entries: Sequence[Entry], number: str, day: date,
                   left_out: Sequence[tuple[str, str, str]] = (), signed: Sequence[Override] = ()) -> Path:
    """The four lists attached to the decision (Mẫu số 02): poor, near-poor, escaped poor,
    escaped near-poor; then, when the decision does not cover the whole review, the households
    it leaves out with the stage each stands at (`left_out`: head, village, stage in words)."""
    wb = Workbook()
    mark = mark_for([e.household for e in entries], signed)
    headers = [t("rpt_no"), t("doc_col_head"), t("doc_col_village"), t("doc_col_members"), t("doc_col_result")]
    for i, (_, key, keep) in enumerate(DECISION_LISTS):
        heading = _marked(t("doc_decision_title", kind=t(key), commune=commune.name, number=number,
                            date=fmt_date(day)), mark)
        _sheet(wb, t(key), heading, headers,
               ([e.household.head_name or "", e.village, e.household.member_count or "", class_words(e.final_class)]
                for e in entries if keep(e)), i == 0)
    if left_out:
        heading = t("doc_left_out_title", commune=commune.name, number=number, date=fmt_date(day))
        _sheet(wb, t("doc_sheet_left_out"), heading,
               [t("rpt_no"), t("doc_col_head"), t("doc_col_village"), t("doc_col_stage")],
               left_out, False)
    private_dir(path.parent)
    wb.save(path)
    return private_file(path)


NATIONAL_HOUSEHOLD = ("ma_tinh", "ma_xa", "thon", "ma_ho", "nam_ra_soat", "ho_ten_chu_ho", "cccd_chu_ho",
                      "dien_dau_ky", "ket_qua_ra_soat", "dien_cong_nhan", "so_qd_cong_nhan", "ngay_qd_cong_nhan",
                      "diem_b1", "diem_b2", "thu_nhap_bq", "chi_so_thieu_hut", "khu_vuc",
                      # the rules that produced the class, and «TẠM TÍNH» when any was provisional
                      "quy_dinh", "phien_ban_quy_dinh", "ma_bam_quy_dinh", "tam_tinh")
NATIONAL_MEMBER = ("stt_thanh_vien", "ho_ten_thanh_vien", "cccd_thanh_vien", "quan_he_chu_ho")


def national_export(path: Path, rows: Iterable[tuple[dict[str, Any], list[dict[str, Any]], list[str]]],
                    answer_keys: Sequence[str], member_keys: Sequence[str]) -> Path:
    """One line per member: the household's fields, the member's fields, then every answer of
    the form (household answers `h_<id>`, member answers `m_<id>`). UTF-8 with BOM, so Excel
    opens it with the accents."""
    private_dir(path.parent)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow([*NATIONAL_HOUSEHOLD, *NATIONAL_MEMBER, *(f"h_{k}" for k in answer_keys),
                      *(f"m_{k}" for k in member_keys)])
        for household, members, answers in rows:
            for member in members:
                out.writerow([*(household.get(k, "") for k in NATIONAL_HOUSEHOLD),
                              *(member.get(k, "") for k in NATIONAL_MEMBER), *answers,
                              *(member.get(f"m_{k}", "") for k in member_keys)])
    return private_file(path)
