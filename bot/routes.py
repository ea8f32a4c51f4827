"""The shape of a row of the command table, and the group form for rows that share roles.

Each handler module declares its own rows (`ROUTES`) with these types; `bot/router.py`
concatenates them into the one table from which the menu, the help and the access matrix are
read. Like Starlette's `Mount`, `group()` gives rows that share who may send them and what the
others are told one place to say so.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from enum import Flag, auto
from typing import Any

from bot.context import Ctx
from core.access import ALL_ROLES, Role
from core.chat.messages import Incoming, OutMessage


class Where(Flag):
    PRIVATE = auto()
    GROUP = auto()
    STRANGER = auto()  # may be sent before registering


Handler = Callable[[Ctx, str | None], Awaitable[list[OutMessage]]]
TEXT, PRESS, FILE = "_text", "_press", "_file"  # not commands: what else a user sends
PHOTO, LOCATION = "_photo", "_location"

HEADS = frozenset({Role.VILLAGE_HEAD})
UNITS = ALL_ROLES - {Role.INSPECTOR}  # those who act for a unit of their own (an inspection team does not)
COMMUNE = frozenset({Role.COMMUNE})
ADMIN = frozenset({Role.ADMIN})
ANYWHERE = Where.PRIVATE | Where.GROUP


@dataclass(frozen=True)
class Route:
    name: str
    handler: Handler
    where: Where = Where.PRIVATE
    roles: frozenset[Role] = ALL_ROLES
    denied: str = "not_allowed"  # locale key said to a role outside `roles`
    elsewhere: str | None = None  # locale key said when sent where it does not work
    menu: bool = False  # offered in the platform's command menu
    # long work on the update's file (reading an import file), awaited before the update's
    # transaction starts, so SQLite's one writer does not wait on it (the work itself runs
    # elsewhere, off the event loop); the handler finds its result in `ctx.prepared`
    prepare: Callable[[Incoming], Awaitable[Any]] | None = None

    @property
    def is_command(self) -> bool:
        return not self.name.startswith("_")


def group(routes: Iterable[Route], *, roles: frozenset[Role], denied: str) -> tuple[Route, ...]:
    """Rows that share their roles and their refusal, written once for the group."""
    return tuple(replace(r, roles=roles, denied=denied) for r in routes)


@dataclass(frozen=True)
class Await:
    """A question the bot asked outside the survey, whose free answer (typed text or a photo)
    goes to `handler` instead of the survey: the chat's state says `{"await": key}`."""

    key: str
    takes: str  # TEXT or PHOTO
    handler: Handler
