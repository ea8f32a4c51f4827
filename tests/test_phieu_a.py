"""Phiếu A: the stop rule decides "go on to Phiếu B" from the answers, naming its reasons, and
a rule that drifted from the form is refused with its file and line."""

from pathlib import Path
from textwrap import dedent

import pytest

from core.classification.screening import explain, load_phieu_a, load_stop_rule, screen
from core.datafile import DataFileError
from core.surveys.evaluate import evaluate


@pytest.fixture(scope="module")
def phieu_a():  # type: ignore[no-untyped-def]
    return load_phieu_a()


@pytest.mark.parametrize("answers, go_on, named", [
    ({}, True, []),
    ({"pa_may_giat": True}, True, ["Có máy giặt"]),                       # one lesser criterion: go on
    ({"pa_may_giat": True, "pa_xe_may": True}, False, ["Có máy giặt", "Có từ 2 xe máy trở lên"]),
    ({"pa_o_to": True}, False, ["Có ô tô"]),                              # a decisive one alone stops
    ({"pa_o_to": False, "pa_luong": False, "pa_dat": True}, True, ["Trên 2 ha đất sản xuất hoặc 1 ha mặt nước"]),
])
def test_go_on_to_phieu_b_and_why(phieu_a, answers: dict, go_on: bool, named: list[str]) -> None:  # type: ignore[no-untyped-def]
    survey, rule = phieu_a
    result = screen(rule, evaluate(survey, answers, {"review_year": 2026}))
    assert result.go_on is go_on and [c.label for c in result.met] == named
    text = explain(result)
    assert ("tiếp tục rà soát hộ theo Phiếu B" in text) is go_on
    assert all(label in text for label in named)


def test_phieu_a_is_a_form_with_the_shared_identification(phieu_a) -> None:  # type: ignore[no-untyped-def]
    survey, _ = phieu_a
    ids = [q.id for q in survey.household_questions()]
    assert ids[:3] == ["chu_ho_ten", "chu_ho_cccd", "dan_toc"] and survey.purpose == "screening"


def test_a_criterion_on_an_unknown_question_names_file_and_line(phieu_a, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    survey, _ = phieu_a
    path = tmp_path / "rule.yaml"
    path.write_text(dedent("""\
        id: x
        form: phieu_a
        stop_when:
          - {group: g, at_least: 1, label: "x"}
        criteria:
          - {code: a, group: g, label: "a", when: "pa_o_to == True"}
          - {code: b, group: g, label: "b", when: "pa_tau_thuyen == True"}
        """), encoding="utf-8")
    with pytest.raises(DataFileError) as exc:
        load_stop_rule(path, survey)
    assert exc.value.line == 7 and "pa_tau_thuyen" in str(exc.value)


def test_every_mistake_of_a_stop_rule_is_reported_at_once(phieu_a, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Three independent mistakes (a count of zero, an unknown question, a criterion given twice)
    come back in one error, each with its line."""
    survey, _ = phieu_a
    path = tmp_path / "rule.yaml"
    path.write_text(dedent("""\
        id: x
        form: phieu_a
        stop_when:
          - {group: g, at_least: 1, label: "x"}
          - {group: h, at_least: 0, label: "y"}
        criteria:
          - {code: a, group: g, label: "a", when: "pa_o_to == True"}
          - {code: b, group: g, label: "b", when: "pa_tau_thuyen == True"}
          - {code: a, group: g, label: "c", when: "pa_luong == True"}
        """), encoding="utf-8")
    with pytest.raises(DataFileError) as exc:
        load_stop_rule(path, survey)
    assert [(e.path, e.line) for e in exc.value.errors] == [(str(path), 5), (str(path), 8), (str(path), 9)]
    for words in ("at_least must be 1 or more", "pa_tau_thuyen", "criterion 'a' is defined twice"):
        assert words in str(exc.value)
