"""The chat's small state: which household this chat has open, the engine for a household,
and where the household's survey stands.

A draft's position belongs to the household (`households.state`), not to the chat; the chat
only remembers the household it has open and a question it asked outside the survey. Every
handler that works on "the household I have open" or "household #12" comes through here, so
the check that the user's area covers the household is written once.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import bindparam, select

from bot.context import Ctx
from core.access import covers
from core.chat import refs
from core.chat.commands import slash
from core.chat.messages import OutMessage
from core.conversation.engine import SUBMITTED, EngineState, Step, SurveyEngine
from core.households import Status
from core.i18n import t
from core.procedure.screening import screening_form
from core.storage.answer_path import Locked
from core.storage.models import Conversation, Household, User
from core.storage.repo import load_answers
from core.surveys.model import Survey

_THIS_CHAT = (Conversation.channel == bindparam("channel"), Conversation.chat_id == bindparam("chat"))
# Built once with named parameters: building and keying the statement on every update cost
# more than a third of what running it costs (0.27 ms of CPU, bench/answer.py).
_WITH_HOUSEHOLD = (select(Conversation, Household, User.role, User.unit_id, User.disabled_at)
                   .join(Household, Household.id == Conversation.household_id).join(User, User.id == bindparam("me"))
                   .where(*_THIS_CHAT).with_for_update(of=[Conversation.__table__, Household.__table__]))
_ALONE = select(Conversation).where(*_THIS_CHAT).with_for_update()


async def conversation(ctx: Ctx) -> Conversation:
    """This chat's row, locked: one chat's updates apply one at a time, in order.

    One statement reads (and locks) the conversation, the household it has open and the
    sender's row (the check of a cached user, see bot/app.py); later calls in the same
    transaction reuse it."""
    conv = ctx.memo.get("conversation")
    if conv is not None:
        return conv
    chat = {"channel": ctx.chat.channel, "chat": ctx.chat.chat_id}
    row = (await ctx.s.execute(_WITH_HOUSEHOLD, {**chat, "me": ctx.me.id})).first()
    if row is not None:
        conv, household, role, unit_id, disabled = row
        ctx.check_user(role, unit_id, disabled)
        ctx.memo["household"] = household
    else:  # no conversation yet, or none open
        conv = await ctx.s.scalar(_ALONE, chat)
    if conv is None:
        conv = Conversation(channel=ctx.chat.channel, chat_id=ctx.chat.chat_id, user_id=ctx.me.id, state=None)
        ctx.s.add(conv)
        await ctx.s.flush()
    ctx.memo["conversation"] = conv
    return conv


def awaiting(conv: Conversation) -> str | None:
    """The question outside the survey this chat waits to have answered, if any."""
    return (conv.state or {}).get("await")


async def covered(ctx: Ctx, household_id: int | None, lock: bool = True) -> Household | None:
    """Household #id if the user's area covers it; None otherwise (another area's household is
    never named, so "not yours" and "does not exist" read the same)."""
    if household_id is None:
        return None
    household = ctx.memo.get("household")
    if household is None or household.id != household_id:
        household = await ctx.s.get(Household, household_id, with_for_update=lock)
    if household is None or not await covers(ctx.s, ctx.me, household.village_id):
        return None
    return household


async def household_of(ctx: Ctx, ref: str | None, lock: bool = True) -> Household | None:
    """The household a typed reference ('12', '#12') names, if the user may see it."""
    return await covered(ctx, refs.number(ref), lock)


async def open_household(ctx: Ctx, conv: Conversation) -> Household | None:
    """The household this chat has open, locked, if the user may still see it; a household the
    user lost access to is closed on the chat."""
    household = await covered(ctx, conv.household_id)
    if household is None and conv.household_id is not None:
        conv.household_id, conv.state = None, None
    return household


async def current_household(ctx: Ctx) -> Household | None:
    """The open household without locking it or closing the chat (photos, locations)."""
    conv = await conversation(ctx)
    return await covered(ctx, conv.household_id, lock=False)


# What a survey step reads of a household: the ORM row, or the driver path's record of the
# locked rows (core/storage/answer_path.py), which names its attributes as the ORM does.
Draft = Household | Locked


def engine_for(ctx: Ctx, household: Draft) -> SurveyEngine:
    return engine_of(ctx.data.forms, household)


def engine_of(forms: Mapping[str, Survey], household: Draft) -> SurveyEngine:
    survey = forms.get(household.survey_id) or screening_form(household.survey_id)
    assert survey is not None, household.survey_id
    return SurveyEngine(survey, {"review_year": household.review_year, "is_urban": household.area == "urban"})


def editable(household: Draft) -> bool:
    return household.status == Status.DRAFT or household.reopened_at is not None


def position(household: Draft) -> EngineState:
    if not editable(household):
        return EngineState(mode=SUBMITTED)
    return EngineState.from_json(household.state)


async def open_on(ctx: Ctx, household: Household, state: EngineState | None = None) -> Step:
    """Open the household on this chat at its own question, or at `state` (every answer given
    is kept)."""
    conv = await conversation(ctx)
    conv.household_id, conv.state = household.id, None
    step = engine_for(ctx, household).start(await load_answers(ctx.s, household.id), state or position(household))
    household.state = step.state.to_json()
    return step


def no_open_household() -> list[OutMessage]:
    return [OutMessage(t("no_active_survey", new=slash("new"), list=slash("list")))]
