"""Who asks to be reviewed: applications (/dondenghi, Mẫu 01), requests to leave the list
(/xinthoat, Mẫu 04), then Phiếu A (/phieua) and, when its stop rule lets the household go on,
Phiếu B (/phieub). What a submitted Phiếu A means is core/procedure/transitions.py.
"""

from __future__ import annotations

from sqlalchemy import func, select

from bot.context import Ctx
from bot.conversations.session import household_of, open_on
from bot.routes import COMMUNE, HEADS, Route
from core.access import Action, Role, can
from core.chat.commands import command_button, slash
from core.chat.messages import OutMessage
from core.classification.pack import pack_for_year
from core.conversation.state import EngineState
from core.households import Status
from core.i18n import t
from core.procedure.models import Review
from core.procedure.screening import phieu_a
from core.procedure.steps import Origin, Stage, record_step
from core.storage.models import Household, Unit
from core.storage.repo import audit, save_answer
from core.text import clean_text
from core.units.tree import commune_of

REASON_MAX = 300

async def apply(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """Mẫu số 01: 'Họ tên chủ hộ | lý do' (a village head), 'Thôn | Họ tên | lý do' (an officer)."""
    unit = await ctx.unit()
    parts = [clean_text(p) for p in (arg or "").split("|")]
    officer = ctx.me.role == Role.COMMUNE
    if unit is None or len(parts) != (3 if officer else 2) or not all(parts):
        return [OutMessage(t("apply_usage_commune" if officer else "apply_usage", cmd=slash("apply")))]
    if officer:
        village = await ctx.s.scalar(select(Unit).where(Unit.parent_id == unit.id, Unit.level == "village",
                                                        func.lower(Unit.name) == parts[0].lower()))
        if village is None:
            return [OutMessage(t("apply_no_village", village=parts[0], commune=unit.name))]
        parts = parts[1:]
    else:
        village = unit
    name, reason = parts[0][:200], parts[1][:REASON_MAX]
    survey = phieu_a()[0]
    commune = await commune_of(ctx.s, village)
    household = Household(village_id=village.id, survey_id=survey.id, survey_version=survey.version,
                          review_year=ctx.settings.review_year, status=Status.DRAFT, head_name=name,
                          created_by=ctx.me.id,
                          area=pack_for_year(ctx.data.packs, ctx.settings.review_year).area_of(
                              commune.kind if commune else "Xã"))
    ctx.s.add(household)
    await ctx.s.flush()
    await audit(ctx.s, household.id, "create", ctx.me.id, {"survey": survey.key, "village": village.name,
                                                          "application": "Mẫu số 01"})
    await save_answer(ctx.s, household.id, survey.head_name or "chu_ho_ten", None, name, ctx.me.id)
    ctx.s.add(Review(household_id=household.id, origin=Origin.APPLICANT, stage=Stage.APPLIED, listed_class=None))
    await ctx.s.flush()
    await record_step(ctx.s, household, "applied", ctx.me.id, {"form": "Mẫu số 01", "reason": reason,
                                                              "on": ctx.today().isoformat()})
    button = command_button(t("btn_screen"), "screen", str(household.id))
    return [OutMessage(t("apply_done", id=household.id, head=name, village=village.name, cmd=slash("screen")),
                       ((button,),))]


async def leave(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """Mẫu số 04: a listed household asks to leave the list; Phiếu A comes first."""
    ref, _, reason = (arg or "").partition("|")
    household = await household_of(ctx, ref)
    reason = clean_text(reason)
    if household is None or not reason:
        return [OutMessage(t("leave_usage", cmd=slash("leave")))]
    review = await ctx.s.get(Review, household.id, with_for_update=True)
    if review is None or review.stage != Stage.LISTED:
        return [OutMessage(t("leave_not_listed", id=household.id))]
    await record_step(ctx.s, household, "leave_request", ctx.me.id,
                      {"form": "Mẫu số 04", "reason": reason[:REASON_MAX]}, Stage.LEAVE)
    button = command_button(t("btn_screen"), "screen", str(household.id))
    return [OutMessage(t("leave_done", id=household.id, cmd=slash("screen")), ((button,),))]


async def _switch_form(ctx: Ctx, household: Household, form_id: str) -> list[OutMessage]:
    """Open this household in the chat on another form, keeping every answer given (both forms
    share the identification questions)."""
    survey = phieu_a()[0] if form_id == phieu_a()[0].id else ctx.data.forms[form_id]
    household.survey_id, household.survey_version = survey.id, survey.version
    step = await open_on(ctx, household, EngineState())  # a new form starts at its first question
    intro = OutMessage(t("new_household", id=household.id, title=survey.title, village="-", area="-",
                         back=slash("back"), pause=slash("pause")).splitlines()[0])
    return [intro, *step.messages]


async def _village_head_of(ctx: Ctx, household: Household) -> bool:
    village = await ctx.s.get(Unit, household.village_id)
    return village is not None and await can(ctx.s, ctx.me, Action.SURVEY, village)


async def screen_household(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    household = await household_of(ctx, arg)
    if household is None:
        return [OutMessage(t("screen_usage", cmd=slash("screen")))]
    review = await ctx.s.get(Review, household.id, with_for_update=True)
    if review is None or review.stage not in (Stage.APPLIED, Stage.LEAVE):
        return [OutMessage(t("screen_not_due", id=household.id))]
    if not await _village_head_of(ctx, household):
        return [OutMessage(t("only_village_heads_survey"))]
    return await _switch_form(ctx, household, phieu_a()[0].id)


async def survey_b(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    household = await household_of(ctx, arg)
    review = await ctx.s.get(Review, household.id, with_for_update=True) if household else None
    if household is None or review is None or review.stage != Stage.SURVEYING or household.survey_id == "phieu_b":
        return [OutMessage(t("survey_b_not_due", cmd=slash("screen")))]
    if not await _village_head_of(ctx, household):
        return [OutMessage(t("only_village_heads_survey"))]
    return await _switch_form(ctx, household, "phieu_b")


ROUTES: tuple[Route, ...] = (
    Route("apply", apply, roles=HEADS | COMMUNE, denied="proc_not_allowed"),
    Route("leave", leave, roles=HEADS | COMMUNE, denied="proc_not_allowed"),
    Route("screen", screen_household, roles=HEADS, denied="only_village_heads_survey"),
    Route("survey_b", survey_b, roles=HEADS, denied="only_village_heads_survey"),
)
