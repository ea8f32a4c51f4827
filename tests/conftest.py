"""Shared fixtures: the data files, a real database (SQLite file, and PostgreSQL when the
server on this machine answers), and the service built on it."""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import ChatApp, build_app
from core import datafiles
from core.classification.pack import load_packs
from core.config import Settings
from core.datafiles import DataFiles, load_data_files
from core.storage.db import Database
from tests.fake_telegram import FakeBotAPI
from tests.rules import signed
from tests.telegram_harness import harness, people  # noqa: F401 - fixtures: a running Telegram channel, its users

PG_ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Most tests exercise the 2022-2025 standard (B1 score, the procedure's classes) in a 2026 review:
# they run, as their subprocesses do, with 2026 mapped to NĐ 07/2021 (tests/test_standards.py
# checks the shipped rule, under which 2026 applies NĐ 351/2025).
REVIEW_YEARS_ND07 = str(Path(__file__).parent / "data" / "review_years_nd07_2026.yaml")
os.environ.setdefault("RASOAT_REVIEW_YEARS", REVIEW_YEARS_ND07)


# seconds: well past the slowest test (about 100 s, more on a loaded machine), before
# pytest-timeout's 480 ends the worker
HUNG_AFTER = float(os.environ.get("RASOAT_TEST_HUNG_AFTER", "360"))


@pytest.fixture(autouse=True)
def tasks_shown_when_hung(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test (or a fixture's teardown) still running after HUNG_AFTER seconds prints every
    unfinished asyncio task with where it waits: pytest-timeout's own dump shows only the event
    loop's select, never the coroutine that waits forever. Written past the test's capture (lost
    when pytest-timeout ends the worker), so that it reaches the console and the CI log."""
    capture = request.config.pluginmanager.getplugin("capturemanager")

    def dump() -> None:
        if capture is not None:  # as pytest-timeout does: past the test's capture, to the log
            capture.suspend_global_capture(in_=True)
        out = sys.stderr
        tasks = [o for o in gc.get_objects() if isinstance(o, asyncio.Task) and not o.done()]
        print(f"\n--- still running after {HUNG_AFTER} s: {len(tasks)} asyncio tasks ---", file=out)
        for task in tasks:
            print(f"{task.get_name()}:", file=out)
            awaited: Any = task.get_coro()
            for _ in range(30):  # down the chain of awaits, to the innermost coroutine
                frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None) \
                    or getattr(awaited, "ag_frame", None)
                if frame is None:
                    if awaited is not None:
                        print(f"    awaiting {awaited!r}"[:300], file=out)
                    break
                print(f"    {frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}", file=out)
                awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None) \
                    or getattr(awaited, "ag_await", None)
        out.flush()
        if capture is not None:
            capture.resume_global_capture()

    timer = threading.Timer(HUNG_AFTER, dump)
    timer.daemon = True
    timer.start()
    yield
    timer.cancel()


@pytest.fixture(scope="session", autouse=True)
def signed_rules() -> Iterator[None]:
    """The suite runs on the shipped rule packs as a province would after signing them: same
    rules, every part official (tests/rules.py), still version 0 so that versions signed in a
    test through the rules workbook count from 1 as they do in production, so the procedure's decision is not refused
    for provisional rules. The shipped files stay provisional; tests of «TẠM TÍNH» and of the
    refusal take `provisional_rules`."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(datafiles, "load_packs", lambda: [signed(p, version=0) for p in load_packs()])
        yield


@pytest.fixture
def provisional_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped rule packs as they are (provisional); ask for it before `service`."""
    monkeypatch.setattr(datafiles, "load_packs", load_packs)


@pytest.fixture(scope="session")
def data() -> DataFiles:
    return load_data_files()


async def _pg_database() -> tuple[str, str] | None:
    """Create a throw-away database; None when no server answers (allowed outside CI only)."""
    import asyncpg

    name = f"rasoat_t_{uuid.uuid4().hex[:12]}"
    try:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {PG_ADMIN_DSN} is required in CI: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_DSN}: {exc}")
        return None
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}", name


async def _drop_pg(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'rasoat.db'}"
        return
    created = await _pg_database()
    assert created is not None
    url, name = created
    yield url
    await _drop_pg(name)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings.from_env({
        "DATABASE_URL": db_url, "REVIEW_YEAR": "2026", "UNITS_CONFIGURATION": "65",
        "RASOAT_DATA_DIR": str(tmp_path), "RASOAT_REVIEW_YEARS": REVIEW_YEARS_ND07,
    })


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def service(settings: Settings, db: Database) -> ChatApp:
    return await build_app(settings, db)


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    """The local fake Telegram Bot API on 127.0.0.1."""
    fake = FakeBotAPI()
    await fake.start()
    yield fake
    await fake.stop()
