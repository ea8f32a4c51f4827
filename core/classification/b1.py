"""The B1 score as data: scored household questions and their points per scheme (region and
area), compiled against the form so that every scored answer has points.

The score is computed the way the paper form is added up, item by item, and each item's
contribution is kept, so a commune officer can check the bot's total against the paper
form line by line ("Tivi: có → +10 điểm").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.datafile import DataFileError, Errors, check_keys, line_of, load_mapping, require
from core.expr import Scope
from core.provenance import Provenance, parse_provenance
from core.surveys.model import QType, Question, Survey

B1_DIR = Path(__file__).parent / "b1"
AREAS = ("rural", "urban")
YES_NO = {True: "co", False: "khong"}
_KEYS = {"id", "title", "form", "provenance", "schemes", "base", "items"}
_ITEM_KEYS = {"question", "label", "points", "bands"}
_SCORED_TYPES = {QType.CHOICE, QType.YES_NO, QType.INTEGER, QType.CALCULATE}


@dataclass(frozen=True)
class Band:
    max: int | None  # inclusive upper bound; None for the last band
    points: dict[str, int]


@dataclass(frozen=True)
class B1Item:
    question: str
    label: str
    line: int
    points: dict[str, dict[str, int]]  # answer value -> scheme -> points
    bands: tuple[Band, ...] = ()


@dataclass(frozen=True)
class B1Table:
    id: str
    title: str
    form: str
    schemes: dict[str, tuple[str, str]]  # scheme -> (label, area)
    base: dict[str, int]
    items: tuple[B1Item, ...]
    provenance: Provenance | None
    path: str
    applying: dict[str, str] | None = None  # area -> the scheme this province scores with

    def scheme_for(self, area: str) -> str:
        if self.applying is not None:
            return self.applying[area]
        return next(s for s, (_, a) in self.schemes.items() if a == area)


@dataclass(frozen=True)
class Contribution:
    label: str
    answer: str  # the answer as shown to the officer (choice label, có/không, a number)
    points: int


@dataclass(frozen=True)
class B1Score:
    total: int
    scheme: str
    scheme_label: str
    base: int
    contributions: tuple[Contribution, ...]
    unanswered: tuple[str, ...] = ()  # labels of scored questions left without an answer

    def to_json(self) -> dict[str, Any]:
        return {"total": self.total, "scheme": self.scheme, "base": self.base,
                "items": [[c.label, c.answer, c.points] for c in self.contributions],
                "unanswered": list(self.unanswered)}


def _per_scheme(raw: Any, schemes: dict[str, Any], path: Path, parent: Any, what: str) -> dict[str, int]:
    """One number for every scheme, or a mapping with a number for each scheme."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return dict.fromkeys(schemes, raw)
    if not isinstance(raw, dict):
        raise DataFileError(path, line_of(parent), f"{what}: points must be a number or a mapping per scheme")
    missing, unknown = set(schemes) - set(raw), set(raw) - set(schemes)
    if missing or unknown:
        raise DataFileError(path, line_of(raw, line_of(parent)),
                            f"{what}: points need exactly the schemes {', '.join(schemes)}")
    for scheme, value in raw.items():
        if not isinstance(value, int) or isinstance(value, bool):
            raise DataFileError(path, line_of(raw, line_of(parent)),
                                f"{what}: points of {scheme} must be a whole number")
    return dict(raw)


def load_b1(path: str | Path) -> B1Table:
    path = Path(path)
    return b1_from_doc(load_mapping(path, _KEYS, "a B1 table"), path)


def b1_from_doc(doc: dict, path: str | Path) -> B1Table:
    """The one check of a B1 table, read from its file or from a signed version (core/rules/).
    A scheme is a column of the official table (a region, rural or urban); `applies: false`
    keeps another region's column without scoring this province's households with it.
    Every mistake is reported at once; points are checked against the schemes only when the
    schemes themselves are right."""
    errors = Errors()
    check_keys(doc, _KEYS, path, errors)
    head: dict[str, str] = {}
    for key in ("id", "title", "form"):
        with errors.catch():
            head[key] = str(require(doc, key, path, str))
    schemes, applying = _schemes(doc, path, errors)
    base: dict[str, int] = {}
    with errors.catch():
        raw_base = require(doc, "base", path, (dict, int))
        if schemes is not None:
            base = _per_scheme(raw_base, schemes, path, doc, "base")
    raw_items: list = []
    with errors.catch():
        raw_items = require(doc, "items", path, list)
        if not raw_items:
            raise DataFileError(path, line_of(doc), "a B1 table needs items")
    items = errors.each(raw_items, lambda raw: _item(raw, schemes, path, errors))
    for i, item in enumerate(items):
        if any(other.question == item.question for other in items[:i]):
            errors.add(DataFileError(path, item.line, f"question '{item.question}' is scored twice"))
    provenance = None
    with errors.catch():
        provenance = parse_provenance(doc.get("provenance"), path)
    errors.raise_any()
    assert schemes is not None and applying is not None
    return B1Table(head["id"], head["title"], head["form"], schemes, base, tuple(items), provenance, str(path),
                   applying)


def _schemes(doc: dict, path: str | Path, errors: Errors) -> tuple[dict[str, tuple[str, str]] | None,
                                                                    dict[str, str] | None]:
    """The columns of the table and the one each area is scored with; (None, None) when they
    are wrong, so that points are not blamed for a scheme's mistake."""
    before = len(errors.found)
    schemes: dict[str, tuple[str, str]] = {}
    applying: dict[str, list[str]] = {area: [] for area in AREAS}
    raw_schemes: dict = {}
    with errors.catch():
        raw_schemes = require(doc, "schemes", path, dict)
    for name, spec in raw_schemes.items():
        with errors.catch():
            if isinstance(spec, dict):
                check_keys(spec, {"label", "area", "applies"}, path, errors)
            label, area = str(require(spec, "label", path, str)), require(spec, "area", path, str)
            if area not in AREAS:
                raise DataFileError(path, line_of(spec), f"scheme {name}: area must be rural or urban")
            if spec.get("applies", True) is not True and spec.get("applies") is not False:
                raise DataFileError(path, line_of(spec), f"scheme {name}: applies must be true or false")
            schemes[str(name)] = (label, area)
            if spec.get("applies", True) is True:
                applying[area].append(str(name))
    if len(errors.found) > before:
        return None, None
    for area in AREAS:
        if len(applying[area]) != 1:
            errors.add(DataFileError(path, line_of(raw_schemes, line_of(doc)),
                                     f"exactly one applying scheme must have area {area}"))
    if len(errors.found) > before:
        return None, None
    return schemes, {area: names[0] for area, names in applying.items()}


def _item(raw: Any, schemes: dict[str, tuple[str, str]] | None, path: str | Path, errors: Errors) -> B1Item:
    """One scored question; its points are checked per scheme only when the schemes are known."""
    if isinstance(raw, dict):
        check_keys(raw, _ITEM_KEYS, path, errors)
    qid = str(require(raw, "question", path, str))
    label = str(require(raw, "label", path, str))
    if ("points" in raw) == ("bands" in raw):
        raise DataFileError(path, line_of(raw), f"item '{qid}' needs exactly one of points, bands")
    points: dict[str, dict[str, int]] = {}
    bands: list[Band] = []
    if "points" in raw:
        raw_points = require(raw, "points", path, dict)
        for value, pts in raw_points.items():
            if schemes is not None:
                points[str(value)] = _per_scheme(pts, schemes, path, raw_points, f"item '{qid}' answer {value}")
    else:
        raw_bands = require(raw, "bands", path, list)
        for i, band in enumerate(raw_bands):
            if isinstance(band, dict):
                check_keys(band, {"max", "points"}, path, errors)
            top = band.get("max") if isinstance(band, dict) else None
            last = i == len(raw_bands) - 1
            if (top is None) != last or (top is not None and not isinstance(top, int)):
                raise DataFileError(path, line_of(band), f"item '{qid}': every band but the last needs "
                                    "a whole-number max, the last none")
            if top is not None and bands and bands[-1].max is not None and top <= bands[-1].max:
                raise DataFileError(path, line_of(band), f"item '{qid}': band maxima must increase")
            raw_pts = require(band, "points", path, (int, dict))
            pts = {} if schemes is None else _per_scheme(raw_pts, schemes, path, band, f"item '{qid}' band")
            bands.append(Band(top, pts))
    return B1Item(qid, label, line_of(raw) or 0, points, tuple(bands))


def check_against(table: B1Table, survey: Survey) -> None:
    """Every item names a household question of the form, and every answer it can take has
    points (no more, no fewer), so no answer scores zero by a forgotten line. One DataFileError
    lists every item that does not."""
    errors = Errors()
    questions = {q.id: q for q in survey.household_questions()}
    for item in table.items:
        with errors.catch():
            _check_item(table, item, questions.get(item.question), survey)
    errors.raise_any()


def _check_item(table: B1Table, item: B1Item, q: Question | None, survey: Survey) -> None:
    if q is None:
        raise DataFileError(table.path, item.line, f"question '{item.question}' is not a household question "
                            f"of form {survey.key}")
    if q.type not in _SCORED_TYPES:
        raise DataFileError(table.path, item.line, f"question '{item.question}' is {q.type.value}; "
                            "B1 scores choice, yes/no and whole-number questions")
    if item.bands:
        if q.type in (QType.CHOICE, QType.YES_NO):
            raise DataFileError(table.path, item.line, f"question '{item.question}' is a {q.type.value}: "
                                "score it with points per answer, not bands")
        return
    if q.type is QType.YES_NO:
        expected = set(YES_NO.values())
    elif q.type is QType.CHOICE:
        expected = {c.value for c in q.choices}
    else:
        raise DataFileError(table.path, item.line, f"question '{item.question}' is a number: score it with bands")
    if set(item.points) != expected:
        lacking, extra = sorted(expected - set(item.points)), sorted(set(item.points) - expected)
        raise DataFileError(table.path, item.line, f"item '{item.question}': answers without points {lacking}, "
                            f"points for unknown answers {extra}")


def _band(item: B1Item, value: Any, scheme: str) -> int:
    for band in item.bands:
        if band.max is None or value <= band.max:
            return band.points[scheme]
    raise AssertionError("the last band has no max")  # pragma: no cover - checked at load


def score(table: B1Table, survey: Survey, scope: Scope, area: str, yes: str, no: str) -> B1Score:
    """Add up the answers; `yes`/`no` are the words shown for yes/no answers."""
    scheme = table.scheme_for(area)
    questions = {q.id: q for q in survey.household_questions()}
    contributions: list[Contribution] = []
    unanswered: list[str] = []
    for item in table.items:
        value = scope.values.get(item.question)
        q = questions[item.question]
        if value is None:
            if q.relevant is None:
                unanswered.append(item.label)
            continue
        if item.bands:
            contributions.append(Contribution(item.label, str(value), _band(item, value, scheme)))
        elif q.type is QType.YES_NO:
            points = item.points[YES_NO[bool(value)]][scheme]
            contributions.append(Contribution(item.label, yes if value else no, points))
        else:
            choice = q.choice(str(value))
            contributions.append(Contribution(item.label, choice.label if choice else str(value),
                                              item.points[str(value)][scheme]))
    total = table.base[scheme] + sum(c.points for c in contributions)
    return B1Score(total, scheme, table.schemes[scheme][0], table.base[scheme], tuple(contributions),
                   tuple(unanswered))


def load_b1_table(name: str, directory: Path = B1_DIR) -> B1Table:
    return load_b1(directory / f"{name}.yaml")
