"""Villages' resident household counts, as a commune officer types them in chat: the
denominator of every rate in the Biểu 7.x tables and charts (core/reports/). Without them a
report shows "-" for the village; the CSV import (`rasoat units villages`) is the other way in.

`/sohodan #12 135 #13 80` or `/sohodan Nà Pàn 135`: each village (its id as the list shows it,
or its name as core/units/names.py matches names; digits belong to the name when they make one,
"Thôn 1 120") followed by its count. Every pair is checked before
anything is written: one bad pair writes none, and the reply names each problem.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.chat import refs
from core.storage.models import Unit
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
    by_key = {village_key(v.name): v for v in villages}
    counts: list[Count] = []
    problems: list[Problem] = []
    for label, count in _segments(text.split(), by_key):
        typed = " ".join(label)
        if not label:
            problems.append(Problem("residents_no_village", count or ""))
            continue
        village = by_id.get(refs.hash_number(label[0]) or 0) if label[0].startswith("#") \
            else by_key.get(village_key(typed))
        value = refs.number(count)
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


def _segments(words: list[str], by_key: dict[str, Unit]) -> list[tuple[list[str], str | None]]:
    """(the words naming a village, its count or None): a count ends a segment, a '#id' starts
    one; digits that make a village's name with the words before them are part of it."""
    segments: list[tuple[list[str], str | None]] = []
    label: list[str] = []
    for word in words:
        if word.startswith("#"):
            if label:
                segments.append((label, None))
            label = [word]
            continue
        named = not label or not label[0].startswith("#")
        if refs.digits(word) is None or (named and village_key(" ".join([*label, word])) in by_key):
            if not named:  # '#12 abc': the id got no count
                segments.append((label, None))
                label = []
            label.append(word)
            continue
        segments.append((label, word))
        label = []
    if label:
        segments.append((label, None))
    return segments
