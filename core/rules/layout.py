"""The rules workbook's layout, shared by the writer and the reader so the two cannot drift:
sheet names, the rows of the general sheet, the fixed rows and columns of the B1 sheet, and
the words officials choose from (area, status, yes/no). Every word is in locales/vi/."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

from core.i18n import t

SHEETS = ("guide", "general", "b1", "indicators", "phieu_a", "sources")


def sheet_name(key: str) -> str:
    return t(f"rw_sheet_{key}")


@dataclass(frozen=True)
class GeneralRow:
    key: str  # technical key in column A, e.g. "income_line.rural"
    kind: str  # readonly | text | year | money | points | count | area
    optional: bool = False  # may be left empty (a standard without B1 line or average band)

    @property
    def label(self) -> str:
        return t(f"rw_general_{self.key.replace('.', '_')}")


GENERAL: tuple[GeneralRow, ...] = (
    GeneralRow("id", "readonly"),
    GeneralRow("title", "text"),
    GeneralRow("short", "text"),
    GeneralRow("basis", "text", optional=True),
    GeneralRow("years.from", "year"),
    GeneralRow("years.to", "year"),
    GeneralRow("income_line.rural", "money"),
    GeneralRow("income_line.urban", "money"),
    GeneralRow("b1_line.rural", "points", optional=True),
    GeneralRow("b1_line.urban", "points", optional=True),
    GeneralRow("average_band.rural.above", "money", optional=True),
    GeneralRow("average_band.rural.up_to", "money", optional=True),
    GeneralRow("average_band.urban.above", "money", optional=True),
    GeneralRow("average_band.urban.up_to", "money", optional=True),
    GeneralRow("points_per_indicator", "count"),
    GeneralRow("poor_min_deprived", "count"),
    GeneralRow("b1.id", "text", optional=True),
    GeneralRow("b1.title", "text", optional=True),
)
AREA_KEY = "area:"  # rows "area:Xã", "area:Phường": which area a kind of commune is

# Bounds of what can be typed; a value outside is refused as absurd, naming its cell.
BOUNDS = {
    "year": (2000, 2100),
    "money": (100_000, 100_000_000),  # đồng per person per month
    "points": (1, 2000),  # B1 line
    "count": (1, 100),
    "b1": (0, 1000),  # B1 points of one answer
    "band": (0, 1000),  # upper bound of a B1 band (people, hectares...)
}

# B1 sheet: fixed columns, then one column per region (scheme) from REGION_COL on
COL_QUESTION, COL_LABEL, COL_ANSWER, COL_CODE, COL_MAX = 1, 2, 3, 4, 5
REGION_COL = 6
ROW_SCHEME, ROW_AREA, ROW_APPLIES, ROW_BASE = 2, 3, 4, 5
FIRST_ITEM_ROW = 6
MARKERS = {ROW_SCHEME: "_vung", ROW_AREA: "_khu_vuc", ROW_APPLIES: "_ap_dung", ROW_BASE: "_diem_xuat_phat"}

# Indicators sheet: number, code, service, name, confidence, condition, then the thresholds
IND_FIXED = 6
IND_MIN_THRESHOLDS = 3
TAGS = ("C", "C2", "R", "NF", "assumption")
PLACEHOLDER = re.compile(r"\[(\d+)\]")

# Phiếu A sheet: kind, code, group, text, at least, condition
PA_COLUMNS = 6

# Sources sheet: part, what, status, document number, date, page, source, missing, assumptions
SRC_COLUMNS = 9
STATUSES = ("official", "secondary", "assumption")


def area_word(area: str) -> str:
    return t(f"rw_area_{area}")


def status_word(status: str) -> str:
    return t(f"rw_status_{status}")


def yes_no_word(value: bool) -> str:
    return t("rw_yes" if value else "rw_no")


def word_to(words: dict[str, Any], typed: Any) -> Any:
    """The value of a chosen word (case and spacing ignored); KeyError if none matches."""
    return words[" ".join(str(typed).lower().split())]


def area_words() -> dict[str, str]:
    return {area_word(a).lower(): a for a in ("rural", "urban")}


def status_words() -> dict[str, str]:
    return {status_word(s).lower(): s for s in STATUSES}


def yes_no_words() -> dict[str, bool]:
    return {yes_no_word(True).lower(): True, yes_no_word(False).lower(): False}


def thresholds(expression: str) -> tuple[str, list[int | float]]:
    """The numbers written in a condition, taken out as [1], [2]... so an official edits
    them in plain cells: ('tuoi < [1]', [16]). Booleans stay in the text."""
    raw = expression.encode()
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        return expression, []
    spots = sorted((n.col_offset, n.end_col_offset, n.value) for n in ast.walk(tree)
                   if isinstance(n, ast.Constant) and isinstance(n.value, int | float)
                   and not isinstance(n.value, bool) and n.lineno == 1 and n.end_lineno == 1)
    out, values, last = b"", [], 0
    for start, end, value in spots:
        values.append(value)
        out += raw[last:start] + f"[{len(values)}]".encode()
        last = end or start
    return (out + raw[last:]).decode(), values


def fill(template: str, values: dict[int, int | float]) -> str:
    """The condition with its [n] replaced by the numbers typed (see `thresholds`)."""
    return PLACEHOLDER.sub(lambda m: number_text(values[int(m[1])]), template)


def number_text(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)
