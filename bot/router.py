"""The one table of what a user can send, and the steps every update passes before it.

Like aiogram's routers, each row names a command, the handler that answers it, where it may be
sent (a private chat, a group, or by someone not yet registered) and which roles may use it.
The platform menu, the help text and the access matrix are all read from this table, so adding
a command is one row here, its handler, and its words in `locales/vi/messages.yaml`
(`cmd_<name>` for the words that call it, `help_<name>` for its line in the help).

Three rows are not commands but the other things a user sends: typed text that is not a
command (an answer), a pressed answer button, and a file.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from bot.context import Ctx
from bot.conversations import session, survey
from bot.handlers import (
    accounts,
    guide,
    inspection,
    inspection_docs,
    people,
    plans,
    rechecks,
    reports,
    residents,
    rules,
    rules_workbook,
    signing,
    web,
)
from bot.handlers.procedure import applications, checks, decision, evidence, listing, meeting, status
from bot.routes import FILE, HEADS, LOCATION, PHOTO, PRESS, TEXT, Await, Route, Where
from core.access import STAFF, Role
from core.chat import payloads
from core.chat.commands import command_names, parse_command, slash
from core.chat.messages import Command, Incoming, OutMessage
from core.i18n import t

FILE_COMMANDS = ("import_list", "rules_import")  # commands whose file comes as the caption's attachment

ROUTES: tuple[Route, ...] = (
    *accounts.REGISTRATION,  # all a stranger may send
    *guide.ROUTES,
    *accounts.IDENTITY,
    *survey.ROUTES,  # the survey (bot/conversations/survey.py)
    *accounts.ROUTES,  # invite codes, and the chats that receive notices
    *people.ROUTES,  # taking access away, and who saw what (core/accounts_admin.py, core/access_log.py)
    *reports.ROUTES,  # reports, and the plan's report requests
    *residents.ROUTES,  # villages' resident household counts, the reports' denominators
    *plans.ROUTES,
    *rules.ROUTES,  # which standard the review applies (core/procedure/standards.py)
    *rules_workbook.ROUTES,  # the rules workbook the province signs (core/rules/)
    *signing.ROUTES,  # provisional rules and signed versions (core/procedure/provisional.py, rules_signed.py)
    # the review procedure, one module per step (bot/handlers/procedure/)
    *listing.ROUTES,
    *applications.ROUTES,
    *meeting.ROUTES,
    *decision.ROUTES,
    *checks.ROUTES,
    *status.ROUTES,
    *evidence.ROUTES,
    # inspection, supervision and re-checks (core/inspection/)
    *inspection.ROUTES,
    *rechecks.ROUTES,
    *inspection_docs.ROUTES,
    Route("web", web.link, roles=STAFF | HEADS, menu=True),  # the read-only web view (bot/webview/)
)

# Every question the bot asks outside the survey, whose free answer goes to its own handler
# before the TEXT and PHOTO rows are consulted.
AWAITS: tuple[Await, ...] = (
    Await(survey.REOPEN_REASON, TEXT, survey.reopen_reason),
    Await(survey.CHOOSE, TEXT, survey.chosen),
    Await(meeting.MINUTES, PHOTO, meeting.minutes),
    *rechecks.AWAITS,
    *inspection_docs.AWAITS,
)


class Router:
    def __init__(self, routes: Iterable[Route] = ROUTES, awaits: Iterable[Await] = AWAITS) -> None:
        routes = tuple(routes)
        self.routes = {r.name: r for r in routes}
        if len(self.routes) != len(routes):
            raise ValueError("two router rows share a name")
        self.awaits: dict[str, list[Await]] = {}
        for wait in awaits:
            if wait.takes not in (TEXT, PHOTO):
                raise ValueError(f"a free answer is typed text or a photo, not {wait.takes}")
            self.awaits.setdefault(wait.takes, []).append(wait)

    # ----- what the table tells others ------------------------------------------------------

    def commands(self) -> list[Route]:
        return [r for r in self.routes.values() if r.is_command]

    def allowed(self, role: Role | None, name: str, group: bool = False) -> bool:
        """The access matrix: may this role (None: not registered) send this command here?"""
        route = self.routes.get(name)
        if route is None:
            return False
        if role is None:
            return Where.STRANGER in route.where and not group
        return (Where.GROUP if group else Where.PRIVATE) in route.where and role in route.roles

    def for_role(self, role: Role) -> list[Route]:
        return [r for r in self.commands() if role in r.roles and r.where & (Where.PRIVATE | Where.GROUP)]

    def menu(self) -> list[tuple[str, str]]:
        """(command word without '/', description) for the platform's command menu."""
        return [(slash(r.name).lstrip("/"), t(f"help_{r.name}")) for r in self.commands() if r.menu]

    def missing_words(self) -> list[str]:
        """Commands of the table without locale words, and locale words without a command."""
        words = set(command_names())
        names = {r.name for r in self.commands()}
        return sorted((names - words) | (words - names - {"unknown"}))

    # ----- dispatch ---------------------------------------------------------------------------

    def preparation(self, incoming: Incoming) -> Callable[[Incoming], Awaitable[Any]] | None:
        """The blocking work a file command does before its transaction (Route.prepare)."""
        if incoming.document is None:
            return None
        caption = parse_command(incoming.text or "")
        if caption is None or caption.name not in FILE_COMMANDS:
            return None
        return self.routes[caption.name].prepare

    def resolve(self, ctx: Ctx) -> tuple[Route | None, Command | None]:
        """Which row an update reaches: (route, command); (None, command) for an unknown
        command, (None, None) for a forged or stale button."""
        inc = ctx.incoming
        if inc.document is not None:
            caption = parse_command(inc.text or "")
            if caption is not None and caption.name in FILE_COMMANDS:
                return self.routes[caption.name], caption
            return self.routes[FILE], Command(FILE, _caption_arg(inc.text))
        if inc.photo is not None:
            return self.routes[PHOTO], Command(PHOTO, inc.text)
        if inc.location is not None:
            return self.routes[LOCATION], Command(LOCATION, None)
        if inc.payload is not None:
            press = payloads.unpack(inc.payload)
            if press is None:
                return None, None
            if isinstance(press, payloads.AnswerPress):
                return self.routes[PRESS], Command(PRESS, inc.payload)
            route = self.routes.get(press.name)
            return (route, press) if route is not None and route.is_command else (None, None)
        cmd = parse_command(inc.text or "")
        if cmd is None:
            return self.routes[TEXT], Command(TEXT, inc.text)
        return self.routes.get(cmd.name), cmd

    async def dispatch(self, ctx: Ctx) -> list[OutMessage]:
        route, cmd = self.resolve(ctx)
        group = ctx.chat.is_group
        typed_command = (ctx.incoming.text is not None and route is not None and route.is_command) \
            or (route is None and cmd is not None)
        if ctx.user is None:  # the stranger gate
            if route is not None and Where.STRANGER in route.where and not group:
                ctx.command = cmd
                return await route.handler(ctx, cmd.arg if cmd else None)
            if group and not (typed_command or ctx.incoming.payload is not None):
                return []  # unregistered members of a bound group are not answered on every message
            return [OutMessage(t("not_registered", register=slash("register")))]
        if route is None:
            if cmd is None:
                return [OutMessage(t("stale_button"))]
            return [OutMessage(t("unknown_command", help=slash("help")))]
        where = Where.GROUP if group else Where.PRIVATE
        if where not in route.where:
            if route.elsewhere:
                return [OutMessage(t(route.elsewhere, **{route.name: slash(route.name)}))]
            return [OutMessage(t("group_use_private"))] if group and route.is_command else []
        if Role(ctx.me.role) not in route.roles:
            return [OutMessage(t(route.denied))]
        assert cmd is not None
        ctx.command = cmd
        if route.name in self.awaits:
            answered = await self._awaited(ctx, route.name, cmd.arg)
            if answered is not None:
                return answered
        return await route.handler(ctx, cmd.arg)

    async def _awaited(self, ctx: Ctx, takes: str, arg: str | None) -> list[OutMessage] | None:
        """The free answer to a question the bot asked outside the survey, if it waits for one
        of this kind; None lets the row's own handler take the update."""
        key = session.awaiting(await session.conversation(ctx))
        for wait in self.awaits[takes]:
            if wait.key == key:
                return await wait.handler(ctx, arg)
        return None


def _caption_arg(caption: str | None) -> str | None:
    """A file's caption names the report request: '/nopbaocao CODE' or just 'CODE'."""
    cmd = parse_command(caption or "")
    if cmd is not None and cmd.name == "submit_report":
        return cmd.arg
    return (caption or "").strip() or None

