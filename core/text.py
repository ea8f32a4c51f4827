"""Text normalisation shared by the answer parsers and the synonym table."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache


@lru_cache(maxsize=4096)
def fold(text: str) -> str:
    """Lower-case, strip accents and collapse spaces, so 'Có' == 'co' and 'Nữ' == 'nu'. Cached:
    an answer is folded several times on its way (command words, choices, synonyms), and the
    labels and synonyms it is matched against are the same few thousand strings every time."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", bare).strip().lower()


def clean_text(text: str) -> str:
    """Drop control characters and surplus spaces; keep Vietnamese letters as typed (NFC)."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in text)
    return re.sub(r"\s+", " ", text).strip()


def words(text: str) -> str:
    """Folded text with punctuation dropped, for matching 'song suoi' to 'Sông, suối, ...'."""
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", fold(text))).strip()
