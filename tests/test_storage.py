"""Storage set-up: SQLite tuning, migrations that match the models, and concurrent
re-delivery of one update."""

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text

from bot.app import ChatApp
from core.conversation.messages import Incoming
from core.storage.db import Database
from core.storage.models import AuditLog, Base
from tests.households import cursor, make_village_head


async def test_sqlite_runs_in_wal_with_busy_timeout_and_immediate_transactions(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        statements: list[str] = []
        from sqlalchemy import event

        event.listen(db.engine.sync_engine, "before_cursor_execute",
                     lambda conn, cur, stmt, *a: statements.append(stmt))
        async with db.transaction() as s:
            assert (await s.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await s.execute(text("PRAGMA busy_timeout"))).scalar() == 30000
            assert (await s.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        assert "BEGIN IMMEDIATE" in statements
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
