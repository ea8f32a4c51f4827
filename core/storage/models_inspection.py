"""Tables of inspections and re-checks (kiểm tra, giám sát, phúc tra). Same metadata as the
survey's tables; core/access.py reads them (through core/inspection/scope.py), so every process
that answers a user has them registered.

A re-check's answers are rows of their own (`recheck_answers`), never the commune's `answers`:
what the inspector found and what the commune recorded stay side by side until the commune
answers each difference; an accepted one changes the household through the normal audited edit.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, ForeignKey, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models import Base, utcnow


class Inspection(Base):
    """One inspection of a plan: proposed, then confirmed by a province officer (who, when);
    its team's access lasts from `starts_on` to `ends_on` and ends at once when it is closed."""

    __tablename__ = "inspections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[str] = mapped_column(String(64), index=True)
    year: Mapped[int] = mapped_column(Integer)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))  # the inspecting unit (the province)
    status: Mapped[str] = mapped_column(String(10))  # proposed | confirmed | closed
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class InspectedUnit(Base):
    """A commune of a proposal: its evidence, whether the officer kept it, and its re-check sample."""

    __tablename__ = "inspected_units"
    __table_args__ = (UniqueConstraint("inspection_id", "unit_id", name="uq_inspected_units"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    rank: Mapped[int | None] = mapped_column(Integer)  # place in the bot's proposal; None: added by hand
    score: Mapped[float] = mapped_column(Float, default=0.0)
    reasons: Mapped[Any] = mapped_column(JSON, nullable=True)  # [{"name", "value", "threshold"}], counts only
    picked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # who kept, added or dropped it
    changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sample_seed: Mapped[int | None] = mapped_column(Integer)  # the sample is drawn again from this seed
    sampled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sampled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class InspectionInvite(Base):
    """An invite code that makes its redeemer a member of an inspection's team: membership is
    the code's `used_by`, so registering needs nothing beyond the usual redeem."""

    __tablename__ = "inspection_invites"

    code: Mapped[str] = mapped_column(ForeignKey("invite_codes.code", ondelete="CASCADE"), primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id", ondelete="CASCADE"), index=True)


class Recheck(Base):
    """A household in a commune's re-check sample, and the inspector's re-survey of it."""

    __tablename__ = "rechecks"
    __table_args__ = (UniqueConstraint("inspected_unit_id", "household_id", name="uq_rechecks_household"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspected_unit_id: Mapped[int] = mapped_column(ForeignKey("inspected_units.id", ondelete="CASCADE"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    stratum: Mapped[str] = mapped_column(String(12))  # poor | near_poor | not_poor | changed | complaint
    note: Mapped[str | None] = mapped_column(String(300))  # the complaint that named it
    added_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(10), default="sampled")  # sampled | started | submitted
    state: Mapped[Any] = mapped_column(JSON, nullable=True)  # the survey engine's position
    inspector_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    original_class: Mapped[str | None] = mapped_column(String(16))  # the commune's, when submitted
    found_class: Mapped[str | None] = mapped_column(String(16))  # from the inspector's answers
    compared: Mapped[int | None] = mapped_column(Integer)  # answers compared
    agreed: Mapped[int | None] = mapped_column(Integer)  # ... and equal


class RecheckAnswer(Base):
    __tablename__ = "recheck_answers"
    __table_args__ = (UniqueConstraint("recheck_id", "key", name="uq_recheck_answers_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recheck_id: Mapped[int] = mapped_column(ForeignKey("rechecks.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    value: Mapped[Any] = mapped_column(JSON, nullable=True)  # ID numbers and phones sealed, as in answers
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class RecheckDifference(Base):
    """An answer the inspector found different, and how the commune answered it. Values are
    not copied here: they are read from the two sets of answers (sealed where they must be)."""

    __tablename__ = "recheck_differences"
    __table_args__ = (UniqueConstraint("recheck_id", "key", name="uq_recheck_differences_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recheck_id: Mapped[int] = mapped_column(ForeignKey("rechecks.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    resolution: Mapped[str | None] = mapped_column(String(10))  # accepted | explained
    explanation: Mapped[str | None] = mapped_column(String(500))
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class InspectionText(Base):
    """A written section of an inspection document (difficulties, advantages, proposals...),
    typed in chat by the unit that signs it; a section never typed stays a marked blank."""

    __tablename__ = "inspection_texts"
    __table_args__ = (UniqueConstraint("inspection_id", "unit_id", "document", "section", name="uq_inspection_texts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    document: Mapped[str] = mapped_column(String(40))
    section: Mapped[str] = mapped_column(String(40))
    text: Mapped[str | None] = mapped_column(String(4000))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
