"""Queries and writes shared by the service, the channels and the reports."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.storage.models import Answer, AuditLog, Household, Unit, User, utcnow
from core.units.loader import ancestors


async def load_answers(session: AsyncSession, household_id: int) -> dict[str, Any]:
    rows = await session.execute(select(Answer.key, Answer.value).where(Answer.household_id == household_id))
    return {key: value for key, value in rows.all()}


async def save_answer(
    session: AsyncSession, household_id: int, key: str, old: Any, new: Any, user_id: int | None
) -> None:
    """Upsert one answer and write its audit row in the caller's transaction."""
    row = await session.scalar(select(Answer).where(Answer.household_id == household_id, Answer.key == key))
    now = utcnow()
    if row is None:
        session.add(Answer(household_id=household_id, key=key, value=new, updated_at=now, updated_by=user_id))
    else:
        row.value, row.updated_at, row.updated_by = new, now, user_id
    session.add(AuditLog(household_id=household_id, action="answer", key=key, old_value=old, new_value=new,
                         user_id=user_id, at=now))


async def audit(session: AsyncSession, household_id: int, action: str, user_id: int | None,
                new_value: Any = None) -> None:
    session.add(AuditLog(household_id=household_id, action=action, user_id=user_id, new_value=new_value))


async def user_covers(session: AsyncSession, user: User, unit_id: int) -> bool:
    """A user may see a unit when their own unit is that unit or one above it."""
    if user.role == "admin":
        return True
    if user.unit_id is None:
        return False
    unit = await session.get(Unit, unit_id)
    return unit is not None and user.unit_id in await ancestors(session, unit)


def in_area(unit: Unit) -> Select:
    """Households whose village lies in `unit` (a village, commune, district or province)."""
    village, commune, district = aliased(Unit), aliased(Unit), aliased(Unit)
    query = select(Household).join(village, Household.village_id == village.id)
    if unit.level == "village":
        return query.where(village.id == unit.id)
    if unit.level == "commune":
        return query.where(village.parent_id == unit.id)
    query = query.join(commune, village.parent_id == commune.id)
    if unit.level == "district":
        return query.where(commune.parent_id == unit.id)
    query = query.outerjoin(district, commune.parent_id == district.id)
    return query.where(or_(commune.parent_id == unit.id, district.parent_id == unit.id))


async def households_in(session: AsyncSession, unit: Unit, limit: int = 20) -> list[Household]:
    rows = await session.scalars(in_area(unit).order_by(Household.updated_at.desc(), Household.id.desc()).limit(limit))
    return list(rows.all())


async def ensure_user(
    session: AsyncSession, channel: str, external_id: str, name: str, role: str, unit_id: int | None
) -> User:
    user = await session.scalar(select(User).where(User.channel == channel, User.external_id == external_id))
    if user is None:
        user = User(channel=channel, external_id=external_id, display_name=name, role=role, unit_id=unit_id)
        session.add(user)
        await session.flush()
    return user
