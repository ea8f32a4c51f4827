"""Recognises commands in typed text and in button payloads.

The words for each command live in the locale (so "/quaylai", "quay lai" and "Quay lại" all
mean back); a button payload "c:back" and the typed "/quaylai" reach the same Command.
"""

from __future__ import annotations

from functools import lru_cache

from core.conversation.messages import Command
from core.i18n import catalog
from core.surveys.parsing import fold

NAMES = (
    "start", "help", "new", "list", "open", "pause", "resume", "back", "skip", "keep",
    "review", "confirm", "edit", "reopen", "cancel", "register", "invite", "invite_staff", "bind", "whoami",
    "report", "progress", "submit_report", "track",
)


@lru_cache(maxsize=1)
def _words() -> dict[str, str]:
    table: dict[str, str] = {}
    for name in NAMES:
        for word in catalog().words(f"cmd_{name}"):
            table[fold(word)] = name
    return table


def slash(name: str) -> str:
    """The canonical typed form of a command, shown next to buttons."""
    return catalog().words(f"cmd_{name}")[0]


def parse_command(text: str) -> Command | None:
    s = fold(text)
    if not s:
        return None
    table = _words()
    if s in table:
        return Command(table[s])
    if s.startswith("/"):
        head = s.partition(" ")[0].split("@", 1)[0]  # "/start@rasoat_bot" in group chats
        rest = text.strip().partition(" ")[2].strip()  # the argument as typed, accents and case kept
        if head in table:
            return Command(table[head], rest or None)
        return Command("unknown", head)
    return None


def parse_payload(payload: str) -> Command | None:
    """'c:back' -> Command('back'); 'c:open:12' -> Command('open', '12')."""
    kind, _, rest = payload.partition(":")
    if kind != "c" or not rest:
        return None
    name, _, arg = rest.partition(":")
    if name not in NAMES:
        return None
    return Command(name, arg or None)


def payload(name: str, arg: str | None = None) -> str:
    return f"c:{name}:{arg}" if arg else f"c:{name}"
