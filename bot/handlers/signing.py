"""Signing on rules, in chat: '/kybangtam' shows which rules are provisional and the province's
«ký với bảng tạm»; a province officer records one with its reason. '/apdungquydinh' shows a
commune officer what a newly signed rules version would change and applies it on confirmation
(core/procedure/provisional.py, core/procedure/rules_signed.py)."""

from __future__ import annotations

from bot.context import Ctx
from bot.routes import COMMUNE, Route
from core import access_log
from core.access import STAFF, Role
from core.chat import refs
from core.chat.commands import slash
from core.chat.messages import OutMessage
from core.classification.provisional import provisional_parts, summary
from core.i18n import t
from core.procedure import provisional, rules_signed
from core.procedure.models import ReviewEvent
from core.text import clean_text

PROVINCE = frozenset({Role.PROVINCE, Role.ADMIN})
REASON_MIN, REASON_MAX = 10, 300


async def sign_provisional(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """'/kybangtam' shows; '/kybangtam lý do' (province officers) signs with the provisional
    rules of this year's standard as they are, bound to their digest."""
    year = ctx.settings.review_year
    pack = (await ctx.data.standard(ctx.s, year)).pack
    parts = provisional_parts(pack)
    reason = clean_text(arg or "")
    if not reason:
        lines = [t("rp_show_pack", pack=pack.name, version=pack.version, digest=pack.digest[:12])]
        lines.append(t("rp_show_parts", parts=summary(parts)) if parts else t("rp_show_official"))
        signed = await provisional.overrides(ctx.s, year)
        lines += [provisional.override_line(o) for o in signed] or [t("rp_show_no_override")]
        if parts and ctx.me.role in PROVINCE:
            lines.append(t("rp_show_how", cmd=slash("rp_sign_provisional"), sign_cmd=provisional.sign_command()))
        return [OutMessage("\n".join(lines))]
    if ctx.me.role not in PROVINCE:
        return [OutMessage(t("rp_province_only"))]
    if not parts:
        return [OutMessage(t("rp_nothing_provisional", pack=pack.name))]
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        return [OutMessage(t("rp_reason_usage", cmd=slash("rp_sign_provisional"), min=REASON_MIN, max=REASON_MAX))]
    unit = await ctx.unit()
    if unit is None:
        return [OutMessage(t("rp_province_only"))]
    provisional.record_override(ctx.s, unit.id, year, pack, reason, ctx.me.id, ctx.today())
    access_log.record(ctx.s, "rp_provisional_override", ctx.me, unit.id,
                      detail={"year": year, "pack": pack.id, "version": pack.version, "digest": pack.digest})
    await ctx.s.flush()
    return [OutMessage(t("rp_recorded", pack=pack.name, version=pack.version, year=year, parts=summary(parts)))]


async def apply_rules(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """'/apdungquydinh' lists the commune's waiting re-scorings; '/apdungquydinh N' applies one."""
    commune = await ctx.unit()
    if commune is None or commune.level != "commune":
        return [OutMessage(t("proc_commune_only"))]
    waiting = await rules_signed.pending(ctx.s, commune, ctx.settings.review_year)
    number = refs.number(arg or "")
    if number is None:
        if not waiting:
            return [OutMessage(t("rp_apply_none"))]
        return [await rules_signed.message(ctx.s, e) for e in waiting]
    event = await ctx.s.get(ReviewEvent, number, with_for_update=True)
    if event is None or event.kind != rules_signed.KIND or event.unit_id != commune.id:
        return [OutMessage(t("rp_apply_unknown", id=number, cmd=slash("rp_apply_rules")))]
    if event not in waiting:
        return [OutMessage(t("rp_apply_done_before", id=number))]
    done = await rules_signed.apply(ctx.s, ctx.data, event, ctx.me)
    if not done.applied:
        return [OutMessage(t("rp_apply_stale")), *([done.message] if done.message else [])]
    data = event.data or {}
    return [OutMessage(t("rp_apply_done", pack=data["pack"], version=data["version"], changed=done.changed,
                         updated=done.updated))]


ROUTES: tuple[Route, ...] = (
    # staff read which parts are provisional and who signed with them; only the province signs
    Route("rp_sign_provisional", sign_provisional, roles=STAFF, denied="proc_not_allowed"),
    Route("rp_apply_rules", apply_rules, roles=COMMUNE, denied="proc_commune_only"),
)
