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
from core.service import SurveyService
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
    return DataFiles(forms, packs, reports, plans)


def active_plans(plans: list[Plan], settings: Settings) -> list[Plan]:
    """RASOAT_PLANS names the plans to run; without it, the plans of the review year."""
    if settings.plans:
        by_id = {p.id: p for p in plans}
        unknown = [p for p in settings.plans if p not in by_id]
        if unknown:
            raise ValueError(f"RASOAT_PLANS names unknown plan(s) {', '.join(unknown)}; known: {', '.join(by_id)}")
        return [by_id[p] for p in settings.plans]
    return [p for p in plans if p.year == settings.review_year]


async def build_service(settings: Settings, db: Database | None = None) -> SurveyService:
    data = load_data_files()
    db = db or Database(settings.database_url)
    db.use_sealer(Sealer(load_keys(settings.data_dir, settings.data_key), sealed_fields(data.forms.values())))
    await db.migrate()
    async with db.transaction() as session:
        await load_units(session, settings.units_configuration)
    plans = active_plans(data.plans, settings)
    for plan in plans:
        if plan.units_configuration != settings.units_configuration:
            await load_units_for(db, plan.units_configuration)
    return SurveyService(db, settings, data.forms, data.packs, data.reports, plans)


async def load_units_for(db: Database, configuration: str) -> None:
    async with db.transaction() as session:
        await load_units(session, configuration)
