"""Lạng Sơn's administrative units from the GSO-coded CSV (reference §5.1).

Three configurations coexist in the file: 200 communes under 11 districts (2020-01 to 2024-11),
194 communes (2024-12 to 2025-06) and 65 communes with no district level (from 2025-07-01).
Each is loaded as its own tree, so a review of an earlier year keeps the units it used.
Villages are not in the file; they come from `rasoat units villages FILE.csv` or are added
by officials.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.datafile import DataFileError, Errors
from core.storage.models import Unit

UNITS_CSV = Path(__file__).parent / "lang_son_units.csv"
CONFIGURATIONS = {"200": "(200 units)", "194": "(194 units)", "65": "(65 units"}
COMMUNE_KINDS = {"Xã", "Phường", "Thị trấn"}
PROVINCE_NAME = "Tỉnh Lạng Sơn"


@dataclass(frozen=True)
class CommuneRow:
    configuration: str
    province_code: str
    district_code: str | None
    district_name: str | None
    code: str
    name: str
    kind: str
    line: int


NAME_MAX = 200  # units.name


def csv_rows(path: Path, need: set[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) of a CSV as officials save it: UTF-8 with or without the BOM Excel writes
    for "CSV UTF-8", missing cells as "" and every error naming the file and line."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataFileError(path, None, f"cannot read the file: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise DataFileError(path, line, "not UTF-8 text: in Excel save as 'CSV UTF-8'") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
        reader.fieldnames = header
        if not need <= set(header):
            raise DataFileError(path, 1, f"columns must include {', '.join(sorted(need))}")
        for raw in reader:
            yield reader.line_num, {k: (v or "").strip() for k, v in raw.items() if k is not None}
    except csv.Error as exc:
        raise DataFileError(path, reader.line_num, f"not a valid CSV line: {exc}") from None


def read_units(path: Path = UNITS_CSV) -> list[CommuneRow]:
    """Every commune row; one DataFileError lists every bad row (and every bad cell of a row)."""
    errors = Errors()
    rows: list[CommuneRow] = []
    need = {"configuration", "province_code", "district_code", "district_name",
            "commune_code", "commune_name", "commune_type"}
    with errors.catch():  # a file that is not a CSV stops here, after the rows it could read
        for line, raw in csv_rows(path, need):
            row = _commune_row(path, line, raw, errors)
            if row is not None:
                rows.append(row)
    errors.raise_any()
    return rows


def _commune_row(path: Path, line: int, raw: dict[str, str], errors: Errors) -> CommuneRow | None:
    before = len(errors.found)
    config = next((k for k, marker in CONFIGURATIONS.items() if marker in raw["configuration"]), None)
    if config is None:
        errors.add(DataFileError(path, line, f"unknown configuration {raw['configuration']!r}"))
    if raw["commune_type"] not in COMMUNE_KINDS:
        errors.add(DataFileError(path, line, f"commune_type must be one of {sorted(COMMUNE_KINDS)}"))
    if not raw["commune_code"].isdigit():
        errors.add(DataFileError(path, line, f"commune_code {raw['commune_code']!r} is not a number"))
    if len(errors.found) > before or config is None:
        return None
    return CommuneRow(
        configuration=config,
        province_code=raw["province_code"],
        district_code=raw["district_code"] or None,
        district_name=raw["district_name"] or None,
        code=raw["commune_code"],
        name=raw["commune_name"],
        kind=raw["commune_type"],
        line=line,
    )


async def load_units(session: AsyncSession, configuration: str, path: Path = UNITS_CSV) -> int:
    """Insert the province, districts and communes of one configuration; existing ones are kept.
    Returns how many units were added."""
    if configuration not in CONFIGURATIONS:
        raise ValueError(f"unknown units configuration {configuration!r}; use one of {sorted(CONFIGURATIONS)}")
    rows = [r for r in read_units(path) if r.configuration == configuration]
    existing = {
        (u.level, u.code): u
        for u in (await session.scalars(select(Unit).where(Unit.configuration == configuration))).all()
    }
    added = 0

    async def ensure(level: str, code: str, name: str, kind: str, parent: Unit | None) -> Unit:
        nonlocal added
        unit = existing.get((level, code))
        if unit is None:
            unit = Unit(configuration=configuration, level=level, code=code, name=name, kind=kind,
                        parent_id=parent.id if parent else None)
            session.add(unit)
            await session.flush()
            existing[(level, code)] = unit
            added += 1
        return unit

    province = await ensure("province", rows[0].province_code, PROVINCE_NAME, "Tỉnh", None)
    for row in rows:
        parent = province
        if row.district_code:
            kind = "Thành phố" if row.district_name and row.district_name.startswith("Thành phố") else "Huyện"
            parent = await ensure("district", row.district_code, row.district_name or row.district_code, kind, province)
        await ensure("commune", row.code, row.name, row.kind, parent)
    return added


async def add_village(session: AsyncSession, commune: Unit, name: str, kind: str = "Thôn") -> Unit:
    """The village of that name under the commune, created if new."""
    found = await session.scalar(
        select(Unit).where(Unit.parent_id == commune.id, Unit.level == "village", Unit.name == name)
    )
    if found is not None:
        return found
    village = Unit(configuration=commune.configuration, level="village", code=None, name=name,
                   kind=kind, parent_id=commune.id)
    session.add(village)
    await session.flush()
    return village


async def import_villages(session: AsyncSession, configuration: str, path: Path) -> int:
    """Villages from a CSV with columns commune_code, village_name[, kind][, households]. Every bad
    row is reported at once, in one DataFileError; the caller's transaction then keeps none."""
    errors = Errors()
    added = 0
    with errors.catch():  # a file that is not a CSV stops here, after the rows it could read
        for line, raw in csv_rows(path, {"commune_code", "village_name"}):
            with errors.catch():
                added += await _import_village(session, configuration, path, line, raw)
    errors.raise_any()
    return added


async def _import_village(session: AsyncSession, configuration: str, path: Path, line: int,
                          raw: dict[str, str]) -> bool:
    """One row; True when its village is new."""
    commune = await session.scalar(select(Unit).where(
        Unit.configuration == configuration, Unit.level == "commune", Unit.code == raw["commune_code"]))
    if commune is None:
        raise DataFileError(path, line, f"no commune with code {raw['commune_code']} in configuration {configuration}")
    name = (raw["village_name"] or "").strip()
    if not name:
        raise DataFileError(path, line, "village_name is empty")
    if len(name) > NAME_MAX or "\x00" in name:
        raise DataFileError(path, line, f"village_name must be at most {NAME_MAX} characters, without NUL")
    total = (raw.get("households") or "").strip()
    if total and not total.isdigit():
        raise DataFileError(path, line, f"households must be a whole number, got {total!r}")
    before = await session.scalar(select(Unit.id).where(
        Unit.parent_id == commune.id, Unit.level == "village", Unit.name == name))
    village = await add_village(session, commune, name, (raw.get("kind") or "Thôn").strip())
    if total:
        village.households_total = int(total)
    return before is None
