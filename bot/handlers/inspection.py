"""Choosing where to inspect and the inspection team, in chat (core/inspection/).

'/dexuatkiemtra' gives a province officer the bot's ranked proposal with each commune's reasons;
the officer drops or adds communes and confirms (who and when are recorded). '/doankiemtra'
shows the inspection, issues a team member's invite code ('moi') and closes it ('dong'), which
ends the team's access at once; for a team member it lists the communes they may work in.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.context import Ctx
from bot.routes import Route
from core.access import Role, today
from core.accounts import CODE_DAYS, issue_invite
from core.chat import refs
from core.chat.commands import command_button, fit, slash
from core.chat.messages import Button, OutMessage
from core.i18n import fmt_date, fmt_number, t
from core.inspection import selection
from core.inspection.evidence import Ranked, Reason
from core.inspection.members import scope_refusal
from core.inspection.resolve import agreement
from core.inspection.scope import CONFIRMED, PROPOSED, inspected_communes
from core.plans.model import Plan
from core.storage.models import InviteCode, Unit, User
from core.storage.models_inspection import Inspection, InspectionInvite

PROVINCE = frozenset({Role.PROVINCE, Role.ADMIN})
TEAM = PROVINCE | {Role.INSPECTOR}
OTHERS_SHOWN = 5  # communes ranked below the proposal, shown so the officer can add one


def reason_text(reason: Reason | dict) -> str:
    r = reason if isinstance(reason, dict) else reason.to_json()
    value, threshold = float(r["value"]), float(r["threshold"])  # type: ignore[arg-type]
    share = r["name"] in ("behind_schedule", "class_changes")
    shown = (lambda v: fmt_number(round(100 * v, 1))) if share else (lambda v: fmt_number(round(v, 1)))
    return t(f"insp_reason_{r['name']}", value=shown(value), threshold=shown(threshold))


async def _plan_and_province(ctx: Ctx) -> tuple[Plan, Unit] | OutMessage:
    unit = await ctx.unit()
    if unit is None or unit.level != "province":
        return OutMessage(t("insp_province_only"))
    plan = selection.inspection_plan(ctx.data.plans, unit.configuration, ctx.settings.review_year)
    if plan is None:
        return OutMessage(t("insp_no_plan"))
    return plan, unit


async def propose(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    found = await _plan_and_province(ctx)
    if isinstance(found, OutMessage):
        return [found]
    plan, province = found
    words = (arg or "").split()
    verb = words[0].lower() if words else ""
    offer = await selection.propose(ctx.s, plan, province, ctx.me, ctx.now(), again=verb == "lai")
    try:
        if verb in ("bo", "them") and len(words) == 2:
            commune = _commune(offer, words[1])
            if commune is None:
                return [OutMessage(t("insp_commune_unknown", cmd=slash("inspect_propose")))]
            await selection.set_picked(ctx.s, offer, commune, verb == "them", ctx.me, ctx.now())
        elif verb == "ok":
            chosen = await selection.confirm(ctx.s, offer.inspection, ctx.me, ctx.now())
            return [OutMessage(t("insp_confirmed", n=len(chosen), names=", ".join(u.name for u in chosen),
                                 start=fmt_date(offer.inspection.starts_on), end=fmt_date(offer.inspection.ends_on),
                                 team=slash("inspect_team")))]
        elif verb not in ("", "lai"):
            return [OutMessage(t("insp_propose_usage", cmd=slash("inspect_propose")))]
    except selection.InspectionError as exc:
        return [OutMessage(t(exc.key, **exc.params, cmd=slash("inspect_propose")))]
    return [await _show(ctx, plan, offer)]


def _commune(offer: selection.Proposal, word: str) -> Unit | None:
    ref = refs.unit_ref(word)
    if ref is None:
        return None
    return next((r.commune for r in offer.ranked if r.commune.id == ref.id or
                 (ref.code is not None and r.commune.code == ref.code)), None)


async def _show(ctx: Ctx, plan: Plan, offer: selection.Proposal) -> OutMessage:
    inspection = offer.inspection
    picked = [r for r in offer.ranked if (row := offer.rows.get(r.commune.id)) is not None and row.picked]
    lines = [t("insp_propose_title", plan=plan.title, n=len(picked))]
    for i, r in enumerate(picked, 1):
        lines.append(_line(i, r, offer))
    others = [r for r in offer.ranked if r not in picked and r.score > 0][:OTHERS_SHOWN]
    if others:
        lines.append(t("insp_propose_others"))
        lines += [_line(None, r, offer) for r in others]
    rows: list[tuple[Button, ...]] = []
    if inspection.status == PROPOSED:
        lines.append(t("insp_propose_hint", cmd=slash("inspect_propose")))
        rows.append((command_button(t("btn_insp_confirm", n=len(picked)), "inspect_propose", "ok"),))
        rows += [(command_button(fit(t("btn_insp_drop", name=r.commune.name)), "inspect_propose",
                                 f"bo #{r.commune.id}"),) for r in picked[:20]]
        rows += [(command_button(fit(t("btn_insp_add", name=r.commune.name)), "inspect_propose",
                                 f"them #{r.commune.id}"),) for r in others]
    else:
        who = await ctx.s.get(User, inspection.confirmed_by) if inspection.confirmed_by else None
        lines.append(t("insp_propose_confirmed", who=who.display_name if who else "-",
                       when=fmt_date(plan.local(inspection.confirmed_at)) if inspection.confirmed_at else "-",
                       team=slash("inspect_team")))
    return OutMessage("\n".join(lines), tuple(rows))


def _line(place: int | None, r: Ranked, offer: selection.Proposal) -> str:
    row = offer.rows.get(r.commune.id)
    why = "; ".join(reason_text(x) for x in r.reasons) or t("insp_reason_none")
    added = row is not None and row.rank is None
    return t("insp_propose_line", n=f"{place}." if place else "•", name=r.commune.name,
             district=f" ({r.parent.name})" if r.parent else "", score=fmt_number(r.score), why=why,
             added=t("insp_added_by_hand") if added else "")


# ----- the team ----------------------------------------------------------------------------------

async def team(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    if ctx.me.role == Role.INSPECTOR:
        return [await _member_view(ctx)]
    found = await _plan_and_province(ctx)
    if isinstance(found, OutMessage):
        return [found]
    plan, province = found
    inspection = await selection.current(ctx.s, plan, lock=True)
    if inspection is None or inspection.status != CONFIRMED:
        return [OutMessage(t("insp_not_confirmed", cmd=slash("inspect_propose")))]
    verb = (arg or "").strip().lower()
    if verb == "moi":
        code = await issue_invite(ctx.s, Role.INSPECTOR, province, ctx.me)
        ctx.s.add(InspectionInvite(code=code.code, inspection_id=inspection.id))
        return [OutMessage(t("invite_issued", code=code.code, role=t("role_inspector"), unit=plan.title,
                             days=CODE_DAYS, register=slash("register")))]
    if verb == "dong":
        await selection.close(ctx.s, inspection, ctx.me, ctx.now())
        return [OutMessage(t("insp_closed", plan=plan.title))]
    if verb:
        return [OutMessage(t("insp_team_usage", cmd=slash("inspect_team")))]
    return [await _status(ctx, plan, inspection)]


async def _status(ctx: Ctx, plan: Plan, inspection: Inspection) -> OutMessage:
    members = (await ctx.s.scalars(select(User.display_name).join(InviteCode, InviteCode.used_by == User.id).join(
        InspectionInvite, InspectionInvite.code == InviteCode.code).where(
        InspectionInvite.inspection_id == inspection.id).order_by(User.display_name))).all()
    lines = [t("insp_team_title", plan=plan.title, start=fmt_date(inspection.starts_on),
               end=fmt_date(inspection.ends_on), members=", ".join(members) or "-")]
    rules = selection.rules_of(plan)
    for row, commune in await selection.picked_units(ctx.s, inspection):
        total = await agreement(ctx.s, row)
        flag = t("insp_flag_mark") if total.flagged(rules) else ""
        rate = fmt_number(round(100 * total.answer_rate, 1)) if total.answer_rate is not None else "-"
        lines.append(t("insp_team_commune", name=commune.name, sampled=total.rechecked + total.waiting,
                       rechecked=total.rechecked, rate=rate, flag=flag))
    rows = ((command_button(t("btn_insp_invite"), "inspect_team", "moi"),),
            (command_button(t("btn_insp_close"), "inspect_team", "dong"),))
    return OutMessage("\n".join(lines), rows)


async def _member_view(ctx: Ctx) -> OutMessage:
    """The communes a team member may work in today, with what they can do there."""
    day = today(ctx.s)
    ids = await inspected_communes(ctx.s, ctx.me.id, day)
    if not ids:
        return OutMessage(await scope_refusal(ctx.s, ctx.me.id, day))
    communes = (await ctx.s.scalars(select(Unit).where(Unit.id.in_(ids)).order_by(Unit.code))).all()
    lines = [t("insp_member_title", n=len(communes))]
    rows: list[tuple[Button, ...]] = []
    for c in communes:
        lines.append(f"• {c.name} ({c.code})")
        rows.append((command_button(fit(t("btn_insp_sample", name=c.name)), "sample", f"#{c.id}"),
                     command_button(t("btn_insp_list"), "list", f"#{c.id}")))
    lines.append(t("insp_member_hint", recheck=slash("recheck"), report=slash("report")))
    return OutMessage("\n".join(lines), tuple(rows))


ROUTES: tuple[Route, ...] = (
    Route("inspect_propose", propose, roles=PROVINCE, denied="insp_province_only", menu=True),
    Route("inspect_team", team, roles=TEAM, denied="insp_province_only", menu=True),
)
