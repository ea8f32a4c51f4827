"""Plan files: the samples load, and a wrong entry is reported with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.app import active_plans
from core.config import Settings
from core.datafile import DataFileError
from core.plans.loader import PLANS_DIR, load_plan, load_plans, plan_for_year
from core.plans.timeline import REPORT_OVERDUE, REPORT_REMINDER, notices

GOOD = (PLANS_DIR / "lang_son_2023.yaml").read_text(encoding="utf-8")


def test_sample_plans_load_and_imply_the_expected_notices() -> None:
    plans = {p.id: p for p in load_plans()}
    assert {p.template or p.id for p in plans.values()} == {"lang_son_2023", "kiem_tra_2022", "lang_son", "kiem_tra"}
    timeline = notices(plans["lang_son_2023"])
    keys = {n.key for n in timeline}
    assert "lang_son_2023/report_due/chinh_thuc_huyen/2023-11-25" in keys  # "trước 26/11"
    reminders = [n for n in timeline if n.kind == REPORT_REMINDER and n.request and n.request.id == "so_bo_xa"]
    assert [n.day.isoformat() for n in reminders] == ["2023-11-04", "2023-11-05"]
    overdue = [n.days for n in timeline if n.kind == REPORT_OVERDUE and n.request and n.request.id == "ds_bhyt"]
    assert overdue == [1, 3]
    assert timeline == sorted(timeline, key=lambda n: (n.fire_at, n.key))


@pytest.mark.parametrize(("change", "message"), [
    (("from: commune\n    to: district", "from: district\n    to: commune"), "must be a level above"),
    (("due: 2023-11-06", "due: 2023-10-06"), "opens (2023-11-01) after it is due"),
    (("actors: [province]", "actors: [tinh]"), "unknown level 'tinh'"),
    (("end: 2023-09-30", "end: 2023-08-30"), "ends (2023-08-30) before it starts"),
    (('forms: ["7.1", "7.2", "7.3"]\n    remind_days_before: [2, 1]', 'forms: ["7.1"]\n    remind_days_before: [0]'),
     "whole numbers of days"),
    (('units_configuration: "200"', 'units_configuration: "65"'), "does not exist in this units_configuration"),
])
def test_a_wrong_entry_names_the_file_and_line(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    old, new = change
    assert old in GOOD
    path = tmp_path / "plan.yaml"
    path.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(DataFileError) as err:
        load_plan(path)
    assert message in str(err.value)
    assert err.value.path == str(path) and err.value.line and err.value.line > 1



def test_every_wrong_entry_of_a_plan_is_reported_at_once(tmp_path: Path) -> None:
    """Three independent mistakes (a phase, a request, the top level) come back in one error, each
    with its line, so the province fixes the file in one round."""
    changes = [("end: 2023-09-30", "end: 2023-08-30"), ("due: 2023-11-06", "due: 2023-10-06"),
               ("reliability:", "colour: red\nreliability:")]
    text = GOOD
    for old, new in changes:
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError) as err:
        load_plan(path)
    found = {e.detail.split(";")[0].split(" (")[0]: e.line for e in err.value.errors}
    assert len(err.value.errors) == 3 and str(err.value).startswith("3 errors:"), err.value
    lines = text.splitlines()
    top = 1 + lines.index("id: lang_son_2023")  # the file's top mapping starts after its comments
    phase = max(i for i, line in enumerate(lines[:lines.index("    end: 2023-08-30")], 1) if "- id:" in line)
    request = max(i for i, line in enumerate(lines[:lines.index("    due: 2023-10-06")], 1) if "- id:" in line)
    assert found == {"unknown key(s) colour": top, "phase ends": phase, "the request opens": request}
    for line in (top, phase, request):
        assert f"{path}:{line}: " in str(err.value)

# ---- plans for every year: a several-year file read for the review year ---------------------------

EVERY = (PLANS_DIR / "lang_son.yaml").read_text(encoding="utf-8")


def _settings(**env: str) -> Settings:
    return Settings.from_env({"UNITS_CONFIGURATION": "65", **env})


@pytest.mark.parametrize("year", range(2025, 2031))
def test_several_year_plan_is_read_for_each_year(year: int) -> None:
    template = next(p for p in load_plans() if p.template == "lang_son")
    plan = plan_for_year(template, year)
    assert plan.id == f"lang_son_{year}" and plan.year == year and str(year) in plan.title
    assert plan.covers(year) and plan.units_configuration == "65"
    assert all(p.start.year == year and p.end.year == year for p in plan.phases)
    keys = [n.key for n in notices(plan)]
    assert f"lang_son_{year}/phase_start/ra_soat/{year}-10-01" in keys
    assert all(k.startswith(f"lang_son_{year}/") for k in keys) and len(keys) == len(set(keys))


def test_several_year_plan_refuses_a_year_it_does_not_cover() -> None:
    template = next(p for p in load_plans() if p.template == "lang_son")
    with pytest.raises(ValueError, match="2024"):
        plan_for_year(template, 2024)
    assert active_plans(load_plans(), _settings(REVIEW_YEAR="2024")) == []


def test_default_year_has_a_plan() -> None:
    """A fresh install (REVIEW_YEAR = this year, no RASOAT_PLANS) runs a plan with notices."""
    from datetime import date

    settings = _settings()
    assert settings.review_year == date.today().year
    chosen = active_plans(load_plans(), settings)
    if 2025 <= settings.review_year <= 2030:  # the review plan and the inspection plan of the year
        assert sorted(p.id for p in chosen) == [f"kiem_tra_{settings.review_year}", f"lang_son_{settings.review_year}"]
        assert all(notices(p) for p in chosen)
    assert sorted(p.id for p in active_plans(load_plans(), _settings(REVIEW_YEAR="2026"))) == [
        "kiem_tra_2026", "lang_son_2026"]


def test_one_year_plans_keep_working_and_are_chosen_by_year_or_name() -> None:
    plans = load_plans()
    assert [p.id for p in active_plans(plans, _settings(REVIEW_YEAR="2023"))] == ["lang_son_2023"]
    named = active_plans(plans, _settings(REVIEW_YEAR="2026", RASOAT_PLANS="lang_son_2023,lang_son_2028"))
    assert [(p.id, p.year) for p in named] == [("lang_son_2023", 2023), ("lang_son_2028", 2028)]
    with pytest.raises(ValueError, match="lang_son_2031"):
        active_plans(plans, _settings(RASOAT_PLANS="lang_son_2031"))


def test_a_one_year_file_replaces_the_several_year_file_for_its_year(tmp_path: Path) -> None:
    (tmp_path / "lang_son.yaml").write_text(EVERY, encoding="utf-8")
    one = EVERY.replace("id: lang_son\n", "id: lang_son_2027\n").replace('years: "2025-2030"', "year: 2027")
    one = one.replace('start: "10-01"', "start: 2027-10-05")
    (tmp_path / "lang_son_2027.yaml").write_text(one, encoding="utf-8")
    plans = load_plans(tmp_path)
    for year, start in ((2026, "2026-10-01"), (2027, "2027-10-05"), (2028, "2028-10-01")):
        chosen = active_plans(plans, _settings(REVIEW_YEAR=str(year)))
        assert [p.id for p in chosen] == [f"lang_son_{year}"]
        assert next(p.start for p in chosen[0].phases if p.id == "ra_soat").isoformat() == start


def test_relative_days_with_year_offset_and_in_one_year_plans(tmp_path: Path) -> None:
    text = GOOD.replace("start: 2023-12-16\n    end: 2023-12-30",
                        "start: 12-16\n    end: {month: 1, day: 5, year_offset: 1}")
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    phase = next(p for p in load_plan(path).phases if p.id == "nhap_lieu")
    assert (phase.start.isoformat(), phase.end.isoformat()) == ("2023-12-16", "2024-01-05")


@pytest.mark.parametrize(("change", "message"), [
    (('start: "10-01"', "start: 2026-10-01"), "without the year"),
    (('due: "11-21"', 'due: "02-30"'), "no day 30 in month 2"),
    (('due: "11-21"', 'due: "02-29"'), "29 February"),
    (('due: "11-21"', 'due: "21/11"'), "MM-DD"),
    (('due: "11-21"', "due: {month: 11, day: 21, year_offset: 2}"), "year_offset"),
    (('years: "2025-2030"', 'years: "2030-2025"'), "'years' must be like"),
    (('years: "2025-2030"', 'years: "2025-2030"\nyear: 2026'), "not both"),
])
def test_a_wrong_several_year_entry_names_the_file_and_line(tmp_path: Path, change: tuple[str, str],
                                                            message: str) -> None:
    old, new = change
    assert old in EVERY
    text = EVERY.replace(old, new, 1)
    path = tmp_path / "lang_son.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError) as info:
        load_plan(path, 2026)
    assert message in info.value.detail and info.value.path == str(path)
    first = new.splitlines()[0].split(":")[0].strip()
    if first in ("start", "due"):  # the entry's line: the mapping of the phase or request
        lines = text.splitlines()
        at = next(i for i, line in enumerate(lines, 1) if new.splitlines()[0] in line)
        entry = max(i for i, line in enumerate(lines[:at], 1) if line.lstrip().startswith("- id:"))
        assert info.value.line == (at if "{" in new else entry)  # a {month, day} mapping has its own line
    else:
        assert info.value.line == 1 + text.splitlines().index("id: lang_son")
