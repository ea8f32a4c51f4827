"""The procedure's data loaded once: the procedure file and the Phiếu A form with its stop rule
(Phiếu A is not in core/surveys/forms, so /hoimoi does not offer it on its own)."""

from __future__ import annotations

from functools import lru_cache

from core.classification.screening import StopRule, load_phieu_a
from core.procedure.loader import Procedure, load_procedure
from core.surveys.model import Survey


@lru_cache(maxsize=1)
def procedure() -> Procedure:
    return load_procedure()


@lru_cache(maxsize=1)
def phieu_a() -> tuple[Survey, StopRule]:
    return load_phieu_a()


def screening_form(form_id: str) -> Survey | None:
    survey = phieu_a()[0]
    return survey if survey.id == form_id else None
