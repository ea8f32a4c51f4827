"""Villages' resident household counts in chat (core/units/residents.py), the denominators of
the report's rates: '/sohodan' lists the commune's villages with theirs, '/sohodan #12 135' or
'/sohodan Nà Pàn 135' sets them, several at once. A commune officer's, for the commune's own
villages: the count is the commune's figure, as the villages CSV is the province's."""

from __future__ import annotations

import logging

from bot.context import Ctx
from bot.routes import COMMUNE, Route
from core.chat.messages import OutMessage
from core.i18n import t
from core.storage.models import Unit
from core.text import fold
from core.units.residents import MOST, parse
from core.units.scope import villages_of

log = logging.getLogger(__name__)


async def residents(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    commune = await ctx.unit()
    if commune is None or commune.level != "commune":
        return [OutMessage(t("residents_not_allowed"))]
    villages = await villages_of(ctx.s, commune)
    if not villages:
        return [OutMessage(t("residents_no_villages", commune=commune.name))]
    example = f"#{villages[0].id} 120"
    if fold(arg or "") in ("", "xem"):  # «/sohodan xem», as the help line says
        lines = [t("residents_line", id=v.id, village=v.name, n=_count(v)) for v in villages]
        return [OutMessage(t("residents_list", commune=commune.name, lines="\n".join(lines), example=example))]
    counts, problems = parse(arg or "", villages)
    if problems:  # nothing is written: the officer sends the whole line again
        reasons = [t(p.key, words=p.words, most=MOST) for p in problems]
        return [OutMessage("\n".join([t("residents_problems"), *reasons, t("residents_how", example=example)]))]
    lines = []
    for count in counts:
        before = _count(count.village)
        count.village.households_total = count.households
        lines.append(t("residents_set_line", village=count.village.name, n=count.households, before=before))
    log.info("resident counts of %d villages of unit %s set by user %s", len(counts), commune.id, ctx.me.id)
    text = t("residents_set", lines="\n".join(lines))
    missing = [v.name for v in villages if v.households_total is None]
    if missing:
        text += "\n" + t("residents_missing", n=len(missing), villages=", ".join(missing))
    return [OutMessage(text)]


def _count(village: Unit) -> str:
    return str(village.households_total) if village.households_total is not None else t("residents_unknown")


ROUTES: tuple[Route, ...] = (Route("residents", residents, roles=COMMUNE, denied="residents_not_allowed", menu=True),)
