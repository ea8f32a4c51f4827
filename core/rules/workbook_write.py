"""`rasoat rules export PACK`: the pack in force as a workbook an official fills from the
printed circular (layout in core/rules/layout.py, read back by core/rules/workbook_read.py).

Cells are typed (numbers as numbers) and carry data validation, so Excel itself refuses text
in a points cell; every value a reader could misread as a formula is written as text. A
standard without a B1 table gets the B1 questions of the form with empty point cells.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from core.i18n import t
from core.rules import layout as L
from core.rules.content import PARTS
from core.surveys.model import QType, Survey

BOLD = Font(bold=True)
LOCKED = PatternFill("solid", fgColor="EEEEEE")  # cells the import reads but an official need not change
INPUT = PatternFill("solid", fgColor="FFF8DC")
WRAP = Alignment(wrap_text=True, vertical="top")


def _put(ws: Worksheet, row: int, col: int, value: Any, fill: PatternFill | None = None) -> Cell:
    cell = ws.cell(row=row, column=col, value=value)
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"  # text, never a formula
    if fill is not None:
        cell.fill = fill
    return cell


def _validation(ws: Worksheet, kind: str, cells: str, low: int = 0, high: int = 0,
                words: list[str] | None = None) -> None:
    if kind == "list":
        dv = DataValidation(type="list", formula1='"' + ",".join(words or []) + '"', allow_blank=True)
    else:
        dv = DataValidation(type="whole", operator="between", formula1=str(low), formula2=str(high), allow_blank=True)
    dv.showErrorMessage = True
    dv.errorTitle = t("rw_dv_title")
    dv.error = t("rw_dv_list", words=", ".join(words or [])) if kind == "list" else t("rw_dv_whole", low=low, high=high)
    ws.add_data_validation(dv)
    dv.add(cells)


def _header(ws: Worksheet, titles: list[str], widths: list[int]) -> None:
    for col, (title, width) in enumerate(zip(titles, widths, strict=True), start=1):
        _put(ws, 1, col, title).font = BOLD
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.freeze_panes = "A2"


def _guide(ws: Worksheet, pack_name: str, version: int) -> None:
    ws.column_dimensions["A"].width = 120
    lines = [t("rw_guide_title", pack=pack_name, version=version), *t("rw_guide").split("\n")]
    for row, line in enumerate(lines, start=1):
        _put(ws, row, 1, line).alignment = WRAP
    ws["A1"].font = BOLD


def _get(content: dict[str, Any], key: str) -> Any:
    node: Any = content
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _general(ws: Worksheet, content: dict[str, Any], b1: dict[str, Any]) -> None:
    _header(ws, [t("rw_col_key"), t("rw_col_item"), t("rw_col_value"), t("rw_col_note")], [28, 58, 22, 50])
    source = {"pack": content["pack"], "b1": b1}
    row = 2
    for spec in L.GENERAL:
        value = _get(source, spec.key if spec.key.startswith("b1.") else f"pack.{spec.key}")
        _put(ws, row, 1, spec.key, LOCKED)
        _put(ws, row, 2, spec.label)
        cell = _put(ws, row, 3, value, LOCKED if spec.kind == "readonly" else INPUT)
        if spec.kind == "money":
            cell.number_format = "#,##0"
        if spec.kind in L.BOUNDS:
            low, high = L.BOUNDS[spec.kind]
            _validation(ws, "whole", f"C{row}", low, high)
        note = t(f"rw_kind_{spec.kind}") + (t("rw_optional") if spec.optional else "")
        _put(ws, row, 4, note)
        row += 1
    words = [L.area_word("rural"), L.area_word("urban")]
    for kind, area in content["pack"]["area_by_commune_type"].items():
        _put(ws, row, 1, f"{L.AREA_KEY}{kind}", LOCKED)
        _put(ws, row, 2, t("rw_general_area", kind=kind))
        _put(ws, row, 3, L.area_word(area), INPUT)
        _validation(ws, "list", f"C{row}", words=words)
        _put(ws, row, 4, t("rw_kind_area"))
        row += 1


def _b1_rows(item: dict[str, Any], form: Survey) -> list[tuple[str, str, Any, dict[str, Any]]]:
    """(answer shown, answer code, band max, points) for each row of one item."""
    q = next((q for q in form.household_questions() if q.id == item["question"]), None)
    if "bands" in item:
        rows, low = [], None
        for band in item["bands"]:
            top = band["max"]
            if top is None:
                shown = t("rw_band_last", low=(low or 0) + 1)
            elif low is None:
                shown = t("rw_band_upto", high=top)
            else:
                shown = t("rw_band", low=low + 1, high=top) if top > low + 1 else t("rw_band_one", n=top)
            rows.append((shown, "", top, band["points"]))
            low = top
        return rows
    out = []
    for code, points in item["points"].items():
        if q is not None and q.type is QType.YES_NO:
            shown = L.yes_no_word(code == "co")
        else:
            choice = q.choice(code) if q is not None else None
            shown = choice.label if choice is not None else code
        out.append((shown, code, None, points))
    return out


def _b1(ws: Worksheet, b1: dict[str, Any], form: Survey, empty: bool) -> None:
    schemes = list(b1["schemes"])
    titles = [t("rw_col_question"), t("rw_col_question_text"), t("rw_col_answer"), t("rw_col_answer_code"),
              t("rw_col_band_max")] + [b1["schemes"][s]["label"] for s in schemes]
    _header(ws, titles, [18, 44, 30, 14, 10] + [22] * len(schemes))
    ws.freeze_panes = ws.cell(row=L.FIRST_ITEM_ROW, column=L.REGION_COL)
    labels = {L.ROW_SCHEME: t("rw_row_scheme"), L.ROW_AREA: t("rw_row_area"), L.ROW_APPLIES: t("rw_row_applies"),
              L.ROW_BASE: t("rw_row_base")}
    for row, marker in L.MARKERS.items():
        _put(ws, row, 1, marker, LOCKED)
        _put(ws, row, 2, labels[row]).font = BOLD
    for col, scheme in enumerate(schemes, start=L.REGION_COL):
        spec = b1["schemes"][scheme]
        _put(ws, 1, col, spec["label"], INPUT).alignment = WRAP
        _put(ws, L.ROW_SCHEME, col, scheme, INPUT)
        _put(ws, L.ROW_AREA, col, L.area_word(spec["area"]), INPUT)
        _put(ws, L.ROW_APPLIES, col, L.yes_no_word(spec["applies"]), INPUT)
        _put(ws, L.ROW_BASE, col, None if empty else b1["base"][scheme], INPUT)
    row = L.FIRST_ITEM_ROW
    for item in b1["items"]:
        for i, (shown, code, top, points) in enumerate(_b1_rows(item, form)):
            _put(ws, row, L.COL_QUESTION, item["question"], LOCKED)
            _put(ws, row, L.COL_LABEL, item["label"] if i == 0 else None)
            _put(ws, row, L.COL_ANSWER, shown)
            _put(ws, row, L.COL_CODE, code or None, LOCKED)
            _put(ws, row, L.COL_MAX, top, INPUT if "bands" in item else None)
            for col, scheme in enumerate(schemes, start=L.REGION_COL):
                _put(ws, row, col, None if empty else points[scheme], INPUT)
            row += 1
    last_col = get_column_letter(L.REGION_COL + len(schemes) + 3)  # room for regions an official adds
    first_col = get_column_letter(L.REGION_COL)
    _validation(ws, "whole", f"{first_col}{L.ROW_BASE}:{last_col}{row + 20}", *L.BOUNDS["b1"])
    _validation(ws, "list", f"{first_col}{L.ROW_AREA}:{last_col}{L.ROW_AREA}",
                words=[L.area_word("rural"), L.area_word("urban")])
    _validation(ws, "list", f"{first_col}{L.ROW_APPLIES}:{last_col}{L.ROW_APPLIES}",
                words=[L.yes_no_word(True), L.yes_no_word(False)])
    _validation(ws, "whole", f"E{L.FIRST_ITEM_ROW}:E{row + 20}", *L.BOUNDS["band"])


def _indicators(ws: Worksheet, content: dict[str, Any]) -> None:
    pack = content["pack"]
    split = [L.thresholds(i["deprived_when"]) for i in pack["indicators"]]
    width = max([L.IND_MIN_THRESHOLDS, *(len(v) for _, v in split)])
    titles = [t("rw_col_number"), t("rw_col_code"), t("rw_col_service"), t("rw_col_indicator"),
              t("rw_col_confidence"), t("rw_col_condition")] + [t("rw_col_threshold", n=n) for n in range(1, width + 1)]
    _header(ws, titles, [7, 16, 26, 40, 10, 80] + [12] * width)
    row = 2
    for ind, (template, values) in zip(pack["indicators"], split, strict=True):
        for col, value in enumerate((ind["number"], ind["code"], ind["service"], ind["name"], ind["confidence"],
                                     template, *values), start=1):
            _put(ws, row, col, value, INPUT if col >= L.IND_FIXED else None).alignment = WRAP
        row += 1
    _validation(ws, "list", f"E2:E{row + 5}", words=list(L.TAGS))
    row += 1
    _put(ws, row, 1, t("rw_params_title")).font = BOLD
    _put(ws, row, 2, t("rw_col_value")).font = BOLD
    _put(ws, row, 3, t("rw_params_used_by")).font = BOLD
    for name, value in pack["params"].items():
        row += 1
        users = [str(i["number"]) for i in pack["indicators"] if name in i["deprived_when"]]
        _put(ws, row, 1, name, LOCKED)
        _put(ws, row, 2, value, INPUT)
        _put(ws, row, 3, ", ".join(users))


def _phieu_a(ws: Worksheet, rule: dict[str, Any]) -> None:
    _header(ws, [t("rw_col_kind"), t("rw_col_code"), t("rw_col_group"), t("rw_col_text"), t("rw_col_at_least"),
                 t("rw_col_pa_condition")], [16, 16, 14, 60, 12, 40])
    row = 2
    for group in rule["stop_when"]:
        for col, value in enumerate((t("rw_pa_kind_group"), group["group"], None, group["label"],
                                     group["at_least"]), start=1):
            _put(ws, row, col, value)
        row += 1
    for c in rule["criteria"]:
        for col, value in enumerate((t("rw_pa_kind_criterion"), c["code"], c["group"], c["label"], None, c["when"]),
                                    start=1):
            _put(ws, row, col, value)
        row += 1
    _validation(ws, "list", f"A2:A{row + 20}", words=[t("rw_pa_kind_group"), t("rw_pa_kind_criterion")])
    _validation(ws, "whole", f"E2:E{row + 20}", 1, 20)


def _sources(ws: Worksheet, sources: dict[str, Any]) -> None:
    _header(ws, [t("rw_col_part"), t("rw_col_item"), t("rw_col_status"), t("rw_col_document"), t("rw_col_date"),
                 t("rw_col_page"), t("rw_col_source"), t("rw_col_missing"), t("rw_col_assumptions")],
            [10, 24, 18, 24, 12, 8, 60, 50, 50])
    for row, part in enumerate(PARTS, start=2):
        entry = sources[part]
        values = (part, t(f"rw_part_{part}"), L.status_word(entry["status"]), entry["document"] or None,
                  entry["date"] or None, entry["page"] or None, entry["source"] or None,
                  "\n".join(entry["missing"]) or None, "\n".join(entry["assumptions"]) or None)
        for col, value in enumerate(values, start=1):
            _put(ws, row, col, value, LOCKED if col <= 2 else INPUT).alignment = WRAP
    _validation(ws, "list", f"C2:C{len(PARTS) + 1}", words=[L.status_word(s) for s in L.STATUSES])


def write_workbook(content: dict[str, Any], path: Path, form: Survey, template: dict[str, Any], pack_name: str,
                   version: int) -> Path:
    """`template`: the B1 table whose questions are shown when the content has none (empty points)."""
    wb = Workbook()
    guide = wb.active
    assert guide is not None
    guide.title = L.sheet_name("guide")
    _guide(guide, pack_name, version)
    b1 = content["b1"] or template
    _general(wb.create_sheet(L.sheet_name("general")), content, b1)
    _b1(wb.create_sheet(L.sheet_name("b1")), b1, form, empty=content["b1"] is None)
    _indicators(wb.create_sheet(L.sheet_name("indicators")), content)
    _phieu_a(wb.create_sheet(L.sheet_name("phieu_a")), content["phieu_a"])
    _sources(wb.create_sheet(L.sheet_name("sources")), content["sources"])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path
