"""The rules a review is judged by, in chat: '/chuanapdung' says which standard this year's
review applies and why; a province officer who holds the dated official text that decided it
records another standard, citing the text's number and date (core/procedure/standards.py)."""

from __future__ import annotations

from bot.context import Ctx
from bot.routes import Route
from core import access_log
from core.access import Role
from core.chat import refs
from core.chat.commands import slash
from core.chat.messages import OutMessage
from core.i18n import fmt_date, t
from core.procedure.standards import record_override, standard_detail, standard_line
from core.text import clean_text

PROVINCE = frozenset({Role.PROVINCE, Role.ADMIN})
REASON_MIN, REASON_MAX = 3, 300


async def standard(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """'/chuanapdung' shows the standard; '/chuanapdung nd07_2021 123/QĐ-UBND 01/10/2026 lý do'
    records the province's decision for this year's review (province officers only)."""
    year = ctx.settings.review_year
    current = await ctx.data.standard(ctx.s, year)
    words = (arg or "").split(maxsplit=3)
    if not words:
        lines = standard_detail(current)
        packs = ", ".join(f"{p.id} ({p.name}, {p.year_from}–{p.year_to})" for p in ctx.data.packs)
        if ctx.me.role in PROVINCE:
            lines.append(t("standard_how_to_override", cmd=slash("standard"), packs=packs))
        return [OutMessage("\n".join(lines))]
    if ctx.me.role not in PROVINCE:
        return [OutMessage(t("standard_province_only"))]
    pack = next((p for p in ctx.data.packs if p.id == words[0]), None)
    day = refs.day(words[2]) if len(words) > 2 else None
    reason = clean_text(words[3]) if len(words) > 3 else ""
    if pack is None or day is None or day > ctx.today() or not REASON_MIN <= len(reason) <= REASON_MAX:
        packs = ", ".join(p.id for p in ctx.data.packs)
        return [OutMessage(t("standard_usage", cmd=slash("standard"), packs=packs, min=REASON_MIN))]
    unit = await ctx.unit()
    if unit is None:
        return [OutMessage(t("standard_province_only"))]
    document = words[1][:60]
    record_override(ctx.s, unit.id, year, pack, document, day, reason, ctx.me.id)
    access_log.record(ctx.s, "standard_override", ctx.me, unit.id,
                      detail={"year": year, "pack": pack.id, "document": document})
    await ctx.s.flush()
    now = await ctx.data.standard(ctx.s, year)
    return [OutMessage(t("standard_recorded", year=year, line=standard_line(now), document=document,
                         date=fmt_date(day), before=standard_line(current)))]


ROUTES: tuple[Route, ...] = (Route("standard", standard, menu=False),)
