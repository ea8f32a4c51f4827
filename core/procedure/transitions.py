"""What a submitted form means for the procedure: Phiếu A decides whether Phiếu B follows,
Phiếu B sends the household to the village meeting (or straight to posting).

The survey session hands every submission here, so the procedure's stage rules live in one
place of core/ and the chat only words the outcome.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.classification.pack import RulePack
from core.classification.provisional import screening_parts
from core.classification.screening import Screening, screen
from core.conversation.state import SUBMITTED, EngineState
from core.households import Status
from core.procedure.screening import phieu_a, procedure
from core.procedure.start_class import start_class
from core.procedure.steps import Origin, Stage, record_step, review_of
from core.storage.models import Household, utcnow
from core.surveys.evaluate import FormView

LISTED_CLASSES = ("poor", "near_poor")


async def screened(s: AsyncSession, household: Household, view: FormView, user_id: int,
                   pack: RulePack | None = None) -> Screening:
    """Phiếu A submitted: the stop rule of the standard's pack (`pack`) decides. A listed
    household that asked to leave and was stopped is an escaping household (the village meeting
    decides on it); an applicant stopped by Phiếu A ends here, not poor, and the stop records
    the rules that made it, provisional when the criteria are."""
    rule = pack.stop_rule if pack is not None and pack.stop_rule is not None else phieu_a()[1]
    result = screen(rule, view)
    review = await review_of(s, household, Origin.APPLICANT, Stage.APPLIED)
    data = {"go_on": result.go_on, "met": [c.code for c in result.met], "rule": rule.id}
    household.state = EngineState(mode=SUBMITTED).to_json()
    if result.go_on:
        await record_step(s, household, "screened", user_id, data, Stage.SURVEYING)
        return result
    leaving = review.listed_class in LISTED_CLASSES
    await record_step(s, household, "screened", user_id, data, Stage.SURVEYED if leaving else Stage.SCREENED_OUT)
    household.status, household.outcome = Status.SUBMITTED, "not_poor"
    household.submitted_at = household.updated_at = utcnow()
    household.prior_class = review.listed_class or "none"
    if pack is not None:
        household.pack_id, household.pack_version, household.pack_digest = pack.id, pack.version, pack.digest
        household.provisional = bool(screening_parts(pack))
    else:
        household.provisional = rule.provenance is None or rule.provenance.status != "official"
    return result


async def surveyed(s: AsyncSession, household: Household, user_id: int, step: str = "surveyed",
                   extra: dict[str, Any] | None = None) -> None:
    """Phiếu B submitted (first time or again): the household waits for the village meeting,
    or goes straight to posting when its class is unchanged and the procedure votes only on
    changes. Corrected after posting, it stays where it is (the change is in the audit log).
    Re-scored under a signed rules version, the same holds (`step` «rescored», with `extra`)."""
    origin = Origin.LIST if household.prior_class in LISTED_CLASSES else Origin.SURVEY
    review = await review_of(s, household, origin, Stage.SURVEYING)
    if review.stage in (Stage.POSTED, Stage.OPINION, Stage.RECOGNISED):
        return
    before = start_class(household, review) or "none"
    unchanged = household.outcome == before and before in LISTED_CLASSES
    stage = Stage.AGREED if unchanged and procedure().vote_on == "changed" else Stage.SURVEYED
    if household.outcome == "undetermined":  # no class to vote on nor to post: it waits for its rules
        stage = Stage.SURVEYING
    await record_step(s, household, step, user_id, {"outcome": household.outcome, "before": before, **(extra or {})},
                      stage)
