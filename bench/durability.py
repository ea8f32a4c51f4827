"""What `PRAGMA synchronous=FULL` costs: small commits per second on a SQLite file, NORMAL
against FULL (both in WAL mode), each commit one row the way an answer is one transaction.

    .venv/bin/python -m bench.durability              # 2,000 commits per mode
    .venv/bin/python -m bench.durability --commits 500 --dir /path/on/the/real/disk

Run it on the disk the data folder lives on: the figure is the disk's fsync rate.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from core.storage.db import Database
from core.storage.models import ProcessedUpdate


async def commits_per_second(folder: Path, mode: str, commits: int) -> float:
    db = Database(f"sqlite+aiosqlite:///{folder / f'durability-{mode.lower()}.db'}", sqlite_synchronous=mode)
    try:
        await db.migrate()
        started = time.perf_counter()
        for i in range(commits):
            async with db.transaction() as s:
                s.add(ProcessedUpdate(channel="bench", update_id=str(i), chat_id="1", reply={"t": "ok"}))
        return commits / (time.perf_counter() - started)
    finally:
        await db.dispose()


async def run(commits: int, folder: Path | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="rasoat-durability-", dir=folder) as tmp:
        return {mode: await commits_per_second(Path(tmp), mode, commits) for mode in ("NORMAL", "FULL")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--dir", type=Path, default=None, help="folder for the test databases (default: temp)")
    args = parser.parse_args()
    figures = asyncio.run(run(args.commits, args.dir))
    for mode, rate in figures.items():
        print(f"synchronous={mode:<6} {rate:8.0f} commits/s ({args.commits} commits, WAL)")
    print(f"FULL / NORMAL: {figures['FULL'] / figures['NORMAL']:.2f}")


if __name__ == "__main__":
    main()
