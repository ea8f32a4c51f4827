"""The rows of last year's list as read from the file, before any database work.

The columns of the project's own exports (`ds_ngheo`, `ds_can_ngheo`, core/reports/lists.yaml)
are read as they are, with an optional "Số CCCD chủ hộ" column; another layout is described by
a mapping file. `parse_file` is plain, blocking work with no database: the caller runs it in a
thread (core/procedure/import_file.py says why and within which limits).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl.utils import get_column_letter

from core.datafile import DataFileError, check_keys, line_of, load_mapping
from core.i18n import t
from core.procedure.import_file import LIMITS, FileRefused, ImportLimits, Table, read_tables
from core.text import fold
from core.units.names import village_key

FIELDS = ("head_name", "village", "id_number", "ethnicity", "members", "prior_class")
REQUIRED = ("head_name", "village")
DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "head_name": ("Họ và tên chủ hộ", "Họ tên chủ hộ", "Chủ hộ"),
    "village": ("Thôn", "Thôn, bản", "Thôn/bản", "Thôn, tổ dân phố"),
    "id_number": ("Số CCCD chủ hộ", "Số CCCD", "CCCD", "Số định danh cá nhân"),
    "ethnicity": ("Dân tộc",),
    "members": ("Số thành viên", "Số nhân khẩu"),
    "prior_class": ("Kết quả rà soát", "Phân loại hộ", "Diện hộ"),
}
DEFAULT_CLASSES = {"ho ngheo": "poor", "ngheo": "poor", "ho can ngheo": "near_poor", "can ngheo": "near_poor"}
SHEET_CLASS = {"ds_ngheo": "poor", "ds_can_ngheo": "near_poor"}  # the project's own exports
# A sheet of members (the project's own ds_bhyt export, or any sheet with these headers): one row
# per member, tied to its household by the head's name and village (and ID number when given).
MEMBER_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("Họ và tên", "Họ tên", "Họ và tên thành viên"),
    "relation": ("Quan hệ với chủ hộ", "Quan hệ"),
    "gender": ("Giới tính",),
    "born": ("Năm sinh",),
    "member_id": ("Số CCCD thành viên", "CCCD thành viên", "Số định danh thành viên"),
}
MEMBER_QUESTIONS = {"name": "ho_ten", "relation": "quan_he", "gender": "gioi_tinh", "born": "nam_sinh",
                    "member_id": "cccd"}
HEAD_WORDS = ("chu ho",)  # the relation that marks the head's own row
NUMBER_HEADERS = ("tt", "stt", "so tt")
HEADER_SCAN = 30


@dataclass(frozen=True)
class Mapping:
    """Which header names which field; which words are which class; which sheet."""

    columns: dict[str, tuple[str, ...]]
    classes: dict[str, str]
    sheet: str | None = None
    default_class: str | None = None


DEFAULT = Mapping(DEFAULT_COLUMNS, DEFAULT_CLASSES)


def load_import_mapping(path: str | Path) -> Mapping:
    """A YAML file: `columns: {head_name: "Tên chủ hộ", ...}`, optional `classes: {"Nghèo": poor}`,
    `sheet:` and `class:` (the class of every row when the file has no class column)."""
    doc = load_mapping(path, {"sheet", "columns", "classes", "class"}, "an import mapping")
    columns = doc.get("columns") or {}
    if not isinstance(columns, dict):
        raise DataFileError(path, line_of(doc), "columns must map a field to a header")
    check_keys(columns, set(FIELDS), path)
    merged = dict(DEFAULT_COLUMNS)
    for key, value in columns.items():
        merged[key] = tuple(value) if isinstance(value, list) else (str(value),)
    classes = dict(DEFAULT_CLASSES)
    for word, cls in (doc.get("classes") or {}).items():
        if cls not in ("poor", "near_poor"):
            raise DataFileError(path, line_of(doc), f"class of {word!r} must be poor or near_poor")
        classes[fold(str(word))] = cls
    default = doc.get("class")
    if default is not None and default not in ("poor", "near_poor"):
        raise DataFileError(path, line_of(doc), "class must be poor or near_poor")
    return Mapping(merged, classes, doc.get("sheet"), default)


@dataclass(frozen=True)
class RowError:
    sheet: str | None  # None: a CSV file, which has no sheets
    row: int
    column: str  # letter and header, e.g. "C (Thôn)"
    message: str

    def __str__(self) -> str:
        if self.sheet is None:
            return t("im_error_line_csv", row=self.row, column=self.column, message=self.message)
        return t("imp_error_line", sheet=self.sheet, row=self.row, column=self.column, message=self.message)


@dataclass
class ImportRow:
    sheet: str | None
    row: int
    values: dict[str, str]
    labels: dict[str, str]  # field -> "C (Thôn)"
    village: Any = None  # the Unit, once checked
    answers: dict[str, Any] = field(default_factory=dict)
    listed_class: str | None = None


@dataclass
class MemberRow:
    sheet: str | None
    row: int
    household: tuple[str, str, str]  # folded (village, head's name, head's ID number or "")
    values: dict[str, str]
    labels: dict[str, str]


class ImportFailed(Exception):
    """Nothing imported: the file as a whole was refused (`refused`), or these rows are bad."""

    def __init__(self, errors: list[RowError], refused: str | None = None) -> None:
        super().__init__(refused or f"{len(errors)} errors")
        self.errors = errors
        self.refused = refused

    def __reduce__(self) -> tuple[Any, ...]:  # it comes back from the report process
        return ImportFailed, (self.errors, self.refused)

    @property
    def rows(self) -> int:
        """How many rows have an error (a row may have several)."""
        return len({(e.sheet, e.row) for e in self.errors})


@dataclass
class Parsed:
    rows: list[ImportRow]
    members: list[MemberRow]


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _find_header(table: Table, wanted: dict[str, set[str]], required: tuple[str, ...]
                 ) -> tuple[int, tuple[Any, ...], dict[str, int], int | None] | None:
    """The header row (its number and values), the column of each field, and the row-number
    column (if any)."""
    for r, row in table.rows:
        if r > HEADER_SCAN:
            break
        found: dict[str, int] = {}
        number = None
        for c, value in enumerate(row, 1):
            text = fold(cell(value))
            if text in NUMBER_HEADERS and number is None:
                number = c
            for f, heads in wanted.items():
                if text in heads and f not in found:
                    found[f] = c
        if all(f in found for f in required):
            return r, row, found, number
    return None


def _wanted(columns: dict[str, tuple[str, ...]]) -> dict[str, set[str]]:
    return {f: {fold(h) for h in heads} for f, heads in columns.items()}


MEMBER_WANTED = _wanted({**MEMBER_COLUMNS, **{f: DEFAULT_COLUMNS[f] for f in ("head_name", "village", "id_number")}})
MEMBER_REQUIRED = ("name", "relation", "head_name", "village")


def _labels(header: tuple[Any, ...], cols: dict[str, int]) -> dict[str, str]:
    return {f: f"{get_column_letter(c)} ({cell(header[c - 1])})" for f, c in cols.items()}


def _cells(raw: tuple[Any, ...], cols: dict[str, int]) -> dict[str, str]:
    return {f: cell(raw[c - 1]) if c - 1 < len(raw) else "" for f, c in cols.items()}


def _body(table: Table, head: tuple[int, tuple[Any, ...], dict[str, int], int | None]
          ) -> Iterator[tuple[int, Any, dict[str, str]]]:
    """The rows under a found header: row number, raw cells, and the wanted cells by name."""
    top, _header, cols, _number = head
    for r, raw in table.rows:
        if r > top:
            yield r, raw, _cells(raw, cols)


def read_members(tables: list[Table]) -> list[MemberRow]:
    """Member rows of every members sheet in the workbook (none: the list has counts only)."""
    members: list[MemberRow] = []
    for table in tables:
        head = _find_header(table, MEMBER_WANTED, MEMBER_REQUIRED)
        if head is None:
            continue
        labels = _labels(head[1], head[2])
        for r, _raw, cells in _body(table, head):
            if not cells["name"] or not cells["head_name"]:
                continue  # count line, signature, notes under the table
            key = (village_key(cells["village"]), fold(cells["head_name"]), cells.get("id_number", "").replace(" ", ""))
            members.append(MemberRow(table.title, r, key, cells, labels))
    return members


def read_rows(tables: list[Table], mapping: Mapping = DEFAULT) -> list[ImportRow]:
    """The household rows of every list sheet (members sheets are read by read_members)."""
    rows: list[ImportRow] = []
    chosen = [x for x in tables if x.title == mapping.sheet] if mapping.sheet else []
    wanted = _wanted(mapping.columns)
    for table in chosen or tables:
        if _find_header(table, MEMBER_WANTED, MEMBER_REQUIRED) is not None:
            continue
        head = _find_header(table, wanted, REQUIRED)
        if head is None:
            continue
        number, labels = head[3], _labels(head[1], head[2])
        for r, raw, cells in _body(table, head):
            if number is not None:
                if not (cell(raw[number - 1]) if number - 1 < len(raw) else "").isdigit():
                    continue  # count line, signature, notes under the table
            elif not any(cells.values()):
                continue
            item = ImportRow(table.title, r, cells, labels)
            item.listed_class = SHEET_CLASS.get(table.title or "") or mapping.default_class
            rows.append(item)
    if not rows:
        heads = ", ".join(mapping.columns["head_name"][:1] + mapping.columns["village"][:1])
        raise FileRefused(t("imp_err_no_header", columns=heads))
    return rows


def parse_file(path: Path, name: str, mapping: Mapping = DEFAULT, limits: ImportLimits = LIMITS) -> Parsed:
    """The whole file read (blocking: run it in a thread); ImportFailed when it is refused."""
    try:
        tables = read_tables(path, name, limits)
        return Parsed(read_rows(tables, mapping), read_members(tables))
    except FileRefused as refused:
        raise ImportFailed([], refused.message) from refused
