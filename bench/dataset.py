"""A synthetic province: villages under the real communes and households with random but
plausible review results, inserted in bulk. Used by the report benchmark and the report tests
(which count the generated rows themselves, independently of the SQL under test)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import JSON, Table, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.households import deprivation_mask
from core.procedure.models import Review
from core.storage.db import Database
from core.storage.models import Answer, Household, Unit
from core.units.loader import load_units

OUTCOMES = (("poor", 0.05), ("near_poor", 0.08), ("average", 0.04), ("not_poor", 0.83))
ETHNIC = (("tay", 0.35), ("nung", 0.42), ("kinh", 0.16), ("dao", 0.05), ("san_chay", 0.02))


@dataclass(frozen=True)
class Generated:
    id: int
    village_id: int
    commune_id: int
    district_id: int | None
    outcome: str
    prior_class: str
    ethnicity: str
    deprived: tuple[int, ...]
    members: int


def _pick(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([v for v, _ in table], [w for _, w in table])[0]


COPY_BATCH = 20_000  # households per batch (with their answers and reviews)


async def seed(db: Database, households: int, config: str = "65", year: int = 2026, villages_per_commune: int = 8,
               seed_value: int = 7, with_members: bool = True, reviews: bool = False,
               keep: bool = True) -> list[Generated]:
    """Insert `households` submitted households spread over every commune of `config`.

    `reviews`: each household also gets the review row the survey gives it (and last year's class
    when it was on the list), as a province has in the middle of the review; `keep=False` returns
    nothing (2 million Generated rows would take a gigabyte). On PostgreSQL the rows go in with
    COPY, in batches, so 2 million households take minutes, not an hour."""
    rng = random.Random(seed_value)
    await db.migrate()
    async with db.transaction() as s:
        await load_units(s, config)
        communes = (await s.scalars(select(Unit).where(Unit.configuration == config, Unit.level == "commune")
                                    .order_by(Unit.code))).all()
        parents = {u.id: u.parent_id for u in (await s.scalars(select(Unit).where(Unit.configuration == config))).all()}
        levels = {u.id: u.level for u in (await s.scalars(select(Unit).where(Unit.configuration == config))).all()}
        per_village = max(1, households // (len(communes) * villages_per_commune))
        await s.execute(insert(Unit), [
            {"configuration": config, "level": "village", "code": None, "name": f"Thôn {i + 1:02d} - {c.name}",
             "kind": "Thôn", "parent_id": c.id, "households_total": per_village + rng.randint(0, 20)}
            for c in communes for i in range(villages_per_commune)])
        villages = (await s.scalars(select(Unit).where(Unit.configuration == config, Unit.level == "village"))).all()
        next_id = (await s.scalar(select(Household.id).order_by(Household.id.desc()).limit(1)) or 0) + 1
    generated: list[Generated] = []
    now = datetime.now(UTC)
    batch: list[dict] = []
    answers: list[dict] = []
    review_rows: list[dict] = []

    async def flush() -> None:
        async with db.transaction() as s:
            for table, rows in ((Household.__table__, batch), (Answer.__table__, answers),
                                (Review.__table__, review_rows)):
                if rows:
                    await _bulk(s, db, table, rows)
        batch.clear()
        answers.clear()
        review_rows.clear()

    for n in range(households):
        village = villages[n % len(villages)]
        outcome = _pick(rng, OUTCOMES)
        poorish = outcome in ("poor", "near_poor")
        k = rng.randint(3, 6) if outcome == "poor" else rng.randint(0, 2) if poorish else rng.randint(0, 4)
        deprived = tuple(sorted(rng.sample(range(1, 13), k)))
        prior = rng.choices(["poor", "near_poor", "none"], [0.5, 0.3, 0.2] if poorish else [0.05, 0.1, 0.85])[0]
        members = rng.randint(1, 7)
        ethnicity = _pick(rng, ETHNIC)
        hid = next_id + n
        commune_id = village.parent_id
        if keep:
            district = parents.get(commune_id)
            generated.append(Generated(hid, village.id, commune_id, district if levels.get(district) == "district"
                                        else None, outcome, prior, ethnicity, deprived, members))
        batch.append({
            "id": hid, "village_id": village.id, "survey_id": "phieu_b", "survey_version": "2022.1",
            "review_year": year, "status": "submitted", "head_name": f"Chủ hộ {hid}", "created_at": now,
            "updated_at": now, "submitted_at": now, "outcome": outcome, "pack_id": "nd07_2021", "area": "rural",
            "income_per_capita": float(rng.randint(600, 1500) * 1000 if poorish else rng.randint(1501, 6000) * 1000),
            "b1_score": None, "deprived_count": len(deprived), "deprived": list(deprived),
            "deprived_mask": deprivation_mask(deprived), "prior_class": prior, "ethnicity": ethnicity,
            "member_count": members, "revision": 0,
        })
        if reviews:
            listed = prior if prior != "none" else None
            review_rows.append({"household_id": hid, "origin": "list" if listed else "survey", "stage": "surveyed",
                                "listed_class": listed, "updated_at": now})
        if with_members and poorish:
            answers.append({"household_id": hid, "key": "chu_ho_cccd", "value": f"0201{hid:08d}", "updated_at": now})
            for m in range(2, members + 1):
                for key, value in (("ho_ten", f"Thành viên {m} hộ {hid}"), ("gioi_tinh", rng.choice(["nam", "nu"])),
                                   ("nam_sinh", rng.randint(1940, 2024)), ("quan_he", "con")):
                    answers.append({"household_id": hid, "key": f"tv.{m}.{key}", "value": value, "updated_at": now})
            answers.append({"household_id": hid, "key": "tv.1.nam_sinh", "value": rng.randint(1950, 2000),
                            "updated_at": now})
            answers.append({"household_id": hid, "key": "tv.1.gioi_tinh", "value": "nam", "updated_at": now})
        if len(batch) >= (COPY_BATCH if not db.is_sqlite else 5000):
            await flush()
    await flush()
    if not db.is_sqlite:  # ids were given explicitly: move the sequence past them, and count what is there
        async with db.transaction() as s:
            await s.execute(text("SELECT setval(pg_get_serial_sequence('households', 'id'), "
                                 "(SELECT max(id) FROM households))"))
        async with db.engine.connect() as conn:
            # what autovacuum does within a minute of a bulk load in production: planner statistics,
            # and the visibility map and hint bits (without them the first scans write every page)
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE units, households, answers, reviews"))
    return generated


async def _bulk(s: AsyncSession, db: Database, table: Table, rows: list[dict]) -> None:
    """INSERT on SQLite, COPY on PostgreSQL (a tenth of the time for a million rows)."""
    if db.is_sqlite:
        await s.execute(insert(table), rows)
        return
    columns = [c.name for c in table.columns if c.name in rows[0]]
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
    records = [tuple(json.dumps(r[c]) if c in json_columns else r[c] for c in columns) for r in rows]
    conn = await s.connection()
    raw = (await conn.get_raw_connection()).driver_connection
    assert raw is not None
    await raw.copy_records_to_table(table.name, records=records, columns=columns)
