"""A province with bound group chats for scheduler tests, and an oracle that says, from the
plan alone, which chats must receive which notice."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from bot.app import ChatApp
from core.chat.messages import ChatRef
from core.plans.model import Plan
from core.plans.timeline import DRAFTS, PHASE_START, REPORT_OVERDUE, Notice
from core.storage.models import GroupBinding, Household, Unit
from core.storage.repo import ensure_user
from core.units.loader import add_village


@dataclass
class Province:
    """Province P, districts D1 and D2, communes C1 and C2 in D1 and C3 in D2, each with a
    group chat; officers of C1 and D1; a village head of C1 with two unfinished surveys."""

    units: dict[int, Unit]
    groups: dict[str, int]  # name -> chat id
    unit_of_group: dict[int, int]  # chat id -> unit id
    ids: dict[str, int]  # name -> unit id
    officers: dict[str, ChatRef]
    head_chat: int
    submitted: dict[tuple[str, int], datetime] = field(default_factory=dict)


async def make_province(service: ChatApp, configuration: str = "200") -> Province:
    async with service.db.transaction() as s:
        units = {u.id: u for u in (await s.scalars(select(Unit).where(Unit.configuration == configuration))).all()}
        province = next(u for u in units.values() if u.level == "province")
        districts = sorted((u for u in units.values() if u.level == "district"), key=lambda u: u.code or "")
        d1, d2 = districts[0], districts[1]
        d1_communes = sorted((u for u in units.values() if u.parent_id == d1.id), key=lambda u: u.code or "")
        d2_communes = sorted((u for u in units.values() if u.parent_id == d2.id), key=lambda u: u.code or "")
        named = {"P": province, "D1": d1, "D2": d2, "C1": d1_communes[0], "C2": d1_communes[1], "C3": d2_communes[0]}
        chats = {"P": -1000, "D1": -2001, "D2": -2002, "C1": -3001, "C2": -3002, "C3": -3003}
        for name, unit in named.items():
            s.add(GroupBinding(channel="telegram", chat_id=str(chats[name]), title=f"Nhóm {unit.name}",
                               unit_id=unit.id))
        village = await add_village(s, named["C1"], "Thôn Nà Cạn")
        units[village.id] = village
        head = await ensure_user(s, "telegram", "9100", "Trưởng thôn Nà Cạn", "village_head", village.id)
        for name in ("Lộc Văn Tư", "Vi Thị Năm"):
            s.add(Household(village_id=village.id, survey_id="phieu_b", survey_version="1", review_year=2023,
                            status="draft", head_name=name, created_by=head.id))
        await ensure_user(s, "telegram", "9001", "Cán bộ xã C1", "commune", named["C1"].id)
        await ensure_user(s, "telegram", "9002", "Cán bộ huyện D1", "district", named["D1"].id)
    return Province(units, chats, {chats[n]: u.id for n, u in named.items()}, {n: u.id for n, u in named.items()},
                    {"C1": ChatRef("telegram", "9001", "9001", "Cán bộ xã C1"),
                     "D1": ChatRef("telegram", "9002", "9002", "Cán bộ huyện D1")}, 9100)


def _ancestor(units: dict[int, Unit], unit: Unit, level: str) -> Unit | None:
    while unit is not None and unit.level != level:
        unit = units.get(unit.parent_id) if unit.parent_id else None  # type: ignore[assignment]
    return unit


def expected_chats(p: Province, plan: Plan, notice: Notice, drafts_left: bool = True) -> set[int]:
    """Written from the plan's rules, independently of scheduler/notices.py."""
    bound = {uid: chat for chat, uid in p.unit_of_group.items()}
    if notice.kind == PHASE_START:
        assert notice.phase is not None
        return {chat for uid, chat in bound.items() if p.units[uid].level in notice.phase.actors}
    if notice.kind == DRAFTS:
        return {p.head_chat} if drafts_left else set()
    request = notice.request
    assert request is not None
    owing = [u for u in p.units.values() if u.level == request.submitter]

    def late(u: Unit) -> bool:
        at = p.submitted.get((request.id, u.id))
        return at is None or at > notice.fire_at

    late_units = [u for u in owing if late(u)]
    chats = {bound[u.id] for u in late_units if u.id in bound}
    if notice.kind == REPORT_OVERDUE:
        receivers = {_ancestor(p.units, u, request.receiver) for u in late_units}
        chats |= {bound[r.id] for r in receivers if r is not None and r.id in bound}
    return chats
