"""Recognises commands in typed text, and builds the buttons that stand for them.

The words for each command live in the locale (`cmd_<name>`: so "/quaylai", "quay lai" and
"Quay lại" all mean back); a button payload "c:back" and the typed "/quaylai" reach the same
Command. Which commands exist, who may use them and where is the bot's router table; this
module only knows words.
"""

from __future__ import annotations

from functools import lru_cache

from core.chat import payloads
from core.chat.messages import Button, Command
from core.i18n import catalog
from core.text import fold

PREFIX = "cmd_"


def command_names() -> list[str]:
    """Every command that has words in the locale."""
    return [key[len(PREFIX):] for key in catalog().messages if key.startswith(PREFIX)]


@lru_cache(maxsize=1)
def _words() -> dict[str, str]:
    table: dict[str, str] = {}
    for name in command_names():
        for word in catalog().words(f"{PREFIX}{name}"):
            table[fold(word)] = name
    return table


def slash(name: str) -> str:
    """The canonical typed form of a command, shown next to buttons."""
    return catalog().words(f"{PREFIX}{name}")[0]


def typed(name: str, arg: str | None = None) -> str:
    """What a user types instead of pressing the button for this command."""
    return f"{slash(name)} {arg}" if arg else slash(name)


LABEL_LIMIT = 60  # characters of a button label a phone shows without cutting


def fit(label: str, limit: int = LABEL_LIMIT) -> str:
    """A label cut at a word boundary, never mid-word, with an ellipsis when cut."""
    if len(label) <= limit:
        return label
    cut = label[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,.;:-·")
    return (cut or label[: limit - 1]) + "…"


def command_button(label: str, name: str, arg: str | None = None) -> Button:
    return Button(label, payloads.command(name, arg), typed(name, arg))


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
