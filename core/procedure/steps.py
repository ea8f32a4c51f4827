"""Recording a household's steps: one `review_steps` row and one audit row per step, and the
household's stage, in the caller's transaction (so a step and its reply commit together)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.procedure.models import Review, ReviewStep
from core.storage.models import Household, utcnow
from core.storage.repo import audit


class Stage(StrEnum):
    LISTED = "listed"  # on last year's list, to review (answers pre-filled)
    APPLIED = "applied"  # applied (Mẫu 01): Phiếu A first
    LEAVE = "leave_request"  # asked to leave the list (Mẫu 04): Phiếu A first
    SCREENED_OUT = "screened_out"  # Phiếu A stopped the review
    SURVEYING = "surveying"  # Phiếu B under way after Phiếu A
    SURVEYED = "surveyed"  # Phiếu B submitted: waits for the village meeting
    RESURVEY = "resurvey"  # meeting below the threshold, or a complaint upheld: survey again
    AGREED = "agreed"  # meeting agreed (or no vote needed): waits for posting
    POSTED = "posted"
    OPINION = "opinion"  # the level above has given its opinion: waits for the decision
    RECOGNISED = "recognised"


class Origin(StrEnum):
    LIST = "list"
    APPLICANT = "applicant"
    SURVEY = "survey"  # surveyed without being listed or applying (added during the year)


async def review_of(s: AsyncSession, household: Household, origin: Origin = Origin.SURVEY,
                    stage: Stage = Stage.SURVEYING) -> Review:
    review = await s.get(Review, household.id, with_for_update=True)
    if review is None:
        review = Review(household_id=household.id, origin=origin, stage=stage, updated_at=utcnow())
        s.add(review)
        await s.flush()
    return review


async def record_step(s: AsyncSession, household: Household, step: str, user_id: int | None,
                      data: dict[str, Any] | None = None, stage: Stage | None = None,
                      event_id: int | None = None) -> Review:
    """Who did which step to this household, when, with what; moves its stage when given."""
    review = await review_of(s, household)
    now = utcnow()
    s.add(ReviewStep(household_id=household.id, step=step, event_id=event_id, data=data, user_id=user_id, at=now))
    await audit(s, household.id, step, user_id, {"step": step, "stage": str(stage or review.stage), **(data or {})})
    if stage is not None:
        review.stage = stage
    review.updated_at = now
    return review
