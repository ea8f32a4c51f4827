"""The conversation fixes through the real Telegram library and the fake Bot API (SQLite and
PostgreSQL): a refused press never edits the old message, a draft opened after a submitted
household resumes at its own question, reopening asks for a reason, and a stranger's file is
never written to disk."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core.chat.messages import ChatRef
from core.storage.models import Household
from tests.fake_telegram import FakeBotAPI, TgUser
from tests.households import NEAR_POOR, POOR, answer_for, cursor
from tests.telegram_harness import Harness


def ref(user: TgUser) -> ChatRef:
    return ChatRef("telegram", str(user.chat["id"]), str(user.user_id))


def keyboard_message(api: FakeBotAPI, user: TgUser, data: str) -> dict[str, Any]:
    return next(m for m in reversed(api.sent_to(user.chat["id"]))
                if any(b["callback_data"] == data for row in m.get("reply_markup", {}).get("inline_keyboard", [])
                       for b in row))


async def walk(harness: Harness, user: TgUser, profile: dict[str, Any], until: str) -> None:
    while (key := await cursor(harness.service, ref(user))) != until:
        assert key is not None
        await harness.say(user, answer_for(profile, key))


async def test_a_press_on_a_question_answered_by_typing_is_refused_and_edits_nothing(
    harness: Harness, people: dict[str, TgUser], api: FakeBotAPI
) -> None:
    a = people["a"]
    await harness.say(a, "/hoimoi")
    await harness.press(a, "c:new:phieu_b")
    await walk(harness, a, POOR, "dan_toc")
    old = keyboard_message(api, a, "a:dan_toc:nung")
    await harness.say(a, "Tày")  # answered by typing; the old keyboard is still on screen
    before = dict(api.messages[(a.chat["id"], old["message_id"])])
    reply = await harness.act(a, a.callback_update("a:dan_toc:nung", old))
    assert "cũ" in reply[0]["text"] or "không còn" in reply[0]["text"].lower()
    after = api.messages[(a.chat["id"], old["message_id"])]
    assert after["text"] == before["text"] and "➡️" not in after["text"]  # never shows an answer not applied
    async with harness.service.db.read() as s:
        household = (await s.scalars(select(Household))).one()
    from core.storage.repo import load_answers

    async with harness.service.db.read() as s:
        assert (await load_answers(s, household.id))["dan_toc"] == "tay"


async def test_a_draft_opened_after_a_submitted_household_resumes_at_its_own_question(
    harness: Harness, people: dict[str, TgUser]
) -> None:
    a = people["a"]
    await harness.say(a, "/hoimoi")
    await harness.press(a, "c:new:phieu_b")
    await walk(harness, a, POOR, "dan_toc")
    await harness.survey(a, NEAR_POOR)  # a second household, submitted
    async with harness.service.db.read() as s:
        draft, done = (await s.scalars(select(Household.id).order_by(Household.id))).all()
    shown = await harness.say(a, f"/mo {done}")
    assert "đã nộp" in shown[0]["text"]
    opened = await harness.say(a, f"/mo {draft}")
    assert "đang khảo sát dở" in opened[0]["text"] and "Dân tộc" in opened[-1]["text"]
    assert await cursor(harness.service, ref(a)) == "dan_toc"


async def test_reopening_over_telegram_asks_for_a_reason_and_keeps_the_count(
    harness: Harness, people: dict[str, TgUser]
) -> None:
    a, officer = people["a"], people["officer"]
    await harness.survey(a, NEAR_POOR)
    async with harness.service.db.read() as s:
        hid = (await s.scalars(select(Household.id))).one()
    await harness.say(officer, f"/mo {hid}")
    asked = await harness.press(officer, "c:reopen")
    assert "Vì sao cần mở lại" in asked[-1]["text"]
    await harness.say(officer, "Sai năm sinh của con")
    async with harness.service.db.read() as s:
        household = await s.get(Household, hid)
    assert household is not None and household.status == "submitted" and household.reopened_at is not None


async def test_a_strangers_file_is_never_written_to_disk(harness: Harness, api: FakeBotAPI) -> None:
    stranger = TgUser(api, 9999, "Người lạ")
    sent_before = len(api.sent_to(9999))
    await api.push(stranger.document_update("danh_sach.xlsx", b"PK\x03\x04 not really", "/nopbaocao x"))
    sent = await api.until_sent(9999, lambda m: len(m) > sent_before)
    assert "chưa đăng ký" in sent[-1]["text"]
    uploads = harness.service.settings.data_dir / "uploads"
    assert not uploads.exists() or not any(p.is_file() for p in uploads.rglob("*"))


async def test_everyday_words_are_read_over_telegram(harness: Harness, people: dict[str, TgUser]) -> None:
    """Synonyms (locales/vi/synonyms.yaml) typed in Telegram: polite yes/no, a number in words."""
    a = people["a"]
    await harness.say(a, "/hoimoi")
    await harness.press(a, "c:new:phieu_b")
    await walk(harness, a, POOR, "so_thanh_vien")
    await harness.say(a, "ba")  # three members, in words
    await walk(harness, a, POOR, "nha_tuong_ben")
    await harness.say(a, "dạ có")
    async with harness.service.db.read() as s:
        household = (await s.scalars(select(Household))).one()
    from core.storage.repo import load_answers

    async with harness.service.db.read() as s:
        answers = await load_answers(s, household.id)
    assert answers["so_thanh_vien"] == 3 and answers["nha_tuong_ben"] is True
