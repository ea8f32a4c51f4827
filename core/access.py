"""Who may do what, where: one policy for every command, button, list and report.

A user acts for one unit (a village head for a village, an officer for a commune, district or
province); they may see and act on that unit and everything below it, and nothing beside or
above it. What each role may do at all is the bot's router table; this module answers the
questions that need the unit tree.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from core.storage import cache
from core.storage.models import Unit, User


class Role(StrEnum):
    VILLAGE_HEAD = "village_head"
    COMMUNE = "commune"
    DISTRICT = "district"
    PROVINCE = "province"
    ADMIN = "admin"


STAFF = frozenset({Role.COMMUNE, Role.DISTRICT, Role.PROVINCE, Role.ADMIN})
ALL_ROLES = frozenset(Role)
ROLE_LEVEL = {Role.VILLAGE_HEAD: "village", Role.COMMUNE: "commune", Role.DISTRICT: "district",
              Role.PROVINCE: "province"}


class Action(StrEnum):
    VIEW = "view"  # open a household, see progress of a unit
    REPORT = "report"  # reports and lists with personal data
    SURVEY = "survey"  # start a household in a village
    INVITE = "invite"  # issue a village head's code for a village
    REOPEN = "reopen"  # open a submitted household again to correct it


async def covers(session: AsyncSession, user: User, unit_id: int) -> bool:
    """A user may see a unit when their own unit is that unit or one above it (the tree is read
    from the units cache: parents never change, so only a unit not seen before costs a query)."""
    if user.role == Role.ADMIN:
        return True
    if user.unit_id is None:
        return False
    chain = await cache.ancestors(session, unit_id)
    return chain is not None and user.unit_id in chain


async def can(session: AsyncSession, user: User, action: Action, unit: Unit) -> bool:
    if user.disabled_at is not None:
        return False
    match action:
        case Action.VIEW:
            return await covers(session, user, unit.id)
        case Action.REPORT:
            return user.role in STAFF and await covers(session, user, unit.id)
        case Action.SURVEY:
            return user.role == Role.VILLAGE_HEAD and unit.level == "village" and user.unit_id == unit.id
        case Action.INVITE:
            return user.role == Role.COMMUNE and unit.level == "village" and unit.parent_id == user.unit_id
        case Action.REOPEN:
            # the household's own village head, or a commune officer of its commune
            if user.role == Role.VILLAGE_HEAD:
                return user.unit_id == unit.id
            return user.role == Role.COMMUNE and unit.parent_id == user.unit_id
    return False
