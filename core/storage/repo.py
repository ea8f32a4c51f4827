"""Queries and writes shared by the service, the channels and the reports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Executable, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from core.storage.models import Answer, AuditLog, Household, Unit, User, utcnow
from core.storage.sealed import open_answer, seal_answer


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
    # answers cached by household revision (core/storage/cache.py) must not outlive this write
    await session.execute(update(Household).where(Household.id == household_id).values(
        revision=func.coalesce(Household.revision, 0) + 1))


def _answer_statements(postgres: bool) -> tuple[Executable, ...]:
    """The answer path's statements, built once with named parameters so SQLAlchemy compiles
    them once (a multi-row VALUES would be compiled again on every answer)."""
    upsert = (pg_insert if postgres else sqlite_insert)(Answer).values(
        household_id=bindparam("hid"), key=bindparam("key"), value=bindparam("new", type_=JSON),
        lookup=bindparam("lookup"), updated_at=bindparam("at"), updated_by=bindparam("uid"))
    upsert = upsert.on_conflict_do_update(index_elements=[Answer.household_id, Answer.key], set_={
        "value": upsert.excluded.value, "lookup": upsert.excluded.lookup, "updated_at": upsert.excluded.updated_at,
        "updated_by": upsert.excluded.updated_by})
    audit_row = insert(AuditLog).values(
        household_id=bindparam("hid"), action="answer", key=bindparam("key"), old_value=bindparam("old", type_=JSON),
        new_value=bindparam("new", type_=JSON), user_id=bindparam("uid"), at=bindparam("at"))
    if postgres:  # one round trip: the upsert as a data-modifying WITH of the audit insert
        return (audit_row.add_cte(upsert.returning(Answer.id).cte("saved")),)
    return upsert, audit_row


_STATEMENTS = {postgres: _answer_statements(postgres) for postgres in (False, True)}
# PostgreSQL, one answer: the household's new position, time and revision written by the same
# statement (another data-modifying WITH), what the unit of work would flush at commit as a
# fourth statement; the ORM object is then told those values are stored (save_answers).
MOVE = update(Household.__table__).where(Household.__table__.c.id == bindparam("hid")).values(
    state=bindparam("state", type_=JSON), updated_at=bindparam("at"), revision=bindparam("rev"))
_ONE_ANSWER_PG = _STATEMENTS[True][0].add_cte(MOVE.cte("moved"))


async def save_answers(session: AsyncSession, household: Household, changes: Sequence[tuple[str, Any, Any]],
                       user_id: int | None, state: Any = None) -> bool:
    """The batched form of save_answer for the answer path: the same rows (the answer upserted,
    one audit row; ID numbers and phones sealed in both, with their keyed hash), for every (key,
    old, new) in one execution per statement (on PostgreSQL one statement in all), and the
    household's revision bumped so other workers' cached answers of it are stale.

    With `state` (the household's new position) and one change on PostgreSQL, the household's
    state, updated_at and revision are written by the same statement instead of by the flush at
    commit: one round trip and the unit of work's flush less per answer (issue 25). Returns
    whether it did, so the caller does not set those attributes again (that would flush them)."""
    if not changes:
        return False
    now = utcnow()
    params = []
    for key, old, new in changes:
        stored, lookup = seal_answer(session, key, new)
        params.append({"hid": household.id, "key": key, "old": seal_answer(session, key, old)[0], "new": stored,
                       "lookup": lookup, "uid": user_id, "at": now})
    revision = (household.revision or 0) + 1
    conn = await session.connection()
    postgres = conn.dialect.name == "postgresql"
    if postgres and state is not None and len(params) == 1:
        await conn.execute(_ONE_ANSWER_PG, {**params[0], "state": state, "rev": revision})
        for name, value in (("state", state), ("updated_at", now), ("revision", revision)):
            set_committed_value(household, name, value)  # stored above: nothing left to flush
        return True
    for statement in _STATEMENTS[postgres]:
        await conn.execute(statement, params if len(params) > 1 else params[0])
    household.revision = revision
    return False


async def audit(session: AsyncSession, household_id: int, action: str, user_id: int | None,
                new_value: Any = None) -> None:
    session.add(AuditLog(household_id=household_id, action=action, user_id=user_id, new_value=new_value))


async def unit_of(session: AsyncSession, user: User) -> Unit | None:
    """The unit a user answers for (a village head's village, an officer's commune...)."""
    return await session.get(Unit, user.unit_id) if user.unit_id else None


async def ensure_user(
    session: AsyncSession, channel: str, external_id: str, name: str, role: str, unit_id: int | None
) -> User:
    user = await session.scalar(select(User).where(User.channel == channel, User.external_id == external_id))
    if user is None:
        user = User(channel=channel, external_id=external_id, display_name=name, role=role, unit_id=unit_id)
        session.add(user)
        await session.flush()
    return user
