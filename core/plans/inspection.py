"""The `inspection` block of a plan file: how communes are proposed for inspection, how big the
re-check sample is, and when a commune's re-check shows too many differences.

None of these numbers is in a signed text (the 2022 plan sets only the scale: about 8 of 11
districts, 1-3 communes each), so they are data an official can correct, never constants in
code. Every error of the block names the file and line, all of them at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.datafile import DataFileError, check_keys, line_of

EVIDENCE = ("behind_schedule", "rate_change", "complaints", "check_flags", "class_changes")
# behind_schedule is a share surveyed *below* which a commune is behind; the others count when
# their value is *over* the threshold
BELOW = frozenset({"behind_schedule"})
STRATA = ("poor", "near_poor", "not_poor", "changed")
OWED_BY = frozenset({"all", "inspected"})
_TOP = {"visit_phase", "select_phase", "propose", "max_per_parent", "evidence", "sample", "differences", "documents"}
# what the inspection's Word documents say of who issues them and to whom (core/inspection/figures.py)
DOCUMENT_KEYS = ("issuer", "issuer_parent", "issuer_code", "place", "recipient_commune", "recipient_province",
                 "signer_title")


@dataclass(frozen=True)
class Evidence:
    name: str
    weight: float
    threshold: float

    def present(self, value: float | None) -> bool:
        if value is None:
            return False
        return value < self.threshold if self.name in BELOW else value > self.threshold


@dataclass(frozen=True)
class InspectionRules:
    visit_phase: str  # the phase whose days bound an inspection team's access
    select_phase: str | None
    propose: int  # communes in a proposal
    max_per_parent: int  # communes proposed from one district (where there are districts)
    evidence: tuple[Evidence, ...]
    sizes: dict[str, int]  # households drawn from each stratum
    minimum: int  # at least this many from each stratum that has households
    ignore: frozenset[str]  # answers not compared (free notes, address, phone)
    max_class_share: float  # a commune is flagged when more of its re-checks change class
    min_answer_agreement: float  # ... or fewer of the answers agree
    documents: dict[str, str] = field(default_factory=dict)  # DOCUMENT_KEYS -> text
    line: int = 0

    @property
    def sample_size(self) -> int:
        return sum(self.sizes.values())


def parse_inspection(raw: Any, path: Path, phases: set[str]) -> InspectionRules | None:
    if raw is None:
        return None
    errors: list[DataFileError] = []

    def fail(node: Any, message: str) -> None:
        errors.append(DataFileError(path, line_of(node, line_of(raw)), message))

    if not isinstance(raw, dict):
        raise DataFileError(path, None, "'inspection' must be a mapping")
    try:
        check_keys(raw, _TOP, path)
    except DataFileError as exc:
        errors.append(exc)
    visit = raw.get("visit_phase")
    if visit not in phases:
        fail(raw, f"visit_phase must name a phase of this plan ({', '.join(sorted(phases))}), got {visit!r}")
    select = raw.get("select_phase")
    if select is not None and select not in phases:
        fail(raw, f"select_phase must name a phase of this plan, got {select!r}")
    propose, per_parent = raw.get("propose", 8), raw.get("max_per_parent", 3)
    for key, value in (("propose", propose), ("max_per_parent", per_parent)):
        if not isinstance(value, int) or value < 1:
            fail(raw, f"{key} must be a whole number, 1 or more, got {value!r}")
    evidence = _evidence(raw.get("evidence"), raw, fail)
    sample = raw.get("sample") or {}
    sizes: dict[str, int] = {}
    if not isinstance(sample, dict):
        fail(raw, "'sample' must be a mapping of sizes, minimum and ignore")
        sample = {}
    else:
        _check(sample, {"sizes", "minimum", "ignore"}, path, errors)
        raw_sizes = sample.get("sizes")
        if not isinstance(raw_sizes, dict) or set(raw_sizes) != set(STRATA):
            fail(sample, f"sample.sizes must give a size for each of {', '.join(STRATA)}")
        else:
            for name in STRATA:
                if not isinstance(raw_sizes[name], int) or raw_sizes[name] < 0:
                    fail(raw_sizes, f"sample.sizes.{name} must be a whole number, 0 or more")
                else:
                    sizes[name] = raw_sizes[name]
    minimum = sample.get("minimum", 1)
    if not isinstance(minimum, int) or minimum < 0 or any(minimum > n for n in sizes.values() if n):
        fail(sample, f"sample.minimum must be a whole number no larger than any size, got {minimum!r}")
    ignore = sample.get("ignore") or []
    if not isinstance(ignore, list) or not all(isinstance(i, str) for i in ignore):
        fail(sample, "sample.ignore must be a list of answer keys")
        ignore = []
    diffs = raw.get("differences") or {}
    limits: dict[str, float] = {}
    if not isinstance(diffs, dict):
        fail(raw, "'differences' must be a mapping")
        diffs = {}
    _check(diffs, {"max_class_share", "min_answer_agreement"}, path, errors)
    for key in ("max_class_share", "min_answer_agreement"):
        value = diffs.get(key)
        if not isinstance(value, int | float) or not 0 <= value <= 1:
            fail(diffs, f"differences.{key} must be a share between 0 and 1, got {value!r}")
        else:
            limits[key] = float(value)
    docs = raw.get("documents") or {}
    if not isinstance(docs, dict) or set(docs) != set(DOCUMENT_KEYS) \
            or not all(isinstance(v, str) and v.strip() for v in docs.values()):
        fail(docs if isinstance(docs, dict) else raw,
             f"'documents' must give a text for each of {', '.join(DOCUMENT_KEYS)}")
        docs = {}
    if errors:
        raise DataFileError.of(errors)
    return InspectionRules(str(visit), select, int(propose), int(per_parent), evidence, sizes, int(minimum),
                           frozenset(ignore), limits["max_class_share"], limits["min_answer_agreement"],
                           {k: str(v).strip() for k, v in docs.items()}, line_of(raw) or 0)


def _check(node: dict, allowed: set[str], path: Path, errors: list[DataFileError]) -> None:
    try:
        check_keys(node, allowed, path)
    except DataFileError as exc:
        errors.append(exc)


def _evidence(raw: Any, parent: Any, fail: Any) -> tuple[Evidence, ...]:
    if not isinstance(raw, dict) or not raw:
        fail(parent, f"'evidence' must map some of {', '.join(EVIDENCE)} to a weight and a threshold")
        return ()
    out = []
    for name, spec in raw.items():
        if name not in EVIDENCE:
            fail(raw, f"unknown evidence {name!r}; use {', '.join(EVIDENCE)}")
            continue
        word = "below" if name in BELOW else "over"
        if not isinstance(spec, dict) or set(spec) != {"weight", word}:
            fail(spec if isinstance(spec, dict) else raw, f"evidence {name} needs exactly 'weight' and '{word}'")
            continue
        weight, threshold = spec["weight"], spec[word]
        if not isinstance(weight, int | float) or weight < 0 or not isinstance(threshold, int | float):
            fail(spec, f"evidence {name}: weight must be a number 0 or more and '{word}' a number")
            continue
        out.append(Evidence(name, float(weight), float(threshold)))
    return tuple(out)
