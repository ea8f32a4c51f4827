"""The service on a real database (SQLite file and PostgreSQL): whole surveys, persistence
before reply, audit, exactly-once updates, restart, and access control."""

import pytest
from sqlalchemy import func, select

from bot.app import ChatApp, build_app
from core.chat.messages import ChatRef, Incoming
from core.config import Settings
from core.conversation.engine import SurveyEngine
from core.storage.db import Database
from core.storage.models import Answer, AuditLog, Household, ProcessedUpdate
from core.storage.repo import load_answers
from tests.households import NEAR_POOR, NOT_POOR, POOR, cursor, make_village_head, run_survey


async def only_household(service: ChatApp) -> Household:
    async with service.db.transaction() as s:
        return (await s.scalars(select(Household))).one()


@pytest.mark.parametrize("profile, outcome, deprived, words", [
    (POOR, "poor", [4, 6, 9, 10], "HỘ NGHÈO"),
    (NEAR_POOR, "near_poor", [10], "HỘ CẬN NGHÈO"),
    (NOT_POOR, "not_poor", [4, 9, 10, 11, 12], "KHÔNG NGHÈO"),
])
async def test_full_survey_is_classified_stored_and_explained(
    service: ChatApp, profile: dict, outcome: str, deprived: list[int], words: str
) -> None:
    chat = await make_village_head(service)
    texts = await run_survey(service, chat, profile)
    household = await only_household(service)
    assert household.status == "submitted" and household.outcome == outcome
    assert household.deprived == deprived and household.pack_id == "nd07_2021" and household.area == "rural"
    assert household.head_name == "Hoàng Văn Minh"
    result = texts[0]
    assert words in result and "nông thôn" in result
    assert f"Thiếu hụt {len(deprived)}/12" in result
    async with service.db.transaction() as s:
        submits = await s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "submit"))
    assert submits == 1


async def test_urban_household_uses_the_urban_line(service: ChatApp) -> None:
    chat = await make_village_head(service, commune_code="5986", village="Tổ dân phố 1")  # Phường Tam Thanh
    await run_survey(service, chat, NOT_POOR)  # B1 145: above the rural 140, under the urban 175
    household = await only_household(service)
    assert household.area == "urban" and household.outcome == "poor"


async def test_every_answer_is_committed_before_the_reply_with_an_audit_row(service: ChatApp) -> None:
    chat = await make_village_head(service)
    await service.handle(chat, Incoming(text="/hoimoi phieu_b"))
    await service.handle(chat, Incoming(text="Hoàng Văn Minh"))
    # A second, independent engine on the same database sees the answer immediately.
    other = Database(service.db.url)
    try:
        async with other.transaction() as s:
            hid = (await s.scalars(select(Household.id))).one()
            assert await load_answers(s, hid) == {"chu_ho_ten": "Hoàng Văn Minh"}
            audit = (await s.scalars(select(AuditLog).where(AuditLog.action == "answer"))).one()
            assert (audit.key, audit.old_value, audit.new_value) == ("chu_ho_ten", None, "Hoàng Văn Minh")
    finally:
        await other.dispose()
    await service.handle(chat, Incoming(text="/quaylai"))
    await service.handle(chat, Incoming(text="Hoàng Văn Mạnh"))
    async with service.db.transaction() as s:
        rows = (await s.scalars(select(AuditLog).where(AuditLog.action == "answer").order_by(AuditLog.id))).all()
    assert [(r.old_value, r.new_value) for r in rows] == [
        (None, "Hoàng Văn Minh"), ("Hoàng Văn Minh", "Hoàng Văn Mạnh"),
    ]


async def test_a_redelivered_update_changes_nothing_and_gets_the_same_reply(service: ChatApp) -> None:
    chat = await make_village_head(service)
    await service.handle(chat, Incoming(text="/hoimoi phieu_b", update_id="1"))
    first = await service.handle(chat, Incoming(text="Hoàng Văn Minh", update_id="2"))
    again = await service.handle(chat, Incoming(text="Hoàng Văn Minh", update_id="2"))
    assert again.duplicate and [m.text for m in again.messages] == [m.text for m in first.messages]
    assert await cursor(service, chat) == "chu_ho_cccd"  # not advanced twice
    async with service.db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "answer")) == 1
        assert await s.scalar(select(func.count()).select_from(ProcessedUpdate)) == 2


async def test_restart_resumes_at_the_same_question_with_all_answers(settings: Settings, db: Database) -> None:
    service = await build_app(settings, db)
    chat = await make_village_head(service)
    await service.handle(chat, Incoming(text="/hoimoi phieu_b"))
    for text in ["Hoàng Văn Minh", "/boqua", "Nùng", "Bản Mới", "0912345678", "3", "2"]:
        await service.handle(chat, Incoming(text=text))
    await service.db.dispose()
    restarted = await build_app(settings, Database(settings.database_url))
    try:
        reply = await restarted.handle(chat, Incoming(text="/start"))
        texts = [m.text for m in reply.messages]
        assert any("khảo sát dở hộ #1" in t for t in texts)
        assert "Giới tính của thành viên thứ 1" in texts[-1]
        assert texts[-1].startswith("Câu 8 · Phần 3/4 · Thành viên 1/2 (1/")
        async with restarted.db.transaction() as s:
            answers = await load_answers(s, 1)
        assert answers["dan_toc"] == "nung" and answers["so_thanh_vien"] == 2 and answers["chu_ho_cccd"] is None
        assert answers["dien_dau_ky"] == "khong"
    finally:
        await restarted.db.dispose()


async def test_pause_then_resume(service: ChatApp) -> None:
    chat = await make_village_head(service)
    await service.handle(chat, Incoming(text="/hoimoi phieu_b"))
    await service.handle(chat, Incoming(text="Hoàng Văn Minh"))
    paused = await service.handle(chat, Incoming(payload="c:pause"))
    assert "Đã tạm dừng" in paused.messages[0].text
    resumed = await service.handle(chat, Incoming(text="/tieptuc"))
    assert resumed.messages[0].text.startswith("Câu 2 · Phần 1/4 (2/5)")


async def test_a_village_head_cannot_reach_another_village(service: ChatApp) -> None:
    first = await make_village_head(service, "u1", village="Thôn Nà Pàn")
    second = await make_village_head(service, "u2", village="Thôn Khuổi Luông")
    await run_survey(service, first, POOR)
    household = await only_household(service)
    for attempt in (Incoming(text=f"/mo {household.id}"), Incoming(payload=f"c:open:{household.id}")):
        reply = await service.handle(second, attempt)
        assert "Không tìm thấy hộ" in reply.messages[0].text
    listing = await service.handle(second, Incoming(text="/danhsach"))
    assert "Hoàng Văn Minh" not in listing.messages[0].text
    crafted = await service.handle(second, Incoming(payload=f"a:chu_ho_ten:{household.id}"))
    assert "chưa mở phiếu" in crafted.messages[0].text
    async with service.db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(Answer).where(Answer.updated_by != 1)) == 0


async def test_reopen_needs_a_reason_keeps_counting_and_resubmit_reclassifies(service: ChatApp) -> None:
    chat = await make_village_head(service)
    await run_survey(service, chat, NEAR_POOR)
    asked = await service.handle(chat, Incoming(text="/mophieu"))
    assert "lý do" in asked.messages[0].text
    household = await only_household(service)
    assert household.status == "submitted" and household.reopened_at is None  # looking is not editing
    short = await service.handle(chat, Incoming(text="ok"))
    assert "từ 3 đến 300 ký tự" in short.messages[0].text
    await service.handle(chat, Incoming(text="Sai thu nhập"))
    household = await only_household(service)
    # still counted as submitted, with its old outcome, until it is submitted again
    assert household.status == "submitted" and household.outcome == "near_poor"
    assert household.reopen_reason == "Sai thu nhập" and household.reopened_at is not None
    async with service.db.transaction() as s:
        reopen = (await s.scalars(select(AuditLog).where(AuditLog.action == "reopen"))).one()
        answers = await load_answers(s, household.id)
    assert reopen.new_value == {"previous_outcome": "near_poor", "reason": "Sai thu nhập"}
    slots = engine_for_household(service, household).view(answers).slots
    number = next(i for i, slot in enumerate(slots, 1) if slot.key == "b1_o_to")
    await service.handle(chat, Incoming(text=f"/sua {number}"))
    await service.handle(chat, Incoming(text="có"))  # a car: B1 140 + 50 = 190 > 140
    reply = await service.handle(chat, Incoming(text="/xacnhan"))
    assert "KHÔNG NGHÈO" in reply.messages[0].text
    household = await only_household(service)
    assert household.outcome == "not_poor" and household.reopened_at is None


def engine_for_household(service: ChatApp, household: Household) -> SurveyEngine:
    survey = service.forms[household.survey_id]
    return SurveyEngine(survey, {"review_year": household.review_year, "is_urban": household.area == "urban"})


async def test_stranger_and_bad_input_get_clear_messages(service: ChatApp) -> None:
    stranger = ChatRef("test", "nobody", "nobody")
    assert "chưa đăng ký" in (await service.handle(stranger, Incoming(text="/hoimoi"))).messages[0].text
    chat = await make_village_head(service)
    assert "Không có lệnh này" in (await service.handle(chat, Incoming(text="/xyz"))).messages[0].text
    assert "chưa mở phiếu" in (await service.handle(chat, Incoming(text="hello"))).messages[0].text
    menu = await service.handle(chat, Incoming(text="/hoimoi"))
    assert [b.payload for row in menu.messages[0].buttons for b in row] == ["c:new:phieu_b", "c:new:phieu_c"]
