"""The worker that builds the reports asked for in chat and sends them (see core/reports/jobs.py
for how a job survives a crash)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from core.chat.messages import OutMessage
from core.i18n import t
from core.reports import jobs
from core.reports.offload import build_elsewhere
from core.reports.stage import default_basis
from core.storage.models import Unit

if TYPE_CHECKING:
    from bot.app import ChatApp

log = logging.getLogger(__name__)
POLL = 5.0  # seconds between looks for jobs another worker left (a wake-up comes at once)

Send = Callable[[str, list[OutMessage]], Awaitable[None]]


class ReportWorker:
    def __init__(self, app: ChatApp, channel: str, send: Send) -> None:
        self.app = app
        self.channel = channel
        self.send = send
        self.lease = timedelta(seconds=app.settings.job_lease)

    async def run(self) -> None:
        wake = self.app.wake_event("reports")
        while True:
            try:
                while await self.run_one():
                    pass
            except Exception:
                log.exception("%s: report worker failed; trying again shortly", self.channel)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), POLL)
            wake.clear()

    async def run_one(self) -> bool:
        """Build and send one job; False when none is waiting."""
        job = await jobs.claim(self.app.db, {self.channel}, self.lease)
        if job is None:
            return False
        messages = job.built
        if messages is None:
            try:
                messages = await self._build(job)
            except Exception as exc:
                log.exception("report job %s (%s) failed", job.id, job.report_id)
                if await jobs.fail(self.app.db, job, type(exc).__name__):  # else a later attempt holds it
                    await self.send(job.chat_id, [OutMessage(t("report_failed"))])
                return True
            if messages is None:  # the lease ran out and another worker holds the job: it sends
                log.warning("report job %s: lease lost while building; its files were dropped", job.id)
                return True
        await self.send(job.chat_id, messages)
        await jobs.finish(self.app.db, job.id)
        return True

    async def _build(self, job: jobs.Claimed) -> list[OutMessage] | None:
        """The job's messages, its files published (core/reports/jobs.py); None if another
        worker took the job meanwhile (this build's files are dropped)."""
        data = self.app.data
        reports = data.settings.data_dir / "reports"
        staged = jobs.staging(reports, job)
        renew = asyncio.create_task(self._keep_lease(job.id, job.attempt))
        try:
            async with data.db.read() as s:
                unit = await s.get(Unit, job.unit_id)
                assert unit is not None
                basis = await default_basis(s, unit, job.year)
            # in the report process (core/reports/offload.py): the chat goes on meanwhile
            files, _pid = await build_elsewhere(data.db.url, job.report_id, job.unit_id, job.year, staged,
                                                stage=basis.stage, data_dir=data.settings.data_dir,
                                                data_key=data.settings.data_key)
            caption = t("report_ready", report=data.reports.title(job.report_id, job.year, basis), unit=unit.name,
                        year=job.year)
            if job.report_id in data.reports.tables:
                caption += "\n" + basis.line()
            folder = jobs.published(reports, job.id)
            messages = [OutMessage(caption, document=str(folder / files[0].name))]
            # the chart's rule in its caption too: the same rates as the table, units without a count left out
            messages += [OutMessage(t("report_chart", unit=unit.name) + "\n" + t("chart_caption"),
                                    photo=str(folder / f.name)) for f in files[1:]]
            if await jobs.publish(data.db, job, staged, folder, messages, self.lease):
                return messages
            return None
        finally:
            renew.cancel()
            shutil.rmtree(staged, ignore_errors=True)  # gone already once published

    async def _keep_lease(self, job_id: int, attempt: int) -> None:
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            await jobs.renew(self.app.db, job_id, self.lease, attempt)
