"""The inspector's re-survey in chat (phúc tra): the same survey engine and the same commands as
any survey (typed answers, answer buttons, /quaylai, /xemlai, /sua, /xacnhan), with the
answers written to the re-check's own rows, never to the household's.

The chat remembers the re-check it has open (`{"recheck": id}` in its state, no household
open), so the survey session's step (bot/conversations/survey.py) hands every typed answer,
press and step command here. Each step checks again that the inspector's scope still reaches
the household: closing the inspection ends a re-check mid-way, and nothing typed is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from bot.context import Ctx
from bot.conversations.session import conversation
from core.access import Action, Role, can
from core.chat.commands import command_button, slash
from core.chat.messages import OutMessage
from core.conversation.engine import EngineState, Step, SurveyEngine
from core.i18n import t
from core.inspection.recheck import STARTED, SUBMITTED, engine_of, found_answers, save_found, submit
from core.inspection.resolve import Agreement, agreement, differences
from core.inspection.selection import inspection_plan, rules_of
from core.messaging import tell_users
from core.storage.models import Conversation, Household, Unit, User
from core.storage.models_inspection import InspectedUnit, Recheck

KEY = "recheck"
Act = Callable[[SurveyEngine, EngineState, dict[str, Any]], Step]
DIFFERENCES_SHOWN = 15


def active(conv: Conversation) -> int | None:
    value = (conv.state or {}).get(KEY)
    return value if isinstance(value, int) else None


async def begin(ctx: Ctx, recheck: Recheck, household: Household) -> list[OutMessage]:
    """Open the re-check on this chat at its own question (every answer given is kept)."""
    conv = await conversation(ctx)
    conv.household_id, conv.state = None, {KEY: recheck.id}
    if recheck.status != STARTED:
        recheck.status, recheck.inspector_id, recheck.started_at = STARTED, ctx.me.id, ctx.now()
    engine = engine_of(ctx.data.forms[household.survey_id], household)
    step = engine.start(await found_answers(ctx.s, recheck.id), EngineState.from_json(recheck.state))
    recheck.state = step.state.to_json()
    intro = OutMessage(t("insp_recheck_begin", id=household.id, back=slash("back"), cancel=slash("cancel")))
    return [intro, *step.messages]


async def step(ctx: Ctx, conv: Conversation, act: Act) -> list[OutMessage]:
    recheck = await ctx.s.get(Recheck, active(conv), with_for_update=True)
    household = await ctx.s.get(Household, recheck.household_id) if recheck is not None else None
    village = await ctx.s.get(Unit, household.village_id) if household is not None else None
    if recheck is None or household is None or village is None or recheck.status == SUBMITTED \
            or not await can(ctx.s, ctx.me, Action.RECHECK, village):
        conv.state = None
        return [OutMessage(t("insp_recheck_closed", recheck=slash("recheck")))]
    engine = engine_of(ctx.data.forms[household.survey_id], household)
    found = await found_answers(ctx.s, recheck.id)
    done = act(engine, EngineState.from_json(recheck.state), dict(found))
    await save_found(ctx.s, recheck, [(c.key, c.new) for c in done.changes], ctx.me.id)
    recheck.state = done.state.to_json()
    if not done.submit:
        return done.messages
    conv.state = None
    return [*done.messages, *await _submitted(ctx, recheck, household, village)]


async def _submitted(ctx: Ctx, recheck: Recheck, household: Household, village: Unit) -> list[OutMessage]:
    """Compare with the commune's answers, show the inspector the differences, tell the commune."""
    row = await ctx.s.get(InspectedUnit, recheck.inspected_unit_id)
    commune = await ctx.s.get(Unit, village.parent_id) if village.parent_id else None
    assert row is not None and commune is not None
    plan = inspection_plan(ctx.data.plans, commune.configuration, household.review_year)
    if plan is None:  # the plan was taken out of the active plans since the sample was drawn
        return [OutMessage(t("insp_no_plan"))]
    rules = rules_of(plan)
    pack = next((p for p in ctx.data.packs if p.id == household.pack_id), None) \
        or (await ctx.data.standard(ctx.s, household.review_year)).pack
    result = await submit(ctx.s, recheck, household, ctx.data.forms[household.survey_id], pack, rules, ctx.me,
                          ctx.now())
    shown = await differences(ctx.s, commune, ctx.data.forms, open_only=False, household_id=household.id)
    lines = [t("insp_recheck_done", id=household.id, agreed=result.agreed, compared=result.compared,
               original=t(f"insp_class_{result.original_class}"), found=t(f"insp_class_{result.found_class}"))]
    lines += [t("insp_difference_line", n=i, label=d.label, original=d.original, found=d.found)
              for i, d in enumerate(shown[:DIFFERENCES_SHOWN], 1)]
    if len(shown) > DIFFERENCES_SHOWN:
        lines.append(t("insp_differences_more", n=len(shown) - DIFFERENCES_SHOWN))
    total = await agreement(ctx.s, row)
    lines.append(agreement_line(total))
    if total.flagged(rules):
        lines.append(t("insp_commune_flagged", commune=commune.name))
    officers = (await ctx.s.scalars(select(User.id).where(
        User.unit_id == commune.id, User.role == Role.COMMUNE, User.disabled_at.is_(None)))).all()
    if result.differences:
        await tell_users(ctx.s, officers, f"recheck/{recheck.id}", OutMessage(
            t("insp_tell_commune", id=household.id, n=len(result.differences), answer=slash("recheck_answer")),
            ((command_button(t("btn_insp_answer"), "recheck_answer", f"#{household.id}"),),)))
    return [OutMessage("\n".join(lines))]


def agreement_line(total: Agreement) -> str:
    if total.answer_rate is None:
        return t("insp_agreement_none", waiting=total.waiting)
    return t("insp_agreement", rechecked=total.rechecked, waiting=total.waiting,
             answers=f"{100 * total.answer_rate:.1f}".replace(".", ","),
             classes=f"{100 * (total.class_rate or 0):.1f}".replace(".", ","), open=total.open_differences)
