"""Import of last year's list of poor and near-poor households from a workbook.

The columns of the project's own exports (`ds_ngheo`, `ds_can_ngheo`, core/reports/lists.yaml)
are read as they are, with an optional "Số CCCD chủ hộ" column; another layout is described by
a mapping file. Every bad row is named (sheet, row, column) and nothing is written unless the
whole file is good: the caller's transaction holds every row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.conversation.engine import SurveyEngine
from core.datafile import DataFileError, check_keys, line_of, load_mapping
from core.households import Status
from core.i18n import t
from core.procedure.baseline import sealed_baseline
from core.procedure.checks import id_key, id_numbers_in_year
from core.procedure.models import Review
from core.procedure.steps import Origin, Stage, record_step
from core.storage.models import Household, Unit
from core.storage.repo import audit, save_answer
from core.surveys.model import Survey
from core.surveys.parsing import ParseError, parse_answer, parse_id_number
from core.text import fold

FIELDS = ("head_name", "village", "id_number", "ethnicity", "members", "prior_class")
REQUIRED = ("head_name", "village")
DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "head_name": ("Họ và tên chủ hộ", "Họ tên chủ hộ", "Chủ hộ"),
    "village": ("Thôn", "Thôn, bản", "Thôn/bản", "Thôn, tổ dân phố"),
    "id_number": ("Số CCCD chủ hộ", "Số CCCD", "CCCD", "Số định danh cá nhân"),
    "ethnicity": ("Dân tộc",),
    "members": ("Số thành viên", "Số nhân khẩu"),
    "prior_class": ("Kết quả rà soát", "Phân loại hộ", "Diện hộ"),
}
DEFAULT_CLASSES = {"ho ngheo": "poor", "ngheo": "poor", "ho can ngheo": "near_poor", "can ngheo": "near_poor"}
SHEET_CLASS = {"ds_ngheo": "poor", "ds_can_ngheo": "near_poor"}  # the project's own exports
# A sheet of members (the project's own ds_bhyt export, or any sheet with these headers): one row
# per member, tied to its household by the head's name and village (and ID number when given).
MEMBER_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("Họ và tên", "Họ tên", "Họ và tên thành viên"),
    "relation": ("Quan hệ với chủ hộ", "Quan hệ"),
    "gender": ("Giới tính",),
    "born": ("Năm sinh",),
    "member_id": ("Số CCCD thành viên", "CCCD thành viên", "Số định danh thành viên"),
}
MEMBER_QUESTIONS = {"name": "ho_ten", "relation": "quan_he", "gender": "gioi_tinh", "born": "nam_sinh",
                    "member_id": "cccd"}
HEAD_WORDS = ("chu ho",)  # the relation that marks the head's own row
NUMBER_HEADERS = ("tt", "stt", "so tt")
HEADER_SCAN = 30


@dataclass(frozen=True)
class Mapping:
    """Which header names which field; which words are which class; which sheet."""

    columns: dict[str, tuple[str, ...]]
    classes: dict[str, str]
    sheet: str | None = None
    default_class: str | None = None


DEFAULT = Mapping(DEFAULT_COLUMNS, DEFAULT_CLASSES)


def load_import_mapping(path: str | Path) -> Mapping:
    """A YAML file: `columns: {head_name: "Tên chủ hộ", ...}`, optional `classes: {"Nghèo": poor}`,
    `sheet:` and `class:` (the class of every row when the file has no class column)."""
    doc = load_mapping(path, {"sheet", "columns", "classes", "class"}, "an import mapping")
    columns = doc.get("columns") or {}
    if not isinstance(columns, dict):
        raise DataFileError(path, line_of(doc), "columns must map a field to a header")
    check_keys(columns, set(FIELDS), path)
    merged = dict(DEFAULT_COLUMNS)
    for key, value in columns.items():
        merged[key] = tuple(value) if isinstance(value, list) else (str(value),)
    classes = dict(DEFAULT_CLASSES)
    for word, cls in (doc.get("classes") or {}).items():
        if cls not in ("poor", "near_poor"):
            raise DataFileError(path, line_of(doc), f"class of {word!r} must be poor or near_poor")
        classes[fold(str(word))] = cls
    default = doc.get("class")
    if default is not None and default not in ("poor", "near_poor"):
        raise DataFileError(path, line_of(doc), "class must be poor or near_poor")
    return Mapping(merged, classes, doc.get("sheet"), default)


@dataclass(frozen=True)
class RowError:
    sheet: str
    row: int
    column: str  # letter and header, e.g. "C (Thôn)"
    message: str

    def __str__(self) -> str:
        return t("imp_error_line", sheet=self.sheet, row=self.row, column=self.column, message=self.message)


@dataclass
class ImportRow:
    sheet: str
    row: int
    values: dict[str, Any]
    village: Unit | None = None
    answers: dict[str, Any] = field(default_factory=dict)
    listed_class: str | None = None


@dataclass
class MemberRow:
    sheet: str
    row: int
    household: tuple[str, str, str]  # folded (village, head's name, head's ID number or "")
    values: dict[str, str]
    labels: dict[str, str]


class ImportFailed(Exception):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} bad rows")
        self.errors = errors


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _header(ws: Any, mapping: Mapping) -> tuple[int, dict[str, int], int | None] | None:
    """The header row, the column of each field, and the row-number column (if any)."""
    wanted = {f: {fold(h) for h in heads} for f, heads in mapping.columns.items()}
    for r, row in enumerate(ws.iter_rows(min_row=1, max_row=HEADER_SCAN, values_only=True), 1):
        found: dict[str, int] = {}
        number = None
        for c, value in enumerate(row, 1):
            text = fold(_cell(value))
            if text in NUMBER_HEADERS and number is None:
                number = c
            for f, heads in wanted.items():
                if text in heads and f not in found:
                    found[f] = c
        if all(f in found for f in REQUIRED):
            return r, found, number
    return None


def _member_header(ws: Any) -> tuple[int, dict[str, int]] | None:
    """A members sheet's header: the member's name and relation beside the head's name and village."""
    wanted = {**{f: {fold(h) for h in heads} for f, heads in MEMBER_COLUMNS.items()},
              **{f: {fold(h) for h in DEFAULT_COLUMNS[f]} for f in ("head_name", "village", "id_number")}}
    for r, row in enumerate(ws.iter_rows(min_row=1, max_row=HEADER_SCAN, values_only=True), 1):
        found: dict[str, int] = {}
        for c, value in enumerate(row, 1):
            text = fold(_cell(value))
            for f, heads in wanted.items():
                if text in heads and f not in found:
                    found[f] = c
        if all(f in found for f in ("name", "relation", "head_name", "village")):
            return r, found
    return None


def read_members(path: Path) -> list[MemberRow]:
    """Member rows of every members sheet in the workbook (none: the list has counts only)."""
    wb = load_workbook(path, read_only=True, data_only=True)
    members: list[MemberRow] = []
    for ws in wb.worksheets:
        head = _member_header(ws)
        if head is None:
            continue
        top, cols = head
        labels = {f: f"{get_column_letter(c)} ({_cell(ws.cell(top, c).value)})" for f, c in cols.items()}
        for r, raw in enumerate(ws.iter_rows(min_row=top + 1, values_only=True), top + 1):
            cells = {f: _cell(raw[c - 1]) if c - 1 < len(raw) else "" for f, c in cols.items()}
            if not cells["name"] or not cells["head_name"]:
                continue  # count line, signature, notes under the table
            key = (fold(cells["village"]), fold(cells["head_name"]), cells.get("id_number", "").replace(" ", ""))
            members.append(MemberRow(ws.title, r, key, cells, labels))
    return members


def read_rows(path: Path, mapping: Mapping = DEFAULT) -> tuple[list[ImportRow], list[RowError]]:
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise ImportFailed([RowError(path.name, 0, "-", t("imp_err_not_xlsx", error=type(exc).__name__))]) from exc
    rows: list[ImportRow] = []
    errors: list[RowError] = []
    sheets = [wb[mapping.sheet]] if mapping.sheet and mapping.sheet in wb.sheetnames else wb.worksheets
    for ws in sheets:
        if _member_header(ws) is not None:
            continue  # members, read by read_members
        head = _header(ws, mapping)
        if head is None:
            continue
        top, cols, number = head
        labels = {f: f"{get_column_letter(c)} ({_cell(ws.cell(top, c).value)})" for f, c in cols.items()}
        for r, raw in enumerate(ws.iter_rows(min_row=top + 1, values_only=True), top + 1):
            cells = {f: _cell(raw[c - 1]) if c - 1 < len(raw) else "" for f, c in cols.items()}
            if number is not None:
                no = _cell(raw[number - 1]) if number - 1 < len(raw) else ""
                if not no.isdigit():
                    continue  # count line, signature, notes under the table
            elif not any(cells.values()):
                continue
            item = ImportRow(ws.title, r, cells)
            item.listed_class = SHEET_CLASS.get(ws.title) or mapping.default_class
            rows.append(item)
            item.values["_labels"] = labels
    if not rows and not errors:
        heads = ", ".join(mapping.columns["head_name"][:1] + mapping.columns["village"][:1])
        errors.append(RowError(path.name, 0, "-", t("imp_err_no_header", columns=heads)))
    return rows, errors


async def check_rows(s: AsyncSession, rows: list[ImportRow], mapping: Mapping, commune: Unit, survey: Survey,
                     year: int) -> list[RowError]:
    """Every problem of every row, before anything is written."""
    villages = {fold(v.name): v for v in (await s.scalars(select(Unit).where(
        Unit.parent_id == commune.id, Unit.level == "village"))).all()}
    questions = {q.id: q for q in survey.household_questions()}
    prior_answer = {cls: ans for ans, cls in survey.prior_classes.items()}
    known_ids = await id_numbers_in_year(s, year)
    seen: dict[str, int] = {}
    errors: list[RowError] = []
    for item in rows:
        v, labels = item.values, item.values["_labels"]

        def bad(fname: str, key: str, _item: ImportRow = item, _labels: dict[str, str] = labels, **kw: Any) -> None:
            errors.append(RowError(_item.sheet, _item.row, _labels.get(fname, fname), t(key, **kw)))

        if not v["head_name"]:
            bad("head_name", "imp_err_required")
        else:
            item.answers["chu_ho_ten"] = v["head_name"]
        name = fold(v["village"])
        village = villages.get(name) or villages.get(fold(f"Thôn {v['village']}"))
        if village is None:
            bad("village", "imp_err_village", village=v["village"] or "-", commune=commune.name)
        item.village = village
        if v.get("id_number"):
            try:
                number = parse_id_number(v["id_number"])
            except ParseError:
                bad("id_number", "imp_err_id")
            else:
                if number in seen:
                    bad("id_number", "imp_err_id_twice", row=seen[number])
                elif known_ids.get(id_key(s, number)):
                    bad("id_number", "imp_err_id_known", id=known_ids[id_key(s, number)][0])
                seen.setdefault(number, item.row)
                item.answers["chu_ho_cccd"] = number
        if v.get("ethnicity") and "dan_toc" in questions:
            try:
                item.answers["dan_toc"] = parse_answer(questions["dan_toc"], v["ethnicity"])
            except ParseError:
                bad("ethnicity", "imp_err_ethnicity", value=v["ethnicity"])
        if v.get("members"):
            text = v["members"]
            if not text.isdigit() or not 1 <= int(text) <= 30:
                bad("members", "imp_err_members", value=text)
            else:
                item.answers["so_thanh_vien"] = int(text)
        if v.get("prior_class"):
            cls = mapping.classes.get(fold(v["prior_class"]))
            if cls is None:
                bad("prior_class", "imp_err_class", value=v["prior_class"])
            item.listed_class = cls or item.listed_class
        if item.listed_class is None:
            bad("prior_class", "imp_err_class", value=v.get("prior_class") or "-")
        elif item.listed_class in prior_answer:
            item.answers["dien_dau_ky"] = prior_answer[item.listed_class]
    return errors


async def import_list(s: AsyncSession, path: Path, commune: Unit, survey: Survey, year: int, area: str,
                      user_id: int | None, mapping: Mapping = DEFAULT) -> list[Household]:
    """Write every row as a household to review, or raise ImportFailed with every bad row."""
    rows, errors = read_rows(path, mapping)
    errors += await check_rows(s, rows, mapping, commune, survey, year)
    errors += attach_members(rows, read_members(path), survey)
    if errors:
        raise ImportFailed(errors)
    engine = SurveyEngine(survey, {"review_year": year, "is_urban": area == "urban"})
    created = []
    for item in rows:
        assert item.village is not None
        household = Household(village_id=item.village.id, survey_id=survey.id, survey_version=survey.version,
                              review_year=year, status=Status.DRAFT, head_name=item.answers.get("chu_ho_ten"),
                              created_by=user_id, area=area)
        s.add(household)
        await s.flush()
        await audit(s, household.id, "create", user_id, {"survey": survey.key, "village": item.village.name,
                                                         "import": path.name, "row": item.row})
        for key, value in item.answers.items():
            await save_answer(s, household.id, key, None, value, user_id)
        first = engine.view(item.answers).slots[0].key
        household.state = {"cursor": first, "mode": "ask"}
        s.add(Review(household_id=household.id, origin=Origin.LIST, stage=Stage.LISTED,
                     listed_class=item.listed_class, baseline=sealed_baseline(s, item.answers)))
        await s.flush()
        await record_step(s, household, "listed", user_id, {"file": path.name, "sheet": item.sheet, "row": item.row,
                                                           "class": item.listed_class})
        created.append(household)
    return created


def attach_members(rows: list[ImportRow], members: list[MemberRow], survey: Survey) -> list[RowError]:
    """Last year's members as the roster's answers (member 1 is the head), so the village head
    confirms them instead of typing them again; each member row names its household, and a row
    that names none, or a value the form would refuse, is an error of that row."""
    if not members:
        return []
    group = next(iter(survey.groups()), None)
    if group is None:
        return []
    questions = {q.id: q for q in group.questions}
    by_household: dict[tuple[str, str, str], ImportRow] = {}
    for item in rows:
        village = fold(item.values.get("village", ""))
        name = fold(item.values.get("head_name", ""))
        by_household[(village, name, item.answers.get("chu_ho_cccd", ""))] = item
        by_household.setdefault((village, name, ""), item)
    errors: list[RowError] = []
    placed: dict[int, int] = {}
    for m in members:
        item = by_household.get(m.household) or by_household.get((m.household[0], m.household[1], ""))
        if item is None:
            errors.append(RowError(m.sheet, m.row, m.labels["head_name"],
                                   t("imp_err_member_household", head=m.values["head_name"],
                                     village=m.values["village"])))
            continue
        head = any(w in fold(m.values.get("relation", "")) for w in HEAD_WORDS)
        index = 1 if head else placed.get(id(item), 1) + 1
        if not head:
            placed[id(item)] = index
        for field_name, qid in MEMBER_QUESTIONS.items():
            text = m.values.get(field_name, "")
            q = questions.get(qid)
            if not text or q is None or (head and qid in ("quan_he", "cccd")):
                continue
            try:
                item.answers[f"{group.id}.{index}.{qid}"] = parse_answer(q, text)
            except ParseError:
                errors.append(RowError(m.sheet, m.row, m.labels.get(field_name, field_name),
                                       t("imp_err_member_value", value=text)))
    for item in rows:
        count = placed.get(id(item))
        if count is not None and "so_thanh_vien" not in item.answers:
            item.answers["so_thanh_vien"] = count
    return errors
