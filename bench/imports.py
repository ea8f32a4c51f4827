"""Importing last year's list (issue 26 item 4): what a large or hostile file costs, next to the
limits that bound it (core/procedure/import_file.py, docs/procedure.md).

1. three files read with the limits and without them, each in a fresh process of its own (so
   its peak memory is its own): a list of 100,000 rows (.xlsx), a 50 MB file (.csv) and a zip
   bomb (.xlsx of a few hundred KB whose shared strings unpack to 300 MB);
2. a list imported whole, at a commune's size and at the row limit: reading (report process),
   checking and writing (the one transaction, which holds SQLite's only writer), and the old
   row-by-row writer for comparison;
3. chat answers (p50 / p95 / slowest) of 20 village heads answering over the Telegram channel
   (SQLite) while an officer's `/nhapds` imports a large list, next to no import at all and to
   the list read on the event loop inside the transaction, as it was before.

    .venv/bin/python -m bench.imports                 # everything (a few minutes on 2 cores)
    .venv/bin/python -m bench.imports --sections 1    # only the files
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy import select

from core.procedure.import_file import LIMITS, MB, ImportLimits
from core.procedure.importer import ImportFailed, parse_file

HEADERS = ["STT", "Họ và tên chủ hộ", "Thôn", "Dân tộc", "Số thành viên", "Số CCCD chủ hộ", "Kết quả rà soát"]
NO_LIMITS = ImportLimits(max_bytes=1 << 40, max_rows=1 << 40, max_unpacked=1 << 40, max_ratio=1 << 40)
ONLY_ROWS = ImportLimits(max_bytes=1 << 40, max_unpacked=1 << 40, max_ratio=1 << 40)  # the row limit alone
NO_LIMIT_TIMEOUT = 120  # seconds a read without limits may take before it is stopped


def row(n: int, villages: int = 20) -> list[Any]:
    return [n, f"Nguyễn Văn {n}", f"Thôn {n % villages:02d}", "Tày", 1 + n % 6, f"0201{n:08d}", "Hộ nghèo"]


def list_xlsx(path: Path, rows: int, first: int = 1) -> Path:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("ds_ngheo")
    ws.append(HEADERS)
    for n in range(first, first + rows):
        ws.append(row(n))
    wb.save(path)
    return path


def big_csv(path: Path, size: int) -> Path:
    """A list as CSV UTF-8, grown to `size` bytes."""
    rng = random.Random(5)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(HEADERS)
        n = 0
        while fh.tell() < size:
            n += 1
            out.writerow([*row(n)[:5], f"{rng.randrange(10**12):012d}", "Hộ nghèo"])
    return path


SST = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"


def zip_bomb(path: Path, unpacked: int) -> Path:
    """A real workbook with a shared strings part holding one string of `unpacked` bytes of one
    letter: a few hundred KB on the wire, and openpyxl reads every shared string into memory
    before row 1 (whatever the rows)."""
    list_xlsx(path, 1)
    with zipfile.ZipFile(path) as src:
        parts = {i.filename: src.read(i) for i in src.infolist()}
    types = parts["[Content_Types].xml"].decode()
    parts["[Content_Types].xml"] = types.replace(
        "</Types>", f'<Override PartName="/xl/sharedStrings.xml" ContentType="{SST}" /></Types>').encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, data in parts.items():
            dst.writestr(name, data)
        with dst.open("xl/sharedStrings.xml", "w", force_zip64=True) as fh:
            fh.write(b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/'
                     b'spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>')
            chunk = b"A" * MB
            for _ in range(unpacked // MB):
                fh.write(chunk)
            fh.write(b"</t></si></sst>")
    return path


# ----- 1. one read in a process of its own ---------------------------------------------------


def read_once(path: str, name: str, which: str) -> dict[str, Any]:
    """Run in the child: read the file with the limits (`with`), the row limit alone (`rows`) or
    none (`none`); time, peak memory above the interpreter's own, and what came of it."""
    limits = {"with": LIMITS, "rows": ONLY_ROWS, "none": NO_LIMITS}[which]
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    try:
        parsed = parse_file(Path(path), name, limits=limits)
        outcome = f"read {len(parsed.rows):,} rows"
    except ImportFailed as failed:
        outcome = f"refused: {failed.refused or failed.errors[0]}"
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": seconds, "peak_mib": peak / 1024, "above_mib": (peak - base) / 1024, "outcome": outcome}


def _child(path: Path, name: str, which: str) -> dict[str, Any]:
    proc = subprocess.Popen([sys.executable, "-m", "bench.imports", "--read", str(path), name, which],
                            stdout=subprocess.PIPE, text=True)
    t0 = time.perf_counter()
    try:
        out, _ = proc.communicate(timeout=NO_LIMIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        hwm = _vm_hwm(proc.pid)
        proc.kill()
        proc.communicate()
        return {"seconds": time.perf_counter() - t0, "peak_mib": hwm, "above_mib": None,
                "outcome": f"stopped after {NO_LIMIT_TIMEOUT} s, not finished"}
    if proc.returncode != 0:
        return {"seconds": time.perf_counter() - t0, "peak_mib": None, "above_mib": None,
                "outcome": f"died (exit {proc.returncode})"}
    return json.loads(out.strip().splitlines()[-1])


def _vm_hwm(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def files(tmp: Path) -> None:
    print(f"\n1. files, each read in a process of its own; limits: {LIMITS.max_bytes // MB} MB a file, "
          f"{LIMITS.max_rows:,} rows, {LIMITS.max_unpacked // MB} MB unpacked, ratio {LIMITS.max_ratio}:1 "
          f"(members over 1 MB)")
    cases = [("100,000-row list", list_xlsx(tmp / "100k.xlsx", 100_000), "ds_100k.xlsx", ("with", "none")),
             ("50 MB file", big_csv(tmp / "50mb.csv", 50 * MB), "ds_50mb.csv", ("with", "rows", "none")),
             ("zip bomb", zip_bomb(tmp / "bomb.xlsx", 300 * MB), "bomb.xlsx", ("with", "rows", "none"))]
    labels = {"with": "with the limits", "rows": "row limit only", "none": "no limits"}
    for title, path, name, runs in cases:
        with zipfile.ZipFile(path) if path.suffix == ".xlsx" else _nothing() as z:
            unpacked = f", {sum(i.file_size for i in z.infolist()) / MB:,.0f} MB unpacked" if z else ""
        print(f"   {title} ({path.stat().st_size / MB:,.1f} MB{unpacked}):")
        for which in runs:
            r = _child(path, name, which)
            peak = f"{r['peak_mib']:>7.0f} MiB" if r["peak_mib"] is not None else "      ? MiB"
            print(f"     {labels[which]:<17}{r['seconds']:>8.2f} s  peak {peak}  {r['outcome'][:110]}")


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


# ----- 2. a list imported whole --------------------------------------------------------------


async def _service(tmp: Path, url: str) -> tuple[Any, Any, Any]:
    from bench.all import _settings
    from bot.app import build_app
    from core.storage.db import Database
    from core.storage.models import Unit
    from core.units.loader import add_village

    db = Database(url)
    service = await build_app(_settings(url, tmp, UNITS_CONFIGURATION="65"), db)
    async with db.transaction() as s:
        commune = await s.scalar(select(Unit).where(Unit.configuration == "65", Unit.code == "6202"))
        assert commune is not None
        for i in range(20):
            await add_village(s, commune, f"Thôn {i:02d}")
    return db, service, commune


async def _old_write(s: Any, parsed: Any, service: Any, commune: Any) -> int:
    """The writer before this change, row by row through the ORM (for comparison only)."""
    from core.conversation.engine import SurveyEngine
    from core.procedure.import_rows import DEFAULT
    from core.procedure.importer import attach_members, check_rows
    from core.procedure.models import Review
    from core.procedure.steps import Origin, Stage, record_step
    from core.storage.models import Household
    from core.storage.repo import audit, save_answer

    survey = service.forms["phieu_b"]
    assert not await check_rows(s, parsed.rows, DEFAULT, commune, survey, 2026)
    attach_members(parsed.rows, parsed.members, survey)
    engine = SurveyEngine(survey, {"review_year": 2026, "is_urban": False})
    for item in parsed.rows:
        h = Household(village_id=item.village.id, survey_id=survey.id, survey_version=survey.version,
                      review_year=2026, status="draft", head_name=item.answers.get("chu_ho_ten"), area="rural")
        s.add(h)
        await s.flush()
        await audit(s, h.id, "create", None, {"row": item.row})
        for key, value in item.answers.items():
            await save_answer(s, h.id, key, None, value, None)
        h.state = {"cursor": engine.view(item.answers).slots[0].key, "mode": "ask"}
        s.add(Review(household_id=h.id, origin=Origin.LIST, stage=Stage.LISTED, listed_class=item.listed_class,
                     baseline=dict(item.answers)))
        await s.flush()
        await record_step(s, h, "listed", None, {"row": item.row})
    return len(parsed.rows)


async def whole_import(tmp: Path, sizes: tuple[int, ...]) -> None:
    from bench.reports import pg_database
    from core.procedure.importer import import_list
    from core.reports.offload import run_elsewhere

    print("\n2. a list imported whole: read in the report process, then checked and written in one transaction")
    for store in ("SQLite", "PostgreSQL"):
        for n in sizes:
            path = list_xlsx(tmp / f"list_{n}.xlsx", n)
            async with (pg_database() if store == "PostgreSQL" else _sqlite(tmp, n)) as url:
                db, service, commune = await _service(tmp, url)
                t0 = time.perf_counter()
                parsed = await run_elsewhere(parse_file, path, path.name)
                t1 = time.perf_counter()
                async with db.transaction() as s:
                    created = await import_list(s, path, commune, service.forms["phieu_b"], 2026, "rural", None,
                                                parsed=parsed)
                t2 = time.perf_counter()
                await db.dispose()
            print(f"   {store:<11}{len(created):>7,} households: read {t1 - t0:6.2f} s, "
                  f"check + write (the transaction) {t2 - t1:6.2f} s")
    n = 500
    path = list_xlsx(tmp / "list_old.xlsx", n)
    async with _sqlite(tmp, -1) as url:
        db, service, commune = await _service(tmp, url)
        parsed = parse_file(path, path.name)
        t0 = time.perf_counter()
        async with db.transaction() as s:
            await _old_write(s, parsed, service, commune)
        old = time.perf_counter() - t0
        await db.dispose()
    print(f"   SQLite     {n:>7,} households, the row-by-row writer before this change: {old:6.2f} s")


class _sqlite:
    def __init__(self, tmp: Path, n: int) -> None:
        self.url = f"sqlite+aiosqlite:///{tmp / f'import_{n}_{time.monotonic_ns()}.db'}"

    async def __aenter__(self) -> str:
        return self.url

    async def __aexit__(self, *exc: object) -> None:
        return None


# ----- 3. the chat while a list is imported -------------------------------------------------


async def latency_during_import(tmp: Path, rows: int, users: int = 20) -> dict[str, tuple[float, ...]]:
    from bench.all import _converse, _heads, _script
    from bot.channels.telegram import TelegramChannel
    from core.procedure.importer import import_list
    from core.storage.repo import ensure_user
    from tests.fake_telegram import FakeBotAPI, TgUser

    api = FakeBotAPI()
    await api.start()
    url = f"sqlite+aiosqlite:///{tmp / 'latency_import.db'}"
    db, service, commune = await _service(tmp, url)
    first = (await _script(service, 1))[0]
    people = await _heads(service, api, users, first=40_000)
    async with db.transaction() as s:
        await ensure_user(s, "telegram", "39999", "Cán bộ xã", "commune", commune.id)
    officer = TgUser(api, 39_999, "Cán bộ xã")
    channel = TelegramChannel(service, api.token, api.base, poll_timeout=1)
    await channel.start()
    await _converse(api, people, [[("/hoimoi phieu_b", 2)] for _ in people])
    data = {n: list_xlsx(tmp / f"chat_{n}.xlsx", rows, first).read_bytes() for n, first in (("a", 1), ("b", rows + 1))}
    from core.reports.offload import run_elsewhere

    await run_elsewhere(abs, 1)  # the report process starts once (the bot's first report or import pays it)
    took: dict[str, float] = {}

    async def answering(label: str, work: Any) -> tuple[float, ...]:
        latencies: list[float] = []
        t0 = time.perf_counter()
        task = asyncio.ensure_future(work)
        while not task.done():  # answer the first question, go back to it, answer again...
            await _converse(api, people, [[(first, 1), ("/quaylai", 1)] for _ in people], latencies)
        await task
        took[label] = time.perf_counter() - t0
        latencies.sort()
        return latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.95)], latencies[-1]

    async def nhapds(name: str) -> None:
        before = api.per_chat.get(officer.user_id, 0)
        await api.push(officer.document_update(f"{name}.xlsx", data[name], "/nhapds"))
        await api.wait_sent(officer.user_id, before + 1)
        text = api.sent_to(officer.chat["id"])[-1].get("text", "")
        assert "Đã nhập" in text, text[:300]

    async def on_the_loop(name: str) -> None:
        path = tmp / f"{name}_loop.xlsx"
        path.write_bytes(data[name])
        async with db.transaction() as s:  # as before: read on the loop, inside the transaction
            parsed = parse_file(path, path.name)
            await import_list(s, path, commune, service.forms["phieu_b"], 2026, "rural", None, parsed=parsed)

    result = {"no import": await answering("no import", asyncio.sleep(5)),
              "/nhapds (report process)": await answering("/nhapds (report process)", nhapds("a")),
              "read on the loop (before)": await answering("read on the loop (before)", on_the_loop("b"))}
    await channel.stop()
    await db.dispose()
    await api.stop()
    return {k: (*v, took[k]) for k, v in result.items()}


async def main_async(sections: str, chat_rows: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="rasoat-bench-imports-"))
    print(f"rasoat import benchmark, Python {sys.version.split()[0]}")
    if "1" in sections:
        files(tmp)
    if "2" in sections:
        await whole_import(tmp, (2_000, LIMITS.max_rows - 1))  # the header is a row too
    if "3" in sections:
        print(f"\n3. answer latency, 20 users, while a list of {chat_rows:,} rows is imported (SQLite)")
        for label, (p50, p95, worst, took) in (await latency_during_import(tmp, chat_rows)).items():
            print(f"   {label:<28} p50 {p50:>6.3f} s   p95 {p95:>6.3f} s   slowest {worst:>6.3f} s   "
                  f"(import {took:5.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sections", default="123")
    parser.add_argument("--chat-rows", type=int, default=5_000, help="rows of the list imported in section 3")
    parser.add_argument("--read", nargs=3, metavar=("PATH", "NAME", "LIMITS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.read:
        print(json.dumps(read_once(*args.read)))
        return
    asyncio.run(main_async(args.sections, args.chat_rows))


if __name__ == "__main__":
    main()
