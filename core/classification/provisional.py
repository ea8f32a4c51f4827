"""Which parts of a rule pack no official text confirms, and which of them a result used.

A result computed with any such part is «TẠM TÍNH» wherever it is printed, and the commune's
decision refuses to issue on it (core/procedure/provisional.py). The parts are named so the
refusal can say what is missing: the B1 table and Phiếu A's criteria unless their provenance
is official, and every indicator whose confidence tag is not [C] (an official text seen).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.classification.pack import RulePack
from core.i18n import source_words, t
from core.provenance import Provenance

OFFICIAL_TAG = "C"  # core/SOURCES.md: [C] an official text, or a portal quoting it, was seen


@dataclass(frozen=True)
class Part:
    kind: str  # b1 | phieu_a | indicator
    key: str  # the table's or rule's id, or the indicator's number
    label: str  # the indicator's name, or the table's id
    why: tuple[str, ...] = ()  # what its provenance says is missing or assumed, or its tag

    def describe(self) -> str:
        """«bảng điểm B1 (tt07_2021)», «chỉ số 2 Người phụ thuộc [C2]»."""
        return t(f"rp_part_{self.kind}", id=self.key, label=self.label,
                 why=", ".join(source_words(w) for w in self.why))


def _unofficial(prov: Provenance | None) -> bool:
    return prov is None or prov.status != "official"


def _why(prov: Provenance | None) -> tuple[str, ...]:
    if prov is None:
        return ("provenance?",)
    return (prov.status, *prov.missing)


def provisional_parts(pack: RulePack) -> tuple[Part, ...]:
    parts: list[Part] = []
    if pack.b1 is not None and _unofficial(pack.b1.provenance):
        parts.append(Part("b1", pack.b1.id, pack.b1.id, _why(pack.b1.provenance)))
    if pack.stop_rule is not None and _unofficial(pack.stop_rule.provenance):
        parts.append(Part("phieu_a", pack.stop_rule.id, pack.stop_rule.id, _why(pack.stop_rule.provenance)))
    parts += [Part("indicator", str(i.number), i.name, (i.confidence,))
              for i in pack.indicators if i.confidence != OFFICIAL_TAG]
    return tuple(parts)


def summary(parts: tuple[Part, ...] | list[Part]) -> str:
    """One line: the tables by name, the indicators by number, grouped by what their source is
    («định nghĩa chỉ số 1, 2 (theo nguồn thứ cấp…); 4 (theo hiểu biết chung…)»)."""
    named = [p.describe() for p in parts if p.kind != "indicator"]
    by_tag: dict[str, list[str]] = {}
    for p in parts:
        if p.kind == "indicator":
            by_tag.setdefault(p.why[0], []).append(p.key)
    if by_tag:
        numbers = "; ".join(f"{', '.join(keys)} ({source_words(tag)})" for tag, keys in by_tag.items())
        named.append(t("rp_part_indicators", numbers=numbers))
    return "; ".join(named)


def result_parts(pack: RulePack, result: Any, purpose: str) -> tuple[Part, ...]:
    """The provisional parts one Phiếu B result used: the indicators whenever deprivations are
    counted (not for the average-living survey, decided on income alone), and the B1 table
    when the score decided (an assessed income replaces it). Phiếu A decided the household's
    path, not its class: a Phiếu A stop is marked by core/procedure/transitions.py."""
    counted = purpose != "average_living"
    scored = result.measure == "b1" and result.b1 is not None
    return tuple(p for p in provisional_parts(pack)
                 if (p.kind == "indicator" and counted) or (p.kind == "b1" and scored))


def screening_parts(pack: RulePack) -> tuple[Part, ...]:
    """The provisional part a Phiếu A stop used: its criteria."""
    return tuple(p for p in provisional_parts(pack) if p.kind == "phieu_a")
