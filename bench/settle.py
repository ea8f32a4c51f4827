"""The settle window (RASOAT_INBOX_SETTLE) measured: how many of a chat's updates are applied
out of order when they reach the webhook out of order by 0-500 ms.

Pairs of updates of one chat are posted to the Telegram webhook, then to Zalo's (the real
channels in webhook mode, the inbox, PostgreSQL) with the later update first and the earlier one `delay` ms after
it, the delay drawn evenly from 0-500 ms (two webhook calls racing, as Telegram may deliver
them with several connections). Update ids are one bot-wide increasing sequence, as Telegram's;
on Zalo, which numbers nothing, the message dates follow the same order.
Afterwards the journal tells what happened to each pair: both applied in order; applied out of
order (the earlier update committed after the later one); or the earlier one refused as late
(its stored reply is the inbox's "send it again"), whatever the
inbox's rule is at the time. Also printed: how long the later update waited for its 200.

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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select

from bench.reports import pg_database
from bot.app import ChatApp, build_app
from bot.channels.telegram import TelegramChannel, WebhookConfig
from core import journal
from core.chat.messages import ChatRef
from core.config import Settings
from core.i18n import t
from core.storage.db import Database
from core.storage.models import ProcessedUpdate
from tests.fake_telegram import FakeBotAPI

SECRET = "settle-bench"
WARM, FIRST = 20, 21  # update ids: 1..WARM in order first, then the pairs from FIRST up, no gap
ZALO_EPOCH = 1_800_000_000_000  # Zalo message dates (ms): this plus the update id
CHANNELS = ("telegram", "zalo")
BUCKETS = ((0, 50), (50, 100), (100, 150), (150, 200), (200, 300), (300, 500))
DEFAULT = Settings.from_env({}).inbox_settle


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _late_reply() -> str | None:
    """The text an inbox that refuses a late update answers with (None before it had one)."""
    try:
        return t("wk_late_update")
    except Exception:
        return None


def _telegram(update_id: int, chat: int) -> dict[str, Any]:
    return {"update_id": update_id, "message": {"message_id": update_id, "date": int(time.time()), "text": "xin chào",
                                                "chat": {"id": chat, "type": "private"},
                                                "from": {"id": chat, "is_bot": False, "first_name": "A"}}}


def _zalo(update_id: int, chat: int) -> dict[str, Any]:
    """Zalo numbers nothing: the order is the message's date (ms), here 1 ms per update id."""
    return {"ok": True, "result": {"event_name": "message.text.received", "message": {
        "message_id": str(update_id), "date": ZALO_EPOCH + update_id, "text": "xin chào",
        "chat": {"id": str(chat), "chat_type": "PRIVATE"},
        "from": {"id": str(chat), "display_name": "A", "is_bot": False}}}}


@asynccontextmanager
async def _webhook(channel: str, service: ChatApp) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """The channel in webhook mode on a free port: (its URL, the secret header)."""
    if channel == "telegram":
        api = FakeBotAPI()
        await api.start()
        port = _free_port()
        telegram = TelegramChannel(service, api.token, api.base, webhook=WebhookConfig(
            "https://bot.example/telegram", SECRET, "127.0.0.1", port))
        await telegram.start()
        try:
            yield f"http://127.0.0.1:{port}/telegram", {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        finally:
            await telegram.stop()
            await api.stop()
        return
    from bot.channels.zalo import ZaloChannel, ZaloWebhook
    from bot.channels.zalo_client import ZaloClient
    from bot.web import WebServer
    from tests.fake_zalo import FakeZaloAPI

    zapi = FakeZaloAPI()
    await zapi.start()
    zalo = ZaloChannel(service, ZaloClient(zapi.token, zapi.base), None,
                       webhook=ZaloWebhook("https://bot.example/zalo", SECRET))
    server = WebServer("127.0.0.1", 0, None, zalo.routes())
    port = await server.start()
    await zalo.start()
    try:
        yield f"http://127.0.0.1:{port}/zalo", {"X-Bot-Api-Secret-Token": SECRET}
    finally:
        await zalo.stop()
        await server.stop()
        await zapi.stop()


async def measure(url: str, tmp: Path, settle: float, pairs: int, seed: int = 1,
                  channel: str = "telegram") -> dict[str, Any]:
    db = Database(url)
    service = await build_app(Settings.from_env({
        "DATABASE_URL": url, "RASOAT_DATA_DIR": str(tmp), "REVIEW_YEAR": "2026", "TELEGRAM_MAX_RATE": "0",
        "RASOAT_INBOX_SETTLE": str(settle)}), db)
    rng = random.Random(seed)
    update = _telegram if channel == "telegram" else _zalo
    delays: dict[int, float] = {}
    held: list[float] = []  # the later update's time to 200
    async with _webhook(channel, service) as (hook, headers), aiohttp.ClientSession() as http:
        async def post(body: dict[str, Any], after: float = 0.0) -> float:
            await asyncio.sleep(after)
            t0 = time.perf_counter()
            async with http.post(hook, json=body, headers=headers) as r:
                assert r.status == 200, r.status
            return time.perf_counter() - t0

        # the wait the inbox adds: in-order updates, one chat at a time
        waits = [await post(update(1 + i, 5_000_000)) for i in range(WARM)]

        async def pair(i: int) -> None:
            chat, first = 7_000_000 + i, FIRST + 2 * i
            delays[first] = rng.uniform(0.0, 0.5)
            held.append((await asyncio.gather(post(update(first + 1, chat)),
                                              post(update(first, chat), delays[first])))[0])

        for start in range(0, pairs, 20):  # 20 chats at a time
            await asyncio.gather(*(pair(i) for i in range(start, min(pairs, start + 20))))
    async with db.read() as s:
        rows = (await s.execute(select(ProcessedUpdate.update_id, ProcessedUpdate.at).where(
            ProcessedUpdate.channel == channel))).all()
    late_reply = _late_reply()
    refused = set()
    for first in delays:  # the stored reply, opened as a redelivery would read it (it may be sealed)
        chat = str(7_000_000 + (first - FIRST) // 2)
        stored = await journal.stored_reply(db, ChatRef(channel, chat, chat), str(first)) or []
        if late_reply is not None and any(m.text == late_reply for m in stored):
            refused.add(first)
    await db.dispose()
    at = {int(u): a for u, a in rows if int(u) >= FIRST and int(u) not in refused}
    outcome: dict[tuple[int, int], Counter[str]] = {b: Counter() for b in BUCKETS}
    for first, delay in delays.items():
        bucket = next(b for b in BUCKETS if b[0] <= delay * 1000 < b[1] or (b[1] == 500 and delay * 1000 >= 500))
        late = at.get(first)
        later = at.get(first + 1)
        if late is None and first in refused:
            outcome[bucket]["refused late"] += 1
        elif later is not None and late > later:
            outcome[bucket]["out of order"] += 1
        elif late is None:
            outcome[bucket]["lost"] += 1
        else:
            outcome[bucket]["in order"] += 1
    held.sort()
    return {"settle": settle, "channel": channel, "pairs": pairs, "buckets": outcome,
            "wait_ms": statistics.median(waits) * 1000,
            "held_ms": (statistics.median(held) * 1000, held[int(len(held) * 0.95)] * 1000)}


def report(result: dict[str, Any]) -> list[str]:
    total: Counter[str] = Counter()
    lines = [f"   {result['channel']}, settle {result['settle'] * 1000:.0f} ms"
             f"{' (default)' if result['settle'] == DEFAULT else ''}: "
             f"median time to 200 for an update in order {result['wait_ms']:.0f} ms; for the later update of a "
             f"pair (posted first) median {result['held_ms'][0]:.0f} ms, p95 {result['held_ms'][1]:.0f} ms"]
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
                 f"in order {total['in order']}" + (f", never applied {total['lost']}" if total["lost"] else ""))
    return lines


async def run(settles: list[float], pairs: int, channels: tuple[str, ...] = CHANNELS) -> list[dict[str, Any]]:
    tmp = Path(tempfile.mkdtemp(prefix="rasoat-settle-"))
    out = []
    for channel in channels:
        for settle in settles:
            async with pg_database() as url:
                out.append(await measure(url, tmp, settle, pairs, channel=channel))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--settle", type=float, nargs="*", default=[0.0, DEFAULT, 0.25, 0.5])
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--channels", nargs="*", default=list(CHANNELS), choices=CHANNELS)
    args = parser.parse_args()
    print("settle window: pairs of updates of one chat, the earlier one posted 0-500 ms after the later "
          "(Telegram and Zalo webhooks, inbox, PostgreSQL)")
    for result in asyncio.run(run(args.settle, args.pairs, tuple(args.channels))):
        print(*report(result), sep="\n")


if __name__ == "__main__":
    main()
