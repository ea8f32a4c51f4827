"""The export for the national poverty-management software. Its import layout was not
available, so this is the project's documented layout (docs/officers.md, "National-software export"):
one CSV line per member of each recognised household, the household's fields, the member's
fields and every answer the form collects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.procedure.documents import national_export
from core.procedure.models import Review, ReviewEvent
from core.procedure.provisional import mark_for, overrides
from core.procedure.start_class import start_class
from core.procedure.steps import Stage
from core.storage.models import Household, Unit
from core.storage.repo import load_answers
from core.surveys.model import Survey


def _plain(value: Any) -> Any:
    if isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return "" if value is None else value


async def national_rows(s: AsyncSession, commune: Unit, survey: Survey, year: int, path: Path) -> int:
    """Writes the file; returns the number of households in it."""
    province = await s.get(Unit, commune.parent_id) if commune.parent_id else None
    while province is not None and province.level != "province" and province.parent_id:
        province = await s.get(Unit, province.parent_id)
    villages = {u.id: u for u in (await s.scalars(select(Unit).where(Unit.parent_id == commune.id))).all()}
    pairs = (await s.execute(select(Household, Review).join(Review, Review.household_id == Household.id).where(
        Household.village_id.in_(villages), Household.review_year == year, Review.stage == Stage.RECOGNISED)
        .order_by(Household.id))).all()
    decisions = {e.id: e for e in (await s.scalars(select(ReviewEvent).where(
        ReviewEvent.id.in_({r.decision_id for _, r in pairs if r.decision_id})))).all()} if pairs else {}
    signed = await overrides(s, year)
    answer_keys = [q.id for q in survey.household_questions()]
    member_keys = [q.id for g in survey.groups() for q in g.questions]
    group = survey.groups()[0].id if survey.groups() else "tv"
    rows = []
    for h, r in pairs:
        a = await load_answers(s, h.id)
        decision = decisions.get(r.decision_id) if r.decision_id else None
        household = {
            "ma_tinh": province.code if province else "", "ma_xa": commune.code or "",
            "thon": villages[h.village_id].name, "ma_ho": h.id, "nam_ra_soat": year,
            "ho_ten_chu_ho": h.head_name or "", "cccd_chu_ho": a.get("chu_ho_cccd") or "",
            "dien_dau_ky": start_class(h, r) or "", "ket_qua_ra_soat": h.outcome or "",
            "dien_cong_nhan": r.final_class or "",
            "so_qd_cong_nhan": (decision.data or {}).get("number", "") if decision else "",
            "ngay_qd_cong_nhan": decision.held_on.isoformat() if decision and decision.held_on else "",
            "diem_b1": _plain(h.b1_score), "diem_b2": "" if h.deprived_count is None else 10 * h.deprived_count,
            "thu_nhap_bq": _plain(h.income_per_capita), "chi_so_thieu_hut": _plain(h.deprived), "khu_vuc": h.area or "",
            "quy_dinh": h.pack_id or "", "phien_ban_quy_dinh": _plain(h.pack_version),
            "ma_bam_quy_dinh": h.pack_digest or "", "tam_tinh": mark_for([h], signed),
        }
        members = []
        for i in range(1, (a.get("so_thanh_vien") or 0) + 1):
            m: dict[str, Any] = {"stt_thanh_vien": i,
                                 "ho_ten_thanh_vien": h.head_name if i == 1 else a.get(f"{group}.{i}.ho_ten", ""),
                                 # the form asks no member ID number: the head's is the only one collected
                                 "cccd_thanh_vien": a.get(f"{group}.{i}.cccd")
                                 or (a.get("chu_ho_cccd") if i == 1 else ""),
                                 "quan_he_chu_ho": "chu_ho" if i == 1 else a.get(f"{group}.{i}.quan_he", "")}
            m.update({f"m_{k}": _plain(a.get(f"{group}.{i}.{k}")) for k in member_keys})
            members.append(m)
        rows.append((household, members or [{"stt_thanh_vien": ""}], [_plain(a.get(k)) for k in answer_keys]))
    national_export(path, rows, answer_keys, member_keys)
    return len(rows)
