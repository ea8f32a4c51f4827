"""The sections of a form, which the progress line counts («Phần 2/5»)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from core.datafile import DataFileError, Errors, line_of
from core.surveys.model import Item, RepeatGroup


def sections(
    raw_items: list[tuple[Any, Path]], items: list[Item | None], path: Path, include_titles: dict[Path, str | None],
    errors: Errors,
) -> tuple[list[Item], tuple[str | None, ...]]:
    """Cut the form into sections; `items` are the parsed `raw_items`, None where one failed
    (its error is already recorded, and it is left out).

    A form may name its sections (`section: "Nhà ở"` on the top-level question or group that
    opens one; an included file may carry `section:` for itself). Forms that do not still get
    sections from their structure, so no form has to change: a section starts at each included
    file and right after it, and at each repeat group and right after it. A named section also
    starts at these boundaries, so a title never spans a roster.
    """
    out: list[Item] = []
    titles: list[str | None] = []
    prev_src: Path | None = None
    prev_group = False
    for (raw, src), item in zip(raw_items, items, strict=True):
        if item is None:
            continue
        title = raw.get("section") if isinstance(raw, dict) else None
        if title is not None and (not isinstance(title, str) or not title.strip()):
            errors.add(DataFileError(src, line_of(raw), "section must be a non-empty title"))
            title = None
        is_group = isinstance(item, RepeatGroup)
        if not titles or title is not None or is_group or prev_group or src != prev_src:
            if title is None and src != path and src != prev_src:
                title = include_titles.get(src)
            titles.append(title.strip() if title else None)
        part, label = len(titles), titles[-1]
        if isinstance(item, RepeatGroup):
            qs = tuple(replace(q, part=part, section=label) for q in item.questions)
            out.append(replace(item, part=part, section=label, questions=qs))
        else:
            out.append(replace(item, part=part, section=label))
        prev_src, prev_group = src, is_group
    return out, tuple(titles)
