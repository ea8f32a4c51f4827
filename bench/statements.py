"""SQL statements per survey answer through ChatApp.handle, counted on both answer paths
(tests/statements.py; BEGIN/COMMIT are not statements here).

    .venv/bin/python -m bench.statements                 # SQLite
    .venv/bin/python -m bench.statements --postgres
    .venv/bin/python -m bench.statements --show          # print each statement of one answer
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.reports import pg_database
from bot.app import build_app
from core.chat.messages import Incoming
from core.config import Settings
from core.storage.db import Database
from tests.households import POOR, answer_for, cursor, make_village_head
from tests.statements import Counter


async def measure(url: str, tmp: Path, answers: int = 20, show: bool = False) -> tuple[float, float]:
    """(statements per answer, milliseconds per answer) over `answers` answers of a Phiếu B."""
    settings = Settings.from_env({"DATABASE_URL": url, "RASOAT_DATA_DIR": str(tmp), "REVIEW_YEAR": "2026"})
    db = Database(settings.database_url)
    app = await build_app(settings, db)
    chat = await make_village_head(app, "probe", village="Thôn Đếm")
    await app.handle(chat, Incoming(text="/hoimoi phieu_b", update_id="u0"))
    texts = []
    for _ in range(answers):  # the answers in the order the form asks them
        texts.append(answer_for(POOR, await cursor(app, chat)))  # type: ignore[arg-type]
        await app.handle(chat, Incoming(text=texts[-1], update_id=f"p{len(texts)}"))
    chat2 = await make_village_head(app, "counted", village="Thôn Đếm 2")
    await app.handle(chat2, Incoming(text="/hoimoi phieu_b", update_id="u0"))
    counter = Counter(app)
    total_ms = 0.0
    for i, text in enumerate(texts):
        before = len(counter.statements)
        t0 = time.perf_counter()
        await app.handle(chat2, Incoming(text=text, update_id=f"a{i}"))
        total_ms += (time.perf_counter() - t0) * 1000
        if show and i == len(texts) - 1:
            print(*counter.statements[before:], sep="\n")
    await db.dispose()
    return len(counter.statements) / len(texts), total_ms / len(texts)


async def main_async(postgres: bool, show: bool) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="rasoat-stmt-"))
    if postgres:
        async with pg_database() as url:
            per, ms = await measure(url, tmp, show=show)
    else:
        per, ms = await measure(f"sqlite+aiosqlite:///{tmp / 's.db'}", tmp, show=show)
    print(f"{'PostgreSQL' if postgres else 'SQLite'}: {per:.1f} statements per answer, {ms:.1f} ms per answer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--show", action="store_true")
    args = parser.parse_args()
    asyncio.run(main_async(args.postgres, args.show))


if __name__ == "__main__":
    main()
