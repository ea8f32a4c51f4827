"""Household lists as data (core/reports/lists.yaml): which households, and which columns.

A list prints the households (or their members) a filter (core/reports/filters.py) matches,
with columns drawn from stored household facts, answers of the list's form or member answers;
loading checks each against the form so a wrong column is refused at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.datafile import DataFileError, Errors, check_keys, line_of, load_mapping, require
from core.provenance import parse_provenance
from core.reports.filters import Filter, check_filters_against, parse_filter
from core.reports.titles import check_short_title
from core.surveys.model import Survey

LISTS_FILE = Path(__file__).parent / "lists.yaml"

# Household facts the lists may print, stored on the household row at submission (not answers).
LIST_FIELDS = {"head_name", "village", "member_count", "b1_score", "b2_score", "income_per_capita",
               "deprived_count", "deprived", "prior_class", "outcome", "ethnicity"}


@dataclass(frozen=True)
class ListColumn:
    """One printed column: a household fact (`field`), an answer of the list's form (`answer`,
    printed with its choice label), or, in a per-member list, a member answer (`member`);
    `for_head` is what the head's own row shows when the form does not ask it of the head."""

    label: str
    field: str | None = None
    answer: str | None = None
    member: str | None = None
    for_head: str | None = None  # a literal, or "=field" for a household fact
    line: int = 0


@dataclass(frozen=True)
class ListSpec:
    id: str
    title: str
    filter: Filter
    members: bool
    path: str
    form: str = "phieu_b"
    short_title: str = ""
    columns: tuple[ListColumn, ...] = ()
    line: int = 0

    def answer_keys(self) -> list[str]:
        return [c.answer for c in self.columns if c.answer]

    def member_keys(self) -> list[str]:
        return [c.member for c in self.columns if c.member]


@dataclass(frozen=True)
class ListsFile:
    lists: dict[str, ListSpec]
    majority_ethnicities: tuple[str, ...]


def _list_columns(raw: Any, path: Path, members: bool, errors: Errors) -> tuple[ListColumn, ...]:
    if not isinstance(raw, list) or not raw:
        raise DataFileError(path, line_of(raw), "a column set must be a non-empty list")
    return tuple(errors.each(raw, lambda c: _list_column(c, path, members)))


def _list_column(c: Any, path: Path, members: bool) -> ListColumn:
    check_keys(c, {"label", "field", "answer", "member", "for_head"}, path)
    kinds = [k for k in ("field", "answer", "member") if k in c]
    if len(kinds) != 1:
        raise DataFileError(path, line_of(c), "a list column needs exactly one of field, answer, member")
    if "field" in c and c["field"] not in LIST_FIELDS:
        raise DataFileError(path, line_of(c), f"field '{c['field']}' is not one of {sorted(LIST_FIELDS)}")
    if "member" in c and not members:
        raise DataFileError(path, line_of(c), "member columns only go in a per-member list (members: true)")
    head = c.get("for_head")
    if head is not None and str(head).startswith("=") and str(head)[1:] not in LIST_FIELDS:
        raise DataFileError(path, line_of(c), f"for_head '{head}' names no household field")
    return ListColumn(str(require(c, "label", path, str)), c.get("field"), c.get("answer"), c.get("member"),
                      None if head is None else str(head), line_of(c) or 0)


def check_list_against(spec: ListSpec, survey: Survey) -> None:
    """Answer columns name household questions of the list's form, member columns its roster;
    one DataFileError lists every column that does not."""
    errors = Errors()
    household = {q.id for q in survey.household_questions()}
    member = survey.member_question_ids()
    for c in spec.columns:
        if c.answer and c.answer not in household:
            errors.add(DataFileError(spec.path, c.line,
                                     f"'{c.answer}' is not a household question of form {survey.key}"))
        if c.member and c.member not in member:
            errors.add(DataFileError(spec.path, c.line, f"'{c.member}' is not a member question of form {survey.key}"))
    if spec.members and not survey.groups():
        errors.add(DataFileError(spec.path, spec.line, f"form {survey.key} has no member roster for a per-member list"))
    with errors.catch():
        check_filters_against(spec.path, [spec.filter], survey, spec.line)
    errors.raise_any()


def load_lists(path: Path = LISTS_FILE) -> ListsFile:
    """The lists file; one DataFileError lists every mistake in it (each list on its own)."""
    errors = Errors()
    doc = load_mapping(path, {"lists", "majority_ethnicities", "column_sets", "provenance"}, "the lists file", errors)
    with errors.catch():
        parse_provenance(doc.get("provenance"), path)
    raw_sets = require(doc, "column_sets", path, dict)
    lists: dict[str, ListSpec] = {}
    for spec in errors.each(require(doc, "lists", path, list), lambda raw: _list(raw, path, raw_sets, errors)):
        if spec.id in lists:
            errors.add(DataFileError(path, spec.line, f"list id {spec.id} is used twice"))
        lists.setdefault(spec.id, spec)
    errors.raise_any()
    majority = tuple(str(x) for x in doc.get("majority_ethnicities") or ())
    return ListsFile(lists, majority)


def _list(raw: Any, path: Path, raw_sets: dict, errors: Errors) -> ListSpec:
    check_keys(raw, {"id", "title", "short_title", "form", "filter", "members", "columns"}, path)
    members = bool(raw.get("members", False))
    set_name = require(raw, "columns", path, str)
    if set_name not in raw_sets:
        raise DataFileError(path, line_of(raw), f"column set '{set_name}' is not in column_sets")
    title = str(require(raw, "title", path, str))
    short = str(require(raw, "short_title", path, str))
    check_short_title(short, path, line_of(raw), title, "")
    return ListSpec(str(require(raw, "id", path, str)), title,
                    parse_filter(require(raw, "filter", path, dict), path, raw), members,
                    str(path), form=str(require(raw, "form", path, str)), short_title=short,
                    columns=_list_columns(raw_sets[set_name], path, members, errors), line=line_of(raw) or 0)
