"""The in-process profile of one survey answer (issue 25): CPU per answer, SQL statements and
commits per answer, through ChatApp.handle (the journal, the sender, the router, the survey
step, the stored reply and the commit; no network: the channel's send is not in it).

    .venv/bin/python -m bench.answer                    # SQLite and PostgreSQL
    .venv/bin/python -m bench.answer --profile 25       # and cProfile's top 25 (own time) on PostgreSQL

Each chat's first answer is left out (it fills the worker's cache of its village's parent
units); the rest are the steady state of a warm worker. CPU is this process's
(time.process_time), not the database server's, so the figure holds on a machine shared with
other work better than wall time (printed beside it): ROUNDS rounds of CHATS x ANSWERS answers,
the median round printed (its lowest in brackets). Statements and commits are counted on both
answer paths (tests/statements.py: SQLAlchemy's events, and the driver path's observer; BEGIN,
COMMIT and PRAGMA are not statements).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.reports import pg_database
from bot.app import ChatApp, build_app
from core.chat.messages import ChatRef, Incoming
from core.config import Settings
from core.storage.db import Database
from tests.households import POOR, answer_for, cursor, make_village_head
from tests.statements import Counter

GOALS = {"cpu_ms": 1.5, "statements": 4, "commits": 1}
CHATS, ANSWERS, ROUNDS = 10, 20, 5  # answers measured: ROUNDS x CHATS x ANSWERS, each chat one Phiếu B


@dataclass
class Profile:
    store: str
    answers: int
    cpu_ms: float
    cpu_low: float
    wall_ms: float
    statements: float
    commits: float
    top: str = ""

    def lines(self) -> list[str]:
        def verdict(value: float, goal: float) -> str:
            return "ok" if value <= goal else "OVER"

        return [f"   {self.store:<11} CPU {self.cpu_ms:5.2f} ms/answer [{self.cpu_low:.2f}] (goal ≤ {GOALS['cpu_ms']}: "
                f"{verdict(self.cpu_ms, GOALS['cpu_ms'])}), wall {self.wall_ms:5.2f} ms, "
                f"{self.statements:.2f} statements (≤ {GOALS['statements']}: "
                f"{verdict(self.statements, GOALS['statements'])}), {self.commits:.2f} commits "
                f"(≤ {GOALS['commits']}: {verdict(self.commits, GOALS['commits'])}), {self.answers} answers"]


async def _prepare(app: ChatApp, chats: int, answers: int) -> tuple[list[ChatRef], list[str]]:
    """The answers of a Phiếu B in the order the form asks them (a dry run), and `chats` village
    heads each with a Phiếu B open."""
    probe = await make_village_head(app, "probe", village="Thôn Dò")
    await app.handle(probe, Incoming(text="/hoimoi phieu_b", update_id="p0"))
    texts = []
    for i in range(answers):
        texts.append(answer_for(POOR, await cursor(app, probe)))  # type: ignore[arg-type]
        await app.handle(probe, Incoming(text=texts[-1], update_id=f"p{i + 1}"))
    heads = []
    for c in range(chats):
        chat = await make_village_head(app, f"h{c}", village=f"Thôn Đo {c}")
        await app.handle(chat, Incoming(text="/hoimoi phieu_b", update_id="s0"))
        heads.append(chat)
    return heads, texts


async def measure(url: str, tmp: Path, store: str, top: int = 0, rounds: int = ROUNDS) -> Profile:
    settings = Settings.from_env({"DATABASE_URL": url, "RASOAT_DATA_DIR": str(tmp), "REVIEW_YEAR": "2026"})
    db = Database(url)
    app = await build_app(settings, db)
    heads, texts = await _prepare(app, CHATS * rounds, ANSWERS + 1)
    for chat in heads:  # each chat's first answer reads its village's parents once per worker (cache.ancestors)
        await app.handle(chat, Incoming(text=texts[0], update_id="a0"))
    texts = texts[1:]
    counter = Counter(app)
    profiler = cProfile.Profile(time.process_time) if top else None  # CPU time, not time spent waiting
    cpus, walls = [], []
    for r in range(rounds):
        wall = cpu = 0.0
        for i, text in enumerate(texts):  # answer i of every chat, chat after chat (a warm worker)
            for chat in heads[r * CHATS:(r + 1) * CHATS]:
                t0, c0 = time.perf_counter(), time.process_time()
                if profiler:
                    profiler.enable()
                await app.handle(chat, Incoming(text=text, update_id=f"a{i + 1}"))
                if profiler:
                    profiler.disable()
                cpu += time.process_time() - c0
                wall += time.perf_counter() - t0
        cpus.append(cpu / (len(texts) * CHATS) * 1000)
        walls.append(wall / (len(texts) * CHATS) * 1000)
    n = len(texts) * CHATS * rounds
    await app.flush()
    await db.dispose()
    summary = ""
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
        summary = out.getvalue()
    return Profile(store, n, statistics.median(cpus), min(cpus), statistics.median(walls), len(counter.statements) / n,
                   counter.commits / n, summary)


async def profiles(top: int = 0, stores: str = "sp") -> list[Profile]:
    tmp = Path(tempfile.mkdtemp(prefix="rasoat-answer-"))
    out = []
    if "s" in stores:
        out.append(await measure(f"sqlite+aiosqlite:///{tmp / 'a.db'}", tmp, "SQLite"))
    if "p" in stores:
        async with pg_database() as url:
            out.append(await measure(url, tmp, "PostgreSQL", top))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print cProfile's top N (PostgreSQL)")
    parser.add_argument("--stores", default="sp", help="s: SQLite, p: PostgreSQL")
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop's event loop (pip install uvloop first)")
    args = parser.parse_args()
    print("in-process profile of one answer (ChatApp.handle, no network)" + (", uvloop" if args.uvloop else ""))
    if args.uvloop:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    for p in asyncio.run(profiles(args.profile, args.stores)):
        print(*p.lines(), sep="\n")
        if p.top:
            print(p.top)


if __name__ == "__main__":
    main()
