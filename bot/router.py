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
from dataclasses import dataclass
from enum import Flag, auto

from bot.context import Ctx
from bot.conversations import survey
from bot.handlers import accounts, guide, people, plans, procedure, reports
from core.access import ALL_ROLES, STAFF, Role
from core.conversation import payloads
from core.conversation.commands import command_names, parse_command, slash
from core.conversation.messages import Command, OutMessage
from core.i18n import t


class Where(Flag):
    PRIVATE = auto()
    GROUP = auto()
    STRANGER = auto()  # may be sent before registering


Handler = Callable[[Ctx, str | None], Awaitable[list[OutMessage]]]
TEXT, PRESS, FILE = "_text", "_press", "_file"  # not commands: what else a user sends
PHOTO, LOCATION = "_photo", "_location"
FILE_COMMANDS = ("import_list",)  # commands whose file comes as the caption's attachment


@dataclass(frozen=True)
class Route:
    name: str
    handler: Handler
    where: Where = Where.PRIVATE
    roles: frozenset[Role] = ALL_ROLES
    denied: str = "not_allowed"  # locale key said to a role outside `roles`
    elsewhere: str | None = None  # locale key said when sent where it does not work
    menu: bool = False  # offered in the platform's command menu

    @property
    def is_command(self) -> bool:
        return not self.name.startswith("_")


HEADS = frozenset({Role.VILLAGE_HEAD})
COMMUNE = frozenset({Role.COMMUNE})
ADMIN = frozenset({Role.ADMIN})
ANYWHERE = Where.PRIVATE | Where.GROUP

ROUTES: tuple[Route, ...] = (
    Route("start", accounts.start, Where.PRIVATE | Where.STRANGER),
    Route("register", accounts.register, Where.PRIVATE | Where.STRANGER),
    Route("help", guide.show, Where.PRIVATE | Where.GROUP, menu=True),
    Route("whoami", accounts.whoami, ANYWHERE, menu=True),
    # the survey (bot/conversations/survey.py)
    Route("new", survey.new, roles=HEADS, denied="only_village_heads_survey", menu=True),
    Route("list", survey.list_households, menu=True),
    Route("open", survey.open_household),
    Route("reopen", survey.reopen),
    Route("cancel", survey.cancel),
    *(Route(name, survey.command, menu=name in ("resume", "back", "review", "pause"))
      for name in survey.STEP_COMMANDS),
    Route(TEXT, survey.typed),
    Route(PRESS, survey.pressed),
    # accounts and notices
    Route("invite", accounts.invite, roles=COMMUNE, denied="invite_not_allowed", menu=True),
    Route("merge", accounts.merge, roles=COMMUNE, denied="merge_not_allowed"),
    Route("invite_staff", accounts.invite_staff, roles=ADMIN, denied="invite_staff_not_allowed"),
    Route("bind", accounts.bind, Where.GROUP, roles=STAFF, denied="bind_not_allowed",
          elsewhere="bind_in_group_only", menu=True),
    Route("subscribe", accounts.subscribe, roles=STAFF, denied="bind_not_allowed", menu=True),
    Route("unsubscribe", accounts.unsubscribe, roles=STAFF, denied="bind_not_allowed"),
    # taking access away, and who saw what (core/accounts_admin.py, core/access_log.py)
    Route("disable", people.disable, roles=STAFF, denied="people_not_allowed"),
    Route("enable", people.enable, roles=STAFF, denied="people_not_allowed"),
    Route("revoke", people.revoke, roles=STAFF, denied="people_not_allowed"),
    Route("hand_over", people.hand_over, roles=COMMUNE, denied="invite_not_allowed"),
    Route("access_log", people.log, roles=STAFF, denied="people_not_allowed"),
    # reports and the plan's report requests
    Route("report", reports.report, roles=STAFF, denied="report_not_allowed", menu=True),
    Route("progress", reports.progress, menu=True),
    # who submits or receives a request is the plan's levels (bot/handlers/plans.py), so every role reaches them
    Route("submit_report", plans.submit, ANYWHERE, menu=True),
    Route("track", plans.track, ANYWHERE, menu=True),
    Route(FILE, plans.submit_file, ANYWHERE),
    # the review procedure (issue 13)
    Route("import_list", procedure.import_list, roles=COMMUNE, denied="proc_commune_only"),
    Route("apply", procedure.apply, roles=HEADS | COMMUNE, denied="proc_not_allowed"),
    Route("leave", procedure.leave, roles=HEADS | COMMUNE, denied="proc_not_allowed"),
    Route("screen", procedure.screen_household, roles=HEADS, denied="only_village_heads_survey"),
    Route("survey_b", procedure.survey_b, roles=HEADS, denied="only_village_heads_survey"),
    Route("meeting", procedure.meeting, roles=HEADS, denied="only_village_heads_survey"),
    Route("post", procedure.post, roles=COMMUNE, denied="proc_commune_only"),
    Route("complaint", procedure.complaint, roles=COMMUNE, denied="proc_commune_only"),
    Route("resolve", procedure.resolve, roles=COMMUNE, denied="proc_commune_only"),
    Route("opinion", procedure.opinion, roles=STAFF, denied="proc_not_allowed"),
    Route("recognise", procedure.recognise, roles=COMMUNE, denied="proc_commune_only"),
    Route("checks", procedure.run_checks, roles=COMMUNE, denied="proc_commune_only"),
    Route("export_national", procedure.export_national, roles=COMMUNE, denied="proc_commune_only"),
    Route("waiting", procedure.waiting, menu=True),
    Route(PHOTO, procedure.photo),
    Route(LOCATION, procedure.location),
)


class Router:
    def __init__(self, routes: Iterable[Route] = ROUTES) -> None:
        self.routes = {r.name: r for r in routes}
        if len(self.routes) != len(tuple(routes)):
            raise ValueError("two router rows share a name")

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
        return await route.handler(ctx, cmd.arg)


def _caption_arg(caption: str | None) -> str | None:
    """A file's caption names the report request: '/nopbaocao CODE' or just 'CODE'."""
    cmd = parse_command(caption or "")
    if cmd is not None and cmd.name == "submit_report":
        return cmd.arg
    return (caption or "").strip() or None

