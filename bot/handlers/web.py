"""'/web': a single-use link to the read-only web view (bot/webview/), sent in the private chat.

The link names the user and expires in ten minutes; whoever opens it first gets a session of
that user, so it is only ever sent to the user's own private chat (the router's row allows no
group)."""

from __future__ import annotations

from pathlib import Path

from bot.context import Ctx
from bot.webview.links import LoginLinks
from core.chat.messages import OutMessage
from core.i18n import t


async def link(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    if not ctx.settings.public_url:
        return [OutMessage(t("web_no_public_url"))]
    links = LoginLinks(Path(ctx.settings.data_dir), ctx.settings.public_url)
    return [OutMessage(t("web_link", url=links.url(ctx.me.id, ctx.now().timestamp())))]
