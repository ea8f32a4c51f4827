"""The Word documents of the procedure, filled from the database: the chairman's decision with
its four lists (Mẫu số 02), the certificates (Mẫu số 03, one page per household) and the
minutes of the village meeting. The layout is the templates' (core/documents/templates/); this
module only says what goes into them."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.documents import dated, unit_words, write_document
from core.i18n import fmt_date, fmt_number, t
from core.procedure.documents import DECISION_LISTS, Entry, class_words, start_words
from core.procedure.provisional import Override, mark_for
from core.procedure.screening import procedure
from core.storage.models import Household, Unit
from core.surveys.model import Question, Survey


async def _province(s: AsyncSession, unit: Unit) -> Unit | None:
    current: Unit | None = unit
    while current is not None and current.level != "province":
        current = await s.get(Unit, current.parent_id) if current.parent_id else None
    return current


def _row(n: int, e: Entry) -> dict[str, Any]:
    return {"no": n, "head": e.household.head_name or None, "village": e.village,
            "members": e.household.member_count, "before": start_words(e.start_class),
            "after": class_words(e.final_class) if e.final_class else t("list_prior_none")}


async def decision(s: AsyncSession, commune: Unit, entries: Sequence[Entry], number: str, day: date, year: int,
                   path: Path, signed: Sequence[Override] = ()) -> Path:
    """The decision and its four lists, each list numbered from 1; «TẠM TÍNH» under the
    title and each list's when a household was classified with provisional rules (`signed`:
    the province's overrides that let it be issued)."""
    words, province = unit_words(commune), await _province(s, commune)
    higher = procedure().higher_on(day)
    lists = {name: [_row(n, e) for n, e in enumerate((e for e in entries if keep(e)), 1)]
             for name, _, keep in DECISION_LISTS}
    context = {"commune": words.sentence, "place": words.place, "dated": dated(day), "date": fmt_date(day),
               "number": number, "year": year, "opinion_by": higher.title if higher else None,
               "higher": t("doc_w_higher", province=unit_words(province).sentence) if province else None,
               "signer": None, "mark": mark_for([e.household for e in entries], signed) or None, **lists}
    return await asyncio.to_thread(write_document, "quyet_dinh_cong_nhan", context, path)


class _Labels:
    """Choice answers in the words of the household's form (Tày, Nữ, Con…)."""

    def __init__(self, survey: Survey | None) -> None:
        self.questions: dict[str, Question] = {}
        self.group = "tv"
        if survey is not None:
            self.questions = {q.id: q for q in survey.household_questions()}
            self.questions |= {q.id: q for g in survey.groups() for q in g.questions}
            self.group = survey.groups()[0].id if survey.groups() else self.group

    def __call__(self, qid: str, value: Any) -> Any:
        if value is None or value == "":
            return None
        q = self.questions.get(qid)
        choice = q.choice(str(value)) if q is not None else None
        return choice.label if choice else value


def _members(h: Household, answers: dict[str, Any], label: _Labels) -> list[dict[str, Any]]:
    g = label.group
    count = answers.get("so_thanh_vien") or h.member_count or 0
    return [{"no": i, "name": h.head_name if i == 1 else answers.get(f"{g}.{i}.ho_ten"),
             "sex": label("gioi_tinh", answers.get(f"{g}.{i}.gioi_tinh")),
             "born": answers.get(f"{g}.{i}.nam_sinh"),
             "relation": t("doc_w_head") if i == 1 else label("quan_he", answers.get(f"{g}.{i}.quan_he"))}
            for i in range(1, int(count) + 1)]


async def certificates(s: AsyncSession, commune: Unit, entries: Sequence[Entry], number: str, day: date,
                       year: int, forms: dict[str, Survey], path: Path, signed: Sequence[Override] = ()) -> Path:
    """One certificate per poor or near-poor household of the decision, «TẠM TÍNH» on the
    page of a household classified with provisional rules."""
    words, province = unit_words(commune), await _province(s, commune)
    pages = []
    for e in entries:
        if e.final_class not in ("poor", "near_poor"):
            continue
        h, a = e.household, e.answers
        label = _Labels(forms.get(h.survey_id))
        address = [a.get("dia_chi"), e.village, words.sentence, unit_words(province).sentence if province else None]
        pages.append({"number": h.id, "head": h.head_name or None,
                      "ethnicity": label("dan_toc", a.get("dan_toc") or h.ethnicity),
                      "id_number": a.get("chu_ho_cccd") or None, "id_issued": None,
                      "address": ", ".join(str(x) for x in address if x), "kind": t(f"list_outcome_{e.final_class}"),
                      "poor_mark": t("doc_w_mark") if e.final_class == "poor" else "",
                      "near_poor_mark": t("doc_w_mark") if e.final_class == "near_poor" else "",
                      "members": _members(h, a, label), "mark": mark_for([h], signed) or None})
    context = {"commune": words.sentence, "place": words.place, "dated": dated(day), "year": year,
               "decision_number": number, "decision_date": fmt_date(day), "signer": None, "households": pages}
    # a few seconds for hundreds of pages (docxtpl): off the event loop, so other chats go on
    return await asyncio.to_thread(write_document, "giay_chung_nhan", context, path)


@dataclass(frozen=True)
class Vote:
    household: Household
    agree: int
    passed: bool


def meeting_minutes(commune: Unit, village: Unit, held_on: date, attendees: int, votes: Sequence[Vote], chair: str,
                    year: int, path: Path) -> Path:
    """The minutes of a village meeting as recorded with /hopdan, to print and sign; what the
    chat was not told (where, the secretary, the guests, the opinions) is left as marked blanks."""
    village_words = unit_words(village)
    rows = [{"no": n, "head": v.household.head_name or None, "result": class_words(v.household.outcome),
             "agree": v.agree, "percent": fmt_number(round(100 * v.agree / attendees, 2)),
             "verdict": t("doc_w_passed" if v.passed else "doc_w_failed")}
            for n, v in enumerate(votes, 1)]
    context = {"commune": unit_words(commune).sentence, "village": village_words.sentence,
               "village_place": village_words.place, "dated": dated(held_on), "year": year,
               "chair": chair, "attendees": attendees, "min_percent": fmt_number(procedure().min_agreement_percent),
               "passed": sum(v.passed for v in votes), "failed": sum(not v.passed for v in votes),
               "households": rows}
    return write_document("bien_ban_hop_dan", context, path)
