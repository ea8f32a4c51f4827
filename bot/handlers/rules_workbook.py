"""The rules workbook in chat (core/rules/): a province officer gets the pack in force as a
workbook ('/xuatquydinh'), sends it back filled from the printed circular with the number and
date of the document it is signed under as the caption ('/nhapquydinh 123/QĐ-UBND 01/12/2026'),
sees every change against the version in force, and confirms ('/kyquydinh', a button) — only
then is it a new official version. Every version is listed by '/phienbanquydinh'."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from bot.context import Ctx
from bot.routes import Route
from core.access import STAFF, Role
from core.chat import refs
from core.chat.commands import command_button, slash, typed
from core.chat.messages import OutMessage
from core.i18n import fmt_date, t
from core.procedure.rules_signed import on_rules_signed
from core.rules.cells import WorkbookRefused
from core.rules.versions import SignRefused, describe, history, propose, provisional_parts, sign

PROVINCE = frozenset({Role.PROVINCE})
READERS = frozenset({Role.PROVINCE, Role.ADMIN})
ERRORS_SHOWN = 40
DOC_MIN, DOC_MAX = 3, 60


def _document(arg: str | None) -> tuple[str, date] | None:
    """'123/QĐ-UBND 01/12/2026' -> (number, date); the date is the last word."""
    words = (arg or "").split()
    if len(words) < 2:
        return None
    number, day = " ".join(words[:-1]), refs.day(words[-1])
    if day is None or not DOC_MIN <= len(number) <= DOC_MAX:
        return None
    return number, day


async def export(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """The pack in force as a workbook (the standard of this year's review when none is named)."""
    standard = await ctx.data.standard(ctx.s, ctx.settings.review_year)
    pack_id = (arg or "").strip() or standard.pack.id
    if pack_id not in ctx.data.rules.packs:
        return [OutMessage(t("rw_unknown_pack", packs=", ".join(ctx.data.rules.packs), cmd=slash("rules_export")))]
    pack = ctx.data.rules.packs[pack_id]
    path = Path(ctx.settings.data_dir) / "rules" / f"quy_dinh_{pack_id}_v{pack.version}.xlsx"
    ctx.data.rules.export(pack_id, path)
    return [OutMessage(t("rw_exported", pack=pack.name, version=pack.version, cmd=slash("rules_import")),
                       document=str(path))]


async def import_workbook(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """A filled workbook sent with '/nhapquydinh SỐ NGÀY' as its caption: read whole, refused
    whole on any error, else its changes are shown and kept waiting for a confirmation."""
    doc = ctx.incoming.document
    if doc is None:
        return [OutMessage(t("rw_send_file", cmd=slash("rules_import"), export=slash("rules_export")))]
    cited = _document(arg)
    if cited is None or cited[1] > ctx.today():
        return [OutMessage(t("rw_usage", cmd=slash("rules_import")))]
    rules = ctx.data.rules
    await ctx.data.refresh_rules(ctx.s)
    try:
        reading = rules.read(Path(doc.path))
    except WorkbookRefused as exc:
        lines = [t("rw_refused", file=doc.name, n=len(exc.errors))]
        lines += [f"• {e}" for e in exc.errors[:ERRORS_SHOWN]]
        if len(exc.errors) > ERRORS_SHOWN:
            lines.append(t("rw_more_errors", n=len(exc.errors) - ERRORS_SHOWN))
        return [OutMessage("\n".join(lines))]
    pack = rules.packs[reading.pack_id]
    proposal = await propose(ctx.s, rules, reading, cited[0], cited[1], ctx.me.id, doc.name)
    if proposal.row is None:
        return [OutMessage(t("rw_no_change", file=doc.name, pack=pack.name, version=pack.version))]
    row = proposal.row
    lines = [t("rw_changes", file=doc.name, pack=pack.name, version=pack.version, n=len(proposal.lines))]
    lines += [f"• {line}" for line in proposal.lines]
    still = provisional_parts(reading.content)
    if still:
        lines.append(t("rw_still_provisional", parts=", ".join(still)))
    lines.append(t("rw_confirm", document=row.document, date=fmt_date(row.document_date),
                   cmd=typed("rules_sign", str(row.id))))
    label = t("rw_btn_sign", document=row.document, date=fmt_date(row.document_date))
    return [OutMessage("\n".join(lines), ((command_button(label, "rules_sign", str(row.id)),),))]


async def confirm(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """The officer's confirmation: the waiting version becomes the pack's next official one."""
    number = refs.number(arg)
    if number is None:
        return [OutMessage(t("rw_sign_usage", cmd=slash("rules_sign"), versions=slash("rules_versions")))]
    try:
        row = await sign(ctx.s, ctx.data.rules, number, ctx.me, ctx.me.display_name, ctx.now(), ctx.me.unit_id)
    except SignRefused as exc:
        return [OutMessage(t(exc.key, **exc.params, cmd=slash("rules_import")))]
    await ctx.data.refresh_rules(ctx.s)
    # the review's households under the new version: each commune is shown its changes first
    proposals = await on_rules_signed(ctx.s, ctx.data, row.pack_id, row.version)
    lines = [t("rw_signed", pack=row.pack_id, version=row.version, document=row.document,
               date=fmt_date(row.document_date), sha=row.file_sha256),
             t("rw_rescore_sent", communes=len(proposals), changed=sum(p.changed for p in proposals))]
    still = provisional_parts(row.content)
    if still:
        lines.append(t("rw_still_provisional", parts=", ".join(still)))
    return [OutMessage("\n".join(lines))]


async def versions(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    await ctx.data.refresh_rules(ctx.s)
    rows = await history(ctx.s, (arg or "").strip() or None)
    lines = [t("rw_list_title")]
    for pack in ctx.data.rules.in_force():
        lines.append(t("rw_list_in_force", pack=pack.id, name=pack.name, version=pack.version))
    lines += [describe(row) for row in rows] or [t("rw_list_none")]
    return [OutMessage("\n".join(lines))]


ROUTES: tuple[Route, ...] = (
    Route("rules_export", export, roles=READERS, denied="rw_province_only"),
    Route("rules_import", import_workbook, roles=PROVINCE, denied="rw_province_only"),
    Route("rules_sign", confirm, roles=PROVINCE, denied="rw_province_only"),
    Route("rules_versions", versions, roles=STAFF),
)
