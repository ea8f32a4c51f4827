"""Reports asked for in chat are durable jobs: `rasoat run` is SIGKILLed while a report is being
built, and after the restart the workbook and chart arrive, once each."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.app import build_app
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
    try:
        await api.push(officer.text_update(f"/baocao 7.1 #{commune_id}"))

        async def running() -> bool:
            async with db.read() as s:
                job = await s.scalar(select(ReportJob))
                return job is not None and job.status == jobs.RUNNING

        await _until(running)
        proc.send_signal(signal.SIGKILL)  # mid-build: the chart library alone takes about a second to load
        await proc.wait()
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
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
    documents = [m for m in api.sent_to(OFFICER) if "document" in m]
    photos = [m for m in api.sent_to(OFFICER) if "photo" in m]
    assert len(documents) == 1 and len(photos) == 1
    async with db.read() as s:
        job = (await s.scalars(select(ReportJob))).one()
    assert job.status == jobs.SENT and job.attempts == 2
    assert not list((tmp_path / "reports").glob("*-tmp*"))
    await app.db.dispose()
