"""Queries and writes shared by the service, the channels and the reports."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.storage.models import Answer, AuditLog, Household, Unit, User, utcnow
from core.storage.sealed import open_answer, seal_answer
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


async def households_in(session: AsyncSession, unit: Unit, limit: int = 20, drafts_only: bool = False,
                        created_by: int | None = None) -> list[Household]:
    """Households inside a unit: drafts (and submitted ones reopened for correction) first, then
    the most recently changed."""
    query = (await UnitTree.of(session, unit)).join(select(Household), households=True)
    open_first = case((Household.status == "draft", 0), (Household.reopened_at.is_not(None), 0), else_=1)
    if drafts_only:
        query = query.where((Household.status == "draft") | Household.reopened_at.is_not(None))
    if created_by is not None:
        query = query.where(Household.created_by == created_by)
    rows = await session.scalars(query.order_by(open_first, Household.updated_at.desc(), Household.id.desc())
                                 .limit(limit))
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
