"""`rasoat check` prints, per data file, its source and every assumption or missing item."""

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
