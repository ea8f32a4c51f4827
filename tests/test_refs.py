"""One parser for the references typed after a command (core/chat/refs.py), and the
commands that read them: odd digits never crash a handler."""

from __future__ import annotations

from datetime import date

import pytest

from bot.app import ChatApp
from core.chat import refs
from core.chat.messages import Incoming
from core.i18n import t
from tests.households import NEAR_POOR, make_village_head, run_survey
from tests.test_people import staff


@pytest.mark.parametrize(("text", "expected"), [
    ("12", 12), ("#12", 12), (" #12 ", 12), ("１２", 12), ("١٢", 12), ("#٣", 3),
    ("²", None), ("#²", None), ("1²", None), ("", None), (None, None), ("#", None), ("12a", None),
    ("-3", None), ("1" * 10, None), ("1" * 9, 111111111), ("½", None), ("Ⅻ", None),
])
def test_number_takes_decimal_digits_of_any_script_and_nothing_else(text: str | None, expected: int | None) -> None:
    assert refs.number(text) == expected


def test_a_hash_number_is_only_the_button_form() -> None:
    assert refs.hash_number("#7") == 7
    assert refs.hash_number("7") is None
    assert refs.hash_number("#²") is None


def test_a_unit_is_a_row_id_or_a_code() -> None:
    assert refs.unit_ref("#12") == refs.UnitRef(id=12)
    assert refs.unit_ref("6202") == refs.UnitRef(code="6202")
    assert refs.unit_ref("６２０２") == refs.UnitRef(code="6202")
    assert refs.unit_ref("²") is None
    assert refs.unit_ref("ba son") is None


@pytest.mark.parametrize(("text", "expected"), [
    ("20/10/2026", date(2026, 10, 20)), ("1.2.2026", date(2026, 2, 1)), ("２０/１０/２０２６", date(2026, 10, 20)),
    ("31/02/2026", None), ("20/10/26", None), ("hôm nay", None), (None, None),
])
def test_a_day_is_a_real_date(text: str | None, expected: date | None) -> None:
    assert refs.day(text) == expected


ODD = ("²", "#²", "١٢", "１２", "1" * 40, "#", "-1")
COMMUNE_COMMANDS = ("/moi {x}", "/gopthon {x} {x}", "/mo {x}", "/khoa {x}", "/mokhoa {x}", "/chuyenthon {x}",
                    "/tiendo {x}", "/baocao 7.1 {x}", "/khieunai {x} lý do dài", "/giaiquyet {x} bac lý do",
                    "/ykien {x} ý kiến", "/congnhan {x} {x}", "/xinthoat {x}|lý do", "/dondenghi {x}|{x}|{x}")
HEAD_COMMANDS = ("/mo {x}", "/sua {x}", "/xemlai {x}", "/phieua {x}", "/phieub {x}", "/hopdan 1/1/2026 {x} {x}={x}",
                 "/xinthoat {x}|lý do", "/hoimoi", "{x}", "/sua {x}")


async def test_odd_digits_after_any_command_get_an_answer_never_an_internal_error(service: ChatApp) -> None:
    head = await make_village_head(service)
    await run_survey(service, head, NEAR_POOR)
    clerk = await staff(service, "c1", "commune", "6202", "commune")
    internal = t("internal_error")
    for chat, commands in ((clerk, COMMUNE_COMMANDS), (head, HEAD_COMMANDS)):
        for command in commands:
            for odd in ODD:
                text = command.format(x=odd)
                reply = await service.handle(chat, Incoming(text=text))
                said = "\n".join(m.text for m in reply.messages)
                assert said and internal not in said, text
