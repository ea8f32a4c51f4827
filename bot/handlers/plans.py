"""Report submission and tracking in chat (the plan's report requests, core/plans/desk.py):
'/nopbaocao' for the unit that owes a report (a file with that caption, or the 'Đã nộp'
button), '/theodoi' for the unit that receives it."""

from __future__ import annotations

from bot.context import Ctx
from bot.routes import ANYWHERE, FILE, UNITS, Route
from core.access import STAFF
from core.chat.messages import OutMessage
from core.plans.desk import ReportDesk


def _desk(ctx: Ctx) -> ReportDesk:
    return ReportDesk(ctx.data.plans)


async def submit(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    return await _desk(ctx).submit(ctx.s, ctx.me, await ctx.unit(), arg, ctx.now())


async def track(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    return await _desk(ctx).track(ctx.s, ctx.me, await ctx.unit(), arg, ctx.now())


async def submit_file(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """A file is a report submission; its caption may name the request."""
    doc = ctx.incoming.document
    assert doc is not None
    return await _desk(ctx).submit_file(ctx.s, ctx.me, await ctx.unit(), arg, doc.name, doc.path, ctx.now())


# who submits or receives a request is the plan's levels (core/plans/desk.py), so every role acting for a
# unit reaches them
ROUTES: tuple[Route, ...] = (
    Route("submit_report", submit, ANYWHERE, roles=UNITS, denied="submit_not_allowed", menu=True),
    # those a report goes to: a village head receives none (the desk refuses by unit level too)
    Route("track", track, ANYWHERE, roles=STAFF, denied="track_not_allowed", menu=True),
    Route(FILE, submit_file, ANYWHERE, roles=UNITS, denied="submit_not_allowed"),
)
