"""Import of last year's list of poor and near-poor households (a workbook or a CSV file).

The file is read in a thread (core/procedure/import_rows.py, within the limits of
core/procedure/import_file.py); then every row is checked here and every bad row is named
(sheet, row, column). Nothing is written unless the whole file is good: the caller's transaction
holds every row. A row that repeats a household already in the year (the same head's ID number,
or, without one to tell them apart, the same head's name in the same village with the same
number of members) is an error of its row, so a corrected file sent again never doubles a
household (issue 26 item 9).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.i18n import t
from core.procedure.checks import ID_KEY, MEMBERS_KEY, id_key, id_numbers_in_year
from core.procedure.import_file import LIMITS, ImportLimits
from core.procedure.import_rows import (
    DEFAULT,
    HEAD_WORDS,
    MEMBER_QUESTIONS,
    ImportFailed,
    ImportRow,
    Mapping,
    MemberRow,
    Parsed,
    RowError,
    load_import_mapping,
    parse_file,
)
from core.procedure.import_write import Imported, write_rows
from core.storage.models import Answer, Household, Unit
from core.surveys.model import Survey
from core.surveys.parsing import ParseError, parse_answer, parse_id_number
from core.text import fold
from core.units.names import village_key

__all__ = ["DEFAULT", "ImportFailed", "Imported", "Mapping", "Parsed", "RowError", "import_list", "load_import_mapping",
           "parse_file"]


async def check_rows(s: AsyncSession, rows: list[ImportRow], mapping: Mapping, commune: Unit, survey: Survey,
                     year: int) -> list[RowError]:
    """Every problem of every row, before anything is written."""
    # by the name without «Thôn», «Bản», «Tổ»…, both ways, as a village head's registration
    # matches it: «Thôn Khuổi Phặt» in the file finds «Khuổi Phặt» and the other way round
    villages = {village_key(v.name): v for v in (await s.scalars(select(Unit).where(
        Unit.parent_id == commune.id, Unit.level == "village").order_by(Unit.id.desc()))).all()}
    questions = {q.id: q for q in survey.household_questions()}
    prior_answer = {cls: ans for ans, cls in survey.prior_classes.items()}
    known_ids = await id_numbers_in_year(s, year)
    seen: dict[str, int] = {}
    ethnicities: dict[str, Any] = {}
    errors: list[RowError] = []
    for item in rows:
        v, labels = item.values, item.labels

        def bad(fname: str, key: str, _item: ImportRow = item, _labels: dict[str, str] = labels, **kw: Any) -> None:
            errors.append(RowError(_item.sheet, _item.row, _labels.get(fname, fname), t(key, **kw)))

        if not v["head_name"]:
            bad("head_name", "imp_err_required")
        else:
            item.answers["chu_ho_ten"] = v["head_name"]
        village = villages.get(village_key(v["village"] or ""))
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
                item.answers[ID_KEY] = number
        if v.get("ethnicity") and "dan_toc" in questions:
            if v["ethnicity"] not in ethnicities:  # a few words repeated on every row
                try:
                    ethnicities[v["ethnicity"]] = parse_answer(questions["dan_toc"], v["ethnicity"])
                except ParseError:
                    ethnicities[v["ethnicity"]] = None
            if ethnicities[v["ethnicity"]] is None:
                bad("ethnicity", "imp_err_ethnicity", value=v["ethnicity"])
            else:
                item.answers["dan_toc"] = ethnicities[v["ethnicity"]]
        if v.get("members"):
            text = v["members"]
            if not text.isdigit() or not 1 <= int(text) <= 30:
                bad("members", "imp_err_members", value=text)
            else:
                item.answers[MEMBERS_KEY] = int(text)
        if v.get("prior_class"):
            cls = mapping.classes.get(fold(v["prior_class"]))
            if cls is None:  # said once: the class column is the one at fault
                bad("prior_class", "imp_err_class", value=v["prior_class"])
            item.listed_class = cls or item.listed_class
        elif item.listed_class is None:
            bad("prior_class", "imp_err_class", value="-")
        if item.listed_class in prior_answer:
            item.answers["dien_dau_ky"] = prior_answer[item.listed_class]
    return errors


def _same_household(a_id: str | None, b_id: str | None, a_members: Any, b_members: Any) -> bool:
    """Two rows with the same head's name in the same village: the same household unless their
    ID numbers differ, or both give a number of members and the numbers differ."""
    if a_id and b_id:
        return a_id == b_id
    return not (isinstance(a_members, int) and isinstance(b_members, int) and a_members != b_members)


async def probable_duplicates(s: AsyncSession, rows: list[ImportRow], commune: Unit, year: int) -> list[RowError]:
    """Rows that repeat another row of the file, or a household already in the year, by the
    head's name, village and number of members where no ID number tells them apart (a
    repeated ID number is checked by check_rows)."""
    errors: list[RowError] = []
    in_file: dict[tuple[int, str], list[ImportRow]] = defaultdict(list)
    for item in rows:
        if item.village is None or not item.values["head_name"]:
            continue
        key = (item.village.id, fold(item.values["head_name"]))
        earlier = next((o for o in in_file[key] if _same_household(
            o.answers.get(ID_KEY), item.answers.get(ID_KEY), o.answers.get(MEMBERS_KEY),
            item.answers.get(MEMBERS_KEY))), None)
        if earlier is not None and not (item.answers.get(ID_KEY) and earlier.answers.get(ID_KEY)):
            # (the same ID number on both rows: check_rows has said so, once is enough)
            errors.append(RowError(item.sheet, item.row, item.labels["head_name"],
                                   t("im_err_probable_twice", row=earlier.row)))
        in_file[key].append(item)
    villages = {k[0] for k in in_file}
    if not villages:
        return errors
    existing = (await s.execute(select(Household.id, Household.village_id, Household.head_name).where(
        Household.review_year == year, Household.village_id.in_(villages), Household.head_name.is_not(None)))).all()
    candidates = {hid: (vid, fold(name)) for hid, vid, name in existing if (vid, fold(name)) in in_file}
    if not candidates:
        return errors
    facts: dict[int, dict[str, Any]] = defaultdict(dict)
    for hid, key, value, lookup in (await s.execute(select(
            Answer.household_id, Answer.key, Answer.value, Answer.lookup).where(
            Answer.household_id.in_(candidates), Answer.key.in_((ID_KEY, MEMBERS_KEY))))).all():
        facts[hid][key] = (lookup or value) if key == ID_KEY else value
    flagged = {(e.sheet, e.row) for e in errors}
    for hid, key in sorted(candidates.items()):
        for item in in_file[key]:
            mine = item.answers.get(ID_KEY)
            if (item.sheet, item.row) in flagged or not _same_household(
                    id_key(s, mine) if mine else None, facts[hid].get(ID_KEY), item.answers.get(MEMBERS_KEY),
                    facts[hid].get(MEMBERS_KEY)):
                continue
            if mine and facts[hid].get(ID_KEY):
                continue  # the same ID number: check_rows has said so
            flagged.add((item.sheet, item.row))
            errors.append(RowError(item.sheet, item.row, item.labels["head_name"],
                                   t("im_err_probable_known", id=hid)))
    return errors


async def import_list(s: AsyncSession, path: Path, commune: Unit, survey: Survey, year: int, area: str,
                      user_id: int | None, mapping: Mapping = DEFAULT, name: str | None = None,
                      limits: ImportLimits = LIMITS, parsed: Parsed | None = None) -> list[Imported]:
    """Write every row as a household to review, or raise ImportFailed with every bad row.
    `name` is the file's name as the user knows it (not the name it is stored under);
    `parsed` is the file already read (bot/handlers/procedure/listing.py reads it before its
    transaction starts), else it is read here, in a thread."""
    name = name or path.name
    if parsed is None:
        parsed = await asyncio.to_thread(parse_file, path, name, mapping, limits)
    rows = parsed.rows
    errors = await check_rows(s, rows, mapping, commune, survey, year)
    errors += attach_members(rows, parsed.members, survey)
    errors += await probable_duplicates(s, rows, commune, year)
    if errors:
        raise ImportFailed(sorted(errors, key=lambda e: (e.sheet or "", e.row)))
    return await write_rows(s, rows, survey, year, area, user_id, name)


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
        village = village_key(item.values.get("village", ""))
        name = fold(item.values.get("head_name", ""))
        by_household[(village, name, item.answers.get(ID_KEY, ""))] = item
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
        if count is not None and MEMBERS_KEY not in item.answers:
            item.answers[MEMBERS_KEY] = count
    return errors
