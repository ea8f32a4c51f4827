"""The versions of the rule packs the province signed (issue 21). Kept apart from
core/storage/models.py (same metadata); core/rules/versions.py reads and writes them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models import Base, utcnow


class RuleVersion(Base):
    """One workbook read for a pack: `pending` until a province officer confirms it, then
    `official` with the next version number; never edited afterwards, so every earlier version
    stays listed. The pack in force is the newest official version (else the shipped YAML).
    `base_version` is the version the changes were shown against: a confirmation after another
    version was signed is refused (the officer would sign changes they never saw)."""

    __tablename__ = "rule_versions"
    __table_args__ = (UniqueConstraint("pack_id", "version", name="uq_rule_versions_pack_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pack_id: Mapped[str] = mapped_column(String(40), index=True)
    version: Mapped[int | None] = mapped_column(Integer)  # None while pending
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | official | dropped
    base_version: Mapped[int] = mapped_column(Integer, default=0)
    content: Mapped[Any] = mapped_column(JSON)
    content_sha256: Mapped[str] = mapped_column(String(64))
    file_sha256: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str | None] = mapped_column(String(200))
    changes: Mapped[Any] = mapped_column(JSON, nullable=True)  # the lines shown before signing
    document: Mapped[str] = mapped_column(String(120))  # number of the text it is signed under
    document_date: Mapped[date] = mapped_column(Date)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    signed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    signed_by_name: Mapped[str | None] = mapped_column(String(120))
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
