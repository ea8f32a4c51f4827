"""Reading one sheet of the rules workbook: typed values out of cells, and every error named
by sheet, row and column, collected (never raised) so the officer sees all of them at once."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from openpyxl.utils import get_column_letter

from core.chat.refs import day as parse_day
from core.i18n import t
from core.rules import layout as L

NUMBER = re.compile(r"^-?\d{1,3}([.,\s]\d{3})+$|^-?\d+$")
DECIMAL = re.compile(r"^-?\d+[.,]\d+$")


@dataclass(frozen=True)
class CellError:
    sheet: str | None  # None: the file itself (too big, not a workbook)
    row: int | None  # None: the sheet as a whole (missing)
    column: int | None
    message: str

    def __str__(self) -> str:
        if self.sheet is None:
            return t("rw_err_file", message=self.message)
        if self.row is None:
            return t("rw_err_sheet", sheet=self.sheet, message=self.message)
        column = get_column_letter(self.column) if self.column else "-"
        return t("rw_err_cell", sheet=self.sheet, row=self.row, column=column, message=self.message)


class WorkbookRefused(Exception):
    """The whole file is refused; `errors` names every bad cell."""

    def __init__(self, errors: list[CellError]) -> None:
        super().__init__(f"{len(errors)} errors")
        self.errors = errors


@dataclass
class Sheet:
    name: str
    cells: dict[tuple[int, int], Any]
    errors: list[CellError]
    max_row: int = 0
    max_col: int = 0
    formulas: set[tuple[int, int]] = field(default_factory=set)  # read as empty, refused once

    def raw(self, row: int, col: int) -> Any:
        value = self.cells.get((row, col))
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    def bad(self, at_row: int | None, at_col: int | None, key: str, **params: Any) -> None:
        if (at_row, at_col) in self.formulas:
            return  # said once already: the cell holds a formula
        self.errors.append(CellError(self.name, at_row, at_col, t(key, **params)))

    def empty_row(self, row: int) -> bool:
        return all(self.raw(row, c) is None for c in range(1, self.max_col + 1))

    def text(self, row: int, col: int, required: bool = True) -> str | None:
        value = self.raw(row, col)
        if value is None:
            if required:
                self.bad(row, col, "rw_err_required")
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return " ".join(str(value).split()) if not isinstance(value, str) else value

    def number(self, row: int, col: int, kind: str | None, required: bool = True,
               decimals: bool = False) -> int | float | None:
        """A number typed as a number (or as digits, with dots grouping thousands); refused
        when it is text, negative, or outside the bounds of `kind` (layout.BOUNDS)."""
        value = self.raw(row, col)
        if value is None:
            if required:
                self.bad(row, col, "rw_err_required")
            return None
        if isinstance(value, bool | datetime | date):
            self.bad(row, col, "rw_err_not_number", value=value)
            return None
        if isinstance(value, str):
            if NUMBER.match(value):
                value = int(re.sub(r"[.,\s]", "", value))
            elif decimals and DECIMAL.match(value):
                value = float(value.replace(",", "."))
            else:
                self.bad(row, col, "rw_err_not_number", value=value)
                return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, float) and not decimals:
            self.bad(row, col, "rw_err_not_whole", value=value)
            return None
        if value < 0:
            self.bad(row, col, "rw_err_negative", value=value)
            return None
        if kind is not None:
            low, high = L.BOUNDS[kind]
            if not low <= value <= high:
                self.bad(row, col, "rw_err_absurd", value=value, low=f"{low:,}".replace(",", "."),
                         high=f"{high:,}".replace(",", "."))
                return None
        return value

    def word(self, row: int, col: int, words: dict[str, Any], required: bool = True) -> Any:
        value = self.raw(row, col)
        if value is None:
            if required:
                self.bad(row, col, "rw_err_required")
            return None
        try:
            return L.word_to(words, value)
        except KeyError:
            self.bad(row, col, "rw_err_word", value=value, words=", ".join(words))
            return None

    def day(self, row: int, col: int) -> str | None:
        """A date as dd/mm/yyyy (typed as text or as an Excel date)."""
        value = self.raw(row, col)
        if value is None:
            return None
        if isinstance(value, datetime | date):
            return value.strftime("%d/%m/%Y")
        parsed = parse_day(str(value))
        if parsed is None:
            self.bad(row, col, "rw_err_date", value=value)
            return None
        return parsed.strftime("%d/%m/%Y")
