"""Which figures a report table counts: preliminary (every submitted household, as the village
heads classified them) or official (only households the commune chairman's decision recognised,
with the class the decision gave), and "as of" which day.

Before the decision, Biểu 7.x can only be preliminary; after it, the official figures are what
the commune submits. Reports taken "as of" a day count only what was submitted (preliminary) or
recognised (official) by the end of that day, so in-year changes can be reported for any date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, Select, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.i18n import LOCAL_TZ, fmt_date, t
from core.procedure.models import Review, ReviewEvent
from core.storage.models import Household, Unit
from core.units.tree import UnitTree


class Stage(StrEnum):
    PRELIMINARY = "preliminary"
    OFFICIAL = "official"


@dataclass(frozen=True)
class Basis:
    stage: Stage = Stage.PRELIMINARY
    as_of: date | None = None

    def outcome(self) -> ColumnElement[str]:
        return Review.final_class if self.stage is Stage.OFFICIAL else Household.outcome  # type: ignore[return-value]

    def join(self, query: Select) -> Select:
        """Outer-join what `counts()` reads to a query over households (the decision, for the
        official figures), so the households it does not count stay for other sums."""
        if self.stage is Stage.OFFICIAL:
            query = query.outerjoin(Review, and_(Review.household_id == Household.id, Review.final_class.is_not(None)))
            if self.as_of is not None:
                query = query.outerjoin(ReviewEvent, ReviewEvent.id == Review.decision_id)
        return query

    def counts(self) -> ColumnElement[bool]:
        """Whether this basis counts a household of a query `join` prepared: submitted, and
        recognised (by `as_of`) for the official figures, or submitted by `as_of`."""
        parts: list[ColumnElement[bool]] = [Household.status == "submitted"]
        if self.stage is Stage.OFFICIAL:
            parts.append(Review.household_id.is_not(None))
            if self.as_of is not None:
                parts.append(ReviewEvent.held_on <= self.as_of)
        elif self.as_of is not None:
            end = datetime.combine(self.as_of + timedelta(days=1), time(0), tzinfo=LOCAL_TZ)
            parts.append(Household.submitted_at < end)
        return and_(*parts)

    def word(self) -> str:
        """«sơ bộ» or «chính thức»."""
        return t(f"rpt_stage_word_{self.stage}")

    def heading(self, text: str, year: int) -> str:
        """A table's title, subtitle or column header with its placeholders filled: `{year}`,
        and the stage as `{stage}` («sơ bộ») or, in a capitalised title, `{STAGE}` («SƠ BỘ»),
        so a preliminary table never calls itself official."""
        word = self.word()
        return text.format(year=year, stage=word, STAGE=word.upper())

    def line(self) -> str:
        """What the workbook and the caption say about the figures."""
        text = t(f"rpt_stage_{self.stage}")
        return text + (t("rpt_as_of", date=fmt_date(self.as_of)) if self.as_of else "")


async def recognised_in(session: AsyncSession, unit: Unit, year: int, tree: UnitTree | None = None) -> bool:
    """Whether any household inside the unit has its class from a recognition decision."""
    tree = tree or await UnitTree.of(session, unit)
    query = tree.join(select(Household.id), households=True).join(
        Review, Review.household_id == Household.id).where(
        Review.final_class.is_not(None), Household.review_year == year).limit(1)
    return (await session.scalar(query)) is not None


async def default_basis(session: AsyncSession, unit: Unit, year: int, as_of: date | None = None,
                        tree: UnitTree | None = None) -> Basis:
    """Official once a decision has recognised households in the unit, else preliminary."""
    stage = Stage.OFFICIAL if await recognised_in(session, unit, year, tree) else Stage.PRELIMINARY
    return Basis(stage, as_of)
