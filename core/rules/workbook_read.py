"""`rasoat rules import FILE` and the province's upload in chat: a filled rules workbook read
back into content, or refused whole with every error named by sheet, row and column.

The file is checked before any library parses it: its size, then the zip's member count,
total uncompressed size and compression ratio (a zip bomb is refused without inflating it).
Formula cells are refused (their value would be whatever the officer's Excel last computed).
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from core.classification.pack import RulePack
from core.datafile import DataFileError
from core.i18n import t
from core.rules import layout as L
from core.rules import sheets as S
from core.rules.cells import CellError, Sheet, WorkbookRefused
from core.rules.content import build_pack
from core.surveys.model import Survey

MIB = 1024 * 1024
MAX_FILE_BYTES = 5 * MIB  # a filled workbook is some 20 KB
MAX_UNZIPPED = 40 * MIB
MAX_RATIO = 100  # uncompressed / compressed, for members over 1 MiB
MAX_MEMBERS = 300
MAX_ROWS, MAX_COLS = 2000, 60


@dataclass(frozen=True)
class Current:
    """What a workbook for one pack is read against: the content in force and the B1 table
    whose questions and regions the B1 sheet must have."""

    content: dict[str, Any]
    b1_template: dict[str, Any]
    version: int


@dataclass(frozen=True)
class Reading:
    pack_id: str
    content: dict[str, Any]
    file_sha256: str
    pack: RulePack  # the content built and checked by the loaders


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_errors(path: Path) -> list[CellError]:
    """Size and zip checks, before openpyxl opens the file."""
    def refuse(key: str, **params: Any) -> list[CellError]:
        return [CellError(None, None, None, t(key, **params))]

    try:
        size = path.stat().st_size
    except OSError:
        return refuse("rw_err_unreadable")
    if size > MAX_FILE_BYTES:
        return refuse("rw_err_too_big", mb=f"{size / MIB:.1f}", max=MAX_FILE_BYTES // MIB)
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError):
        return refuse("rw_err_not_xlsx")
    if len(members) > MAX_MEMBERS:
        return refuse("rw_err_zip", detail=t("rw_zip_members", n=len(members)))
    total = sum(m.file_size for m in members)
    if total > MAX_UNZIPPED:
        return refuse("rw_err_zip", detail=t("rw_zip_total", mb=total // MIB, max=MAX_UNZIPPED // MIB))
    for m in members:
        if m.file_size > MIB and m.file_size > MAX_RATIO * max(m.compress_size, 1):
            return refuse("rw_err_zip", detail=t("rw_zip_ratio", name=m.filename[:60],
                                                  ratio=m.file_size // max(m.compress_size, 1)))
    return []


def load_sheets(path: Path, errors: list[CellError]) -> dict[str, Sheet]:
    """Every sheet's cells (bounded), formula cells and unknown or missing sheets named."""
    try:
        wb = load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        errors.append(CellError(None, None, None, t("rw_err_not_xlsx_detail", error=type(exc).__name__)))
        return {}
    names = {L.sheet_name(k): k for k in L.SHEETS}
    found: dict[str, Sheet] = {}
    try:
        for ws in wb.worksheets:
            key = names.get(ws.title.strip())
            if key is None:
                errors.append(CellError(ws.title, None, None, t("rw_err_unknown_sheet", sheets=", ".join(names))))
                continue
            if key in found:
                continue
            sheet = Sheet(ws.title, {}, errors)
            for r, row in enumerate(ws.iter_rows(max_row=MAX_ROWS + 1, max_col=MAX_COLS + 1), start=1):
                for c, cell in enumerate(row, start=1):
                    value = getattr(cell, "value", None)
                    if value is None or value == "":
                        continue
                    if r > MAX_ROWS or c > MAX_COLS:
                        sheet.bad(r, c, "rw_err_too_large", rows=MAX_ROWS, cols=MAX_COLS)
                        continue
                    if getattr(cell, "data_type", None) == "f":
                        sheet.bad(r, c, "rw_err_formula", value=str(value)[:40])
                        sheet.formulas.add((r, c))
                        continue
                    sheet.cells[(r, c)] = value
                    sheet.max_row, sheet.max_col = max(sheet.max_row, r), max(sheet.max_col, c)
            found[key] = sheet
    finally:
        wb.close()
    for key in L.SHEETS:
        if key not in found and key != "guide":
            errors.append(CellError(L.sheet_name(key), None, None, t("rw_err_sheet_missing")))
    return found


def read_workbook(path: Path, current: dict[str, Current], forms: dict[str, Survey], phieu_a_form: Survey,
                  others: list[RulePack]) -> Reading:
    """The workbook's content, checked cell by cell and then by the loaders; raises
    WorkbookRefused with every error. `current`: pack id -> what is in force."""
    errors = file_errors(path)
    if errors:
        raise WorkbookRefused(errors)
    sha = file_sha256(path)
    sheets = load_sheets(path, errors)
    if any(e.row is None for e in errors):  # a missing or unknown sheet: the cells cannot be placed
        raise WorkbookRefused(errors)
    general = sheets["general"]
    pack, b1_meta, rows = S.general(general, set(current))
    now = current.get(pack["id"] or "")
    if now is None:
        raise WorkbookRefused(errors)
    poverty = [f for f in forms.values() if f.purpose == "poverty"]
    b1 = S.b1(sheets["b1"], forms[now.b1_template["form"]], now.b1_template)
    indicators, params = S.indicators(sheets["indicators"], poverty)
    rule = S.phieu_a(sheets["phieu_a"], phieu_a_form, now.content["phieu_a"]["id"])
    sources = S.sources(sheets["sources"])
    pack["indicators"], pack["params"] = indicators, params
    _across(general, rows, pack, b1, b1_meta, [p for p in others if p.id != pack["id"]])
    if errors:
        raise WorkbookRefused(errors)
    if b1 is not None:
        b1["id"], b1["title"] = b1_meta["id"], b1_meta["title"]
    content = {"pack": pack, "b1": b1, "phieu_a": rule, "sources": sources}
    try:
        built = build_pack(content, f"workbook:{sha[:16]}", forms, phieu_a_form)
    except DataFileError as exc:  # what the cell checks above let through, said as the loaders say it
        raise WorkbookRefused([CellError(general.name, None, None, t("rw_err_loader", detail=one.detail))
                               for one in exc.errors]) from exc
    return Reading(pack["id"], content, sha, built)


def _across(sheet: Sheet, rows: dict[str, int], pack: dict[str, Any], b1: dict[str, Any] | None,
            b1_meta: dict[str, Any], others: list[RulePack]) -> None:
    """Checks between sheets, reported at the general sheet's cell they concern."""
    least = pack.get("poor_min_deprived")
    if least is not None and "poor_min_deprived" in rows and least > len(pack["indicators"]):
        sheet.bad(rows["poor_min_deprived"], 3, "rw_err_min_deprived", n=len(pack["indicators"]))
    if b1 is not None:
        if pack["b1_line"] is None and "b1_line.rural" in rows:
            sheet.bad(rows["b1_line.rural"], 3, "rw_err_b1_line_needed")
        for key in ("id", "title"):
            if not b1_meta[key] and f"b1.{key}" in rows:
                sheet.bad(rows[f"b1.{key}"], 3, "rw_err_required")
        if b1_meta["id"] and not S.ID.match(b1_meta["id"]):
            sheet.bad(rows["b1.id"], 3, "rw_err_bad_id", value=b1_meta["id"])
    start, end = pack["years"]["from"], pack["years"]["to"]
    if start is not None and end is not None and "years.from" in rows:
        for other in others:
            if start <= other.year_to and other.year_from <= end:
                sheet.bad(rows["years.from"], 3, "rw_err_years_overlap", pack=other.name,
                          start=other.year_from, end=other.year_to)
