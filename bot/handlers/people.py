"""Taking access away in chat: '/khoa' and '/mokhoa' for the level above, '/huyma' for an unused
code, '/chuyenthon' when a village changes head, and '/nhatky' to see who looked at what."""

from __future__ import annotations

from bot.context import Ctx
from bot.pickers import village_buttons
from bot.routes import COMMUNE, Route
from core import access_log
from core.access import STAFF, Action, Role, can
from core.accounts import CODE_DAYS, AccountError, issue_invite
from core.accounts_admin import manageable, revoke_code, set_disabled, village_heads
from core.chat import refs
from core.chat.commands import command_button, fit, slash
from core.chat.messages import OutMessage
from core.i18n import catalog, local_time, t
from core.storage.models import Unit, User
from core.units.scope import villages_of

LOG_LINES = 30


async def _switch(ctx: Ctx, arg: str | None, disabled: bool) -> list[OutMessage]:
    name = "disable" if disabled else "enable"
    number = refs.number(arg)
    if number is None:
        users = [u for u in await manageable(ctx.s, ctx.me) if (u.disabled_at is None) == disabled]
        if not users:
            return [OutMessage(t("users_none"))]
        units = {u.unit_id: await ctx.s.get(Unit, u.unit_id) for u in users if u.unit_id}
        rows = tuple((command_button(fit(t("user_button", name=u.display_name, role=t(f"role_{u.role}"),
                                             unit=getattr(units.get(u.unit_id), "name", "-"))), name, f"#{u.id}"),)
                     for u in users[:30])
        return [OutMessage(t(f"{name}_choose"), rows)]
    target = await ctx.s.get(User, number)
    if target is None:
        return [OutMessage(t("user_not_yours"))]
    try:
        await set_disabled(ctx.s, ctx.me, target, disabled)
    except AccountError as exc:
        return [OutMessage(t(exc.key))]
    return [OutMessage(t(f"{name}d_user", name=target.display_name))]


async def disable(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """A disabled user is a stranger from their next message on, on every worker."""
    return await _switch(ctx, arg, True)


async def enable(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    return await _switch(ctx, arg, False)


async def revoke(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    if not arg or not arg.strip():
        return [OutMessage(t("revoke_usage", revoke=slash("revoke")))]
    try:
        invite = await revoke_code(ctx.s, ctx.me, arg)
    except AccountError as exc:
        return [OutMessage(t(exc.key, register=slash("register")))]
    return [OutMessage(t("revoked", code=invite.code))]


async def hand_over(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """A village changes head: the current heads lose access at once, and a code for the new one
    is issued (the households stay the village's)."""
    commune = await ctx.unit()
    number = refs.number(arg)
    village = await ctx.s.get(Unit, number) if number is not None else None
    if commune is None or village is None or not await can(ctx.s, ctx.me, Action.INVITE, village):
        if number is None and commune is not None:
            return [OutMessage(t("hand_over_choose"), village_buttons(await villages_of(ctx.s, commune), "hand_over"))]
        return [OutMessage(t("invite_village_not_yours"))]
    gone = await village_heads(ctx.s, village)
    for head in gone:
        await set_disabled(ctx.s, ctx.me, head, True)
    code = await issue_invite(ctx.s, Role.VILLAGE_HEAD, village, ctx.me)
    access_log.record(ctx.s, "village_handed_over", ctx.me, village.id, detail={"disabled": [u.id for u in gone]})
    return [OutMessage(t("handed_over", village=village.name, names=", ".join(u.display_name for u in gone) or "-",
                         code=code.code, days=CODE_DAYS, register=slash("register")))]


async def log(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """Who looked at or exported personal data, and account changes, in the user's area."""
    unit = await ctx.unit() if ctx.me.role != Role.ADMIN else None
    entries = await access_log.recent(ctx.s, unit, LOG_LINES)
    if not entries:
        return [OutMessage(t("log_empty"))]
    lines = [t("log_title", unit=unit.name if unit else t("log_everywhere"), n=len(entries))]
    for entry, who, where in entries:
        when = local_time(entry.at)
        what = t(f"log_{entry.action}") if f"log_{entry.action}" in catalog().messages else entry.action
        target = f" #{entry.household_id}" if entry.household_id else ""
        detail = entry.detail if isinstance(entry.detail, dict) else {}
        report = f" {detail['report']}" if detail.get("report") else ""
        lines.append(t("log_line", when=f"{when:%d/%m %H:%M}", who=who or entry.actor, what=what + target + report,
                       where=where or "-"))
    return [OutMessage("\n".join(lines))]



ROUTES: tuple[Route, ...] = (
    Route("disable", disable, roles=STAFF, denied="people_not_allowed"),
    Route("enable", enable, roles=STAFF, denied="people_not_allowed"),
    Route("revoke", revoke, roles=STAFF, denied="people_not_allowed"),
    Route("hand_over", hand_over, roles=COMMUNE, denied="invite_not_allowed"),
    Route("access_log", log, roles=STAFF, denied="people_not_allowed"),
)
