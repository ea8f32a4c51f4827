"""Storage set-up: SQLite tuning, migrations that match the models, and concurrent
re-delivery of one update."""

import asyncio

import aiosqlite
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import event, func, select, text

from bot.app import ChatApp
from core.chat.messages import Incoming
from core.config import DB_POOL
from core.storage import driver
from core.storage.db import Database
from core.storage.models import AuditLog, Base
from tests.households import cursor, make_village_head


async def test_sqlite_runs_in_wal_with_busy_timeout_and_immediate_transactions(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        statements: list[str] = []
        event.listen(db.engine.sync_engine, "before_cursor_execute",
                     lambda conn, cur, stmt, *a: statements.append(stmt))
        async with db.transaction() as s:
            assert (await s.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await s.execute(text("PRAGMA busy_timeout"))).scalar() == 30000
            assert (await s.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        assert "BEGIN IMMEDIATE" in statements
    finally:
        await db.dispose()


async def test_sqlite_statements_take_one_trip_to_the_sqlite_thread_and_fail_as_usual(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """core/storage/sqlite_driver.py: a statement is one trip (not four), rows, rowcount and
    lastrowid come back, an error is SQLAlchemy's IntegrityError and rolls the work back."""
    import aiosqlite
    from sqlalchemy.exc import IntegrityError

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        assert db.engine.url.drivername == "sqlite+rasoat" and db.url.startswith("sqlite+aiosqlite")
        async with db.transaction() as s:
            await s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
        trips = 0
        real = aiosqlite.Connection._execute

        async def counted(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
            nonlocal trips
            trips += 1
            return await real(self, fn, *args, **kwargs)

        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
        async with db.transaction() as s:
            await s.execute(text("SELECT 1"))  # BEGIN IMMEDIATE, itself one trip, is issued first
            before = trips
            inserted = await s.execute(text("INSERT INTO t (name) VALUES ('a'), ('b')"))
            assert inserted.rowcount == 2 and trips - before == 1
            before = trips
            assert (await s.execute(text("SELECT name FROM t ORDER BY id"))).scalars().all() == ["a", "b"]
            assert trips - before == 1
        with pytest.raises(IntegrityError):
            async with db.transaction() as s:
                await s.execute(text("INSERT INTO t (name) VALUES ('c')"))
                await s.execute(text("INSERT INTO t (name) VALUES ('a')"))
        async with db.read() as s:
            assert (await s.execute(text("SELECT count(*) FROM t"))).scalar() == 2  # 'c' rolled back
    finally:
        await db.dispose()


async def test_migrations_match_the_models(db: Database) -> None:
    await db.migrate()
    await db.migrate()  # a second run is a no-op

    def diff(sync_conn):  # type: ignore[no-untyped-def]
        return compare_metadata(MigrationContext.configure(sync_conn), Base.metadata)

    async with db.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_concurrent_redelivery_of_one_update_is_applied_once(service: ChatApp) -> None:
    chat = await make_village_head(service)
    await service.handle(chat, Incoming(text="/hoimoi phieu_b", update_id="10"))
    replies = await asyncio.gather(*[
        service.handle(chat, Incoming(text="Hoàng Văn Minh", update_id="11")) for _ in range(5)
    ])
    assert sum(not r.duplicate for r in replies) == 1
    assert all(r.messages and r.messages[0].text == replies[0].messages[0].text for r in replies)
    async with service.db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "answer")) == 1
    assert await cursor(service, chat) == "chu_ho_cccd"


async def test_every_sqlite_connection_is_synchronous_full(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        await db.migrate()
        gate = asyncio.Event()
        modes: list[tuple[str, int]] = []

        async def read() -> None:
            async with db.read() as s:
                modes.append(((await s.execute(text("PRAGMA journal_mode"))).scalar(),
                              (await s.execute(text("PRAGMA synchronous"))).scalar()))
                await gate.wait()  # hold the connection so the next reader opens another

        readers = [asyncio.create_task(read()) for _ in range(4)]
        while len(modes) < 4:
            await asyncio.sleep(0.01)
        gate.set()
        await asyncio.gather(*readers)
        async with db.transaction() as s:
            modes.append(("wal", (await s.execute(text("PRAGMA synchronous"))).scalar()))
        assert modes == [("wal", 2)] * 5  # 2 = FULL
        assert db.engine.pool.checkedin() >= 4
    finally:
        await db.dispose()


async def test_the_first_query_after_a_postgresql_restart_succeeds(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("PostgreSQL only: SQLite has no server to restart")
    import asyncpg

    from tests.conftest import PG_ADMIN_DSN

    async with db.transaction() as s:
        await s.execute(text("SELECT 1"))
    name = db.engine.url.database
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:  # what a server restart does to the pooled connections
        killed = await admin.fetchval("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                      "WHERE datname = $1", name)
    finally:
        await admin.close()
    assert killed >= 1
    # A restart takes the server a moment; meanwhile the client reads each pooled connection's
    # end (core/storage/db.py drops such connections at checkout, with no round trip). Right at
    # pg_terminate_backend the goodbye may still be on the wire: an update that met it would be
    # rolled back whole and answered with the error message, to be sent again.
    await asyncio.sleep(0.5)
    async with db.transaction() as s:
        assert (await s.execute(text("SELECT 1"))).scalar() == 1


async def test_names_with_nul_or_over_the_column_are_stored_alike_on_both_stores(service: ChatApp) -> None:
    from core.storage.models import Household, Unit, User
    from core.storage.repo import ensure_user, load_answers
    from tests.households import POOR, run_survey

    long_name = "Nguyễn Văn " + "Ánh" * 90  # 281 characters: within the answer limit, over the 200 column
    chat = await make_village_head(service)
    await run_survey(service, chat, {**POOR, "chu_ho_ten": long_name})
    async with service.db.transaction() as s:
        household = (await s.scalars(select(Household))).one()
        assert household.head_name == long_name[:200]
        assert (await load_answers(s, household.id))["chu_ho_ten"] == long_name  # the answer keeps it whole
        village = await s.scalar(select(Unit).where(Unit.level == "village"))
        user = await ensure_user(s, "telegram", "42", "Lò\x00 Thị " + "Mai" * 80, "village_head", village.id)
        user_id = user.id
    async with service.db.read() as s:
        stored = await s.get(User, user_id)
        assert stored is not None and stored.display_name == ("Lò Thị " + "Mai" * 80)[:200]


async def test_a_backup_taken_mid_survey_restores_and_the_survey_goes_on(settings, db: Database) -> None:  # type: ignore[no-untyped-def]
    if not db.is_sqlite:
        pytest.skip("SQLite only: PostgreSQL is backed up with pg_dump/pg_restore (docs/personal-data.md)")
    from bot.app import build_app
    from core.storage.backup import BackupError, backup, restore, sqlite_path
    from core.storage.models import Household
    from tests.households import POOR, answer_for

    service = await build_app(settings, db)
    chat = await make_village_head(service)
    await service.handle(chat, Incoming(text="/hoimoi phieu_b"))
    for _ in range(4):
        await service.handle(chat, Incoming(text=answer_for(POOR, await cursor(service, chat))))
    at_backup = await cursor(service, chat)
    path = sqlite_path(settings.database_url)
    assert path is not None
    copy = backup(path, settings.data_dir / "backups" / "rasoat-backup.db")  # while the service is live
    assert copy.stat().st_mode & 0o777 == 0o600
    for _ in range(3):  # answers given after the backup are lost by the restore
        await service.handle(chat, Incoming(text=answer_for(POOR, await cursor(service, chat))))
    assert await cursor(service, chat) != at_backup
    await db.dispose()

    bogus = settings.data_dir / "bogus.db"
    bogus.write_text("not a database at all")
    with pytest.raises(BackupError, match="not a SQLite database"):
        restore(bogus, path)  # refused before the database is touched
    restore(copy, path)
    restored = await build_app(settings, Database(settings.database_url))
    try:
        assert await cursor(restored, chat) == at_backup
        for _ in range(200):
            key = await cursor(restored, chat)
            if key is None:
                break
            await restored.handle(chat, Incoming(text=answer_for(POOR, key)))
        await restored.handle(chat, Incoming(text="/xacnhan"))
        async with restored.db.read() as s:
            household = (await s.scalars(select(Household))).one()
        assert household.status == "submitted" and household.outcome == "poor"
        assert household.head_name == POOR["chu_ho_ten"]
    finally:
        await restored.db.dispose()


async def test_database_errors_never_carry_answer_values_into_logs(db) -> None:  # type: ignore[no-untyped-def]
    """An error's text (what a traceback in the log shows) holds no bound value."""
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    await db.migrate()
    with pytest.raises(DBAPIError) as caught:
        async with db.transaction() as s:
            await s.execute(text("INSERT INTO units (id, configuration, level, name, kind) VALUES "
                                 "(:i, :c, :l, :n, :k)"), [{"i": 1, "c": "x", "l": "village", "n": "020180001234",
                                                            "k": "Thôn"}] * 2)
    assert "020180001234" not in str(caught.value)


async def test_twenty_answers_at_once_reuse_their_postgresql_connections(db: Database) -> None:
    """Each answer holds a connection: with SQLAlchemy's default pool (5, and 10 opened and
    closed again on demand) 20 chats at once opened a server process for most answers."""
    if db.is_sqlite:
        pytest.skip("PostgreSQL only: SQLite's writers share one lock")
    opened: list[object] = []
    event.listen(db.engine.sync_engine, "connect", lambda conn, _record: opened.append(conn))

    async def one() -> None:
        async with db.transaction() as s:
            await s.execute(text("SELECT pg_sleep(0.05)"))

    await asyncio.gather(*(one() for _ in range(DB_POOL)))
    first = len(opened)
    await asyncio.gather(*(one() for _ in range(DB_POOL)))
    assert first <= DB_POOL and len(opened) == first  # the second round opened none


def test_the_pool_size_is_a_setting_with_a_clear_error() -> None:
    from core.config import Settings
    assert Settings.from_env({}).db_pool == 20
    assert Settings.from_env({"RASOAT_DB_POOL": "40"}).db_pool == 40
    with pytest.raises(ValueError, match="RASOAT_DB_POOL must be a whole number of at least 1, got '0'"):
        Settings.from_env({"RASOAT_DB_POOL": "0"})


@pytest.mark.parametrize("how", ["driver", "read", "transaction"])
async def test_work_cancelled_while_its_connection_goes_back_leaves_no_error(
        tmp_path, monkeypatch, caplog, how) -> None:  # type: ignore[no-untyped-def]
    """A channel stopping cancels its background work (the inbox sweep's reads, say); work
    cancelled while its connection goes back to the pool (the pool's rollback on SQLite's thread)
    must still finish giving it back: cut short, SQLAlchemy logged "Exception during reset or
    similar" (two CI runs failed on it). On the driver, in a read and in a transaction."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    await db.migrate()
    returning = asyncio.Event()
    rollback = aiosqlite.Connection.rollback

    async def slow_rollback(self: aiosqlite.Connection) -> None:
        returning.set()
        await asyncio.sleep(0.2)
        await rollback(self)

    count = select(func.count()).select_from(AuditLog)

    async def work() -> None:
        if how == "driver":
            await driver.fetch(db, count, {})
            return
        async with (db.read() if how == "read" else db.transaction()) as s:
            await s.scalar(count)

    monkeypatch.setattr(aiosqlite.Connection, "rollback", slow_rollback)
    task = asyncio.create_task(work())
    await asyncio.wait_for(returning.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.3)  # the rollback finishes
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert await driver.fetch(db, count, {}) == [(0,)]
    await db.dispose()
