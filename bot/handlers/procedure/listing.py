"""Last year's list in chat: '/nhapds' with the commune's Excel or CSV file (core/procedure/importer.py).

The file is read in the report process before the update's transaction starts (`read_file`, the
route's `prepare`), so the chat goes on meanwhile; then it is checked whole: any error names its
sheet, row and column and nothing is imported.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from sqlalchemy import select

from bot.context import Ctx
from bot.routes import COMMUNE, Route
from core.access import Role
from core.chat.commands import slash
from core.chat.messages import Incoming, OutMessage
from core.classification.pack import pack_for_year
from core.i18n import t
from core.messaging import tell_users
from core.procedure.import_file import LIMITS
from core.procedure.importer import DEFAULT, ImportFailed, Parsed, parse_file
from core.procedure.importer import import_list as run_import
from core.reports.offload import run_elsewhere
from core.storage.models import User
from core.units.scope import village_names

ERRORS_SHOWN = 40


async def read_file(incoming: Incoming) -> Parsed | ImportFailed:
    """The attached file read in the report process (its own interpreter lock and memory: a
    large file neither slows the chat nor stays in the bot's peak); a refusal is returned, not
    raised, for the handler to word."""
    doc = incoming.document
    assert doc is not None
    try:
        return await run_elsewhere(parse_file, Path(doc.path), doc.name, DEFAULT, LIMITS)
    except ImportFailed as refused:
        return refused
    except BrokenProcessPool:  # the reading process died (out of memory): the file is not readable here
        return ImportFailed([], t("im_err_reader"))


def failure(file: str, exc: ImportFailed) -> str:
    """What was wrong, by file or by row: each error once, and the rows counted as rows."""
    if exc.refused:
        return t("im_refused", file=file, message=exc.refused)
    lines = [t("im_failed", file=file, n=len(exc.errors), rows=exc.rows)]
    lines += [f"• {e}" for e in exc.errors[:ERRORS_SHOWN]]
    if len(exc.errors) > ERRORS_SHOWN:
        lines.append(t("imp_more_errors", n=len(exc.errors) - ERRORS_SHOWN))
    return "\n".join(lines)


async def import_list(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    doc = ctx.incoming.document
    commune = await ctx.unit()
    if commune is None or commune.level != "commune":
        return [OutMessage(t("proc_commune_only"))]
    if doc is None:
        return [OutMessage(t("imp_send_file", cmd=slash("import_list")))]
    survey = ctx.data.forms["phieu_b"]
    area = pack_for_year(ctx.data.packs, ctx.settings.review_year).area_of(commune.kind)
    parsed = ctx.prepared if ctx.prepared is not None else await read_file(ctx.incoming)
    try:
        if isinstance(parsed, ImportFailed):
            raise parsed
        created = await run_import(ctx.s, Path(doc.path), commune, survey, ctx.settings.review_year, area,
                                   ctx.me.id, DEFAULT, name=doc.name, parsed=parsed)
    except ImportFailed as exc:
        return [OutMessage(failure(doc.name, exc))]
    per_village = Counter(h.village_id for h in created)
    names = await village_names(ctx.s, set(per_village))
    heads = (await ctx.s.scalars(select(User.id).where(User.unit_id.in_(per_village), User.role == Role.VILLAGE_HEAD,
                                                       User.disabled_at.is_(None)))).all()
    await tell_users(ctx.s, heads, f"import/{commune.id}", OutMessage(t("imp_notice_heads", waiting=slash("waiting"))))
    lines = [t("imp_done", file=doc.name, n=len(created))]
    lines += [t("imp_done_village", village=names[v], n=n) for v, n in per_village.items()]
    return [OutMessage("\n".join(lines))]


ROUTES: tuple[Route, ...] = (
    Route("import_list", import_list, roles=COMMUNE, denied="proc_commune_only", prepare=read_file),
)
