"""The village meeting (/hopdan): the votes on each surveyed household, the minutes as a Word
document to print and sign, then the photo of the signed minutes, which the chat waits for (the
router's AWAITS).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bot.context import Ctx
from bot.conversations.session import conversation, covered
from bot.routes import HEADS, Route
from core.access import covers
from core.chat import refs
from core.chat.commands import slash
from core.chat.messages import OutMessage
from core.i18n import fmt_date, t
from core.private import keep_private_copy
from core.procedure import paperwork
from core.procedure.models import HouseholdFile, Review, ReviewEvent
from core.procedure.queries import reviews
from core.procedure.screening import procedure
from core.procedure.steps import Stage, record_step
from core.storage.models import Household, Unit, utcnow
from core.storage.repo import audit

MINUTES = "meeting_minutes"  # the chat waits for the photo of a meeting's minutes

async def meeting(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """'/hopdan 20/10/2026 40 12=30 13=18': date, attendees, then household=agreeing for each."""
    village = await ctx.unit()
    if village is None or village.level != "village":
        return [OutMessage(t("only_village_heads_survey"))]
    waiting = await reviews(ctx.s, village, ctx.settings.review_year, (Stage.SURVEYED,))
    words = (arg or "").split()
    if len(words) < 3:
        lines = [t("meeting_usage", cmd=slash("meeting"), pct=f"{procedure().min_agreement_percent:g}")]
        lines += [t("proc_household_line", id=h.id, head=h.head_name or "-", outcome=t(f"outcome_{h.outcome}"))
                  for h, _ in waiting]
        return [OutMessage("\n".join(lines if waiting else [t("meeting_nothing")]))]
    held_on = refs.day(words[0])
    attendees = refs.number(words[1])
    if attendees is None:  # one plain number: «bốn mươi» or «40x» is named, never half read
        return [OutMessage(t("meeting_bad_attendees", word=words[1][:30], cmd=slash("meeting")))]
    votes: dict[int, int] = {}
    for word in words[2:]:
        hid, _, agree = word.partition("=")
        household_id, agreeing = refs.number(hid), refs.number(agree)
        if household_id is None or agreeing is None:
            return [OutMessage(t("meeting_bad_vote", word=word[:30], cmd=slash("meeting")))]
        votes[household_id] = agreeing
    if held_on is None or held_on > ctx.today() or not attendees:
        return [OutMessage(t("meeting_bad_head", cmd=slash("meeting")))]
    by_id = {h.id: (h, r) for h, r in waiting}
    unknown = [h for h in votes if h not in by_id]
    if unknown:
        return [await _not_waiting(ctx, village, unknown)]
    too_many = [str(h) for h, n in votes.items() if n > attendees]
    if too_many:
        return [OutMessage(t("meeting_too_many", ids=", ".join(too_many), n=attendees))]
    event = ReviewEvent(unit_id=village.id, kind="meeting", year=ctx.settings.review_year, held_on=held_on,
                        data={"attendees": attendees, "votes": {str(k): v for k, v in votes.items()},
                              "min_percent": procedure().min_agreement_percent}, user_id=ctx.me.id)
    ctx.s.add(event)
    await ctx.s.flush()
    lines = [t("meeting_done", date=fmt_date(held_on), n=attendees)]
    recorded: list[paperwork.Vote] = []
    for hid, agree in votes.items():
        household, _ = by_id[hid]
        passed = procedure().agreed(agree, attendees)
        recorded.append(paperwork.Vote(household, agree, passed))
        data = {"agree": agree, "attendees": attendees, "passed": passed, "held_on": held_on.isoformat()}
        await record_step(ctx.s, household, "meeting", ctx.me.id, data, Stage.AGREED if passed else Stage.RESURVEY,
                          event.id)
        if not passed:
            household.reopened_at, household.reopened_by = utcnow(), ctx.me.id
            household.reopen_reason = t("meeting_reopen_reason")[:300]
        lines.append(t("meeting_passed" if passed else "meeting_failed", id=hid, head=household.head_name or "-",
                       agree=agree, n=attendees))
    commune = await ctx.s.get(Unit, village.parent_id)
    assert commune is not None
    signed = paperwork.meeting_minutes(commune, village, held_on, attendees, recorded, ctx.me.display_name,
                                       ctx.settings.review_year,
                                       ctx.data_path("minutes", f"bien_ban_hop_dan_{event.id}.docx"))
    conv = await conversation(ctx)
    conv.state = {"await": MINUTES, "event": event.id}
    lines.append(t("meeting_send_minutes"))
    return [OutMessage("\n".join(lines)), OutMessage(t("doc_w_minutes"), document=str(signed))]


async def _not_waiting(ctx: Ctx, village: Unit, ids: list[int]) -> OutMessage:
    """Why each household does not wait for the meeting: its stage, or "not found" for one
    that is not in the village (another village's household is never named)."""
    stages = {h.id: r.stage for h, r in await reviews(ctx.s, village, ctx.settings.review_year)}
    lines = [t("meeting_unknown")]
    for hid in ids:
        if hid in stages:
            lines.append(t("meeting_unknown_line", id=hid, stage=t(f"proc_stage_{stages[hid]}")))
        elif await covered(ctx, hid, lock=False) is not None:
            lines.append(t("meeting_unknown_line", id=hid, stage=t("proc_stage_none")))
        else:
            lines.append("• " + t("household_not_found", id=hid))
    return OutMessage("\n".join(lines))


async def minutes(ctx: Ctx, arg: str | None) -> list[OutMessage] | None:
    """The photo of the minutes of the meeting just recorded; None when that meeting is no
    longer the user's (the photo is then taken as any other photo)."""
    pic = ctx.incoming.photo
    assert pic is not None
    conv = await conversation(ctx)
    event = await ctx.s.get(ReviewEvent, (conv.state or {}).get("event"))
    if event is None or not await covers(ctx.s, ctx.me, event.unit_id):
        return None
    target = ctx.data_path("minutes", f"{event.id}.jpg")
    keep_private_copy(Path(pic.path), target)
    event.file_path = str(target)
    conv.state = None
    voted = await ctx.s.scalars(select(Household).join(Review, Review.household_id == Household.id).where(
        Household.id.in_([int(k) for k in (event.data or {}).get("votes", {})])))
    for household in voted.all():
        ctx.s.add(HouseholdFile(household_id=household.id, kind="minutes", path=str(target), user_id=ctx.me.id))
        await audit(ctx.s, household.id, "minutes", ctx.me.id, {"meeting": event.id})
    return [OutMessage(t("minutes_saved", date=fmt_date(event.held_on) if event.held_on else "-"))]


ROUTES: tuple[Route, ...] = (
    Route("meeting", meeting, roles=HEADS, denied="only_village_heads_survey"),
)
