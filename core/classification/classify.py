"""Classification of one household under a rule pack.

`decide_poverty` and `decide_average` hold the legal decision rule alone, with plain numbers in
and an outcome out, so the boundaries (exactly at the line, exactly 3 indicators) can be tested
exhaustively; `classify` gathers those numbers from a filled-in form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.classification.b1 import B1Score, score
from core.classification.pack import Indicator, RulePack
from core.expr import Scope
from core.i18n import t
from core.surveys.evaluate import FormView, outputs
from core.surveys.model import Survey


class Outcome(StrEnum):
    POOR = "poor"
    NEAR_POOR = "near_poor"
    NOT_POOR = "not_poor"
    AVERAGE = "average"
    ABOVE_AVERAGE = "above_average"
    BELOW_LINE = "below_line"
    UNDETERMINED = "undetermined"


@dataclass(frozen=True)
class Classification:
    outcome: Outcome
    pack_id: str
    area: str
    measure: str  # "income" or "b1"
    income_per_capita: float | None
    b1_score: int | None
    line: int | None  # the income line (VND) or B1 line (points) that was applied
    deprived: tuple[Indicator, ...] = ()
    indicator_count: int = 0
    points_per_indicator: int = 10
    poor_min_deprived: int = 3
    average_band: tuple[int, int] | None = None
    note: str | None = None  # locale key explaining an UNDETERMINED outcome
    extra: dict[str, Any] = field(default_factory=dict)
    b1: B1Score | None = None  # the computed score with each answer's points
    income_assessed: str | None = None  # why income was entered instead of scored (audited)

    @property
    def b2_score(self) -> int:
        return len(self.deprived) * self.points_per_indicator

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "pack_id": self.pack_id,
            "area": self.area,
            "measure": self.measure,
            "income_per_capita": self.income_per_capita,
            "b1_score": self.b1_score,
            "line": self.line,
            "deprived": [i.number for i in self.deprived],
            "b2_score": self.b2_score,
            "note": self.note,
            "b1": self.b1.to_json() if self.b1 else None,
            "income_assessed": self.income_assessed,
        }


def decide_poverty(measure_value: float, line: float, deprived_count: int, min_deprived: int) -> Outcome:
    """NĐ 07/2021 and NĐ 351/2025: at or under the line, poor with >= min deprivations, else
    near-poor; above the line, neither, whatever the deprivations ("and", not "or")."""
    if measure_value <= line:
        return Outcome.POOR if deprived_count >= min_deprived else Outcome.NEAR_POOR
    return Outcome.NOT_POOR


def decide_average(income: float, line: float, band: tuple[int, int]) -> Outcome:
    """Average living standard: above the poverty-band floor and at most the band's top."""
    low, high = band
    if income <= min(line, low):
        return Outcome.BELOW_LINE
    if income <= high:
        return Outcome.AVERAGE
    return Outcome.ABOVE_AVERAGE


def deprived_indicators(pack: RulePack, survey: Survey, scope: Scope) -> tuple[Indicator, ...]:
    rules = pack.compiled(survey)
    merged = Scope({**pack.params, **scope.values}, scope.members)
    return tuple(i for i in pack.indicators if rules[i.code].truthy(merged))


def classify(survey: Survey, pack: RulePack, view: FormView, area: str) -> Classification:
    out = outputs(survey, view)
    income = out.get("income_per_capita")
    base = dict(pack_id=pack.id, area=area, indicator_count=len(pack.indicators),
                points_per_indicator=pack.points_per_indicator, poor_min_deprived=pack.poor_min_deprived)
    if survey.purpose == "average_living":
        band = pack.average_band[area] if pack.average_band else None
        if income is None:
            return Classification(Outcome.UNDETERMINED, measure="income", income_per_capita=None, b1_score=None,
                                  line=None, note="cls_note_no_income", **base)
        if band is None:
            return Classification(Outcome.UNDETERMINED, measure="income", income_per_capita=income, b1_score=None,
                                  line=pack.income_line[area], note="cls_note_no_band", **base)
        return Classification(decide_average(income, pack.income_line[area], band), measure="income",
                              income_per_capita=income, b1_score=None, line=pack.income_line[area],
                              average_band=band, **base)

    deprived = deprived_indicators(pack, survey, view.scope)
    table = pack.b1_for(survey)
    scored = score(table, survey, view.scope, area, t("b1_yes"), t("b1_no")) if table else None
    b1 = scored.total if scored else out.get("b1_score")
    if income is not None:
        # The audited alternative: income assessed for a household that disputed its score.
        line = pack.income_line[area]
        outcome = decide_poverty(income, line, len(deprived), pack.poor_min_deprived)
        reason = view.scope.values.get("can_cu_tham_dinh")
        return Classification(outcome, measure="income", income_per_capita=income, b1_score=b1, line=line,
                              deprived=deprived, b1=scored, income_assessed=str(reason) if reason else "", **base)
    if scored is not None and scored.unanswered:
        return Classification(Outcome.UNDETERMINED, measure="b1", income_per_capita=None, b1_score=None,
                              line=None, deprived=deprived, b1=scored, note="cls_note_b1_unanswered", **base)
    if b1 is not None:
        if pack.b1_line is None:
            return Classification(Outcome.UNDETERMINED, measure="b1", income_per_capita=None, b1_score=b1,
                                  line=None, deprived=deprived, note="cls_note_no_b1_line", **base)
        line = pack.b1_line[area]
        outcome = decide_poverty(b1, line, len(deprived), pack.poor_min_deprived)
        return Classification(outcome, measure="b1", income_per_capita=None, b1_score=b1, line=line,
                              deprived=deprived, b1=scored, **base)
    note = "cls_note_no_b1_line" if pack.b1_line is None else "cls_note_no_income"
    return Classification(Outcome.UNDETERMINED, measure="income", income_per_capita=None, b1_score=None,
                          line=None, deprived=deprived, note=note, **base)
