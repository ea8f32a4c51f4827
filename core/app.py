"""Start-up: load and cross-check every data file, migrate the database, seed the units.

Everything that can be wrong in a data file is found here, before any user is answered.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.classification.pack import RulePack, load_packs
from core.config import Settings
from core.i18n import catalog
from core.reports.build import Catalogue
from core.service import SurveyService
from core.storage.db import Database
from core.surveys.loader import load_forms
from core.surveys.model import Survey
from core.units.loader import load_units


@dataclass
class DataFiles:
    forms: dict[str, Survey]
    packs: list[RulePack]
    reports: Catalogue


def load_data_files() -> DataFiles:
    forms = load_forms()
    packs = load_packs()
    for pack in packs:
        for survey in forms.values():
            if survey.purpose == "poverty":
                pack.compiled(survey)  # raises DataFileError naming the pack file and line
    catalog()
    return DataFiles(forms, packs, Catalogue.load())


async def build_service(settings: Settings, db: Database | None = None) -> SurveyService:
    data = load_data_files()
    db = db or Database(settings.database_url)
    await db.migrate()
    async with db.transaction() as session:
        await load_units(session, settings.units_configuration)
    return SurveyService(db, settings, data.forms, data.packs, data.reports)
