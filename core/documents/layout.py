"""The building blocks of an administrative document in the layout of NĐ 30/2020/NĐ-CP,
Phụ lục I (core/SOURCES.md, «Word documents»), written with python-docx: A4, the margins, Times
New Roman, the two-column header with the lines under the issuing body and the motto, the
number and place-and-date row, bordered tables whose middle row repeats (docxtpl's `{%tr %}`),
the «Nơi nhận» and signature blocks. Only make_templates.py uses them: the bot renders the
committed templates, which an official may have changed in Word since."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.table import _Cell

FONT = "Times New Roman"
ALIGN = {"left": WD_ALIGN_PARAGRAPH.LEFT, "center": WD_ALIGN_PARAGRAPH.CENTER,
         "right": WD_ALIGN_PARAGRAPH.RIGHT, "justify": WD_ALIGN_PARAGRAPH.JUSTIFY}
BOLD = re.compile(r"(\*\*.+?\*\*)")
CELL_MARGIN_MM = 1.9  # Word's default left and right cell margin (0.19 cm)


@dataclass(frozen=True)
class Page:
    """A4 portrait; margins in mm within the ranges of Phụ lục I (top and bottom 20-25, left
    30-35, right 15-20); body size 13-14 pt."""

    top: float = 20
    bottom: float = 20
    left: float = 30
    right: float = 15
    size: float = 14
    page_numbers: bool = False

    @property
    def text_width(self) -> float:
        return 210 - self.left - self.right


@dataclass(frozen=True)
class Style:
    size: float | None = None
    bold: bool = False
    italic: bool = False
    align: str = "justify"
    indent: bool = False  # first line indented 10 mm, as the body's paragraphs
    before: float = 0
    after: float = 6  # NĐ 30: at least 6 pt between paragraphs


def new_document(page: Page, title: str) -> DocxDocument:
    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(page.top), Mm(page.bottom)
    section.left_margin, section.right_margin = Mm(page.left), Mm(page.right)
    section.header_distance, section.footer_distance = Mm(10), Mm(10)
    normal = doc.styles["Normal"]
    normal.font.name, normal.font.size = FONT, Pt(page.size)
    fonts = normal.element.get_or_add_rPr().get_or_add_rFonts()
    for attr in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        fonts.set(qn(attr), FONT)
    lang = OxmlElement("w:lang")
    lang.set(qn("w:val"), "vi-VN")
    normal.element.get_or_add_rPr().append(lang)
    normal.paragraph_format.space_after = Pt(0)
    normal.paragraph_format.line_spacing = 1.0
    doc.core_properties.title = title
    doc.core_properties.author = "rasoat"
    doc.core_properties.created = doc.core_properties.modified = datetime(2026, 1, 1)
    doc.core_properties.last_modified_by = "rasoat"
    doc.core_properties.revision = 1
    if page.page_numbers:
        _page_numbers(doc, page)
    return doc


def _page_numbers(doc: DocxDocument, page: Page) -> None:
    """From the second page on, centred in the top margin (Phụ lục I, I.7)."""
    section = doc.sections[0]
    section.different_first_page_header_footer = True
    par = section.header.paragraphs[0]
    par.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = par.add_run()
    run.font.size = Pt(page.size)
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if kind:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        else:
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = text
        run._r.append(el)


def paragraph(container: Any, text: str, style: Style) -> Any:
    """A paragraph; `**…**` marks bold words within it."""
    par = container.add_paragraph()
    fmt = par.paragraph_format
    par.alignment = ALIGN[style.align]
    fmt.space_before, fmt.space_after = Pt(style.before), Pt(style.after)
    if style.indent:
        fmt.first_line_indent = Mm(10)
    for part in BOLD.split(text):
        if not part:
            continue
        bold = part.startswith("**") and part.endswith("**") and len(part) > 4
        run = par.add_run(part[2:-2] if bold else part)
        run.bold = style.bold or bold
        run.italic = style.italic
        if style.size:
            run.font.size = Pt(style.size)
    return par


def tag(container: Any, text: str) -> Any:
    """A paragraph holding only a docxtpl paragraph tag (`{%p … %}`), removed when rendered."""
    return paragraph(container, text, Style(align="left", after=0))


def rule(container: Any, width: float, line: float) -> None:
    """A short horizontal line, centred: the bottom border of an empty 2 pt paragraph whose
    indents leave `line` mm of the `width` mm it stands in."""
    par = container.add_paragraph()
    side = max(0.0, (width - 2 * CELL_MARGIN_MM - line) / 2)
    fmt = par.paragraph_format
    fmt.left_indent = fmt.right_indent = Mm(side)
    fmt.space_before = fmt.space_after = Pt(0)
    fmt.line_spacing = Pt(2)
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "single"), ("w:sz", "6"), ("w:space", "1"), ("w:color", "000000")):
        bottom.set(qn(key), value)
    borders.append(bottom)
    par._p.get_or_add_pPr().append(borders)
    run = par.add_run("")
    run.font.size = Pt(2)


def page_break(container: Any) -> None:
    """A break in a 1 pt paragraph, so the next page starts with (almost) nothing before."""
    par = container.add_paragraph()
    par.paragraph_format.space_after = Pt(0)
    par.paragraph_format.line_spacing = Pt(1)
    run = par.add_run()
    run.font.size = Pt(1)
    run.add_break(WD_BREAK.PAGE)


def _fixed(table: Any, widths: Sequence[float]) -> None:
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    layout = OxmlElement("w:tblLayout")
    layout.set(qn("w:type"), "fixed")
    table._tbl.tblPr.append(layout)
    for i, width in enumerate(widths):
        table.columns[i].width = Mm(width)
        for cell in table.columns[i].cells:
            cell.width = Mm(width)


def _clear(cell: _Cell) -> _Cell:
    """A new cell holds one empty paragraph: drop it, so blocks are added from the top."""
    for par in list(cell.paragraphs):
        par._p.getparent().remove(par._p)
    return cell


def header(doc: DocxDocument, page: Page, left: Sequence[dict[str, Any]], right: Sequence[dict[str, Any]],
           number: str | None, dated: str | None, split: float = 0.4) -> None:
    """The two-column header: the issuing body (left) and the national title and motto (right),
    each with a line under its last line; then the number (left) and the place and date in
    italics (right). Lines are {text, bold, size, rule (mm)}."""
    widths = (page.text_width * split, page.text_width * (1 - split))
    table = doc.add_table(rows=2 if (number or dated) else 1, cols=2)
    _fixed(table, widths)
    for cell, lines, width in ((table.cell(0, 0), left, widths[0]), (table.cell(0, 1), right, widths[1])):
        _clear(cell)
        for line in lines:
            paragraph(cell, line["text"], Style(size=line.get("size", page.size - 1), bold=line.get("bold", True),
                                                align="center", after=0))
            if line.get("rule"):
                rule(cell, width, float(line["rule"]))
    if number or dated:
        for cell, text, italic in ((table.cell(1, 0), number, False), (table.cell(1, 1), dated, True)):
            _clear(cell)
            paragraph(cell, text or "", Style(size=page.size - 1, italic=italic, align="center", before=6, after=0))
    paragraph(doc, "", Style(after=6))


def _borders(table: Any) -> None:
    borders = OxmlElement("w:tblBorders")
    for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{side}")
        for key, value in (("w:val", "single"), ("w:sz", "4"), ("w:space", "0"), ("w:color", "000000")):
            el.set(qn(key), value)
        borders.append(el)
    table._tbl.tblPr.append(borders)


def grid(doc: DocxDocument, page: Page, columns: Sequence[dict[str, Any]], rows: Sequence[Sequence[str]],
         loop: str | None = None, size: float | None = None) -> None:
    """A bordered table: the column heads (bold), then `rows`; with `loop` ('x in list'), one
    more row repeated for each item between docxtpl's `{%tr for %}` and `{%tr endfor %}` rows,
    its cells the columns' `cell`. Columns: {head, cell, width (share), align}."""
    body = [list(r) for r in rows]
    repeated = [c.get("cell", "") for c in columns] if loop else None
    count = 1 + len(body) + (3 if loop else 0)
    table = doc.add_table(rows=count, cols=len(columns))
    _borders(table)
    total = sum(float(c.get("width", 1)) for c in columns)
    _fixed(table, [page.text_width * float(c.get("width", 1)) / total for c in columns])
    size = size or page.size - 1
    grid_rows: list[tuple[list[str], bool]] = [([str(c.get("head", "")) for c in columns], True)]
    grid_rows += [(r, False) for r in body]
    if loop and repeated is not None:
        grid_rows += [([f"{{%tr for {loop} %}}"] + [""] * (len(columns) - 1), False), (repeated, False),
                      (["{%tr endfor %}"] + [""] * (len(columns) - 1), False)]
    for r, (cells, bold) in enumerate(grid_rows):
        for c, text in enumerate(cells):
            cell = _clear(table.cell(r, c))
            align = "center" if bold else columns[c].get("align", "left")
            paragraph(cell, str(text), Style(size=size, bold=bold, align=align, before=2, after=2))
    if len(grid_rows) > 1:
        _repeat_head(table.rows[0])
    paragraph(doc, "", Style(after=6))


def _repeat_head(row: Any) -> None:
    props = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    props.append(el)


def columns_block(doc: DocxDocument, page: Page, cols: Sequence[Sequence[dict[str, Any]]],
                  widths: Sequence[float] | None = None) -> None:
    """Side by side blocks without borders: «Nơi nhận» and the signature, or the signatures
    of a minutes. Lines are {text, bold, italic, size, align, blank (empty lines after)}."""
    shares = widths or [1] * len(cols)
    table = doc.add_table(rows=1, cols=len(cols))
    _fixed(table, [page.text_width * s / sum(shares) for s in shares])
    keep = OxmlElement("w:cantSplit")  # a signature is never cut across two pages
    table.rows[0]._tr.get_or_add_trPr().append(keep)
    for i, lines in enumerate(cols):
        cell = _clear(table.cell(0, i))
        for line in lines:
            paragraph(cell, line.get("text", ""), Style(size=line.get("size", page.size), bold=line.get("bold", False),
                                                        italic=line.get("italic", False),
                                                        align=line.get("align", "center"), after=0))
            for _ in range(int(line.get("blank", 0))):
                paragraph(cell, "", Style(size=page.size, after=0))
        if not lines:
            paragraph(cell, "", Style(after=0))


def save(doc: DocxDocument, path: Path) -> None:
    """The same bytes for the same layout: every zip entry dated 1980-01-01, in order."""
    raw = io.BytesIO()
    doc.save(raw)
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, src.read(info.filename))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out.getvalue())
