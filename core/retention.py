"""Deleting personal data once nothing needs it any more (Decree 13/2023/NĐ-CP: keep data no
longer than the purpose requires). Called daily by the scheduler's prune job.

* Report workbooks and charts under RASOAT_DATA_DIR/reports are made for one request and sent
  as links that live RASOAT_LINK_HOURS; once no link can be live the file goes.
* processed_updates keeps the reply given to each update so a re-delivered update gets it again
  and a reply never sent is sent after a restart (both look back at most 24 h). Replies echo
  names and ID numbers, so after RASOAT_REPLY_HOURS the reply is blanked; the record itself
  (ids only) stays RASOAT_RETENTION_DAYS so a very late duplicate is still ignored.
* outbox rows that were sent or failed for good are deleted after RASOAT_RETENTION_DAYS; the
  notice's run row (notice_runs) keeps the notice from being queued again.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, null, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from core.storage.models import OutboxMessage, ProcessedUpdate


@dataclass(frozen=True)
class Retention:
    reports: Path
    link_lifetime: timedelta
    reply_lifetime: timedelta
    record_lifetime: timedelta

    @classmethod
    def of(cls, settings: Settings) -> Retention:
        return cls(settings.data_dir / "reports", timedelta(hours=settings.link_hours),
                   timedelta(hours=settings.reply_hours), timedelta(days=settings.retention_days))


@dataclass
class Pruned:
    reports: int = 0
    replies: int = 0
    updates: int = 0
    outbox: int = 0


def prune_reports(folder: Path, older_than: timedelta, now: datetime | None = None) -> int:
    """Delete generated files not modified for longer than a link lives; returns how many."""
    if not folder.is_dir():
        return 0
    cutoff = (now or datetime.now(UTC)).timestamp() - older_than.total_seconds()
    removed = 0
    for path in sorted(folder.rglob("*"), reverse=True):  # files before their folders
        with contextlib.suppress(OSError):  # gone meanwhile, or in use by a download
            if path.is_file() and not path.is_symlink() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
    return removed


async def prune_records(session: AsyncSession, retention: Retention, now: datetime | None = None) -> Pruned:
    now = now or datetime.now(UTC)
    result = Pruned()
    blanked = await session.execute(update(ProcessedUpdate).where(
        ProcessedUpdate.at < now - retention.reply_lifetime, ProcessedUpdate.reply.is_not(None),
    ).values(reply=null(), delivered_at=func.coalesce(ProcessedUpdate.delivered_at, ProcessedUpdate.at)))
    result.replies = int(blanked.rowcount or 0)  # type: ignore[attr-defined]
    deleted = await session.execute(delete(ProcessedUpdate).where(ProcessedUpdate.at < now - retention.record_lifetime))
    result.updates = int(deleted.rowcount or 0)  # type: ignore[attr-defined]
    finished = await session.execute(delete(OutboxMessage).where(
        OutboxMessage.status.in_(("sent", "failed")), OutboxMessage.created_at < now - retention.record_lifetime))
    result.outbox = int(finished.rowcount or 0)  # type: ignore[attr-defined]
    return result
