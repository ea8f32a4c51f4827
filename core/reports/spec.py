"""Report tables and household lists as data: which columns, and what is counted in each.

A column counts submitted households that match a filter (outcome, start-of-period class,
minority, ethnicity, a deprived indicator, area, an answer of the form) or their members, or
is a ratio of two such counts; the layout an official prints follows from the nesting of
columns. Loading checks every filter (and, against the forms, every answer a filter reads) so
a typo is reported with the file and line, not as an empty column in a signed report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core.datafile import DataFileError, check_keys, line_of, load_mapping, require
from core.provenance import Provenance, parse_provenance
from core.surveys.model import QType, Survey

REPORTS_DIR = Path(__file__).parent
TABLES_DIR = REPORTS_DIR / "tables"
LISTS_FILE = REPORTS_DIR / "lists.yaml"
NAMED = {"households_total", "surveyed", "persons_total", "not_collected"}  # not_collected: a blank cell
OUTCOMES = {"poor", "near_poor", "not_poor", "average", "above_average", "below_line", "undetermined"}
PRIOR = {"poor", "near_poor", "none"}
FILTER_KEYS = {"outcome", "prior_class", "minority", "indicator", "area", "ethnicity", "ethnicity_not", "answer",
               "members", "persons"}
SHORT_TITLE_MAX = 40


@dataclass(frozen=True)
class Split:
    """One of the rows each unit is printed as: "Hộ" / "Nhân khẩu" (7.2, 7.3, 7.8), or
    "- Hộ nghèo" / "- Hộ cận nghèo" (7.10)."""

    label: str
    persons: bool = False
    outcome: tuple[str, ...] = ()


@dataclass(frozen=True)
class MemberCount:
    """Count members instead of households: members who answered `question` (optionally with
    one of `values`) and whose other answers in `where` match, e.g. children (asked about
    malnutrition, so under 16) without health insurance."""

    question: str
    values: tuple[str, ...] = ()  # JSON texts; empty = any answer
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class Filter:
    """Submitted households matching every given condition (or their persons or members)."""

    outcome: tuple[str, ...] = ()
    prior_class: tuple[str, ...] = ()
    minority: bool | None = None
    indicator: int | None = None
    area: str | None = None
    ethnicity: tuple[str, ...] = ()
    ethnicity_not: tuple[str, ...] = ()
    answers: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (question, JSON texts of accepted values)
    members: MemberCount | None = None
    persons: bool = False  # count household members (nhân khẩu) instead of households

    def split(self, variant: Split) -> Filter:
        """This filter on one split row: persons instead of households, or one outcome only."""
        return replace(self, persons=self.persons or variant.persons,
                       outcome=variant.outcome or self.outcome)

    def questions(self) -> list[str]:
        names = [q for q, _ in self.answers]
        if self.members:
            names += [self.members.question, *(q for q, _ in self.members.where)]
        return names


Measure = str | Filter  # a named measure or a filter count


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


# Household facts the lists may print, stored on the household row at submission (not answers).
LIST_FIELDS = {"head_name", "village", "member_count", "b1_score", "b2_score", "income_per_capita",
               "deprived_count", "deprived", "prior_class", "outcome", "ethnicity"}


@dataclass(frozen=True)
class ListColumn:
    """One printed column: a household fact (`field`), an answer of the list's form (`answer`,
    printed with its choice label), or, in a per-member list, a member answer (`member`);
    `for_head` is what the head's own row shows when the form does not ask it of the head."""

    label: str
    field: str | None = None
    answer: str | None = None
    member: str | None = None
    for_head: str | None = None  # a literal, or "=field" for a household fact
    line: int = 0


@dataclass(frozen=True)
class ListSpec:
    id: str
    title: str
    filter: Filter
    members: bool
    path: str
    form: str = "phieu_b"
    short_title: str = ""
    columns: tuple[ListColumn, ...] = ()
    line: int = 0

    def answer_keys(self) -> list[str]:
        return [c.answer for c in self.columns if c.answer]

    def member_keys(self) -> list[str]:
        return [c.member for c in self.columns if c.member]


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
    persons = raw.get("persons", False)
    if not isinstance(persons, bool):
        raise DataFileError(path, line_of(raw, line_of(parent)), "persons must be true or false")
    members = _members(raw["members"], path, raw) if raw.get("members") is not None else None
    return Filter(values("outcome", OUTCOMES), values("prior_class", PRIOR), minority, indicator, area,
                  _words(raw.get("ethnicity"), path, raw), _words(raw.get("ethnicity_not"), path, raw),
                  _answers(raw.get("answer"), path, raw), members, persons)


def _words(raw: Any, path: Path, parent: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    if not all(isinstance(i, str) for i in items):
        raise DataFileError(path, line_of(parent), f"expected a value or a list of values, got {raw!r}")
    return tuple(items)


def _json_values(raw: Any) -> tuple[str, ...]:
    """Accepted answers as the JSON text the answers table stores (yes/no as true/false)."""
    items = raw if isinstance(raw, list) else [raw]
    return tuple(json.dumps(i, ensure_ascii=False) for i in items)


def _answers(raw: Any, path: Path, parent: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict) or not raw:
        raise DataFileError(path, line_of(parent), "answer must map question ids to accepted values")
    return tuple((str(q), _json_values(v)) for q, v in raw.items())


def _members(raw: Any, path: Path, parent: Any) -> MemberCount:
    if not isinstance(raw, dict):
        raise DataFileError(path, line_of(parent), "members must be a mapping with question, value, where")
    check_keys(raw, {"question", "value", "where"}, path)
    question = str(require(raw, "question", path, str))
    values = _json_values(raw["value"]) if "value" in raw else ()
    return MemberCount(question, values, _answers(raw.get("where"), path, raw) if raw.get("where") else ())


def check_filters_against(spec_path: str, measures: list[Measure], survey: Survey, line: int | None) -> None:
    """Every answer a filter reads is a question of the named form, with values it can take."""
    household = {q.id: q for q in survey.household_questions()}
    member = {q.id: q for g in survey.groups() for q in g.questions}
    for m in measures:
        if not isinstance(m, Filter):
            continue
        pairs = list(m.answers)
        known = household
        if m.members:
            pairs = [(m.members.question, m.members.values), *m.members.where]
            known = member
        for qid, values in pairs:
            q = known.get(qid)
            if q is None:
                kind = "member" if m.members else "household"
                raise DataFileError(spec_path, line, f"'{qid}' is not a {kind} question of form {survey.key}")
            allowed = ({json.dumps(c.value) for c in q.choices} if q.type is QType.CHOICE
                       else {"true", "false"} if q.type is QType.YES_NO else None)
            bad = [v for v in values if allowed is not None and v not in allowed]
            if bad:
                raise DataFileError(spec_path, line, f"'{qid}' cannot be {', '.join(bad)}")


def _measure(raw: Any, path: Path, parent: Any) -> Measure:
    if isinstance(raw, str):
        if raw not in NAMED:
            raise DataFileError(path, line_of(parent), f"unknown measure '{raw}'; named measures: {sorted(NAMED)}")
        return raw
    return _filter(raw, path, parent)


def _column(raw: Any, path: Path) -> Column:
    check_keys(raw, {"label", "value", "ratio", "difference", "columns", "number"}, path)
    label = str(require(raw, "label", path, str))
    kinds = [k for k in ("value", "ratio", "difference", "columns") if k in raw]
    if len(kinds) != 1:
        raise DataFileError(path, line_of(raw), f"column '{label}' needs exactly one of value, ratio, difference, "
                            "columns")
    line = line_of(raw) or 0
    if "columns" in raw:
        children = tuple(_column(c, path) for c in require(raw, "columns", path, list))
        return Column(label, children=children, line=line)
    number = None if raw.get("number") is None else str(raw["number"])
    if "difference" in raw:
        terms = raw["difference"]
        if not isinstance(terms, list) or len(terms) < 2:
            raise DataFileError(path, line_of(raw), f"difference of '{label}' must list at least two measures")
        return Column(label, difference=tuple(_measure(m, path, raw) for m in terms), number=number, line=line)
    if "ratio" in raw:
        ratio = raw["ratio"]
        if not isinstance(ratio, list) or len(ratio) != 2:
            raise DataFileError(path, line_of(raw), f"ratio of '{label}' must be [numerator, denominator]")
        return Column(label, ratio=(_measure(ratio[0], path, raw), _measure(ratio[1], path, raw)), number=number,
                      line=line)
    return Column(label, value=_measure(raw["value"], path, raw), number=number, line=line)


_PUNCT = str.maketrans({c: " " for c in ",;:()\"'.+"})


def _words_of(text: str) -> list[str]:
    return text.replace("{year}", " ").lower().translate(_PUNCT).split()


def check_short_title(short: str, path: Path, line: int | None, title: str, rid: str) -> None:
    """Button text: at most 40 characters and made of whole words of the title (or the table
    number), so it is never a title cut in the middle of a word."""
    if not short or len(short) > SHORT_TITLE_MAX:
        raise DataFileError(path, line, f"short_title must be 1-{SHORT_TITLE_MAX} characters, got {len(short)}")
    allowed = set(_words_of(title)) | ({rid.lower()} if rid else set())
    text = short.lower().replace(rid.lower(), " ") if rid else short.lower()
    stray = [w for w in text.translate(_PUNCT).split() if w not in allowed]
    if stray:
        raise DataFileError(path, line, f"short_title words {stray} are not whole words of the title")


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
        outcome = _words(item.get("outcome"), path, item)
        bad = [o for o in outcome if o not in OUTCOMES]
        if bad:
            raise DataFileError(path, line_of(item), f"outcome {bad} not in {sorted(OUTCOMES)}")
        out.append(Split(str(require(item, "label", path, str)), bool(item.get("persons", False)), outcome))
    return tuple(out)


def load_table(path: str | Path) -> TableSpec:
    path = Path(path)
    doc = load_mapping(path, _TABLE_KEYS, "a report table")
    columns = tuple(_column(c, path) for c in require(doc, "columns", path, list))
    title = str(require(doc, "title", path, str))
    rid = str(require(doc, "id", path, (str, int, float)))
    short = str(require(doc, "short_title", path, str))
    check_short_title(short, path, line_of(doc), title, rid)
    rows = str(doc.get("rows", "units"))
    if rows not in ROWS:
        raise DataFileError(path, line_of(doc), f"rows must be one of {sorted(ROWS)}")
    return TableSpec(rid, str(require(doc, "form", path, str)),
                     title, columns, str(path), short_title=short, survey=str(doc.get("survey", "phieu_b")),
                     unit_header=str(doc.get("unit_header", "Khu vực/Đơn vị")), area_groups=rows == "areas",
                     splits=_splits(doc.get("split"), path, doc),
                     split_header=str(doc.get("split_header", "Phân tổ")), subtitle=str(doc.get("subtitle", "")),
                     provenance=parse_provenance(doc.get("provenance"), path))


def _number_key(path: Path) -> tuple[int, ...]:
    """bm_7_10 after bm_7_9: the official order, not the alphabet's."""
    return tuple(int(p) if p.isdigit() else 0 for p in path.stem.split("_"))


def load_tables(directory: Path = TABLES_DIR) -> dict[str, TableSpec]:
    tables: dict[str, TableSpec] = {}
    for path in sorted(directory.glob("*.yaml"), key=_number_key):
        spec = load_table(path)
        if spec.id in tables:
            raise DataFileError(path, None, f"table id {spec.id} is also used by {tables[spec.id].path}")
        tables[spec.id] = spec
    return tables


@dataclass(frozen=True)
class ListsFile:
    lists: dict[str, ListSpec]
    majority_ethnicities: tuple[str, ...]


def _list_columns(raw: Any, path: Path, members: bool) -> tuple[ListColumn, ...]:
    if not isinstance(raw, list) or not raw:
        raise DataFileError(path, line_of(raw), "a column set must be a non-empty list")
    out = []
    for c in raw:
        check_keys(c, {"label", "field", "answer", "member", "for_head"}, path)
        kinds = [k for k in ("field", "answer", "member") if k in c]
        if len(kinds) != 1:
            raise DataFileError(path, line_of(c), "a list column needs exactly one of field, answer, member")
        if "field" in c and c["field"] not in LIST_FIELDS:
            raise DataFileError(path, line_of(c), f"field '{c['field']}' is not one of {sorted(LIST_FIELDS)}")
        if "member" in c and not members:
            raise DataFileError(path, line_of(c), "member columns only go in a per-member list (members: true)")
        head = c.get("for_head")
        if head is not None and str(head).startswith("=") and str(head)[1:] not in LIST_FIELDS:
            raise DataFileError(path, line_of(c), f"for_head '{head}' names no household field")
        out.append(ListColumn(str(require(c, "label", path, str)), c.get("field"), c.get("answer"), c.get("member"),
                              None if head is None else str(head), line_of(c) or 0))
    return tuple(out)


def check_list_against(spec: ListSpec, survey: Survey) -> None:
    """Answer columns name household questions of the list's form, member columns its roster."""
    household = {q.id for q in survey.household_questions()}
    member = survey.member_question_ids()
    for c in spec.columns:
        if c.answer and c.answer not in household:
            raise DataFileError(spec.path, c.line, f"'{c.answer}' is not a household question of form {survey.key}")
        if c.member and c.member not in member:
            raise DataFileError(spec.path, c.line, f"'{c.member}' is not a member question of form {survey.key}")
    if spec.members and not survey.groups():
        raise DataFileError(spec.path, spec.line, f"form {survey.key} has no member roster for a per-member list")
    check_filters_against(spec.path, [spec.filter], survey, spec.line)


def load_lists(path: Path = LISTS_FILE) -> ListsFile:
    doc = load_mapping(path, {"lists", "majority_ethnicities", "column_sets", "provenance"}, "the lists file")
    parse_provenance(doc.get("provenance"), path)
    raw_sets = require(doc, "column_sets", path, dict)
    lists: dict[str, ListSpec] = {}
    for raw in require(doc, "lists", path, list):
        check_keys(raw, {"id", "title", "short_title", "form", "filter", "members", "columns"}, path)
        members = bool(raw.get("members", False))
        set_name = require(raw, "columns", path, str)
        if set_name not in raw_sets:
            raise DataFileError(path, line_of(raw), f"column set '{set_name}' is not in column_sets")
        title = str(require(raw, "title", path, str))
        short = str(require(raw, "short_title", path, str))
        check_short_title(short, path, line_of(raw), title, "")
        spec = ListSpec(str(require(raw, "id", path, str)), title,
                        _filter(require(raw, "filter", path, dict), path, raw), members,
                        str(path), form=str(require(raw, "form", path, str)), short_title=short,
                        columns=_list_columns(raw_sets[set_name], path, members), line=line_of(raw) or 0)
        if spec.id in lists:
            raise DataFileError(path, line_of(raw), f"list id {spec.id} is used twice")
        lists[spec.id] = spec
    majority = tuple(str(x) for x in doc.get("majority_ethnicities") or ())
    return ListsFile(lists, majority)
