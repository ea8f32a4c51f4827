"""More of the review procedure: `rasoat import danh-sach` with a mapping file for another
layout (one transaction: a bad row imports nothing), a village meeting below 50 % sending the
household back to survey, and a listed household's request to leave stopped by Phiếu A."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy import select

from bot.app import ChatApp
from core.chat.messages import ChatRef, Incoming
from core.procedure.models import Review
from core.storage.models import Household, Unit
from core.storage.repo import ensure_user
from tests.households import POOR, answer_for, cursor, make_village_head, run_survey

ROOT = Path(__file__).parents[1]


def other_layout(rows: list[list[Any]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    ws.append(["Tên chủ hộ", "Bản", "Phân loại"])
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def rasoat(tmp_path: Path, db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RASOAT_DATA_DIR": str(tmp_path / "data"), "UNITS_CONFIGURATION": "65",
           "DATABASE_URL": db_url, "REVIEW_YEAR": "2026"}
    for name in ("RASOAT_PLANS", "TELEGRAM_BOT_TOKEN", "ZALO_BOT_TOKEN"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


async def test_cli_import_with_a_mapping_file(service: ChatApp, db_url: str, tmp_path: Path) -> None:
    await make_village_head(service, village="Thôn Nà Pàn")
    mapping = tmp_path / "map.yaml"
    mapping.write_text('columns: {head_name: "Tên chủ hộ", village: "Bản", prior_class: "Phân loại"}\n'
                       'classes: {"N": poor, "CN": near_poor}\n', encoding="utf-8")
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(other_layout([["Hoàng Văn Minh", "Nà Pàn", "N"], ["Lý Thị Mai", "Nà Pàn", "X"]]))
    done = rasoat(tmp_path, db_url, "import", "danh-sach", str(bad), "--commune", "6202", "--mapping", str(mapping))
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "LỖI: trang «Sheet1», dòng 3, cột C (Phân loại): không rõ diện hộ «X»" in done.stderr
    async with service.db.transaction() as s:
        assert (await s.scalars(select(Household))).all() == []  # the good row went back with the file
    good = tmp_path / "good.xlsx"
    good.write_bytes(other_layout([["Hoàng Văn Minh", "Nà Pàn", "N"], ["Lý Thị Mai", "nà pàn", "CN"]]))
    done = rasoat(tmp_path, db_url, "import", "danh-sach", str(good), "--commune", "6202", "--mapping", str(mapping))
    assert done.returncode == 0, done.stderr
    async with service.db.transaction() as s:
        rows = (await s.execute(select(Household.head_name, Review.listed_class, Review.stage).join(
            Review, Review.household_id == Household.id).order_by(Household.id))).all()
    assert [tuple(r) for r in rows] == [("Hoàng Văn Minh", "poor", "listed"), ("Lý Thị Mai", "near_poor", "listed")]


async def test_meeting_below_half_sends_the_household_back(service: ChatApp) -> None:
    head = await make_village_head(service)
    await run_survey(service, head, POOR)  # new poor (not on a list): waits for the meeting
    async with service.db.transaction() as s:
        household = (await s.scalars(select(Household))).one()
    reply = await service.handle(head, Incoming(text=f"/hopdan 01/01/2026 20 {household.id}=9"))
    assert "9/20 đồng ý, chưa đạt" in reply.messages[0].text
    async with service.db.transaction() as s:
        review = await s.get(Review, household.id)
        again = await s.get(Household, household.id)
    assert review is not None and review.stage == "resurvey" and again is not None and again.reopened_at is not None
    wait = await service.handle(head, Incoming(text="/viecchotoi"))
    assert "1 hộ phải rà soát lại" in wait.messages[0].text
    # a bad vote is refused with the usage, and nothing is recorded
    bad = await service.handle(head, Incoming(text=f"/hopdan 01/01/2026 20 {household.id}=abc"))
    assert "không đúng dạng" in bad.messages[0].text


async def phieu_a_with_wages(service: ChatApp, head: ChatRef, household_id: int, base: dict[str, Any]) -> Any:
    """Phiếu A for a listed household whose only criterion met is a member on wages, submitted;
    the reply to /xacnhan."""
    await service.handle(head, Incoming(text=f"/phieua {household_id}"))
    profile = {**base, "pa_luong": "có", **{f"pa_{k}": "không" for k in (
        "o_to", "nha_kien_co", "kinh_doanh", "dieu_hoa", "may_giat", "xe_may", "may_tinh", "dat", "gia_suc")}}
    for _ in range(40):
        key = await cursor(service, head)
        if key is None:
            break
        await service.handle(head, Incoming(text="/giunguyen" if key == "chu_ho_ten" else answer_for(profile, key)))
    reply = await service.handle(head, Incoming(text="/xacnhan"))
    return reply


async def test_a_request_to_leave_stopped_by_phieu_a_is_an_escaping_household(service: ChatApp, tmp_path: Path) -> None:
    head = await make_village_head(service)
    async with service.db.transaction() as s:
        commune = await s.scalar(select(Unit).where(Unit.configuration == "65", Unit.code == "6202"))
        assert commune is not None
        await ensure_user(s, "test", "officer", "Cán bộ xã", "commune", commune.id)
    officer = ChatRef("test", "officer", "officer")
    wb = Workbook()
    ws = wb.active
    ws.title = "ds_ngheo"
    ws.append(["STT", "Họ và tên chủ hộ", "Thôn", "Kết quả rà soát"])
    ws.append([1, "Hoàng Văn Minh", "Thôn Nà Pàn", "Hộ nghèo"])
    path = tmp_path / "ds.xlsx"
    wb.save(path)
    from core.chat.messages import Attachment

    done = await service.handle(officer, Incoming(text="/nhapds", document=Attachment("ds.xlsx", str(path))))
    assert "Đã nhập 1 hộ" in done.messages[0].text
    async with service.db.transaction() as s:
        household = (await s.scalars(select(Household))).one()
    reply = await service.handle(head, Incoming(text=f"/xinthoat {household.id} | Con đi làm công ty, có lương"))
    assert "Mẫu số 04" in reply.messages[0].text
    reply = await phieu_a_with_wages(service, head, household.id, POOR)
    assert "dừng" in reply.messages[0].text
    async with service.db.transaction() as s:
        review = await s.get(Review, household.id)
        after = await s.get(Household, household.id)
    assert review is not None and review.stage == "surveyed"  # the meeting decides on escaping households
    assert after is not None and (after.status, after.outcome, after.prior_class) == ("submitted", "not_poor", "poor")


def with_members(households: list[list[Any]], members: list[list[Any]]) -> bytes:
    """Last year's list as the project exports it: a ds_ngheo sheet and a ds_bhyt sheet."""
    wb = Workbook()
    ws = wb.active
    ws.title = "ds_ngheo"
    ws.append(["STT", "Họ và tên chủ hộ", "Thôn", "Số CCCD chủ hộ", "Kết quả rà soát"])
    for n, row in enumerate(households, 1):
        ws.append([n, *row])
    bhyt = wb.create_sheet("ds_bhyt")
    bhyt.append(["DANH SÁCH THÀNH VIÊN HỘ NGHÈO, HỘ CẬN NGHÈO ĐỀ NGHỊ CẤP THẺ BẢO HIỂM Y TẾ NĂM 2025"])
    bhyt.append(["STT", "Họ và tên", "Giới tính", "Năm sinh", "Quan hệ với chủ hộ", "Họ và tên chủ hộ",
                 "Số CCCD chủ hộ", "Thôn", "Kết quả rà soát"])
    for n, row in enumerate(members, 1):
        bhyt.append([n, *row])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


async def test_import_takes_last_years_members_and_catches_a_known_id(service: ChatApp, tmp_path: Path) -> None:
    """The members come pre-filled for confirmation (member 1 is the head); a member row that
    names no household, and an ID number already surveyed this year, are errors of their rows."""
    from core.procedure.importer import ImportFailed, import_list

    await make_village_head(service, village="Thôn Nà Pàn")
    households = [["Hoàng Văn Minh", "Thôn Nà Pàn", "020180001234", "Hộ nghèo"]]
    members = [["Hoàng Văn Minh", "Nam", 1980, "Chủ hộ", "Hoàng Văn Minh", "020180001234", "Thôn Nà Pàn", "Hộ nghèo"],
               ["Nông Thị Hoa", "Nữ", 1982, "Vợ/chồng", "Hoàng Văn Minh", "020180001234", "Thôn Nà Pàn", "Hộ nghèo"],
               ["Hoàng Văn An", "Nam", 2014, "Con", "Hoàng Văn Minh", "020180001234", "Thôn Nà Pàn", "Hộ nghèo"]]
    async with service.db.transaction() as s:
        commune = await s.scalar(select(Unit).where(Unit.configuration == "65", Unit.code == "6202"))
    assert commune is not None
    stray = tmp_path / "stray.xlsx"
    stray.write_bytes(with_members(households, [*members, ["Ai Đó", "Nam", 1990, "Con", "Không Có", "",
                                                           "Thôn Nà Pàn", "Hộ nghèo"]]))
    survey = service.forms["phieu_b"]
    async with service.db.transaction() as s:
        try:
            await import_list(s, stray, commune, survey, 2026, "rural", None)
        except ImportFailed as failed:
            texts = [f"{e.sheet}:{e.row}:{e.message}" for e in failed.errors]
        else:
            raise AssertionError("a member of no household was accepted")
    assert texts == ["ds_bhyt:6:thành viên không thuộc hộ nào trong danh sách (chủ hộ Không Có, Thôn Nà Pàn)"]
    good = tmp_path / "good.xlsx"
    good.write_bytes(with_members(households, members))
    async with service.db.transaction() as s:
        [household] = await import_list(s, good, commune, survey, 2026, "rural", None)
        hid = household.id
    from core.storage.repo import load_answers

    async with service.db.read() as s:
        answers = await load_answers(s, hid)
    assert answers["so_thanh_vien"] == 3 and answers["tv.2.ho_ten"] == "Nông Thị Hoa"
    assert answers["tv.2.quan_he"] == "vo_chong" and answers["tv.2.nam_sinh"] == 1982
    assert answers["tv.3.quan_he"] == "con"
    assert answers["tv.1.gioi_tinh"] == "nam" and answers["tv.1.nam_sinh"] == 1980
    # the same head's ID number in a second list of the year is caught (compared by keyed hash)
    again = tmp_path / "again.xlsx"
    again.write_bytes(with_members([["Hoàng Văn Minh", "Thôn Nà Pàn", "020180001234", "Hộ nghèo"]], []))
    async with service.db.transaction() as s:
        try:
            await import_list(s, again, commune, survey, 2026, "rural", None)
        except ImportFailed as failed:
            assert [e.message for e in failed.errors] == [f"số CCCD đã có ở hộ #{hid} năm nay"]
        else:
            raise AssertionError("an ID number already in the year was accepted")
