"""What waits for me (/viecchotoi): the procedure's next steps for a village or a commune.
"""

from __future__ import annotations

from bot.context import Ctx
from bot.routes import UNITS, Route
from core.chat.messages import OutMessage
from core.i18n import t
from core.procedure import checks
from core.procedure.counts import TO_REVIEW, WAITING_RULES, open_complaints, shown_apart, stage_counts
from core.procedure.steps import Stage


async def waiting(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    unit = await ctx.unit()
    if unit is None or unit.level not in ("village", "commune"):
        return [OutMessage(t("waiting_none"))]
    counts = shown_apart(await stage_counts(ctx.s, unit, ctx.settings.review_year))
    parts: list[str] = []
    if unit.level == "village":
        keys = ((TO_REVIEW, "wait_to_review"), (Stage.APPLIED, "wait_applied"), (Stage.LEAVE, "wait_leave"),
                (Stage.SURVEYING, "wait_surveying"), (WAITING_RULES, "wait_rules"), (Stage.SURVEYED, "wait_meeting"),
                (Stage.RESURVEY, "wait_resurvey"))
    else:
        # the villages' steps too: a decision taken now would leave those households out
        keys = ((Stage.AGREED, "wait_post"), (Stage.POSTED, "wait_opinion"), (Stage.OPINION, "wait_recognise"),
                (Stage.SURVEYED, "wait_meeting"), (TO_REVIEW, "wait_to_review"), (Stage.RESURVEY, "wait_resurvey"),
                (WAITING_RULES, "wait_rules"))
    parts += [t(key, n=counts[str(stage)]) for stage, key in keys if counts[str(stage)]]
    if unit.level == "commune":
        complaints = await open_complaints(ctx.s, unit)
        if complaints:
            parts.append(t("wait_complaints", n=complaints))
        found = await checks.blocking(ctx.s, unit, ctx.settings.review_year)
        if found:
            parts.append(t("wait_checks", n=len(found)))
    if not parts:
        return [OutMessage(t("waiting_nothing", unit=unit.name))]
    return [OutMessage(t("waiting_title", unit=unit.name, items=", ".join(parts)))]


ROUTES: tuple[Route, ...] = (
    Route("waiting", waiting, roles=UNITS, denied="waiting_none", menu=True),
)
