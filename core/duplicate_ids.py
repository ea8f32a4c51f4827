"""The same ID number twice: on two members of one household, or in two households of the
same review. The pure engine cannot look at other households, so the survey session asks here
after each step: a warning when the number is typed (the answer is kept, so nothing is lost
and it can be corrected with /sua N), and a block at submit, as /kiemtra blocks the decision,
unless the village head gives the reason with `/xacnhan LÝ DO`.

Other households are found by the numbers' keyed hash (core/storage/sealed.py), never by
decrypting every household's answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.chat.commands import slash
from core.chat.messages import OutMessage
from core.conversation.engine import SurveyEngine
from core.i18n import t
from core.storage.models import AuditLog, Household
from core.storage.sealed import Sealer, SealError, households_with_id_number, sealer_of
from core.surveys.model import QType


async def _holders(s: AsyncSession, household: Household, value: str) -> tuple[int, ...]:
    try:
        return tuple(await households_with_id_number(s, value, household.review_year, besides=household.id))
    except SealError:  # no data key: nothing to look up by hash
        return ()


@dataclass(frozen=True)
class Duplicate:
    position: int  # the question number (as in the review) holding the number
    same: tuple[int, ...]  # other question numbers of this household with the same number
    households: tuple[int, ...]  # other households of the review year with the same number

    def words(self) -> str:
        parts = []
        if self.same:
            parts.append(t("dup_id_same", i=self.position, others=", ".join(map(str, self.same))))
        if self.households:
            parts.append(t("dup_id_other", i=self.position, ids=", ".join(f"#{h}" for h in self.households)))
        return "; ".join(parts)


async def duplicates(s: AsyncSession, household: Household, engine: SurveyEngine, answers: Mapping[str, Any],
                     keys: Iterable[str] | None = None) -> list[Duplicate]:
    """Each ID-number answer (only `keys`, if given) that another answer of this household or
    another household of the same review year also holds."""
    return await find(sealer_of(s), engine, answers, keys, lambda value: _holders(s, household, value))


async def find(sealer: Sealer | None, engine: SurveyEngine, answers: Mapping[str, Any], keys: Iterable[str] | None,
               holders: Callable[[str], Awaitable[tuple[int, ...]]]) -> list[Duplicate]:
    """duplicates() with the look-up of other households given (the driver's answer path runs
    it on its own connection, bot/conversations/quick.py)."""
    if keys is not None and sealer is not None and not any(sealer.domain(k) == "id" for k in keys):
        return []  # most answers: no ID number typed, nothing to compare
    view = engine.view(answers)
    numbers = [(pos, slot.key, answers[slot.key]) for pos, slot in enumerate(view.slots, 1)
               if slot.question.type is QType.ID_NUMBER and isinstance(answers.get(slot.key), str)]
    wanted = set(keys) if keys is not None else None
    found = []
    for pos, key, value in numbers:
        if wanted is not None and key not in wanted:
            continue
        same = tuple(p for p, k, v in numbers if k != key and v == value)
        others = await holders(value)
        if same or others:
            found.append(Duplicate(pos, same, others))
    return found


def warning(found: list[Duplicate]) -> OutMessage:
    """What the village head reads when the number typed is held elsewhere (the answer is kept)."""
    return OutMessage(t("dup_id_warning", where="; ".join(d.words() for d in found), edit=slash("edit"),
                        confirm=slash("confirm")))


async def explained(s: AsyncSession, household_id: int, found: list[Duplicate]) -> bool:
    """A reason already given for this household (`/xacnhan LÝ DO`, audited as `dup_id_reason`)
    covers the same repeats: the Phiếu B that follows a Phiếu A, or a corrected household sent
    again, is not stopped twice for what the village head has explained."""
    rows = (await s.scalars(select(AuditLog.new_value).where(
        AuditLog.household_id == household_id, AuditLog.action == "dup_id_reason"))).all()
    if not rows:
        return False
    households = {h for row in rows for h in (row or {}).get("households", [])}
    same = any((row or {}).get("same") for row in rows)
    return all(set(d.households) <= households and (not d.same or same) for d in found)
