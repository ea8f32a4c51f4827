"""Forgiving parsers for answers typed on a phone keyboard.

Village heads type "1tr5", "1.500.000", "1,5 triệu", "co" without accents, or the number of a
button. Each parser either returns a clean value or raises ParseError with a locale key that
explains, in Vietnamese, what shape of answer is expected.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from core.surveys.model import Choice, QType, Question

MAX_TEXT = 300


class ParseError(ValueError):
    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def fold(text: str) -> str:
    """Lower-case, strip accents and collapse spaces, so 'Có' == 'co' and 'Nữ' == 'nu'."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", bare).strip().lower()


def clean_text(text: str) -> str:
    """Drop control characters and surplus spaces; keep Vietnamese letters as typed (NFC)."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in text)
    return re.sub(r"\s+", " ", text).strip()


_THOUSANDS = re.compile(r"^\d{1,3}(?:([.,])\d{3})(?:\1\d{3})*$")
_UNITS = {"ty": 1_000_000_000, "trieu": 1_000_000, "tr": 1_000_000, "cu": 1_000_000,
          "nghin": 1_000, "ngan": 1_000, "k": 1_000}
_MONEY_TOKEN = re.compile(r"(\d+(?:[.,]\d+)*)\s*(ty|trieu|tr|cu|nghin|ngan|k)?\s*(ruoi)?")


def _number(token: str, *, allow_fraction: bool) -> float:
    """'1.500.000' and '1,500' are thousands; '1,5' and '1.5' are decimals."""
    if re.fullmatch(r"\d+", token):
        return float(token)
    if _THOUSANDS.match(token):
        return float(re.sub(r"[.,]", "", token))
    if allow_fraction and re.fullmatch(r"\d+[.,]\d+", token):
        return float(token.replace(",", "."))
    raise ValueError(token)


def parse_money(text: str) -> int:
    s = fold(text)
    negative = s.startswith("-")
    s = s.lstrip("-+ ")
    s = re.sub(r"\b(dong|vnd)\b|(?<=\d)d\b|\s+d$", "", s).strip()
    if not s or not s[0].isdigit():
        raise ParseError("err_money")
    total = 0.0
    pos = 0
    last_unit: int | None = None
    while pos < len(s):
        m = _MONEY_TOKEN.match(s, pos)
        if not m or m.end() == pos:
            raise ParseError("err_money")
        token, unit, half = m.group(1), m.group(2), m.group(3)
        if unit:
            try:
                total += _number(token, allow_fraction=True) * _UNITS[unit]
            except ValueError:
                raise ParseError("err_money") from None
            last_unit = _UNITS[unit]
            if half:
                total += last_unit / 2
        elif last_unit is not None and re.fullmatch(r"\d+", token):
            # "1tr5" = 1.5 million, "1 triệu 200" = 1.2 million: digits after a unit are its decimals.
            total += float("0." + token) * last_unit
            last_unit = None
        elif pos == 0:
            try:
                value = _number(token, allow_fraction=False)
            except ValueError:
                raise ParseError("err_money") from None
            total += value
        else:
            raise ParseError("err_money")
        pos = m.end()
        while pos < len(s) and s[pos] == " ":
            pos += 1
    return -round(total) if negative else round(total)


def parse_integer(text: str) -> int:
    s = fold(text)
    m = re.fullmatch(r"([+-]?)(\d{1,3}(?:[.,]\d{3})+|\d+)\s*[a-z ]*", s)
    if not m:
        raise ParseError("err_integer")
    return int(m.group(1) + re.sub(r"[.,]", "", m.group(2)))


def parse_decimal(text: str) -> float:
    s = fold(text)
    m = re.fullmatch(r"([+-]?)(\d+(?:[.,]\d+)*)\s*(m2|m²|met vuong|m)?\s*", s)
    if not m:
        raise ParseError("err_decimal")
    try:
        value = _number(m.group(2), allow_fraction=True)
    except ValueError:
        raise ParseError("err_decimal") from None
    value = -value if m.group(1) == "-" else value
    return int(value) if value.is_integer() else round(value, 2)


def parse_year(text: str) -> int:
    m = re.fullmatch(r"(?:nam\s*)?(\d{4})", fold(text))
    if not m:
        raise ParseError("err_year")
    return int(m.group(1))


_YES = {"co", "c", "yes", "y", "dung", "vang", "u", "uh", "ok", "co a", "da co", "1", "x"}
_NO = {"khong", "k", "ko", "kg", "kh", "no", "n", "chua", "khong co", "2", "0"}


def parse_yes_no(text: str) -> bool:
    s = fold(text).rstrip(".!")
    if s in _YES:
        return True
    if s in _NO:
        return False
    raise ParseError("err_yes_no")


def _words(text: str) -> str:
    """Folded text with punctuation dropped, for matching 'song suoi' to 'Sông, suối, ...'."""
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", fold(text))).strip()


def parse_choice(text: str, choices: tuple[Choice, ...]) -> str:
    s = _words(text)
    if re.fullmatch(r"\d+", s):
        n = int(s)
        if 1 <= n <= len(choices):
            return choices[n - 1].value
        raise ParseError("err_choice_number", count=len(choices))
    for c in choices:
        if s in (c.value, _words(c.label), *(_words(a) for a in c.aliases)):
            return c.value
    if len(s) >= 2:
        starts = [c for c in choices if _words(c.label).startswith(s)]
        if len(starts) == 1:
            return starts[0].value
        contains = [c for c in choices if s in _words(c.label)]
        if len(contains) == 1:
            return contains[0].value
    raise ParseError("err_choice", count=len(choices))


def parse_id_number(text: str) -> str:
    digits = re.sub(r"[\s.\-]", "", text.strip())
    if not re.fullmatch(r"\d{12}|\d{9}", digits):
        raise ParseError("err_id_number")
    return digits


def parse_phone(text: str) -> str:
    digits = re.sub(r"[\s.\-()]", "", text.strip())
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) == 11:
        digits = "0" + digits[2:]
    if not re.fullmatch(r"0\d{9,10}", digits):
        raise ParseError("err_phone")
    return digits


def parse_text(text: str) -> str:
    s = clean_text(text)
    if not s or not any(ch.isalnum() for ch in s):
        raise ParseError("err_text_empty")
    if len(s) > MAX_TEXT:
        raise ParseError("err_text_long", max=MAX_TEXT)
    return s


PARSERS = {
    QType.TEXT: parse_text, QType.INTEGER: parse_integer, QType.DECIMAL: parse_decimal, QType.MONEY: parse_money,
    QType.YEAR: parse_year, QType.YES_NO: parse_yes_no, QType.ID_NUMBER: parse_id_number, QType.PHONE: parse_phone,
}


def parse_answer(question: Question, text: str) -> Any:
    """Dispatch on the question type; the caller applies min/max/constraint afterwards."""
    if len(text) > 4 * MAX_TEXT:
        raise ParseError("err_text_long", max=MAX_TEXT)
    if question.type is QType.CHOICE:
        return parse_choice(text, question.choices)
    return PARSERS[question.type](text)
