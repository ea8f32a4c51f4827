"""Importing last year's list (issue 26 items 4, 9 and 23), on SQLite and PostgreSQL: a file the
importer cannot read is named by the user's file name, never as a sheet «dòng 0, cột -»; each
error is said once and the summary counts rows as rows; a CSV file (UTF-8, with or without
BOM, comma or semicolon) is read like a workbook and anything else is refused naming the two
accepted formats; a file over a limit (size, rows, a zip bomb) is refused with what to do; the
file is read in the report process before the transaction; and a corrected file sent again does not
double the households that have no ID number."""

from __future__ import annotations

import argparse
import io
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from bot.app import ChatApp
from core.chat.messages import Attachment, ChatRef, Incoming
from core.config import Settings
from core.procedure.import_file import MB, ImportLimits
from core.procedure.importer import ImportFailed, parse_file
from core.procedure.models import Review
from core.storage.models import Household, Unit
from core.storage.repo import ensure_user
from tests.households import make_village_head

HEADERS = ["STT", "Họ và tên chủ hộ", "Thôn", "Số thành viên", "Kết quả rà soát"]


def workbook(rows: list[list[Any]], title: str = "ds_ngheo", headers: list[str] = HEADERS) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = title
    ws.append(headers)
    for n, row in enumerate(rows, 1):
        ws.append([n, *row])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@pytest.fixture
async def officer(service: ChatApp) -> ChatRef:
    """The officer of Xã Ba Sơn, whose commune has Thôn Nà Pàn and Thôn Khuổi Luông."""
    await make_village_head(service, "h1", village="Thôn Nà Pàn")
    await make_village_head(service, "h2", village="Thôn Khuổi Luông")
    async with service.db.transaction() as s:
        commune = await s.scalar(select(Unit).where(Unit.configuration == "65", Unit.code == "6202"))
        assert commune is not None
        await ensure_user(s, "test", "officer", "Cán bộ xã", "commune", commune.id)
    return ChatRef("test", "officer", "officer")


async def send(service: ChatApp, officer: ChatRef, tmp_path: Path, name: str, data: bytes) -> str:
    """The file as the channel stores an upload (under «<update id>-<name>»), sent with /nhapds."""
    stored = tmp_path / f"4711-{name}"
    stored.write_bytes(data)
    reply = await service.handle(officer, Incoming(text="/nhapds", document=Attachment(name, str(stored))))
    return "\n".join(m.text for m in reply.messages)


async def households(service: ChatApp) -> list[str]:
    async with service.db.read() as s:
        return list((await s.scalars(select(Household.head_name).order_by(Household.id))).all())


# ----- item 23: what the errors say --------------------------------------------------------


async def test_a_file_without_a_list_is_named_by_its_name_not_as_a_sheet(
        service: ChatApp, officer: ChatRef, tmp_path: Path) -> None:
    reply = await send(service, officer, tmp_path, "bao_cao.xlsx", workbook([], headers=["Cột A", "Cột B"]))
    assert reply.startswith("❌ Không nhập được tệp «bao_cao.xlsx»: không thấy dòng tiêu đề có các cột")
    assert "4711-" not in reply and "dòng 0" not in reply and "cột -" not in reply
    broken = await send(service, officer, tmp_path, "ds.xlsx", b"PK\x03\x04 not really a zip")
    assert broken == ("❌ Không nhập được tệp «ds.xlsx»: không mở được tệp Excel (.xlsx): tệp bị hỏng hoặc không "
                      "phải tệp Excel. Mở tệp bằng Excel, lưu lại rồi gửi lại.")


async def test_each_error_is_said_once_and_rows_are_counted_as_rows(
        service: ChatApp, officer: ChatRef, tmp_path: Path, settings: Settings,
        capsys: pytest.CaptureFixture[str]) -> None:
    # a sheet whose name gives no class: the unknown class was said twice (once for the word,
    # once for the missing class); the second row has two errors of its own
    data = workbook([["Hoàng Văn Minh", "Thôn Nà Pàn", 3, "Giàu"], ["Lý Thị Mai", "Thôn Không Có", 99, "Hộ nghèo"]],
                    title="Sheet1")
    reply = await send(service, officer, tmp_path, "ds.xlsx", data)
    assert reply.splitlines() == [
        "❌ Tệp «ds.xlsx» có 3 lỗi ở 2 dòng, chưa nhập hộ nào. Sửa các dòng sau rồi gửi lại:",
        "• trang «Sheet1», dòng 2, cột E (Kết quả rà soát): không rõ diện hộ «Giàu» (Hộ nghèo hoặc Hộ cận nghèo)",
        "• trang «Sheet1», dòng 3, cột C (Thôn): không có thôn «Thôn Không Có» trong Xã Ba Sơn",
        "• trang «Sheet1», dòng 3, cột D (Số thành viên): số thành viên «99» phải là số từ 1 đến 30"]
    from core.procedure.cli import import_command

    path = tmp_path / "ds.xlsx"
    path.write_bytes(data)
    args = argparse.Namespace(file=str(path), commune="6202", mapping=None, config=None)
    assert await import_command(service, args, settings) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == "3 lỗi ở 2 dòng; không nhập hộ nào" and len(err) == 4
    assert await households(service) == []


# ----- item 23: CSV, and what is refused ---------------------------------------------------


@pytest.mark.parametrize("encoding,delimiter", [("utf-8-sig", ","), ("utf-8", ";")])
async def test_a_csv_file_is_imported_like_a_workbook(service: ChatApp, officer: ChatRef, tmp_path: Path,
                                                      encoding: str, delimiter: str) -> None:
    lines = [delimiter.join([*HEADERS, "Số CCCD chủ hộ"]),
             delimiter.join(["1", "Hoàng Văn Minh", "Thôn Nà Pàn", "3", "Hộ nghèo", "020180001234"]),
             delimiter.join(["2", '"Lý Thị Mai"', "Thôn Khuổi Luông", "2", "Hộ cận nghèo", "020180005555"])]
    reply = await send(service, officer, tmp_path, "ds_2025.csv", ("\r\n".join(lines) + "\r\n").encode(encoding))
    assert "✅ Đã nhập 2 hộ từ «ds_2025.csv»" in reply, reply
    async with service.db.read() as s:
        rows = (await s.execute(select(Household.head_name, Review.listed_class).join(
            Review, Review.household_id == Household.id).order_by(Household.id))).all()
    assert [tuple(r) for r in rows] == [("Hoàng Văn Minh", "poor"), ("Lý Thị Mai", "near_poor")]
    # the leading zero of the ID number survives (Excel would have made it a number)
    from core.storage.repo import load_answers

    async with service.db.read() as s:
        first = (await s.scalars(select(Household.id).order_by(Household.id))).first()
        assert first is not None and (await load_answers(s, first))["chu_ho_cccd"] == "020180001234"


async def test_a_bad_csv_row_is_named_by_row_and_column_without_a_sheet(
        service: ChatApp, officer: ChatRef, tmp_path: Path) -> None:
    text = ",".join(HEADERS) + "\n1,Hoàng Văn Minh,Thôn Vắng,3,Hộ nghèo\n"
    reply = await send(service, officer, tmp_path, "ds.csv", text.encode())
    assert "• dòng 2, cột C (Thôn): không có thôn «Thôn Vắng» trong Xã Ba Sơn" in reply
    assert "trang" not in reply


@pytest.mark.parametrize("name,data,says", [
    ("ds.csv", "STT,Thôn,Tên\n1,Thôn Nà Pàn,Tày\n".encode("cp1258"), "tệp .csv không lưu dạng UTF-8"),
    ("ds.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), "đây là tệp Excel 97-2003 (.xls)"),
    ("ds.pdf", b"%PDF-1.4 a list", "chỉ nhận tệp Excel (.xlsx) hoặc tệp CSV lưu dạng UTF-8 (.csv)"),
    ("ds.ods", b"some text, not a list", "chỉ nhận tệp Excel (.xlsx) hoặc tệp CSV lưu dạng UTF-8 (.csv)"),
])
async def test_other_files_are_refused_naming_the_accepted_formats(
        service: ChatApp, officer: ChatRef, tmp_path: Path, name: str, data: bytes, says: str) -> None:
    reply = await send(service, officer, tmp_path, name, data)
    assert reply.startswith(f"❌ Không nhập được tệp «{name}»: ") and says in reply, reply
    assert "Error" not in reply and "Exception" not in reply


# ----- item 4: limits, and the file read off the event loop --------------------------------


def _bomb(tmp_path: Path, inflated: int) -> Path:
    """A real workbook with one more member of zeros: tiny packed, `inflated` bytes unpacked."""
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(workbook([["Hoàng Văn Minh", "Thôn Nà Pàn", 3, "Hộ nghèo"]]))
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/media/padding.bin", bytes(inflated))
    return path


def test_each_limit_refuses_the_file_with_what_to_do(tmp_path: Path) -> None:
    def refusal(path: Path, name: str, limits: ImportLimits) -> str:
        with pytest.raises(ImportFailed) as failed:
            parse_file(path, name, limits=limits)
        assert failed.value.errors == [] and failed.value.refused is not None
        return failed.value.refused

    good = tmp_path / "ds.xlsx"
    good.write_bytes(workbook([["Hoàng Văn Minh", "Thôn Nà Pàn", 3, "Hộ nghèo"]] * 6))
    assert len(parse_file(good, "ds.xlsx").rows) == 6
    assert refusal(good, "ds.xlsx", ImportLimits(max_rows=5)) == (
        "tệp có hơn 5 dòng có dữ liệu (tính cả các trang). Tách danh sách theo thôn rồi gửi từng tệp.")
    size = good.stat().st_size
    assert refusal(good, "ds.xlsx", ImportLimits(max_bytes=2048)) == (
        f"tệp nặng {size / 1024:.0f} KB, quá giới hạn 2 KB. Tách danh sách theo thôn, hoặc xoá các trang không cần, "
        "rồi gửi lại.")
    unpacked = refusal(_bomb(tmp_path, 60 * MB), "bomb.xlsx", ImportLimits())
    assert unpacked.startswith("tệp Excel khi giải nén chiếm 60,0 MB, quá giới hạn 50,0 MB"), unpacked
    ratio = refusal(_bomb(tmp_path, 5 * MB), "bomb.xlsx", ImportLimits())
    assert ratio.startswith("tệp Excel có phần nén bất thường (giải nén lớn gấp "), ratio
    csv_rows = tmp_path / "ds.csv"
    csv_rows.write_text(",".join(HEADERS) + "\n" + "1,A,Thôn Nà Pàn,3,Hộ nghèo\n" * 6, encoding="utf-8")
    assert "hơn 5 dòng" in refusal(csv_rows, "ds.csv", ImportLimits(max_rows=5))


async def test_the_file_is_read_in_the_report_process_before_the_transaction(
        service: ChatApp, officer: ChatRef, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The chat's event loop and SQLite's one writer are free while the file is read."""
    from bot.handlers.procedure import listing
    from core.reports.offload import run_elsewhere

    seen: list[tuple[str, bool, int]] = []

    async def spy(fn: Any, *args: Any) -> Any:
        lock = service.db._write_lock  # SQLite's writers queue on it; None on PostgreSQL
        seen.append((fn.__name__, bool(lock and lock.locked()), await run_elsewhere(os.getpid)))
        return await run_elsewhere(fn, *args)

    monkeypatch.setattr(listing, "run_elsewhere", spy)
    reply = await send(service, officer, tmp_path, "ds.xlsx", workbook([["Hoàng Văn Minh", "Thôn Nà Pàn", 3,
                                                                          "Hộ nghèo"]]))
    assert "Đã nhập 1 hộ" in reply
    [(name, locked, pid)] = seen  # once, with no transaction writing, in another process
    assert (name, locked) == ("parse_file", False) and pid != os.getpid()
    # a refusal comes back from that process as it was made there
    reply = await send(service, officer, tmp_path, "ds.pdf", b"%PDF-1.4")
    assert reply.startswith("❌ Không nhập được tệp «ds.pdf»: chỉ nhận tệp Excel (.xlsx)")


# ----- item 9: a corrected file sent again -------------------------------------------------


async def test_a_corrected_file_sent_again_does_not_double_households_without_id(
        service: ChatApp, officer: ChatRef, tmp_path: Path) -> None:
    first = [["Hoàng Văn Minh", "Thôn Nà Pàn", 3, "Hộ nghèo"], ["Lý Thị Mai", "Thôn Khuổi Luông", 2, "Hộ nghèo"]]
    assert "Đã nhập 2 hộ" in await send(service, officer, tmp_path, "ds.xlsx", workbook(first))
    async with service.db.read() as s:
        ids = dict((await s.execute(select(Household.head_name, Household.id))).all())
    # corrected: Lý Thị Mai is near-poor, and one more household; written without accents by
    # someone else, the first household is still the same one
    corrected = [["Hoang Van Minh", "Thôn Nà Pàn", 3, "Hộ nghèo"],
                 ["Lý Thị Mai", "Thôn Khuổi Luông", 2, "Hộ cận nghèo"], ["Vi Văn Năm", "Thôn Nà Pàn", 4, "Hộ nghèo"]]
    reply = await send(service, officer, tmp_path, "ds_sua.xlsx", workbook(corrected))
    assert reply.splitlines() == [
        "❌ Tệp «ds_sua.xlsx» có 2 lỗi ở 2 dòng, chưa nhập hộ nào. Sửa các dòng sau rồi gửi lại:",
        f"• trang «ds_ngheo», dòng 2, cột B (Họ và tên chủ hộ): có thể trùng hộ #{ids['Hoàng Văn Minh']} đã có "
        "năm nay (cùng họ tên chủ hộ, thôn và số thành viên): bỏ dòng này nếu hộ đã được nhập; nếu là hộ khác, "
        "ghi số CCCD chủ hộ",
        f"• trang «ds_ngheo», dòng 3, cột B (Họ và tên chủ hộ): có thể trùng hộ #{ids['Lý Thị Mai']} đã có năm nay "
        "(cùng họ tên chủ hộ, thôn và số thành viên): bỏ dòng này nếu hộ đã được nhập; nếu là hộ khác, ghi số "
        "CCCD chủ hộ"]
    assert await households(service) == ["Hoàng Văn Minh", "Lý Thị Mai"]
    # without the two rows already imported, the rest goes in
    assert "Đã nhập 1 hộ" in await send(service, officer, tmp_path, "ds_them.xlsx", workbook(corrected[2:]))
    assert await households(service) == ["Hoàng Văn Minh", "Lý Thị Mai", "Vi Văn Năm"]


async def test_what_tells_two_households_with_one_name_apart(service: ChatApp, officer: ChatRef,
                                                             tmp_path: Path) -> None:
    twice = [["Hoàng Văn Minh", "Thôn Nà Pàn", 3, "Hộ nghèo"], ["Hoàng Văn Minh", "Thôn Nà Pàn", 3, "Hộ nghèo"]]
    reply = await send(service, officer, tmp_path, "ds.xlsx", workbook(twice))
    assert ("• trang «ds_ngheo», dòng 3, cột B (Họ và tên chủ hộ): có thể trùng hộ ở dòng 2 của tệp (cùng họ tên "
            "chủ hộ, thôn và số thành viên); nếu là hai hộ khác nhau, ghi số CCCD chủ hộ của cả hai") in reply
    assert await households(service) == []
    # another village, another number of members, or two different ID numbers: two households
    apart = [["Hoàng Văn Minh", "Thôn Nà Pàn", 3, "Hộ nghèo", ""], ["Hoàng Văn Minh", "Thôn Khuổi Luông", 3,
                                                                    "Hộ nghèo", ""],
             ["Hoàng Văn Minh", "Thôn Nà Pàn", 5, "Hộ nghèo", ""],
             ["Nông Văn Ba", "Thôn Nà Pàn", 2, "Hộ nghèo", "020180001111"],
             ["Nông Văn Ba", "Thôn Nà Pàn", 2, "Hộ nghèo", "020180002222"]]
    with_id = workbook(apart, headers=[*HEADERS, "Số CCCD chủ hộ"])
    reply = await send(service, officer, tmp_path, "ds.xlsx", with_id)
    assert "Đã nhập 5 hộ" in reply, reply
    # the same again: the households without an ID number are probable duplicates, those with
    # one are known by it
    reply = await send(service, officer, tmp_path, "ds.xlsx", with_id)
    assert "có 5 lỗi ở 5 dòng" in reply and reply.count("có thể trùng hộ #") == 3
    assert reply.count("số CCCD đã có ở hộ #") == 2
    async with service.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Household)) == 5
    # a row repeating an earlier row's ID number is told so once, not also as a probable twin
    repeated = [["Lương Văn Tám", "Thôn Nà Pàn", 4, "Hộ nghèo", "020180003333"],
                ["Lương Văn Tám", "Thôn Nà Pàn", 4, "Hộ nghèo", "020180003333"]]
    reply = await send(service, officer, tmp_path, "ds.xlsx", workbook(repeated, headers=[*HEADERS, "Số CCCD chủ hộ"]))
    assert reply.splitlines()[1:] == [
        "• trang «ds_ngheo», dòng 3, cột F (Số CCCD chủ hộ): số CCCD trùng với dòng 2 của tệp"], reply


async def test_a_village_is_found_with_or_without_its_thon(service: ChatApp, officer: ChatRef, tmp_path: Path) -> None:
    """Found in the fresh-clone trial: «Thôn Khuổi Phặt» in a file did not find the village
    an officer had created as «Khuổi Phặt» (only the other way round was tried)."""
    await service.handle(officer, Incoming(text="/moi +Khuổi Phặt"))
    rows = [["Hoàng Văn Minh", "Thôn Khuổi Phặt", 3, "Hộ nghèo"], ["Lý Thị Mai", "Nà Pàn", 2, "Hộ nghèo"]]
    reply = await send(service, officer, tmp_path, "ds.xlsx", workbook(rows))
    assert "Đã nhập 2 hộ" in reply, reply
    async with service.db.read() as s:
        villages = (await s.execute(select(Unit.name).join(Household, Household.village_id == Unit.id)
                                    .order_by(Household.id))).scalars().all()
    assert villages == ["Khuổi Phặt", "Thôn Nà Pàn"]
