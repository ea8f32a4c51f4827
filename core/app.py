"""Start-up: load and cross-check every data file, migrate the database, seed the units.

Everything that can be wrong in a data file is found here, before any user is answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.classification.pack import RulePack, load_packs
from core.config import Settings
from core.datafile import DataFileError
from core.i18n import catalog
from core.plans.loader import load_plans
from core.plans.model import Plan
from core.reports.build import Catalogue
from core.storage.db import Database
from core.storage.sealed import Sealer, load_keys, sealed_fields
from core.surveys.loader import load_forms
from core.surveys.model import Survey
from core.units.loader import load_units


@dataclass
class DataFiles:
    forms: dict[str, Survey]
    packs: list[RulePack]
    reports: Catalogue
    plans: list[Plan] = field(default_factory=list)


def load_data_files() -> DataFiles:
    forms = load_forms()
    packs = load_packs()
    for pack in packs:
        for survey in forms.values():
            if survey.purpose == "poverty":
                pack.compiled(survey)  # raises DataFileError naming the pack file and line
    catalog()
    reports = Catalogue.load()
    plans = load_plans()
    known = dict(reports.names())
    for plan in plans:
        for request in plan.reports:
            for form in request.forms:
                if form not in known:
                    raise DataFileError(plan.path, request.line, f"report '{form}' is not in core/reports "
                                        f"(known: {', '.join(known)})")
    from core.procedure.screening import phieu_a, procedure  # the review procedure (issue 13)

    procedure()
    phieu_a()
    return DataFiles(forms, packs, reports, plans)


def active_plans(plans: list[Plan], settings: Settings) -> list[Plan]:
    """RASOAT_PLANS names the plans to run; without it, the plans of the review year. A plan
    file for several years is read for the review year (so every year has a plan), unless a
    one-year file with the same id (`lang_son_2026`) replaces it for that year."""
    from core.plans.loader import plan_for_year

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
