"""'/huongdan': every command the user's role may use, one line each, read
from the router table; '/huongdan sua' explains one command in detail."""

from __future__ import annotations

from bot.context import Ctx
from bot.routes import Route, Where
from core.access import Role
from core.chat.commands import parse_command, slash
from core.chat.messages import OutMessage
from core.i18n import catalog, t


async def show(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    role = Role(ctx.me.role)
    routes = ctx.router.for_role(role)
    if arg:
        cmd = parse_command(arg if arg.startswith("/") else "/" + arg.strip())
        route = next((r for r in routes if cmd is not None and r.name == cmd.name), None)
        if route is None:
            return [OutMessage(t("help_unknown", topic=arg.strip(), help=slash("help")))]
        words = ", ".join(catalog().words(f"cmd_{route.name}"))
        detail = catalog().messages.get(f"helpx_{route.name}")
        body = t(f"helpx_{route.name}") if detail is not None else t(f"help_{route.name}")
        return [OutMessage(t("help_detail", command=slash(route.name), words=words, text=body))]
    lines = [t("help_title", role=t(f"role_{role}"))]
    lines += [t("help_line", command=slash(r.name), text=t(f"help_{r.name}")) for r in routes]
    lines.append(t("help_more", help=slash("help"), example=slash("edit").lstrip("/")))
    return [OutMessage("\n".join(lines))]


ROUTES: tuple[Route, ...] = (Route("help", show, Where.PRIVATE | Where.GROUP, menu=True),)
