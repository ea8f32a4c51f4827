"""Who receives a notice and what it says, decided when the notice fires (so a unit that has
already submitted is not reminded, and a group bound yesterday is included)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.chat.commands import command_button, slash
from core.chat.messages import Button, OutMessage
from core.i18n import fmt_date, t
from core.inspection.scope import inspected_ids
from core.plans.model import Plan, ReportRequest
from core.plans.timeline import DRAFTS, PHASE_START, REPORT_OVERDUE, Notice
from core.plans.tracking import UnitIndex, groups_of, status
from core.storage.models import Conversation, Household, Unit, User

LIST_LIMIT = 30  # names in one late-list message; the rest are counted


@dataclass(frozen=True)
class Delivery:
    channel: str
    chat_id: str
    message: OutMessage


def submit_button(plan: Plan, request: ReportRequest) -> tuple[tuple[Button, ...], ...]:
    key = plan.request_key(request)
    return ((command_button(t("btn_submitted"), "submit_report", key),),)


async def deliveries(session: AsyncSession, notice: Notice, now: datetime) -> list[Delivery]:
    index = await UnitIndex.load(session, notice.plan.units_configuration)
    if notice.kind == PHASE_START:
        return await _phase_start(session, index, notice)
    if notice.kind == DRAFTS:
        return await _drafts(session, notice)
    return await _report(session, index, notice, now)


async def _to_groups(session: AsyncSession, units: list[Unit],
                     render: Callable[[Unit], OutMessage]) -> list[Delivery]:
    groups = await groups_of(session, [u.id for u in units])
    out: list[Delivery] = []
    for unit in units:
        for binding in groups.get(unit.id, []):
            out.append(Delivery(binding.channel, binding.chat_id, render(unit)))
    return out


async def _phase_start(session: AsyncSession, index: UnitIndex, notice: Notice) -> list[Delivery]:
    phase, plan = notice.phase, notice.plan
    assert phase is not None
    text = t("notice_phase_start", plan=plan.title, phase=phase.title, start=fmt_date(phase.start),
             end=fmt_date(phase.end))
    if phase.note:
        text += "\n" + t("notice_note", note=phase.note)
    units = [u for level in phase.actors for u in index.at_level(level)]
    if phase.inspected_only:
        chosen = await inspected_ids(session, plan.id)
        units = [u for u in units if u.level != "commune" or u.id in chosen]
    return await _to_groups(session, units, lambda _u: OutMessage(text))


async def _report(session: AsyncSession, index: UnitIndex, notice: Notice, now: datetime) -> list[Delivery]:
    plan, request = notice.plan, notice.request
    assert request is not None
    rows = await status(session, index, plan, request)
    missing = [r.unit for r in rows if r.submission is None]
    common = {"report": request.title, "due": fmt_date(request.due), "days": notice.days,
              "submit": slash("submit_report"), "code": plan.request_key(request),
              "submitter": t(f"level_{request.submitter}"), "receiver": t(f"level_{request.receiver}")}
    buttons = submit_button(plan, request)
    out = await _to_groups(session, missing, lambda u: OutMessage(
        t(f"notice_{notice.kind}", unit=u.name, **common), buttons))
    if notice.kind == REPORT_OVERDUE:
        out += await _late_lists(session, index, notice, missing, common)
    return out


async def _late_lists(session: AsyncSession, index: UnitIndex, notice: Notice, missing: list[Unit],
                      common: dict[str, object]) -> list[Delivery]:
    """Escalation: the receiving unit's group learns which of its units are late."""
    request = notice.request
    assert request is not None
    late_by_receiver: dict[int, list[Unit]] = {}
    for unit in missing:
        receiver = index.ancestor_at(unit, request.receiver)
        if receiver is not None:
            late_by_receiver.setdefault(receiver.id, []).append(unit)
    receivers = [index.by_id[i] for i in late_by_receiver]

    def render(receiver: Unit) -> OutMessage:
        late = late_by_receiver[receiver.id]
        total = len(index.at_level(request.submitter, receiver))
        lines = [t("notice_report_late_list", **{**common, "receiver": receiver.name}, late=len(late), total=total)]
        lines += [f"  • {u.name}" for u in late[:LIST_LIMIT]]
        if len(late) > LIST_LIMIT:
            lines.append(t("notice_late_more", n=len(late) - LIST_LIMIT, track=slash("track"), code=common["code"]))
        return OutMessage("\n".join(lines))

    return await _to_groups(session, receivers, render)


async def _drafts(session: AsyncSession, notice: Notice) -> list[Delivery]:
    """Village heads with unfinished surveys of the plan's year, in their private chats."""
    phase, plan = notice.phase, notice.plan
    assert phase is not None
    rows = (await session.execute(
        select(Household.id, Household.head_name, Household.created_by)
        .join(Unit, Household.village_id == Unit.id)
        .where(Household.status == "draft", Household.review_year == plan.year,
               Unit.configuration == plan.units_configuration, Household.created_by.is_not(None))
        .order_by(Household.created_by, Household.id)
    )).all()
    by_user: dict[int, list[tuple[int, str | None]]] = {}
    for hid, head, uid in rows:
        by_user.setdefault(uid, []).append((hid, head))
    out: list[Delivery] = []
    for user in (await session.scalars(select(User).where(User.id.in_(list(by_user))))).all():
        drafts = by_user[user.id]
        chat = await session.scalar(select(Conversation.chat_id).where(
            Conversation.user_id == user.id, Conversation.channel == user.channel)
            .order_by(Conversation.updated_at.desc()).limit(1))
        lines = [t("notice_drafts", phase=phase.title, end=fmt_date(phase.end), count=len(drafts))]
        lines += [f"  • #{hid} {head or t('value_missing')}" for hid, head in drafts[:LIST_LIMIT]]
        if len(drafts) > LIST_LIMIT:
            lines.append(t("notice_drafts_more", n=len(drafts) - LIST_LIMIT, list=slash("list")))
        lines.append(t("notice_drafts_tail", open=slash("open")))
        out.append(Delivery(user.channel, chat or user.external_id, OutMessage("\n".join(lines))))
    return out
