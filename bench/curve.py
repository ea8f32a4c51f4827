"""The cost curve (issue 25): how time and memory grow with the province, on PostgreSQL.

For each size (20,000, 200,000 and 2,000,000 households by default): the data set of
bench/dataset.py with review rows (COPY batches), then at province level
- every Biểu 7.x table and every list: seconds (untraced) and peak Python memory (traced);
- `/tiendo` through the chat (a province officer), and the web view's overview figures;
- village heads' answer latency (p50/p95) while the largest list (ds_bhyt) is built in the
  report process, as the bot builds it.

    .venv/bin/python -m bench.curve                          # 20k, 200k, 2M (2M alone: about 30 minutes)
    .venv/bin/python -m bench.curve --sizes 20000 200000
    .venv/bin/python -m bench.all --sections 6 --sizes 20000,200000,2000000
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from bench.dataset import seed
from bench.reports import pg_database
from bot.app import ChatApp, build_app
from bot.channels.telegram import TelegramChannel
from bot.webview import figures
from core.access import Role
from core.chat.messages import ChatRef, Incoming
from core.config import Settings
from core.reports.build import build_report
from core.reports.offload import build_elsewhere
from core.storage.db import Database
from core.storage.models import Unit
from core.storage.repo import ensure_user
from tests.fake_telegram import FakeBotAPI

SIZES = (20_000, 200_000, 2_000_000)
CONFIG = "200"
LARGEST = "ds_bhyt"  # the list with the most rows (one per member of a poor or near-poor household)


async def _timed(work, runs: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await work()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


async def _latency(app: ChatApp, url: str, province: Unit, tmp: Path, users: int = 20) -> tuple[float, float, int]:
    """p50 and p95 (seconds) of answers while LARGEST is built in the report process, and how
    many answers were timed."""
    from bench.all import _converse, _heads, _script

    api = FakeBotAPI()
    await api.start()
    first = (await _script(app, 1))[0]
    people = await _heads(app, api, users, first=40_000)
    channel = TelegramChannel(app, api.token, api.base, poll_timeout=1)
    await channel.start()
    await _converse(api, people, [[("/hoimoi phieu_b", 2)] for _ in people])
    latencies: list[float] = []
    task = asyncio.ensure_future(build_elsewhere(url, LARGEST, province.id, 2026, tmp, chart=False))
    while not task.done():  # answer the first question, go back to it, answer again...
        await _converse(api, people, [[(first, 1), ("/quaylai", 1)] for _ in people], latencies)
    await task
    await channel.stop()
    await api.stop()
    latencies.sort()
    return latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.95)], len(latencies)


async def one_size(households: int, tmp: Path, reports: list[str] | None) -> None:
    async with pg_database() as url:
        db = Database(url)
        try:
            t0 = time.perf_counter()
            await seed(db, households, config=CONFIG, villages_per_commune=max(1, 1676 // 200), reviews=True,
                       keep=False)
            print(f"\n   {households:,} households (PostgreSQL, COPY batches): generated in "
                  f"{time.perf_counter() - t0:.0f} s")
            app = await build_app(Settings.from_env({
                "DATABASE_URL": url, "RASOAT_DATA_DIR": str(tmp), "REVIEW_YEAR": "2026", "UNITS_CONFIGURATION": CONFIG,
                "TELEGRAM_MAX_RATE": "0"}), db)
            async with db.transaction() as s:
                province = (await s.scalars(select(Unit).where(Unit.configuration == CONFIG,
                                                               Unit.level == "province"))).one()
                await ensure_user(s, "test", "tinh", "Cán bộ tỉnh", Role.PROVINCE, province.id)
            officer = ChatRef("test", "tinh", "tinh")

            async def tiendo() -> None:
                await app.handle(officer, Incoming(text="/tiendo"))

            async def overview() -> None:
                async with db.read() as s:
                    await figures.overview(s, app.data, province, datetime.now(UTC))

            print(f"   {'/tiendo (province)':<22}{await _timed(tiendo):>9.2f} s")
            print(f"   {'web overview figures':<22}{await _timed(overview):>9.2f} s")
            print(f"   {'report':<22}{'seconds':>9}{'peak MiB':>10}")
            for rid, _title in app.reports.names():
                if reports and rid not in reports:
                    continue
                timings = []
                for traced in (False, True):  # untraced for time (tracemalloc slows allocation), traced for memory
                    if traced:
                        tracemalloc.start()
                    t0 = time.perf_counter()
                    async with db.read() as s:
                        await build_report(s, app.reports, rid, province, 2026, tmp, app.forms, chart=False)
                    timings.append(time.perf_counter() - t0)
                peak = tracemalloc.get_traced_memory()[1] / 2**20
                tracemalloc.stop()
                print(f"   {rid:<22}{timings[0]:>9.2f}{peak:>10.1f}")
            p50, p95, n = await _latency(app, url, province, tmp)
            print(f"   answers while {LARGEST} is built in the report process: p50 {p50:.3f} s, p95 {p95:.3f} s "
                  f"({n} answers, 20 users)")
            print(f"   process max RSS so far: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
        finally:
            await db.dispose()


async def run(sizes: list[int], reports: list[str] | None = None) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="rasoat-curve-"))
    print(f"6. cost curve, province level, PostgreSQL: {', '.join(f'{n:,}' for n in sizes)} households")
    for households in sizes:
        await one_size(households, tmp, reports)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--only", nargs="*", help="report ids to run (default: all)")
    args = parser.parse_args()
    asyncio.run(run(args.sizes, args.only))


if __name__ == "__main__":
    main()
