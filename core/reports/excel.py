"""Report workbooks laid out the way a commune prints, signs and stamps them: the national
heading, the form number, a title, the unit and date lines, a header that merges grouped
columns, a numbered column row, the figures, a total row and the signature block; Times New
Roman, A4 landscape, header rows repeated on every printed page."""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable, Sequence
from copy import copy
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from core.i18n import t
from core.reports.list_spec import ListColumn, ListSpec
from core.reports.query import ListRow, Row, TableData
from core.reports.sheet import FONT, Recorder, Sheet
from core.reports.table_spec import Column, TableSpec
from core.storage.models import Unit
from core.surveys.model import Survey

THIN = Side(style="thin")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)
RIGHT = Alignment(horizontal="right", vertical="center")


@lru_cache(maxsize=32)
def _font(size: int = 12, bold: bool = False, italic: bool = False) -> Font:
    return Font(name=FONT, size=size, bold=bold, italic=italic)


def _style(ws: Worksheet, cell: Any, font: Font, align: Alignment, border: bool, fmt: str | None) -> None:
    """Setting a style object hashes it against the workbook's style tables, which costs more
    than writing the value; a list of 100,000 rows has a handful of distinct styles, so each is
    built once per workbook and its index array copied into the following cells."""
    cache: dict[tuple, Any] = ws.parent.__dict__.setdefault("_rasoat_styles", {})
    key = (id(font), id(align), border, fmt)
    cached = cache.get(key)
    if cached is not None:
        cell._style = copy(cached)
        return
    cell.font, cell.alignment = font, align
    if border:
        cell.border = BOX
    if fmt:
        cell.number_format = fmt
    cache[key] = copy(cell._style)


def literal(cell: Cell, value: Any) -> Cell:
    """Write a value so that no text can become a formula: names, villages and notes come from
    users, and a name typed as `=HYPERLINK(...)` or `=cmd|...` must stay the text it is when the
    commune opens the workbook (CSV/formula injection). Every text is stored as a string cell
    (openpyxl would otherwise store text starting with '=' as a formula); characters that XML
    cannot hold (NUL and other control characters) are dropped instead of failing the report."""
    if isinstance(value, str):
        cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell.data_type = "s"
    else:
        cell.value = value
    return cell


def _put(ws: Worksheet, row: int, col: int, value: Any, *, font: Font | None = None,
         align: Alignment | None = None, border: bool = False, end_col: int | None = None,
         end_row: int | None = None, fmt: str | None = None) -> None:
    if (end_col and end_col > col) or (end_row and end_row > row):
        ws.merge_cells(start_row=row, start_column=col, end_row=end_row or row, end_column=end_col or col)
        if border:
            for r in range(row, (end_row or row) + 1):
                for c in range(col, (end_col or col) + 1):
                    ws.cell(r, c).border = BOX
    _style(ws, literal(ws.cell(row, col), value), font or _font(), align or LEFT, border, fmt)


def _heading(ws: Worksheet, unit: Unit, parent: Unit | None, width: int, form: str | None, title: str) -> int:
    """National heading, form number and title; returns the next free row."""
    half = max(2, width // 2)
    _put(ws, 1, 1, t("rpt_authority", unit=(parent or unit).name.upper()), font=_font(12), align=CENTER,
         end_col=half - 1)
    _put(ws, 2, 1, t("rpt_steering", unit=unit.name.upper()), font=_font(12, bold=True), align=CENTER,
         end_col=half - 1)
    _put(ws, 1, half, t("rpt_nation"), font=_font(12, bold=True), align=CENTER, end_col=width)
    _put(ws, 2, half, t("rpt_motto"), font=_font(13, bold=True), align=CENTER, end_col=width)
    row = 4
    if form:
        _put(ws, row, 1, form, font=_font(12, italic=True), align=RIGHT, end_col=width)
        row += 1
    _put(ws, row, 1, title, font=_font(14, bold=True), align=CENTER, end_col=width)
    ws.row_dimensions[row].height = 36
    _put(ws, row + 1, 1, t("rpt_unit_line", unit=unit.name), font=_font(12, italic=True), align=CENTER,
         end_col=width)
    return row + 3


def _signature(ws: Worksheet, row: int, width: int, unit: Unit, today: date) -> None:
    half = max(2, width // 2)
    _put(ws, row, half, t("rpt_date_line", place=unit.name, d=today.day, m=today.month, y=today.year),
         font=_font(12, italic=True), align=CENTER, end_col=width)
    _put(ws, row + 1, 1, t("rpt_preparer"), font=_font(12, bold=True), align=CENTER, end_col=half - 1)
    _put(ws, row + 1, half, t("rpt_head"), font=_font(12, bold=True), align=CENTER, end_col=width)
    _put(ws, row + 2, 1, t("rpt_sign_name"), font=_font(11, italic=True), align=CENTER, end_col=half - 1)
    _put(ws, row + 2, half, t("rpt_sign_stamp"), font=_font(11, italic=True), align=CENTER, end_col=width)


def _page(ws: Worksheet, header_first: int, header_last: int) -> None:
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = f"{header_first}:{header_last}"
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.5
    ws.print_options.horizontalCentered = True


def _header(ws: Worksheet, top: int, columns: Sequence[Column], depth: int, first_col: int,
            label: Callable[[str], str]) -> int:
    """Grouped column headers, merged across their leaves and down to the leaf row; `label`
    fills a header's placeholders (the stage, core/reports/stage.py)."""
    col = first_col
    for column in columns:
        span = len(column.leaves())
        if column.children:
            _put(ws, top, col, label(column.label), font=_font(11, bold=True), align=CENTER, border=True,
                 end_col=col + span - 1)
            _header(ws, top + 1, column.children, depth - 1, col, label)
        else:
            _put(ws, top, col, label(column.label), font=_font(11, bold=True), align=CENTER, border=True,
                 end_row=top + depth - 1)
        col += span
    return col


def label_columns(spec: TableSpec, rows_level: str | None = None) -> list[str]:
    """Headers of the label columns (TT, Khu vực/Đơn vị, and Phân tổ for Hộ / Nhân khẩu rows).
    A commune's table lists its villages, whatever the official form calls its rows («Phường/Xã»
    on Biểu 7.1, made for a district)."""
    unit = t("rpt_unit_header_village") if rows_level == "village" else spec.unit_header
    return [t("rpt_no"), unit, *([spec.split_header] if spec.splits else [])]


def column_numbers(spec: TableSpec) -> list[str]:
    """The numbered row under the header: A, B (C) for the labels, then each figure's number or
    formula ("4=3/1*100") as the official templates print it."""
    letters = [chr(ord("A") + i) for i in range(len(label_columns(spec)))]
    return letters + [leaf.number or str(i) for i, leaf in enumerate(spec.leaves(), 1)]


def render_table(data: TableData, parent: Unit | None, path: Path, today: date | None = None) -> Path:
    today = today or date.today()
    spec = data.spec
    leaves = spec.leaves()
    labels = label_columns(spec, "village" if data.unit.level == "commune" else None)
    first = len(labels) + 1
    width = len(labels) + len(leaves)
    depth = max(c.depth() for c in spec.columns)
    wb = Workbook()
    ws = wb.active
    ws.title = spec.id.replace(".", "_")

    def staged(text: str) -> str:  # the title and the headers follow the stage
        return data.basis.heading(text, data.year)

    title = staged(spec.title)
    top = _heading(ws, data.unit, parent, width, spec.form,
                   t("rp_table_title", title=title) if data.provisional else title)
    # the free row between the unit line and the header: the subtitle, and which figures these are
    subtitle = staged(spec.subtitle) if spec.subtitle else ""
    free = " · ".join(x for x in (subtitle, data.basis.line(), t("rp_table_note") if data.provisional else "") if x)
    _put(ws, top - 1, 1, free, font=_font(12, italic=True), align=CENTER, end_col=width)
    for c, label in enumerate(labels, 1):
        _put(ws, top, c, label, font=_font(11, bold=True), align=CENTER, border=True, end_row=top + depth - 1)
    _header(ws, top, spec.columns, depth, first, staged)
    numbers = top + depth
    for c, text in enumerate(column_numbers(spec), 1):
        _put(ws, numbers, c, text, font=_font(10, italic=True), align=CENTER, border=True)
    row = numbers + 1

    def figures(r: Row, bold: bool) -> None:
        nonlocal row
        parts = [(v.label, r.split(k)) for k, v in enumerate(spec.splits)] or [(None, r)]
        for label, source in parts:
            if label is not None:
                _put(ws, row, 3, label, border=True, font=_font(12, bold=bold))
            for c, leaf in enumerate(leaves, first):
                value = (data.ratio(source, *leaf.ratio) if leaf.ratio
                         else data.difference(source, leaf.difference) if leaf.difference
                         else source.value(leaf.value))  # type: ignore[arg-type]
                fmt = None if value is None else "0.00" if leaf.ratio else "#,##0"
                _put(ws, row, c, "-" if value is None else value, align=RIGHT, border=True,
                     font=_font(12, bold=bold), fmt=fmt)
            row += 1
        if spec.splits:  # the number and name span the unit's split rows
            for c in (1, 2):
                ws.merge_cells(start_row=row - len(parts), start_column=c, end_row=row - 1, end_column=c)

    def labelled(no: Any, name: str, r: Row, bold: bool) -> None:
        _put(ws, row, 1, no, align=CENTER, border=True, font=_font(12, bold=bold))
        _put(ws, row, 2, name, border=True, font=_font(12, bold=bold))
        for extra in range(1, len(spec.splits)):
            _put(ws, row + extra, 1, None, border=True)
            _put(ws, row + extra, 2, None, border=True)
        figures(r, bold)

    if spec.area_groups:
        for roman, section in zip(("I", "II"), data.sections, strict=True):
            labelled(roman, t(f"rpt_area_{section.area}"), section.subtotal, True)
            for i, r in enumerate(section.rows, 1):
                labelled(i, r.name, r, False)
        labelled("III", t("rpt_total_areas"), data.total, True)
    else:
        for i, r in enumerate(data.rows, 1):
            labelled(i, r.name, r, False)
        labelled("", t("rpt_total"), data.total, True)
    note = data.note()  # which units the total row leaves out, and why
    if note:
        _put(ws, row, 1, note, font=_font(11, italic=True), end_col=width)
        row += 1
    ws.column_dimensions["A"].width = 6
    ws.column_dimensions["B"].width = 28
    if spec.splits:
        ws.column_dimensions["C"].width = 14
    for c in range(first, width + 1):
        ws.column_dimensions[get_column_letter(c)].width = 12
    for r in range(top, top + depth):
        ws.row_dimensions[r].height = 48
    _signature(ws, row + 1, width, data.unit, today)
    _page(ws, top, numbers)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


class _Labels:
    """Answers as printed: a choice by its label, yes/no in words, a number as a number; the
    questions are looked up once per list, not once per cell."""

    def __init__(self, survey: Survey) -> None:
        self.questions = {q.id: q for q in [*survey.household_questions(),
                                             *(q for g in survey.groups() for q in g.questions)]}
        self._labels: dict[tuple[str, str], Any] = {}

    def text(self, qid: str, value: Any) -> Any:
        if value is None:
            return ""
        q = self.questions.get(qid)
        if q is None:
            return value
        if isinstance(value, bool):
            return t("b1_yes") if value else t("b1_no")
        if not q.choices:
            return value
        key = (qid, str(value))
        if key not in self._labels:
            choice = q.choice(str(value))
            self._labels[key] = choice.label if choice else value
        return self._labels[key]


def _field(item: ListRow, name: str) -> Any:
    """A household fact stored at submission, in the words of the list."""
    h = item.household
    if name == "village":
        return item.village
    if name == "outcome":
        return t(f"list_outcome_{h.outcome}")
    if name == "prior_class":  # the start-of-review class by its one rule (core/procedure/start_class.py)
        return t(f"list_prior_{h.start_class or 'unknown'}")
    if name == "deprived":
        return ", ".join(str(x) for x in (h.deprived or []))
    if name == "b2_score":
        return None if h.deprived_count is None else 10 * h.deprived_count
    return getattr(h, name)


def _list_cells(spec: ListSpec, item: ListRow, labels: _Labels) -> list[list[Any]]:
    def cell(c: ListColumn, member: dict[str, Any] | None) -> Any:
        if c.field:
            return _field(item, c.field)
        if c.answer:
            return labels.text(c.answer, item.answers.get(c.answer))
        assert member is not None and c.member
        value = member.get(c.member)
        if value is None and member["_index"] == 1 and c.for_head is not None:
            return _field(item, c.for_head[1:]) if c.for_head.startswith("=") else c.for_head
        return labels.text(c.member, value)

    if spec.members:
        return [[cell(c, m) for c in spec.columns] for m in item.members]
    return [[cell(c, None) for c in spec.columns]]


async def render_list(spec: ListSpec, rows: AsyncIterable[ListRow] | Iterable[ListRow], unit: Unit,
                      parent: Unit | None, year: int, survey: Survey, path: Path, today: date | None = None,
                      separate_writer: bool | None = None) -> Path:
    """Columns come from the list's spec (core/reports/lists.yaml), none from code. Rows are
    written as they arrive from the query (core/reports/query.py list_rows streams them); the
    heading, header and signature are those of the other sheets (_heading, _signature)."""
    today = today or date.today()
    path.parent.mkdir(parents=True, exist_ok=True)
    if separate_writer is None:  # a commune's list is a few hundred rows, a province's 100,000
        separate_writer = unit.level not in ("commune", "village")
    out: Sheet | Recorder = Recorder(path, spec.id) if separate_writer else Sheet(path, spec.id)
    try:
        await _fill_list(out, spec, rows, unit, parent, year, survey, today)
    except BaseException:
        if isinstance(out, Recorder):
            out.abort()
        raise
    out.close()
    return path


async def _fill_list(out: Sheet | Recorder, spec: ListSpec, rows: AsyncIterable[ListRow] | Iterable[ListRow],
                     unit: Unit, parent: Unit | None, year: int, survey: Survey, today: date) -> None:
    headers = [t("rpt_no"), *(c.label for c in spec.columns)]
    width = len(headers)
    half = max(2, width // 2)
    ws = out.ws
    ws.set_column(0, 0, 6)
    for c, column in enumerate(spec.columns, 1):
        wide = column.field in ("head_name", "village") or column.for_head is not None
        ws.set_column(c, c, 24 if wide else 13)
    out.next_row()
    out.merged(1, half - 1, t("rpt_authority", unit=(parent or unit).name.upper()), out.fmt(12, align="center"))
    out.merged(half, width, t("rpt_nation"), out.fmt(12, bold=True, align="center"))
    out.next_row()
    out.merged(1, half - 1, t("rpt_steering", unit=unit.name.upper()), out.fmt(12, bold=True, align="center"))
    out.merged(half, width, t("rpt_motto"), out.fmt(13, bold=True, align="center"))
    out.next_row()
    out.next_row(36)
    out.merged(1, width, spec.title.format(year=year), out.fmt(14, bold=True, align="center"))
    out.next_row()
    out.merged(1, width, t("rpt_unit_line", unit=unit.name), out.fmt(12, italic=True, align="center"))
    out.next_row()
    out.next_row(45)
    top = out.row
    head = out.fmt(11, bold=True, align="center", border=True)
    for c, text in enumerate(headers, 1):
        out.write(c, text, head)
    labels = _Labels(survey)
    number, text_cell = out.fmt(align="center", border=True), out.fmt(border=True)
    figure, money = out.fmt(align="right", border=True), out.fmt(align="right", border=True, number="#,##0")
    n = 0

    def write(item: ListRow) -> None:
        nonlocal n
        for values in _list_cells(spec, item, labels):
            n += 1
            out.next_row()
            out.write(1, n, number)
            out.cells(2, values, text_cell, figure, money)

    if isinstance(rows, AsyncIterable):
        async for item in rows:
            write(item)
    else:
        for item in rows:
            write(item)
    out.next_row()
    out.next_row()
    out.merged(1, width, t("rpt_list_count", n=n), out.fmt(12, italic=True))
    out.next_row()
    out.merged(half, width, t("rpt_date_line", place=unit.name, d=today.day, m=today.month, y=today.year),
               out.fmt(12, italic=True, align="center"))
    out.next_row()
    out.merged(1, half - 1, t("rpt_preparer"), out.fmt(12, bold=True, align="center"))
    out.merged(half, width, t("rpt_head"), out.fmt(12, bold=True, align="center"))
    out.next_row()
    out.merged(1, half - 1, t("rpt_sign_name"), out.fmt(11, italic=True, align="center"))
    out.merged(half, width, t("rpt_sign_stamp"), out.fmt(11, italic=True, align="center"))
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(top)
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.5)
    ws.center_horizontally()
