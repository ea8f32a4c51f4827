"""Who may do what, where: one policy for every command, button, list and report.

A user acts for one unit (a village head for a village, an officer for a commune, district or
province); they may see and act on that unit and everything below it, and nothing beside or
above it. A member of an inspection team acts for no unit of their own: they reach the
communes their inspection chose, on the inspection's days, until it is closed
(core/inspection/scope.py), and they only read. What each role may do at all is the bot's
router table; this module answers the questions that need the unit tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from core.inspection.scope import inspected_communes
from core.storage import cache
from core.storage.models import Unit, User

NOW = "now"  # session.info key: the moment the transaction acts at (the app's clock)
TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class Role(StrEnum):
    VILLAGE_HEAD = "village_head"
    COMMUNE = "commune"
    DISTRICT = "district"
    PROVINCE = "province"
    ADMIN = "admin"
    INSPECTOR = "inspector"  # a member of an inspection team (kiểm tra, phúc tra)


STAFF = frozenset({Role.COMMUNE, Role.DISTRICT, Role.PROVINCE, Role.ADMIN})
READERS = STAFF | {Role.INSPECTOR}  # may pull reports and lists with personal data
ALL_ROLES = frozenset(Role)
# the level of the unit an invite code names: an inspector's code names the inspecting unit
ROLE_LEVEL = {Role.VILLAGE_HEAD: "village", Role.COMMUNE: "commune", Role.DISTRICT: "district",
              Role.PROVINCE: "province", Role.INSPECTOR: "province"}


class Action(StrEnum):
    VIEW = "view"  # open a household, see progress of a unit
    REPORT = "report"  # reports and lists with personal data
    SURVEY = "survey"  # start a household in a village
    INVITE = "invite"  # issue a village head's code for a village
    REOPEN = "reopen"  # open a submitted household again to correct it
    ANSWER = "answer"  # change a household's answers or attach evidence to it
    RECHECK = "recheck"  # re-survey a household of an inspected commune (phúc tra)


def today(session: AsyncSession) -> date:
    """The local day the transaction acts on: the app's clock when it set one (ChatApp), else now."""
    moment = session.info.get(NOW) or datetime.now(UTC)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(TZ).date()


def may_change(user: User) -> bool:
    """Inspectors read; every other registered role may write within its area."""
    return user.role != Role.INSPECTOR


async def covers(session: AsyncSession, user: User, unit_id: int) -> bool:
    """A user may see a unit when their own unit is that unit or one above it (the tree is read
    from the units cache: parents never change, so only a unit not seen before costs a query).
    An inspector sees the communes of their open inspections, on its days."""
    if user.role == Role.ADMIN:
        return True
    if user.role == Role.INSPECTOR:
        chain = await cache.ancestors(session, unit_id)
        return chain is not None and bool(set(chain) & await inspected_communes(session, user.id, today(session)))
    if user.unit_id is None:
        return False
    return reaches(user, await cache.ancestors(session, unit_id))


def reaches(user: User, chain: Sequence[int] | None) -> bool:
    """covers() for every role but the inspector's, given the unit's chain (the unit and every
    unit above it): the survey's answer path decides on a chain it read from the cache."""
    if user.role == Role.ADMIN:
        return True
    return user.role != Role.INSPECTOR and user.unit_id is not None and chain is not None and user.unit_id in chain


async def can(session: AsyncSession, user: User, action: Action, unit: Unit) -> bool:
    if user.disabled_at is not None:
        return False
    match action:
        case Action.VIEW:
            return await covers(session, user, unit.id)
        case Action.REPORT:
            return user.role in READERS and await covers(session, user, unit.id)
        case Action.SURVEY:
            return user.role == Role.VILLAGE_HEAD and unit.level == "village" and user.unit_id == unit.id
        case Action.INVITE:
            return user.role == Role.COMMUNE and unit.level == "village" and unit.parent_id == user.unit_id
        case Action.REOPEN:
            # the household's own village head, or a commune officer of its commune
            if user.role == Role.VILLAGE_HEAD:
                return user.unit_id == unit.id
            return user.role == Role.COMMUNE and unit.parent_id == user.unit_id
        case Action.ANSWER:
            return may_change(user) and await covers(session, user, unit.id)
        case Action.RECHECK:
            return user.role == Role.INSPECTOR and await covers(session, user, unit.id)
    return False
