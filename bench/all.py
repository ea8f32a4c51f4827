"""The whole benchmark in one run, figures side by side:

1. chat throughput: survey answers per second through the Telegram channel (the real
   python-telegram-bot library against the local fake Bot API, long polling), stored on SQLite
   and on PostgreSQL, for 20 and 200 users at once, next to a bare echo bot of the same library
   on the same fake server;
2. several workers: the same through webhook mode, `rasoat run` (1 process) against
   `rasoat run --workers 2` on PostgreSQL, the updates posted to the webhook as Telegram does;
3. answer latency while a province-level list is being built (p50/p95), with the build in the
   report process as the bot does it, and, for comparison, on the bot's own event loop;
4. broadcast pacing: 500 group notices through the scheduler's outbox against a fake that
   enforces Telegram's limits (30 messages/s, 20 per minute per group);
5. report generation for a province of 200,000 households (bench/reports.py), every list;
6. the cost curve on PostgreSQL for --sizes households (bench/curve.py): every table and list,
   /tiendo, the web overview, answer latency while the largest list is built;
7. the in-process profile of one answer (bench/answer.py): CPU, statements and commits per answer;
8. the web view on PostgreSQL (bench/webview.py): the province overview uncached, beside the goal;
9. the settle window (bench/settle.py): updates out of order by 0-500 ms, how many are applied
   out of order (or refused as late) at each window.

    .venv/bin/python -m bench.all                     # everything (about an hour on 2 cores, 2M included)
    .venv/bin/python -m bench.all --households 20000 --sizes 20000,200000  # quicker
    .venv/bin/python -m bench.all --sections 178      # the issue-25 chat figures and the web view
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from bench.answer import profiles as answer_profiles
from bench.curve import SIZES
from bench.curve import run as run_curve
from bench.dataset import seed
from bench.reports import pg_database
from bench.reports import run as run_reports
from bench.settle import DEFAULT as DEFAULT_SETTLE
from bench.settle import report as settle_report
from bench.settle import run as run_settle
from bench.webview import run as run_webview
from bot.app import ChatApp, build_app
from bot.channels.telegram import TelegramChannel
from bot.channels.telegram_http import AiohttpRequest
from core.chat.messages import Incoming
from core.config import Settings
from core.reports.build import build_report
from core.reports.offload import build_elsewhere
from core.storage.db import Database
from core.storage.models import GroupBinding, Unit, User
from scheduler.clock import FixedClock
from scheduler.runner import Scheduler
from tests.fake_telegram import FakeBotAPI, FloodControl, TgUser
from tests.households import POOR, answer_for, cursor, make_village_head

ANSWERS = {20: 20, 200: 5}  # answers per user for each crowd size (about 400 and 1,000 answers)
RUNS = 5  # section 1: runs of each configuration, the median printed


async def _converse(api: FakeBotAPI, users: list[TgUser], scripts: list[list[tuple[str, int]]],
                    latencies: list[float] | None = None) -> float:
    """Each user sends its lines one by one, waiting for the expected number of replies."""
    async def one(user: TgUser, script: list[tuple[str, int]]) -> None:
        for text, replies in script:
            before = api.per_chat.get(user.user_id, 0)
            t0 = time.perf_counter()
            await api.push(user.text_update(text))
            await api.wait_sent(user.user_id, before + replies)
            if latencies is not None:
                latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(u, s) for u, s in zip(users, scripts, strict=True)))
    return time.perf_counter() - t0


async def echo_rate(users: int = 20, http: str = "httpx") -> float:
    """A bare echo bot, as the library's own examples write one; `http` picks its network
    backend: the library's default (httpx) or the aiohttp backend rasoat uses."""
    api = FakeBotAPI()
    await api.start()

    async def echo(update: Update, _c: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(update.effective_message.text or "")

    builder = ApplicationBuilder().token(api.token).base_url(f"{api.base}/bot").concurrent_updates(True)
    if http == "aiohttp":
        builder = builder.request(AiohttpRequest()).get_updates_request(AiohttpRequest(connections=1))
    app = builder.build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    await app.initialize()
    await app.start()
    await app.updater.start_polling(timeout=1)
    people = [TgUser(api, 9000 + i, f"u{i}") for i in range(users)]
    n = ANSWERS[users]
    elapsed = await _converse(api, people, [[(f"câu {k}", 1) for k in range(n)] for _ in people])
    await app.updater.stop()
    await app.stop()
    await app.shutdown()
    await api.stop()
    return users * n / elapsed


def _settings(url: str, tmp: Path, **extra: str) -> Settings:
    return Settings.from_env({"DATABASE_URL": url, "RASOAT_DATA_DIR": str(tmp), "REVIEW_YEAR": "2026",
                              "TELEGRAM_MAX_RATE": "0", **extra})


async def _keyed_script(service: ChatApp, n: int) -> list[tuple[str, str]]:
    """The first n (question, answer) of a Phiếu B in the order the form asks them (a dry run)."""
    probe = await make_village_head(service, "probe", village="Thôn Dò")
    await service.handle(probe, Incoming(text="/hoimoi phieu_b"))
    keyed = []
    for _ in range(n):
        key = await cursor(service, probe)
        assert key is not None
        keyed.append((key, answer_for(POOR, key)))
        await service.handle(probe, Incoming(text=keyed[-1][1]))
    return keyed


async def _script(service: ChatApp, n: int) -> list[str]:
    """The first n answers of a Phiếu B in the order the form asks them (a dry run)."""
    return [answer for _, answer in await _keyed_script(service, n)]


def _own(keyed: list[tuple[str, str]], user_no: int) -> list[str]:
    """One user's answers: the script with ID numbers of the user's own (households of one review
    sharing a number are warned about, issue 26 item 8, which a real province does not do)."""
    return [f"0201{user_no:08d}" if key.rsplit(".", 1)[-1] in ("chu_ho_cccd", "cccd") else answer
            for key, answer in keyed]


async def _heads(service: ChatApp, api: FakeBotAPI, users: int, first: int = 9000) -> list[TgUser]:
    people = []
    for i in range(users):
        ref = await make_village_head(service, str(first + i), village=f"Thôn {first + i}")
        people.append(TgUser(api, first + i, ref.user_external_id))
    async with service.db.transaction() as s:  # the heads' platform ids are their Telegram ids
        await s.execute(update(User).where(User.channel == "test", User.external_id != "probe")
                        .values(channel="telegram"))
    return people


async def survey_rate(url: str, tmp: Path, users: int = 20, http: str = "aiohttp") -> float:
    api = FakeBotAPI()
    await api.start()
    db = Database(url)
    service = await build_app(_settings(url, tmp, TELEGRAM_HTTP=http), db)
    n = ANSWERS[users]
    keyed = await _keyed_script(service, n)
    people = await _heads(service, api, users)
    channel = TelegramChannel(service, api.token, api.base, poll_timeout=1)
    await channel.start()
    await _converse(api, people, [[("/hoimoi phieu_b", 2)] for _ in people])
    elapsed = await _converse(api, people, [[(a, 1) for a in _own(keyed, i)] for i, _ in enumerate(people)])
    await channel.stop()
    await db.dispose()
    await api.stop()
    return users * n / elapsed


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) so far of a process and every process below it, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    tree, total = {pid}, 0.0
    for _ in range(4):  # children, grandchildren...
        tree |= {p for p, (ppid, _) in stats.items() if ppid in tree}
    for p in tree:
        total += stats.get(p, (0, 0.0))[1]
    return total


async def webhook_rate(url: str, tmp: Path, workers: int, users: int = 50, n: int = 10) -> tuple[float, float]:
    """Answers/s through webhook mode with `rasoat run --workers N`: each user posts its answers
    one after the other to the shared webhook port, as Telegram does; and the CPU seconds the
    rasoat processes (the parent and its workers) spent per 1,000 of those answers."""
    import aiohttp

    api = FakeBotAPI()
    await api.start()
    db = Database(url)
    service = await build_app(_settings(url, tmp), db)
    keyed = await _keyed_script(service, n)
    people = await _heads(service, api, users, first=20_000)
    await db.dispose()
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "RASOAT_DATA_DIR": str(tmp / f"w{workers}"), "REVIEW_YEAR": "2026",
           "TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_BASE": api.base, "TELEGRAM_MAX_RATE": "0",
           "TELEGRAM_WEBHOOK_URL": "https://bot.example/telegram", "TELEGRAM_WEBHOOK_SECRET": "bench-secret",
           "TELEGRAM_WEBHOOK_LISTEN": "127.0.0.1", "TELEGRAM_WEBHOOK_PORT": str(port)}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot.cli", "run", "--workers", str(workers),
                                                cwd=Path(__file__).parents[1], env=env,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    ids = iter(range(1, 10**9))
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            async def post(user: TgUser, text: str) -> None:
                body = {"update_id": next(ids), **user.text_update(text)}
                for _ in range(600):
                    try:
                        async with http.post(f"http://127.0.0.1:{port}/telegram", json=body,
                                             headers={"X-Telegram-Bot-Api-Secret-Token": "bench-secret"}) as r:
                            if r.status == 200:
                                return
                    except aiohttp.ClientError:
                        pass  # not listening yet
                    await asyncio.sleep(0.1)
                raise RuntimeError("the webhook never answered")

            await asyncio.gather(*(post(u, "/hoimoi phieu_b") for u in people))

            async def one(user: TgUser, i: int) -> None:
                for text in _own(keyed, i):
                    await post(user, text)

            t0, cpu0 = time.perf_counter(), tree_cpu(proc.pid)
            await asyncio.gather(*(one(u, i) for i, u in enumerate(people)))
            elapsed, cpu = time.perf_counter() - t0, tree_cpu(proc.pid) - cpu0
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 60)
        await api.stop()
    return users * n / elapsed, cpu / (users * n) * 1000


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def latency_during_build(tmp: Path, households: int, users: int = 20) -> dict[str, tuple[float, float, float]]:
    """p50, p95 and the slowest answer (seconds) of village heads answering while nothing is
    built, while the province's health-insurance list (ds_bhyt) is built in the report process,
    and while it is built on the bot's event loop (how it was done before)."""
    api = FakeBotAPI()
    await api.start()
    url = f"sqlite+aiosqlite:///{tmp / 'latency.db'}"
    db = Database(url)
    service = await build_app(_settings(url, tmp, UNITS_CONFIGURATION="65"), db)
    await seed(db, households, config="65", villages_per_commune=max(1, 1676 // 65))
    first = (await _script(service, 1))[0]
    people = await _heads(service, api, users, first=30_000)
    channel = TelegramChannel(service, api.token, api.base, poll_timeout=1)
    await channel.start()
    await _converse(api, people, [[("/hoimoi phieu_b", 2)] for _ in people])
    async with db.read() as s:
        province = (await s.scalars(select(Unit).where(Unit.configuration == "65",
                                                       Unit.level == "province"))).one()
    await build_elsewhere(url, "7.1", province.id, 2026, tmp, chart=False)  # the report process starts once

    async def answering(work: Any) -> tuple[float, float, float]:
        latencies: list[float] = []
        task = asyncio.ensure_future(work)
        while not task.done():  # answer the first question, go back to it, answer again...
            await _converse(api, people, [[(first, 1), ("/quaylai", 1)] for _ in people], latencies)
        await task
        latencies.sort()
        return (latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.95)], latencies[-1])

    async def in_loop() -> None:
        async with db.read() as s:
            await build_report(s, service.reports, "ds_bhyt", province, 2026, tmp, service.forms)

    result = {"no build": await answering(asyncio.sleep(5)),
              "report process": await answering(build_elsewhere(url, "ds_bhyt", province.id, 2026, tmp)),
              "event loop (before)": await answering(in_loop())}
    await channel.stop()
    await db.dispose()
    await api.stop()
    return result


async def broadcast(tmp: Path, groups: int = 500) -> dict[str, float]:
    api = FakeBotAPI()
    await api.start()
    api.flood = FloodControl(per_second=30, per_group_minute=20)
    settings = Settings.from_env({"RASOAT_DATA_DIR": str(tmp / "bc"), "UNITS_CONFIGURATION": "200",
                                  "REVIEW_YEAR": "2023", "RASOAT_PLANS": "lang_son_2023"})
    db = Database(settings.database_url)
    service = await build_app(settings, db)
    async with db.transaction() as s:
        communes = (await s.scalars(select(Unit).where(Unit.configuration == "200", Unit.level == "commune"))).all()
        for i in range(groups):
            s.add(GroupBinding(channel="telegram", chat_id=str(-100_000 - i), unit_id=communes[i % len(communes)].id))
    channel = TelegramChannel(service, api.token, api.base)
    await channel.app.initialize()
    scheduler = Scheduler(db, service.plans, {"telegram": channel},
                          FixedClock(datetime(2023, 9, 1, 9, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))))
    t0 = time.perf_counter()
    await scheduler.start()
    while await scheduler.outbox.pending():
        await asyncio.sleep(0.5)
        await scheduler.drain()
    elapsed = time.perf_counter() - t0
    await scheduler.stop()
    await channel.app.shutdown()
    await db.dispose()
    stamps = sorted(c.at for c in api.calls if c.method == "sendMessage")
    accepted = len(api.sent)
    window = max(sum(1 for s in stamps[i:] if s - t < 1.0) for i, t in enumerate(stamps))
    await api.stop()
    return {"groups": groups, "delivered": accepted, "seconds": elapsed, "rate": accepted / elapsed,
            "max_per_1s": window, "refused_429": api.flood.refused}


async def chat_throughput(tmp: Path, runs: int = RUNS) -> None:
    """Every configuration `runs` times, round-robin (a busy moment of the machine hits all of
    them alike), the median printed with the lowest and highest beside it."""
    print(f"\n1. chat throughput: users answering at once, fake Bot API on 127.0.0.1, long polling; "
          f"median of {runs} runs (lowest-highest)")
    for users in (20, 200):
        rates: dict[str, list[float]] = {k: [] for k in ("echo", "echo_aio", "sqlite", "pg")}
        for run in range(runs):
            rates["echo"].append(await echo_rate(users))
            rates["echo_aio"].append(await echo_rate(users, "aiohttp"))
            sqlite_url = f"sqlite+aiosqlite:///{tmp / f'chat{users}_{run}.db'}"
            rates["sqlite"].append(await survey_rate(sqlite_url, tmp, users))
            async with pg_database() as pg_url:
                rates["pg"].append(await survey_rate(pg_url, tmp, users))
        med = {k: statistics.median(v) for k, v in rates.items()}
        print(f"   {users} users, {ANSWERS[users]} answers each")
        for key, label in (("echo", "echo bot as shipped (python-telegram-bot, httpx)"),
                           ("echo_aio", "echo bot on rasoat's aiohttp backend")):
            print(f"   {label:<52}{med[key]:>8.1f} messages/s  ({min(rates[key]):.0f}-{max(rates[key]):.0f})")
        for key, label in (("sqlite", "rasoat survey answers, SQLite"), ("pg", "rasoat survey answers, PostgreSQL")):
            print(f"   {label:<52}{med[key]:>8.1f} answers/s   ({min(rates[key]):.0f}-{max(rates[key]):.0f})  "
                  f"{med[key] / med['echo']:5.0%} of the shipped echo (goal 100%), "
                  f"{med[key] / med['echo_aio']:4.0%} of the aiohttp echo (goal 25% at 20 users)")


async def main_async(households: int, skip_reports: bool, sections: str = "123456789",
                     sizes: tuple[int, ...] = SIZES, runs: int = RUNS) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="rasoat-bench-"))
    print(f"rasoat benchmark, {datetime.now():%Y-%m-%d %H:%M}, {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    if "1" in sections:
        await chat_throughput(tmp, runs)
    if "2" in sections:
        await several_workers(tmp)
    if "3" in sections:
        print(f"\n3. answer latency, 20 users, while ds_bhyt is built for a province of {households:,} households"
              " (SQLite)")
        for where, (p50, p95, worst) in (await latency_during_build(tmp, households)).items():
            print(f"   {where:<28} p50 {p50:>6.3f} s   p95 {p95:>6.3f} s   slowest {worst:>6.3f} s")
    if "4" in sections:
        print("\n4. broadcast pacing: one plan notice to 500 groups, fake enforcing 30/s and 20/min/group")
        b = await broadcast(tmp)
        print(f"   delivered {b['delivered']}/{b['groups']} in {b['seconds']:.1f} s = {b['rate']:.1f} messages/s; "
              f"most sends in any 1 s: {b['max_per_1s']}; 429 refusals retried: {b['refused_429']}")
    if "5" in sections and not skip_reports:
        print(f"\n5. reports for {households:,} households (SQLite; tables 7.1-7.4 and every list)")
        await run_reports(households, "200", False, ["7.1", "7.2", "7.3", "7.4", "ds_ngheo", "ds_can_ngheo",
                                                     "ds_thoat_ngheo", "ds_thoat_can_ngheo", "ds_ngheo_moi",
                                                     "ds_mstb", "ds_bhyt"])
        # in a small process of its own: a child's peak memory counts its parent's pages at the fork
        subprocess.run([sys.executable, "-m", "bench.sheet_writer"], check=True)
    if "6" in sections:
        print()
        await run_curve(list(sizes))
    if "7" in sections:
        print("\n7. in-process profile of one answer (ChatApp.handle, no network; CPU of this process)")
        for profile in await answer_profiles():
            print(*profile.lines(), sep="\n")
    if "8" in sections:
        print(f"\n8. web view, {households:,} households on PostgreSQL (issue 24)")
        await run_webview(households, "200")
    if "9" in sections:
        print("\n9. settle window: pairs of one chat's updates, the earlier one 0-500 ms after the later "
              "(Telegram and Zalo webhooks, inbox, PostgreSQL)")
        for result in await run_settle([0.0, DEFAULT_SETTLE, 0.25, 0.5], 200):
            print(*settle_report(result), sep="\n")


async def several_workers(tmp: Path) -> None:
    print("\n2. several workers: webhook mode, 50 users posting 10 answers each, PostgreSQL; CPU seconds of the"
          " rasoat processes (parent and workers, /proc) per 1,000 answers")
    for workers in (1, 2):
        async with pg_database() as pg_url:
            rate, cpu = await webhook_rate(pg_url, tmp, workers)
        print(f"   {f'rasoat run --workers {workers}':<44}{rate:>8.1f} answers/s   {cpu:5.2f} CPU-s per 1,000 answers")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=200_000)
    parser.add_argument("--skip-reports", action="store_true")
    parser.add_argument("--sections", default="123456789", help="which sections to run, e.g. 1 or 15")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="section 6: households per province size, comma-separated")
    parser.add_argument("--runs", type=int, default=RUNS, help="section 1: runs of each configuration")
    args = parser.parse_args()
    sizes = tuple(int(n) for n in args.sizes.split(","))
    asyncio.run(main_async(args.households, args.skip_reports, args.sections, sizes, args.runs))


if __name__ == "__main__":
    main()

