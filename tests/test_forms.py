"""The shipped forms load, and a broken form is refused with its file and line."""

from pathlib import Path
from textwrap import dedent

import pytest

from core.datafile import DataFileError
from core.datafiles import DataFiles
from core.surveys.evaluate import evaluate
from core.surveys.loader import load_survey


def test_shipped_forms_cover_the_issue(data: DataFiles) -> None:
    b = data.forms["phieu_b"]
    ids = {q.id for q in b.household_questions()} | b.member_question_ids()
    for needed in ("chu_ho_ten", "so_thanh_vien", "ho_ten", "quan_he", "gioi_tinh", "nam_sinh", "co_bhyt",
                   "trinh_do", "dang_di_hoc", "viec_lam", "thu_nhap_bq", "thu_nhap_tham_dinh", "b1_tivi",
                   "nguon_nuoc", "nha_tieu"):
        assert needed in ids
    assert data.forms["phieu_c"].purpose == "average_living"


def test_roster_repeats_per_member_and_skip_logic_follows_age(data: DataFiles) -> None:
    survey = data.forms["phieu_b"]
    answers = {"so_thanh_vien": 2, "tv.1.nam_sinh": 1980, "tv.2.nam_sinh": 2024}
    keys = [s.key for s in evaluate(survey, answers, {"review_year": 2026}).slots]
    assert "tv.1.viec_lam" in keys and "tv.1.suy_dinh_duong" not in keys
    assert "tv.2.suy_dinh_duong" in keys and "tv.2.co_bhyt" not in keys  # aged 2: under 6, no BHYT question
    assert "tv.1.ho_ten" not in keys and "tv.2.ho_ten" in keys  # member 1 is the head, already named
    assert "xu_ly_rac" not in keys  # waste handling is asked from 2027
    assert "xu_ly_rac" in [s.key for s in evaluate(survey, answers, {"review_year": 2027}).slots]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "form.yaml"
    path.write_text(dedent(text), encoding="utf-8")
    return path


HEAD = """\
id: f
version: "1"
title: T
purpose: average_living
outputs: {income_per_capita: "a", member_count: "a"}
questions:
"""


@pytest.mark.parametrize(
    "body, line, message",
    [
        ("  - {id: a, type: integer, label: A}\n  - {id: b, type: colour, label: B}\n", 8, "type must be one of"),
        ("  - {id: a, type: integer, label: A}\n  - {id: b, type: integer, label: B, relevant: 'zz > 1'}\n",
         8, "unknown name 'zz'"),
        ("  - {id: a, type: integer, label: A}\n  - {id: a, type: text, label: B}\n", 8, "used twice"),
        ("  - {id: a, type: integer, label: A}\n  - {id: b, type: choice, label: B, choices: nope}\n",
         8, "unknown choice list"),
        ("  - {id: a, type: integer, label: A, colour: red}\n", 7, "unknown key"),
        ("  - {id: a, type: integer}\n", 7, "needs a label"),
        ("  - {id: a, type: integer, label: A}\n"
         "  - {id: b, type: choice, label: B, choices: [{value: 'X Y', label: x}]}\n", 8, "must match"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, body: str, line: int, message: str) -> None:
    path = write(tmp_path, HEAD + body)
    with pytest.raises(DataFileError, match=message) as info:
        load_survey(path)
    assert info.value.path == str(path)
    assert info.value.line == line
    assert f"{path}:{line}" in str(info.value)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + "  - {id: a, type: integer, label: A\n")
    with pytest.raises(DataFileError) as info:
        load_survey(path)
    assert info.value.line is not None and info.value.line >= 7


def test_every_shipped_button_fits_telegram_callback_data(data: DataFiles) -> None:
    from core.surveys.loader import CALLBACK_LIMIT
    from core.surveys.model import QType

    for survey in data.forms.values():
        for group in [None, *survey.groups()]:
            questions = survey.household_questions() if group is None else group.questions
            for q in questions:
                if q.type is not QType.CHOICE:
                    continue
                key = q.id if group is None else f"{group.id}.{group.max_count}.{q.id}"
                for c in q.choices:
                    assert len(f"a:{key}:{c.value}".encode()) <= CALLBACK_LIMIT


def test_member_count_bound_keeps_button_data_short(tmp_path: Path) -> None:
    text = HEAD + """\
  - {id: a, type: integer, label: A}
  - group: tv
    label: M
    repeat_count: a
    max_count: 1000
    questions:
      - {id: b, type: integer, label: B}
"""
    with pytest.raises(DataFileError, match="max_count") as info:
        load_survey(write(tmp_path, text))
    assert info.value.line == 8


def test_sections_come_from_structure_or_from_an_optional_section_key(tmp_path: Path, data: DataFiles) -> None:
    b = data.forms["phieu_b"]  # no section keys: identification, household, roster, the rest
    assert b.parts == 4 and [q.part for q in b.household_questions()][:7] == [1, 1, 1, 1, 1, 2, 2]
    assert b.groups()[0].part == 3 and {q.part for q in b.groups()[0].questions} == {3}
    text = HEAD + """\
  - {id: a, type: integer, label: A}
  - {id: b, type: integer, label: B, section: "Nhà ở"}
  - {id: c, type: integer, label: C}
  - group: tv
    label: M
    repeat_count: a
    questions:
      - {id: d, type: integer, label: D}
  - {id: e, type: integer, label: E}
"""
    survey = load_survey(write(tmp_path, text))
    assert survey.sections == (None, "Nhà ở", None, None)
    assert [i.part for i in survey.items] == [1, 2, 2, 3, 4] and survey.items[1].section == "Nhà ở"
    wrong = text.replace("- {id: d, type: integer, label: D}", "- {id: d, type: integer, label: D, section: X}")
    with pytest.raises(DataFileError, match="put section on the group") as info:
        load_survey(write(tmp_path, wrong))
    assert info.value.line == 14


def test_a_roster_names_its_members_by_the_keys_it_declares(tmp_path: Path) -> None:
    from core.conversation.engine import EngineState, SurveyEngine

    text = HEAD + """\
  - {id: a, type: integer, label: A}
  - group: tv
    label: "Người thứ {n}"
    repeat_count: a
    member_name: ten
    questions:
      - {id: ten, type: text, label: "Tên người thứ {n}"}
      - {id: b, type: integer, label: "Tuổi của {member}"}
"""
    survey = load_survey(write(tmp_path, text))
    assert (survey.groups()[0].name_id, survey.groups()[0].relation_id) == ("ten", None)
    engine = SurveyEngine(survey, {})
    step = engine.start({"a": 1, "tv.1.ten": "Lò Văn Páo"}, EngineState(cursor="tv.1.b"))
    assert "👤 Lò Văn Páo\nTuổi của Lò Văn Páo" in step.messages[0].text
    with pytest.raises(DataFileError, match="member_name 'b' must be a text question") as info:
        load_survey(write(tmp_path, text.replace("member_name: ten", "member_name: b")))
    assert info.value.line == 8


THREE_MISTAKES = HEAD + """\
  - {id: a, type: integer, label: A}
  - {id: b, type: colour, label: B}
  - {id: c, type: integer, label: C, relevant: 'zz > 1'}
  - group: tv
    label: M
    repeat_count: a
    questions:
      - {id: d, type: choice, label: D, choices: nope}
"""


def test_every_mistake_of_a_form_is_reported_at_once(tmp_path: Path) -> None:
    """Three independent mistakes (a type, an expression, a roster question's choice list) come
    back in one error, each with its file and line, as an XLSForm checker lists them."""
    path = write(tmp_path, THREE_MISTAKES)
    with pytest.raises(DataFileError) as info:
        load_survey(path)
    found = [(e.path, e.line) for e in info.value.errors]
    assert found == [(str(path), 8), (str(path), 9), (str(path), 14)]
    text = str(info.value)
    assert text.startswith("3 errors:")
    for line, words in ((8, "type must be one of"), (9, "unknown name 'zz'"), (14, "unknown choice list 'nope'")):
        assert f"{path}:{line}: " in text and words in text
    assert info.value.line == 8  # the first to fix
    fixed = (THREE_MISTAKES.replace("colour", "integer").replace("'zz > 1'", "'a > 1'")
             .replace("choices: nope", "choices: [{value: x, label: X}]"))
    assert load_survey(write(tmp_path, fixed)).groups()[0].questions[0].choices[0].value == "x"


def test_several_mistakes_in_one_question_and_in_the_header_are_all_listed(tmp_path: Path) -> None:
    text = THREE_MISTAKES.replace("purpose: average_living", "purpose: fun").replace(
        "{id: a, type: integer, label: A}", "{id: a, type: integer, min: 'q +', colour: red}")
    with pytest.raises(DataFileError) as info:
        load_survey(write(tmp_path, text))
    messages = [(e.line, e.detail) for e in info.value.errors]
    assert [line for line, _ in messages] == [1, 7, 7, 7, 8, 9, 14], messages
    details = " | ".join(d for _, d in messages)
    for words in ("purpose must be one of", "unknown key(s) colour", "needs a label", "min of 'a'"):
        assert words in details


def test_load_forms_lists_the_mistakes_of_every_form(tmp_path: Path) -> None:
    from core.surveys.loader import load_forms

    (tmp_path / "one.yaml").write_text(dedent(THREE_MISTAKES), encoding="utf-8")
    (tmp_path / "two.yaml").write_text(HEAD.replace("id: f", "id: g") + "  - {id: a, type: integer}\n",
                                       encoding="utf-8")
    with pytest.raises(DataFileError) as info:
        load_forms(tmp_path)
    assert [(Path(e.path).name, e.line) for e in info.value.errors] == [
        ("one.yaml", 8), ("one.yaml", 9), ("one.yaml", 14), ("two.yaml", 7)]
