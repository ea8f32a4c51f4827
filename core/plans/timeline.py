"""Every notice a plan implies, with the moment it is due. Pure: the same plan file always
gives the same keys, which is what lets the scheduler recognise a notice it already sent
after a restart. A key carries the day it fires, so correcting a date in the plan creates a
new notice instead of silently swallowing it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from core.plans.model import Phase, Plan, ReportRequest

PHASE_START = "phase_start"
DRAFTS = "drafts"
REPORT_OPEN = "report_open"
REPORT_REMINDER = "report_reminder"
REPORT_DUE = "report_due"
REPORT_OVERDUE = "report_overdue"
KINDS = (PHASE_START, DRAFTS, REPORT_OPEN, REPORT_REMINDER, REPORT_DUE, REPORT_OVERDUE)


@dataclass(frozen=True)
class Notice:
    key: str
    plan: Plan
    kind: str
    day: date
    fire_at: datetime
    phase: Phase | None = None
    request: ReportRequest | None = None
    days: int = 0  # days before the deadline (reminder) or after it (overdue)


def notices(plan: Plan) -> list[Notice]:
    out: list[Notice] = []

    def add(kind: str, item: str, day: date, **extra: object) -> None:
        out.append(Notice(f"{plan.id}/{kind}/{item}/{day.isoformat()}", plan, kind, day, plan.at(day),
                          **extra))  # type: ignore[arg-type]

    for phase in plan.phases:
        add(PHASE_START, phase.id, phase.start, phase=phase)
        if phase.draft_reminders_every:
            days = {phase.start + timedelta(days=n)
                    for n in range(phase.draft_reminders_every, (phase.end - phase.start).days + 1,
                                   phase.draft_reminders_every)}
            days.add(phase.end)  # the last day is the last chance
            for day in sorted(days):
                add(DRAFTS, phase.id, day, phase=phase)
    for request in plan.reports:
        if request.opens is not None:
            add(REPORT_OPEN, request.id, request.opens, request=request)
        for n in request.remind_days_before:
            day = request.due - timedelta(days=n)
            if request.opens is None or day > request.opens:
                add(REPORT_REMINDER, request.id, day, request=request, days=n)
        add(REPORT_DUE, request.id, request.due, request=request)
        for n in request.overdue_days_after:
            add(REPORT_OVERDUE, request.id, request.due + timedelta(days=n), request=request, days=n)
    out.sort(key=lambda n: (n.fire_at, n.key))
    return out
