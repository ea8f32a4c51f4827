"""Sending again the replies a previous process committed but never sent.

The service commits an answer and its reply in one transaction; the channel sends the reply
afterwards and marks it delivered. A process killed between the two leaves an applied answer
whose user never saw the next question; Telegram and Zalo will not re-deliver the update (it
was already fetched), so without this the user would retype and answer the wrong question.
After a restart, each channel waits a little (so that replies still in flight in another
worker are not doubled), then sends whatever is left and marks it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from core.conversation.messages import OutMessage
from core.service import SurveyService

log = logging.getLogger(__name__)


async def redeliver(service: SurveyService, channel: str,
                    send: Callable[[str, list[OutMessage]], Awaitable[None]]) -> int:
    """Settings.redeliver_after (RASOAT_REDELIVER_AFTER, 8 s) after start-up; replies younger
    than that are left alone."""
    after = service.settings.redeliver_after
    await asyncio.sleep(after)
    count = 0
    for update_id, chat_id, messages in await service.undelivered(channel, timedelta(seconds=after)):
        try:
            await send(chat_id, messages)
        except Exception:
            log.exception("could not send the stored reply to %s update %s", channel, update_id)
            continue
        await service.delivered(channel, update_id)
        count += 1
    if count:
        log.warning("%s: sent %d replies that a previous process had committed but not sent", channel, count)
    return count
