"""Reading an import file into plain tables, within limits, away from the event loop.

A list comes as an Excel workbook (.xlsx) or a CSV file saved as UTF-8 (with or without the BOM
Excel writes for «CSV UTF-8»); anything else is refused with a message naming those two. The
file is read whole by `read_tables`, a plain function the caller runs in a thread
(`asyncio.to_thread`), so a large file never stalls the chat, and every limit is checked before
the work it bounds (issue 26 item 4; figures in bench/imports.py, docs/procedure.md):

- the file's size, before anything is opened;
- for a workbook, the unpacked size of the whole zip and the compression ratio of each large
  member, from the zip's directory, before a byte is inflated (a zip bomb). Python's zipfile
  never inflates a member past the size its directory declares (it stops and the CRC check
  fails), so a directory that lies cannot get past this either;
- the number of rows with something in them, while reading (a row is counted once it is
  read, so reading stops at the first row over the limit);
- the number of columns read from each row (a cell far to the right would widen every row).
"""

from __future__ import annotations

import csv
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from core.i18n import t

MB = 1024 * 1024
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # Excel 97-2003 (.xls)
CSV_DELIMITERS = ",;\t"  # Excel writes ';' where the list separator is ',' (Vietnamese decimals)
RATIO_FLOOR = 1 * MB  # members smaller than this are not ratio-checked (tiny XML parts vary a lot)


@dataclass(frozen=True)
class ImportLimits:
    """Defaults sized for a commune's list with its members sheet (a few thousand households,
    four members each) with a wide margin; measured in bench/imports.py."""

    max_bytes: int = 10 * MB
    max_rows: int = 20_000  # rows with any value, every sheet counted
    max_unpacked: int = 50 * MB  # a workbook's members, inflated, all together
    max_ratio: int = 100  # inflated / packed size of any member over RATIO_FLOOR
    max_columns: int = 60  # columns read from each row


LIMITS = ImportLimits()


class FileRefused(Exception):
    """The file as a whole cannot be read (format, size, limits): one message, no row."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Table:
    """One sheet (or the CSV file: no title): its rows with something in them, by row number."""

    title: str | None
    rows: list[tuple[int, tuple[Any, ...]]] = field(default_factory=list)


def read_tables(path: Path, name: str, limits: ImportLimits = LIMITS) -> list[Table]:
    """Every table of the file `name` (the user's name for it: its extension is believed only
    for CSV, a workbook is recognised by its content)."""
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise FileRefused(t("im_err_too_big", size=_size(size), max=_size(limits.max_bytes)))
    with path.open("rb") as fh:
        head = fh.read(8)
    if head.startswith(ZIP_MAGIC):
        _check_zip(path, limits)
        return _workbook(path, limits)
    if head.startswith(OLE_MAGIC):
        raise FileRefused(t("im_err_xls"))
    if name.lower().endswith(".csv"):
        return [_csv(path, limits)]
    raise FileRefused(t("im_err_format"))


def _size(n: int) -> str:
    """A size as Vietnamese write it (decimal comma), in KB below a megabyte."""
    return f"{n / 1024:.0f} KB" if n < MB else f"{n / MB:.1f} MB".replace(".", ",")


def _check_zip(path: Path, limits: ImportLimits) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise FileRefused(t("im_err_not_xlsx")) from exc
    unpacked = sum(m.file_size for m in members)
    if unpacked > limits.max_unpacked:
        raise FileRefused(t("im_err_unpacked", size=_size(unpacked), max=_size(limits.max_unpacked)))
    for m in members:
        if m.file_size > RATIO_FLOOR and m.file_size > limits.max_ratio * max(m.compress_size, 1):
            raise FileRefused(t("im_err_ratio", ratio=m.file_size // max(m.compress_size, 1), max=limits.max_ratio))


class _Counter:
    def __init__(self, limits: ImportLimits) -> None:
        self.limits = limits
        self.rows = 0

    def keep(self, values: tuple[Any, ...]) -> bool:
        """Whether the row has anything in it (and is counted); refuses the file past the limit."""
        if all(v is None or v == "" for v in values):
            return False
        self.rows += 1
        if self.rows > self.limits.max_rows:
            raise FileRefused(t("im_err_rows", max=f"{self.limits.max_rows:,}".replace(",", ".")))
        return True


def _workbook(path: Path, limits: ImportLimits) -> list[Table]:
    counter = _Counter(limits)
    tables = []
    try:
        with path.open("rb") as fh:  # a file object: openpyxl would refuse a name not ending in .xlsx
            wb = load_workbook(fh, read_only=True, data_only=True)
            try:
                for ws in wb.worksheets:
                    table = Table(ws.title)
                    if not hasattr(ws, "iter_rows"):  # a chart sheet
                        continue
                    for r, values in enumerate(ws.iter_rows(max_col=limits.max_columns, values_only=True), 1):
                        if counter.keep(values):
                            table.rows.append((r, tuple(values)))
                    tables.append(table)
            finally:
                wb.close()
    except FileRefused:
        raise
    except Exception as exc:  # openpyxl raises many kinds for a zip that is not a workbook
        raise FileRefused(t("im_err_not_xlsx")) from exc
    return tables


def _csv(path: Path, limits: ImportLimits) -> Table:
    """Read as a stream (a file at the size limit is never held whole, nor decoded whole)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            try:
                dialect: Any = csv.Sniffer().sniff(fh.read(65536), delimiters=CSV_DELIMITERS)
            except csv.Error:
                dialect = csv.excel
            fh.seek(0)
            return _csv_rows(csv.reader(fh, dialect), limits)
    except UnicodeDecodeError as exc:
        raise FileRefused(t("im_err_csv_encoding")) from exc


def _csv_rows(reader: Any, limits: ImportLimits) -> Table:
    counter = _Counter(limits)
    table = Table(None)
    r = 0
    try:
        for r, values in enumerate(reader, 1):  # a record is one row in Excel, whatever its line breaks
            row = tuple(values[:limits.max_columns])
            if counter.keep(row):
                table.rows.append((r, row))
    except csv.Error as exc:
        raise FileRefused(t("im_err_csv", row=r + 1, error=str(exc))) from exc
    return table
