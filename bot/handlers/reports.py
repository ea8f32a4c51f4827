"""Reports and progress in chat: '/baocao' offers the tables and lists, then the unit (the
officer's own or one below it); the request becomes a durable job (core/reports/jobs.py) and
the workbook and chart follow when built. '/tiendo' counts surveyed, drafts and remaining."""

from __future__ import annotations

from sqlalchemy import select

from bot.context import Ctx
from bot.routes import Route
from core import access_log
from core.access import READERS, Action, Role, can, today
from core.chat import refs
from core.chat.commands import command_button, slash
from core.chat.messages import OutMessage
from core.i18n import t
from core.inspection.scope import inspected_communes
from core.procedure.counts import WAITING_RULES, households_with_photos, shown_apart, stage_counts
from core.procedure.steps import Stage
from core.reports import jobs
from core.reports.build import ProgressRow
from core.reports.build import progress as progress_rows
from core.storage.models import Unit
from core.units.names import find_unit, units_named
from core.units.tree import children

UNIT_BUTTONS = 40
UNITS_NAMED = 8  # units listed when a name matches several


async def unit_choice(ctx: Ctx, arg: str | None) -> Unit | OutMessage:
    """The user's own unit, or one in their area named '#id' (as report buttons send), by its
    code ('6202') or by its name ('ba son', 'Nà Pàn'); otherwise what to tell the user: no
    such unit, several of that name, or not theirs."""
    own = await ctx.unit()
    if not arg:
        return own if own is not None else OutMessage(t("report_unit_not_yours"))
    unit = await find_unit(ctx.s, ctx.settings.units_configuration, arg)
    if unit is None and refs.unit_ref(arg) is None:  # not a number: a name
        named = [u for u in await units_named(ctx.s, ctx.settings.units_configuration, arg)
                 if await can(ctx.s, ctx.me, Action.VIEW, u)]
        if len(named) > 1:
            names = ", ".join(f"{u.name} ({u.code or f'#{u.id}'})" for u in named[:UNITS_NAMED])
            return OutMessage(t("report_unit_many", query=arg.strip(), units=names))
        unit = named[0] if named else None
    if unit is None:
        return OutMessage(t("report_unit_unknown", query=arg.strip()))
    if not await can(ctx.s, ctx.me, Action.VIEW, unit):
        return OutMessage(t("report_unit_not_yours"))
    return unit


async def report(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    own = await ctx.unit()
    # an inspection team member has no unit of their own: they choose among their communes
    reach = await _inspected(ctx) if own is None and ctx.me.role == Role.INSPECTOR else []
    if own is None and not reach:
        return [OutMessage(t("report_not_allowed"))]
    words = (arg or "").replace(":", " ").split()
    names = dict(ctx.data.reports.names())
    if not words:
        rows = tuple((command_button(title, "report", rid),) for rid, title in names.items())
        return [OutMessage(t("report_choose"), rows)]
    rid = words[0]
    if rid not in names:
        return [OutMessage(t("report_unknown", report=slash("report")))]
    if len(words) == 1:
        if own is None:
            options = reach[:UNIT_BUTTONS]
        else:
            options = [own, *(await children(ctx.s, own))[:UNIT_BUTTONS]] if own.level != "village" else [own]
        rows = tuple((command_button(u.name, "report", f"{rid} {u.code or f'#{u.id}'}"),) for u in options)
        return [OutMessage(t("report_choose_unit", report=names[rid]), rows)]
    unit = await unit_choice(ctx, " ".join(words[1:]))
    if isinstance(unit, OutMessage):
        return [unit]
    if not await can(ctx.s, ctx.me, Action.REPORT, unit):
        return [OutMessage(t("report_unit_not_yours"))]
    jobs.enqueue(ctx.s, ctx.chat.channel, ctx.chat.chat_id, ctx.me.id, rid, unit.id, ctx.settings.review_year)
    access_log.record(ctx.s, "report", ctx.me, unit.id, detail={"report": rid})
    ctx.wakes.add("reports")
    return [OutMessage(t("report_working", report=names[rid], unit=unit.name))]


async def _inspected(ctx: Ctx) -> list[Unit]:
    ids = await inspected_communes(ctx.s, ctx.me.id, today(ctx.s))
    return list((await ctx.s.scalars(select(Unit).where(Unit.id.in_(ids)).order_by(Unit.code))).all()) if ids else []


SUMMARY_ABOVE = 15  # more rows than this: totals and the units furthest behind, not every line
BEHIND_SHOWN = 10


async def progress(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """Surveyed, drafts and still to survey. A commune sees every village; a province or district
    with dozens of units sees the totals first and the units furthest behind, and can ask for
    any one of them (/tiendo #id)."""
    unit = await unit_choice(ctx, arg)
    if isinstance(unit, OutMessage):
        return [unit]
    year = ctx.settings.review_year
    rows = await progress_rows(ctx.s, unit, year)
    unknown = t("progress_unknown_total")
    remaining = [r.remaining for r in rows]
    total = t("progress_total", submitted=sum(r.submitted for r in rows), drafts=sum(r.drafts for r in rows),
              remaining=unknown if None in remaining else sum(r for r in remaining if r is not None))
    lines = [t("progress_title", year=year, unit=unit.name)]
    steps = await progress_lines(ctx, unit)  # where households stand in the review procedure

    def line(r: ProgressRow) -> str:
        return t("progress_line", name=r.name, submitted=r.submitted, drafts=r.drafts,
                 remaining=unknown if r.remaining is None else r.remaining)

    if len(rows) <= SUMMARY_ABOVE:
        return [OutMessage("\n".join([*lines, *map(line, rows), total, *steps]))]
    behind = sorted(rows, key=_done_share)[:BEHIND_SHOWN]
    lines += [total, *steps, t("progress_behind_head", n=len(behind), of=len(rows))]
    lines += [line(r) for r in behind]
    lines.append(t("progress_more", progress=slash("progress")))
    buttons = tuple((command_button(r.name, "progress", f"#{r.unit_id}"),) for r in behind if r.unit_id is not None)
    return [OutMessage("\n".join(lines), buttons)]


async def progress_lines(ctx: Ctx, unit: Unit) -> list[str]:
    """The procedure's steps for /tiendo: how many households stand at each (counts only)."""
    year = ctx.settings.review_year
    counts = await stage_counts(ctx.s, unit, year)
    photos = await households_with_photos(ctx.s, unit, year)
    if not counts and not photos:
        return []
    apart = shown_apart(counts)
    shown = [t(f"stage_{s.value}", n=apart[s.value]) for s in Stage if apart[s.value]]
    if apart[WAITING_RULES]:
        shown.append(t("stage_waiting_rules", n=apart[WAITING_RULES]))
    official = counts[Stage.RECOGNISED.value]
    lines = [t("progress_steps", steps=", ".join(shown) or "-")]
    lines.append(t("progress_official", official=official, preliminary=sum(counts[s.value] for s in Stage) - official))
    if photos:
        lines.append(t("progress_photos", n=photos))
    return lines


def _done_share(row: ProgressRow) -> tuple[float, str]:
    """Furthest behind first: the share surveyed of the resident households (unknown counts as
    nothing surveyed of an unknown total, so it comes first and gets looked at)."""
    if not row.households_total:
        return (0.0 if row.submitted == 0 else 0.5, row.name)
    return (row.submitted / row.households_total, row.name)


ROUTES: tuple[Route, ...] = (
    Route("report", report, roles=READERS, denied="report_not_allowed", menu=True),
    Route("progress", progress, menu=True),
)
