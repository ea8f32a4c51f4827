"""Village names as officers type them: 'thon na pan', 'Nà Pàn' and 'Thôn Nà Pàn' are one
village. Matching folds accents and case and ignores the kind prefix (Thôn, Bản, Khối, Tổ dân
phố...), so a typo of accents never creates a second village next to the first."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.chat.refs import unit_ref
from core.i18n import catalog
from core.storage.models import AuditLog, GroupBinding, Household, InviteCode, Unit, User
from core.text import fold


def village_key(name: str) -> str:
    folded = " ".join(fold(name).split())
    for prefix in sorted((fold(p) for p in catalog().words("village_prefixes")), key=len, reverse=True):
        if folded.startswith(prefix + " "):
            return folded[len(prefix) + 1:].strip()
    return folded


async def find_village(session: AsyncSession, commune: Unit, name: str) -> Unit | None:
    key = village_key(name)
    villages = await session.scalars(select(Unit).where(Unit.parent_id == commune.id, Unit.level == "village")
                                     .order_by(Unit.id))
    return next((v for v in villages if village_key(v.name) == key), None)


async def merge_villages(session: AsyncSession, duplicate: Unit, keep: Unit, by_user_id: int | None) -> int:
    """Fold a duplicate village into the one to keep: its households, village heads, unused
    invite codes and bound chats move over; each household's move is audited; the duplicate
    is removed. Returns the number of households moved."""
    if duplicate.id == keep.id or duplicate.parent_id != keep.parent_id or keep.level != "village":
        raise ValueError("only two different villages of one commune can be merged")
    moved = (await session.scalars(select(Household.id).where(Household.village_id == duplicate.id))).all()
    for household_id in moved:
        session.add(AuditLog(household_id=household_id, action="move", user_id=by_user_id,
                             old_value={"village": duplicate.name}, new_value={"village": keep.name}))
    await session.execute(update(Household).where(Household.village_id == duplicate.id).values(village_id=keep.id))
    await session.execute(update(User).where(User.unit_id == duplicate.id).values(unit_id=keep.id))
    await session.execute(update(InviteCode).where(InviteCode.unit_id == duplicate.id).values(unit_id=keep.id))
    await session.execute(update(GroupBinding).where(GroupBinding.unit_id == duplicate.id).values(unit_id=keep.id))
    if keep.households_total is None:
        keep.households_total = duplicate.households_total
    await session.flush()
    await session.delete(duplicate)
    return len(moved)


async def find_unit(session: AsyncSession, configuration: str, word: str | None,
                    level: str | None = None) -> Unit | None:
    """A unit named by its row id ('#12', as buttons send) or its official code ('6202', as
    officers type it and the command line takes it); `level` narrows it to communes, say."""
    ref = unit_ref(word)
    if ref is None:
        return None
    if ref.id is not None:
        unit = await session.get(Unit, ref.id)
    else:
        query = select(Unit).where(Unit.configuration == configuration, Unit.code == ref.code)
        unit = await session.scalar((query.where(Unit.level == level) if level else query).order_by(Unit.id).limit(1))
    return unit if unit is not None and level in (None, unit.level) else None


async def find_commune(session: AsyncSession, configuration: str, word: str | None) -> Unit | None:
    return await find_unit(session, configuration, word, "commune")


async def units_named(session: AsyncSession, configuration: str, words: str, limit: int = 50) -> list[Unit]:
    """Communes, districts and villages whose name contains the words, accents and case aside
    ('ba son' finds Xã Ba Sơn); an exact name first."""
    wanted = fold(words)
    if not wanted:
        return []
    units = (await session.scalars(select(Unit).where(Unit.configuration == configuration,
                                                      Unit.level.in_(("district", "commune", "village"))))).all()
    found = [u for u in units if wanted in fold(u.name)]
    exact = [u for u in found if fold(u.name) == wanted or fold(u.name).endswith(" " + wanted)]
    return (exact or found)[:limit]
