"""Taking access away: disabling and enabling users, revoking unused codes, handing a village to
a new head, and keeping administrators to the ones the settings name. Whoever acts must stand
above the person or code they act on (an officer of the unit above, or an administrator), and
every change is in the access log."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import access_log
from core.access import Role, covers
from core.accounts import AccountError
from core.inspection.scope import member_inspections
from core.storage.models import InviteCode, Unit, User, utcnow
from core.storage.models_inspection import Inspection


async def above(session: AsyncSession, actor: User, unit_id: int | None) -> bool:
    """The actor's unit is strictly above this unit (administrators are above everyone)."""
    if actor.role == Role.ADMIN:
        return True
    return unit_id is not None and actor.unit_id != unit_id and await covers(session, actor, unit_id)


async def answers_to(session: AsyncSession, actor: User, target: User) -> bool:
    """The actor stands above the target: above the target's unit, or, for an inspection team
    member (who acts for no unit), at or above the unit that runs their inspection."""
    if target.role != Role.INSPECTOR:
        return await above(session, actor, target.unit_id)
    inspecting = await session.scalar(select(Inspection.unit_id).where(
        Inspection.id.in_(member_inspections(target.id))).order_by(Inspection.id.desc()).limit(1))
    return actor.role == Role.ADMIN or (inspecting is not None and await covers(session, actor, inspecting))


async def manageable(session: AsyncSession, actor: User) -> list[User]:
    """The users this actor may disable or enable: those of the units below theirs."""
    users = (await session.scalars(select(User).where(User.id != actor.id).order_by(User.display_name))).all()
    return [u for u in users if u.role != Role.ADMIN and await answers_to(session, actor, u)]


async def set_disabled(session: AsyncSession, actor: User | None, target: User, disabled: bool) -> None:
    if actor is not None and (target.id == actor.id or target.role == Role.ADMIN
                              or not await answers_to(session, actor, target)):
        raise AccountError("user_not_yours")
    target.disabled_at = utcnow() if disabled else None
    access_log.record(session, "user_disabled" if disabled else "user_enabled", actor, target.unit_id,
                      detail={"user": target.id}, actor=None if actor else access_log.CLI)


async def revoke_code(session: AsyncSession, actor: User | None, code: str) -> InviteCode:
    invite = await session.get(InviteCode, code.strip().upper(), with_for_update=True)
    if invite is None:
        raise AccountError("invite_unknown")
    if invite.used_by is not None:
        raise AccountError("invite_used")
    if actor is not None and invite.created_by != actor.id and not await above(session, actor, invite.unit_id):
        raise AccountError("code_not_yours")
    invite.expires_at = utcnow()
    access_log.record(session, "code_revoked", actor, invite.unit_id, detail={"role": invite.role},
                      actor=None if actor else access_log.CLI)
    return invite


async def village_heads(session: AsyncSession, village: Unit) -> list[User]:
    return list((await session.scalars(select(User).where(
        User.unit_id == village.id, User.role == Role.VILLAGE_HEAD, User.disabled_at.is_(None)))).all())


async def sync_admins(session: AsyncSession, admin_ids: frozenset[tuple[str, str]]) -> tuple[int, int]:
    """Administrators are exactly the ones the settings name now: one dropped from
    *_ADMIN_IDS is disabled at start-up, one named again is enabled. Returns (disabled, enabled)."""
    disabled = enabled = 0
    for user in (await session.scalars(select(User).where(User.role == Role.ADMIN))).all():
        named = (user.channel, user.external_id) in admin_ids
        if not named and user.disabled_at is None:
            user.disabled_at = utcnow()
            access_log.record(session, "admin_dropped", None, user.unit_id, detail={"user": user.id},
                              actor=access_log.CLI)
            disabled += 1
        elif named and user.disabled_at is not None:
            user.disabled_at = None
            enabled += 1
    return disabled, enabled
