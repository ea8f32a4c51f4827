"""The sheets of the rules workbook read back into content (core/rules/content.py's shape).

Each reader checks every cell it reads and records what is wrong in the sheet's error list;
the loaders of core/classification check the assembled content once more afterwards, so a
signed version passes the same checks as the shipped YAML.
"""

from __future__ import annotations

import re
from typing import Any

from core.classification.pack import AREAS
from core.expr import ExprError, compile_expr
from core.i18n import t
from core.rules import layout as L
from core.rules.cells import Sheet
from core.rules.content import PARTS
from core.surveys.loader import CONTEXT_NAMES, MEMBER_CONTEXT_NAMES
from core.surveys.model import QType, Survey

ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
PARAM = re.compile(r"^p_[a-z0-9_]{1,40}$")


def general(sheet: Sheet, known_packs: set[str]) -> tuple[dict[str, Any], dict[str, Any], dict[str, int]]:
    """(pack fields, B1 id and title, the row of each key) from the general sheet."""
    specs = {g.key: g for g in L.GENERAL}
    values: dict[str, Any] = {}
    rows: dict[str, int] = {}
    areas: dict[str, str] = {}
    for row in range(2, sheet.max_row + 1):
        key = sheet.text(row, 1, required=False)
        if key is None:
            if not sheet.empty_row(row):
                sheet.bad(row, 1, "rw_err_required")
            continue
        if key in rows:
            sheet.bad(row, 1, "rw_err_duplicate_key", key=key, row=rows[key])
            continue
        rows[key] = row
        if key.startswith(L.AREA_KEY):
            area = sheet.word(row, 3, L.area_words())
            if area is not None:
                areas[key[len(L.AREA_KEY):]] = area
            continue
        spec = specs.get(key)
        if spec is None:
            sheet.bad(row, 1, "rw_err_unknown_key", key=key)
            continue
        if spec.kind in ("readonly", "text"):
            values[key] = sheet.text(row, 3, required=not spec.optional)
        else:
            values[key] = sheet.number(row, 3, spec.kind, required=not spec.optional)
    for key, spec in specs.items():
        if key not in rows:
            sheet.bad(None, None, "rw_err_missing_row", key=key, label=spec.label)
    if "id" in rows and values.get("id") is not None and values["id"] not in known_packs:
        sheet.bad(rows["id"], 3, "rw_err_unknown_pack", value=values["id"], packs=", ".join(sorted(known_packs)))
    if not areas:
        sheet.bad(None, None, "rw_err_no_areas")
    _pairs(sheet, values, rows)
    pack = {
        "id": values.get("id"), "title": values.get("title"), "short": values.get("short") or "",
        "basis": values.get("basis") or "",
        "years": {"from": values.get("years.from"), "to": values.get("years.to")},
        "area_by_commune_type": areas,
        "income_line": {a: values.get(f"income_line.{a}") for a in AREAS},
        "b1_line": None if values.get("b1_line.rural") is None else {a: values.get(f"b1_line.{a}") for a in AREAS},
        "points_per_indicator": values.get("points_per_indicator"),
        "poor_min_deprived": values.get("poor_min_deprived"),
        "average_band": None if values.get("average_band.rural.above") is None else {
            a: {"above": values.get(f"average_band.{a}.above"), "up_to": values.get(f"average_band.{a}.up_to")}
            for a in AREAS},
    }
    return pack, {"id": values.get("b1.id"), "title": values.get("b1.title")}, rows


def _pairs(sheet: Sheet, values: dict[str, Any], rows: dict[str, int]) -> None:
    """Values that go together: both B1 lines or none, the whole band or none, ordered bounds."""
    groups = (["b1_line.rural", "b1_line.urban"],
              [f"average_band.{a}.{b}" for a in AREAS for b in ("above", "up_to")])
    for keys in groups:
        filled = [k for k in keys if k in rows and sheet.raw(rows[k], 3) is not None]
        if filled and len(filled) != len(keys):
            for k in keys:
                if k in rows and sheet.raw(rows[k], 3) is None:
                    sheet.bad(rows[k], 3, "rw_err_fill_together", other=", ".join(filled))
    for low, high in (("years.from", "years.to"), *((f"average_band.{a}.above", f"average_band.{a}.up_to")
                                                   for a in AREAS)):
        if values.get(low) is not None and values.get(high) is not None and values[low] >= values[high] \
                and not (low == "years.from" and values[low] == values[high]):
            sheet.bad(rows[high], 3, "rw_err_order", low=values[low], high=values[high])


def _schemes(sheet: Sheet, required: dict[str, Any]) -> dict[int, tuple[str, dict[str, Any]]]:
    """The region columns: id (row 2), area (row 3), applies here (row 4), label (row 1)."""
    out: dict[int, tuple[str, dict[str, Any]]] = {}
    seen: dict[str, int] = {}
    for col in range(L.REGION_COL, sheet.max_col + 1):
        scheme = sheet.text(L.ROW_SCHEME, col, required=False)
        has_points = any(sheet.raw(r, col) is not None for r in range(L.ROW_BASE, sheet.max_row + 1))
        if scheme is None:
            if has_points or sheet.raw(1, col) is not None:
                sheet.bad(L.ROW_SCHEME, col, "rw_err_scheme_id")
            continue
        if not ID.match(scheme):
            sheet.bad(L.ROW_SCHEME, col, "rw_err_bad_id", value=scheme)
            continue
        if scheme in seen:
            sheet.bad(L.ROW_SCHEME, col, "rw_err_duplicate_scheme", value=scheme, column=seen[scheme])
            continue
        seen[scheme] = col
        spec = {"label": sheet.text(1, col), "area": sheet.word(L.ROW_AREA, col, L.area_words()),
                "applies": sheet.word(L.ROW_APPLIES, col, L.yes_no_words())}
        out[col] = (scheme, spec)
    for scheme, spec in required.items():
        if scheme not in seen:
            sheet.bad(None, None, "rw_err_region_missing", label=spec["label"], scheme=scheme)
    for area in AREAS:
        applying = [s for s, spec in out.values() if spec["area"] == area and spec["applies"] is True]
        if len(applying) != 1:
            sheet.bad(L.ROW_APPLIES, L.REGION_COL, "rw_err_applying", area=L.area_word(area), n=len(applying))
    return out


def b1(sheet: Sheet, form: Survey, template: dict[str, Any]) -> dict[str, Any] | None:
    """The B1 table, or None when every point cell is empty (no table signed yet)."""
    columns = _schemes(sheet, template["schemes"])
    questions = {q.id: q for q in form.household_questions()}
    cells = [(L.ROW_BASE, col) for col in columns]
    items: list[dict[str, Any]] = []
    first_row: dict[str, int] = {}
    current: str | None = None
    for row in range(L.FIRST_ITEM_ROW, sheet.max_row + 1):
        if sheet.empty_row(row):
            continue
        qid = sheet.text(row, L.COL_QUESTION)
        if qid is None:
            continue
        if qid != current:
            if qid in first_row:
                sheet.bad(row, L.COL_QUESTION, "rw_err_duplicate_question", question=qid, row=first_row[qid])
                current = None
                continue
            first_row[qid], current = row, qid
            q = questions.get(qid)
            if q is None:
                sheet.bad(row, L.COL_QUESTION, "rw_err_unknown_question", question=qid, form=form.id)
                current = None
                continue
            items.append({"question": qid, "label": sheet.text(row, L.COL_LABEL), "_type": q.type, "_rows": []})
        items[-1]["_rows"].append(row)
        cells += [(row, col) for col in columns]
    empty = all(sheet.raw(r, c) is None for r, c in cells)
    if empty:
        return None
    for row, col in cells:
        if sheet.raw(row, col) is None:
            sheet.bad(row, col, "rw_err_points_missing")
    base = {scheme: sheet.number(L.ROW_BASE, col, "b1", required=False) for col, (scheme, _) in columns.items()}
    out_items = [_item(sheet, item, questions[item["question"]], columns) for item in items]
    return {"id": None, "title": None, "form": form.id,
            "schemes": {scheme: spec for scheme, spec in columns.values()}, "base": base, "items": out_items}


def _points(sheet: Sheet, row: int, columns: dict[int, tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    return {scheme: sheet.number(row, col, "b1", required=False) for col, (scheme, _) in columns.items()}


def _item(sheet: Sheet, item: dict[str, Any], q: Any, columns: dict[int, tuple[str, dict[str, Any]]]) -> dict:
    rows: list[int] = item["_rows"]
    out: dict[str, Any] = {"question": item["question"], "label": item["label"]}
    if item["_type"] in (QType.YES_NO, QType.CHOICE):
        expected = ["co", "khong"] if item["_type"] is QType.YES_NO else [c.value for c in q.choices]
        points: dict[str, Any] = {}
        for row in rows:
            code = sheet.text(row, L.COL_CODE)
            if code is None:
                continue
            if code not in expected:
                sheet.bad(row, L.COL_CODE, "rw_err_unknown_answer", value=code, answers=", ".join(expected))
            elif code in points:
                sheet.bad(row, L.COL_CODE, "rw_err_duplicate_answer", value=code)
            else:
                points[code] = _points(sheet, row, columns)
        lacking = [c for c in expected if c not in points]
        if lacking:
            sheet.bad(rows[0], L.COL_CODE, "rw_err_answers_missing", question=item["question"],
                      answers=", ".join(lacking))
        out["points"] = points
        return out
    bands, last_max = [], None
    for i, row in enumerate(rows):
        top = sheet.number(row, L.COL_MAX, "band", required=False)
        if (top is None) != (i == len(rows) - 1):
            sheet.bad(row, L.COL_MAX, "rw_err_band_max")
        elif top is not None and last_max is not None and top <= last_max:
            sheet.bad(row, L.COL_MAX, "rw_err_band_order", value=top, before=last_max)
        last_max = top if top is not None else last_max
        bands.append({"max": top, "points": _points(sheet, row, columns)})
    out["bands"] = bands
    return out


def indicators(sheet: Sheet, forms: list[Survey]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(indicators, params): the condition's [n] take the numbers of its threshold cells."""
    marker = t("rw_params_title")
    rows = range(2, sheet.max_row + 1)
    split = next((r for r in rows if sheet.raw(r, 1) == marker), sheet.max_row + 1)
    params: dict[str, Any] = {}
    for row in range(split + 1, sheet.max_row + 1):
        name = sheet.text(row, 1, required=not sheet.empty_row(row))
        if name is None:
            continue
        if not PARAM.match(name):
            sheet.bad(row, 1, "rw_err_param_name", value=name)
        elif name in params:
            sheet.bad(row, 1, "rw_err_duplicate_param", value=name)
        else:
            params[name] = sheet.number(row, 2, None, decimals=True)
    out: list[dict[str, Any]] = []
    seen: dict[Any, int] = {}
    for row in range(2, split):
        if sheet.empty_row(row):
            continue
        ind = {"number": sheet.number(row, 1, "count"), "code": sheet.text(row, 2), "service": sheet.text(row, 3),
               "name": sheet.text(row, 4), "confidence": sheet.word(row, 5, {tag.lower(): tag for tag in L.TAGS})}
        for key, col in (("number", 1), ("code", 2)):
            if ind[key] is not None and (key, ind[key]) in seen:
                sheet.bad(row, col, "rw_err_duplicate_indicator", value=ind[key], row=seen[(key, ind[key])])
            seen[(key, ind[key])] = row
        if ind["code"] is not None and not ID.match(ind["code"]):
            sheet.bad(row, 2, "rw_err_bad_id", value=ind["code"])
        ind["deprived_when"] = _condition(sheet, row, params, forms)
        out.append(ind)
    return out, params


def _condition(sheet: Sheet, row: int, params: dict[str, Any], forms: list[Survey]) -> str | None:
    template = sheet.text(row, L.IND_FIXED)
    if template is None:
        return None
    used = {int(n) for n in L.PLACEHOLDER.findall(template)}
    values: dict[int, Any] = {}
    for n in range(1, max([*used, sheet.max_col - L.IND_FIXED, 0]) + 1):
        col = L.IND_FIXED + n
        if n in used:
            values[n] = sheet.number(row, col, None, decimals=True)
        elif sheet.raw(row, col) is not None:
            sheet.bad(row, col, "rw_err_threshold_unused", n=n)
    if any(v is None for v in values.values()):
        return None
    text = L.fill(template, values)
    for form in forms:
        names = {q.id for q in form.household_questions()} | CONTEXT_NAMES | set(params)
        try:
            compile_expr(text, names, form.member_question_ids() | MEMBER_CONTEXT_NAMES)
        except ExprError as exc:
            sheet.bad(row, L.IND_FIXED, "rw_err_condition", error=str(exc), form=form.id)
            return None
    return text


def phieu_a(sheet: Sheet, form: Survey, rule_id: str) -> dict[str, Any]:
    kinds = {t("rw_pa_kind_group").lower(): "group", t("rw_pa_kind_criterion").lower(): "criterion"}
    groups: list[dict[str, Any]] = []
    criteria: list[dict[str, Any]] = []
    where: dict[str, int] = {}
    names = {q.id for q in form.household_questions()} | CONTEXT_NAMES
    for row in range(2, sheet.max_row + 1):
        if sheet.empty_row(row):
            continue
        kind, code = sheet.word(row, 1, kinds), sheet.text(row, 2)
        if code is not None and (kind, code) in where:
            sheet.bad(row, 2, "rw_err_duplicate_code", value=code, row=where[(kind, code)])
        where[(kind, code)] = row  # type: ignore[index]
        if kind == "group":
            groups.append({"group": code, "at_least": sheet.number(row, 5, "count"), "label": sheet.text(row, 4),
                           "_row": row})
        elif kind == "criterion":
            when = sheet.text(row, 6)
            if when is not None:
                try:
                    compile_expr(when, names, set())
                except ExprError as exc:
                    sheet.bad(row, 6, "rw_err_condition", error=str(exc), form=form.id)
            criteria.append({"code": code, "group": sheet.text(row, 3), "label": sheet.text(row, 4), "when": when,
                             "_row": row})
    known = {g["group"] for g in groups}
    for c in criteria:
        if c["group"] is not None and c["group"] not in known:
            sheet.bad(c.pop("_row"), 3, "rw_err_unknown_group", value=c["group"], groups=", ".join(sorted(known)))
        c.pop("_row", None)
    for g in groups:
        row = g.pop("_row")
        if g["at_least"] is not None and sum(c["group"] == g["group"] for c in criteria) < g["at_least"]:
            sheet.bad(row, 5, "rw_err_too_few_criteria", n=g["at_least"])
    return {"id": rule_id, "form": form.id, "stop_when": groups, "criteria": criteria}


def sources(sheet: Sheet) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for row in range(2, sheet.max_row + 1):
        if sheet.empty_row(row):
            continue
        part = sheet.text(row, 1)
        if part is None:
            continue
        if part not in PARTS:
            sheet.bad(row, 1, "rw_err_unknown_part", value=part, parts=", ".join(PARTS))
            continue
        if part in out:
            sheet.bad(row, 1, "rw_err_duplicate_part", value=part)
            continue
        lines = [[line.strip() for line in (sheet.text(row, col, required=False) or "").split("\n") if line.strip()]
                 for col in (8, 9)]
        entry = {"status": sheet.word(row, 3, L.status_words()), "document": sheet.text(row, 4, required=False) or "",
                 "date": sheet.day(row, 5) or "", "page": sheet.text(row, 6, required=False) or "",
                 "source": " ".join((sheet.text(row, 7, required=False) or "").split()),
                 "missing": lines[0], "assumptions": lines[1]}
        if entry["status"] == "official":
            for col, key in ((4, "document"), (5, "date")):
                if not entry[key]:
                    sheet.bad(row, col, "rw_err_official_needs", what=t(f"rw_col_{key}"))
            if entry["missing"]:
                sheet.bad(row, 8, "rw_err_official_missing")
        if entry["status"] == "assumption" and not (entry["missing"] or entry["assumptions"]):
            sheet.bad(row, 8, "rw_err_assumption_says")
        out[part] = entry
    for part in PARTS:
        if part not in out:
            sheet.bad(None, None, "rw_err_part_missing", part=part, label=t(f"rw_part_{part}"))
    return out
