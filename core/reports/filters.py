"""The filter language of report tables and lists: which submitted households (or their
persons, or their members) a column or a list counts.

A filter matches on outcome, start-of-period class, minority, ethnicity, a deprived indicator,
area and answers of the form; a measure is a named count or a filter. Parsing checks every key
and value (and, against the forms, every answer a filter reads) so a typo is reported with the
file and line, not as an empty column in a signed report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from core.datafile import DataFileError, Errors, check_keys, line_of, require
from core.surveys.model import QType, Survey

NAMED = {"households_total", "surveyed", "persons_total", "not_collected"}  # not_collected: a blank cell
OUTCOMES = {"poor", "near_poor", "not_poor", "average", "above_average", "below_line", "undetermined"}
PRIOR = {"poor", "near_poor", "none"}
FILTER_KEYS = {"outcome", "prior_class", "minority", "indicator", "area", "ethnicity", "ethnicity_not", "answer",
               "members", "persons"}


@dataclass(frozen=True)
class Split:
    """One of the rows each unit is printed as: "Hộ" / "Nhân khẩu" (7.2, 7.3, 7.8), or
    "- Hộ nghèo" / "- Hộ cận nghèo" (7.10)."""

    label: str
    persons: bool = False
    outcome: tuple[str, ...] = ()


@dataclass(frozen=True)
class MemberCount:
    """Count members instead of households: members who answered `question` (optionally with
    one of `values`) and whose other answers in `where` match, e.g. children (asked about
    malnutrition, so under 16) without health insurance."""

    question: str
    values: tuple[str, ...] = ()  # JSON texts; empty = any answer
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class Filter:
    """Submitted households matching every given condition (or their persons or members)."""

    outcome: tuple[str, ...] = ()
    prior_class: tuple[str, ...] = ()
    minority: bool | None = None
    indicator: int | None = None
    area: str | None = None
    ethnicity: tuple[str, ...] = ()
    ethnicity_not: tuple[str, ...] = ()
    answers: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (question, JSON texts of accepted values)
    members: MemberCount | None = None
    persons: bool = False  # count household members (nhân khẩu) instead of households

    def split(self, variant: Split) -> Filter:
        """This filter on one split row: persons instead of households, or one outcome only."""
        return replace(self, persons=self.persons or variant.persons,
                       outcome=variant.outcome or self.outcome)

    def questions(self) -> list[str]:
        names = [q for q, _ in self.answers]
        if self.members:
            names += [self.members.question, *(q for q, _ in self.members.where)]
        return names


Measure = str | Filter  # a named measure or a filter count


def parse_filter(raw: Any, path: Path, parent: Any) -> Filter:
    if not isinstance(raw, dict) or not raw:
        raise DataFileError(path, line_of(parent), f"a filter must be a mapping of {sorted(FILTER_KEYS)}")
    check_keys(raw, FILTER_KEYS, path)

    def values(key: str, allowed: set[str]) -> tuple[str, ...]:
        got = raw.get(key)
        if got is None:
            return ()
        items = tuple(got) if isinstance(got, list) else (got,)
        bad = [v for v in items if v not in allowed]
        if bad:
            raise DataFileError(path, line_of(raw, line_of(parent)), f"{key} {bad} not in {sorted(allowed)}")
        return items

    indicator = raw.get("indicator")
    if indicator is not None and (not isinstance(indicator, int) or not 1 <= indicator <= 30):
        raise DataFileError(path, line_of(raw, line_of(parent)), f"indicator must be a number 1-30, got {indicator!r}")
    area = raw.get("area")
    if area is not None and area not in ("rural", "urban"):
        raise DataFileError(path, line_of(raw, line_of(parent)), "area must be rural or urban")
    minority = raw.get("minority")
    if minority is not None and not isinstance(minority, bool):
        raise DataFileError(path, line_of(raw, line_of(parent)), "minority must be true or false")
    persons = raw.get("persons", False)
    if not isinstance(persons, bool):
        raise DataFileError(path, line_of(raw, line_of(parent)), "persons must be true or false")
    members = _members(raw["members"], path, raw) if raw.get("members") is not None else None
    return Filter(values("outcome", OUTCOMES), values("prior_class", PRIOR), minority, indicator, area,
                  word_list(raw.get("ethnicity"), path, raw), word_list(raw.get("ethnicity_not"), path, raw),
                  _answers(raw.get("answer"), path, raw), members, persons)


def word_list(raw: Any, path: Path, parent: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    if not all(isinstance(i, str) for i in items):
        raise DataFileError(path, line_of(parent), f"expected a value or a list of values, got {raw!r}")
    return tuple(items)


def _json_values(raw: Any) -> tuple[str, ...]:
    """Accepted answers as the JSON text the answers table stores (yes/no as true/false)."""
    items = raw if isinstance(raw, list) else [raw]
    return tuple(json.dumps(i, ensure_ascii=False) for i in items)


def _answers(raw: Any, path: Path, parent: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict) or not raw:
        raise DataFileError(path, line_of(parent), "answer must map question ids to accepted values")
    return tuple((str(q), _json_values(v)) for q, v in raw.items())


def _members(raw: Any, path: Path, parent: Any) -> MemberCount:
    if not isinstance(raw, dict):
        raise DataFileError(path, line_of(parent), "members must be a mapping with question, value, where")
    check_keys(raw, {"question", "value", "where"}, path)
    question = str(require(raw, "question", path, str))
    values = _json_values(raw["value"]) if "value" in raw else ()
    return MemberCount(question, values, _answers(raw.get("where"), path, raw) if raw.get("where") else ())


def check_filters_against(spec_path: str, measures: list[Measure], survey: Survey, line: int | None) -> None:
    """Every answer a filter reads is a question of the named form, with values it can take;
    one DataFileError lists every one that is not."""
    errors = Errors()
    household = {q.id: q for q in survey.household_questions()}
    member = {q.id: q for g in survey.groups() for q in g.questions}
    for m in measures:
        if not isinstance(m, Filter):
            continue
        pairs = list(m.answers)
        known = household
        if m.members:
            pairs = [(m.members.question, m.members.values), *m.members.where]
            known = member
        for qid, values in pairs:
            q = known.get(qid)
            if q is None:
                kind = "member" if m.members else "household"
                errors.add(DataFileError(spec_path, line, f"'{qid}' is not a {kind} question of form {survey.key}"))
                continue
            allowed = ({json.dumps(c.value) for c in q.choices} if q.type is QType.CHOICE
                       else {"true", "false"} if q.type is QType.YES_NO else None)
            bad = [v for v in values if allowed is not None and v not in allowed]
            if bad:
                errors.add(DataFileError(spec_path, line, f"'{qid}' cannot be {', '.join(bad)}"))
    errors.raise_any()


def parse_measure(raw: Any, path: Path, parent: Any) -> Measure:
    if isinstance(raw, str):
        if raw not in NAMED:
            raise DataFileError(path, line_of(parent), f"unknown measure '{raw}'; named measures: {sorted(NAMED)}")
        return raw
    return parse_filter(raw, path, parent)
