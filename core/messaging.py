"""Messages to users' own chats that must arrive even if this process dies: written as outbox
rows in the caller's transaction and sent by the scheduler's outbox (once, in per-chat order)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.chat.messages import OutMessage
from core.storage.models import OutboxMessage, User, utcnow


async def tell_users(session: AsyncSession, user_ids: Iterable[int], topic: str, message: OutMessage) -> int:
    """Queue `message` to the private chat of each of these users (the chat they last wrote to
    the bot from); `topic` names it in the outbox."""
    ids = sorted(set(user_ids))
    if not ids:
        return 0
    chats = (await session.execute(select(User.channel, User.chat_id).where(
        User.id.in_(ids), User.chat_id.is_not(None), User.disabled_at.is_(None)))).all()
    key = f"{topic}/{utcnow():%Y%m%d%H%M%S%f}"
    for channel, chat_id in chats:
        session.add(OutboxMessage(notice_key=key[:160], channel=channel, chat_id=chat_id, message=message.to_json()))
    return len(chats)
