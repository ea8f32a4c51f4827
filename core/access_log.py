"""The access log: every view of a household's details, every list or report with personal
data, every export, and every account change, with who, when, what and which unit (Decree
13/2023 asks that processing of personal data be logged). Rows name ids and report ids, never
answer values."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.storage.models import AccessLog, Unit, User, utcnow
from core.units.tree import UnitTree

CLI = "cli"


def actor_of(user: User | None, channel: str | None = None, external_id: str | None = None) -> str:
    if user is not None:
        return f"{user.channel}:{user.external_id}"[:90]
    return f"{channel}:{external_id}"[:90] if channel else CLI


def record(session: AsyncSession, action: str, user: User | None, unit_id: int | None = None,
           household_id: int | None = None, detail: dict[str, Any] | None = None, actor: str | None = None) -> None:
    session.add(AccessLog(user_id=user.id if user is not None else None, actor=actor or actor_of(user), action=action,
                          unit_id=unit_id, household_id=household_id, detail=detail))


async def failures(session: AsyncSession, actor: str, action: str, within: timedelta) -> int:
    return int(await session.scalar(select(func.count()).select_from(AccessLog).where(
        AccessLog.actor == actor, AccessLog.action == action, AccessLog.at > utcnow() - within)) or 0)


async def recent(session: AsyncSession, unit: Unit | None, limit: int = 30,
                 since: datetime | None = None) -> list[tuple[AccessLog, str | None, str | None]]:
    """Entries about units inside `unit` (None: everything), newest first, with the user's name
    and the unit's name."""
    query = select(AccessLog, User.display_name, Unit.name).outerjoin(User, User.id == AccessLog.user_id).outerjoin(
        Unit, Unit.id == AccessLog.unit_id)
    if unit is not None:
        inside = select(Unit.id).where(Unit.id == unit.id)
        if unit.level != "village":
            tree = await UnitTree.of(session, unit)
            villages = tree.join(select(tree.village.id), households=False)
            communes = tree.join(select(tree.commune.id), households=False)
            districts = tree.join(select(tree.district.id), households=False)
            inside = inside.union(villages, communes, districts)
        query = query.where(AccessLog.unit_id.in_(inside))
    if since is not None:
        query = query.where(AccessLog.at >= since)
    rows = await session.execute(query.order_by(AccessLog.at.desc(), AccessLog.id.desc()).limit(limit))
    return [(log, name, unit_name) for log, name, unit_name in rows.all()]
