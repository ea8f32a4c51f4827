"""Tables of the review procedure. Kept beside the procedure (not in core/storage/models.py)
so the procedure can change without touching the survey's tables; same metadata."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Float, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models import Base, utcnow


class Review(Base):
    """Where one household stands in the year's procedure, and how it came to be reviewed."""

    __tablename__ = "reviews"
    # the households a decision recognised: whether a unit's reports are official yet
    # (core/reports/stage.recognised_in) is read from here, not from every review row
    __table_args__ = (Index("ix_reviews_decided", "household_id", postgresql_where=text("final_class IS NOT NULL"),
                            sqlite_where=text("final_class IS NOT NULL")),)

    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), primary_key=True)
    origin: Mapped[str] = mapped_column(String(12))  # list | applicant | survey
    stage: Mapped[str] = mapped_column(String(16), index=True)
    listed_class: Mapped[str | None] = mapped_column(String(16))  # poor | near_poor on last year's list
    baseline: Mapped[Any] = mapped_column(JSON, nullable=True)  # last year's answers, for the checks
    final_class: Mapped[str | None] = mapped_column(String(16))
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("review_events.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReviewEvent(Base):
    """A step taken for many households at once: a village meeting, a posting, an opinion, a decision."""

    __tablename__ = "review_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # meeting | posting | opinion | decision
    year: Mapped[int] = mapped_column(Integer)
    held_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)  # the posting's last day
    data: Mapped[Any] = mapped_column(JSON, nullable=True)
    file_path: Mapped[str | None] = mapped_column(String(400))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReviewStep(Base):
    """One step of one household: who, when, what (the audit log has the same row too)."""

    __tablename__ = "review_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    step: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("review_events.id"))
    data: Mapped[Any] = mapped_column(JSON, nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Complaint(Base):
    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(String(500))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution: Mapped[str | None] = mapped_column(String(12))  # dismissed | resurvey
    reason: Mapped[str | None] = mapped_column(String(500))


class CheckConfirmation(Base):
    """A data-quality finding an officer confirmed as correct (it then stops blocking approval)."""

    __tablename__ = "check_confirmations"
    __table_args__ = (UniqueConstraint("code", name="uq_check_confirmations_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    code: Mapped[str] = mapped_column(String(120))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class HouseholdFile(Base):
    """Evidence attached to a household: a photo (stored under the data folder) or a location."""

    __tablename__ = "household_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # photo | location | minutes
    path: Mapped[str | None] = mapped_column(String(400))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
