"""Which households of a commune's review a recognition decision taken now would not cover.

A decision recognises the households that have the level above's opinion. Every other
household of the year's review (last year's households never surveyed again, a household the
meeting sent back, one still posted) is left out of it, and the officer must see them, by name
and stage, before the decision is recorded (bot/handlers/procedure/decision.py), and in
/kiemtra (core/procedure/checks.py). Households already recognised are covered by an earlier
decision; an applicant Phiếu A stopped has ended its review, not poor, and needs no decision.
"""

from __future__ import annotations

import hashlib

from sqlalchemy.ext.asyncio import AsyncSession

from core.procedure.queries import Pair, reviews
from core.procedure.steps import Stage
from core.storage.models import Unit

DECIDED_NOW = Stage.OPINION  # the stage a decision recognises
SETTLED = (Stage.RECOGNISED, Stage.SCREENED_OUT)


async def left_out(s: AsyncSession, commune: Unit, year: int) -> list[Pair]:
    """The commune's households of the year a decision now would leave out, in household order."""
    return [(h, r) for h, r in await reviews(s, commune, year) if r.stage != DECIDED_NOW and r.stage not in SETTLED]


def confirmation_code(pairs: list[Pair]) -> str:
    """Six characters naming exactly these households at these stages: a confirmation given for
    one list is refused once a household has moved (the officer sees the new list)."""
    text = ",".join(f"{h.id}:{r.stage}" for h, r in sorted(pairs, key=lambda p: p[0].id))
    return hashlib.sha1(text.encode()).hexdigest()[:6]
