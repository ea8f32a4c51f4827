"""Forgiving input: what village heads actually type."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.app import DataFiles
from core.i18n import fmt_money
from core.surveys.parsing import (
    ParseError,
    parse_answer,
    parse_choice,
    parse_decimal,
    parse_id_number,
    parse_integer,
    parse_money,
    parse_phone,
    parse_text,
    parse_year,
    parse_yes_no,
)


@pytest.mark.parametrize("text, value", [
    ("1tr5", 1_500_000), ("1.500.000", 1_500_000), ("1,5 triệu", 1_500_000), ("1,5 trieu", 1_500_000),
    ("1500000", 1_500_000), ("1.500.000 đồng", 1_500_000), ("1500000đ", 1_500_000), ("1,500,000", 1_500_000),
    ("1.5tr", 1_500_000), ("2 triệu rưỡi", 2_500_000), ("1 triệu 200 nghìn", 1_200_000), ("1 triệu 200", 1_200_000),
    ("800k", 800_000), ("800 nghìn", 800_000), ("1tr05", 1_050_000), ("0", 0), ("12 TR", 12_000_000),
])
def test_money(text: str, value: int) -> None:
    assert parse_money(text) == value


@pytest.mark.parametrize("text", ["", "abc", "1,5", "tr5", "1tr5 abc", "một triệu"])
def test_money_rejects_what_it_cannot_read(text: str) -> None:
    with pytest.raises(ParseError):
        parse_money(text)


@given(st.integers(min_value=0, max_value=10**11))
def test_money_reads_back_its_own_format(n: int) -> None:
    assert parse_money(fmt_money(n)) == n
    assert parse_money(str(n)) == n


@pytest.mark.parametrize("text, value", [
    ("co", True), ("Có", True), ("CÓ", True), ("c", True), ("1", True), ("có.", True),
    ("khong", False), ("Không", False), ("ko", False), ("k", False), ("2", False), ("chưa", False),
])
def test_yes_no(text: str, value: bool) -> None:
    assert parse_yes_no(text) is value


def test_choice_by_number_label_accentless_prefix_and_alias(data: DataFiles) -> None:
    q = next(q for q in data.forms["phieu_b"].household_questions() if q.id == "dan_toc")
    assert parse_choice("2", q.choices) == "tay"
    assert parse_choice("Tày", q.choices) == "tay"
    assert parse_choice("nung", q.choices) == "nung"
    assert parse_choice("mong", q.choices) == "hmong"
    assert parse_choice("san", q.choices) == "san_chay"
    with pytest.raises(ParseError) as info:
        parse_choice("9", q.choices)
    assert info.value.key == "err_choice_number"
    with pytest.raises(ParseError):
        parse_choice("Chăm", q.choices)


def test_other_types() -> None:
    assert parse_integer("3 người") == 3
    assert parse_decimal("45,5") == 45.5 and parse_decimal("60 m2") == 60
    assert parse_year("năm 1985") == 1985
    assert parse_id_number("020 180 001 234") == "020180001234"
    assert parse_phone("+84 912 345 678") == "0912345678"
    assert parse_text("  Hoàng\x00 Văn\tMinh ") == "Hoàng Văn Minh"
    for bad, fn in [("3.5", parse_integer), ("85", parse_year), ("12345", parse_id_number), ("12", parse_phone),
                    ("   ", parse_text), ("x" * 400, parse_text)]:
        with pytest.raises(ParseError):
            fn(bad)


@given(st.text(max_size=2000))
def test_no_input_crashes_any_question_type(data: DataFiles, text: str) -> None:
    """Whatever is typed, each parser returns a value or a ParseError (which becomes a re-ask)."""
    questions = data.forms["phieu_b"].household_questions() + list(data.forms["phieu_b"].groups()[0].questions)
    for q in questions:
        if not q.asked:
            continue
        try:
            parse_answer(q, text)
        except ParseError as exc:
            assert exc.key.startswith("err_")
