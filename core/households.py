"""A household's review record: its status, and what its classification writes on it.

The columns the reports count (outcome, deprived indicators as a bitmask, prior class,
ethnicity, members) are written here and nowhere else, and the bitmask is encoded and decoded
in one place, so a report's "deprived in indicator 7" and a household's list of deprived
indicators can never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.classification.classify import Classification
from core.classification.pack import RulePack
from core.classification.provisional import result_parts
from core.storage.models import Household, Unit, utcnow
from core.units.tree import UnitTree


class Status(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"


class PriorClass(StrEnum):
    POOR = "poor"
    NEAR_POOR = "near_poor"
    NONE = "none"


def indicator_bit(number: int) -> int:
    """Indicator n (1-based) is bit n-1 of the mask."""
    return 1 << (number - 1)


def deprivation_mask(numbers: Iterable[int]) -> int:
    return sum(indicator_bit(n) for n in set(numbers))


def record_classification(household: Household, result: Classification, pack: RulePack,
                          outputs: Mapping[str, Any], prior_classes: Mapping[str, str],
                          purpose: str = "poverty") -> None:
    """Write a submitted household's classification and report columns.

    `prior_classes` maps the form's answer for the start-of-period status to a PriorClass
    (declared in the form file, so no form's choice values are written in code).
    """
    household.status = Status.SUBMITTED
    household.submitted_at = household.updated_at = utcnow()
    household.reopened_at = household.reopened_by = household.reopen_reason = None
    record_result(household, result, pack, purpose)
    prior = outputs.get("prior_class")
    household.prior_class = prior_classes.get(prior) if isinstance(prior, str) else None
    household.ethnicity = outputs.get("ethnicity")
    count = outputs.get("member_count")
    household.member_count = count if isinstance(count, int) else None


def record_result(household: Household, result: Classification, pack: RulePack, purpose: str = "poverty") -> None:
    """The result's columns and the rules that produced it (pack id, version, digest, and
    whether any rule it used is provisional); re-scoring under a signed version writes these
    alone (core/procedure/rescoring.py)."""
    household.outcome = result.outcome.value
    household.pack_id = pack.id
    household.pack_version = pack.version
    household.pack_digest = pack.digest
    household.provisional = bool(result_parts(pack, result, purpose))
    household.income_per_capita = result.income_per_capita
    household.b1_score = result.b1_score
    numbers = sorted(i.number for i in result.deprived)
    household.deprived_count = len(numbers)
    household.deprived = numbers
    household.deprived_mask = deprivation_mask(numbers)


async def households_in(session: AsyncSession, unit: Unit, limit: int = 20, drafts_only: bool = False,
                        created_by: int | None = None) -> list[Household]:
    """Households inside a unit: drafts (and submitted ones reopened for correction) first, then
    the most recently changed."""
    query = (await UnitTree.of(session, unit)).join(select(Household), households=True)
    open_first = case((Household.status == Status.DRAFT, 0), (Household.reopened_at.is_not(None), 0), else_=1)
    if drafts_only:
        query = query.where((Household.status == Status.DRAFT) | Household.reopened_at.is_not(None))
    if created_by is not None:
        query = query.where(Household.created_by == created_by)
    rows = await session.scalars(query.order_by(open_first, Household.updated_at.desc(), Household.id.desc())
                                 .limit(limit))
    return list(rows.all())
