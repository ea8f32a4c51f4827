"""Who owes which report, who has submitted it, and which group chats speak for a unit.

A plan names levels ("communes report to their district"); this module turns a level into
the units of the plan's configuration, using one in-memory index of the unit tree (a few
thousand rows for a province) rather than one query per unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.inspection.scope import inspected_ids
from core.plans.model import Plan, ReportRequest
from core.storage.models import GroupBinding, ReportSubmission, Unit, User


class UnitIndex:
    def __init__(self, units: list[Unit]) -> None:
        self.by_id = {u.id: u for u in units}

    @classmethod
    async def load(cls, session: AsyncSession, configuration: str) -> UnitIndex:
        return cls(list((await session.scalars(select(Unit).where(Unit.configuration == configuration))).all()))

    def ancestor_at(self, unit: Unit, level: str) -> Unit | None:
        current: Unit | None = unit
        while current is not None and current.level != level:
            current = self.by_id.get(current.parent_id) if current.parent_id else None
        return current

    def at_level(self, level: str, under: Unit | None = None) -> list[Unit]:
        units = [u for u in self.by_id.values() if u.level == level]
        if under is not None:
            units = [u for u in units if (a := self.ancestor_at(u, under.level)) is not None and a.id == under.id]
        return sorted(units, key=lambda u: (u.code or "", u.name))


@dataclass(frozen=True)
class UnitStatus:
    unit: Unit
    submission: ReportSubmission | None

    def late_days(self, plan: Plan, request: ReportRequest, now: datetime) -> int:
        """Days past the deadline: of the submission if there is one, else of today."""
        when = self.submission.submitted_at if self.submission else now
        return max(0, (plan.today(when) - request.due).days)


async def submissions(session: AsyncSession, plan: Plan, request: ReportRequest) -> dict[int, ReportSubmission]:
    rows = await session.scalars(select(ReportSubmission).where(
        ReportSubmission.request_key == plan.request_key(request)))
    return {r.unit_id: r for r in rows.all()}


async def owing(session: AsyncSession, plan: Plan, request: ReportRequest) -> set[int] | None:
    """The units that owe a request when only some do ('owed_by: inspected': the communes the
    plan's inspection chose, none before it is confirmed); None when every unit of the level does."""
    if request.owed_by != "inspected":
        return None
    return await inspected_ids(session, plan.id)


async def status(session: AsyncSession, index: UnitIndex, plan: Plan, request: ReportRequest,
                 receiver: Unit | None = None) -> list[UnitStatus]:
    """Every unit that owes the report (under `receiver`, when given) with its submission."""
    done = await submissions(session, plan, request)
    only = await owing(session, plan, request)
    return [UnitStatus(u, done.get(u.id)) for u in index.at_level(request.submitter, receiver)
            if only is None or u.id in only]


async def record(session: AsyncSession, plan: Plan, request: ReportRequest, unit: Unit, user: User,
                 now: datetime, file_name: str | None = None, file_path: str | None = None) -> bool:
    """Store a submission; a later file replaces an earlier one. True when it is the first."""
    key = plan.request_key(request)
    row = await session.scalar(select(ReportSubmission).where(
        ReportSubmission.request_key == key, ReportSubmission.unit_id == unit.id).with_for_update())
    if row is not None:
        if file_path:
            row.file_name, row.file_path = file_name, file_path
        return False
    session.add(ReportSubmission(request_key=key, unit_id=unit.id, submitted_at=now, submitted_by=user.id,
                                 channel=user.channel, file_name=file_name, file_path=file_path))
    await session.flush()
    return True


async def groups_of(session: AsyncSession, unit_ids: list[int]) -> dict[int, list[GroupBinding]]:
    """The group chats bound to each unit (a unit may have one per channel, or several)."""
    out: dict[int, list[GroupBinding]] = {}
    if not unit_ids:
        return out
    rows = await session.scalars(select(GroupBinding).where(GroupBinding.unit_id.in_(unit_ids))
                                 .order_by(GroupBinding.id))
    for binding in rows.all():
        out.setdefault(binding.unit_id, []).append(binding)
    return out
