"""`rasoat check` prints, per data file, its source and every assumption or missing item."""

import re
from pathlib import Path

import pytest

from bot.cli import main
from core.provenance import provenance_of


def test_check_lists_every_data_file_with_its_source_and_assumptions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    blocks = {}
    for line in out.splitlines():
        if not line.startswith(" ") and line.endswith(".yaml)"):
            path = line.rsplit("(", 1)[1][:-1]
            blocks[path] = []
        elif line.startswith("    ") and blocks:
            blocks[path].append(line.strip())
    b1 = next(p for p in blocks if p.endswith("classification/b1/tt07_2021.yaml"))
    assert blocks[b1][0].startswith("source [assumption]:")
    prov = provenance_of(b1)
    assert prov is not None and prov.missing
    assert [line.removeprefix("MISSING: ") for line in blocks[b1][1:]] == list(prov.missing)
    for path, lines in blocks.items():  # every file states a source or says it declares none
        assert lines and lines[0].startswith("source")
        prov = provenance_of(path)
        if prov is not None and prov.provisional:
            assert f"  - {path}" in out
    assert any(p.endswith("screening/phieu_a.yaml") for p in blocks)
    assert any(p.endswith("tables/bm_7_11.yaml") for p in blocks)


@pytest.mark.parametrize(("year", "line", "why"), [
    ("2026", "Chuẩn áp dụng: NĐ 351/2025, giai đoạn 2027–2030", "Rà soát năm 2026 (danh sách năm 2027)"),
    ("2024", "Chuẩn áp dụng: NĐ 07/2021, giai đoạn 2022–2026", "Rà soát năm 2024 (danh sách năm 2025)"),
])
def test_check_names_the_standard_in_force_for_the_review_year(capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch, year: str,
                                                               line: str, why: str) -> None:
    monkeypatch.setenv("REVIEW_YEAR", year)
    monkeypatch.delenv("RASOAT_REVIEW_YEARS")  # the rule as shipped (core/procedure/files/review_years.yaml)
    assert main(["check"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == line and out[1].startswith(why)
    assert out[2].startswith("Căn cứ: ") and out[2].endswith("]")  # the source, with its tag
    assert "/chuanapdung" in out[3] and "/phienbanquydinh" in out[3]
def test_check_lists_the_mistakes_of_every_data_file_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A broken form and a broken plan, in their own folders, are both reported by one run of
    `rasoat check`, each with its file and line; the tables, which read the forms, are not
    blamed for the form's mistake."""
    from core import datafiles
    from core.plans.loader import PLANS_DIR, load_plans
    from core.surveys.loader import FORMS_DIR, load_forms

    forms, plans = tmp_path / "forms", tmp_path / "plans"
    forms.mkdir()
    plans.mkdir()
    for source in FORMS_DIR.glob("*.yaml"):
        (forms / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    form = forms / "phieu_c.yaml"
    text = form.read_text(encoding="utf-8")
    assert "type: integer" in text
    form.write_text(text.replace("type: integer", "type: colour", 1), encoding="utf-8")
    plan = (PLANS_DIR / "lang_son_2023.yaml").read_text(encoding="utf-8")
    (plans / "lang_son_2023.yaml").write_text(plan.replace("end: 2023-09-30", "end: 2023-08-30", 1), encoding="utf-8")
    monkeypatch.setattr(datafiles, "load_forms", lambda: load_forms(forms))
    monkeypatch.setattr(datafiles, "load_plans", lambda: load_plans(plans))
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("LỖI: 2 errors:"), err
    assert re.search(rf"\n  {re.escape(str(form))}:\d+: question '\w+': type must be one of", err), err
    assert re.search(rf"\n  {re.escape(str(plans / 'lang_son_2023.yaml'))}:\d+: phase ends \(2023-08-30\)", err)
    assert "tables/" not in err
