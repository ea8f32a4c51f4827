"""Settings from the environment; every one has a default that works on a fresh machine."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

# PostgreSQL connections each process keeps open (SQLAlchemy's default is 5, with 10 more opened
# and closed again on demand). Answers run concurrently, one connection each: with 20 chats at
# once the default opened and closed a connection (a server process) for most of them, which
# cost a third of the throughput (docs/benchmarks.md, issue 25). RASOAT_DB_POOL sets it; keep
# workers x (pool + 10) under the server's max_connections.
DB_POOL = 20


@dataclass(frozen=True)
class Settings:
    database_url: str
    review_year: int
    units_configuration: str
    telegram_token: str | None
    telegram_api_base: str | None
    data_dir: Path
    admin_ids: frozenset[tuple[str, str]] = frozenset()  # (channel, platform user id) of administrators
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = None
    telegram_webhook_listen: str = "0.0.0.0"
    telegram_webhook_port: int = 8443
    plans: tuple[str, ...] = ()  # plan ids to run; empty = the plans of review_year
    telegram_max_rate: float = 30.0  # messages per second for the whole bot (Telegram: about 30)
    telegram_group_rate: float = 20.0  # messages per minute per group (Telegram: 20)
    telegram_http: str = "aiohttp"  # python-telegram-bot's network backend: aiohttp, or the library's httpx
    zalo_token: str | None = None
    zalo_api_base: str | None = None
    zalo_webhook_url: str | None = None
    zalo_webhook_secret: str | None = None
    zalo_max_rate: float = 10.0
    public_url: str | None = None  # where users and Zalo reach this server's file links
    http_listen: str = "0.0.0.0"
    http_port: int = 8080
    link_hours: float = 24.0
    redeliver_after: float = 8.0  # seconds after start before unsent replies of a dead process are sent
    job_lease: float = 120.0  # seconds a report job is held by its worker before another may build it
    # retention of personal data kept only for redelivery (replies echo names and ID numbers):
    reply_hours: float = 48.0  # stored replies are blanked after this (redelivery looks back 24 h)
    retention_days: float = 14.0  # processed-update records and finished outbox rows are deleted after this
    data_key: str | None = None  # key(s) sealing ID numbers and phones; else RASOAT_DATA_DIR/.data_key
    inbox_settle: float = 0.1  # seconds a Zalo webhook update waits for a chat's earlier ones still on the wire
    inbox_gap_wait: float = 5.0  # seconds a Telegram update waits for a smaller update id that has not come
    db_pool: int = DB_POOL  # PostgreSQL connections kept open per process
    review_years_file: Path | None = None  # the review-year rule; default core/procedure/files/review_years.yaml

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("RASOAT_DATA_DIR", "data"))
        default_db = f"sqlite+aiosqlite:///{data_dir / 'rasoat.db'}"
        year = env.get("REVIEW_YEAR") or str(date.today().year)
        if not year.isdigit():
            raise ValueError(f"REVIEW_YEAR must be a year, got {year!r}")
        config = env.get("UNITS_CONFIGURATION", "65")
        admins = frozenset(
            (channel, uid.strip())
            for channel, var in (("telegram", "TELEGRAM_ADMIN_IDS"), ("zalo", "ZALO_ADMIN_IDS"))
            for uid in env.get(var, "").split(",")
            if uid.strip()
        )
        return cls(
            database_url=env.get("DATABASE_URL") or default_db,
            review_year=int(year),
            units_configuration=config,
            telegram_token=env.get("TELEGRAM_BOT_TOKEN") or None,
            telegram_api_base=env.get("TELEGRAM_API_BASE") or None,
            data_dir=data_dir,
            admin_ids=admins,
            telegram_webhook_url=env.get("TELEGRAM_WEBHOOK_URL") or None,
            telegram_webhook_secret=env.get("TELEGRAM_WEBHOOK_SECRET") or None,
            telegram_webhook_listen=env.get("TELEGRAM_WEBHOOK_LISTEN", "0.0.0.0"),
            telegram_webhook_port=int(env.get("TELEGRAM_WEBHOOK_PORT", "8443")),
            plans=tuple(p.strip() for p in env.get("RASOAT_PLANS", "").split(",") if p.strip()),
            telegram_max_rate=float(env.get("TELEGRAM_MAX_RATE", "30")),
            db_pool=_positive(env, "RASOAT_DB_POOL", DB_POOL),
            telegram_group_rate=float(env.get("TELEGRAM_GROUP_RATE", "20")),
            telegram_http=env.get("TELEGRAM_HTTP", "aiohttp"),
            zalo_token=env.get("ZALO_BOT_TOKEN") or None,
            zalo_api_base=env.get("ZALO_API_BASE") or None,
            zalo_webhook_url=env.get("ZALO_WEBHOOK_URL") or None,
            zalo_webhook_secret=env.get("ZALO_WEBHOOK_SECRET") or None,
            zalo_max_rate=float(env.get("ZALO_MAX_RATE", "10")),
            public_url=env.get("RASOAT_PUBLIC_URL") or None,
            http_listen=env.get("RASOAT_HTTP_LISTEN", "0.0.0.0"),
            http_port=int(env.get("RASOAT_HTTP_PORT", "8080")),
            link_hours=float(env.get("RASOAT_LINK_HOURS", "24")),
            redeliver_after=float(env.get("RASOAT_REDELIVER_AFTER", "8")),
            job_lease=float(env.get("RASOAT_JOB_LEASE", "120")),
            reply_hours=_at_least(env, "RASOAT_REPLY_HOURS", "48", 24),
            retention_days=_at_least(env, "RASOAT_RETENTION_DAYS", "14", 2),
            data_key=env.get("RASOAT_DATA_KEY") or None,
            inbox_settle=float(env.get("RASOAT_INBOX_SETTLE", "0.1")),
            inbox_gap_wait=float(env.get("RASOAT_INBOX_GAP_WAIT", "5")),
            review_years_file=Path(env["RASOAT_REVIEW_YEARS"]) if env.get("RASOAT_REVIEW_YEARS") else None,
        )


def _at_least(env: dict[str, str], name: str, default: str, minimum: float) -> float:
    """A retention shorter than redelivery needs would lose replies; refuse it at start-up."""
    value = float(env.get(name, default))
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum:g} (redelivery needs it), got {value:g}")
    return value


def _positive(env: dict[str, str], name: str, default: int) -> int:
    value = env.get(name) or str(default)
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
    return int(value)
