"""The one wire format of button payloads, packed and unpacked in one place.

A payload travels through the platform (Telegram's callback_data holds at most 64 bytes) and
comes back when the button is pressed. Two kinds exist: an answer to a question
(`a:<slot key>:<choice value>`) and a command with an optional argument (`c:<name>[:<arg>]`,
the same Command a typed "/name arg" gives). Anything else is a forged or stale press.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.chat.messages import Command

MAX_BYTES = 64  # Telegram Bot API callback_data limit
ANSWER, COMMAND = "a", "c"


class PayloadTooLong(ValueError):
    """A button whose payload the platform would refuse; found by the form check at start-up."""


@dataclass(frozen=True)
class AnswerPress:
    key: str
    value: str


def _checked(payload: str) -> str:
    if len(payload.encode()) > MAX_BYTES:
        raise PayloadTooLong(f"button payload {payload!r} is over {MAX_BYTES} bytes")
    return payload


def answer(key: str, value: str) -> str:
    return _checked(f"{ANSWER}:{key}:{value}")


def command(name: str, arg: str | None = None) -> str:
    return _checked(f"{COMMAND}:{name}:{arg}" if arg else f"{COMMAND}:{name}")


def unpack(payload: str) -> AnswerPress | Command | None:
    """None for anything that is not one of our two kinds (a forged or malformed press)."""
    kind, _, rest = payload.partition(":")
    if not rest:
        return None
    if kind == ANSWER:
        key, sep, value = rest.partition(":")
        return AnswerPress(key, value) if sep and key else None
    if kind == COMMAND:
        name, _, arg = rest.partition(":")
        return Command(name, arg or None) if name else None
    return None
