"""Registration, invite codes, identity, and the chats that receive a unit's notices."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.context import Ctx
from bot.conversations.survey import resume_lines
from bot.pickers import village_buttons
from bot.routes import ADMIN, ANYWHERE, COMMUNE, Route, Where
from core import access_log
from core.access import ROLE_LEVEL, STAFF, Action, Role, can
from core.accounts import CODE_DAYS, AccountError, bind_group, issue_invite, officers_of, redeem, unbind
from core.chat import refs
from core.chat.commands import command_button, slash
from core.chat.messages import Button, OutMessage
from core.i18n import catalog, t
from core.messaging import tell_users
from core.procedure.standards import standard_line
from core.storage.models import Unit
from core.surveys.parsing import clean_text, fold
from core.units.loader import add_village
from core.units.names import find_village, merge_villages
from core.units.scope import villages_of

CODE_ATTEMPTS = 5  # wrong codes a sender may try in CODE_ATTEMPT_WINDOW
CODE_ATTEMPT_WINDOW = timedelta(hours=1)


async def start(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """/start: the welcome; for someone not registered, '/start CODE' (a t.me deep link) registers."""
    if ctx.user is None:
        return await register(ctx, arg)
    return await welcome(ctx)


async def register(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    if ctx.user is not None:
        return [OutMessage(t("already_registered"))]
    if not arg:
        return [OutMessage(t("not_registered", register=slash("register")))]
    chat = ctx.chat
    actor = access_log.actor_of(None, chat.channel, chat.user_external_id)
    if await access_log.failures(ctx.s, actor, "code_failed", CODE_ATTEMPT_WINDOW) >= CODE_ATTEMPTS:
        return [OutMessage(t("invite_attempts", n=CODE_ATTEMPTS))]  # codes cannot be guessed by trying
    try:
        ctx.user = await redeem(ctx.s, arg, chat.channel, chat.user_external_id, chat.display_name, chat.chat_id)
    except AccountError as exc:
        if exc.key in ("invite_unknown", "invite_used", "invite_expired"):
            access_log.record(ctx.s, "code_failed", None, actor=actor)
        return [OutMessage(t(exc.key, **exc.params, register=slash("register")))]
    unit = await ctx.unit()
    registered = OutMessage(t("registered", name=ctx.me.display_name, role=t(f"role_{ctx.me.role}"),
                              unit=unit.name if unit else "-"))
    return [registered, *await welcome(ctx)]


async def welcome(ctx: Ctx) -> list[OutMessage]:
    """Who you are, the role's everyday commands, and where an open draft stands."""
    return [await _overview(ctx), *await resume_lines(ctx)]


async def _overview(ctx: Ctx) -> OutMessage:
    unit = await ctx.unit()
    role = Role(ctx.me.role)
    lines = [t("welcome_head", name=ctx.me.display_name, unit=unit.name if unit else "-", role=t(f"role_{role}"))]
    lines += [t("help_line", command=slash(r.name), text=t(f"help_{r.name}")) for r in ctx.router.for_role(role)
              if r.menu]
    lines.append(t("welcome_tail", help=slash("help")))
    return OutMessage("\n".join(lines))


async def whoami(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """Who I am; an officer also sees which standard this year's review applies."""
    unit = await ctx.unit()
    text = t("whoami", name=ctx.me.display_name, role=t(f"role_{ctx.me.role}"), unit=unit.name if unit else "-")
    if ctx.me.role in STAFF:
        text += "\n" + standard_line(await ctx.data.standard(ctx.s, ctx.settings.review_year))
    return [OutMessage(text)]


async def invite(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """A commune officer issues a code for the head of one of the commune's villages. A typed
    name is matched against the commune's villages without accents, case or the 'Thôn/Bản'
    prefix; a new village is created only after the officer confirms it."""
    commune = await ctx.unit()
    if commune is None or commune.level != "commune":
        return [OutMessage(t("invite_not_allowed"))]
    words = (arg or "").strip()
    village: Unit | None = None
    if words.startswith("+"):  # confirmed: create the village named after the '+'
        name = village_name(words[1:])
        if not name:
            return await _village_choice(ctx, commune)
        village = await find_village(ctx.s, commune, name) or await add_village(ctx.s, commune, name)
    elif refs.hash_number(words) is not None:
        village = await ctx.s.get(Unit, refs.hash_number(words))
        if village is None or not await can(ctx.s, ctx.me, Action.INVITE, village):
            return [OutMessage(t("invite_village_not_yours"))]
    elif words:
        name = village_name(words)
        village = await find_village(ctx.s, commune, name)
        if village is None:
            return await _offer_new_village(ctx, commune, name)
    if village is None:
        return await _village_choice(ctx, commune)
    code = await issue_invite(ctx.s, Role.VILLAGE_HEAD, village, ctx.me)
    return [OutMessage(t("invite_issued", code=code.code, role=t("role_village_head"), unit=village.name,
                         days=CODE_DAYS, register=slash("register")))]


async def _offer_new_village(ctx: Ctx, commune: Unit, name: str) -> list[OutMessage]:
    """A name the commune does not know: create it after a press, say so when it has no accents,
    and offer the existing villages only when there are some (no button leads nowhere)."""
    lines = [t("invite_new_village_named", name=name, commune=commune.name)]
    bare = next((name[len(p):].strip() for p in _prefixes() if name.startswith(p + " ")), name)
    if fold(bare) == bare.lower():
        lines.append(t("invite_name_no_accents", name=name))
    rows: list[tuple[Button, ...]] = [(command_button(t("btn_new_village", name=name), "invite", f"+{name}"[:40]),)]
    if await villages_of(ctx.s, commune):
        rows.append((command_button(t("btn_pick_village"), "invite"),))
    return [OutMessage("\n".join(lines), tuple(rows))]


async def _village_choice(ctx: Ctx, commune: Unit) -> list[OutMessage]:
    villages = await villages_of(ctx.s, commune)
    if not villages:
        return [OutMessage(t("invite_no_villages", invite=slash("invite"), commune=commune.name))]
    rows = village_buttons(villages, "invite")
    return [OutMessage(t("invite_usage", invite=slash("invite"), commune=commune.name), rows)]


def _prefixes() -> list[str]:
    return sorted(catalog().words("village_prefixes"), key=len, reverse=True)


def village_name(typed: str) -> str:
    """A village name as an officer typed it, tidied: «thon na pan» is «Thôn Na Pan» (the kind
    word as the locale writes it, each word capitalised when all was typed in lower case)."""
    name = clean_text(typed)[:100]
    for prefix in _prefixes():
        if fold(name).startswith(fold(prefix) + " "):
            rest = name[len(prefix):].strip()
            return f"{prefix} {rest.title() if rest == rest.lower() else rest}"
    return name.title() if name == name.lower() else name


def village_phrase(name: str) -> str:
    """The village after «trưởng»: «thôn Nà Pàn» for «Thôn Nà Pàn» (never «trưởng thôn Thôn»)."""
    for prefix in _prefixes():
        if fold(name).startswith(fold(prefix) + " "):
            return f"{prefix.lower()} {name[len(prefix):].strip()}"
    return f"{catalog().words('village_prefixes')[0].lower()} {name}"


async def invite_staff(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """An administrator issues a code for a commune, district or province officer: '/moicanbo xa 6202'."""
    words = (arg or "").split()
    roles = {fold(w): role for role in (Role.COMMUNE, Role.DISTRICT, Role.PROVINCE)
             for w in catalog().words(f"role_word_{role}")}
    if len(words) != 2 or fold(words[0]) not in roles:
        return [OutMessage(t("invite_staff_usage", invite_staff=slash("invite_staff")))]
    role = roles[fold(words[0])]
    unit = await ctx.s.scalar(select(Unit).where(Unit.configuration == ctx.settings.units_configuration,
                                                 Unit.level == ROLE_LEVEL[role], Unit.code == words[1]))
    if unit is None:
        return [OutMessage(t("unit_not_found", code=words[1]))]
    code = await issue_invite(ctx.s, role, unit, ctx.me)
    return [OutMessage(t("invite_issued", code=code.code, role=t(f"role_{role}"), unit=unit.name,
                         days=CODE_DAYS, register=slash("register")))]


async def bind(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """In a group: the group receives the officer's unit's notices from now on."""
    return await _bind(ctx, private=False)


async def subscribe(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """In a private chat: the official receives the unit's notices here. Zalo bots cannot join
    group chats, so this is how an official on Zalo gets the plan's notices."""
    return await _bind(ctx, private=True)


async def _bind(ctx: Ctx, private: bool) -> list[OutMessage]:
    chat = ctx.chat
    try:
        bound = await bind_group(ctx.s, chat.channel, chat.chat_id, chat.title, ctx.me, private=private)
    except AccountError as exc:
        return [OutMessage(t(exc.key, **exc.params))]
    if bound.previous is not None:
        await _tell_officers(ctx, bound.previous.id, t("bind_moved_notice", group=chat.title or chat.chat_id,
                                                           unit=bound.unit.name, by=ctx.me.display_name))
    key = "subscribed" if private else "bound"
    return [OutMessage(t(key, unit=bound.unit.name, unsubscribe=slash("unsubscribe")))]


async def unsubscribe(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    removed = await unbind(ctx.s, ctx.chat.channel, ctx.chat.chat_id)
    return [OutMessage(t("unsubscribed" if removed else "not_subscribed", subscribe=slash("subscribe")))]


async def _tell_officers(ctx: Ctx, unit_id: int, text: str) -> None:
    officers = [u.id for u in await officers_of(ctx.s, unit_id) if u.id != ctx.me.id]
    await tell_users(ctx.s, officers, f"bind/{unit_id}", OutMessage(text))


async def merge(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """A commune officer folds a duplicate village into the right one: '/gopthon #2 #1' (the
    duplicate first), or step by step with buttons."""
    commune = await ctx.unit()
    if commune is None or commune.level != "commune":
        return [OutMessage(t("merge_not_allowed"))]
    villages = {v.id: v for v in await villages_of(ctx.s, commune)}
    picked = [n for n in map(refs.hash_number, (arg or "").split()) if n is not None]
    if any(p not in villages for p in picked):
        return [OutMessage(t("invite_village_not_yours"))]
    if not picked:
        rows = village_buttons(list(villages.values()), "merge")
        return [OutMessage(t("merge_pick_duplicate", commune=commune.name), rows)]
    duplicate = villages[picked[0]]
    if len(picked) == 1:
        others = [v for v in villages.values() if v.id != duplicate.id]
        return [OutMessage(t("merge_pick_keep", duplicate=duplicate.name),
                           village_buttons(others, "merge", f"#{duplicate.id} "))]
    keep = villages[picked[1]]
    if keep.id == duplicate.id:
        return [OutMessage(t("merge_same"))]
    moved = await merge_villages(ctx.s, duplicate, keep, ctx.me.id)
    return [OutMessage(t("merged", duplicate=duplicate.name, keep=keep.name, n=moved))]


# what a stranger may send, and who am I: the first rows of the table (and of the help)
REGISTRATION: tuple[Route, ...] = (
    Route("start", start, Where.PRIVATE | Where.STRANGER),
    # only before registering: a registered user is told so, and it is not in their /huongdan
    Route("register", register, Where.PRIVATE | Where.STRANGER, roles=frozenset(), denied="already_registered"),
)
IDENTITY: tuple[Route, ...] = (Route("whoami", whoami, ANYWHERE, menu=True),)
# invite codes and the chats that receive a unit's notices
ROUTES: tuple[Route, ...] = (
    Route("invite", invite, roles=COMMUNE, denied="invite_not_allowed", menu=True),
    Route("merge", merge, roles=COMMUNE, denied="merge_not_allowed"),
    Route("invite_staff", invite_staff, roles=ADMIN, denied="invite_staff_not_allowed"),
    Route("bind", bind, Where.GROUP, roles=STAFF, denied="bind_not_allowed", elsewhere="bind_in_group_only",
          menu=True),
    Route("subscribe", subscribe, roles=STAFF, denied="bind_not_allowed", menu=True),
    Route("unsubscribe", unsubscribe, roles=STAFF, denied="bind_not_allowed"),
)
