"""A province's review plan: phases, who acts in them, and report requests with deadlines.

Plans change every year and an official must be able to correct a date without a programmer,
so a plan is data (`core/plans/files/*.yaml`) and these classes only hold what was read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from core.plans.inspection import InspectionRules

LEVELS = ("village", "commune", "district", "province")
LEVEL_RANK = {level: rank for rank, level in enumerate(LEVELS)}


@dataclass(frozen=True)
class Phase:
    id: str
    title: str
    start: date
    end: date
    actors: tuple[str, ...]
    note: str | None = None
    draft_reminders_every: int | None = None  # days; remind village heads of unfinished surveys
    line: int = 0
    inspected_only: bool = False  # communes among the actors: only those the plan's inspection chose


@dataclass(frozen=True)
class ReportRequest:
    """A report that every unit at `submitter` level owes the unit above it at `receiver` level."""

    id: str
    title: str
    submitter: str
    receiver: str
    due: date  # last day on which a submission is on time
    opens: date | None
    remind_days_before: tuple[int, ...]
    overdue_days_after: tuple[int, ...]
    forms: tuple[str, ...] = ()
    line: int = 0
    # "all": every unit at the submitter level owes it; "inspected": only the communes chosen
    # for the plan's inspection (core/inspection/selection.py)
    owed_by: str = "all"
    document: str | None = None  # the generated Word document that answers it (core/inspection/figures.py)


@dataclass(frozen=True)
class Plan:
    id: str
    version: str
    title: str
    year: int
    units_configuration: str
    timezone: ZoneInfo
    notice_time: time
    catch_up: timedelta  # how late a missed notice may still be sent (after downtime)
    phases: tuple[Phase, ...]
    reports: tuple[ReportRequest, ...]
    source: str = ""
    reliability: str = "sample"
    path: Path = field(default=Path("."))
    # A plan file for several years (`years: "2025-2030"` or `any`, dates as MM-DD) is read once
    # per year; `template` is then the file's id (this plan's id is `<template>_<year>`) and
    # `years` the first and last year it applies to. None for a plan of one fixed year.
    template: str | None = None
    years: tuple[int, int] | None = None
    inspection: InspectionRules | None = None  # how an inspection plan chooses communes and re-checks

    def phase(self, phase_id: str) -> Phase | None:
        return next((p for p in self.phases if p.id == phase_id), None)

    def covers(self, year: int) -> bool:
        if self.years is None:
            return year == self.year
        return self.years[0] <= year <= self.years[1]

    def at(self, day: date) -> datetime:
        """The moment notices for a day go out, in the plan's time zone."""
        return datetime.combine(day, self.notice_time, tzinfo=self.timezone)

    def local(self, moment: datetime) -> datetime:
        """A stored or current moment in the plan's time zone (SQLite hands back naive UTC)."""
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(self.timezone)

    def today(self, now: datetime) -> date:
        return self.local(now).date()

    def request(self, report_id: str) -> ReportRequest | None:
        return next((r for r in self.reports if r.id == report_id), None)

    def request_key(self, request: ReportRequest) -> str:
        return f"{self.id}/{request.id}"


# A request shows in /nopbaocao and /theodoi from its opening day (or this many days before the
# deadline when the plan gives no opening day) until this many days after the deadline.
SHOW_BEFORE_DUE = timedelta(days=14)
SHOW_AFTER_DUE = timedelta(days=60)


def request_visible(request: ReportRequest, today: date) -> bool:
    start = request.opens or request.due - SHOW_BEFORE_DUE
    return start <= today <= request.due + SHOW_AFTER_DUE
