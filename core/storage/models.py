"""Database tables. Answers are rows (not a blob) so each one is committed on its own, audited,
and queryable by reports with GROUP BY."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates


def utcnow() -> datetime:
    return datetime.now(UTC)


def fit_text(column: Any, value: str | None) -> str | None:
    """Names typed in a chat or taken from a platform profile are stored the same way on
    SQLite and PostgreSQL: NUL (which PostgreSQL refuses and SQLite keeps) is dropped and text
    longer than the column is cut to it (PostgreSQL refuses, SQLite keeps it whole)."""
    if value is None:
        return None
    length = column.type.length
    value = value.replace("\x00", "")
    return value[:length] if length else value


class Base(DeclarativeBase):
    """Shared metadata for the tables and the Alembic migrations."""

    def _fit(self, key: str, value: str | None) -> str | None:
        return fit_text(self.__table__.c[key], value)  # type: ignore[attr-defined]


class Unit(Base):
    """Province, district (until 30/06/2025), commune or village, in one configuration."""

    __tablename__ = "units"
    __table_args__ = (
        UniqueConstraint("configuration", "level", "code", name="uq_units_code"),
        UniqueConstraint("parent_id", "level", "name", name="uq_units_parent_name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    configuration: Mapped[str] = mapped_column(String(8))
    level: Mapped[str] = mapped_column(String(10))  # province | district | commune | village
    code: Mapped[str | None] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # Tỉnh, Huyện, Xã, Phường, Thị trấn, Thôn...
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    households_total: Mapped[int | None] = mapped_column(Integer)  # resident households, for rates

    @validates("name")
    def _fit_name(self, key: str, value: str) -> str | None:
        return self._fit(key, value)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_users_channel_ext"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))  # village_head | commune | district | province | admin
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # treated as a stranger
    chat_id: Mapped[str | None] = mapped_column(String(64))  # their private chat, where messages to them go

    @validates("display_name")
    def _fit_name(self, key: str, value: str) -> str | None:
        return self._fit(key, value)


class Household(Base):
    __tablename__ = "households"
    __table_args__ = (
        Index("ix_households_village_status", "village_id", "status"),
        Index("ix_households_year_status", "review_year", "status", "village_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    survey_id: Mapped[str] = mapped_column(String(32))
    survey_version: Mapped[str] = mapped_column(String(16))
    review_year: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="draft")  # draft | submitted
    head_name: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(String(16), index=True)
    pack_id: Mapped[str | None] = mapped_column(String(32))
    # which rules produced the result: the pack's version (0: the shipped file) and the SHA-256
    # of its content, and whether any rule it used is provisional («TẠM TÍNH» wherever printed)
    pack_version: Mapped[int | None] = mapped_column(Integer)
    pack_digest: Mapped[str | None] = mapped_column(String(64))
    provisional: Mapped[bool | None] = mapped_column(Boolean)
    area: Mapped[str | None] = mapped_column(String(8))
    income_per_capita: Mapped[float | None] = mapped_column(Float)
    b1_score: Mapped[int | None] = mapped_column(Integer)
    deprived_count: Mapped[int | None] = mapped_column(Integer)
    deprived: Mapped[Any] = mapped_column(JSON, nullable=True)
    # bit n-1 set when indicator n is deprived: lets reports count indicators with GROUP BY
    deprived_mask: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    prior_class: Mapped[str | None] = mapped_column(String(16))  # poor | near_poor | none, at period start
    ethnicity: Mapped[str | None] = mapped_column(String(20))
    member_count: Mapped[int | None] = mapped_column(Integer)
    # where the survey of this household stands (engine cursor, mode, pending edit): it belongs
    # to the household, so each draft resumes at its own question whoever opens it in any chat
    state: Mapped[Any] = mapped_column(JSON, nullable=True)
    # a submitted household opened again to correct it keeps counting as submitted until it is
    # submitted again (status stays 'submitted'); who reopened it, when and why
    reopened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reopened_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reopen_reason: Mapped[str | None] = mapped_column(String(300))
    # bumped by every write of this household's answers (repo.save_answers): a worker's cached
    # answers are valid while the revision it read them at is still the row's
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    @validates("head_name")
    def _fit_name(self, key: str, value: str | None) -> str | None:
        return self._fit(key, value)


class Answer(Base):
    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("household_id", "key", name="uq_answers_household_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    value: Mapped[Any] = mapped_column(JSON, nullable=True)  # ID numbers and phones sealed (core.storage.sealed)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lookup: Mapped[str | None] = mapped_column(String(64), index=True)  # keyed hash of a sealed value


class AuditLog(Base):
    """One row per change: who changed what, when, from which value to which."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # create | answer | submit | reopen
    key: Mapped[str | None] = mapped_column(String(64))
    old_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    new_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Conversation(Base):
    """Where a chat stands: which household it is filling in and the engine's cursor."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "chat_id", name="uq_conversations_chat"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id", ondelete="SET NULL"))
    state: Mapped[Any] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ProcessedUpdate(Base):
    """Updates already handled, with the reply given, so a re-delivered update changes nothing
    and can be answered again with the same reply."""

    __tablename__ = "processed_updates"

    # keyed by chat too: an update id is only unique within what one platform sends one bot,
    # and a stranger reusing another chat's id must never receive that chat's stored reply
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    update_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    reply: Mapped[Any] = mapped_column(JSON, nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # set once the channel has sent the reply; a reply committed but never sent (the process
    # died in between) is sent again after a restart, so an applied answer is never silent
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class InboxUpdate(Base):
    """A webhook update committed before it is acknowledged and applied by whichever worker
    holds its chat's lock, in update-id order (core/inbox.py)."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("channel", "chat_id", "update_id", name="uq_inbox_update"),
        Index("ix_inbox_chat_seq", "channel", "chat_id", "seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    update_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)  # the platform's order (Telegram's update_id)
    payload: Mapped[Any] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class InviteCode(Base):
    """A one-time code that registers its redeemer with a role over a unit."""

    __tablename__ = "invite_codes"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    role: Mapped[str] = mapped_column(String(20))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class GroupBinding(Base):
    """A group chat that receives the notices of one unit."""

    __tablename__ = "group_bindings"
    __table_args__ = (UniqueConstraint("channel", "chat_id", name="uq_group_bindings_chat"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(200))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    bound_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    bound_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # an official's own chat that subscribed with /nhanthongbao (Zalo bots cannot join groups)
    is_private: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    @validates("title")
    def _fit_title(self, key: str, value: str | None) -> str | None:
        return self._fit(key, value)


class NoticeRun(Base):
    """A plan notice that has been dealt with: its recipients were put in the outbox (fired) or
    it was too late to send after downtime (missed). The primary key makes firing happen once,
    whatever the restarts and however many times a timer goes off."""

    __tablename__ = "notice_runs"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    plan_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    fire_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    fired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status: Mapped[str] = mapped_column(String(8))  # fired | missed
    recipients: Mapped[int] = mapped_column(Integer, default=0)


class OutboxMessage(Base):
    """One message owed to one chat. Unique per (notice, chat): a notice is never queued twice
    for a chat; a row is marked sent right after the platform accepts it."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("notice_key", "channel", "chat_id", name="uq_outbox_notice_chat"),
        Index("ix_outbox_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_key: Mapped[str] = mapped_column(String(160))
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    message: Mapped[Any] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(8), default="pending")  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(String(300))


class ReportSubmission(Base):
    """A unit has answered a plan's report request (by file or by pressing 'Đã nộp')."""

    __tablename__ = "report_submissions"
    __table_args__ = (UniqueConstraint("request_key", "unit_id", name="uq_submissions_request_unit"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_key: Mapped[str] = mapped_column(String(130), index=True)  # plan id / report request id
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    channel: Mapped[str | None] = mapped_column(String(16))
    file_name: Mapped[str | None] = mapped_column(String(200))
    file_path: Mapped[str | None] = mapped_column(String(400))


class ReportJob(Base):
    """A report someone asked for in chat: committed with the acknowledgement, built and sent by
    a worker, so a crash mid-build still delivers the report after a restart (the job is
    claimed for a lease; a job whose lease ran out is built again)."""

    __tablename__ = "report_jobs"
    __table_args__ = (Index("ix_report_jobs_status", "status", "claimed_until"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    report_id: Mapped[str] = mapped_column(String(32))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    year: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(8), default="pending")  # pending | running | built | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    result: Mapped[Any] = mapped_column(JSON, nullable=True)  # the messages to send, once built
    error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AccessLog(Base):
    """Who saw or did what with personal data, and account changes: opened households, lists
    and reports, exports, disabled users, revoked codes, failed invite-code attempts. Kept apart
    from the per-household audit of answers, and shown to the level above (/nhatky)."""

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_unit_at", "unit_id", "at"), Index("ix_access_log_actor_at", "actor", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(90))  # channel:platform id, or "cli"
    action: Mapped[str] = mapped_column(String(24))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id", ondelete="SET NULL"))
    detail: Mapped[Any] = mapped_column(JSON, nullable=True)  # never answer values: ids, report ids, counts


class WebSession(Base):
    """A browser session of the officers' web view (bot/webview/), opened by a single-use link
    from the bot: `link_nonce` is unique, so a link redeemed once can never open a second
    session. The token is stored hashed; every request re-reads the user's row as well, so
    disabling the user or logging out ends the session at once."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    link_nonce: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
