"""Report tables and household lists as data: which columns, and what is counted in each.

A column counts submitted households that match a filter (outcome, start-of-period class,
minority, a deprived indicator, area) or is a ratio of two such counts; the layout an official
prints follows from the nesting of columns. Loading checks every filter so a typo is reported
with the file and line, not as an empty column in a signed report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.datafile import DataFileError, check_keys, line_of, load_mapping, require

REPORTS_DIR = Path(__file__).parent
TABLES_DIR = REPORTS_DIR / "tables"
LISTS_FILE = REPORTS_DIR / "lists.yaml"
NAMED = {"households_total", "surveyed"}
OUTCOMES = {"poor", "near_poor", "not_poor", "average", "above_average", "below_line", "undetermined"}
PRIOR = {"poor", "near_poor", "none"}
FILTER_KEYS = {"outcome", "prior_class", "minority", "indicator", "area"}


@dataclass(frozen=True)
class Filter:
    """Submitted households matching every given condition."""

    outcome: tuple[str, ...] = ()
    prior_class: tuple[str, ...] = ()
    minority: bool | None = None
    indicator: int | None = None
    area: str | None = None


Measure = str | Filter  # a named measure or a filter count


@dataclass(frozen=True)
class Column:
    label: str
    value: Measure | None = None
    ratio: tuple[Measure, Measure] | None = None
    children: tuple[Column, ...] = ()

    def leaves(self) -> list[Column]:
        return [leaf for c in self.children for leaf in c.leaves()] if self.children else [self]

    def depth(self) -> int:
        return 1 + max((c.depth() for c in self.children), default=0)


@dataclass(frozen=True)
class TableSpec:
    id: str
    form: str
    title: str
    columns: tuple[Column, ...]
    path: str

    def leaves(self) -> list[Column]:
        return [leaf for c in self.columns for leaf in c.leaves()]

    def measures(self) -> list[Measure]:
        seen: list[Measure] = []
        for leaf in self.leaves():
            for m in (leaf.value,) if leaf.value is not None else leaf.ratio or ():
                if m not in seen:
                    seen.append(m)
        return seen


@dataclass(frozen=True)
class ListSpec:
    id: str
    title: str
    filter: Filter
    members: bool
    path: str


def _filter(raw: Any, path: Path, parent: Any) -> Filter:
    if not isinstance(raw, dict) or not raw:
        raise DataFileError(path, line_of(parent), f"a filter must be a mapping of {sorted(FILTER_KEYS)}")
    check_keys(raw, FILTER_KEYS, path)

    def values(key: str, allowed: set[str]) -> tuple[str, ...]:
        got = raw.get(key)
        if got is None:
            return ()
        items = tuple(got) if isinstance(got, list) else (got,)
        bad = [v for v in items if v not in allowed]
        if bad:
            raise DataFileError(path, line_of(raw, line_of(parent)), f"{key} {bad} not in {sorted(allowed)}")
        return items

    indicator = raw.get("indicator")
    if indicator is not None and (not isinstance(indicator, int) or not 1 <= indicator <= 30):
        raise DataFileError(path, line_of(raw, line_of(parent)), f"indicator must be a number 1-30, got {indicator!r}")
    area = raw.get("area")
    if area is not None and area not in ("rural", "urban"):
        raise DataFileError(path, line_of(raw, line_of(parent)), "area must be rural or urban")
    minority = raw.get("minority")
    if minority is not None and not isinstance(minority, bool):
        raise DataFileError(path, line_of(raw, line_of(parent)), "minority must be true or false")
    return Filter(values("outcome", OUTCOMES), values("prior_class", PRIOR), minority, indicator, area)


def _measure(raw: Any, path: Path, parent: Any) -> Measure:
    if isinstance(raw, str):
        if raw not in NAMED:
            raise DataFileError(path, line_of(parent), f"unknown measure '{raw}'; named measures: {sorted(NAMED)}")
        return raw
    return _filter(raw, path, parent)


def _column(raw: Any, path: Path) -> Column:
    check_keys(raw, {"label", "value", "ratio", "columns"}, path)
    label = str(require(raw, "label", path, str))
    kinds = [k for k in ("value", "ratio", "columns") if k in raw]
    if len(kinds) != 1:
        raise DataFileError(path, line_of(raw), f"column '{label}' needs exactly one of value, ratio, columns")
    if "columns" in raw:
        children = tuple(_column(c, path) for c in require(raw, "columns", path, list))
        return Column(label, children=children)
    if "ratio" in raw:
        ratio = raw["ratio"]
        if not isinstance(ratio, list) or len(ratio) != 2:
            raise DataFileError(path, line_of(raw), f"ratio of '{label}' must be [numerator, denominator]")
        return Column(label, ratio=(_measure(ratio[0], path, raw), _measure(ratio[1], path, raw)))
    return Column(label, value=_measure(raw["value"], path, raw))


def load_table(path: str | Path) -> TableSpec:
    path = Path(path)
    doc = load_mapping(path, {"id", "form", "title", "columns"}, "a report table")
    columns = tuple(_column(c, path) for c in require(doc, "columns", path, list))
    return TableSpec(str(require(doc, "id", path, (str, int, float))), str(require(doc, "form", path, str)),
                     str(require(doc, "title", path, str)), columns, str(path))


def load_tables(directory: Path = TABLES_DIR) -> dict[str, TableSpec]:
    tables: dict[str, TableSpec] = {}
    for path in sorted(directory.glob("*.yaml")):
        spec = load_table(path)
        if spec.id in tables:
            raise DataFileError(path, None, f"table id {spec.id} is also used by {tables[spec.id].path}")
        tables[spec.id] = spec
    return tables


@dataclass(frozen=True)
class ListsFile:
    lists: dict[str, ListSpec]
    majority_ethnicities: tuple[str, ...]


def load_lists(path: Path = LISTS_FILE) -> ListsFile:
    doc = load_mapping(path, {"lists", "majority_ethnicities"}, "the lists file")
    lists: dict[str, ListSpec] = {}
    for raw in require(doc, "lists", path, list):
        check_keys(raw, {"id", "title", "filter", "members"}, path)
        spec = ListSpec(str(require(raw, "id", path, str)), str(require(raw, "title", path, str)),
                        _filter(require(raw, "filter", path, dict), path, raw), bool(raw.get("members", False)),
                        str(path))
        if spec.id in lists:
            raise DataFileError(path, line_of(raw), f"list id {spec.id} is used twice")
        lists[spec.id] = spec
    majority = tuple(str(x) for x in doc.get("majority_ethnicities") or ())
    return ListsFile(lists, majority)
