"""Issue 26 items 15-21, the conversation's dead ends as a new village head met them (SQLite and
PostgreSQL): a numbered choice that answers a submitted household, accentless and polite
choices, an empty line, errors that say what is wrong, echoed choices, accentless names, and
doubled or raw words in registration and invites."""

from __future__ import annotations

import io
from typing import Any

from sqlalchemy import select

from bot.app import ChatApp
from bot.channels.console import Console
from core.chat.messages import ChatRef, Incoming
from core.datafiles import load_data_files
from core.storage.models import Household, Unit, User
from core.storage.repo import load_answers
from core.surveys.parsing import ParseError, parse_choice
from tests.households import BASE, NEAR_POOR, cursor, make_village_head, run_survey
from tests.test_people import say, staff


async def reach(service: ChatApp, chat: ChatRef, key: str, profile: dict[str, Any] = NEAR_POOR) -> None:
    """Start a household and answer from the profile up to the question `key`."""
    await say(service, chat, "/hoimoi phieu_b")
    for _ in range(50):
        at = await cursor(service, chat)
        if at == key:
            return
        assert at is not None
        await say(service, chat, profile[at])
    raise AssertionError(f"never reached {key}")


async def answers_of(service: ChatApp) -> dict[str, Any]:
    async with service.db.read() as s:
        hid = await s.scalar(select(Household.id).order_by(Household.id.desc()))
        return dict(await load_answers(s, hid))


async def test_15_a_numbered_form_list_takes_its_own_numbers_after_a_submitted_household(service: ChatApp) -> None:
    head = await make_village_head(service)
    await run_survey(service, head, NEAR_POOR)
    offered = await say(service, head, "/hoimoi")
    assert "Chọn loại phiếu khảo sát:" in offered and "1. " in offered
    started = await say(service, head, "1")
    assert "đã nộp" not in started and "Hộ #2" in started
    async with service.db.read() as s:
        assert len((await s.scalars(select(Household.id))).all()) == 2
    # typing into a submitted household names the documented command, with its number
    await say(service, head, "/mo 1")
    reply = await say(service, head, "Có")
    assert "/mo 1" in reply and "Mở lại để sửa" in reply


async def test_16_accentless_ambiguous_and_polite_choices(service: ChatApp) -> None:
    head = await make_village_head(service)
    await reach(service, head, "dien_dau_ky")
    await say(service, head, "can ngheo")
    assert await cursor(service, head) == "so_thanh_vien"
    assert (await answers_of(service))["dien_dau_ky"] == "can_ngheo"
    await say(service, head, "/quaylai")
    await say(service, head, "nghèo ạ 🙏")
    assert (await answers_of(service))["dien_dau_ky"] == "ngheo"


async def test_16_an_ambiguous_word_lists_the_candidates_without_saying_press(service: ChatApp) -> None:
    head = await make_village_head(service)
    await reach(service, head, "dan_toc")
    await say(service, head, "Dân tộc")  # only «Dân tộc khác» holds it: taken
    assert await cursor(service, head) == "dia_chi" and (await answers_of(service))["dan_toc"] == "khac"
    await say(service, head, "/quaylai")
    reply = await say(service, head, "xyz")
    assert "bấm" not in reply.lower().split("⚠️")[1].split("\n")[0]
    loai_nha = next(q for q in load_data_files().forms["phieu_b"].household_questions() if q.id == "b1_loai_nha")
    assert parse_choice("kien co", loai_nha.choices) == "kien_co"
    try:
        parse_choice("kien", loai_nha.choices)
    except ParseError as exc:
        assert exc.key == "err_choice_ambiguous"
        assert "1. Nhà kiên cố" in exc.params["options"] and "3. Nhà thiếu kiên cố" in exc.params["options"]
    else:
        raise AssertionError("«kien» names three kinds of house")


async def test_17_an_empty_line_on_an_optional_question_is_answered_with_the_skip_hint(service: ChatApp) -> None:
    head = await make_village_head(service)
    await reach(service, head, "dia_chi")
    reply = await say(service, head, "")
    assert "/boqua" in reply and await cursor(service, head) == "dia_chi"
    assert "dia_chi" not in await answers_of(service)


async def test_17_the_console_sends_an_empty_line(service: ChatApp) -> None:
    await make_village_head(service, user="ts")
    async with service.db.transaction() as s:
        user = await s.scalar(select(User).where(User.external_id == "ts"))
        assert user is not None
        user.channel = "console"
    out = io.StringIO()
    lines = io.StringIO("/hoimoi phieu_b\nHoàng Văn Minh\n/boqua\nTày\n\n/ketthuc\n")
    console = Console(service, lines, out, user="ts")
    await console.loop()
    assert "Tin nhắn trống" in out.getvalue()


async def test_18_id_number_errors_say_what_is_wrong_and_no_points_to_skip(service: ChatApp) -> None:
    head = await make_village_head(service)
    await reach(service, head, "chu_ho_cccd")
    assert "11 chữ số" in await say(service, head, "02018000123")
    assert "13 chữ số" in await say(service, head, "0201800012345")
    assert "chữ cái" in await say(service, head, "02018000123a")
    await say(service, head, BASE["chu_ho_cccd"])
    await say(service, head, "Tày")
    await say(service, head, "/boqua")
    assert await cursor(service, head) == "so_dien_thoai"
    reply = await say(service, head, "không ạ")
    assert "/boqua" in reply and await cursor(service, head) == "so_dien_thoai"


async def test_19_a_typed_choice_is_echoed(service: ChatApp) -> None:
    head = await make_village_head(service)
    await reach(service, head, "dan_toc")
    assert (await say(service, head, "tay")).startswith("✓ Tày")


async def test_20_an_accentless_name_is_asked_about_once(service: ChatApp) -> None:
    head = await make_village_head(service)
    await say(service, head, "/hoimoi phieu_b")
    reply = await say(service, head, "Hoang Van Minh")
    assert "chưa có dấu" in reply and "/giunguyen" in reply and await cursor(service, head) == "chu_ho_ten"
    await say(service, head, "Hoàng Văn Minh")
    assert (await answers_of(service))["chu_ho_ten"] == "Hoàng Văn Minh"
    await say(service, head, "/quaylai")
    await say(service, head, "Ma Seo Chu")
    await say(service, head, "/giunguyen")  # kept as typed, after one question
    assert (await answers_of(service))["chu_ho_ten"] == "Ma Seo Chu"
    assert await cursor(service, head) == "chu_ho_cccd"


async def test_21_invites_name_villages_and_communes_once(service: ChatApp) -> None:
    clerk = await staff(service, "c1", "commune", "6202", "commune")
    empty = await say(service, clerk, "/moi")
    assert "Chọn thôn có sẵn" not in empty and "/moi Tên thôn" in empty  # no villages yet: no dead end
    offer = await service.handle(clerk, Incoming(text="/moi thon na pan"))
    text = offer.messages[0].text
    assert "Xã Xã" not in text and "«thon na pan»" not in text and "Thôn Na Pan" in text and "chưa có dấu" in text
    labels = [b.label for row in offer.messages[0].buttons for b in row]
    assert any("Thôn Na Pan" in label for label in labels) and not any("Chọn thôn có sẵn" in lb for lb in labels)
    async with service.db.read() as s:
        commune = await s.scalar(select(Unit).where(Unit.configuration == "65", Unit.code == "6202"))
    assert commune is not None and commune.name.startswith("Xã")


async def test_21_the_console_confirms_the_commune_at_once_and_says_the_village_once(service: ChatApp) -> None:
    async with service.db.read() as s:
        commune = await s.scalar(select(Unit).where(Unit.configuration == "65", Unit.code == "6202"))
    assert commune is not None
    out = io.StringIO()
    console = Console(service, io.StringIO("Nguyễn Văn A\nba son\nThôn Nà Pàn\n"), out, user="newcomer")
    assert await console.setup(None, None, None)
    text = out.getvalue()
    assert f"✓ {commune.name}" in text
    assert text.index(f"✓ {commune.name}") < text.index("Tên thôn")
    assert "trưởng thôn Thôn" not in text and "trưởng thôn Nà Pàn, Xã Ba Sơn" in text


async def test_a_name_without_letters_is_refused_and_asked_again(service: ChatApp) -> None:
    """Found in the fresh-clone trial: «12345» was taken as the head's name and the survey moved on."""
    head = await make_village_head(service)
    await say(service, head, "/hoimoi phieu_b")
    reply = await say(service, head, "12345")
    assert "Họ tên phải có chữ cái" in reply and await cursor(service, head) == "chu_ho_ten"
    await say(service, head, "Hoàng Văn Minh")
    assert (await answers_of(service))["chu_ho_ten"] == "Hoàng Văn Minh"
