"""Choice lists of a form: read from the form (or a shared section), then widened with the
locale's synonyms, so a village head may type «nhà xây» where the button says «Nhà kiên cố».

Each bad choice is recorded and the rest of its list kept, so a typo in one value neither hides
the next nor makes every question of that list report an unknown list.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.datafile import DataFileError, Errors, check_keys, line_of, require
from core.surveys.model import Choice
from core.surveys.synonyms import synonyms
from core.text import words

VALUE_RE = re.compile(r"^[a-z0-9_]{1,20}$")
ChoiceLists = dict[str, tuple[Choice, ...]]


def choice_lists(raw: Any, path: Path, errors: Errors) -> ChoiceLists:
    if not isinstance(raw, dict):
        errors.add(DataFileError(path, line_of(raw), "choice_lists must map a list name to its choices"))
        return {}
    return {name: choices(items, path, raw, errors) for name, items in raw.items()}


def choices(raw: Any, path: Path, parent: Any, errors: Errors) -> tuple[Choice, ...]:
    if not isinstance(raw, list) or not raw:
        errors.add(DataFileError(path, line_of(parent), "choices must be a non-empty list"))
        return ()
    out: list[Choice] = []
    for c in raw:
        with errors.catch():
            if isinstance(c, dict):
                check_keys(c, {"value", "label", "aliases"}, path, errors)
            value = str(require(c, "value", path, (str, int)))
            if not VALUE_RE.match(value):
                raise DataFileError(path, line_of(c), f"choice value {value!r} must match {VALUE_RE.pattern}")
            if any(o.value == value for o in out):
                raise DataFileError(path, line_of(c), f"choice value '{value}' is used twice")
            aliases = c.get("aliases") or []
            out.append(Choice(value, str(require(c, "label", path, str)), tuple(str(a) for a in aliases)))
    return tuple(out)


def with_synonyms(lists: ChoiceLists, path: Path, errors: Errors) -> ChoiceLists:
    """Add the locale's synonyms (locales/vi/synonyms.yaml) to the named choice lists as aliases;
    a synonym for a value the list lacks, or one that already names another choice, is an error
    in the synonyms file."""
    table = synonyms()
    out = dict(lists)
    for name, extra in table.choices.items():
        if name not in lists:
            continue
        values = [c.value for c in lists[name]]
        for value, ws in extra.items():
            if value not in values:
                errors.add(DataFileError(table.path, ws[0].line, f"choice list '{name}' ({path.name}) has no "
                                         f"value '{value}' (values: {', '.join(values)})"))
            for w in ws:
                for other in lists[name]:
                    if other.value != value and words(w.text) in (
                            other.value, words(other.label), *(words(a) for a in other.aliases)):
                        errors.add(DataFileError(table.path, w.line, f"'{w.text}' already names the choice "
                                                 f"'{other.value}' of list '{name}' ({path.name})"))
        out[name] = tuple(replace(c, aliases=c.aliases + tuple(w.text for w in extra.get(c.value, ())))
                          for c in lists[name])
    return out
