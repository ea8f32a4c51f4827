"""Messages as plain text, for channels without buttons (the console, Zalo).

Every button carries what a user may type instead, so nothing is lost: an answer's choices
become a numbered list ("1. Có"), and navigation buttons become the commands to type.
"""

from __future__ import annotations

from core.chat import payloads
from core.chat.messages import Command, OutMessage
from core.i18n import t


def plain_text(message: OutMessage, with_files: bool = True) -> str:
    lines = [message.text]
    if with_files:
        for path in (message.document, message.photo):
            if path:
                lines.append(t("console_file", path=path))
    commands = []
    for row in message.buttons:
        for b in row:
            press = payloads.unpack(b.payload)
            if isinstance(press, payloads.AnswerPress):
                lines.append(f"   {b.text}. {b.label}")
            elif isinstance(press, Command) and press.name == "edit" and press.arg:
                continue  # one per review line: the review's footer says to type /sua NUMBER
            else:
                commands.append(f"{b.text} ({b.label})")
    if commands:
        lines.append(t("console_commands", commands=" · ".join(commands)))
    return "\n".join(lines)


def split_text(text: str, limit: int) -> list[str]:
    """Cut a long text at line ends so each part fits the platform's limit."""
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        cut = cut if cut > 0 else limit
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n")
    parts.append(text)
    return parts
