"""Reports are built in a separate process, so a province-level list (seconds of CPU in
XlsxWriter and openpyxl) never holds up the chat: the bot's event loop only waits on a future.

A thread would share the interpreter lock with the event loop; a process has its own, its own
database engine (reading the same store: SQLite WAL readers never block the writer) and its
own memory, which goes back to the system when it is done, not into the bot's peak. One
process is kept warm for the next report (the first one pays for imports); if it dies, the
next report starts a new one.

It dies with the bot. A `kill -9` of `rasoat run` gives the bot no chance to stop it, and the
pool's pipes stay open in the child itself, so it would live on (finishing its report, then
waiting forever). On Linux the kernel kills it when its parent dies (PR_SET_PDEATHSIG); a
watchdog thread that sees it has a new parent is the fallback elsewhere, and for the case the
kernel's signal misses (it follows the thread that started the child). What a killed build
wrote is never sent: core/reports/jobs.py publishes a job's files only while holding the job.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, TypeVar

REPORT_NICENESS = 10
PR_SET_PDEATHSIG = 1  # linux/prctl.h
WATCH_EVERY = 0.5  # seconds between the watchdog's looks at the parent
T = TypeVar("T")
_pool: ProcessPoolExecutor | None = None
_data: Any = None  # the data files, loaded once in the building process


def _executor() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        # spawn, not fork: the bot's process has threads (aiosqlite) and open sockets
        _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                    initializer=_start_child, initargs=(os.getpid(),))
    return _pool


def _start_child(parent: int) -> None:
    _die_with(parent)
    _yield_to_chat()


def _die_with(parent: int) -> None:
    """Die when `parent` does: the kernel's signal where there is one, and a watchdog thread."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # it died before the signal was asked for
        os._exit(1)
    threading.Thread(target=_watch, args=(parent,), name="parent-watchdog", daemon=True).start()


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_EVERY)
    os._exit(1)  # adopted by another process: the bot is gone, nobody will take this report


def _yield_to_chat() -> None:
    """The building process runs at a lower CPU priority: on a small machine it shares the
    cores with the bot, and a village head's answer should not wait behind a list."""
    with contextlib.suppress(OSError, AttributeError):
        os.nice(REPORT_NICENESS)


async def build_elsewhere(database_url: str, report_id: str, unit_id: int, year: int, out_dir: Path,
                          chart: bool = True, stage: str = "preliminary", data_dir: Path | None = None,
                          data_key: str | None = None) -> tuple[list[Path], int]:
    """The files of the report, built in the report process; and that process's id. `stage`
    picks preliminary or official figures for tables; `data_dir`/`data_key` find the key that
    opens sealed ID numbers for the lists."""
    global _pool
    loop = asyncio.get_running_loop()
    try:
        files, pid = await loop.run_in_executor(_executor(), _build, database_url, report_id, unit_id, year,
                                                str(out_dir), chart, stage, str(data_dir or out_dir.parent),
                                                data_key)
    except BrokenProcessPool:
        _pool = None  # it died (killed, out of memory): the next report gets a new one
        raise
    return [Path(f) for f in files], pid


def _build(database_url: str, report_id: str, unit_id: int, year: int, out_dir: str, chart: bool, stage: str,
           data_dir: str, data_key: str | None) -> tuple[list[str], int]:
    return asyncio.run(_build_async(database_url, report_id, unit_id, year, Path(out_dir), chart, stage,
                                    Path(data_dir), data_key)), os.getpid()


async def _build_async(database_url: str, report_id: str, unit_id: int, year: int, out_dir: Path,
                       chart: bool, stage: str, data_dir: Path, data_key: str | None) -> list[str]:
    from core.datafiles import load_data_files
    from core.reports.build import build_report
    from core.reports.stage import Basis, Stage
    from core.storage.db import Database
    from core.storage.models import Unit
    from core.storage.sealed import Sealer, load_keys, sealed_fields

    global _data
    if _data is None:
        _data = load_data_files()
    db = Database(database_url)
    db.use_sealer(Sealer(load_keys(data_dir, data_key), sealed_fields(_data.forms.values())))
    try:
        async with db.read() as s:
            unit = await s.get(Unit, unit_id)
            if unit is None:
                raise LookupError(f"unit {unit_id} not found")
            files = await build_report(s, _data.reports, report_id, unit, year, out_dir, _data.forms, chart=chart,
                                       basis=Basis(Stage(stage)))
    finally:
        await db.dispose()
    return [str(f) for f in files]


async def run_elsewhere(fn: Callable[..., T], *args: Any) -> T:
    """Other blocking work that must not hold up the chat (reading an import file) in the same
    process, for the same reasons; `fn`, its arguments and its result cross to it and back, so
    they must pickle."""
    global _pool
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(_executor(), fn, *args)
    except BrokenProcessPool:
        _pool = None  # as for a report: the next call gets a new process
        raise
