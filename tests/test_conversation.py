"""The survey conversation as a village head and a commune officer live it (SQLite and
PostgreSQL): each draft keeps its own position, looking is not editing, villages are matched
as officers type them, drafts come first, help is real, and a province sees totals first."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import func, select

from bot.app import ChatApp, build_app
from core.chat.messages import ChatRef, Incoming
from core.storage.models import AuditLog, Household, OutboxMessage, Unit
from core.storage.repo import ensure_user, load_answers
from tests.households import NEAR_POOR, NOT_POOR, POOR, answer_for, cursor, make_village_head, run_survey


async def say(service: ChatApp, chat: ChatRef, text: str) -> list[str]:
    return [m.text for m in (await service.handle(chat, Incoming(text=text))).messages]


async def answer(service: ChatApp, chat: ChatRef, profile: dict[str, Any], count: int) -> str | None:
    """Answer `count` questions from the profile; returns the question the draft then stands at."""
    for _ in range(count):
        key = await cursor(service, chat)
        assert key is not None
        await say(service, chat, answer_for(profile, key))
    return await cursor(service, chat)


async def officer(service: ChatApp, code: str = "6202", user: str = "officer") -> ChatRef:
    async with service.db.transaction() as s:
        commune = await s.scalar(select(Unit).where(Unit.configuration == "65", Unit.code == code))
        assert commune is not None
        await ensure_user(s, "test", user, "Cán bộ xã", "commune", commune.id)
    return ChatRef("test", user, user)


async def households(service: ChatApp) -> list[Household]:
    async with service.db.read() as s:
        return list((await s.scalars(select(Household).order_by(Household.id))).all())


async def test_three_drafts_each_resume_at_their_own_question(service: ChatApp) -> None:
    head = await make_village_head(service)
    positions = {}
    for profile, steps in ((POOR, 3), (NEAR_POOR, 6), (NOT_POOR, 9)):
        await say(service, head, "/hoimoi phieu_b")
        positions[(await households(service))[-1].id] = await answer(service, head, profile, steps)
    assert len(set(positions.values())) == 3
    for hid, key in reversed(positions.items()):  # open them in another order than they were left
        opened = await say(service, head, f"/mo {hid}")
        assert f"Mở hộ #{hid}" in opened[0] and await cursor(service, head) == key


async def test_opening_a_draft_after_a_submitted_household_resumes_the_draft(service: ChatApp) -> None:
    head = await make_village_head(service)
    await say(service, head, "/hoimoi phieu_b")
    draft = (await households(service))[-1].id
    stands = await answer(service, head, POOR, 4)
    await run_survey(service, head, NEAR_POOR)
    submitted = (await households(service))[-1].id
    assert "đã nộp" in (await say(service, head, f"/mo {submitted}"))[0]
    opened = await say(service, head, f"/mo {draft}")
    assert "đã nộp" not in "\n".join(opened) and await cursor(service, head) == stands
    async with service.db.read() as s:
        submitted_before = await load_answers(s, submitted)
    await say(service, head, answer_for(POOR, stands))  # the answer goes to the draft, at its question
    async with service.db.read() as s:
        assert stands in await load_answers(s, draft)
        assert await load_answers(s, submitted) == submitted_before


async def test_an_officer_who_looks_changes_nothing_and_a_reopen_tells_the_village_head(service: ChatApp) -> None:
    head = await make_village_head(service)
    await say(service, head, "/toila")  # the village head's private chat is known
    await run_survey(service, head, NEAR_POOR)
    hid = (await households(service))[-1].id
    clerk = await officer(service)
    shown = await service.handle(clerk, Incoming(text=f"/mo {hid}"))
    assert "đã nộp" in shown.messages[0].text and shown.messages[0].buttons  # «Mở lại để sửa» offered
    await service.handle(clerk, Incoming(payload="c:reopen"))
    await say(service, clerk, "/thoat")  # leaves without giving a reason
    [h] = await households(service)
    assert h.status == "submitted" and h.reopened_at is None
    await say(service, clerk, f"/mo {hid}")
    await say(service, clerk, "/mophieu Hộ báo sai số con")
    [h] = await households(service)
    assert h.reopened_at is not None and h.status == "submitted" and h.outcome == "near_poor"
    async with service.db.read() as s:
        told = (await s.scalars(select(OutboxMessage).where(OutboxMessage.chat_id == head.chat_id))).all()
    assert len(told) == 1 and "Hộ báo sai số con" in told[0].message["text"]
    other_head = await make_village_head(service, user="u2", village="Thôn Khác")
    assert "không tìm thấy" in (await say(service, other_head, f"/mo {hid}"))[0].lower()


async def test_villages_are_matched_as_typed_and_a_duplicate_can_be_merged(service: ChatApp) -> None:
    clerk = await officer(service)
    first = await service.handle(clerk, Incoming(text="/moi Thôn Nà Pàn"))
    assert "chưa có thôn" in first.messages[0].text  # new: created only when confirmed
    await service.handle(clerk, Incoming(payload=first.messages[0].buttons[0][0].payload))
    for typed in ("/moi thon na pan", "/moi Nà Pàn", "/moi BẢN NA PAN"):
        assert "Mã mời" in (await say(service, clerk, typed))[0], typed
    async with service.db.read() as s:
        villages = (await s.scalars(select(Unit).where(Unit.level == "village"))).all()
    assert [v.name for v in villages] == ["Thôn Nà Pàn"]
    # a duplicate made before matching existed (e.g. by an import) is folded into the right one
    head = await make_village_head(service, user="dup", village="Thon Na Pan 2")
    await run_survey(service, head, POOR)
    async with service.db.read() as s:
        keep, dup = sorted((await s.scalars(select(Unit).where(Unit.level == "village"))).all(), key=lambda v: v.id)
    merged = await say(service, clerk, f"/gopthon #{dup.id} #{keep.id}")
    assert "chuyển 1 hộ" in merged[0]
    [h] = await households(service)
    assert h.village_id == keep.id
    async with service.db.read() as s:
        assert await s.get(Unit, dup.id) is None
        assert await s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "move")) == 1
    assert "Hộ #" in (await say(service, head, f"/mo {h.id}"))[0]  # the village head moved too


async def test_drafts_come_first_in_new_and_list(service: ChatApp) -> None:
    head = await make_village_head(service)
    await run_survey(service, head, NEAR_POOR)
    await say(service, head, "/hoimoi phieu_b")
    await answer(service, head, POOR, 2)
    offered = await service.handle(head, Incoming(text="/hoimoi"))
    text, buttons = offered.messages[0].text, [b for row in offered.messages[0].buttons for b in row]
    assert "1 phiếu làm dở" in text and "Câu 3 · Phần 1/4" in text
    assert buttons[0].label.startswith("▶️ Tiếp tục hộ #2 Hoàng Văn Minh") and buttons[0].payload == "c:open:2"
    assert [b.payload for b in buttons[1:]] == ["c:new:phieu_b", "c:new:phieu_c"]
    listed = (await say(service, head, "/danhsach"))[0].splitlines()
    assert listed[1].startswith("#2") and "Câu 3 · Phần 1/4" in listed[1] and listed[2].startswith("#1")


async def test_help_lists_the_roles_commands_and_explains_one(service: ChatApp) -> None:
    head = await make_village_head(service)
    clerk = await officer(service)
    head_help = (await say(service, head, "/huongdan"))[0]
    clerk_help = (await say(service, clerk, "/huongdan"))[0]
    assert "/hoimoi" in head_help and "/moi:" not in head_help and "/baocao" not in head_help
    assert "/moi:" in clerk_help and "/baocao" in clerk_help and "/hoimoi" not in clerk_help
    assert len(head_help.splitlines()) >= 12
    detail = (await say(service, head, "/huongdan sua"))[0]
    assert "/sua" in detail and "/xemlai" in detail
    assert "Không có lệnh" in (await say(service, head, "/huongdan moicanbo"))[0]


async def test_a_province_sees_totals_first_and_the_units_furthest_behind(service: ChatApp) -> None:
    async with service.db.transaction() as s:
        province = await s.scalar(select(Unit).where(Unit.configuration == "65", Unit.level == "province"))
        assert province is not None
        await ensure_user(s, "test", "prov", "Cán bộ tỉnh", "province", province.id)
    head = await make_village_head(service)
    await run_survey(service, head, POOR)
    lines = (await say(service, ChatRef("test", "prov", "prov"), "/tiendo"))[0].splitlines()
    assert lines[1].startswith("Cộng: đã nộp 1") and any("chậm nhất" in line for line in lines[2:5])
    assert len(lines) < 20  # not 66 lines of zeros


async def test_a_restart_loses_no_draft_position(service: ChatApp) -> None:
    head = await make_village_head(service)
    await say(service, head, "/hoimoi phieu_b")
    stands = await answer(service, head, POOR, 5)
    again = await build_app(dataclasses.replace(service.settings), service.db)
    resumed = [m.text for m in (await again.handle(head, Incoming(text="/start"))).messages]
    assert any("khảo sát dở" in m for m in resumed) and await cursor(again, head) == stands


async def test_a_village_head_may_answer_in_everyday_words(service: ChatApp) -> None:
    """Synonyms from locales/vi/synonyms.yaml, through the whole service: polite yes/no, numbers
    and money as words, «con trai» for «Con»."""
    words = {**POOR, "so_thanh_vien": "ba", "nha_tuong_ben": "dạ có", "nha_khung_ben": "vâng ạ",
             "nha_mai_ben": "ừ", "members": [{**POOR["members"][0]}, POOR["members"][1],
                                              {**POOR["members"][2], "quan_he": "con trai", "co_bhyt": "dạ có"}]}
    head = await make_village_head(service)
    await run_survey(service, head, words)
    [household] = await households(service)
    async with service.db.read() as s:
        answers = await load_answers(s, household.id)
    assert answers["so_thanh_vien"] == 3 and answers["nha_tuong_ben"] is True and answers["nha_mai_ben"] is True
    assert answers["tv.3.quan_he"] == "con" and household.outcome == "poor"


async def test_a_press_on_an_answered_question_is_refused_and_applies_nothing(service: ChatApp) -> None:
    head = await make_village_head(service)
    await say(service, head, "/hoimoi phieu_b")
    await answer(service, head, POOR, 2)
    assert await cursor(service, head) == "dan_toc"
    fresh = await service.handle(head, Incoming(payload="a:dan_toc:nung"))  # the question on screen
    assert not fresh.refused and await cursor(service, head) != "dan_toc"
    await say(service, head, "/quaylai")
    await say(service, head, "Tày")  # typed this time; the old keyboard is still on the phone
    stale = await service.handle(head, Incoming(payload="a:dan_toc:nung"))
    assert stale.refused and await cursor(service, head) != "dan_toc"
    [household] = await households(service)
    async with service.db.read() as s:
        assert (await load_answers(s, household.id))["dan_toc"] == "tay"
