"""Lạng Sơn's units in both the 200-commune and the 65-commune configurations."""

from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.datafile import DataFileError
from core.storage.db import Database
from core.storage.models import Unit
from core.units.loader import import_villages, load_units, read_units
from core.units.tree import commune_of


async def count(db: Database, config: str, level: str) -> int:
    async with db.transaction() as s:
        return await s.scalar(select(func.count()).select_from(Unit).where(
            Unit.configuration == config, Unit.level == level))


@pytest.mark.parametrize("config, districts, communes", [("200", 11, 200), ("194", 11, 194), ("65", 0, 65)])
async def test_each_configuration_loads_its_tree(db: Database, config: str, districts: int, communes: int) -> None:
    await db.migrate()
    async with db.transaction() as s:
        assert await load_units(s, config) == 1 + districts + communes
    async with db.transaction() as s:
        assert await load_units(s, config) == 0  # idempotent
    assert await count(db, config, "district") == districts
    assert await count(db, config, "commune") == communes
    async with db.transaction() as s:
        kinds = dict((await s.execute(select(Unit.kind, func.count()).where(
            Unit.configuration == config, Unit.level == "commune").group_by(Unit.kind))).all())
    if config == "65":
        assert kinds == {"Xã": 61, "Phường": 4}
    if config == "200":
        assert kinds == {"Xã": 181, "Phường": 5, "Thị trấn": 14}


async def test_villages_import_and_errors_name_the_row(db: Database, tmp_path: Path) -> None:
    await db.migrate()
    async with db.transaction() as s:
        await load_units(s, "65")
    good = tmp_path / "v.csv"
    good.write_text("commune_code,village_name\n6202,Thôn Nà Pàn\n6202,Thôn Khuổi Luông\n6202,Thôn Nà Pàn\n",
                    encoding="utf-8")
    async with db.transaction() as s:
        assert await import_villages(s, "65", good) == 2
        village = await s.scalar(select(Unit).where(Unit.name == "Thôn Nà Pàn"))
        commune = await commune_of(s, village)
        assert commune is not None and commune.name == "Xã Ba Sơn"
    bad = tmp_path / "bad.csv"
    bad.write_text("commune_code,village_name\n6202,Thôn A\n999999,Thôn B\n", encoding="utf-8")
    with pytest.raises(DataFileError) as info:
        async with db.transaction() as s:
            await import_villages(s, "65", bad)
    assert info.value.line == 3 and "999999" in str(info.value)


def test_bad_units_file_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_text("configuration,province_code,district_code,district_name,commune_code,commune_name,commune_type\n"
                    "x (65 units,20,,,6202,Xã Ba Sơn,Xã\nx (65 units,20,,,6203,Xã Lạ,Làng\n", encoding="utf-8")
    with pytest.raises(DataFileError) as info:
        read_units(path)
    assert info.value.line == 3


async def test_villages_from_excel_csv_utf8_with_bom_and_every_error_names_file_and_line(
    db: Database, tmp_path: Path
) -> None:
    await db.migrate()
    async with db.transaction() as s:
        await load_units(s, "65")
    excel = tmp_path / "excel.csv"
    excel.write_bytes("commune_code,village_name,households\r\n6202,Thôn Bản Chắt,87\r\n".encode("utf-8-sig"))
    async with db.transaction() as s:
        assert await import_villages(s, "65", excel) == 1
        village = await s.scalar(select(Unit).where(Unit.name == "Thôn Bản Chắt"))
        assert village is not None and village.households_total == 87
    cases = {
        "latin1.csv": ("commune_code,village_name\n6202,Thon A\n6202,Th\xf4n B\n".encode("latin-1"), 3, "UTF-8"),
        "short.csv": ("commune_code,village_name\n6202,Thôn A\n6202\n".encode(), 3, "village_name is empty"),
        "nul.csv": ("commune_code,village_name\n6202,Thôn A\n6202,Thôn\0B\n".encode(), 3, "NUL"),
        "long.csv": (f"commune_code,village_name\n6202,Thôn {'A' * 200}\n".encode(), 2, "200"),
        "header.csv": ("\ufeffma_xa,ten_thon\n6202,Thôn A\n".encode(), 1, "columns"),
    }
    for name, (content, line, words) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(DataFileError) as info:
            async with db.transaction() as s:
                await import_villages(s, "65", path)
        assert info.value.line == line and str(path) in str(info.value) and words in str(info.value), name


def test_every_bad_row_of_a_units_file_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_text("configuration,province_code,district_code,district_name,commune_code,commune_name,commune_type\n"
                    "x (65 units,20,,,62A2,Xã Ba Sơn,Xã\nx (65 units,20,,,6203,Xã Lạ,Làng\n"
                    "x (65 units,20,,,6204,Xã Khác,Xã\nx (66 units,20,,,6205,Xã Mới,Xã\n", encoding="utf-8")
    with pytest.raises(DataFileError) as info:
        read_units(path)
    assert [(e.path, e.line) for e in info.value.errors] == [(str(path), 2), (str(path), 3), (str(path), 5)]
    for words in ("commune_code '62A2' is not a number", "commune_type must be one of", "unknown configuration"):
        assert words in str(info.value)


async def test_every_bad_row_of_a_villages_file_is_reported_at_once(db: Database, tmp_path: Path) -> None:
    """Three bad rows in one error with their lines; the good rows are not kept either."""
    await db.migrate()
    async with db.transaction() as s:
        await load_units(s, "65")
    bad = tmp_path / "bad.csv"
    bad.write_text("commune_code,village_name,households\n999999,Thôn B,\n6202,Thôn Tốt,10\n6202,,\n"
                   "6202,Thôn C,mười\n", encoding="utf-8")
    with pytest.raises(DataFileError) as info:
        async with db.transaction() as s:
            await import_villages(s, "65", bad)
    assert [(e.path, e.line) for e in info.value.errors] == [(str(bad), 2), (str(bad), 4), (str(bad), 5)]
    for words in ("no commune with code 999999", "village_name is empty", "households must be a whole number"):
        assert words in str(info.value)
    async with db.transaction() as s:
        assert await s.scalar(select(Unit).where(Unit.name == "Thôn Tốt")) is None
