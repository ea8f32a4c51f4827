"""What the scheduler needs from a chat channel to deliver notices, and how a channel says
why a delivery failed, without the scheduler knowing any platform."""

from __future__ import annotations

from typing import Protocol

from core.chat.messages import OutMessage


class SendError(Exception):
    """A delivery the platform refused.

    `permanent`: retrying cannot help (the bot was removed from the group, the user blocked it).
    `retry_after`: the platform asked to wait this many seconds (flood control).
    """

    def __init__(self, reason: str, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after


class Sender(Protocol):
    async def deliver(self, chat_id: str, message: OutMessage) -> None:
        """Send one message; raise SendError when the platform refuses it."""
