"""Issue 26 item 14: the reason given follows the route that decided (SQLite and PostgreSQL). A
household classified by its B1 score, its income never asked, is never told about its income;
Phiếu A's result says why, whichever way it goes."""

from __future__ import annotations

import pytest

from bot.app import ChatApp
from core.classification.screening import explain, load_phieu_a, screen
from core.surveys.evaluate import evaluate
from tests.households import NEAR_POOR, NOT_POOR, POOR, make_village_head, run_survey


@pytest.mark.parametrize("profile, outcome", [(POOR, "nghèo"), (NEAR_POOR, "cận nghèo"), (NOT_POOR, "Không")])
async def test_a_b1_household_is_given_its_b1_reason(service: ChatApp, profile: dict, outcome: str) -> None:  # type: ignore[type-arg]
    head = await make_village_head(service)
    result = "\n".join(await run_survey(service, head, profile))
    reason = next(line for line in result.split("\n") if line.startswith("Lý do:"))
    assert "thu nhập" not in reason and "điểm B1" in reason, result


@pytest.mark.parametrize("answers", [{}, {"pa_may_giat": True}])
def test_phieu_a_says_why_it_goes_on(answers: dict) -> None:  # type: ignore[type-arg]
    survey, rule = load_phieu_a()
    text = explain(screen(rule, evaluate(survey, answers, {"review_year": 2026})))
    assert "Lý do" in text and "có ít nhất 1 tiêu chí quyết định" in text and "có từ 2 tiêu chí tài sản" in text
