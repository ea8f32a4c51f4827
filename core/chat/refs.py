"""References typed after a command: a household or user number (`12`, `#12`), a unit (its
GSO code `6202` or `#id`), a date (`20/10/2026`), a count.

Every command reads its arguments through these few functions, so the same text means the
same thing everywhere. A digit is a decimal digit of any script (a phone keyboard may send
full-width `１２` or Arabic-Indic `١٢`); superscripts and other "digits" that are not
decimal (`²`) are not numbers, and nothing here raises on odd input.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

MAX_DIGITS = 9  # ids and counts: a 40-digit "number" is a typo, not a household
DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")


def digits(text: str) -> str | None:
    """The text as ASCII digits when every character is a decimal digit, else None."""
    if not text or not all(ch.isdecimal() for ch in text):
        return None
    return "".join(str(unicodedata.decimal(ch)) for ch in text)


def number(text: str | None, max_digits: int = MAX_DIGITS) -> int | None:
    """'12' or '#12' (what buttons send) as 12; anything else, None."""
    ascii_digits = digits((text or "").strip().removeprefix("#"))
    if ascii_digits is None or len(ascii_digits) > max_digits:
        return None
    return int(ascii_digits)


def hash_number(word: str | None) -> int | None:
    """Only the '#12' form: an id picked from a button, never a bare code or count."""
    word = (word or "").strip()
    return number(word) if word.startswith("#") else None


@dataclass(frozen=True)
class UnitRef:
    """A unit named by its row id ('#12') or by its official code ('6202')."""

    id: int | None = None
    code: str | None = None


def unit_ref(text: str | None) -> UnitRef | None:
    text = (text or "").strip()
    if text.startswith("#"):
        n = number(text)
        return UnitRef(id=n) if n is not None else None
    code = digits(text)
    return UnitRef(code=code) if code is not None and len(code) <= MAX_DIGITS else None


def day(text: str | None) -> date | None:
    """'20/10/2026', '20.10.2026' or '20-10-2026'; None for anything else or a date that does not exist."""
    m = DATE.match(unicodedata.normalize("NFKC", text or "").strip())
    if not m:
        return None
    try:
        return date(int(m[3]), int(m[2]), int(m[1]))
    except ValueError:
        return None
