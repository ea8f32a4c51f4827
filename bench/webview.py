"""Web view benchmark: a province of N households (200,000 by default) from the bench's data set
(bench/dataset.py, with the review rows a province has mid-review), then the province overview
and one village's household list, each fetched over HTTP from the running web view with a
logged-in session (session check, queries and the Jinja2 rendering included), beside the goals
of issue 24. The overview is fetched with its one-minute figures cache off (every fetch
computes its figures: the goal is for that render) and then, for comparison, with it on.

    .venv/bin/python -m bench.webview              # PostgreSQL at 127.0.0.1 (TEST_POSTGRES_DSN)

Beside wall time it prints this process's CPU per fetch (the web view and the client; the
database's own CPU is not in it), a figure that holds on a machine shared with other work.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from sqlalchemy import select

from bench.dataset import seed
from bench.reports import pg_database
from bot.app import build_app
from bot.web import WebServer
from bot.webview import PREFIX, WebView
from bot.webview.links import LoginClaim
from bot.webview.sessions import COOKIE, open_session
from core.access import Role
from core.config import Settings
from core.storage.db import Database
from core.storage.models import Household, Unit, User

GOALS = {"overview": 0.300, "village households": 0.200}
RUNS = 7


async def _timed(http: aiohttp.ClientSession, url: str) -> tuple[list[float], float]:
    """The first fetch (cold: the database's caches), RUNS more, and the CPU seconds of this
    process per fetch over the RUNS."""
    times = []
    cpu = 0.0
    for _ in range(RUNS + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        async with http.get(url) as r:
            await r.read()
            assert r.status == 200, (url, r.status)
        times.append(time.perf_counter() - t0)
        if len(times) > 1:
            cpu += time.process_time() - c0
    return times, cpu / RUNS


async def run(households: int, config: str) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="rasoat-bench-web-"))
    async with pg_database() as url:
        db = Database(url)
        try:
            settings = Settings.from_env({"DATABASE_URL": url, "REVIEW_YEAR": "2026", "UNITS_CONFIGURATION": config,
                                          "RASOAT_DATA_DIR": str(tmp), "RASOAT_PUBLIC_URL": "http://127.0.0.1"})
            t0 = time.perf_counter()
            await seed(db, households, config=config, villages_per_commune=max(1, 1676 // 200), reviews=True,
                       keep=False)
            print(f"generated {households:,} households ({config}-commune configuration) on PostgreSQL "
                  f"in {time.perf_counter() - t0:.1f} s")
            service = await build_app(dataclasses.replace(settings), db)
            async with db.transaction() as s:
                province = (await s.scalars(select(Unit).where(Unit.configuration == config,
                                                               Unit.level == "province"))).one()
                village_id = await s.scalar(select(Household.village_id).limit(1))
                user = User(channel="bench", external_id="1", display_name="Tỉnh", role=Role.PROVINCE,
                            unit_id=province.id)
                s.add(user)
                await s.flush()
                opened = await open_session(s, LoginClaim(user.id, 0, "bench"), datetime.now(UTC))
                assert not isinstance(opened, str)
                token = opened[0]
            uncached, cached = WebView(service.data, figures_seconds=0), WebView(service.data)
            server = WebServer("127.0.0.1", 0, None, [])
            server.app.add_subapp(PREFIX, uncached.app)
            server.app.add_subapp("/cached", cached.app)
            port = await server.start()
            base, kept = f"http://127.0.0.1:{port}{PREFIX}", f"http://127.0.0.1:{port}/cached"
            try:
                async with aiohttp.ClientSession(cookies={COOKIE: token}) as http:
                    pages = [("overview", "overview, uncached", f"{base}/u/{province.id}"),
                             ("overview", "overview, 60 s cache", f"{kept}/u/{province.id}"),
                             ("village households", "village households", f"{base}/u/{village_id}/ho")]
                    print(f"{'page':<22}{'first ms':>9}{'median ms':>10}{'max ms':>9}{'cpu ms':>8}{'goal ms':>9}"
                          "  result")
                    for goal, name, page in pages:
                        (first, *times), cpu = await _timed(http, page)
                        median = statistics.median(times)
                        verdict = ("ok" if median <= GOALS[goal] else "OVER") + (
                            "" if first <= GOALS[goal] else " (first fetch over)")
                        print(f"{name:<22}{first * 1000:>9.0f}{median * 1000:>10.0f}{max(times) * 1000:>9.0f}"
                              f"{cpu * 1000:>8.1f}{GOALS[goal] * 1000:>9.0f}  {verdict}")
            finally:
                await server.stop()
        finally:
            await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=200_000)
    parser.add_argument("--config", default="200", choices=["200", "194", "65"])
    args = parser.parse_args()
    asyncio.run(run(args.households, args.config))


if __name__ == "__main__":
    main()
