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


def _spoil(source: Path, target: Path, changes: dict[str, str]) -> Path:
    text = source.read_text(encoding="utf-8")
    for old, new in changes.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    target.write_text(text, encoding="utf-8")
    return target


def test_check_lists_every_mistake_of_a_pack_a_stop_rule_and_the_procedure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Three mistakes in each of three files: one run of `rasoat check` names all nine with their lines."""
    from core import datafiles
    from core.classification.pack import PACKS_DIR, load_packs
    from core.classification.screening import RULES_DIR, load_phieu_a, load_stop_rule
    from core.procedure.loader import load_procedure

    packs = tmp_path / "packs"
    packs.mkdir()
    _spoil(PACKS_DIR / "nd351_2025.yaml", packs / "nd351_2025.yaml", {})
    pack = _spoil(PACKS_DIR / "nd07_2021.yaml", packs / "nd07_2021.yaml", {
        "years: {from: 2022, to: 2026}": "years: {from: 2027, to: 2026}",
        "income_line: {rural: 1500000": "income_line: {rural: -1", "  - number: 5\n": "  - number: five\n"})
    rule = _spoil(RULES_DIR / "tt07_2021.yaml", tmp_path / "rule.yaml", {
        "at_least: 2,": "at_least: 0,", "when: \"pa_o_to == True\"": "when: \"pa_tau == True\"",
        "{code: may_giat,": "{code: dieu_hoa,"})
    proc = _spoil(Path(load_procedure().path), tmp_path / "procedure.yaml", {
        "min_agreement_percent: 50": "min_agreement_percent: 150", "level: province": "level: huyen",
        "  - {id: opinion,": "  - {id: y_kien,"})
    form = load_phieu_a()[0]
    monkeypatch.setattr(datafiles, "load_packs", lambda: load_packs(packs))
    monkeypatch.setattr(datafiles, "phieu_a", lambda: (form, load_stop_rule(rule, form)))
    monkeypatch.setattr(datafiles, "procedure", lambda: load_procedure(proc))
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("LỖI: 9 errors:"), err
    for path, needles in ((pack, ("years:", "income_line:", "number: five")),
                          (rule, ("at_least: 0", "pa_tau ==", "{code: dieu_hoa, group: tai_san, label: \"Có máy")),
                          (proc, ("min_agreement_percent: 150", "level: huyen", "{id: y_kien,"))):
        lines = path.read_text(encoding="utf-8").splitlines()
        for needle in needles:
            line = next(i for i, text in enumerate(lines, 1) if needle in text)
            assert f"\n  {path}:{line}: " in err, (needle, err)
