"""Reports are built in another process (core/reports/offload.py), reading the same store, so
the chat's event loop is never the one doing a list's CPU work."""

from __future__ import annotations

import os
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select

from bench.dataset import seed
from core.reports.offload import build_elsewhere
from core.storage.db import Database
from core.storage.models import Unit


async def test_a_list_is_built_in_the_report_process_from_the_same_store(db: Database, tmp_path: Path) -> None:
    generated = await seed(db, households=400, config="200", villages_per_commune=1)
    async with db.read() as s:
        province = (await s.scalars(select(Unit).where(Unit.configuration == "200",
                                                       Unit.level == "province"))).one()
    (xlsx,), pid = await build_elsewhere(db.url, "ds_ngheo", province.id, 2026, tmp_path)
    assert pid != os.getpid()
    numbered = [r for r in load_workbook(xlsx).active.iter_rows(values_only=True) if isinstance(r[0], int)]
    assert len(numbered) == sum(g.outcome == "poor" for g in generated)
    (again,), second = await build_elsewhere(db.url, "7.1", province.id, 2026, tmp_path, chart=False)
    assert second == pid and again.exists()  # the process is kept for the next report
