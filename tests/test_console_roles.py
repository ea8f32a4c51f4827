"""The officers' side without a bot token: `rasoat chat --role xa|huyen|tinh` as a real process
on SQLite and PostgreSQL, registered through a one-time code as on Telegram."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from core.i18n import t
from core.storage.db import Database
from core.storage.models import InviteCode, Unit, User

ROOT = Path(__file__).parents[1]


def chat(db_url: str, tmp_path: Path, script: str, *args: str, config: str = "65") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": db_url, "RASOAT_DATA_DIR": str(tmp_path / "data"),
           "UNITS_CONFIGURATION": config, "REVIEW_YEAR": "2026", "LOGNAME": "tester"}
    for name in ("RASOAT_PLANS", "TELEGRAM_BOT_TOKEN", "ZALO_BOT_TOKEN"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "bot.cli", "chat", *args], input=script, env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


async def registered(db_url: str) -> list[tuple[str, str, str, bool]]:
    """(external id, role, unit name, came through a used invite code) of every console user."""
    db = Database(db_url)
    try:
        async with db.read() as s:
            rows = (await s.execute(select(User, Unit.name).join(Unit, Unit.id == User.unit_id)
                                    .where(User.channel == "console").order_by(User.id))).all()
            used = set((await s.scalars(select(InviteCode.used_by).where(InviteCode.used_by.is_not(None)))).all())
            return [(u.external_id, u.role, name, u.id in used) for u, name in rows]
    finally:
        await db.dispose()


async def test_commune_officer_sees_the_commune(db_url: str, tmp_path: Path) -> None:
    done = chat(db_url, tmp_path, "Hoàng Thị Mai\n6202\n/toila\n/tiendo\n", "--role", "xa", "--user", "mai")
    assert done.returncode == 0, done.stderr
    role = t("role_commune")
    assert t("console_setup_officer", role=role) in done.stdout
    assert t("console_registered_officer", name="Hoàng Thị Mai", role=role, unit="Xã Ba Sơn") in done.stdout
    assert t("whoami", name="Hoàng Thị Mai", role=role, unit="Xã Ba Sơn") in done.stdout
    assert t("progress_title", year=2026, unit="Xã Ba Sơn") in done.stdout
    assert await registered(db_url) == [("mai", "commune", "Xã Ba Sơn", True)]
    again = chat(db_url, tmp_path, "/toila\n", "--user", "mai")  # the next run: no questions, same officer
    assert again.returncode == 0, again.stderr
    assert t("console_setup_officer", role=role) not in again.stdout
    assert t("whoami", name="Hoàng Thị Mai", role=role, unit="Xã Ba Sơn") in again.stdout


async def test_province_officer_needs_no_unit_question(db_url: str, tmp_path: Path) -> None:
    done = chat(db_url, tmp_path, "Lê Văn Tâm\n/toila\n/tiendo\n", "--role", "tinh", "--user", "tam")
    assert done.returncode == 0, done.stderr
    role = t("role_province")
    assert t("console_ask_province") not in done.stdout  # the configuration has one province
    assert t("whoami", name="Lê Văn Tâm", role=role, unit="Tỉnh Lạng Sơn") in done.stdout
    assert t("progress_title", year=2026, unit="Tỉnh Lạng Sơn") in done.stdout
    assert "Xã Ba Sơn" in done.stdout  # the province's progress lists its communes
    assert await registered(db_url) == [("tam", "province", "Tỉnh Lạng Sơn", True)]


async def test_district_officer_in_the_three_level_configuration(db_url: str, tmp_path: Path) -> None:
    done = chat(db_url, tmp_path, "Nông Văn Hải\n178\n/toila\n", "--role", "huyen", "--user", "hai", config="200")
    assert done.returncode == 0, done.stderr
    assert t("console_ask_district") in done.stdout
    assert t("whoami", name="Nông Văn Hải", role=t("role_district"), unit="Thành phố Lạng Sơn") in done.stdout
    assert await registered(db_url) == [("hai", "district", "Thành phố Lạng Sơn", True)]


async def test_one_login_tries_both_sides_and_a_taken_id_is_refused(db_url: str, tmp_path: Path) -> None:
    head = chat(db_url, tmp_path, "Lò Văn Pín\n6202\nThôn Nà Pàn\n/toila\n")
    officer = chat(db_url, tmp_path, "Hoàng Thị Mai\n6202\n/toila\n", "--role", "xa")
    assert head.returncode == 0 and officer.returncode == 0, (head.stderr, officer.stderr)
    assert await registered(db_url) == [("tester", "village_head", "Thôn Nà Pàn", True),
                                        ("tester@xa", "commune", "Xã Ba Sơn", True)]
    taken = chat(db_url, tmp_path, "/toila\n", "--role", "tinh", "--user", "tester")
    assert taken.returncode == 1
    assert t("console_other_role", user="tester", role=t("role_village_head")) in taken.stdout
    assert len(await registered(db_url)) == 2


async def test_a_report_asked_for_in_the_console_is_printed_when_ready(db_url: str, tmp_path: Path) -> None:
    """Found in the fresh-clone trial: the console never started the report worker, so `/baocao`
    said «đang lập» and nothing came. Piped input ends at once: the console waits for it."""
    asked = chat(db_url, tmp_path, "Hoàng Thị Mai\n6202\n/baocao 7.1\n", "--role", "xa", "--user", "mai")
    command = re.search(r"/baocao 7\.1 6202", asked.stdout)  # the unit is offered as a command to type, by code
    assert asked.returncode == 0 and command, asked.stdout[-800:]
    done = chat(db_url, tmp_path, command.group(0) + "\n", "--user", "mai")
    assert done.returncode == 0, done.stderr
    assert t("console_waiting_reports") in done.stdout
    ready = [line for line in done.stdout.splitlines() if line.startswith("📊") or ".xlsx" in line]
    assert ready and any(".xlsx" in line for line in ready), done.stdout[-1500:]
    assert list((tmp_path / "data" / "reports").rglob("*.xlsx"))


async def test_a_file_is_sent_from_the_console_with_at_and_its_caption(db_url: str, tmp_path: Path) -> None:
    """Found in the fresh-clone trial: the console could not send a file, so an officer could
    not import last year's list there. `@PATH caption` sends it, as a file with a caption in
    Telegram; the user's own copy stays where it was."""
    from tests.test_import_list import workbook

    head = chat(db_url, tmp_path, "Lò Văn Pín\n6202\nThôn Nà Pàn\n", "--user", "pin")
    assert head.returncode == 0, head.stderr
    listing = tmp_path / "danh sách 2025.xlsx"
    listing.write_bytes(workbook([["Hoàng Văn Minh", "Thôn Nà Pàn", 3, "Hộ nghèo"]]))
    script = f"Hoàng Thị Mai\n6202\n@{tmp_path / 'khong_co.xlsx'} /nhapds\n@'{listing}'\n@'{listing}' /nhapds\n"
    done = chat(db_url, tmp_path, script, "--role", "xa", "--user", "mai")
    assert done.returncode == 0, done.stderr
    assert t("console_file_missing", path=str(tmp_path / "khong_co.xlsx")) in done.stdout
    # without its caption the file is taken for a report, and the message names /nhapds
    assert "Nếu tệp này là danh sách hộ năm trước, gửi lại với chú thích /nhapds" in done.stdout, done.stdout
    assert "Đã nhập 1 hộ" in done.stdout, done.stdout
    assert listing.exists()
    assert not list((tmp_path / "data" / "uploads").rglob("*.xlsx"))  # the copy is not kept once imported
