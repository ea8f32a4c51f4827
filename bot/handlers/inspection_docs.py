"""The inspection's documents in chat: '/baocaokiemtra' builds the commune's report "có số liệu"
(a commune officer), the province's report (a province officer) or the visit minutes of a
commune ('/baocaokiemtra #xã', a team member). The figures come from the database; the parts a
person writes are asked one by one (typed, or left as a marked blank with «Để trống»); the
document comes as a .docx, and «Nộp báo cáo» submits it to the plan's request through the
report desk (/nopbaocao, /theodoi), so the deadline notices know it was sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.context import Ctx
from bot.conversations.session import conversation
from bot.routes import TEXT, Await, Route
from core import access_log
from core.access import Action, Role, can, today
from core.chat.commands import command_button, slash
from core.chat.messages import OutMessage
from core.documents import write_document
from core.i18n import fmt_number, t
from core.inspection import figures
from core.inspection.members import scope_refusal
from core.inspection.sample import row_for
from core.inspection.selection import current, inspection_plan, rules_of
from core.plans.desk import ReportDesk
from core.plans.model import Plan
from core.storage.models import InviteCode, Unit, User
from core.storage.models_inspection import Inspection, InspectionInvite
from core.text import clean_text
from core.units.names import find_commune

SECTION = "inspect_section"  # the chat waits for a written part of an inspection document
TEXT_MAX = 4000
READERS = frozenset({Role.COMMUNE, Role.PROVINCE, Role.ADMIN, Role.INSPECTOR})
SHOWN_FIGURES = ("surveyed", "poor_before", "poor_after", "near_poor_before", "near_poor_after", "complaints",
                 "rechecked", "agreement_rate")


async def _target(ctx: Ctx, arg: str | None) -> tuple[str, Plan, Inspection, Unit] | OutMessage:
    """(document, plan, inspection, unit it is about) for this user, or why there is none."""
    if ctx.me.role == Role.INSPECTOR:
        commune = await find_commune(ctx.s, ctx.settings.units_configuration, (arg or "").split()[0] if arg else None)
        if commune is None:
            return OutMessage(t("insp_minutes_usage", cmd=slash("inspect_report"), team=slash("inspect_team")))
        if not await can(ctx.s, ctx.me, Action.VIEW, commune):
            return OutMessage(await scope_refusal(ctx.s, ctx.me.id, today(ctx.s)))
        row = await row_for(ctx.s, commune.id, ctx.me.id)
        doc, unit = figures.MINUTES, commune
    else:
        unit = await ctx.unit()
        if unit is None or unit.level not in ("commune", "province"):
            return OutMessage(t("insp_report_not_allowed"))
        doc = figures.COMMUNE_REPORT if unit.level == "commune" else figures.PROVINCE_REPORT
        row = await row_for(ctx.s, unit.id) if unit.level == "commune" else None
    plan = inspection_plan(ctx.data.plans, unit.configuration, ctx.settings.review_year)
    if plan is None:
        return OutMessage(t("insp_no_plan"))
    inspection = await ctx.s.get(Inspection, row.inspection_id) if row is not None else None
    if doc == figures.PROVINCE_REPORT:
        inspection = await current(ctx.s, plan)
    if inspection is None or inspection.status == "proposed":
        return OutMessage(t("insp_not_inspected", commune=unit.name))
    return doc, plan, inspection, unit


async def _context(ctx: Ctx, doc: str, plan: Plan, inspection: Inspection, unit: Unit) -> dict[str, Any]:
    rules, on = rules_of(plan), ctx.today()
    if doc == figures.COMMUNE_REPORT:
        return await figures.commune_report(ctx.s, plan, rules, inspection, unit, on)
    if doc == figures.PROVINCE_REPORT:
        return await figures.province_report(ctx.s, plan, rules, inspection, unit, on)
    team = (await ctx.s.scalars(select(User.display_name).join(InviteCode, InviteCode.used_by == User.id).join(
        InspectionInvite, InspectionInvite.code == InviteCode.code).where(
        InspectionInvite.inspection_id == inspection.id).order_by(User.id))).all()
    return await figures.visit_minutes(ctx.s, plan, rules, inspection, unit, list(team), on)


async def report(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    words = (arg or "").split()
    verb = words[-1].lower() if words and not words[-1].startswith("#") else ""
    found = await _target(ctx, arg)
    if isinstance(found, OutMessage):
        return [found]
    doc, plan, inspection, unit = found
    conv = await conversation(ctx)
    state = conv.state or {}
    asking = state.get("await") == SECTION and state.get("doc") == doc and state.get("unit") == unit.id
    if verb == "trong" and asking:  # leave this part as it is (a marked blank if never written)
        return await _next(ctx, doc, plan, inspection, unit, int(state.get("i", 0)) + 1)
    if verb == "lap":
        conv.state = None
        return await _build(ctx, doc, plan, inspection, unit)
    if verb == "nop":
        return await _submit(ctx, doc, plan, unit)
    context = await _context(ctx, doc, plan, inspection, unit)
    head = [t(f"insp_doc_{doc}", unit=unit.name, year=plan.year)]
    head += [t(f"insp_fig_{k}", value=_value(context.get(k))) for k in SHOWN_FIGURES if k in context]
    return [OutMessage("\n".join(head)), *await _next(ctx, doc, plan, inspection, unit, 0)]


def _value(v: Any) -> str:
    return "-" if v is None else fmt_number(v) if isinstance(v, int | float) else str(v)


async def _next(ctx: Ctx, doc: str, plan: Plan, inspection: Inspection, unit: Unit, i: int) -> list[OutMessage]:
    sections = figures.sections(doc)
    conv = await conversation(ctx)
    if i >= len(sections):
        conv.state = None
        return await _build(ctx, doc, plan, inspection, unit)
    conv.state = {"await": SECTION, "doc": doc, "unit": unit.id, "inspection": inspection.id, "i": i}
    written = (await figures.texts(ctx.s, inspection, unit, doc)).get(sections[i].key)
    arg = f"#{unit.id} " if ctx.me.role == Role.INSPECTOR else ""
    rows = ((command_button(t("btn_insp_blank"), "inspect_report", f"{arg}trong"),
             command_button(t("btn_insp_build"), "inspect_report", f"{arg}lap")),)
    text = t("insp_section_ask", n=i + 1, of=len(sections), title=sections[i].title)
    if written:
        text += "\n" + t("insp_section_has", text=written[:300])
    return [OutMessage(text, rows)]


async def section_typed(ctx: Ctx, text: str | None) -> list[OutMessage]:
    """A written part typed after the bot asked for it (the router's AWAITS)."""
    conv = await conversation(ctx)
    state = conv.state or {}
    unit = await ctx.s.get(Unit, state.get("unit") or 0)
    inspection = await ctx.s.get(Inspection, state.get("inspection") or 0)
    doc, i = state.get("doc"), int(state.get("i", 0))
    plan = inspection_plan(ctx.data.plans, unit.configuration, ctx.settings.review_year) if unit else None
    parts = figures.sections(doc) if doc in (figures.COMMUNE_REPORT, figures.PROVINCE_REPORT, figures.MINUTES) else []
    if unit is None or inspection is None or plan is None or not 0 <= i < len(parts) \
            or not await can(ctx.s, ctx.me, Action.VIEW, unit) or inspection.closed_at is not None:
        conv.state = None
        return [OutMessage(t("insp_section_lost", cmd=slash("inspect_report")))]
    written = clean_text(text or "")[:TEXT_MAX]
    if not written:
        return [OutMessage(t("insp_section_empty"))]
    await figures.save_text(ctx.s, inspection, unit, doc, parts[i].key, written, ctx.me)
    return [OutMessage(t("insp_section_saved")), *await _next(ctx, doc, plan, inspection, unit, i + 1)]


def _path(ctx: Ctx, doc: str, plan: Plan, unit: Unit) -> Path:
    return ctx.data_path("inspection", f"{doc}_{unit.code or unit.id}_{plan.year}.docx")


async def _build(ctx: Ctx, doc: str, plan: Plan, inspection: Inspection, unit: Unit) -> list[OutMessage]:
    path = write_document(doc, await _context(ctx, doc, plan, inspection, unit), _path(ctx, doc, plan, unit))
    access_log.record(ctx.s, "export", ctx.me, unit.id, detail={"report": doc})
    request = next((r for r in plan.reports if r.document == doc), None)
    rows = ((command_button(t("btn_insp_submit"), "inspect_report", "nop"),),) if request is not None else ()
    return [OutMessage(t("insp_doc_ready", name=path.name), rows, document=str(path))]


async def _submit(ctx: Ctx, doc: str, plan: Plan, unit: Unit) -> list[OutMessage]:
    """The built document goes to the plan's request it answers, through the report desk."""
    request = next((r for r in plan.reports if r.document == doc), None)
    path = _path(ctx, doc, plan, unit)
    if request is None or not path.exists():
        return [OutMessage(t("insp_doc_nothing_to_submit", cmd=slash("inspect_report")))]
    return await ReportDesk(ctx.data.plans).submit_file(ctx.s, ctx.me, unit, plan.request_key(request), path.name,
                                                        str(path), ctx.now())


ROUTES: tuple[Route, ...] = (
    Route("inspect_report", report, roles=READERS, denied="insp_report_not_allowed", menu=True),
)
AWAITS: tuple[Await, ...] = (Await(SECTION, TEXT, section_typed),)
