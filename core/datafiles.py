"""Every data file of the project, loaded and checked against each other.

core/datafile.py reads one file; this module loads them all (forms, rule packs, locale, report
tables, plans, the review procedure, the Word templates) and checks what one file says about another, so an error
is found before any user is answered. It sits below start-up (core/app.py), which also migrates
the store: the report process (core/reports/offload.py) needs the data files, not the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.classification.pack import RulePack, load_packs
from core.datafile import DataFileError
from core.documents.spec import DocSpec, templates
from core.i18n import catalog
from core.plans.loader import load_plans
from core.plans.model import Plan
from core.procedure.screening import phieu_a, procedure
from core.reports.build import Catalogue
from core.surveys.loader import load_forms
from core.surveys.model import Survey


@dataclass
class DataFiles:
    forms: dict[str, Survey]
    packs: list[RulePack]
    reports: Catalogue
    plans: list[Plan] = field(default_factory=list)
    documents: dict[str, DocSpec] = field(default_factory=dict)


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
    procedure()  # the review procedure (issue 13)
    phieu_a()
    documents = templates()  # the Word templates against their placeholders (issue 22)
    return DataFiles(forms, packs, reports, plans, documents)
