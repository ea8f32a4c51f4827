"""Plan files: the samples load, and a wrong entry is reported with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.datafile import DataFileError
from core.plans.loader import PLANS_DIR, load_plan, load_plans
from core.plans.timeline import REPORT_OVERDUE, REPORT_REMINDER, notices

GOOD = (PLANS_DIR / "lang_son_2023.yaml").read_text(encoding="utf-8")


def test_sample_plans_load_and_imply_the_expected_notices() -> None:
    plans = {p.id: p for p in load_plans()}
    assert set(plans) == {"lang_son_2023", "kiem_tra_2022"}
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
