"""Per-chat ordering for channels that handle updates concurrently.

Updates of different chats run at once; updates of one chat run one after the other in
arrival order, so "answer, then /quaylai" never runs backwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Hashable
from typing import Any


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
