"""The `rasoat` command as an official runs it: a subprocess on a fresh data folder."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from core.i18n import t

ROOT = Path(__file__).parents[1]
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """A fresh install's settings: embedded SQLite in a tmp data folder, default year and units."""
    env = {**os.environ, "RASOAT_DATA_DIR": str(tmp_path / "data"), "UNITS_CONFIGURATION": "65"}
    for name in ("DATABASE_URL", "REVIEW_YEAR", "RASOAT_PLANS", "TELEGRAM_BOT_TOKEN", "ZALO_BOT_TOKEN"):
        env.pop(name, None)
    return env


@pytest.fixture
def rasoat(cli_env: dict[str, str]) -> Run:
    def run(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot.cli", *args], env=cli_env, cwd=ROOT,
                              capture_output=True, text=True, timeout=120, **kwargs)  # type: ignore[call-overload]
    return run


def test_bad_village_row_is_one_line_with_file_and_line(rasoat: Run, tmp_path: Path) -> None:
    csv = tmp_path / "villages.csv"
    csv.write_text("commune_code,village_name,households\n6202,Thôn Nà Pàn,120\n6202,Thôn Khòn Pảng,một trăm\n",
                   encoding="utf-8")
    done = rasoat("units", "villages", str(csv))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{csv}:3:" in lines[0] and "households" in lines[0], done.stderr
    # the good row before it was rolled back with the file: nothing half-imported
    progress = rasoat("report", "--progress", "--unit", "6202")
    assert "Nà Pàn" not in progress.stdout, progress.stdout


def test_missing_village_file_is_one_line(rasoat: Run, tmp_path: Path) -> None:
    done = rasoat("units", "villages", str(tmp_path / "nope.csv"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "nope.csv" in done.stderr


def test_progress_never_prints_none(rasoat: Run, tmp_path: Path) -> None:
    csv = tmp_path / "villages.csv"
    csv.write_text("commune_code,village_name,households\n6202,Thôn Nà Pàn,120\n6202,Thôn Khòn Pảng,\n",
                   encoding="utf-8")
    assert rasoat("units", "villages", str(csv)).returncode == 0
    done = rasoat("report", "--progress", "--unit", "6202")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert t("cli_progress_line", name="Thôn Nà Pàn", submitted=0, drafts=0, remaining=120) in lines
    assert t("cli_progress_line", name="Thôn Khòn Pảng", submitted=0, drafts=0,
             remaining=t("progress_unknown_total")) in lines
    assert "None" not in done.stdout


def test_progress_speaks_only_vietnamese(rasoat: Run, tmp_path: Path) -> None:
    """An official reads the progress lines: no English word among the Vietnamese ones."""
    csv = tmp_path / "villages.csv"
    csv.write_text("commune_code,village_name,households\n6202,Thôn Nà Pàn,120\n", encoding="utf-8")
    assert rasoat("units", "villages", str(csv)).returncode == 0
    done = rasoat("report", "--progress", "--unit", "6202")
    assert done.returncode == 0, done.stderr
    words = set(done.stdout.replace(",", " ").replace(":", " ").split())
    assert not words & {"submitted", "drafts", "remaining"}, done.stdout
    assert "đã nộp 0" in done.stdout and "còn lại 120" in done.stdout


def test_report_files_carry_the_full_unit_code(rasoat: Run, tmp_path: Path) -> None:
    """An officer finds a commune's files by its GSO code (6202), not by a database row number."""
    out = tmp_path / "out"
    done = rasoat("report", "7.1", "--unit", "6202", "--out", str(out))
    assert done.returncode == 0, done.stderr
    names = [Path(line).name for line in done.stdout.splitlines()]
    assert names and all(name.startswith("7_1_6202_") for name in names), names
    assert sorted(p.name for p in out.iterdir()) == sorted(names)


def test_console_on_empty_input_says_a_terminal_or_a_script_is_needed(rasoat: Run) -> None:
    """`./run.sh </dev/null` (cron, a service without a terminal): one clear line, not a silent exit 1."""
    done = rasoat("run", stdin=subprocess.DEVNULL)
    assert done.returncode == 1
    assert t("console_input_ended") in done.stderr, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr


def test_console_reads_a_piped_script(rasoat: Run) -> None:
    """Lines from a pipe are answers and commands, one a line: a scripted try of the whole chat."""
    script = "Lò Văn Pín\n6202\nThôn Nà Pàn\n/toila\n/tiendo\n"
    done = rasoat("run", input=script)
    assert done.returncode == 0, done.stderr
    assert t("console_registered_head", name="Lò Văn Pín", village="thôn Nà Pàn", commune="Xã Ba Sơn") in done.stdout
    assert t("whoami", name="Lò Văn Pín", role=t("role_village_head"), unit="Thôn Nà Pàn") in done.stdout
    assert t("progress_line", name="Thôn Nà Pàn", submitted=0, drafts=0,
             remaining=t("progress_unknown_total")) in done.stdout
    assert done.stdout.rstrip().endswith(t("console_bye"))


@pytest.mark.parametrize("args", [["report"], ["plan", "lang_son_2023"], ["plan"]])
def test_closed_pipe_is_not_a_traceback(cli_env: dict[str, str], args: list[str]) -> None:
    """The reader is gone before the first write, so every write fails: deterministic, unlike head."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run([sys.executable, "-m", "bot.cli", *args], env=cli_env, cwd=ROOT, stdout=write,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert done.stderr == "" and done.returncode == 141, done.stderr


@pytest.mark.parametrize("args, lines", [("report", 1), ("plan lang_son_2023", 2)])
def test_piped_into_head(cli_env: dict[str, str], tmp_path: Path, args: str, lines: int) -> None:
    err = tmp_path / "err.txt"
    done = subprocess.run(f"{sys.executable} -m bot.cli {args} 2>{err} | head -{lines}", shell=True, env=cli_env,
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    out = done.stdout.splitlines()
    assert len(out) == lines and err.read_text() == "", err.read_text()
    full = subprocess.run([sys.executable, "-m", "bot.cli", *args.split()], env=cli_env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert full.stdout.splitlines()[:lines] == out


def test_plan_on_a_fresh_install_lists_this_years_plan(rasoat: Run) -> None:
    from datetime import date

    year = date.today().year
    listing = rasoat("plan")
    assert listing.returncode == 0, listing.stderr
    active = [line.split() for line in listing.stdout.splitlines() if "ACTIVE" in line]
    if not 2025 <= year <= 2030:
        pytest.skip(f"lang_son.yaml covers 2025-2030, not {year}")
    # this year's review plan, and beside it the yearly inspection plan (core/plans/files/kiem_tra.yaml)
    assert sorted((a[0], a[1]) for a in active) == [(f"kiem_tra_{year}", str(year)), (f"lang_son_{year}", str(year))]
    shown = rasoat("plan", f"lang_son_{year}")
    assert shown.returncode == 0, shown.stderr
    assert f"{year}-10-01 08:00  phase_start" in shown.stdout and "waiting" in shown.stdout
    assert f"report lang_son_{year}/so_bo_xa: due {year}-11-06, 0 submissions" in shown.stdout


async def _counts(url: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from core.storage.db import Database
    from core.storage.models import NoticeRun, OutboxMessage

    db = Database(url)
    try:
        async with db.read() as s:
            return {"notice_runs": await s.scalar(select(func.count()).select_from(NoticeRun)) or 0,
                    "outbox": await s.scalar(select(func.count()).select_from(OutboxMessage)) or 0}
    finally:
        await db.dispose()


async def _outbox(url: str) -> set[tuple[str, str]]:
    from sqlalchemy import select

    from core.storage.db import Database
    from core.storage.models import OutboxMessage

    db = Database(url)
    try:
        async with db.read() as s:
            rows = (await s.execute(select(OutboxMessage.notice_key, OutboxMessage.chat_id))).all()
            return {(k, c) for k, c in rows}
    finally:
        await db.dispose()


async def test_scheduler_dry_run_writes_nothing_and_tells_what_would_go(db_url: str, tmp_path: Path) -> None:
    """The drill of docs/scheduler.md on a real database: --dry-run lists the chats; the real run then queues
    exactly those, and the dry run left no row behind."""
    import asyncio

    from bot.app import build_app
    from core.config import Settings
    from core.storage.db import Database
    from tests.scheduling import make_province

    env = {**os.environ, "DATABASE_URL": db_url, "RASOAT_DATA_DIR": str(tmp_path), "UNITS_CONFIGURATION": "200",
           "REVIEW_YEAR": "2023"}
    for name in ("RASOAT_PLANS", "TELEGRAM_BOT_TOKEN", "ZALO_BOT_TOKEN"):
        env.pop(name, None)
    db = Database(db_url)
    p = await make_province(await build_app(Settings.from_env(env), db))
    await db.dispose()

    async def scheduler(*extra: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "scheduler", "--once", "--now", "2023-11-07T09:00+07:00", *extra,
            cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode == 0, err.decode()
        return out.decode()

    before = await _counts(db_url)
    assert before == {"notice_runs": 0, "outbox": 0}
    dry = await scheduler("--dry-run")
    assert await _counts(db_url) == before
    again = await scheduler("--dry-run")
    assert again.splitlines()[1:] == dry.splitlines()[1:]  # nothing changed between the two
    would: set[tuple[str, str]] = set()
    key = ""
    for line in dry.splitlines():
        if line.startswith("lang_son_2023/") and line.endswith("chat(s)"):
            key = line.split(":")[0]
        elif line.startswith("  -> telegram:"):
            would.add((key, line.split()[1].split(":", 1)[1]))
    overdue = {c for k, c in would if k == "lang_son_2023/report_overdue/so_bo_xa/2023-11-07"}
    assert overdue == {str(p.groups[n]) for n in ("C1", "C2", "C3", "D1", "D2")}  # late units, and their receivers
    assert "would be recorded as missed" in dry  # older than the catch-up window
    assert {c for _, c in would} <= {str(c) for c in p.groups.values()} | {str(p.head_chat)}
    await scheduler()
    assert await _outbox(db_url) == would
