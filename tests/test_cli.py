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
    rows = dict(line.split(": ", 1) for line in done.stdout.strip().splitlines())
    assert rows["Thôn Nà Pàn"].endswith("remaining 120")
    assert rows["Thôn Khòn Pảng"].endswith(f"remaining {t('progress_unknown_total')}")
    assert "None" not in done.stdout


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
