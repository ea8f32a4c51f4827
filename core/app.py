"""Start-up: choose the active plans, seal, migrate the database and seed the units.

The data files are loaded and cross-checked one floor below, in core/datafiles.py, so the
report process can load them without climbing to start-up.
"""

from __future__ import annotations

from core.config import Settings
from core.datafiles import DataFiles
from core.plans.loader import plan_for_year
from core.plans.model import Plan
from core.storage.db import Database
from core.storage.sealed import Sealer, load_keys, sealed_fields
from core.units.loader import load_units


def active_plans(plans: list[Plan], settings: Settings) -> list[Plan]:
    """RASOAT_PLANS names the plans to run; without it, the plans of the review year. A plan
    file for several years is read for the review year (so every year has a plan), unless a
    one-year file with the same id (`lang_son_2026`) replaces it for that year."""
    year = settings.review_year
    fixed = {p.id: p for p in plans if p.template is None}
    templates = [p for p in plans if p.template is not None]

    def for_year(plan_id: str) -> Plan | None:
        if plan_id in fixed:
            return fixed[plan_id]
        for tpl in templates:
            prefix = f"{tpl.template}_"
            tail = plan_id[len(prefix):]
            if plan_id.startswith(prefix) and tail.isdigit() and tpl.covers(int(tail)):
                return plan_for_year(tpl, int(tail))
        return None

    if settings.plans:
        found = {p: for_year(p) for p in settings.plans}
        unknown = [p for p, plan in found.items() if plan is None]
        if unknown:
            known = [*fixed, *(f"{t.template}_{t.years[0]}..{t.years[1]}" for t in templates if t.years)]
            raise ValueError(f"RASOAT_PLANS names unknown plan(s) {', '.join(unknown)}; known: {', '.join(known)}")
        return [plan for plan in found.values() if plan is not None]
    chosen = [p for p in fixed.values() if p.year == year]
    for tpl in templates:
        if tpl.covers(year) and f"{tpl.template}_{year}" not in fixed:
            chosen.append(plan_for_year(tpl, year))
    return chosen


async def prepare_store(db: Database, settings: Settings, data: DataFiles) -> list[Plan]:
    """Seal ID numbers and phones with the data key, migrate the schema and seed the units the
    settings and the active plans need; returns the active plans."""
    db.use_sealer(Sealer(load_keys(settings.data_dir, settings.data_key), sealed_fields(data.forms.values())))
    await db.migrate()
    async with db.transaction() as session:
        await load_units(session, settings.units_configuration)
    plans = active_plans(data.plans, settings)
    for plan in plans:
        if plan.units_configuration != settings.units_configuration:
            await load_units_for(db, plan.units_configuration)
    return plans


async def load_units_for(db: Database, configuration: str) -> None:
    async with db.transaction() as session:
        await load_units(session, configuration)
