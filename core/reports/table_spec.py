"""Report tables as data (Biểu 7.x): which columns, nested how, and what each counts.

A column counts what a filter (core/reports/filters.py) matches, or is a ratio or difference of
such counts; the layout an official prints follows from the nesting of columns. Each table is
one file in core/reports/tables/, read with the file and line of every mistake.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.datafile import DataFileError, Errors, check_keys, line_of, load_mapping, require
from core.provenance import Provenance, parse_provenance
from core.reports.filters import OUTCOMES, Measure, Split, parse_measure, word_list
from core.reports.titles import check_short_title

TABLES_DIR = Path(__file__).parent / "tables"


@dataclass(frozen=True)
class Column:
    label: str
    value: Measure | None = None
    ratio: tuple[Measure, Measure] | None = None
    children: tuple[Column, ...] = ()
    number: str | None = None  # the column-number row's text, e.g. "4=3/1*100" (default: its position)
    line: int = 0
    difference: tuple[Measure, ...] = ()  # first minus the others, e.g. "Khác (5=1-2-3-4)"

    def leaves(self) -> list[Column]:
        return [leaf for c in self.children for leaf in c.leaves()] if self.children else [self]

    def depth(self) -> int:
        return 1 + max((c.depth() for c in self.children), default=0)


@dataclass(frozen=True)
class TableSpec:
    id: str
    form: str  # the printed form number, "Biểu mẫu số 7.1"
    title: str
    columns: tuple[Column, ...]
    path: str
    short_title: str = ""
    survey: str = "phieu_b"  # the form whose answers the filters read
    unit_header: str = "Khu vực/Đơn vị"
    area_groups: bool = False  # rows I. thành thị, II. nông thôn, III. tổng cộng I + II
    splits: tuple[Split, ...] = ()  # several rows per unit, labelled in the column `split_header`
    split_header: str = "Phân tổ"
    subtitle: str = ""  # a line under the title, e.g. "Năm rà soát: {year}"
    provenance: Provenance | None = field(default=None, compare=False)

    def leaves(self) -> list[Column]:
        return [leaf for c in self.columns for leaf in c.leaves()]

    def measures(self) -> list[Measure]:
        seen: list[Measure] = []
        for leaf in self.leaves():
            for m in (leaf.value,) if leaf.value is not None else leaf.ratio or leaf.difference:
                if m not in seen:
                    seen.append(m)
        return seen


def _column(raw: Any, path: Path, errors: Errors) -> Column:
    """One column; the mistakes of its sub-columns are recorded and the others still read."""
    check_keys(raw, {"label", "value", "ratio", "difference", "columns", "number"}, path, errors)
    label = str(require(raw, "label", path, str))
    kinds = [k for k in ("value", "ratio", "difference", "columns") if k in raw]
    if len(kinds) != 1:
        raise DataFileError(path, line_of(raw), f"column '{label}' needs exactly one of value, ratio, difference, "
                            "columns")
    line = line_of(raw) or 0
    if "columns" in raw:
        children = tuple(errors.each(require(raw, "columns", path, list), lambda c: _column(c, path, errors)))
        return Column(label, children=children, line=line)
    number = None if raw.get("number") is None else str(raw["number"])
    if "difference" in raw:
        terms = raw["difference"]
        if not isinstance(terms, list) or len(terms) < 2:
            raise DataFileError(path, line_of(raw), f"difference of '{label}' must list at least two measures")
        return Column(label, difference=tuple(parse_measure(m, path, raw) for m in terms), number=number, line=line)
    if "ratio" in raw:
        ratio = raw["ratio"]
        if not isinstance(ratio, list) or len(ratio) != 2:
            raise DataFileError(path, line_of(raw), f"ratio of '{label}' must be [numerator, denominator]")
        return Column(label, ratio=(parse_measure(ratio[0], path, raw), parse_measure(ratio[1], path, raw)),
                      number=number, line=line)
    return Column(label, value=parse_measure(raw["value"], path, raw), number=number, line=line)


_TABLE_KEYS = {"id", "form", "title", "subtitle", "short_title", "survey", "unit_header", "rows", "split",
               "split_header", "provenance", "columns"}
ROWS = {"units", "areas"}


def _splits(raw: Any, path: Path, parent: Any) -> tuple[Split, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) < 2:
        raise DataFileError(path, line_of(parent), "split must list at least two rows per unit")
    out = []
    for item in raw:
        check_keys(item, {"label", "persons", "outcome"}, path)
        outcome = word_list(item.get("outcome"), path, item)
        bad = [o for o in outcome if o not in OUTCOMES]
        if bad:
            raise DataFileError(path, line_of(item), f"outcome {bad} not in {sorted(OUTCOMES)}")
        out.append(Split(str(require(item, "label", path, str)), bool(item.get("persons", False)), outcome))
    return tuple(out)


def load_table(path: str | Path) -> TableSpec:
    """One table file; one DataFileError lists every mistake in it (each column on its own)."""
    path = Path(path)
    errors = Errors()
    doc = load_mapping(path, _TABLE_KEYS, "a report table", errors)
    columns: tuple[Column, ...] = ()
    with errors.catch():
        columns = tuple(errors.each(require(doc, "columns", path, list), lambda c: _column(c, path, errors)))
    head: dict[str, str] = {}
    for key, kind in (("title", str), ("id", (str, int, float)), ("short_title", str), ("form", str)):
        with errors.catch():
            head[key] = str(require(doc, key, path, kind))
    if {"title", "id", "short_title"} <= set(head):
        with errors.catch():
            check_short_title(head["short_title"], path, line_of(doc), head["title"], head["id"])
    rows = str(doc.get("rows", "units"))
    if rows not in ROWS:
        errors.add(DataFileError(path, line_of(doc), f"rows must be one of {sorted(ROWS)}"))
    splits: tuple[Split, ...] = ()
    with errors.catch():
        splits = _splits(doc.get("split"), path, doc)
    provenance = None
    with errors.catch():
        provenance = parse_provenance(doc.get("provenance"), path)
    errors.raise_any()
    return TableSpec(head["id"], head["form"],
                     head["title"], columns, str(path), short_title=head["short_title"],
                     survey=str(doc.get("survey", "phieu_b")),
                     unit_header=str(doc.get("unit_header", "Khu vực/Đơn vị")), area_groups=rows == "areas",
                     splits=splits, split_header=str(doc.get("split_header", "Phân tổ")),
                     subtitle=str(doc.get("subtitle", "")), provenance=provenance)


def _number_key(path: Path) -> tuple[int, ...]:
    """bm_7_10 after bm_7_9: the official order, not the alphabet's."""
    return tuple(int(p) if p.isdigit() else 0 for p in path.stem.split("_"))


def load_tables(directory: Path = TABLES_DIR) -> dict[str, TableSpec]:
    """Every table file; one DataFileError lists the mistakes of all of them."""
    errors = Errors()
    tables: dict[str, TableSpec] = {}
    for spec in errors.each(sorted(directory.glob("*.yaml"), key=_number_key), load_table):
        if spec.id in tables:
            errors.add(DataFileError(spec.path, None, f"table id {spec.id} is also used by {tables[spec.id].path}"))
        tables.setdefault(spec.id, spec)
    errors.raise_any()
    return tables
