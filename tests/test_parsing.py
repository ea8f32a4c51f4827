"""Forgiving input: what village heads actually type."""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.datafile import DataFileError
from core.datafiles import DataFiles
from core.i18n import fmt_money
from core.surveys import choices, loader
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
from core.surveys.synonyms import load_synonyms, synonyms
from core.text import fold


@pytest.mark.parametrize("text, value", [
    ("1tr5", 1_500_000), ("1.500.000", 1_500_000), ("1,5 triệu", 1_500_000), ("1,5 trieu", 1_500_000),
    ("1500000", 1_500_000), ("1.500.000 đồng", 1_500_000), ("1500000đ", 1_500_000), ("1,500,000", 1_500_000),
    ("1.5tr", 1_500_000), ("2 triệu rưỡi", 2_500_000), ("1 triệu 200 nghìn", 1_200_000), ("1 triệu 200", 1_200_000),
    ("800k", 800_000), ("800 nghìn", 800_000), ("1tr05", 1_050_000), ("0", 0), ("12 TR", 12_000_000),
])
def test_money(text: str, value: int) -> None:
    assert parse_money(text) == value


@pytest.mark.parametrize("text", ["", "abc", "1,5", "tr5", "1tr5 abc", "một con gà", "triệu", "hai ba triệu x"])
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


@pytest.mark.parametrize("said", ["có", "co", "dạ có", "vâng"])
@pytest.mark.parametrize("question", ["b1_xe_may", "b1_dat_sx", "b1_trau_bo"])
def test_yes_or_no_on_a_how_many_choice_is_asked_about_never_read_as_none(data: DataFiles, question: str,
                                                                            said: str) -> None:
    """«có» to «Hộ có bao nhiêu xe máy?» was saved as «Không có», the label holding the word."""
    q = next(q for q in data.forms["phieu_b"].household_questions() if q.id == question)
    with pytest.raises(ParseError) as info:
        parse_choice(said, q.choices)
    assert info.value.key == "err_choice_yes_no" and "1. Không có" in str(info.value.params)
    assert parse_choice("không có", q.choices) == "khong"  # the label itself still answers
    assert parse_choice("ko", q.choices) == parse_choice("không ạ", q.choices) == "khong"  # «none» is the choice


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


# ---- generous reading: the phrases of issue 12, then one table test per synonym family -----------

@pytest.mark.parametrize("text, value", [
    ("không ạ", False), ("dạ không", False), ("khong a", False), ("Dạ, không.", False), ("thưa không ạ", False),
    ("vâng", True), ("ừ", True), ("dạ có", True), ("vâng ạ", True), ("da co", True), ("dạ", True),
])
def test_yes_no_spoken(text: str, value: bool) -> None:
    assert parse_yes_no(text) is value


@pytest.mark.parametrize("text", ["ạ", "dạ dạ ạ xyz", "có không", "không có ạ gì"])
def test_yes_no_does_not_guess(text: str) -> None:
    with pytest.raises(ParseError):
        parse_yes_no(text)


@pytest.mark.parametrize("text, value", [
    ("bốn", 4), ("bon", 4), ("mười hai", 12), ("muoi hai", 12), ("mười lăm", 15), ("muoi lam", 15),
    ("hai mươi", 20), ("hai muoi", 20), ("Bốn người", 4), ("một", 1), ("mười", 10), ("12", 12),
])
def test_integer_words(text: str, value: int) -> None:
    assert parse_integer(text) == value


@pytest.mark.parametrize("text", ["ba bốn", "bốn năm người", "mười hai ba", "hai mươi 3", "người"])
def test_integer_words_refuse_two_numbers(text: str) -> None:
    with pytest.raises(ParseError):
        parse_integer(text)


@pytest.mark.parametrize("text, value", [
    ("một triệu hai", 1_200_000), ("mot trieu hai", 1_200_000), ("1 triệu 2", 1_200_000), ("1tr2", 1_200_000),
    ("1.2tr", 1_200_000), ("hai triệu", 2_000_000), ("500 nghìn", 500_000), ("500k", 500_000),
    ("năm trăm nghìn", 500_000), ("hai trăm nghìn đồng", 200_000), ("mười lăm triệu", 15_000_000),
    ("một triệu hai trăm nghìn", 1_200_000), ("hai triệu rưỡi", 2_500_000), ("1 củ", 1_000_000),
])
def test_money_words(text: str, value: int) -> None:
    assert parse_money(text) == value


def test_family_yes_no_every_word_and_with_particles() -> None:
    table = synonyms()
    assert table.yes and table.no and not table.yes & table.no
    particle = sorted(table.particles)[0]
    for word in table.yes:
        assert parse_yes_no(word) is True, word
        assert parse_yes_no(f"{word} {particle}") is True, word
    for word in table.no:
        assert parse_yes_no(word) is False, word
        assert parse_yes_no(f"{particle} {word} {particle}") is False, word


def test_family_numbers_every_word_as_count_and_as_money() -> None:
    table = synonyms()
    assert {table.numbers[w] for w in table.numbers} >= set(range(21))
    million = next(w for w, v in table.money_units.items() if v == 1_000_000)
    for phrase, value in table.numbers.items():
        assert parse_integer(phrase) == value, phrase
        assert parse_money(f"{phrase} {million}") == value * 1_000_000, phrase
    hundred = sorted(table.hundred)[0]
    assert parse_money(f"{next(w for w, v in table.numbers.items() if v == 3)} {hundred}") == 300


def test_family_money_units_every_word() -> None:
    table = synonyms()
    for word, unit in table.money_units.items():
        assert parse_money(f"3{word}") == 3 * unit, word
        assert parse_money(f"3 {word.upper()}") == 3 * unit, word
        assert parse_money(f"3{word}5") == 3 * unit + unit // 2, word
        for half in table.money_half:
            assert parse_money(f"3 {word} {half}") == 3 * unit + unit // 2, word
    for currency in table.currency:
        assert parse_money(f"4500 {currency}") == 4500, currency


def test_family_choices_every_synonym_in_every_form(data: DataFiles) -> None:
    table = synonyms()
    checked = 0
    for survey in data.forms.values():
        questions = survey.household_questions() + [q for g in survey.groups() for q in g.questions]
        for q in questions:
            for by_value in table.choices.values():
                if not by_value or not {c.value for c in q.choices} >= set(by_value):
                    continue
                for value, ws in by_value.items():
                    for w in ws:
                        assert parse_choice(w.text, q.choices) == value, (q.id, w.text)
                        assert parse_choice(fold(w.text).upper(), q.choices) == value, (q.id, w.text)
                        checked += 1
    assert checked >= sum(len(ws) for by_value in table.choices.values() for ws in by_value.values())


def test_issue_choices(data: DataFiles) -> None:
    member = {q.id: q for q in data.forms["phieu_b"].groups()[0].questions}
    assert parse_choice("con trai", member["quan_he"].choices) == "con"
    assert parse_choice("Con gái", member["quan_he"].choices) == "con"
    assert parse_choice("cong nhan", member["viec_lam"].choices) == "co_hd"
    assert parse_choice("Công nhân", member["viec_lam"].choices) == "co_hd"


_GOOD = (Path(__file__).parents[1] / "locales" / "vi" / "synonyms.yaml").read_text(encoding="utf-8")


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize("old, new, needle, message", [
    ("    - dạ không\n", "    - dạ không\n    - vâng  # again\n", "# again", "both yes and no"),
    ("  12: [mười hai]", "  12: [mười hai, mười một]", "  12: [", "means 11"),
    ("  1000: [nghìn, ngàn, k]", "  1000: [nghìn, ngàn, k, tr]", "  1000: [", "is the unit"),
    ("  1000: [nghìn, ngàn, k]", "  1000: [nghìn, ngàn, k, 1k]", "  1000: [", "one word of letters"),
    ("money_half: [rưỡi]", "money_half: [rưỡi, hai]", "money_half:", "already a number"),
    ("    con: [con trai", "    con: [chồng, con trai", "    vo_chong: [", "names both"),
    ("hundred: [trăm]", "hundred: [trăm]\nhundreds: [trăm]", "hundreds:", "unknown group"),
    ("  20: [hai mươi, hai chục]", "  hai mươi: [hai chục]", "  hai mươi:", "whole number"),
])
def test_bad_synonyms_file_names_file_and_line(tmp_path: Path, old: str, new: str, needle: str,
                                               message: str) -> None:
    assert old in _GOOD
    text = _GOOD.replace(old, new, 1)
    path = tmp_path / "synonyms.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError) as info:
        load_synonyms(path)
    assert info.value.path == str(path) and message in info.value.detail
    assert info.value.line == _line_of(text, needle)


@pytest.mark.parametrize("old, new, needle, message", [
    ("    con: [con trai", "    chau_noi: [cháu đích]\n    con: [con trai", "    chau_noi:", "has no value 'chau_noi'"),
    ("    con: [con trai", "    con: [bố mẹ, con trai", "    con: [", "already names the choice 'bo_me'"),
    ("  viec_lam:", "  viec_lam2:\n    x: [y]\n  viec_lam:", "  viec_lam2:", "no form has a choice list"),
])
def test_synonyms_checked_against_the_forms_at_start_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        old: str, new: str, needle: str, message: str) -> None:
    """A synonym for a choice the forms lack is refused when the forms load, naming the synonyms line."""
    text = _GOOD.replace(old, new, 1)
    path = tmp_path / "synonyms.yaml"
    path.write_text(text, encoding="utf-8")
    table = load_synonyms(path)
    monkeypatch.setattr(loader, "synonyms", lambda: table)
    monkeypatch.setattr(choices, "synonyms", lambda: table)
    with pytest.raises(DataFileError) as info:
        loader.load_forms()
    assert info.value.path == str(path) and message in info.value.detail, info.value
    assert info.value.line == _line_of(text, needle)


def test_every_mistake_of_the_synonyms_file_is_reported_at_once(tmp_path: Path) -> None:
    """Three independent mistakes (a word both yes and no, a number word meaning two numbers,
    an unknown group) come back in one error, each with its line."""
    text = _GOOD
    for old, new in (("    - dạ không\n", "    - dạ không\n    - vâng  # again\n"),
                     ("  12: [mười hai]", "  12: [mười hai, mười một]"),
                     ("hundred: [trăm]", "hundred: [trăm]\nhundreds: [trăm]")):
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp_path / "synonyms.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError) as info:
        load_synonyms(path)
    assert [(e.path, e.line) for e in info.value.errors] == [
        (str(path), _line_of(text, needle)) for needle in ("# again", "  12: [", "hundreds:")]
    for words in ("both yes and no", "means 11", "unknown group 'hundreds'"):
        assert words in str(info.value)
