"""Per-chat ordering and retry pacing, shared by the channels' update loops.

Updates of different chats run at once; updates of one chat run one after the other in
arrival order, so "answer, then /quaylai" never runs backwards.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Hashable
from typing import Any

log = logging.getLogger(__name__)


class ChatLanes:
    def __init__(self) -> None:
        self._tails: dict[Hashable, asyncio.Future[None]] = {}

    async def run(self, key: Hashable, coroutine: Awaitable[Any]) -> None:
        previous = self._tails.get(key)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[key] = mine  # registered before any await: arrival order is kept
        try:
            if previous is not None:
                await asyncio.shield(previous)
            await coroutine
        finally:
            mine.set_result(None)
            if self._tails.get(key) is mine:
                del self._tails[key]


class Backoff:
    """Waits between failed polls: 1 s, doubling up to 30 s, back to 1 s after a success."""

    def __init__(self, first: float = 1.0, most: float = 30.0) -> None:
        self.first = first
        self.most = most
        self.delay = first

    def reset(self) -> None:
        self.delay = self.first

    async def wait(self, what: str, exc: Exception) -> None:
        log.warning("%s failed: %s; retrying in %.0f s", what, exc, self.delay)
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, self.most)
