"""Reports asked for in chat are durable jobs: `rasoat run` is SIGKILLed while a report is being
built, its report process dies with it, and after the restart the workbook and chart are built
and arrive once each, with one copy of each on disk."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.app import ChatApp, build_app
from core.chat.messages import OutMessage
from core.config import Settings
from core.reports import jobs
from core.storage.db import Database
from core.storage.models import Household, ReportJob, Unit
from core.storage.repo import ensure_user
from core.units.loader import add_village
from tests.fake_telegram import FakeBotAPI, TgUser

ROOT = Path(__file__).parents[1]
OFFICER = 7001


async def _run(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "bot.cli", "run", cwd=ROOT, env=env,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)


async def _until(check: Any, timeout: float = 60, every: float = 0.005) -> Any:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        value = await check()
        if value:
            return value
        await asyncio.sleep(every)
    raise AssertionError("timed out")


def _descendants(pid: int) -> set[int]:
    """Every process below `pid` (from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie is dead, only not yet reaped by its new parent


def _copies(folder: Path) -> list[str]:
    """The report files a user could be sent: every file under reports/ but builds in progress."""
    return sorted(p.suffix for p in folder.rglob("*") if p.is_file() and ".building" not in p.parts)


async def _report_process(pid: int) -> set[int]:
    """The processes under `rasoat run` once its report process (a multiprocessing child) runs."""
    def cmdline(child: int) -> bytes:
        try:
            return Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            return b""

    below = _descendants(pid)
    spawned = any(b"multiprocessing" in cmdline(p) and b"resource_tracker" not in cmdline(p) for p in below)
    return below if spawned else set()


async def test_a_kill_mid_build_still_delivers_the_report_once(api: FakeBotAPI, db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_BASE": api.base,
           "RASOAT_DATA_DIR": str(tmp_path), "DATABASE_URL": db_url, "UNITS_CONFIGURATION": "65",
           "REVIEW_YEAR": "2026", "TELEGRAM_MAX_RATE": "0", "RASOAT_JOB_LEASE": "2", "RASOAT_REDELIVER_AFTER": "1"}
    settings = Settings.from_env(env)
    db = Database(settings.database_url)
    app = await build_app(settings, db)
    async with db.transaction() as s:
        commune = await s.scalar(select(Unit).where(Unit.configuration == "65", Unit.code == "6202"))
        assert commune is not None
        village = await add_village(s, commune, "Thôn Nà Pàn")
        for i in range(30):
            s.add(Household(village_id=village.id, survey_id="phieu_b", survey_version="1", review_year=2026,
                            status="submitted", head_name=f"Chủ hộ {i}", outcome="poor" if i % 3 else "near_poor",
                            area="rural"))
        await ensure_user(s, "telegram", str(OFFICER), "Cán bộ xã", "commune", commune.id)
        commune_id = commune.id
    officer = TgUser(api, OFFICER, "Cán bộ xã")
    proc = await _run(env)
    builders: set[int] = set()
    try:
        await api.push(officer.text_update(f"/baocao 7.1 #{commune_id}"))

        async def running() -> bool:
            async with db.read() as s:
                job = await s.scalar(select(ReportJob))
                return job is not None and job.status == jobs.RUNNING

        await _until(running)
        builders = await _until(lambda: _report_process(proc.pid))
        proc.send_signal(signal.SIGKILL)  # mid-build: the chart library alone takes about a second to load
        await proc.wait()
        assert builders, "no report process was running"
        for _ in range(100):  # 5 s
            if not any(_alive(pid) for pid in builders):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"the report process outlived rasoat run: {sorted(filter(_alive, builders))}")
        files = [m for m in api.sent_to(OFFICER) if "document" in m or "photo" in m]
        assert files == [], "the kill came too late to be mid-build"
        assert any("Đang lập" in (m.get("text") or "") for m in api.sent_to(OFFICER))
        proc = await _run(env)

        async def delivered() -> list[dict[str, Any]]:
            sent = api.sent_to(OFFICER)
            return sent if any("photo" in m for m in sent) else []

        await _until(delivered, timeout=90, every=0.05)
        await asyncio.sleep(3)  # time for a second, wrong delivery to show itself
    finally:
        if proc.returncode is None:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 30)
        for pid in filter(_alive, builders):  # never leave an orphan behind, even when the test fails
            os.kill(pid, signal.SIGKILL)
    documents = [m for m in api.sent_to(OFFICER) if "document" in m]
    photos = [m for m in api.sent_to(OFFICER) if "photo" in m]
    assert len(documents) == 1 and len(photos) == 1
    async with db.read() as s:
        job = (await s.scalars(select(ReportJob))).one()
    assert job.status == jobs.SENT and job.attempts == 2
    assert not list((tmp_path / "reports").rglob("*-tmp*"))
    assert _copies(tmp_path / "reports") == [".png", ".xlsx"]  # the killed build wrote no second copy
    await app.db.dispose()


async def test_only_the_attempt_that_holds_a_job_publishes_its_files(service: ChatApp, tmp_path: Path) -> None:
    """A slow build whose lease ran out while another worker took the job over: its files are
    dropped, not published beside the other's, and it does not mark the job failed."""
    db = service.db
    async with db.transaction() as s:
        commune = await s.scalar(select(Unit).where(Unit.configuration == "65", Unit.code == "6202"))
        assert commune is not None
        jobs.enqueue(s, "telegram", "1", None, "7.1", commune.id, 2026)
    slow = await jobs.claim(db, {"telegram"}, timedelta(seconds=-1))  # its lease has already run out
    other = await jobs.claim(db, {"telegram"}, timedelta(minutes=1))
    assert slow is not None and other is not None and (slow.attempt, other.attempt) == (1, 2)
    reports = tmp_path / "reports"
    staged = {claim.attempt: jobs.staging(reports, claim) for claim in (slow, other)}
    for attempt, folder in staged.items():
        (folder / f"bao_cao_{attempt}.xlsx").write_bytes(b"attempt %d" % attempt)
    folder = jobs.published(reports, other.id)
    sent = [OutMessage("Báo cáo", document=str(folder / "bao_cao_2.xlsx"))]
    assert not await jobs.publish(db, slow, staged[1], folder, sent, timedelta(minutes=1))
    assert not await jobs.fail(db, slow, "TimeoutError")
    assert not folder.exists()
    assert await jobs.publish(db, other, staged[2], folder, sent, timedelta(minutes=1))
    assert [p.name for p in reports.rglob("*.xlsx")] == ["bao_cao_2.xlsx"]  # the slow attempt's folder went too
    async with db.read() as s:
        job = (await s.scalars(select(ReportJob))).one()
    assert (job.status, job.attempts, job.result) == (jobs.BUILT, 2, [m.to_json() for m in sent])
