"""What the engine says and hears, independent of any chat platform.

Like goflow's events, these are plain data: a channel renders an OutMessage as a Telegram
message with inline buttons, a Zalo message with numbered choices, or console text. Every button
carries a text equivalent so that a channel without buttons loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Button:
    label: str
    payload: str  # short machine data (Telegram callback_data, at most 64 bytes)
    text: str | None = None  # what a user may type instead (a command or a choice number)

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "payload": self.payload, "text": self.text}


@dataclass(frozen=True)
class OutMessage:
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    document: str | None = None  # path of a file to attach (report workbooks)
    photo: str | None = None  # path of a picture to show (report charts)

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "buttons": [[b.to_json() for b in row] for row in self.buttons],
            "document": self.document,
            "photo": self.photo,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OutMessage:
        rows = tuple(tuple(Button(**b) for b in row) for row in data.get("buttons", []))
        return cls(data["text"], rows, data.get("document"), data.get("photo"))


@dataclass(frozen=True)
class ChatRef:
    """Who is talking, on which channel and in which chat: all a channel tells the application
    about the sender, so the application never sees a platform object."""

    channel: str
    chat_id: str
    user_external_id: str
    display_name: str = ""
    is_group: bool = False
    title: str | None = None


@dataclass(frozen=True)
class Command:
    name: str
    arg: str | None = None


@dataclass(frozen=True)
class Attachment:
    """A file a user sent, already saved on disk by the channel."""

    name: str
    path: str


@dataclass(frozen=True)
class Incoming:
    """One thing a user did: typed text (or a file with its caption as text), or pressed a
    button (payload)."""

    text: str | None = None
    payload: str | None = None
    update_id: str | None = None  # platform update id, for exactly-once handling
    document: Attachment | None = None
    photo: Attachment | None = None  # a picture (Telegram photo), saved on disk by the channel
    location: tuple[float, float] | None = None  # (latitude, longitude) the user shared

    def __post_init__(self) -> None:
        if (self.text is None) == (self.payload is None):
            raise ValueError("an Incoming carries either text or a button payload")


@dataclass
class Reply:
    messages: list[OutMessage] = field(default_factory=list)
    duplicate: bool = False  # the update was seen before; messages are the stored reply
    refused: bool = False  # a button press that was not applied (stale, or its question answered)
