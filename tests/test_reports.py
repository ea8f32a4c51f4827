"""Report workbooks opened with openpyxl and checked against counts made independently from
the generated households; lists, charts, progress, and the chat and CLI routes to them."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from bench.dataset import Generated, seed
from core.datafiles import DataFiles
from core.reports.build import Catalogue, build_report, progress
from core.reports.query import aggregate
from core.storage.db import Database
from core.storage.models import Household, Unit


@pytest.fixture
async def province(db: Database) -> list[Generated]:
    return await seed(db, households=1500, config="200", villages_per_commune=2)


async def unit(db: Database, level: str, code: str | None = None) -> Unit:
    async with db.read() as s:
        query = select(Unit).where(Unit.configuration == "200", Unit.level == level)
        if code:
            query = query.where(Unit.code == code)
        return (await s.scalars(query.order_by(Unit.id).limit(1))).one()


def cell_texts(ws) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(c.value) for row in ws.iter_rows() for c in row if c.value is not None]


def total_row(ws) -> list:  # type: ignore[no-untyped-def]
    for row in ws.iter_rows(values_only=True):
        if row[1] in ("Tổng cộng", "Tổng cộng (I + II)"):
            return list(row)
    raise AssertionError("no total row")


async def test_7_1_for_a_district_matches_an_independent_count(
    db: Database, province: list[Generated], data: DataFiles, tmp_path: Path
) -> None:
    district = await unit(db, "district", "180")  # Huyện Tràng Định
    async with db.read() as s:
        files = await build_report(s, data.reports, "7.1", district, 2026, tmp_path, data.forms)
    xlsx, png = files
    assert png.suffix == ".png" and png.stat().st_size > 5000
    ws = load_workbook(xlsx).active
    texts = cell_texts(ws)
    for expected in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Biểu mẫu số 7.1", "Tổng số hộ dân cư", "Hộ nghèo",
                     "Hộ cận nghèo", "Tỷ lệ (%)", "Khẩu nghèo", "Đơn vị: Huyện Tràng Định", "NGƯỜI LẬP BIỂU",
                     "Năm rà soát: 2026 · Số liệu sơ bộ (chưa có quyết định công nhận)", "Khu vực thành thị",
                     "Khu vực nông thôn", "4=3/1*100"):
        assert expected in texts, expected
    mine = [g for g in province if g.district_id == district.id]
    outcomes = Counter(g.outcome for g in mine)
    poor_persons = sum(g.members for g in mine if g.outcome == "poor")
    total = total_row(ws)
    # columns: STT, unit, households, persons (blank), poor, %, near-poor, %, average, %, poor persons, %, ...
    assert total[0] == "III" and total[3] == "-"
    assert (total[4], total[6], total[8], total[10]) == (outcomes["poor"], outcomes["near_poor"],
                                                         outcomes["average"], poor_persons)
    async with db.read() as s:
        resident = await s.scalar(select(func.sum(Unit.households_total)).where(
            Unit.level == "village", Unit.parent_id.in_(select(Unit.id).where(Unit.parent_id == district.id))))
    assert total[2] == resident
    assert total[5] == pytest.approx(round(100 * outcomes["poor"] / resident, 2))
    # one row per commune of the district (22 in Tràng Định before the 2024 merger), all communes listed
    data_rows = [r for r in ws.iter_rows(values_only=True) if isinstance(r[0], int)]
    assert len(data_rows) == 22 and sum(r[4] for r in data_rows) == outcomes["poor"]
    # merged, printable layout
    merged = {str(m) for m in ws.merged_cells.ranges}
    header_row = next(r for r in range(1, 20) if ws.cell(r, 1).value == "STT")
    assert any(m.startswith(f"E{header_row}:") for m in merged)  # "Hộ nghèo" spans its three columns
    assert ws.page_setup.orientation == "landscape" and int(ws.page_setup.paperSize) == int(ws.PAPERSIZE_A4)
    assert ws.print_title_rows and str(header_row) in ws.print_title_rows
    assert ws.cell(header_row, 1).font.name == "Times New Roman"


@pytest.mark.parametrize("level, code", [("province", None), ("commune", None), ("village", None)])
async def test_every_table_aggregates_at_every_level(
    db: Database, province: list[Generated], data: DataFiles, level: str, code: str | None
) -> None:
    target = await unit(db, level, code)

    def inside(g: Generated) -> bool:
        return {"province": True, "commune": g.commune_id == target.id, "village": g.village_id == target.id}[level]

    mine = [g for g in province if inside(g)]
    for spec in data.reports.tables.values():
        async with db.read() as s:
            table = await aggregate(s, spec, target, 2026, data.reports.lists.majority_ethnicities)
        for measure in spec.measures():
            if isinstance(measure, str):
                continue
            # The generated households have no answers: filters on answers or members count none.
            expected = 0 if measure.answers or measure.members else sum(
                (g.members if measure.persons else 1) for g in mine
                if (not measure.outcome or g.outcome in measure.outcome)
                and (not measure.prior_class or g.prior_class in measure.prior_class)
                and (measure.indicator is None or measure.indicator in g.deprived)
                and (measure.minority is None or (g.ethnicity != "kinh") == measure.minority)
                and (not measure.ethnicity or g.ethnicity in measure.ethnicity)
                and (not measure.ethnicity_not or g.ethnicity not in measure.ethnicity_not))
            assert table.total.value(measure) == expected, (spec.id, measure)
        assert table.total.value("surveyed") == len(mine)


async def test_province_rows_are_districts_in_the_200_configuration(
    db: Database, province: list[Generated], data: DataFiles
) -> None:
    async with db.read() as s:
        table = await aggregate(s, data.reports.tables["7.2"], await unit(db, "province"), 2026, ("kinh",))
    assert len(table.rows) == 11 and table.rows[0].name == "Thành phố Lạng Sơn"


async def test_household_lists_and_health_insurance_list(
    db: Database, province: list[Generated], data: DataFiles, tmp_path: Path
) -> None:
    commune = await unit(db, "commune")
    mine = [g for g in province if g.commune_id == commune.id]
    async with db.read() as s:
        for list_id, expected in (
            ("ds_ngheo", sum(g.outcome == "poor" for g in mine)),
            ("ds_thoat_ngheo", sum(g.prior_class == "poor" and g.outcome in ("near_poor", "not_poor", "average")
                                   for g in mine)),
            ("ds_ngheo_moi", sum(g.prior_class == "none" and g.outcome == "poor" for g in mine)),
            ("ds_bhyt", sum(g.members for g in mine if g.outcome in ("poor", "near_poor"))),
        ):
            (xlsx,) = await build_report(s, data.reports, list_id, commune, 2026, tmp_path, data.forms)
            ws = load_workbook(xlsx).active
            numbered = [r for r in ws.iter_rows(values_only=True) if isinstance(r[0], int)]
            assert len(numbered) == expected, list_id
            assert f"Tổng số: {expected} dòng." in cell_texts(ws)
    bhyt = load_workbook(xlsx).active
    header = next(r for r in bhyt.iter_rows(values_only=True) if r[0] == "STT")
    assert header[:4] == ("STT", "Họ và tên", "Giới tính", "Năm sinh")
    first = next(r for r in bhyt.iter_rows(values_only=True) if r[0] == 1)
    assert first[4] == "Chủ hộ" and first[1].startswith("Chủ hộ") and first[6].startswith("0201")


async def test_progress_counts_submitted_drafts_and_remaining(db: Database, province: list[Generated]) -> None:
    commune = await unit(db, "commune")
    async with db.transaction() as s:
        village = (await s.scalars(select(Unit).where(Unit.parent_id == commune.id))).first()
        s.add(Household(village_id=village.id, survey_id="phieu_b", survey_version="2022.1", review_year=2026,
                        status="draft"))
    async with db.read() as s:
        rows = await progress(s, commune, 2026)
    first = next(r for r in rows if r.name == village.name)
    submitted = sum(1 for g in province if g.village_id == village.id)
    assert (first.submitted, first.drafts) == (submitted, 1)
    assert first.remaining == max(0, village.households_total - submitted)


def test_bad_report_file_names_file_and_line(tmp_path: Path) -> None:
    from core.datafile import DataFileError
    from core.reports.table_spec import load_table

    path = tmp_path / "t.yaml"
    path.write_text('id: "9"\nform: F\ntitle: T\ncolumns:\n  - {label: A, value: households_total}\n'
                    '  - {label: B, value: {outcome: rich}}\n', encoding="utf-8")
    with pytest.raises(DataFileError, match="rich") as info:
        load_table(path)
    found = {e.line: e.detail for e in info.value.errors}  # both mistakes at once, each with its line
    assert sorted(found) == [1, 6]
    assert "missing required key 'short_title'" in found[1] and "outcome ['rich']" in found[6]
    path.write_text(path.read_text(encoding="utf-8").replace("title: T\n", "title: T\nshort_title: T\n"),
                    encoding="utf-8")
    with pytest.raises(DataFileError, match="rich") as info:
        load_table(path)
    assert info.value.line == 7 and info.value.errors == (info.value,)


def test_rasoat_report_command_line(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "RASOAT_DATA_DIR": str(tmp_path), "UNITS_CONFIGURATION": "65", "REVIEW_YEAR": "2026"}
    env.pop("DATABASE_URL", None)
    root = Path(__file__).parents[1]
    listing = subprocess.run([sys.executable, "-m", "bot.cli", "report"], env=env, cwd=root, capture_output=True,
                             text=True, check=True)
    assert "7.1" in listing.stdout and "ds_bhyt" in listing.stdout
    done = subprocess.run([sys.executable, "-m", "bot.cli", "report", "7.1", "--unit", "6202", "--out",
                           str(tmp_path / "out")], env=env, cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    paths = [Path(p) for p in done.stdout.split()]
    assert [p.suffix for p in paths] == [".xlsx", ".png"] and all(p.exists() for p in paths)
    assert load_workbook(paths[0]).active.cell(5, 1).value.startswith("TỔNG HỢP KẾT QUẢ")
    for rid in ("7.8", "7.9", "7.10", "7.11"):
        done = subprocess.run([sys.executable, "-m", "bot.cli", "report", rid, "--unit", "6202", "--out",
                               str(tmp_path / "out")], env=env, cwd=root, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        xlsx = Path(done.stdout.split()[0])
        assert xlsx.suffix == ".xlsx" and load_workbook(xlsx).active.cell(4, 1).value == f"Biểu mẫu số {rid}"


def test_catalogue_lists_every_table_and_list() -> None:
    names = Catalogue.load().names()
    ids = [rid for rid, _ in names]
    assert ids[:11] == [f"7.{i}" for i in range(1, 12)] and "ds_bhyt" in ids
    assert all(0 < len(title) <= 40 for _, title in names)


async def test_a_district_list_written_by_the_writer_process_equals_the_one_written_here(
    db: Database, province: list[Generated], data: DataFiles, tmp_path: Path
) -> None:
    """core/reports/sheet.py: above the commune the XML is written by a second process from the
    recorded calls; the sheet and its styles are byte for byte those written in-process."""
    import zipfile

    from core.reports.excel import render_list
    from core.reports.query import list_rows

    district = await unit(db, "district")
    spec = data.reports.lists.lists["ds_bhyt"]
    survey = data.forms[spec.form]
    files = {}
    for separate in (True, False):
        async with db.read() as s:
            rows = list_rows(s, spec, survey, district, 2026, data.reports.lists.majority_ethnicities)
            files[separate] = await render_list(spec, rows, district, None, 2026, survey,
                                                tmp_path / f"bhyt_{separate}.xlsx", separate_writer=separate)
    parts = {k: zipfile.ZipFile(p) for k, p in files.items()}
    for name in ("xl/worksheets/sheet1.xml", "xl/styles.xml", "xl/workbook.xml"):
        assert parts[True].read(name) == parts[False].read(name), name
    members = sum(g.members for g in province if g.district_id == district.id and g.outcome in ("poor", "near_poor"))
    numbered = [r for r in load_workbook(files[True]).active.iter_rows(values_only=True) if isinstance(r[0], int)]
    assert len(numbered) == members > 0


async def test_a_failing_list_leaves_no_file_and_no_writer_behind(data: DataFiles, tmp_path: Path) -> None:
    from core.reports.sheet import Recorder

    recorder = Recorder(tmp_path / "x.xlsx", "x")
    recorder.next_row()
    recorder.write(1, "a", recorder.fmt())
    recorder.abort()  # what render_list does when the query fails half-way
    assert recorder._proc.returncode is not None and not (tmp_path / "x.xlsx").exists()
    broken = Recorder(tmp_path / "y.xlsx", "y")
    broken._add(("no_such_call",))
    with pytest.raises(RuntimeError, match="sheet writer failed: ValueError: unknown sheet call"):
        broken.close()


def test_a_writer_whose_report_process_dies_leaves_no_half_list(tmp_path: Path) -> None:
    """EOF before the end mark (the report process was killed): the writer drops the file."""
    import pickle

    ops = [("next_row", None), ("write", 1, "một nửa", ("fmt", 12, False, False, "left", False, None))]
    target = tmp_path / "half.xlsx"
    done = subprocess.run([sys.executable, "-m", "core.reports.sheet", str(target), "x"],
                          input=pickle.dumps(ops), capture_output=True)
    assert done.returncode != 0 and b"stopped before the list was complete" in done.stderr
    assert not target.exists()
