"""Where a survey stands and what one step of the engine produced: the engine's values, kept
apart so the engine and its wording (core/conversation/wording.py) share them without a cycle."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.chat.messages import OutMessage

ASK, REVIEW, PAUSED, SUBMITTED = "ask", "review", "paused", "submitted"


@dataclass(frozen=True)
class EngineState:
    cursor: str | None = None
    mode: str = ASK
    editing: bool = False  # answering a question picked from the review: return there after
    return_to: str | None = None  # the question waiting while the user is in the review or an edit
    page: int = 0  # the review page last shown (1-based; 0: none)
    pending: str | None = None  # a name typed without accents, asked about once (kept with /giunguyen)

    def to_json(self) -> dict[str, Any]:
        return {"cursor": self.cursor, "mode": self.mode, "editing": self.editing,
                "return_to": self.return_to, "page": self.page, "pending": self.pending}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> EngineState:
        data = data or {}
        page = data.get("page")
        pending = data.get("pending")
        return cls(data.get("cursor"), data.get("mode", ASK), bool(data.get("editing", False)),
                   data.get("return_to"), page if isinstance(page, int) and page > 0 else 0,
                   pending if isinstance(pending, str) else None)


@dataclass(frozen=True)
class Change:
    key: str
    old: Any
    new: Any
    existed: bool  # whether the key had an answer before (None may be a stored "skipped")


@dataclass
class Step:
    state: EngineState
    answers: dict[str, Any]
    messages: list[OutMessage] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    submit: bool = False
    # A button press that was not applied (an old message, a forged value): the channel must not
    # edit the pressed message to show that answer.
    refused: bool = False
