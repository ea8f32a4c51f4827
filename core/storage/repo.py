"""Queries and writes shared by the service, the channels and the reports."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.storage.models import Answer, AuditLog, Household, Unit, User, utcnow
from core.storage.sealed import open_answer, seal_answer
from core.units.loader import ancestors
from core.units.tree import UnitTree


async def load_answers(session: AsyncSession, household_id: int) -> dict[str, Any]:
    """Plain values: sealed ID numbers and phones are opened here."""
    rows = await session.execute(select(Answer.key, Answer.value).where(Answer.household_id == household_id))
    return {key: open_answer(session, value) for key, value in rows.all()}


async def save_answer(
    session: AsyncSession, household_id: int, key: str, old: Any, new: Any, user_id: int | None
) -> None:
    """Upsert one answer and write its audit row in the caller's transaction (ID numbers and
    phones sealed in both, with a keyed hash for look-ups)."""
    row = await session.scalar(select(Answer).where(Answer.household_id == household_id, Answer.key == key))
    now = utcnow()
    stored, lookup = seal_answer(session, key, new)
    if row is None:
        session.add(Answer(household_id=household_id, key=key, value=stored, lookup=lookup, updated_at=now,
                           updated_by=user_id))
    else:
        row.value, row.lookup, row.updated_at, row.updated_by = stored, lookup, now, user_id
    session.add(AuditLog(household_id=household_id, action="answer", key=key,
                         old_value=seal_answer(session, key, old)[0], new_value=stored, user_id=user_id, at=now))


async def audit(session: AsyncSession, household_id: int, action: str, user_id: int | None,
                new_value: Any = None) -> None:
    session.add(AuditLog(household_id=household_id, action=action, user_id=user_id, new_value=new_value))


async def unit_of(session: AsyncSession, user: User) -> Unit | None:
    """The unit a user answers for (a village head's village, an officer's commune...)."""
    return await session.get(Unit, user.unit_id) if user.unit_id else None


async def user_covers(session: AsyncSession, user: User, unit_id: int) -> bool:
    """A user may see a unit when their own unit is that unit or one above it."""
    if user.role == "admin":
        return True
    if user.unit_id is None:
        return False
    unit = await session.get(Unit, unit_id)
    return unit is not None and user.unit_id in await ancestors(session, unit)


async def households_in(session: AsyncSession, unit: Unit, limit: int = 20) -> list[Household]:
    query = (await UnitTree.of(session, unit)).join(select(Household), households=True)
    rows = await session.scalars(query.order_by(Household.updated_at.desc(), Household.id.desc()).limit(limit))
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
