"""Re-checks (phúc tra) in chat: '/laymau' draws a commune's sample (or adds a household a
complaint named), '/phuctra #N' lets the inspector re-survey a sampled household and shows what
differs once it is submitted, and '/traloiphuctra' lets the commune answer each difference
(accept the inspector's answer, or explain). core/inspection/ holds the rules.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.context import Ctx
from bot.conversations import recheck as session
from bot.conversations.session import conversation
from bot.routes import COMMUNE, TEXT, Await, Route
from core import access_log
from core.access import Action, Role, can, today
from core.chat import refs
from core.chat.commands import command_button, fit, slash
from core.chat.messages import Button, OutMessage
from core.i18n import t
from core.inspection import resolve
from core.inspection.members import scope_refusal
from core.inspection.recheck import SUBMITTED, recheck_for
from core.inspection.resolve import agreement, differences
from core.inspection.sample import add_named, row_for, sample
from core.inspection.selection import InspectionError, inspection_plan, rules_of
from core.storage.models import Household, Unit
from core.storage.models_inspection import InspectedUnit, Recheck
from core.text import clean_text
from core.units.names import find_commune

SAMPLERS = frozenset({Role.INSPECTOR, Role.PROVINCE, Role.ADMIN})
INSPECTORS = frozenset({Role.INSPECTOR})
EXPLAIN = "recheck_explain"  # the chat waits for the commune's explanation of a difference
EXPLAIN_MIN, EXPLAIN_MAX = 3, 500
SHOWN = 10


async def _refusal(ctx: Ctx) -> OutMessage:
    if ctx.me.role == Role.INSPECTOR:
        return OutMessage(await scope_refusal(ctx.s, ctx.me.id, today(ctx.s)))
    return OutMessage(t("report_unit_not_yours"))


# ----- the sample --------------------------------------------------------------------------------

async def draw(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """'/laymau #xã' draws (once) or shows the sample; '/laymau #xã +#N lý do' adds household N,
    named in a complaint."""
    words = (arg or "").split(maxsplit=2)
    commune = await find_commune(ctx.s, ctx.settings.units_configuration, words[0] if words else None)
    if commune is None:
        return [OutMessage(t("insp_sample_usage", cmd=slash("sample"), team=slash("inspect_team")))]
    if not await can(ctx.s, ctx.me, Action.VIEW, commune):
        return [await _refusal(ctx)]
    row = await row_for(ctx.s, commune.id, ctx.me.id if ctx.me.role == Role.INSPECTOR else None)
    plan = inspection_plan(ctx.data.plans, commune.configuration, ctx.settings.review_year)
    if row is None or plan is None:
        return [OutMessage(t("insp_not_inspected", commune=commune.name))]
    rules = rules_of(plan)
    try:
        if len(words) > 1:
            number = refs.hash_number(words[1].lstrip("+"))
            household = await ctx.s.get(Household, number) if number is not None else None
            if household is None or not words[1].startswith("+"):
                return [OutMessage(t("insp_sample_usage", cmd=slash("sample"), team=slash("inspect_team")))]
            note = clean_text(words[2]) if len(words) > 2 else ""
            if len(note) < EXPLAIN_MIN:
                return [OutMessage(t("insp_add_needs_reason", cmd=slash("sample"), commune=commune.code or "",
                                     id=household.id))]
            await add_named(ctx.s, row, commune, household, note, ctx.me, plan.year)
        rechecks = await sample(ctx.s, row, commune, rules, plan.year, ctx.me, ctx.now())
    except InspectionError as exc:
        return [OutMessage(t(exc.key, **exc.params))]
    access_log.record(ctx.s, "list", ctx.me, commune.id, detail={"recheck_sample": len(rechecks)})
    return [await _sample_message(ctx, commune, row, rechecks)]


async def _sample_message(ctx: Ctx, commune: Unit, row: InspectedUnit, rechecks: list[Recheck]) -> OutMessage:
    heads = dict((await ctx.s.execute(select(Household.id, Household.head_name).where(
        Household.id.in_([r.household_id for r in rechecks])))).all())
    lines = [t("insp_sample_title", commune=commune.name, n=len(rechecks), seed=row.sample_seed)]
    rows: list[tuple[Button, ...]] = []
    for r in rechecks:
        state = t(f"insp_state_{r.status}")
        lines.append(t("insp_sample_line", id=r.household_id, head=heads.get(r.household_id) or "-",
                       stratum=t(f"insp_stratum_{r.stratum}"), state=state))
        if ctx.me.role == Role.INSPECTOR and r.status != SUBMITTED:
            rows.append((command_button(fit(t("btn_insp_recheck", id=r.household_id)), "recheck",
                                        f"#{r.household_id}"),))
    lines.append(session.agreement_line(await agreement(ctx.s, row)))
    lines.append(t("insp_sample_hint", cmd=slash("sample"), code=commune.code or f"#{commune.id}",
                   recheck=slash("recheck")))
    return OutMessage("\n".join(lines), tuple(rows[:SHOWN]))


# ----- the inspector's re-survey ---------------------------------------------------------------

async def start(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    number = refs.number(arg)
    if number is None:
        return [OutMessage(t("insp_recheck_usage", cmd=slash("recheck"), team=slash("inspect_team")))]
    household = await ctx.s.get(Household, number)
    village = await ctx.s.get(Unit, household.village_id) if household is not None else None
    if household is None or village is None or not await can(ctx.s, ctx.me, Action.RECHECK, village):
        return [await _refusal(ctx)]
    recheck = await recheck_for(ctx.s, ctx.me, household.id, lock=True)
    if recheck is None:
        commune = await ctx.s.get(Unit, village.parent_id) if village.parent_id else None
        return [OutMessage(t("insp_not_in_sample", id=household.id, cmd=slash("sample"),
                             code=commune.code if commune else ""))]
    if recheck.status == SUBMITTED:
        commune = await ctx.s.get(Unit, village.parent_id)
        assert commune is not None
        shown = await differences(ctx.s, commune, ctx.data.forms, open_only=False, household_id=household.id)
        return [OutMessage(_differences_text(household, recheck, shown))]
    access_log.record(ctx.s, "recheck", ctx.me, village.id, household.id)
    return await session.begin(ctx, recheck, household)


def _differences_text(household: Household, recheck: Recheck, shown: list[resolve.Shown]) -> str:
    lines = [t("insp_recheck_summary", id=household.id, agreed=recheck.agreed or 0, compared=recheck.compared or 0,
               original=t(f"insp_class_{recheck.original_class}"), found=t(f"insp_class_{recheck.found_class}"))]
    for i, d in enumerate(shown, 1):
        answer = t(f"insp_resolution_{d.difference.resolution or 'open'}")
        lines.append(t("insp_difference_line", n=i, label=d.label, original=d.original, found=d.found) + answer)
    return "\n".join(lines)


# ----- the commune's answers -------------------------------------------------------------------

async def answer(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """'/traloiphuctra' lists the open differences; 'nhan N' accepts difference N, 'giaitrinh N
    [text]' explains it; '#H' shows household H's differences once its re-check is submitted."""
    commune = await ctx.unit()
    if commune is None or commune.level != "commune":
        return [OutMessage(t("proc_commune_only"))]
    words = (arg or "").split(maxsplit=2)
    if words and words[0].startswith("#"):
        return [await _household(ctx, commune, refs.number(words[0]))]
    if len(words) >= 2 and words[0] in ("nhan", "giaitrinh"):
        shown = await _difference(ctx, commune, refs.number(words[1]))
        if shown is None:
            return [OutMessage(t("insp_difference_unknown", cmd=slash("recheck_answer")))]
        if words[0] == "nhan":
            return [await _accept(ctx, commune, shown)]
        if len(words) == 3:
            return [await _explain(ctx, shown, words[2])]
        conv = await conversation(ctx)
        conv.state = {"await": EXPLAIN, "difference": shown.difference.id}
        return [OutMessage(t("insp_explain_ask", label=shown.label, id=shown.household.id))]
    shown = await differences(ctx.s, commune, ctx.data.forms)
    if not shown:
        return [OutMessage(t("insp_no_differences", commune=commune.name))]
    lines = [t("insp_differences_title", commune=commune.name, n=len(shown))]
    rows: list[tuple[Button, ...]] = []
    for d in shown[:SHOWN]:
        lines.append(t("insp_difference_open", diff=d.difference.id, id=d.household.id, label=d.label,
                       original=d.original, found=d.found))
        rows.append((command_button(t("btn_insp_accept", diff=d.difference.id), "recheck_answer",
                                    f"nhan {d.difference.id}"),
                     command_button(t("btn_insp_explain", diff=d.difference.id), "recheck_answer",
                                    f"giaitrinh {d.difference.id}")))
    return [OutMessage("\n".join(lines), tuple(rows))]


async def _household(ctx: Ctx, commune: Unit, number: int | None) -> OutMessage:
    """The commune reads the inspector's answers only once the re-check is submitted."""
    villages = select(Unit.id).where(Unit.parent_id == commune.id)
    household = await ctx.s.scalar(select(Household).where(Household.id == number,
                                                            Household.village_id.in_(villages)))
    recheck = await ctx.s.scalar(select(Recheck).where(Recheck.household_id == number).order_by(
        Recheck.id.desc()).limit(1)) if household is not None else None
    if household is None or recheck is None:
        return OutMessage(t("insp_no_recheck", id=number))
    if recheck.status != SUBMITTED:
        return OutMessage(t("insp_not_submitted_yet", id=household.id))
    shown = await differences(ctx.s, commune, ctx.data.forms, open_only=False, household_id=household.id)
    return OutMessage(_differences_text(household, recheck, shown))


async def _difference(ctx: Ctx, commune: Unit, number: int | None) -> resolve.Shown | None:
    return next((d for d in await differences(ctx.s, commune, ctx.data.forms) if d.difference.id == number), None)


async def _accept(ctx: Ctx, commune: Unit, shown: resolve.Shown) -> OutMessage:
    household = shown.household
    survey = ctx.data.forms[household.survey_id]
    pack = next((p for p in ctx.data.packs if p.id == household.pack_id), None) \
        or (await ctx.data.standard(ctx.s, household.review_year)).pack
    try:
        outcome = await resolve.accept(ctx.s, shown, survey, pack, ctx.me, ctx.now())
    except InspectionError as exc:
        return OutMessage(t(exc.key, **exc.params))
    return OutMessage(t("insp_accepted", id=household.id, label=shown.label, found=shown.found,
                        outcome=t(f"outcome_{outcome}"), more=slash("recheck_answer")))


async def _explain(ctx: Ctx, shown: resolve.Shown, text: str) -> OutMessage:
    reason = clean_text(text)
    if not EXPLAIN_MIN <= len(reason) <= EXPLAIN_MAX:
        return OutMessage(t("insp_explain_length", min=EXPLAIN_MIN, max=EXPLAIN_MAX))
    resolve.explain(shown, reason, ctx.me, ctx.now())
    return OutMessage(t("insp_explained", id=shown.household.id, label=shown.label, more=slash("recheck_answer")))


async def explanation(ctx: Ctx, text: str | None) -> list[OutMessage]:
    """The typed explanation the chat asked for (the router's AWAITS)."""
    conv = await conversation(ctx)
    wanted = (conv.state or {}).get("difference")
    commune = await ctx.unit()
    shown = await _difference(ctx, commune, wanted) if commune is not None else None
    if shown is None:
        conv.state = None
        return [OutMessage(t("insp_difference_unknown", cmd=slash("recheck_answer")))]
    reply = await _explain(ctx, shown, text or "")
    if shown.difference.resolution is not None:
        conv.state = None
    return [reply]


ROUTES: tuple[Route, ...] = (
    Route("sample", draw, roles=SAMPLERS, denied="insp_team_only"),
    Route("recheck", start, roles=INSPECTORS, denied="insp_team_only", menu=True),
    Route("recheck_answer", answer, roles=COMMUNE, denied="proc_commune_only", menu=True),
)
AWAITS: tuple[Await, ...] = (Await(EXPLAIN, TEXT, explanation),)
