"""Report benchmark: a province of N households (200,000 by default), then every table and
list at province level, each timed with its peak Python memory.

    .venv/bin/python -m bench.reports                 # SQLite file in a temp folder
    .venv/bin/python -m bench.reports --postgres      # the PostgreSQL server at 127.0.0.1
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import resource
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import select

from bench.dataset import seed
from core.datafiles import load_data_files
from core.reports.build import build_report
from core.storage.db import Database
from core.storage.models import Unit

PG_ADMIN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


async def _pg_db() -> tuple[str, str]:
    import asyncpg

    name = f"rasoat_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(PG_ADMIN)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}", name


async def _drop(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


@asynccontextmanager
async def pg_database() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for one measurement, dropped afterwards; yields its URL."""
    url, name = await _pg_db()
    try:
        yield url
    finally:
        await _drop(name)


async def run(households: int, config: str, postgres: bool, only: list[str] | None) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="rasoat-bench-"))
    url, pg_name = (await _pg_db()) if postgres else (f"sqlite+aiosqlite:///{tmp / 'bench.db'}", None)
    db = Database(url)
    data = load_data_files()
    try:
        t0 = time.perf_counter()
        generated = await seed(db, households, config=config, villages_per_commune=max(1, 1676 // 200))
        seed_s = time.perf_counter() - t0
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
              f"Python {platform.python_version()}, store: {'PostgreSQL' if postgres else 'SQLite'}")
        print(f"generated {len(generated):,} households ({config}-commune configuration) in {seed_s:.1f} s")
        async with db.read() as s:
            province = (await s.scalars(select(Unit).where(Unit.configuration == config,
                                                           Unit.level == "province"))).one()
        print(f"{'report':<20}{'seconds':>10}{'peak MiB':>10}  file")
        for rid, _title in data.reports.names():
            if only and rid not in only:
                continue
            # timed untraced (tracemalloc slows allocation-heavy code), then once more traced for memory
            timings = []
            for traced in (False, True):
                if traced:
                    tracemalloc.start()
                t0 = time.perf_counter()
                async with db.read() as s:
                    files = await build_report(s, data.reports, rid, province, 2026, tmp, data.forms,
                                               chart=rid == "7.1")
                timings.append(time.perf_counter() - t0)
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            print(f"{rid:<20}{timings[0]:>10.2f}{peak:>10.1f}  {files[0].name} ({files[0].stat().st_size // 1024} KiB)")
        # the sheet writer processes' own memory: bench/sheet_writer.py (a forked child's peak
        # counts the parent's pages, so it cannot be read off here)
        print(f"process max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    finally:
        await db.dispose()
        if pg_name:
            await _drop(pg_name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=200_000)
    parser.add_argument("--config", default="200", choices=["200", "194", "65"])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--only", nargs="*", help="report ids to run (default: all)")
    args = parser.parse_args()
    asyncio.run(run(args.households, args.config, args.postgres, args.only))


if __name__ == "__main__":
    main()
