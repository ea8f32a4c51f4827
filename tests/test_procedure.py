"""The review as the law runs it (issue 13), end to end over Telegram with the fake Bot API, on
SQLite and PostgreSQL: last year's list imported (bad rows named, nothing half-imported),
pre-filled households confirmed with «Giữ nguyên», an applicant through Phiếu A then Phiếu B,
the village meeting with a photo of the minutes, posting, a complaint recorded and resolved,
the quality checks catching a duplicate ID, the level above's opinion, the decision with its
lists and certificates (Word documents), ds_bhyt and the national export; every step in the
audit log."""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime
from pathlib import Path
from textwrap import dedent
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from docx import Document
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from core.chat.messages import ChatRef
from core.datafile import DataFileError
from core.procedure.loader import load_procedure
from core.procedure.models import Review, ReviewStep
from core.storage.models import AuditLog, Household, ReportSubmission, User
from tests.fake_telegram import TgUser
from tests.households import BASE, POOR, answer_for, cursor
from tests.telegram_harness import Harness, code_in

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
HEADERS = ["STT", "Họ và tên chủ hộ", "Thôn", "Dân tộc", "Số thành viên", "Số CCCD chủ hộ", "Kết quả rà soát"]
GOOD = [
    ["Hoàng Văn Minh", "Thôn Nà Pàn", "Tày", 3, "020180001234", "Hộ nghèo"],
    ["Lý Thị Mai", "Thôn Khuổi Luông", "Nùng", 2, "020180005555", "Hộ cận nghèo"],
]
BAD = [
    ["", "Thôn Nà Pàn", "Tày", 2, "020180007777", "Hộ nghèo"],          # no head's name
    ["Nông Văn Ba", "Thôn Không Có", "Tày", 2, "020180008888", "Hộ nghèo"],  # no such village
    ["Vi Thị Bốn", "Thôn Nà Pàn", "Tày", 2, "020180009999", "Giàu"],     # no such class
]
# an applicant: Phiếu A with no criterion met, then a Phiếu B that is poor. Its ID number is the
# listed household's (BASE): the quality check must catch it.
APPLICANT = {**POOR, "chu_ho_ten": "Nông Văn Tư", **{f"pa_{k}": "không" for k in (
    "luong", "o_to", "nha_kien_co", "kinh_doanh", "dieu_hoa", "may_giat", "xe_may", "may_tinh", "dat", "gia_suc")}}
LISTED = {**POOR}  # the listed household is still poor: its class does not change


def workbook(rows: list[list[Any]]) -> bytes:
    """A sheet laid out like the project's own ds_ngheo export: heading lines, the header, rows
    numbered in column A, the count line under the table."""
    wb = Workbook()
    ws = wb.active
    ws.title = "ds_ngheo"
    ws.append(["ỦY BAN NHÂN DÂN XÃ BA SƠN"])
    ws.append(["DANH SÁCH HỘ NGHÈO NĂM 2025"])
    ws.append([])
    ws.append(HEADERS)
    for n, row in enumerate(rows, 1):
        ws.append([n, *row])
    ws.append(["Tổng số: 5 dòng."])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def photo_update(user: TgUser, data: bytes) -> dict[str, Any]:
    file_id = f"ph{len(user.api.files) + 1}"
    user.api.files[file_id] = data
    return {"message": {"message_id": 20_000 + len(user.api.updates), "date": int(time.time()), "chat": user.chat,
                        "from": user.sender, "photo": [{"file_id": file_id, "file_unique_id": file_id, "width": 8,
                                                        "height": 8, "file_size": len(data)}]}}


def location_update(user: TgUser) -> dict[str, Any]:
    return {"message": {"message_id": 30_000 + len(user.api.updates), "date": int(time.time()), "chat": user.chat,
                        "from": user.sender, "location": {"latitude": 21.85, "longitude": 106.76}}}


def text_of(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("text") or m.get("caption") or "" for m in messages)


def buttons(messages: list[dict[str, Any]]) -> list[str]:
    return [b["callback_data"] for m in messages for row in m.get("reply_markup", {}).get("inline_keyboard", [])
            for b in row]


async def answer_all(h: Harness, user: TgUser, profile: dict[str, Any], prefilled: set[str]) -> int:
    """Answer whatever the household open in the chat asks: «Giữ nguyên» for a pre-filled
    question (after checking it shows last year's value), typing for the rest. Returns the
    number of kept answers."""
    ref = ChatRef("telegram", str(user.chat["id"]), str(user.user_id))
    kept = 0
    for _ in range(200):
        key = await cursor(h.service, ref)
        if key is None:
            return kept
        if key in prefilled:
            shown = user.last_message()
            assert "Câu trả lời hiện tại" in shown["text"] and "c:keep" in buttons([shown])
            await h.press(user, "c:keep")
            kept += 1
        else:
            await h.say(user, answer_for(profile, key))
        assert await cursor(h.service, ref) != key, f"{key} was not accepted"
    raise AssertionError("survey did not reach the review")


async def test_the_whole_procedure_over_telegram(harness: Harness, people: dict[str, TgUser]) -> None:
    service, api = harness.service, harness.api
    now = {"t": datetime(2026, 11, 18, 9, 0, tzinfo=TZ)}
    service.clock = lambda: now["t"]
    officer, head = people["officer"], people["a"]

    # 1. last year's list: a file with 3 bad rows names each one and imports nothing
    sent = await harness.act(officer, officer.document_update("ds_ngheo_2025.xlsx", workbook(GOOD + BAD), "/nhapds"))
    reply = text_of(sent)
    assert "có 3 lỗi ở 3 dòng, chưa nhập hộ nào" in reply
    assert "dòng 7, cột B (Họ và tên chủ hộ): thiếu họ tên chủ hộ" in reply
    assert "dòng 8, cột C (Thôn): không có thôn «Thôn Không Có»" in reply
    assert "dòng 9, cột G (Kết quả rà soát): không rõ diện hộ «Giàu»" in reply
    async with service.db.transaction() as s:
        assert (await s.scalars(select(Household))).all() == []
    sent = await harness.act(officer, officer.document_update("ds_ngheo_2025.xlsx", workbook(GOOD), "/nhapds"))
    assert "Đã nhập 2 hộ" in text_of(sent)
    async with service.db.transaction() as s:
        listed = {h.head_name: h for h in (await s.scalars(select(Household))).all()}
    minh = listed["Hoàng Văn Minh"]

    # 2. the village head sees it waiting, and confirms last year's answers instead of retyping
    assert "1 hộ năm trước chờ rà soát lại" in text_of(await harness.say(head, "/viecchotoi"))
    opened = await harness.say(head, f"/mo {minh.id}")
    assert "Câu trả lời hiện tại: Hoàng Văn Minh" in text_of(opened)
    kept = await answer_all(harness, head, LISTED, {"chu_ho_ten", "chu_ho_cccd", "dan_toc", "dien_dau_ky",
                                                    "so_thanh_vien"})
    assert kept == 5
    assert "HỘ NGHÈO" in text_of(await harness.press(head, "c:confirm"))

    # 3. an applicant (Mẫu 01): Phiếu A, then Phiếu B for the same household from its button
    sent = await harness.say(head, "/dondenghi Nông Văn Tư | Gia đình có người ốm nặng, mất thu nhập")
    applicant_id = int(text_of(sent).split("hộ #")[1].split()[0])
    await harness.press(head, f"c:screen:{applicant_id}")
    await answer_all(harness, head, APPLICANT, {"chu_ho_ten"})
    sent = await harness.press(head, "c:confirm")
    assert "Chưa nộp được vì số CCCD trùng" in text_of(sent) and "#1" in text_of(sent)  # issue 26 item 8
    sent = await harness.say(head, "/xacnhan con trai tách hộ, dùng nhầm CCCD của bố, sẽ kiểm tra lại")
    assert "Phiếu A: tiếp tục rà soát" in text_of(sent) and f"c:survey_b:{applicant_id}" in buttons(sent)
    await harness.press(head, f"c:survey_b:{applicant_id}")
    await answer_all(harness, head, APPLICANT, {"chu_ho_ten", "chu_ho_cccd", "dan_toc", "so_dien_thoai"})
    assert "HỘ NGHÈO" in text_of(await harness.press(head, "c:confirm"))
    assert "1 hộ chờ họp dân" in text_of(await harness.say(head, "/viecchotoi"))

    # 4. the village meeting: 15 of 20 agree (at least 50 %), then the photo of the minutes
    sent = await harness.say(head, f"/hopdan 17/11/2026 20 {applicant_id}=15")
    assert f"Hộ #{applicant_id} Nông Văn Tư: 15/20 đồng ý, thông qua" in text_of(sent)
    assert "Đã đính kèm ảnh biên bản" in text_of(await harness.act(head, photo_update(head, b"\xff\xd8minutes")))
    await harness.say(head, f"/mo {applicant_id}")
    assert "Đã lưu ảnh thứ 1" in text_of(await harness.act(head, photo_update(head, b"\xff\xd8house")))
    assert "Đã lưu vị trí" in text_of(await harness.act(head, location_update(head)))
    opened = text_of(await harness.say(head, f"/mo {applicant_id}"))  # the household's view lists its evidence
    assert "📎 Tài liệu của hộ: 1 ảnh" in opened and "đã ghi vị trí" in opened

    # 5. posting: a printable list, 3 working days from Wednesday 18/11 to Friday 20/11
    assert "2 hộ chờ niêm yết" in text_of(await harness.say(officer, "/viecchotoi"))
    sent = await harness.say(officer, "/niemyet")
    assert "từ 18/11/2026 đến hết 20/11/2026 (3 ngày làm việc)" in text_of(sent)
    posted = load_workbook(io.BytesIO(api.files[sent[-1]["document"]["file_id"]]))
    assert [r[1] for r in posted["Hộ nghèo"].iter_rows(min_row=3, values_only=True) if isinstance(r[0], int)] == [
        "Hoàng Văn Minh", "Nông Văn Tư"]

    # 6. a complaint blocks the decision until resolved
    sent = await harness.say(officer, f"/khieunai {minh.id} Hàng xóm cho rằng hộ đã có xe ô tô")
    complaint_id = int(text_of(sent).split("khiếu nại #")[1].split()[0])

    # 7. the level above (the province from 01/07/2025, a setting of the procedure file)
    admin = people["admin"]
    province = harness.user(4000, "Cán bộ tỉnh")
    await harness.register(province, code_in(await harness.say(admin, "/moicanbo tinh 20")))
    assert "đang niêm yết đến hết 20/11/2026" in text_of(await harness.say(province, "/ykien 6202 Đồng ý"))
    now["t"] = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
    assert "Ý kiến cấp trên do" in text_of(await harness.say(officer, "/ykien 6202 Đồng ý"))
    assert "Đã ghi ý kiến về danh sách của Xã Ba Sơn (2 hộ)" in text_of(
        await harness.say(province, "/ykien 6202 Đồng ý với danh sách"))

    # 8. the decision is refused while the complaint is open, then while the duplicate ID stands
    assert "còn khiếu nại chưa giải quyết" in text_of(await harness.say(officer, "/congnhan 45/QĐ-UBND 23/11/2026"))
    assert "bác, đã ghi lý do" in text_of(
        await harness.say(officer, f"/giaiquyet {complaint_id} bac Đã xác minh: xe của người thân"))
    assert "vấn đề dữ liệu chưa xử lý" in text_of(await harness.say(officer, "/congnhan 45/QĐ-UBND 23/11/2026"))
    sent = await harness.say(officer, "/kiemtra")
    assert f"Cùng một số CCCD ở các hộ #{minh.id}, #{applicant_id}" in text_of(sent)
    # the two households also share two members (the same profile): a member listed twice
    assert text_of(sent).count("Một người có tên trong nhiều hộ") == 2
    ok = [b for b in buttons(sent) if b.startswith("c:checks:ok ")]
    assert len(ok) == 3
    for _ in ok:  # a pressed keyboard is replaced by the answer: ask again for the next one
        first = next(b for b in buttons(await harness.say(officer, "/kiemtra")) if b.startswith("c:checks:ok "))
        assert "Đã xác nhận" in text_of(await harness.press(officer, first))
    assert "0 chưa xử lý" in text_of(await harness.say(officer, "/kiemtra"))

    # 9. the decision: final classes, the attached lists, the certificates; Lý Thị Mai was never
    # surveyed again, so the decision names her and waits for a confirmation (issue 26 item 7)
    sent = await harness.say(officer, "/congnhan 45/QĐ-UBND 23/11/2026")
    mai = listed["Lý Thị Mai"]
    assert f"#{mai.id} Lý Thị Mai (Thôn Khuổi Luông): chưa rà soát lại" in text_of(sent)
    sent = await harness.press(officer, next(b for b in buttons(sent) if b.startswith("c:recognise:")))
    assert "công nhận 2 hộ (2 hộ nghèo, 0 hộ cận nghèo)" in text_of(sent)
    documents = [m for m in sent if m.get("document")]
    names = [d["document"]["file_name"] for d in documents]
    assert names[:3] == ["quyet_dinh_cong_nhan.docx", "giay_chung_nhan_mau_03.docx", "danh_sach_kem_quyet_dinh.xlsx"]
    assert names[3].startswith("7_1_") and names[3].endswith(".xlsx")  # the official Biểu 7.1
    official = load_workbook(io.BytesIO(api.files[documents[3]["document"]["file_id"]])).active
    cells = [c for row in official.iter_rows(values_only=True) for c in row if c is not None]
    assert "Số liệu chính thức theo quyết định công nhận" in " ".join(str(c) for c in cells)
    total = next(r for r in official.iter_rows(values_only=True) if r[1] == "Tổng cộng (I + II)")
    assert total[4] == 2  # the two households the decision recognised as poor
    certs = Document(io.BytesIO(api.files[documents[1]["document"]["file_id"]]))  # Mẫu 03, as Word
    text = [p.text for p in certs.paragraphs]
    assert text.count("GIẤY CHỨNG NHẬN HỘ NGHÈO, HỘ CẬN NGHÈO") == 2
    assert [t.split(": ")[1].split(".")[0] for t in text if t.startswith("Hộ gia đình ông/bà")] == [
        "Hoàng Văn Minh", "Nông Văn Tư"]
    async with service.db.transaction() as s:
        reviews = {r.household_id: r for r in (await s.scalars(select(Review))).all()}
        submitted = (await s.scalars(select(ReportSubmission))).all()
    assert reviews[minh.id].stage == "recognised" and reviews[minh.id].final_class == "poor"
    assert reviews[applicant_id].final_class == "poor" and reviews[applicant_id].origin == "applicant"
    assert submitted == []  # the plan's request waits for a decision covering Lý Thị Mai too
    assert "Số liệu chính thức (đã công nhận): 2 hộ" in text_of(await harness.say(officer, "/tiendo"))

    # 10. after approval: ds_bhyt (a report job) and the national export, members one per line
    commune_id = (await _user(service, officer)).unit_id
    await harness.say(officer, f"/baocao ds_bhyt #{commune_id}")
    got = await api.until_sent(officer.chat["id"], lambda ms: any(
        (m.get("document") or {}).get("file_name", "").startswith("ds_bhyt") for m in ms))
    assert got
    sent = await harness.say(officer, "/xuatdl")
    rows = list(csv.DictReader(io.StringIO(api.files[sent[-1]["document"]["file_id"]].decode("utf-8-sig"))))
    assert len(rows) == 6  # 3 members in each of the two households
    assert {r["ho_ten_chu_ho"] for r in rows} == {"Hoàng Văn Minh", "Nông Văn Tư"}
    assert rows[0]["cccd_chu_ho"] == BASE["chu_ho_cccd"] and rows[0]["so_qd_cong_nhan"] == "45/QĐ-UBND"
    assert rows[1]["ho_ten_thanh_vien"] == POOR["members"][1]["ho_ten"] and "m_nam_sinh" in rows[0]
    assert rows[1]["cccd_thanh_vien"] == POOR["members"][1]["cccd"]  # member-level ID numbers

    # every step in the audit log, with who and when
    async with service.db.transaction() as s:
        audit = (await s.scalars(select(AuditLog).where(AuditLog.household_id == applicant_id))).all()
        steps = (await s.scalars(select(ReviewStep).where(ReviewStep.household_id == applicant_id))).all()
    actions = [a.action for a in audit]
    for step in ("applied", "screened", "surveyed", "meeting", "minutes", "photo", "location", "posted",
                 "check_ok", "opinion", "recognised"):
        assert step in actions, step
    assert all(a.user_id is not None and a.at is not None for a in audit)
    assert [s.step for s in steps] == ["applied", "screened", "surveyed", "meeting", "posted", "opinion",
                                       "check_ok", "check_ok", "check_ok", "recognised"]
    async with service.db.transaction() as s:
        minh_actions = [a.action for a in (await s.scalars(select(AuditLog).where(
            AuditLog.household_id == minh.id))).all()]
    assert {"listed", "complaint", "complaint_done"} <= set(minh_actions)
    photo_dir = Path(service.settings.data_dir) / "household_files" / str(applicant_id)
    assert (photo_dir / "1.jpg").read_bytes() == b"\xff\xd8house"
    assert oct((photo_dir / "1.jpg").stat().st_mode & 0o777) == "0o600"


async def _user(service: Any, tg: TgUser) -> User:
    async with service.db.transaction() as s:
        return (await s.scalars(select(User).where(User.external_id == str(tg.user_id)))).one()


def test_a_wrong_procedure_file_names_file_and_line(tmp_path: Path) -> None:
    good = Path(load_procedure().path).read_text(encoding="utf-8")
    bad = tmp_path / "p.yaml"
    bad.write_text(good.replace("min_agreement_percent: 50", "min_agreement_percent: 150"), encoding="utf-8")
    with pytest.raises(DataFileError) as err:
        load_procedure(bad)
    assert err.value.path == str(bad) and err.value.line is not None and "min_agreement_percent" in str(err.value)
    bad.write_text(good.replace("level: province", "level: huyen"), encoding="utf-8")
    with pytest.raises(DataFileError, match="level must be one of"):
        load_procedure(bad)
    bad.write_text(dedent(good).replace("  - {id: opinion,", "  - {id: y_kien,"), encoding="utf-8")
    with pytest.raises(DataFileError, match="unknown step 'y_kien'"):
        load_procedure(bad)


def test_procedure_values() -> None:
    """The reference's values as the file holds them: 50 %, 3 working days, who is above."""
    from datetime import date

    proc = load_procedure()
    assert proc.agreed(10, 20) and not proc.agreed(9, 20)
    assert proc.posting_end(date(2026, 11, 20)) == date(2026, 11, 24)  # Fri, Mon, Tue
    assert proc.higher_on(date(2025, 6, 30)).level == "district"  # type: ignore[union-attr]
    assert proc.higher_on(date(2025, 7, 1)).level == "province"  # type: ignore[union-attr]


def test_every_mistake_of_the_procedure_file_is_reported_at_once(tmp_path: Path) -> None:
    """Three independent mistakes (the meeting's threshold, a level, a step) come back in one
    error, each with its line."""
    good = Path(load_procedure().path).read_text(encoding="utf-8")
    changes = {"min_agreement_percent: 50": "min_agreement_percent: 150", "level: province": "level: huyen",
               "  - {id: opinion,": "  - {id: y_kien,"}
    text = good
    for old, new in changes.items():
        assert old in text
        text = text.replace(old, new)
    bad = tmp_path / "p.yaml"
    bad.write_text(text, encoding="utf-8")
    lines = text.splitlines()
    with pytest.raises(DataFileError) as err:
        load_procedure(bad)
    expected = [next(i for i, line in enumerate(lines, 1) if needle in line)
                for needle in ("min_agreement_percent: 150", "level: huyen", "{id: y_kien,")]
    assert [(e.path, e.line) for e in err.value.errors] == [(str(bad), line) for line in expected]
    for words in ("min_agreement_percent must be above 0", "level must be one of", "unknown step 'y_kien'"):
        assert words in str(err.value)
    assert "steps missing" not in str(err.value)  # the step that did not read is not also missing
