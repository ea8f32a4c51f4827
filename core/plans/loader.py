"""Reads and checks plan files; every error names the file and line, like the forms.

A plan file is either for one year (`year: 2023`, dates YYYY-MM-DD or relative to that year)
or for several (`years: "2025-2030"` or `years: any`, dates MM-DD or {month, day, year_offset}):
the latter is read again for each review year, so a fresh install has a plan whatever the year.
"""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.datafile import DataFileError, Errors, check_keys, line_of, load_mapping, require
from core.plans.inspection import OWED_BY, parse_inspection
from core.plans.model import LEVEL_RANK, Phase, Plan, ReportRequest
from core.provenance import parse_provenance

PLANS_DIR = Path(__file__).parent / "files"
TOP_KEYS = {"id", "version", "title", "year", "years", "units_configuration", "timezone", "notice_time",
            "catch_up_hours", "defaults", "phases", "reports", "source", "reliability", "provenance", "inspection"}
PHASE_KEYS = {"id", "title", "start", "end", "actors", "note", "draft_reminders_every_days", "inspected_only"}
REPORT_KEYS = {"id", "title", "from", "to", "opens", "due", "forms", "remind_days_before", "overdue_days_after",
               "owed_by", "document"}
DEFAULT_KEYS = {"remind_days_before", "overdue_days_after"}
RELIABILITY = {"confirmed", "secondary", "recollection", "sample"}
# the 65-commune configuration (from 1 July 2025) has no district level
CONFIG_LEVELS = {"200": set(LEVEL_RANK), "194": set(LEVEL_RANK), "65": set(LEVEL_RANK) - {"district"}}
ANY_YEARS = (1900, 9999)
_MONTH_DAY = re.compile(r"^(\d{1,2})-(\d{1,2})$")
_YEARS = re.compile(r"^(\d{4})\s*-\s*(\d{4})$")


def load_plans(directory: Path = PLANS_DIR) -> list[Plan]:
    """Every plan file; a file for several years is read for this year (or the nearest year it
    covers) and read again for the review year by `plan_for_year`. A one-year file whose id is
    `<template>_<year>` replaces the several-year file for that year, so one year can be
    corrected without touching the others. One DataFileError lists the mistakes of every file."""
    errors = Errors()
    plans = errors.each(sorted(directory.glob("*.yaml")), load_plan)
    seen: dict[str, Path] = {}
    for plan in plans:
        key = plan.template or plan.id
        if key in seen:
            errors.add(DataFileError(plan.path, 1, f"plan id '{key}' is also used by {seen[key]}"))
        seen[key] = plan.path
    errors.raise_any()
    fixed = {p.id for p in plans if p.template is None}
    return [p for p in plans if p.template is None or p.id not in fixed]


def plan_for_year(plan: Plan, year: int) -> Plan:
    """The same plan file read for another review year (a one-year plan is returned as it is)."""
    if plan.template is None:
        return plan
    if not plan.covers(year):
        raise ValueError(f"plan '{plan.template}' ({plan.path.name}) does not cover {year}")
    return load_plan(plan.path, year)


def load_plan(path: Path, year: int | None = None) -> Plan:
    """One plan file, every mistake in it reported at once (each phase and request on its own)."""
    errors = Errors()
    doc = load_mapping(path, TOP_KEYS, "a plan", errors)
    plan_id = str(require(doc, "id", path, str))
    years = _years(doc, path)
    if years is None:
        year = require(doc, "year", path, int)
    elif year is None:  # the current year, kept inside the plan's range
        year = min(max(date.today().year, years[0]), years[1])
    elif not years[0] <= year <= years[1]:
        raise DataFileError(path, line_of(doc), f"this plan covers {years[0]}-{years[1]}, not {year}")
    when = _When(year, several=years is not None)
    config, levels = "", set(LEVEL_RANK)
    with errors.catch():
        config = str(require(doc, "units_configuration", path, (str, int)))
        if config not in CONFIG_LEVELS:
            raise DataFileError(path, line_of(doc), f"units_configuration must be one of {sorted(CONFIG_LEVELS)}")
        levels = CONFIG_LEVELS[config]
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    try:
        tz = ZoneInfo(str(doc.get("timezone", "Asia/Ho_Chi_Minh")))
    except (ZoneInfoNotFoundError, ValueError):
        errors.add(DataFileError(path, line_of(doc), f"unknown timezone {doc.get('timezone')!r}"))
    defaults = doc.get("defaults") or {}
    if not isinstance(defaults, dict):
        errors.add(DataFileError(path, line_of(doc), "'defaults' must be a mapping"))
        defaults = {}
    check_keys(defaults, DEFAULT_KEYS, path, errors)
    reliability = str(doc.get("reliability", "sample"))
    if reliability not in RELIABILITY:
        errors.add(DataFileError(path, line_of(doc), f"reliability must be one of {sorted(RELIABILITY)}"))
    catch_up = doc.get("catch_up_hours", 24)
    if not isinstance(catch_up, int) or catch_up < 0:
        errors.add(DataFileError(path, line_of(doc), "catch_up_hours must be a whole number of hours, 0 or more"))
    phase_nodes: list[Any] = []
    report_nodes: list[Any] = []
    with errors.catch():
        phase_nodes = _items(doc, "phases", path)
    with errors.catch():
        report_nodes = _items(doc, "reports", path, required=False)
    phases = tuple(errors.each(phase_nodes, lambda node: _phase(node, path, levels, when)))
    reports = tuple(errors.each(report_nodes, lambda node: _report(node, path, levels, defaults, when)))
    for kind, items in (("phase", phases), ("report", reports)):
        ids = [i.id for i in items]
        for item in items:
            if ids.count(item.id) > 1:
                errors.add(DataFileError(path, item.line, f"{kind} id '{item.id}' is used twice"))
    with errors.catch():
        parse_provenance(doc.get("provenance"), path)
    head: dict[str, Any] = {"inspection": None}
    with errors.catch():
        head["inspection"] = parse_inspection(doc.get("inspection"), path, {p.id for p in phases})
    for item in (*reports, *phases):
        only = getattr(item, "owed_by", None) == "inspected" or getattr(item, "inspected_only", False)
        if only and "inspection" not in doc:
            errors.add(DataFileError(path, item.line, "only inspected communes: the plan needs an 'inspection' block"))
    with errors.catch():
        head["version"] = str(require(doc, "version", path, (str, int, float)))
    with errors.catch():
        head["title"] = when.text(require(doc, "title", path, str))
    with errors.catch():
        head["notice_time"] = _time(doc.get("notice_time", "08:00"), path, line_of(doc))
    errors.raise_any()
    return Plan(
        id=f"{plan_id}_{year}" if years else plan_id,
        year=year,
        units_configuration=config,
        timezone=tz,
        catch_up=timedelta(hours=catch_up),
        phases=phases,
        reports=reports,
        source=str(doc.get("source", "")),
        reliability=reliability,
        path=path,
        template=plan_id if years else None,
        years=years,
        **head,
    )


def _years(doc: dict, path: Path) -> tuple[int, int] | None:
    if "years" not in doc:
        return None
    if "year" in doc:
        raise DataFileError(path, line_of(doc), "give either 'year' (one year) or 'years' (several), not both")
    raw = doc["years"]
    if raw == "any":
        return ANY_YEARS
    if isinstance(raw, int):
        return raw, raw
    m = _YEARS.match(str(raw))
    if not m or int(m.group(1)) > int(m.group(2)):
        raise DataFileError(path, line_of(doc), f"'years' must be like \"2025-2030\" or any, got {raw!r}")
    return int(m.group(1)), int(m.group(2))


class _When:
    """Turns the dates of a plan file into days of one review year."""

    def __init__(self, year: int, several: bool) -> None:
        self.year = year
        self.several = several

    def text(self, value: str) -> str:
        return value.replace("{year}", str(self.year))

    def day(self, node: Any, key: str, path: Path) -> date:
        value = require(node, key, path)
        line = line_of(node)
        if isinstance(value, date):
            if self.several:
                raise DataFileError(path, line, f"'{key}': a plan for several years gives days without the year, "
                                    f"as MM-DD (\"10-01\") or {{month: 10, day: 1}}; got {value}")
            return value
        offset = 0
        if isinstance(value, dict):
            check_keys(value, {"month", "day", "year_offset"}, path)
            month, day, offset = value.get("month"), value.get("day"), value.get("year_offset", 0)
            if offset not in (-1, 0, 1):
                raise DataFileError(path, line_of(value, line), f"'{key}': year_offset must be -1, 0 or 1")
        elif isinstance(value, str) and _MONTH_DAY.match(value):
            month, day = (int(x) for x in value.split("-"))
        else:
            raise DataFileError(path, line, f"'{key}' must be a date written YYYY-MM-DD, a day of the plan's "
                                f"year as MM-DD, or {{month: M, day: D}}; got {value!r}")
        if not (isinstance(month, int) and isinstance(day, int)):
            raise DataFileError(path, line_of(value, line), f"'{key}': month and day must be whole numbers")
        if (month, day) == (2, 29):
            raise DataFileError(path, line_of(value, line), f"'{key}': 29 February is not a day of every year")
        try:
            return date(self.year + offset, month, day)
        except ValueError:
            raise DataFileError(path, line_of(value, line),
                                f"'{key}': there is no day {day} in month {month}") from None


def _items(doc: dict, key: str, path: Path, required: bool = True) -> list[Any]:
    value = doc.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list) or (required and not value):
        raise DataFileError(path, line_of(doc), f"'{key}' must be a non-empty list")
    return value


def _phase(node: Any, path: Path, levels: set[str], when: _When) -> Phase:
    line = _entry(node, PHASE_KEYS, path)
    start, end = when.day(node, "start", path), when.day(node, "end", path)
    if end < start:
        raise DataFileError(path, line, f"phase ends ({end}) before it starts ({start})")
    actors = require(node, "actors", path, list)
    for actor in actors:
        _level(actor, path, line, levels)
    every = node.get("draft_reminders_every_days")
    if every is not None and (not isinstance(every, int) or every < 1):
        raise DataFileError(path, line, "draft_reminders_every_days must be a whole number of days, 1 or more")
    only = node.get("inspected_only", False)
    if not isinstance(only, bool):
        raise DataFileError(path, line, "inspected_only must be true or false")
    return Phase(id=str(require(node, "id", path, str)), title=when.text(require(node, "title", path, str)),
                 start=start,
                 end=end, actors=tuple(actors), note=node.get("note"), draft_reminders_every=every, line=line or 0,
                 inspected_only=only)


def _report(node: Any, path: Path, levels: set[str], defaults: dict, when: _When) -> ReportRequest:
    line = _entry(node, REPORT_KEYS, path)
    submitter = _level(require(node, "from", path, str), path, line, levels)
    receiver = _level(require(node, "to", path, str), path, line, levels)
    if LEVEL_RANK[receiver] <= LEVEL_RANK[submitter]:
        raise DataFileError(path, line, f"'to' ({receiver}) must be a level above 'from' ({submitter})")
    due = when.day(node, "due", path)
    opens = when.day(node, "opens", path) if node.get("opens") is not None else None
    if opens is not None and opens > due:
        raise DataFileError(path, line, f"the request opens ({opens}) after it is due ({due})")
    forms = node.get("forms") or []
    if not isinstance(forms, list):
        raise DataFileError(path, line, "'forms' must be a list of report ids, e.g. ['7.1', '7.2']")
    owed_by = node.get("owed_by", "all")
    if owed_by not in OWED_BY:
        raise DataFileError(path, line, f"'owed_by' must be one of {', '.join(sorted(OWED_BY))}, got {owed_by!r}")
    document = node.get("document")  # a Word template's id, checked against core/documents by core/datafiles.py
    if document is not None and not isinstance(document, str):
        raise DataFileError(path, line, f"'document' must be the id of a Word template, got {document!r}")
    return ReportRequest(
        id=str(require(node, "id", path, str)), title=when.text(require(node, "title", path, str)),
        submitter=submitter,
        receiver=receiver, due=due, opens=opens,
        remind_days_before=_days(node, defaults, "remind_days_before", path, line),
        overdue_days_after=_days(node, defaults, "overdue_days_after", path, line),
        forms=tuple(str(f) for f in forms), line=line or 0, owed_by=str(owed_by), document=document,
    )


def _entry(node: Any, allowed: set[str], path: Path) -> int | None:
    if not isinstance(node, dict):
        raise DataFileError(path, None, f"each phase or report must be a mapping, got {node!r}")
    check_keys(node, allowed, path)
    return line_of(node)


def _level(value: Any, path: Path, line: int | None, levels: set[str]) -> str:
    if value not in LEVEL_RANK:
        raise DataFileError(path, line, f"unknown level {value!r}; use one of {', '.join(LEVEL_RANK)}")
    if value not in levels:
        raise DataFileError(path, line, f"level '{value}' does not exist in this units_configuration")
    return str(value)


def _time(value: Any, path: Path, line: int | None) -> time:
    if isinstance(value, int):  # YAML 1.1 reads an unquoted 8:00 as 480 (base 60)
        value = f"{value // 60}:{value % 60}"
    try:
        hours, minutes = str(value).split(":")
        return time(int(hours), int(minutes))
    except ValueError as exc:
        raise DataFileError(path, line, f"notice_time must be HH:MM, got {value!r}") from exc


def _days(node: dict, defaults: dict, key: str, path: Path, line: int | None) -> tuple[int, ...]:
    value = node.get(key, defaults.get(key, []))
    if not isinstance(value, list) or not all(isinstance(v, int) and v > 0 for v in value):
        raise DataFileError(path, line, f"'{key}' must be a list of whole numbers of days, e.g. [3, 1]")
    return tuple(sorted(set(value)))
