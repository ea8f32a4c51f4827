"""Forgiving parsers for answers typed on a phone keyboard.

Village heads type "1tr5", "1.500.000", "1,5 triệu", "co" without accents, or the number of a
button. Each parser either returns a clean value or raises ParseError with a locale key that
explains, in Vietnamese, what shape of answer is expected.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from core.surveys.model import Choice, QType, Question
from core.surveys.synonyms import Synonyms, synonyms
from core.text import clean_text, fold, words

MAX_TEXT = 300


class ParseError(ValueError):
    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


_THOUSANDS = re.compile(r"^\d{1,3}(?:([.,])\d{3})(?:\1\d{3})*$")


@lru_cache(maxsize=4)
def _money_patterns(table: Synonyms) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The token and currency patterns, built from the locale's unit words (longest first, so
    'trieu' is not read as 'tr' + 'ieu')."""
    units = "|".join(sorted(map(re.escape, table.money_units), key=len, reverse=True))
    half = "|".join(sorted(map(re.escape, table.money_half), key=len, reverse=True))
    token = re.compile(rf"(\d+(?:[.,]\d+)*)\s*({units})?\s*({half})?")
    currency = "|".join(sorted(map(re.escape, table.currency), key=len, reverse=True))
    return token, re.compile(rf"(?<![a-z])(?:{currency})(?![a-z])")


def _spell_out(s: str, table: Synonyms) -> str:
    """Number words to digits ('mot trieu hai' -> '1 trieu 2', 'hai tram nghin' -> '200 nghin'),
    longest phrase first so 'hai muoi' is 20, not 2 and 10."""
    tokens = s.split(" ")
    out: list[str] = []
    i = 0
    while i < len(tokens):
        for n in range(min(table.longest_number, len(tokens) - i), 0, -1):
            phrase = " ".join(tokens[i:i + n])
            if phrase in table.numbers:
                out.append(str(table.numbers[phrase]))
                i += n
                break
        else:
            out.append(tokens[i])
            i += 1
        if out[-1].isdigit() and i < len(tokens) and tokens[i] in table.hundred:
            out[-1] = str(int(out[-1]) * 100)
            i += 1
    return " ".join(out)


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
    table = synonyms()
    token_re, currency_re = _money_patterns(table)
    s = fold(text)
    negative = s.startswith("-")
    s = s.lstrip("-+ ")
    s = re.sub(r"\s+", " ", currency_re.sub(" ", s)).strip()
    s = _spell_out(s, table)
    if not s or not s[0].isdigit():
        raise ParseError("err_money")
    total = 0.0
    pos = 0
    last_unit: int | None = None
    while pos < len(s):
        m = token_re.match(s, pos)
        if not m or m.end() == pos:
            raise ParseError("err_money")
        token, unit, half = m.group(1), m.group(2), m.group(3)
        if unit:
            try:
                total += _number(token, allow_fraction=True) * table.money_units[unit]
            except ValueError:
                raise ParseError("err_money") from None
            last_unit = table.money_units[unit]
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
    if m:
        return int(m.group(1) + re.sub(r"[.,]", "", m.group(2)))
    spoken = _spoken_integer(words(text), synonyms())
    if spoken is None:
        raise ParseError("err_integer")
    return spoken


def _spoken_integer(s: str, table: Synonyms) -> int | None:
    """'muoi hai' -> 12 and 'bon nguoi' -> 4; 'ba bon' (three or four) is refused, not guessed."""
    tokens = s.split(" ") if s else []
    singles = {p for p in table.numbers if " " not in p}
    for n in range(min(table.longest_number, len(tokens)), 0, -1):
        phrase = " ".join(tokens[:n])
        rest = tokens[n:]
        if phrase in table.numbers and all(t.isalpha() and t not in singles for t in rest):
            return table.numbers[phrase]
    return None


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


def parse_yes_no(text: str) -> bool:
    """The whole answer first, then without polite words at either end ('vâng ạ', 'dạ không')."""
    table = synonyms()
    tokens = words(text).split(" ")
    lead = 0
    while lead < len(tokens) and tokens[lead] in table.particles:
        lead += 1
    trail = len(tokens)
    while trail > 0 and tokens[trail - 1] in table.particles:
        trail -= 1
    # fewest words dropped first, so 'vâng ạ' is 'vâng' (yes), not '' after dropping both
    cuts = sorted(((i, j) for i in range(lead + 1) for j in range(max(trail, i + 1), len(tokens) + 1)),
                  key=lambda cut: cut[0] + len(tokens) - cut[1])
    for i, j in cuts:
        s = " ".join(tokens[i:j])
        if s in table.yes:
            return True
        if s in table.no:
            return False
    raise ParseError("err_yes_no")


def yes_or_no(text: str) -> bool | None:
    """True or False when the text says yes or no (polite words allowed), else None."""
    try:
        return parse_yes_no(text)
    except ParseError:
        return None


def _without_particles(text: str) -> str:
    """The folded words of an answer without polite words at either end ('nghèo ạ', 'dạ 2 🙏')."""
    full = words(text)
    tokens = full.split(" ") if full else []
    particles = synonyms().particles
    while tokens and tokens[-1] in particles:
        tokens.pop()
    while tokens and tokens[0] in particles:
        tokens.pop(0)
    return " ".join(tokens) or full


def _core(label: str, labels: list[str]) -> str:
    """A label without a first word it shares with another label ('ho can ngheo' -> 'can ngheo'
    next to 'ho ngheo', 'nha kien co' -> 'kien co' next to 'nha don so'): what people type."""
    first, _, rest = label.partition(" ")
    shared = sum(1 for other in labels if other.split(" ")[0] == first) > 1
    return rest if shared and rest else label


NONE_CHOICE = "khong"  # the forms' value for «none» among counted choices (Không có / Không thuộc diện)


def parse_choice(text: str, choices: tuple[Choice, ...]) -> str:
    s = _without_particles(text)
    if re.fullmatch(r"\d+", s):
        n = int(s)
        if 1 <= n <= len(choices):
            return choices[n - 1].value
        raise ParseError("err_choice_number", count=len(choices))
    labels = [words(c.label) for c in choices]
    for c, label in zip(choices, labels, strict=True):
        if s in (c.value, c.value.replace("_", " "), label, _core(label, labels), *(words(a) for a in c.aliases)):
            return c.value
    said = yes_or_no(text)
    if said is not None:  # «có» is not «Không có», whose label holds the word: ask, never guess
        none = next((c.value for c in choices if c.value == NONE_CHOICE), None)
        if said is False and none is not None:  # «ko», «không ạ»: the «none» choice itself
            return none
        raise ParseError("err_choice_yes_no", options="; ".join(f"{i}. {c.label}" for i, c in enumerate(choices, 1)))
    if len(s) >= 2:
        starts = [c for c, label in zip(choices, labels, strict=True) if label.startswith(s)]
        if len(starts) == 1:
            return starts[0].value
        within = re.compile(rf"(?<![a-z0-9]){re.escape(s)}(?![a-z0-9])")
        contains = [i for i, label in enumerate(labels) if within.search(label)]
        if len(contains) == 1:
            return choices[contains[0]].value
        if len(contains) > 1:
            options = "; ".join(f"{i + 1}. {choices[i].label}" for i in contains)
            raise ParseError("err_choice_ambiguous", options=options)
    raise ParseError("err_choice_none", count=len(choices))


def parse_id_number(text: str) -> str:
    """Says what is wrong: a letter, or how many digits were typed (12 for CCCD, 9 for CMND)."""
    digits = re.sub(r"[\s.\-]", "", text.strip())
    if re.fullmatch(r"\d{12}|\d{9}", digits):
        return digits
    if not digits.isdigit():
        raise ParseError("err_id_number_letter")
    raise ParseError("err_id_number_length", n=len(digits))


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
