"""Last year's answers kept with a review (`reviews.baseline`), sealed at rest like the answers
themselves: a list imported from last year carries the heads' (and members') ID numbers, and a
dump of the database must not give them away (issue 26 item 2). The import writes each value as
the answer stores it (core/procedure/import_write.py); this re-seals them when the key rotates."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.procedure.models import Review
from core.storage.sealed import Sealer


async def reseal_baselines(s: AsyncSession, sealer: Sealer) -> int:
    """Key rotation (`rasoat rekey`): every sealed value of every baseline sealed anew with the
    first key, and any written in clear before this release sealed. Returns the reviews changed."""
    changed = 0
    for review in (await s.scalars(select(Review).where(Review.baseline.is_not(None)))).all():
        if not isinstance(review.baseline, dict):
            continue
        review.baseline = {key: sealer.seal(sealer.open(value)) if sealer.domain(key) else value
                           for key, value in review.baseline.items()}
        changed += 1
    return changed
