"""Files users send (report submissions): who may send them, how many, how big, and where
they are kept. The sender is checked before a byte is written, so a stranger's file never
reaches the disk; kept files are private to this server's user (0600 in a 0700 folder)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from core.chat.messages import Attachment, ChatRef, OutMessage
from core.i18n import t
from core.storage.db import Database
from core.storage.models import ReportSubmission, User, utcnow

MAX_MB = 20  # Telegram's getFile limit; Zalo delivers no files at all
PER_DAY = 30  # files one user may send in a day


def safe_file_name(name: str) -> str:
    """Keep a user's file name readable but harmless on disk (no paths, no control chars)."""
    cleaned = "".join(c if c.isalnum() or c in "._- " else "_" for c in name.replace("/", "_"))
    return cleaned.strip(" .")[:100] or "tep"


class Uploads:
    def __init__(self, db: Database, data_dir: Path, max_mb: int = MAX_MB, per_day: int = PER_DAY) -> None:
        self.db = db
        self.folder = data_dir / "uploads"
        self.max_mb = max_mb
        self.per_day = per_day

    async def refusal(self, chat: ChatRef, size: int) -> OutMessage | None:
        """Why this sender may not send this file now, or None."""
        async with self.db.read() as s:
            user = await s.scalar(select(User).where(User.channel == chat.channel,
                                                     User.external_id == chat.user_external_id))
            if user is None or user.disabled_at is not None:
                return None if chat.is_group else OutMessage(t("not_registered_file"))
            if size > self.max_mb * 1024 * 1024:
                return OutMessage(t("file_too_big", mb=self.max_mb))
            today = await s.scalar(select(func.count()).select_from(ReportSubmission).where(
                ReportSubmission.submitted_by == user.id, ReportSubmission.file_name.is_not(None),
                ReportSubmission.submitted_at > utcnow() - timedelta(days=1)))
        if (today or 0) >= self.per_day:
            return OutMessage(t("file_quota", count=self.per_day))
        return None

    def path_for(self, chat: ChatRef, update_id: str, name: str) -> Path:
        folder = self.folder / chat.channel / chat.chat_id
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        for part in (self.folder, self.folder / chat.channel, folder):
            os.chmod(part, 0o700)
        return folder / f"{update_id}-{name}"

    async def receive(self, chat: ChatRef, update_id: str, name: str, size: int, picture: bool,
                      save: Callable[[Path], Awaitable[object]],
                      handle: Callable[[Attachment], Awaitable[object]]) -> OutMessage | None:
        """A file a user sent, the same way on every channel: the sender is checked before a
        byte is written, `save` writes it under the uploads folder (private), `handle` takes it,
        and then it is deleted unless a submission keeps it (a photo always: the procedure copies
        what it keeps). Returns the refusal to send instead, if any."""
        refusal = await self.refusal(chat, size)
        if refusal is not None:
            return refusal
        path = self.path_for(chat, update_id, safe_file_name(name))
        await save(path)
        self.secure(path)
        await handle(Attachment(name, str(path)))
        if picture:
            path.unlink(missing_ok=True)
        else:
            await self.keep_or_delete(path)
        return None

    @staticmethod
    def secure(path: Path) -> None:
        os.chmod(path, 0o600)

    async def keep_or_delete(self, path: Path) -> bool:
        """After handling: a file that no submission recorded is deleted (nothing is kept that
        nobody asked for)."""
        async with self.db.read() as s:
            kept = await s.scalar(select(func.count()).select_from(ReportSubmission).where(
                ReportSubmission.file_path == str(path)))
        if not kept:
            path.unlink(missing_ok=True)
        return bool(kept)
