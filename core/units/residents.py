"""Villages' resident household counts, as a commune officer types them in chat: the
denominator of every rate in the Biểu 7.x tables and charts (core/reports/). Without them a
report shows "-" for the village; the CSV import (`rasoat units villages`) is the other way in.

`/sohodan #12 135 #13 80` or `/sohodan Nà Pàn 135`: each village (its id as the list shows it,
or its name as core/units/names.py matches names; digits belong to the name when they make one,
"Thôn 1 120") followed by its count. Every pair is checked before
anything is written: one bad pair writes none, and the reply names each problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.chat import refs
from core.storage.models import Unit
from core.text import fold
from core.units.names import village_key

MOST = 20_000  # resident households of one village at most: more is a typo (a village has tens to hundreds)


@dataclass(frozen=True)
class Count:
    village: Unit
    households: int


@dataclass(frozen=True)
class Problem:
    key: str  # a message key of locales/vi/messages.yaml
    words: str  # what was typed for it


def parse(text: str, villages: list[Unit]) -> tuple[list[Count], list[Problem]]:
    """Pairs of (village, count) from the words typed; the problems, each with what was typed."""
    by_id = {v.id: v for v in villages}
    by_key: dict[str, Unit] = {}
    for village in villages:
        for key in _keys(village.name):
            by_key.setdefault(key, village)
    counts: list[Count] = []
    problems: list[Problem] = []
    for label, count in _segments(SEPARATORS.sub(" ", text).split(), by_key):
        typed = " ".join(label)
        if not label:
            problems.append(Problem("residents_no_village", count or ""))
            continue
        village = by_id.get(refs.hash_number(label[0]) or 0) if label[0].startswith("#") \
            else _named(typed, by_key)
        value = _count(count)
        if village is None:
            problems.append(Problem("residents_unknown_village", typed))
        elif count is None:
            problems.append(Problem("residents_no_count", typed))
        elif value is None or not 1 <= value <= MOST:
            problems.append(Problem("residents_bad_count", count))
        elif any(c.village.id == village.id for c in counts):
            problems.append(Problem("residents_twice", village.name))
        else:
            counts.append(Count(village, value))
    return counts, problems


# between pairs: "Nà Pàn 120, Khuổi Mỏ 80" or "...; ..." (a comma inside a number is not one)
SEPARATORS = re.compile(r"[;]|,(?!\d)")
THOUSANDS = re.compile(r"^\d{1,3}(\.\d{3})+$")  # 1.200 as written in Vietnamese


def _keys(name: str) -> set[str]:
    """A name as typed and without its kind: «Thôn Bản Cầu» is «ban cau» and «thon ban cau»,
    and «Bản Cầu» typed is «cau» and «ban cau» (Bản is a kind of village too)."""
    return {village_key(name), " ".join(fold(name).split())}


def _named(typed: str, by_key: dict[str, Unit]) -> Unit | None:
    return next((by_key[k] for k in sorted(_keys(typed)) if k in by_key), None)


def _count(word: str | None) -> int | None:
    if word is None:
        return None
    return refs.number(word.replace(".", "") if THOUSANDS.match(word) else word)


def _looks_like_count(word: str) -> bool:
    """Digits with no letter: a count, or a bad one («-5», «1,5»), never a word of a name."""
    return any(ch.isdigit() for ch in word) and not any(ch.isalpha() for ch in word)


def _segments(words: list[str], by_key: dict[str, Unit]) -> list[tuple[list[str], str | None]]:
    """(the words naming a village, its count or None): a count ends a segment, a '#id' starts
    one and takes the next word as its count; digits that make a village's name with the words
    before them are part of it."""
    segments: list[tuple[list[str], str | None]] = []
    label: list[str] = []
    for word in words:
        if word.startswith("#"):
            if label:
                segments.append((label, None))
            label = [word]
            continue
        if label and label[0].startswith("#"):  # '#12 abc': what follows an id is its count
            segments.append((label, word))
            label = []
            continue
        if not _looks_like_count(word) or _named(" ".join([*label, word]), by_key) is not None:
            label.append(word)
            continue
        segments.append((label, word))
        label = []
    if label:
        segments.append((label, None))
    return segments
