"""Database engine set-up for the embedded default (SQLite file) and PostgreSQL.

SQLite is tuned for a bot that many enumerators write to at once: WAL so readers never block
the writer, a busy timeout instead of immediate 'database is locked', and BEGIN IMMEDIATE so a
transaction takes the write lock up front rather than failing half-way when it upgrades.
`synchronous=FULL`: with WAL, NORMAL may lose the last commits on power loss (the WAL is not
synced at each commit), and an answer the bot acknowledged must survive a power cut; the cost is
measured by `bench/durability.py` (docs/deployment.md). The file and its -wal/-shm hold personal
data, so they are made readable by the owner only. A PostgreSQL connection the server closed is
replaced when it is taken from the pool, so the first message after a server restart does not
fail on a dead pooled connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from core.config import DB_POOL
from core.storage import sqlite_driver
from core.storage.sealed import INFO

T = TypeVar("T")
MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
READONLY = "rasoat_readonly"
SQLITE_SYNCHRONOUS = "FULL"
FILE_MODE = 0o600


async def to_completion(work: Coroutine[Any, Any, T]) -> T:
    """Cleanup that must not stop half-way (a commit, a connection going back to the pool): run
    to its end even when the calling task is cancelled meanwhile (a channel stopping), and the
    cancellation raised after. Cut short, the pool's reset (a rollback on SQLite's thread) fails
    and SQLAlchemy logs it as an error; as SQLAlchemy's own context managers do on exit."""
    task = asyncio.ensure_future(work)
    cancelled: asyncio.CancelledError | None = None
    while True:
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError as err:
            if task.done():
                raise
            cancelled = err
        else:
            break
    if cancelled is not None:
        raise cancelled
    return result


def protect_sqlite_files(database: Path) -> None:
    """Owner-only permissions on the database and its WAL companions (those that exist)."""
    for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        try:
            if path.exists() and path.stat().st_mode & 0o777 != FILE_MODE:
                path.chmod(FILE_MODE)
        except OSError:  # a read-only folder is reported by the CLI; nothing to protect here
            pass


def _sqlite_tuning(engine: AsyncEngine, synchronous: str, database: Path | None) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let us issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()
        if database is not None:
            protect_sqlite_files(database)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the lock up front; long readers (reports) must not hold it.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READONLY) else "BEGIN IMMEDIATE")


def _drop_closed_connections(engine: AsyncEngine) -> None:
    """A pooled PostgreSQL connection the server closed (a restart, an idle timeout) is replaced
    at checkout, without a round trip: asyncpg has already read the server's goodbye, or the
    socket's end, while the connection sat in the pool. SQLAlchemy's pool_pre_ping did the same
    with BEGIN, a query and ROLLBACK on every checkout: three round trips, a third of an
    answer's."""

    @event.listens_for(engine.sync_engine, "checkout")
    def _alive(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if dbapi_connection._connection.is_closed():
            raise DisconnectionError("the server closed this pooled connection")


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for PostgreSQL or an in-memory database (what
    backups, the one-worker lock and the engine's set-up each need to know)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


class Database:
    def __init__(self, url: str, *, sqlite_synchronous: str = SQLITE_SYNCHRONOUS, pg_pool: int = DB_POOL,
                 **engine_kwargs: Any) -> None:
        if sqlite_synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"unknown SQLite synchronous mode {sqlite_synchronous!r}")
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.sqlite_path = sqlite_file(url)
        if self.sqlite_path is not None:
            self.sqlite_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.is_sqlite:
            # PostgreSQL's JIT compiles a query whose estimated cost is high; the report tables'
            # dozens of SUM(CASE ...) with EXISTS compile for seconds to save milliseconds
            # (Biểu 7.10: 5 s with JIT, 17 ms without, bench/curve.py). Nothing here gains from it.
            settings = engine_kwargs.setdefault("connect_args", {}).setdefault("server_settings", {})
            settings.setdefault("jit", "off")
            engine_kwargs.setdefault("pool_size", pg_pool)
        # errors must not carry bound values into logs: they are names, ID numbers, incomes
        engine_kwargs.setdefault("hide_parameters", True)
        if parsed.drivername == "sqlite+aiosqlite":  # one thread trip per statement (sqlite_driver.py)
            parsed = parsed.set(drivername=f"sqlite+{sqlite_driver.DRIVER}")
        self.engine = create_async_engine(parsed, **engine_kwargs)
        if self.is_sqlite:
            _sqlite_tuning(self.engine, sqlite_synchronous, self.sqlite_path)
        elif not engine_kwargs.get("pool_pre_ping"):
            _drop_closed_connections(self.engine)
        # Shared with every session (ORM and read-only): the Sealer that seals ID numbers.
        self.session_info: dict[str, Any] = {}
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, info=self.session_info)
        # SQLite has one writer at a time. Within a process, writers queue on this lock instead
        # of spinning in SQLite's busy handler (which sleeps up to 100 ms a try); other processes
        # still wait through busy_timeout.
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    @property
    def write_lock(self) -> asyncio.Lock | None:
        """SQLite's writers of this process queue here (None on PostgreSQL); a writer outside
        `transaction()` (the driver's answer path) takes it too."""
        return self._write_lock

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: committed when the block ends, rolled back if it raises. The commit
        (which gives the connection back to the pool) runs to its end even when the task is
        cancelled meanwhile (`to_completion`)."""
        async with self._write_lock or contextlib.nullcontext(), self.sessions() as session:
            try:
                yield session
            except BaseException:
                await to_completion(session.rollback())
                raise
            await to_completion(session.commit())

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only unit of work that does not block writers (reports, progress)."""
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(**{READONLY: True})
            async with AsyncSession(bind=conn, expire_on_commit=False, info=self.session_info) as session, \
                    session.begin():
                yield session

    def use_sealer(self, sealer: Any) -> None:
        """Seal ID numbers and phones written through this database (see core.storage.sealed)."""
        self.session_info[INFO] = sealer

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (safe to run at every start)."""
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade)

    async def dispose(self) -> None:
        await self.engine.dispose()


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")
