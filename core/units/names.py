"""Village names as officers type them: 'thon na pan', 'Nà Pàn' and 'Thôn Nà Pàn' are one
village. Matching folds accents and case and ignores the kind prefix (Thôn, Bản, Khối, Tổ dân
phố...), so a typo of accents never creates a second village next to the first."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.i18n import catalog
from core.storage.models import Unit
from core.surveys.parsing import fold


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
