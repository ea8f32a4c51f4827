"""Queries and writes shared by the service, the channels and the reports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.storage.models import Answer, AuditLog, Household, Unit, User, utcnow
from core.units.tree import UnitTree


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


async def save_answers(session: AsyncSession, household: Household, changes: Sequence[tuple[str, Any, Any]],
                       user_id: int | None) -> None:
    """The batched form of save_answer for the answer path: every (key, old, new) upserted in one
    statement and audited in one more (on PostgreSQL both in one statement, the upsert as a
    data-modifying WITH), and the household's revision bumped so other workers' cached answers
    of it are stale. Same rows as save_answer writes."""
    if not changes:
        return
    now = utcnow()
    rows = [{"household_id": household.id, "key": key, "value": new, "updated_at": now, "updated_by": user_id}
            for key, _old, new in changes]
    audits = [{"household_id": household.id, "action": "answer", "key": key, "old_value": old, "new_value": new,
               "user_id": user_id, "at": now} for key, old, new in changes]
    postgres = session.get_bind().dialect.name == "postgresql"
    upsert_of = pg_insert if postgres else sqlite_insert
    upsert = upsert_of(Answer).values(rows)
    upsert = upsert.on_conflict_do_update(index_elements=[Answer.household_id, Answer.key], set_={
        "value": upsert.excluded.value, "updated_at": upsert.excluded.updated_at,
        "updated_by": upsert.excluded.updated_by})
    if postgres:
        await session.execute(insert(AuditLog).values(audits).add_cte(upsert.returning(Answer.id).cte("saved")))
    else:
        await session.execute(upsert)
        await session.execute(insert(AuditLog).values(audits))
    household.revision = (household.revision or 0) + 1


async def audit(session: AsyncSession, household_id: int, action: str, user_id: int | None,
                new_value: Any = None) -> None:
    session.add(AuditLog(household_id=household_id, action=action, user_id=user_id, new_value=new_value))


async def unit_of(session: AsyncSession, user: User) -> Unit | None:
    """The unit a user answers for (a village head's village, an officer's commune...)."""
    return await session.get(Unit, user.unit_id) if user.unit_id else None


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
