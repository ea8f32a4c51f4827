"""The settle window (RASOAT_INBOX_SETTLE) measured: how many of a chat's updates are applied
out of order when they reach the webhook out of order by 0-500 ms.

Pairs of updates of one chat are posted to the Telegram webhook (the real channel in webhook
mode, the inbox, PostgreSQL) with the later update first and the earlier one `delay` ms after
it, the delay drawn evenly from 0-500 ms (two webhook calls racing, as Telegram may deliver
them with several connections). Afterwards the journal tells what happened to each pair: both
applied in order; applied out of order (the earlier update committed after the later one); or
the earlier one refused as late (never applied), whatever the inbox's rule is at the time.

    .venv/bin/python -m bench.settle                       # the default window and a few others
    .venv/bin/python -m bench.settle --settle 0.1 --pairs 200

Also printed: the wait the window adds to every update (median time from the post to its 200,
for updates that arrive in order, one chat at a time).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select

from bench.reports import pg_database
from bot.app import build_app
from bot.channels.telegram import TelegramChannel, WebhookConfig
from core.config import Settings
from core.storage.db import Database
from core.storage.models import ProcessedUpdate
from tests.fake_telegram import FakeBotAPI

SECRET = "settle-bench"
BUCKETS = ((0, 50), (50, 100), (100, 150), (150, 200), (200, 300), (300, 500))
DEFAULT = Settings.from_env({}).inbox_settle


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _update(update_id: int, chat: int) -> dict[str, Any]:
    return {"update_id": update_id, "message": {"message_id": update_id, "date": int(time.time()), "text": "xin chào",
                                                "chat": {"id": chat, "type": "private"},
                                                "from": {"id": chat, "is_bot": False, "first_name": "A"}}}


async def measure(url: str, tmp: Path, settle: float, pairs: int, seed: int = 1) -> dict[str, Any]:
    api = FakeBotAPI()
    await api.start()
    db = Database(url)
    service = await build_app(Settings.from_env({
        "DATABASE_URL": url, "RASOAT_DATA_DIR": str(tmp), "REVIEW_YEAR": "2026", "TELEGRAM_MAX_RATE": "0",
        "RASOAT_INBOX_SETTLE": str(settle)}), db)
    port = _free_port()
    channel = TelegramChannel(service, api.token, api.base, webhook=WebhookConfig(
        "https://bot.example/telegram", SECRET, "127.0.0.1", port))
    await channel.start()
    rng = random.Random(seed)
    hook = f"http://127.0.0.1:{port}/telegram"
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    delays: dict[int, float] = {}
    try:
        async with aiohttp.ClientSession() as http:
            async def post(body: dict[str, Any], after: float = 0.0) -> float:
                await asyncio.sleep(after)
                t0 = time.perf_counter()
                async with http.post(hook, json=body, headers=headers) as r:
                    assert r.status == 200, r.status
                return time.perf_counter() - t0

            # the wait the window adds: in-order updates, one chat at a time
            waits = [await post(_update(1_000_000 + i, 5_000_000)) for i in range(20)]

            async def pair(i: int) -> None:
                chat, first = 7_000_000 + i, 2 * i + 1
                delays[first] = rng.uniform(0.0, 0.5)
                await asyncio.gather(post(_update(first + 1, chat)), post(_update(first, chat), delays[first]))

            for start in range(0, pairs, 20):  # 20 chats at a time
                await asyncio.gather(*(pair(i) for i in range(start, min(pairs, start + 20))))
    finally:
        await channel.stop()
        await api.stop()
    async with db.read() as s:
        at = {int(u): a for u, a in (await s.execute(select(ProcessedUpdate.update_id, ProcessedUpdate.at).where(
            ProcessedUpdate.channel == "telegram"))).all() if int(u) < 1_000_000}
    await db.dispose()
    outcome: dict[tuple[int, int], Counter[str]] = {b: Counter() for b in BUCKETS}
    for first, delay in delays.items():
        bucket = next(b for b in BUCKETS if b[0] <= delay * 1000 < b[1] or (b[1] == 500 and delay * 1000 >= 500))
        late = at.get(first)
        later = at.get(first + 1)
        if late is None:
            outcome[bucket]["refused late"] += 1
        elif later is not None and late > later:
            outcome[bucket]["out of order"] += 1
        else:
            outcome[bucket]["in order"] += 1
    return {"settle": settle, "pairs": pairs, "buckets": outcome, "wait_ms": statistics.median(waits) * 1000}


def report(result: dict[str, Any]) -> list[str]:
    total: Counter[str] = Counter()
    lines = [f"   settle {result['settle'] * 1000:.0f} ms{' (default)' if result['settle'] == DEFAULT else ''}: "
             f"median time to 200 for an update in order {result['wait_ms']:.0f} ms"]
    for (lo, hi), got in result["buckets"].items():
        n = sum(got.values())
        total.update(got)
        if n:
            bad, refused = got["out of order"], got["refused late"]
            lines.append(f"     earlier update {lo:>3}-{hi:<3} ms late: {n:>4} pairs, out of order {bad:>4} "
                         f"({bad / n:4.0%}), refused late {refused:>4}")
    n = sum(total.values())
    bad, refused = total["out of order"], total["refused late"]
    lines.append(f"     all {n} pairs: out of order {bad} ({bad / n:.0%}), refused late {refused} ({refused / n:.0%}), "
                 f"in order {total['in order']}")
    return lines


async def run(settles: list[float], pairs: int) -> list[dict[str, Any]]:
    tmp = Path(tempfile.mkdtemp(prefix="rasoat-settle-"))
    out = []
    for settle in settles:
        async with pg_database() as url:
            out.append(await measure(url, tmp, settle, pairs))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--settle", type=float, nargs="*", default=[0.0, DEFAULT, 0.25, 0.5])
    parser.add_argument("--pairs", type=int, default=200)
    args = parser.parse_args()
    print("settle window: pairs of updates of one chat, the earlier one posted 0-500 ms after the later "
          "(Telegram webhook, inbox, PostgreSQL)")
    for result in asyncio.run(run(args.settle, args.pairs)):
        print(*report(result), sep="\n")


if __name__ == "__main__":
    main()
