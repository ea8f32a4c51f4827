"""Registration by invite code, roles, and group chats bound to units.

Nobody registers themselves into an area: a commune officer vouches for the village heads of
the commune's villages, and an administrator for officers. That is what keeps a household's
personal data inside the area whose officials are responsible for it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import ROLE_LEVEL, Role, covers
from core.storage.models import GroupBinding, InviteCode, Unit, User, utcnow

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CODE_LENGTH = 8
CODE_DAYS = 14


class AccountError(Exception):
    """A refusal with a locale key, shown to the user as is."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


async def issue_invite(session: AsyncSession, role: str, unit: Unit, created_by: User | None) -> InviteCode:
    if ROLE_LEVEL.get(Role(role)) != unit.level:
        raise AccountError("invite_wrong_level", role=role, level=unit.level)
    invite = InviteCode(code=new_code(), role=role, unit_id=unit.id, created_by=created_by.id if created_by else None,
                        expires_at=utcnow() + timedelta(days=CODE_DAYS))
    session.add(invite)
    await session.flush()
    return invite


async def redeem(session: AsyncSession, code: str, channel: str, external_id: str, name: str,
                 chat_id: str | None = None) -> User:
    existing = await session.scalar(select(User).where(User.channel == channel, User.external_id == external_id))
    if existing is not None:
        raise AccountError("already_registered")
    invite = await session.get(InviteCode, code.strip().upper(), with_for_update=True)
    if invite is None:
        raise AccountError("invite_unknown")
    if invite.used_by is not None:
        raise AccountError("invite_used")
    expires = invite.expires_at if invite.expires_at.tzinfo else invite.expires_at.replace(tzinfo=UTC)
    if expires < datetime.now(UTC):
        raise AccountError("invite_expired")
    # an inspector acts for no unit of their own, only where their inspection reaches (core/access.py)
    unit_id = None if invite.role == Role.INSPECTOR else invite.unit_id
    user = User(channel=channel, external_id=external_id, display_name=name or external_id, role=invite.role,
                unit_id=unit_id, chat_id=chat_id)
    session.add(user)
    await session.flush()
    invite.used_by, invite.used_at = user.id, utcnow()
    return user


@dataclass(frozen=True)
class Bound:
    unit: Unit
    previous: Unit | None  # the unit the chat was bound to before, when it changed


async def bind_group(session: AsyncSession, channel: str, chat_id: str, title: str | None, user: User,
                     private: bool = False) -> Bound:
    """Bind a chat to the user's unit so the unit's notices reach it.

    A group already bound to a unit may be taken over only by an officer of that unit or of a
    unit above it: an officer of a neighbouring commune cannot divert another commune's
    notices into their own unit by sending /ganhom in its group.
    """
    if user.unit_id is None:
        raise AccountError("bind_no_unit")
    unit = await session.get(Unit, user.unit_id)
    assert unit is not None
    binding = await session.scalar(
        select(GroupBinding).where(GroupBinding.channel == channel, GroupBinding.chat_id == chat_id)
        .with_for_update())
    if binding is None:
        session.add(GroupBinding(channel=channel, chat_id=chat_id, title=title, unit_id=unit.id, bound_by=user.id,
                                 is_private=private))
        return Bound(unit, None)
    previous = await session.get(Unit, binding.unit_id)
    if binding.unit_id != unit.id and previous is not None and not await covers(session, user, previous.id):
        raise AccountError("bind_taken", unit=previous.name)
    binding.unit_id, binding.bound_by, binding.title, binding.bound_at = unit.id, user.id, title, utcnow()
    binding.is_private = private
    return Bound(unit, previous if previous is not None and previous.id != unit.id else None)


async def unbind(session: AsyncSession, channel: str, chat_id: str) -> bool:
    binding = await session.scalar(
        select(GroupBinding).where(GroupBinding.channel == channel, GroupBinding.chat_id == chat_id))
    if binding is None:
        return False
    await session.delete(binding)
    return True


async def officers_of(session: AsyncSession, unit_id: int) -> list[User]:
    """The active officers whose own unit is this one (who are told when its group changes hands)."""
    rows = await session.scalars(select(User).where(
        User.unit_id == unit_id, User.role != Role.VILLAGE_HEAD, User.disabled_at.is_(None)))
    return list(rows.all())
