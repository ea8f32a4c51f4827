"""Where an inspection team member may look: the communes their confirmed inspection chose,
from its first day to its last, and nothing once it is closed.

Membership is the invite code the member redeemed (`inspection_invites` joined to the code's
`used_by`), so adding a member is the usual invite code and nothing else. Imports only the
tables: core/access.py asks this module, and the rest of core/inspection asks core/access.py.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.storage.models import InviteCode
from core.storage.models_inspection import InspectedUnit, Inspection, InspectionInvite

CONFIRMED, CLOSED, PROPOSED = "confirmed", "closed", "proposed"


def member_inspections(user_id: int) -> Select[tuple[int]]:
    """The inspections whose team this user joined (a SELECT of inspection ids)."""
    return (select(InspectionInvite.inspection_id).join(InviteCode, InviteCode.code == InspectionInvite.code)
            .where(InviteCode.used_by == user_id))


def open_on(day: date) -> ColumnElement[bool]:
    """The condition under which an inspection's team has access on `day`."""
    return ((Inspection.status == CONFIRMED) & Inspection.closed_at.is_(None)
            & (Inspection.starts_on <= day) & (Inspection.ends_on >= day))


async def inspected_communes(session: AsyncSession, user_id: int, day: date) -> set[int]:
    """Ids of the communes this team member reaches on `day` (empty outside every inspection)."""
    rows = await session.scalars(
        select(InspectedUnit.unit_id).join(Inspection, Inspection.id == InspectedUnit.inspection_id)
        .where(InspectedUnit.picked.is_(True), Inspection.id.in_(member_inspections(user_id)), open_on(day)))
    return set(rows.all())


async def inspected_ids(session: AsyncSession, plan_id: str) -> set[int]:
    """The communes the plan's latest confirmed (or closed) inspection chose: the units that owe
    its 'owed_by: inspected' reports (core/plans/tracking.py)."""
    inspection = await session.scalar(select(Inspection.id).where(
        Inspection.plan_id == plan_id, Inspection.status.in_((CONFIRMED, CLOSED)))
        .order_by(Inspection.id.desc()).limit(1))
    if inspection is None:
        return set()
    rows = await session.scalars(select(InspectedUnit.unit_id).where(
        InspectedUnit.inspection_id == inspection, InspectedUnit.picked.is_(True)))
    return set(rows.all())
