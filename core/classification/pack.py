"""Rule packs: the legal thresholds and indicator rules of one poverty standard, as data.

A pack is checked twice at load time: on its own (types, years, thresholds) and against each
poverty survey (every name an indicator uses must be a question of that survey), so that a
pack and a form that drifted apart are refused at start-up, naming the pack file and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import Any

from core.classification.b1 import B1_DIR, B1Table, check_against, load_b1
from core.classification.identity import digest_of
from core.classification.screening import RULES_DIR, StopRule, load_phieu_a
from core.datafile import DataFileError, Errors, check_keys, line_of, load_mapping, require
from core.expr import Expr, ExprError, canonical_source, compile_expr
from core.provenance import Provenance, parse_provenance
from core.surveys.loader import CONTEXT_NAMES, MEMBER_CONTEXT_NAMES
from core.surveys.model import Survey

PACKS_DIR = Path(__file__).parent / "packs"
AREAS = ("rural", "urban")
_KEYS = {
    "id", "title", "short", "basis", "years", "area_by_commune_type", "income_line", "b1_line",
    "points_per_indicator", "poor_min_deprived", "average_band", "params", "indicators", "b1_table",
    "provenance", "phieu_a",
}
_IND_KEYS = {"number", "code", "service", "name", "confidence", "deprived_when"}


@dataclass(frozen=True)
class Indicator:
    number: int
    code: str
    service: str
    name: str
    confidence: str
    source: str
    line: int


@dataclass(frozen=True)
class RulePack:
    id: str
    title: str
    basis: str
    year_from: int
    year_to: int
    area_by_commune_type: dict[str, str]
    income_line: dict[str, int]
    b1_line: dict[str, int] | None
    points_per_indicator: int
    poor_min_deprived: int
    average_band: dict[str, tuple[int, int]] | None
    params: dict[str, Any]
    indicators: tuple[Indicator, ...]
    path: str
    b1: B1Table | None = None  # the B1 point table the score is computed with
    provenance: Provenance | None = None
    short: str = ""  # the decree as officials name it: "NĐ 351/2025"
    stop_rule: StopRule | None = None  # Phiếu A's rule of this standard (its `phieu_a:` file, or as signed)
    version: int = 0  # 0: the shipped YAML; n: the n-th version the province signed (core/rules/)

    @property
    def name(self) -> str:
        return self.short or self.basis or self.id

    @cached_property
    def digest(self) -> str:
        """SHA-256 of the rules' content (core/classification/identity.py): stored with every
        result, so a result names exactly the rules that produced it."""
        return digest_of(self.rules_body(), self.b1, self.stop_rule)

    def rules_body(self) -> dict[str, Any]:
        """What of the pack itself decides or is printed (not its path nor its tags)."""
        return {
            "id": self.id, "title": self.title, "short": self.short, "basis": self.basis,
            "years": [self.year_from, self.year_to], "area_by_commune_type": self.area_by_commune_type,
            "income_line": self.income_line, "b1_line": self.b1_line,
            "points_per_indicator": self.points_per_indicator, "poor_min_deprived": self.poor_min_deprived,
            "average_band": {k: list(v) for k, v in self.average_band.items()} if self.average_band else None,
            "params": self.params,
            "indicators": [{"number": i.number, "code": i.code, "service": i.service, "name": i.name,
                            "deprived_when": canonical_source(i.source)} for i in self.indicators],
        }

    def covers(self, year: int) -> bool:
        return self.year_from <= year <= self.year_to

    def area_of(self, commune_type: str) -> str:
        return self.area_by_commune_type.get(commune_type, "rural")

    def compiled(self, survey: Survey) -> dict[str, Expr]:
        """Indicator rules compiled against one survey's names, and the B1 table checked
        against the form it scores (both at load)."""
        return _compile_for(self, survey)

    def b1_for(self, survey: Survey) -> B1Table | None:
        return self.b1 if self.b1 is not None and self.b1.form == survey.id else None


def load_pack(path: str | Path) -> RulePack:
    path = Path(path)
    return pack_from_doc(load_mapping(path, _KEYS, "a rule pack"), path)


def pack_from_doc(doc: dict, path: str | Path, b1: B1Table | None = None, stop_rule: StopRule | None = None,
                  version: int = 0) -> RulePack:
    """The one check of a pack's content, whether it was read from its YAML file or from a
    version the province signed (core/rules/): `b1` is the table itself when the content
    carries it, else `b1_table` names a file of core/classification/b1/. Every mistake is
    reported at once; a check that needs a value that failed is skipped."""
    errors = Errors()
    check_keys(doc, _KEYS, path, errors)
    head: dict[str, Any] = {}
    for key, kind in (("id", str), ("title", str), ("points_per_indicator", int)):
        with errors.catch():
            head[key] = require(doc, key, path, kind)
    y_from = y_to = 0
    with errors.catch():
        years = require(doc, "years", path, dict)
        y_from, y_to = require(years, "from", path, int), require(years, "to", path, int)
        if y_from > y_to:
            raise DataFileError(path, line_of(years), "years: 'from' is after 'to'")
    areas: dict = {}
    with errors.catch():
        areas = require(doc, "area_by_commune_type", path, dict)
    for kind, area in areas.items():
        if area not in AREAS:
            errors.add(DataFileError(path, line_of(areas), f"area of '{kind}' must be rural or urban, got {area!r}"))
    income_line: dict[str, int] = {}
    with errors.catch():
        income_line = _per_area(require(doc, "income_line", path, dict), path, "income_line", errors)
    b1_line = None if doc.get("b1_line") is None else _per_area(doc["b1_line"], path, "b1_line", errors)
    band = None if doc.get("average_band") is None else _band(doc, path, errors)
    params = doc.get("params") or {}
    if not isinstance(params, dict):
        errors.add(DataFileError(path, line_of(doc), "params must map names p_... to values"))
        params = {}
    for name in params:
        if not str(name).startswith("p_"):
            errors.add(DataFileError(path, line_of(params), f"parameter '{name}' must start with p_"))
    raw_indicators: list = []
    with errors.catch():
        raw_indicators = require(doc, "indicators", path, list)
    indicators = errors.each(raw_indicators, lambda raw: _indicator(raw, path, errors))
    for i, ind in enumerate(indicators):
        if any(o.number == ind.number or o.code == ind.code for o in indicators[:i]):
            errors.add(DataFileError(path, ind.line, f"indicator {ind.number} ({ind.code}) is defined twice"))
    min_deprived = 0
    with errors.catch():
        min_deprived = require(doc, "poor_min_deprived", path, int)
        if not 0 < min_deprived <= len(raw_indicators):
            raise DataFileError(path, line_of(doc), "poor_min_deprived must be between 1 and the number of indicators")
    if b1 is None and doc.get("b1_table") is not None:
        with errors.catch():
            b1_path = B1_DIR / f"{require(doc, 'b1_table', path, str)}.yaml"
            if not b1_path.exists():
                raise DataFileError(path, line_of(doc), f"b1_table '{doc['b1_table']}': no file {b1_path}")
            b1 = load_b1(b1_path)
    if (b1 is not None or doc.get("b1_table") is not None) and doc.get("b1_line") is None:
        errors.add(DataFileError(path, line_of(doc), "a b1_table needs b1_line (the score is compared with it)"))
    if stop_rule is None and doc.get("phieu_a") is not None:  # the file names its Phiếu A rule
        with errors.catch():
            name = require(doc, "phieu_a", path, str)
            if not (RULES_DIR / f"{name}.yaml").exists():
                raise DataFileError(path, line_of(doc), f"phieu_a '{name}': no file {RULES_DIR / name}.yaml")
            stop_rule = load_phieu_a(name)[1]
    provenance = None
    with errors.catch():
        provenance = parse_provenance(doc.get("provenance"), path)
    errors.raise_any()
    return RulePack(
        id=head["id"],
        title=head["title"],
        basis=str(doc.get("basis", "")),
        year_from=y_from,
        year_to=y_to,
        area_by_commune_type=dict(areas),
        income_line=income_line,
        b1_line=b1_line,
        points_per_indicator=head["points_per_indicator"],
        poor_min_deprived=min_deprived,
        average_band=band,
        params=dict(params),
        indicators=tuple(indicators),
        path=str(path),
        b1=b1,
        provenance=provenance,
        short=str(doc.get("short") or ""),
        stop_rule=stop_rule,
        version=version,
    )


def _indicator(raw: Any, path: str | Path, errors: Errors) -> Indicator:
    """One indicator; its unknown keys are recorded and the known ones still read."""
    if isinstance(raw, dict):
        check_keys(raw, _IND_KEYS, path, errors)
    return Indicator(
        number=require(raw, "number", path, int),
        code=require(raw, "code", path, str),
        service=require(raw, "service", path, str),
        name=require(raw, "name", path, str),
        confidence=str(raw.get("confidence", "R")),
        source=require(raw, "deprived_when", path, str),
        line=line_of(raw) or 0,
    )


def _band(doc: dict, path: str | Path, errors: Errors) -> dict[str, tuple[int, int]]:
    band: dict[str, tuple[int, int]] = {}
    with errors.catch():
        raw_band = require(doc, "average_band", path, dict)
        for area in AREAS:
            with errors.catch():
                entry = require(raw_band, area, path, dict)
                low, high = require(entry, "above", path, int), require(entry, "up_to", path, int)
                if low >= high:
                    raise DataFileError(path, line_of(entry), f"average_band {area}: 'above' must be below 'up_to'")
                band[area] = (low, high)
    return band


def _per_area(raw: Any, path: str | Path, key: str, errors: Errors) -> dict[str, int]:
    if not isinstance(raw, dict):
        errors.add(DataFileError(path, line_of(raw), f"{key} must map rural and urban to numbers"))
        return {}
    out = {}
    for area in AREAS:
        with errors.catch():
            value = require(raw, area, path, int)
            if value <= 0:
                raise DataFileError(path, line_of(raw), f"{key}.{area} must be positive")
            out[area] = value
    return out


_COMPILED: dict[tuple[str, str, str], dict[str, Expr]] = {}


def _compile_for(pack: RulePack, survey: Survey) -> dict[str, Expr]:
    key = (pack.path, pack.digest, survey.key)  # a signed version has the file's path, not its rules
    if key not in _COMPILED:
        hh = {q.id for q in survey.household_questions()} | CONTEXT_NAMES | set(pack.params)
        mem = survey.member_question_ids() | MEMBER_CONTEXT_NAMES
        out = {}
        errors = Errors()
        for ind in pack.indicators:
            try:
                out[ind.code] = compile_expr(ind.source, hh, mem)
            except ExprError as exc:
                errors.add(DataFileError(
                    pack.path, ind.line, f"indicator {ind.number} ({ind.code}) against form {survey.key}: {exc}"))
        b1 = pack.b1_for(survey)
        if b1 is not None:
            with errors.catch():
                check_against(b1, survey)
        errors.raise_any()
        _COMPILED[key] = out
    return _COMPILED[key]


def load_packs(directory: str | Path = PACKS_DIR) -> list[RulePack]:
    """Every pack; one DataFileError lists the mistakes of all of them."""
    errors = Errors()
    packs = errors.each(sorted(Path(directory).glob("*.yaml")), load_pack)
    packs.sort(key=lambda p: p.year_from)
    for a, b in pairwise(packs):
        if b.year_from <= a.year_to:
            errors.add(DataFileError(b.path, None, f"years {b.year_from}-{b.year_to} overlap pack {a.id} ({a.path})"))
    errors.raise_any()
    return packs


def pack_for_year(packs: list[RulePack], year: int) -> RulePack:
    for pack in packs:
        if pack.covers(year):
            return pack
    raise LookupError(f"no rule pack covers review year {year}")
