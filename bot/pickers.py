"""Buttons for the "pick one" steps that several commands share (invite, merge, hand-over)."""

from __future__ import annotations

from core.chat.commands import command_button
from core.chat.messages import Button
from core.storage.models import Unit

VILLAGE_BUTTONS = 30


def village_buttons(villages: list[Unit], command: str, prefix: str = "") -> tuple[tuple[Button, ...], ...]:
    """One button per village (`command [prefix]#id`), for every "pick a village" step."""
    return tuple((command_button(v.name, command, f"{prefix}#{v.id}"),) for v in villages[:VILLAGE_BUTTONS])
