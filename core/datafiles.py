"""Every data file of the project, loaded and checked against each other.

core/datafile.py reads one file; this module loads them all (forms, rule packs, locale, report
tables, plans, the review procedure, the Word templates) and checks what one file says about another, so an error
is found before any user is answered. It sits below start-up (core/app.py), which also migrates
the store: the report process (core/reports/offload.py) needs the data files, not the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.classification.pack import RulePack, load_packs
from core.datafile import DataFileError, Errors
from core.documents.spec import DocSpec, templates
from core.i18n import catalog
from core.plans.loader import load_plans
from core.plans.model import Plan
from core.procedure.screening import phieu_a, procedure
from core.reports.build import Catalogue
from core.reports.list_spec import load_lists
from core.reports.table_spec import load_tables
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
    """Every data file, checked alone and against the others; one DataFileError lists every
    mistake found, in every file. A check across files runs only when the files it compares
    loaded, so one typo is not reported again as a dozen broken references."""
    errors = Errors()
    forms: dict[str, Survey] = {}
    packs: list[RulePack] = []
    plans: list[Plan] = []
    reports: Catalogue | None = None
    with errors.catch():
        forms = load_forms()
    forms_ok = not errors
    with errors.catch():
        packs = load_packs()
    for pack in packs:
        for survey in forms.values():
            if survey.purpose == "poverty":
                with errors.catch():
                    pack.compiled(survey)  # raises DataFileError naming the pack file and line
    with errors.catch():
        catalog()
    if forms_ok:
        with errors.catch():
            reports = Catalogue.load(forms)
    else:  # the tables' own mistakes; their filters are checked against the forms once these load
        with errors.catch():
            load_tables()
        with errors.catch():
            load_lists()
    with errors.catch():
        plans = load_plans()
    known = dict(reports.names()) if reports is not None else None
    for plan in plans if known is not None else []:
        for request in plan.reports:
            for form in request.forms:
                if form not in known:
                    errors.add(DataFileError(plan.path, request.line, f"report '{form}' is not in core/reports "
                                             f"(known: {', '.join(known)})"))
    with errors.catch():
        procedure()  # the review procedure (issue 13)
    with errors.catch():
        phieu_a()
    documents: dict[str, DocSpec] = {}
    with errors.catch():
        documents = templates()  # the Word templates against their placeholders (issue 22)
    for plan in plans if documents else []:
        for request in plan.reports:
            if request.document is not None and request.document not in documents:
                errors.add(DataFileError(plan.path, request.line, f"document '{request.document}' is not a template "
                                         f"of core/documents (known: {', '.join(sorted(documents))})"))
    errors.raise_any()
    assert reports is not None
    return DataFiles(forms, packs, reports, plans, documents)
