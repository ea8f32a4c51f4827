"""The tables that keep one chat's webhook updates in order across workers (core/inbox.py,
core/inbox_counter.py), beside the inbox itself (models.InboxUpdate)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models import Base, utcnow


class InboxApplied(Base):
    """The platform order (`seq`) of the last update applied in a chat: an update older than it
    came after a newer one and is refused, not applied to whatever question is current."""

    __tablename__ = "inbox_applied"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class InboxSeen(Base):
    """Update ids of a bot-wide counter (Telegram's update_id) committed at or above the floor."""

    __tablename__ = "inbox_seen"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class InboxFloor(Base):
    """Every id of the channel's counter below `seq` has been committed (or was given up on after
    RASOAT_INBOX_GAP_WAIT); `at` is when it last moved."""

    __tablename__ = "inbox_floor"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
