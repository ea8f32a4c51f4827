"""Rule packs as a signed version would make them, for tests: every part marked official
(the B1 table's and Phiếu A's provenance, every indicator's tag), and any rule changed.

The shipped files stay provisional (they are); the suite runs, by default, with these signed
copies installed (tests/conftest.py `signed_rules`), as a province that signed its tables
would. Tests of «TẠM TÍNH» and of the refusal ask for the shipped files (`provisional_rules`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from core.classification.pack import RulePack
from core.provenance import Provenance

OFFICIAL = Provenance("official", "tests: signed in the test suite")


def signed(pack: RulePack, version: int = 1, **changes: Any) -> RulePack:
    """`pack` as version `version`, every part official, with `changes` (RulePack fields)."""
    b1 = dataclasses.replace(pack.b1, provenance=OFFICIAL) if pack.b1 is not None else None
    phieu_a = dataclasses.replace(pack.stop_rule, provenance=OFFICIAL) if pack.stop_rule is not None else None
    indicators = tuple(dataclasses.replace(i, confidence="C") for i in pack.indicators)
    return dataclasses.replace(pack, version=version, b1=b1, stop_rule=phieu_a, indicators=indicators,
                               provenance=OFFICIAL, **changes)
