"""The web view's sessions: a row per opened link, the browser holding only a random token.

Every request looks its token up together with the user's row, so logging out, the session's
eight hours running out, or disabling the user (core/accounts_admin.set_disabled) ends it on
the very next request, in every worker process.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.webview.links import LoginClaim
from core.storage.models import User, WebSession

SESSION_HOURS = 8
COOKIE = "rasoat_web"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite hands back naive UTC


async def open_session(s: AsyncSession, claim: LoginClaim, now: datetime) -> tuple[str, User] | str:
    """A new session for a live claim: (token, user), or why not ('reused' | 'user')."""
    user = await s.get(User, claim.user_id)
    if user is None or user.disabled_at is not None:
        return "user"
    token = secrets.token_urlsafe(32)
    try:
        async with s.begin_nested():
            s.add(WebSession(token_hash=_hash(token), link_nonce=claim.nonce, user_id=user.id, created_at=now,
                             expires_at=now + timedelta(hours=SESSION_HOURS)))
    except IntegrityError:
        return "reused"
    return token, user


async def user_of(s: AsyncSession, token: str | None, now: datetime) -> User | None:
    """The live session's user: not ended, not expired, and the user not disabled."""
    if not token or len(token) > 100 or not token.isascii():
        return None
    row = (await s.execute(select(WebSession, User).join(User, User.id == WebSession.user_id).where(
        WebSession.token_hash == _hash(token), WebSession.ended_at.is_(None)))).first()
    if row is None:
        return None
    session, user = row
    if _aware(session.expires_at) <= now or user.disabled_at is not None:
        return None
    return user


async def end_session(s: AsyncSession, token: str | None, now: datetime) -> None:
    if token and len(token) <= 100 and token.isascii():
        await s.execute(update(WebSession).where(WebSession.token_hash == _hash(token),
                                                 WebSession.ended_at.is_(None)).values(ended_at=now))
