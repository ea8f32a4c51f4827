"""Short titles: the text of a report's button, checked so it is never a title cut mid-word."""

from __future__ import annotations

from pathlib import Path

from core.datafile import DataFileError

SHORT_TITLE_MAX = 40

_PUNCT = str.maketrans({c: " " for c in ",;:()\"'.+"})


def _words_of(text: str) -> list[str]:
    return text.replace("{year}", " ").lower().translate(_PUNCT).split()


def check_short_title(short: str, path: Path, line: int | None, title: str, rid: str) -> None:
    """Button text: at most 40 characters and made of whole words of the title (or the table
    number), so it is never a title cut in the middle of a word."""
    if not short or len(short) > SHORT_TITLE_MAX:
        raise DataFileError(path, line, f"short_title must be 1-{SHORT_TITLE_MAX} characters, got {len(short)}")
    allowed = set(_words_of(title)) | ({rid.lower()} if rid else set())
    text = short.lower().replace(rid.lower(), " ") if rid else short.lower()
    stray = [w for w in text.translate(_PUNCT).split() if w not in allowed]
    if stray:
        raise DataFileError(path, line, f"short_title words {stray} are not whole words of the title")
