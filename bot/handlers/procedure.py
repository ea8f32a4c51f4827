"""The review procedure in chat (QĐ 24/2021 Art. 4): last year's list (/nhapds), applications
(/dondenghi, Mẫu 01) and requests to leave (/xinthoat, Mẫu 04), Phiếu A before Phiếu B
(/phieua, /phieub), the village meeting (/hopdan), public posting (/niemyet), complaints
(/khieunai, /giaiquyet), the opinion of the level above (/ykien), the decision (/congnhan),
data-quality checks (/kiemtra), what waits for me (/viecchotoi), photos and locations of a
household, and the national-software export (/xuatdl).

Every step writes a `review_steps` row and an audit row (core/procedure/steps.py) in the
update's transaction, so the reply is only sent for a step that was committed.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections import Counter
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.context import Ctx
from core.access import Action, Role, can, covers
from core.classification.pack import pack_for_year
from core.classification.screening import explain, screen
from core.conversation.commands import command_button, slash
from core.conversation.engine import SUBMITTED, EngineState, SurveyEngine
from core.conversation.messages import OutMessage
from core.households import Status
from core.i18n import fmt_date, t
from core.messaging import tell_users
from core.procedure import checks, documents
from core.procedure.importer import DEFAULT, ImportFailed
from core.procedure.importer import import_list as run_import
from core.procedure.models import Complaint, HouseholdFile, Review, ReviewEvent
from core.procedure.screening import phieu_a, procedure
from core.procedure.steps import Origin, Stage, record_step, review_of
from core.storage.models import Household, OutboxMessage, Unit, User, utcnow
from core.storage.repo import audit, load_answers, save_answer
from core.surveys.text import clean_text
from core.units.tree import commune_of

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
ERRORS_SHOWN = 40
REASON_MAX = 300
MINUTES = "meeting_minutes"  # the chat waits for the photo of a meeting's minutes
DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")


def _today(ctx: Ctx) -> date:
    return ctx.now().astimezone(TZ).date()


def _date(text: str) -> date | None:
    m = DATE.match(text.strip())
    if not m:
        return None
    try:
        return date(int(m[3]), int(m[2]), int(m[1]))
    except ValueError:
        return None


def _number(text: str | None) -> int | None:
    ref = (text or "").strip().lstrip("#")
    return int(ref) if ref.isascii() and ref.isdigit() and len(ref) < 10 else None


async def _household(ctx: Ctx, ref: str | None) -> Household | None:
    """A household of the user's area, locked; None for another area's (never named)."""
    number = _number(ref)
    if number is None:
        return None
    household = await ctx.s.get(Household, number, with_for_update=True)
    if household is None or not await covers(ctx.s, ctx.me, household.village_id):
        return None
    return household


async def _villages(ctx: Ctx, unit: Unit) -> list[int]:
    if unit.level == "village":
        return [unit.id]
    return list((await ctx.s.scalars(select(Unit.id).where(Unit.parent_id == unit.id))).all())


async def _reviews(ctx: Ctx, unit: Unit, stages: tuple[Stage, ...] | None = None) -> list[tuple[Household, Review]]:
    query = select(Household, Review).join(Review, Review.household_id == Household.id).where(
        Household.village_id.in_(await _villages(ctx, unit)), Household.review_year == ctx.settings.review_year)
    if stages:
        query = query.where(Review.stage.in_([str(s) for s in stages]))
    return [(h, r) for h, r in (await ctx.s.execute(query.order_by(Household.id))).all()]


def _out_dir(ctx: Ctx, *parts: str) -> Path:
    return Path(ctx.settings.data_dir).joinpath("procedure", *parts)


async def _village_names(ctx: Ctx, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {u.id: u.name for u in (await ctx.s.scalars(select(Unit).where(Unit.id.in_(ids)))).all()}


async def _entries(ctx: Ctx, pairs: list[tuple[Household, Review]]) -> list[documents.Entry]:
    names = await _village_names(ctx, {h.village_id for h, _ in pairs})
    return [documents.Entry(h, names.get(h.village_id, ""), await load_answers(ctx.s, h.id), r.listed_class,
                            r.final_class) for h, r in pairs]


# ----- 1. last year's list ---------------------------------------------------------------------

async def import_list(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    doc = ctx.incoming.document
    commune = await ctx.unit()
    if commune is None or commune.level != "commune":
        return [OutMessage(t("proc_commune_only"))]
    if doc is None:
        return [OutMessage(t("imp_send_file", cmd=slash("import_list")))]
    survey = ctx.data.forms["phieu_b"]
    area = pack_for_year(ctx.data.packs, ctx.settings.review_year).area_of(commune.kind)
    try:
        created = await run_import(ctx.s, Path(doc.path), commune, survey, ctx.settings.review_year, area,
                                   ctx.me.id, DEFAULT)
    except ImportFailed as exc:
        lines = [t("imp_failed", file=doc.name, n=len(exc.errors))]
        lines += [f"• {e}" for e in exc.errors[:ERRORS_SHOWN]]
        if len(exc.errors) > ERRORS_SHOWN:
            lines.append(t("imp_more_errors", n=len(exc.errors) - ERRORS_SHOWN))
        return [OutMessage("\n".join(lines))]
    per_village = Counter(h.village_id for h in created)
    names = await _village_names(ctx, set(per_village))
    heads = (await ctx.s.scalars(select(User.id).where(User.unit_id.in_(per_village), User.role == Role.VILLAGE_HEAD,
                                                       User.disabled_at.is_(None)))).all()
    await tell_users(ctx.s, heads, f"import/{commune.id}", OutMessage(t("imp_notice_heads", waiting=slash("waiting"))))
    lines = [t("imp_done", file=doc.name, n=len(created))]
    lines += [t("imp_done_village", village=names[v], n=n) for v, n in per_village.items()]
    return [OutMessage("\n".join(lines))]


# ----- 2. applicants, requests to leave, Phiếu A ------------------------------------------------

async def apply(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """Mẫu số 01: 'Họ tên chủ hộ | lý do' (a village head), 'Thôn | Họ tên | lý do' (an officer)."""
    unit = await ctx.unit()
    parts = [clean_text(p) for p in (arg or "").split("|")]
    officer = ctx.me.role == Role.COMMUNE
    if unit is None or len(parts) != (3 if officer else 2) or not all(parts):
        return [OutMessage(t("apply_usage_commune" if officer else "apply_usage", cmd=slash("apply")))]
    if officer:
        village = await ctx.s.scalar(select(Unit).where(Unit.parent_id == unit.id, Unit.level == "village",
                                                        func.lower(Unit.name) == parts[0].lower()))
        if village is None:
            return [OutMessage(t("apply_no_village", village=parts[0], commune=unit.name))]
        parts = parts[1:]
    else:
        village = unit
    name, reason = parts[0][:200], parts[1][:REASON_MAX]
    survey = phieu_a()[0]
    commune = await commune_of(ctx.s, village)
    household = Household(village_id=village.id, survey_id=survey.id, survey_version=survey.version,
                          review_year=ctx.settings.review_year, status=Status.DRAFT, head_name=name,
                          created_by=ctx.me.id,
                          area=pack_for_year(ctx.data.packs, ctx.settings.review_year).area_of(
                              commune.kind if commune else "Xã"))
    ctx.s.add(household)
    await ctx.s.flush()
    await audit(ctx.s, household.id, "create", ctx.me.id, {"survey": survey.key, "village": village.name,
                                                          "application": "Mẫu số 01"})
    await save_answer(ctx.s, household.id, survey.head_name or "chu_ho_ten", None, name, ctx.me.id)
    ctx.s.add(Review(household_id=household.id, origin=Origin.APPLICANT, stage=Stage.APPLIED, listed_class=None))
    await ctx.s.flush()
    await record_step(ctx.s, household, "applied", ctx.me.id, {"form": "Mẫu số 01", "reason": reason,
                                                              "on": _today(ctx).isoformat()})
    button = command_button(t("btn_screen"), "screen", str(household.id))
    return [OutMessage(t("apply_done", id=household.id, head=name, village=village.name, cmd=slash("screen")),
                       ((button,),))]


async def leave(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """Mẫu số 04: a listed household asks to leave the list; Phiếu A comes first."""
    ref, _, reason = (arg or "").partition("|")
    household = await _household(ctx, ref)
    reason = clean_text(reason)
    if household is None or not reason:
        return [OutMessage(t("leave_usage", cmd=slash("leave")))]
    review = await ctx.s.get(Review, household.id, with_for_update=True)
    if review is None or review.stage != Stage.LISTED:
        return [OutMessage(t("leave_not_listed", id=household.id))]
    await record_step(ctx.s, household, "leave_request", ctx.me.id,
                      {"form": "Mẫu số 04", "reason": reason[:REASON_MAX]}, Stage.LEAVE)
    button = command_button(t("btn_screen"), "screen", str(household.id))
    return [OutMessage(t("leave_done", id=household.id, cmd=slash("screen")), ((button,),))]


async def _switch_form(ctx: Ctx, household: Household, form_id: str) -> list[OutMessage]:
    """Open this household in the chat on another form, keeping every answer given (both forms
    share the identification questions)."""
    from bot.conversations.survey import conversation, engine_for

    survey = phieu_a()[0] if form_id == phieu_a()[0].id else ctx.data.forms[form_id]
    household.survey_id, household.survey_version = survey.id, survey.version
    conv = await conversation(ctx)
    conv.household_id, conv.state = household.id, None
    step = engine_for(ctx, household).start(await load_answers(ctx.s, household.id), EngineState())
    household.state = step.state.to_json()
    intro = OutMessage(t("new_household", id=household.id, title=survey.title, village="-", area="-",
                         back=slash("back"), pause=slash("pause")).splitlines()[0])
    return [intro, *step.messages]


async def _village_head_of(ctx: Ctx, household: Household) -> bool:
    village = await ctx.s.get(Unit, household.village_id)
    return village is not None and await can(ctx.s, ctx.me, Action.SURVEY, village)


async def screen_household(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    household = await _household(ctx, arg)
    if household is None:
        return [OutMessage(t("screen_usage", cmd=slash("screen")))]
    review = await ctx.s.get(Review, household.id, with_for_update=True)
    if review is None or review.stage not in (Stage.APPLIED, Stage.LEAVE):
        return [OutMessage(t("screen_not_due", id=household.id))]
    if not await _village_head_of(ctx, household):
        return [OutMessage(t("only_village_heads_survey"))]
    return await _switch_form(ctx, household, phieu_a()[0].id)


async def screened(ctx: Ctx, household: Household, engine: SurveyEngine, answers: dict[str, Any]) -> list[OutMessage]:
    """Phiếu A submitted: the stop rule decides whether Phiếu B follows (called by the survey
    session in place of classification)."""
    result = screen(phieu_a()[1], engine.view(answers))
    review = await review_of(ctx.s, household, Origin.APPLICANT, Stage.APPLIED)
    data = {"go_on": result.go_on, "met": [c.code for c in result.met], "rule": phieu_a()[1].id}
    household.state = EngineState(mode=SUBMITTED).to_json()
    if result.go_on:
        await record_step(ctx.s, household, "screened", ctx.me.id, data, Stage.SURVEYING)
        button = command_button(t("btn_phieu_b"), "survey_b", str(household.id))
        return [OutMessage(explain(result)), OutMessage(t("screen_go_on", id=household.id, cmd=slash("survey_b")),
                                                        ((button,),))]
    # a listed household that asked to leave and was stopped is an escaping household: the
    # village meeting decides on it; an applicant stopped by Phiếu A ends here
    leaving = review.listed_class in ("poor", "near_poor")
    await record_step(ctx.s, household, "screened", ctx.me.id, data, Stage.SURVEYED if leaving else Stage.SCREENED_OUT)
    household.status, household.outcome = Status.SUBMITTED, "not_poor"
    household.submitted_at = household.updated_at = utcnow()
    household.prior_class = review.listed_class or "none"
    return [OutMessage(explain(result)), OutMessage(t("screen_stopped", id=household.id))]


async def survey_b(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    household = await _household(ctx, arg)
    review = await ctx.s.get(Review, household.id, with_for_update=True) if household else None
    if household is None or review is None or review.stage != Stage.SURVEYING or household.survey_id == "phieu_b":
        return [OutMessage(t("survey_b_not_due", cmd=slash("screen")))]
    if not await _village_head_of(ctx, household):
        return [OutMessage(t("only_village_heads_survey"))]
    return await _switch_form(ctx, household, "phieu_b")


async def surveyed(ctx: Ctx, household: Household) -> None:
    """Phiếu B submitted (first time or again): the household waits for the village meeting,
    or goes straight to posting when its class is unchanged and the procedure votes only on
    changes."""
    origin = Origin.LIST if household.prior_class in ("poor", "near_poor") else Origin.SURVEY
    review = await review_of(ctx.s, household, origin, Stage.SURVEYING)
    if review.stage in (Stage.POSTED, Stage.OPINION, Stage.RECOGNISED):
        return  # corrected after posting: stays where it is, the change is in the audit log
    before = review.listed_class or household.prior_class or "none"
    unchanged = household.outcome == before and before in ("poor", "near_poor")
    stage = Stage.AGREED if unchanged and procedure().vote_on == "changed" else Stage.SURVEYED
    await record_step(ctx.s, household, "surveyed", ctx.me.id, {"outcome": household.outcome, "before": before},
                      stage)


# ----- 3. the village meeting -----------------------------------------------------------------

async def meeting(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """'/hopdan 20/10/2026 40 12=30 13=18': date, attendees, then household=agreeing for each."""
    village = await ctx.unit()
    if village is None or village.level != "village":
        return [OutMessage(t("only_village_heads_survey"))]
    waiting = await _reviews(ctx, village, (Stage.SURVEYED,))
    words = (arg or "").split()
    if len(words) < 3:
        lines = [t("meeting_usage", cmd=slash("meeting"), pct=f"{procedure().min_agreement_percent:g}")]
        lines += [t("proc_household_line", id=h.id, head=h.head_name or "-", outcome=t(f"outcome_{h.outcome}"))
                  for h, _ in waiting]
        return [OutMessage("\n".join(lines if waiting else [t("meeting_nothing")]))]
    held_on = _date(words[0])
    attendees = _number(words[1])
    votes: dict[int, int] = {}
    for word in words[2:]:
        hid, _, agree = word.partition("=")
        if _number(hid) is None or _number(agree) is None:
            return [OutMessage(t("meeting_bad_vote", word=word[:30], cmd=slash("meeting")))]
        votes[int(hid.lstrip("#"))] = int(agree)
    if held_on is None or held_on > _today(ctx) or not attendees:
        return [OutMessage(t("meeting_bad_head", cmd=slash("meeting")))]
    by_id = {h.id: (h, r) for h, r in waiting}
    unknown = [str(h) for h in votes if h not in by_id]
    if unknown:
        return [OutMessage(t("meeting_unknown", ids=", ".join(unknown)))]
    too_many = [str(h) for h, n in votes.items() if n > attendees]
    if too_many:
        return [OutMessage(t("meeting_too_many", ids=", ".join(too_many), n=attendees))]
    event = ReviewEvent(unit_id=village.id, kind="meeting", year=ctx.settings.review_year, held_on=held_on,
                        data={"attendees": attendees, "votes": {str(k): v for k, v in votes.items()},
                              "min_percent": procedure().min_agreement_percent}, user_id=ctx.me.id)
    ctx.s.add(event)
    await ctx.s.flush()
    lines = [t("meeting_done", date=fmt_date(held_on), n=attendees)]
    for hid, agree in votes.items():
        household, _ = by_id[hid]
        passed = procedure().agreed(agree, attendees)
        data = {"agree": agree, "attendees": attendees, "passed": passed, "held_on": held_on.isoformat()}
        await record_step(ctx.s, household, "meeting", ctx.me.id, data, Stage.AGREED if passed else Stage.RESURVEY,
                          event.id)
        if not passed:
            household.reopened_at, household.reopened_by = utcnow(), ctx.me.id
            household.reopen_reason = t("meeting_reopen_reason")[:300]
        lines.append(t("meeting_passed" if passed else "meeting_failed", id=hid, head=household.head_name or "-",
                       agree=agree, n=attendees))
    from bot.conversations.survey import conversation

    conv = await conversation(ctx)
    conv.state = {"await": MINUTES, "event": event.id}
    lines.append(t("meeting_send_minutes"))
    return [OutMessage("\n".join(lines))]


# ----- 4. posting, complaints, opinion, decision -------------------------------------------------

async def post(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    commune = await ctx.unit()
    if commune is None or commune.level != "commune":
        return [OutMessage(t("proc_commune_only"))]
    ready = await _reviews(ctx, commune, (Stage.AGREED,))
    if not ready:
        return [OutMessage(t("post_nothing", waiting=slash("waiting")))]
    start = _today(ctx)
    end = procedure().posting_end(start)
    event = ReviewEvent(unit_id=commune.id, kind="posting", year=ctx.settings.review_year, held_on=start, ends_on=end,
                        data={"households": [h.id for h, _ in ready], "places": list(procedure().posting_places)},
                        user_id=ctx.me.id)
    ctx.s.add(event)
    await ctx.s.flush()
    for household, _ in ready:
        await record_step(ctx.s, household, "posted", ctx.me.id, {"from": start.isoformat(), "to": end.isoformat()},
                          Stage.POSTED, event.id)
    path = documents.posting_list(_out_dir(ctx, "posting", f"niem_yet_{commune.code or commune.id}_{event.id}.xlsx"),
                                  commune, await _entries(ctx, ready), start, end)
    event.file_path = str(path)
    # the reminder when the period ends, sent by the scheduler's outbox on that day
    if ctx.me.chat_id:
        reminder = OutMessage(t("post_reminder", commune=commune.name, date=fmt_date(end), opinion=slash("opinion")))
        ctx.s.add(OutboxMessage(notice_key=f"posting/{event.id}", channel=ctx.me.channel, chat_id=ctx.me.chat_id,
                                message=reminder.to_json(),
                                next_attempt_at=datetime.combine(end, time(17, 0), TZ)))
    text = t("post_done", n=len(ready), start=fmt_date(start), end=fmt_date(end), days=procedure().posting_days,
             places=", ".join(procedure().posting_places))
    return [OutMessage(text, document=str(path))]


async def complaint(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    ref, _, text = (arg or "").strip().partition(" ")
    household = await _household(ctx, ref)
    text = clean_text(text)
    if household is None or len(text) < 3:
        return [OutMessage(t("complaint_usage", cmd=slash("complaint")))]
    review = await ctx.s.get(Review, household.id)
    if review is not None and review.stage == Stage.RECOGNISED:
        return [OutMessage(t("complaint_too_late", id=household.id))]
    row = Complaint(household_id=household.id, text=text[:500], user_id=ctx.me.id, at=utcnow())
    ctx.s.add(row)
    await ctx.s.flush()
    await record_step(ctx.s, household, "complaint", ctx.me.id, {"complaint": row.id, "text": text[:500]})
    return [OutMessage(t("complaint_done", id=row.id, household=household.id, cmd=slash("resolve")))]


async def resolve(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """'/giaiquyet 3 bac lý do' (dismissed) or '/giaiquyet 3 rasoat lý do' (survey again)."""
    words = (arg or "").split(maxsplit=2)
    number = _number(words[0]) if words else None
    row = await ctx.s.get(Complaint, number, with_for_update=True) if number is not None else None
    household = await _household(ctx, str(row.household_id)) if row is not None else None
    how = words[1].lower() if len(words) > 1 else ""
    reason = clean_text(words[2]) if len(words) > 2 else ""
    if row is None or household is None or how not in ("bac", "bác", "rasoat", "ràsoát") or len(reason) < 3:
        return [OutMessage(t("resolve_usage", cmd=slash("resolve")))]
    if row.resolved_at is not None:
        return [OutMessage(t("resolve_already", id=row.id))]
    resolution = "dismissed" if how.startswith("b") else "resurvey"
    row.resolved_at, row.resolved_by, row.resolution, row.reason = utcnow(), ctx.me.id, resolution, reason[:500]
    stage = None
    if resolution == "resurvey":
        stage = Stage.RESURVEY
        household.reopened_at, household.reopened_by = utcnow(), ctx.me.id
        household.reopen_reason = t("complaint_reopen_reason", id=row.id)[:300]
    await record_step(ctx.s, household, "complaint_done", ctx.me.id,
                      {"complaint": row.id, "resolution": resolution, "reason": reason[:500]}, stage)
    return [OutMessage(t(f"resolve_{resolution}", id=row.id, household=household.id))]


async def _commune_arg(ctx: Ctx, ref: str) -> Unit | None:
    own = await ctx.unit()
    if own is None:
        return None
    ref = ref.strip().lstrip("#")
    query = select(Unit).where(Unit.configuration == own.configuration, Unit.level == "commune")
    unit = await ctx.s.scalar(query.where(Unit.code == ref))
    if unit is None and _number(ref) is not None:
        unit = await ctx.s.get(Unit, int(ref))
    if unit is None or unit.level != "commune" or not await covers(ctx.s, ctx.me, unit.id):
        return None
    return unit


async def opinion(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """'/ykien 6202 nội dung': the level above gives its opinion on a commune's posted list."""
    higher = procedure().higher_on(_today(ctx))
    own = await ctx.unit()
    if higher is None or own is None or (ctx.me.role != Role.ADMIN and own.level != higher.level):
        return [OutMessage(t("opinion_not_yours", who=higher.title if higher else "-"))]
    ref, _, text = (arg or "").strip().partition(" ")
    commune = await _commune_arg(ctx, ref) if ref else None
    text = clean_text(text)
    if commune is None or len(text) < 3:
        return [OutMessage(t("opinion_usage", cmd=slash("opinion")))]
    posted = await _reviews(ctx, commune, (Stage.POSTED,))
    if not posted:
        return [OutMessage(t("opinion_nothing", commune=commune.name))]
    last_end = await ctx.s.scalar(select(func.max(ReviewEvent.ends_on)).where(
        ReviewEvent.unit_id == commune.id, ReviewEvent.kind == "posting"))
    if last_end is not None and _today(ctx) <= last_end:
        return [OutMessage(t("opinion_posting_running", commune=commune.name, date=fmt_date(last_end)))]
    event = ReviewEvent(unit_id=commune.id, kind="opinion", year=ctx.settings.review_year, held_on=_today(ctx),
                        data={"text": text[:500], "level": higher.level, "by_title": higher.title}, user_id=ctx.me.id)
    ctx.s.add(event)
    await ctx.s.flush()
    for household, _ in posted:
        await record_step(ctx.s, household, "opinion", ctx.me.id, {"level": higher.level}, Stage.OPINION, event.id)
    officers = (await ctx.s.scalars(select(User.id).where(User.unit_id == commune.id, User.role == Role.COMMUNE,
                                                          User.disabled_at.is_(None)))).all()
    await tell_users(ctx.s, officers, f"opinion/{event.id}",
                     OutMessage(t("opinion_notice", commune=commune.name, recognise=slash("recognise"))))
    return [OutMessage(t("opinion_done", commune=commune.name, n=len(posted)))]


async def recognise(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """'/congnhan 123/QĐ-UBND 25/11/2026': the chairman's decision (Mẫu 02); blocked by open
    complaints and unconfirmed data-quality findings."""
    commune = await ctx.unit()
    if commune is None or commune.level != "commune":
        return [OutMessage(t("proc_commune_only"))]
    words = (arg or "").split()
    day = _date(words[1]) if len(words) == 2 else None
    if day is None or day > _today(ctx):
        return [OutMessage(t("recognise_usage", cmd=slash("recognise")))]
    number = words[0][:40]
    villages = await _villages(ctx, commune)
    open_complaints = (await ctx.s.scalars(select(Complaint).join(Household, Household.id == Complaint.household_id)
                                            .where(Household.village_id.in_(villages),
                                                   Complaint.resolved_at.is_(None)))).all()
    if open_complaints:
        ids = ", ".join(t("complaint_ref", id=c.id, household=c.household_id) for c in open_complaints)
        return [OutMessage(t("recognise_blocked_complaints", ids=ids, cmd=slash("resolve")))]
    blocking = await checks.blocking(ctx.s, commune, ctx.settings.review_year)
    if blocking:
        return [OutMessage(t("recognise_blocked_checks", n=len(blocking), cmd=slash("checks")))]
    ready = await _reviews(ctx, commune, (Stage.OPINION,))
    if not ready:
        return [OutMessage(t("recognise_nothing", opinion=slash("opinion")))]
    event = ReviewEvent(unit_id=commune.id, kind="decision", year=ctx.settings.review_year, held_on=day,
                        data={"number": number}, user_id=ctx.me.id)
    ctx.s.add(event)
    await ctx.s.flush()
    for household, review in ready:
        review.final_class, review.decision_id = household.outcome, event.id
        await record_step(ctx.s, household, "recognised", ctx.me.id,
                          {"number": number, "date": day.isoformat(), "class": household.outcome},
                          Stage.RECOGNISED, event.id)
    entries = await _entries(ctx, ready)
    folder = _out_dir(ctx, "decisions", f"{commune.code or commune.id}_{event.id}")
    lists = documents.decision_lists(folder / "danh_sach_kem_quyet_dinh.xlsx", commune, entries, number, day)
    certs = documents.certificates(folder / "giay_chung_nhan_mau_03.xlsx", commune, entries, number, day,
                                   ctx.settings.review_year)
    event.file_path = str(lists)
    counts = Counter(e.final_class for e in entries)
    await ctx.s.flush()
    # the commune's official Biểu 7.1, counted from the decision just recorded
    from core.reports.build import build_report
    from core.reports.stage import Basis
    from core.reports.stage import Stage as Figures

    (table,) = await build_report(ctx.s, ctx.data.reports, "7.1", commune, ctx.settings.review_year, folder,
                                  ctx.data.forms, chart=False, basis=Basis(Figures.OFFICIAL))
    submitted = await _mark_plan_report(ctx, commune, table)
    text = t("recognise_done", number=number, date=fmt_date(day), n=len(ready), poor=counts.get("poor", 0),
             near=counts.get("near_poor", 0), submitted=submitted)
    return [OutMessage(text), OutMessage(t("recognise_lists"), document=str(lists)),
            OutMessage(t("recognise_certs"), document=str(certs)),
            OutMessage(t("recognise_table"), document=str(table))]


async def _mark_plan_report(ctx: Ctx, commune: Unit, path: Path) -> str:
    """The plan's official-forms request the commune owes (one naming a Biểu 7.x) is marked
    submitted with the commune's official Biểu 7.1."""
    from bot.handlers.plans import ReportDesk
    from core.plans.tracking import record

    owed = ReportDesk(ctx.data.plans).owed_by(commune, ctx.now())
    pairs = [(p, r) for p, r in owed if any(f.startswith("7.") for f in r.forms)]
    if not pairs:
        return ""
    plan, request = pairs[-1]
    await record(ctx.s, plan, request, commune, ctx.me, ctx.now(), path.name, str(path))
    return t("recognise_submitted", report=request.title)


# ----- 5. data-quality checks -------------------------------------------------------------------

def _short(code: str) -> str:
    return hashlib.sha1(code.encode()).hexdigest()[:10]


async def run_checks(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    commune = await ctx.unit()
    if commune is None or commune.level != "commune":
        return [OutMessage(t("proc_commune_only"))]
    year = ctx.settings.review_year
    words = (arg or "").split()
    every = await checks.findings(ctx.s, commune, year)
    if len(words) == 2 and words[0] == "ok":
        finding = next((f for f in every if _short(f.code) == words[1]), None)
        if finding is None:
            return [OutMessage(t("check_unknown", cmd=slash("checks")))]
        if await checks.confirm(ctx.s, commune, finding.code, ctx.me.id):
            for hid in finding.households:
                household = await ctx.s.get(Household, hid)
                if household is not None and await covers(ctx.s, ctx.me, household.village_id):
                    await record_step(ctx.s, household, "check_ok", ctx.me.id, {"kind": finding.kind})
        return [OutMessage(t("check_confirmed", kind=t(f"check_{finding.kind}", ids=_ids(finding), **finding.params)))]
    open_ = await checks.blocking(ctx.s, commune, year)
    if not every:
        return [OutMessage(t("check_clean", commune=commune.name))]
    lines = [t("check_title", commune=commune.name, n=len(every), open=len(open_))]
    rows = []
    for f in every:
        mark = "⚠️" if f in open_ else "✔️"
        lines.append(f"{mark} {t(f'check_{f.kind}', ids=_ids(f), **f.params)}")
        if f in open_:
            rows.append((command_button(t("btn_check_ok", ids=_ids(f))[:40], "checks", f"ok {_short(f.code)}"),))
    lines.append(t("check_hint"))
    return [OutMessage("\n".join(lines), tuple(rows[:20]))]


def _ids(f: checks.Finding) -> str:
    return ", ".join(f"#{h}" for h in f.households)


# ----- what waits, progress ---------------------------------------------------------------------

async def stage_counts(ctx: Ctx, unit: Unit) -> Counter[str]:
    rows = await ctx.s.execute(select(Review.stage, Household.status, func.count()).join(
        Household, Household.id == Review.household_id).where(
        Household.village_id.in_(await _villages(ctx, unit)) if unit.level in ("village", "commune") else True,
        Household.review_year == ctx.settings.review_year).group_by(Review.stage, Household.status))
    counts: Counter[str] = Counter()
    for stage, status, n in rows.all():
        counts[stage] += n
        if stage == Stage.LISTED and status == Status.DRAFT:
            counts["to_review"] += n
    return counts


async def waiting(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    unit = await ctx.unit()
    if unit is None or unit.level not in ("village", "commune"):
        return [OutMessage(t("waiting_none"))]
    counts = await stage_counts(ctx, unit)
    parts: list[str] = []
    if unit.level == "village":
        keys = (("to_review", "wait_to_review"), (Stage.APPLIED, "wait_applied"), (Stage.LEAVE, "wait_leave"),
                (Stage.SURVEYING, "wait_surveying"), (Stage.SURVEYED, "wait_meeting"),
                (Stage.RESURVEY, "wait_resurvey"))
    else:
        keys = ((Stage.AGREED, "wait_post"), (Stage.POSTED, "wait_opinion"), (Stage.OPINION, "wait_recognise"),
                (Stage.SURVEYED, "wait_meeting"))
    parts += [t(key, n=counts[str(stage)]) for stage, key in keys if counts[str(stage)]]
    if unit.level == "commune":
        complaints = await ctx.s.scalar(select(func.count()).select_from(Complaint).join(
            Household, Household.id == Complaint.household_id).where(
            Household.village_id.in_(await _villages(ctx, unit)), Complaint.resolved_at.is_(None)))
        if complaints:
            parts.append(t("wait_complaints", n=complaints))
        found = await checks.blocking(ctx.s, unit, ctx.settings.review_year)
        if found:
            parts.append(t("wait_checks", n=len(found)))
    if not parts:
        return [OutMessage(t("waiting_nothing", unit=unit.name))]
    return [OutMessage(t("waiting_title", unit=unit.name, items=", ".join(parts)))]


async def progress_lines(ctx: Ctx, unit: Unit) -> list[str]:
    """The procedure's steps for /tiendo: how many households stand at each (counts only)."""
    counts = await stage_counts(ctx, unit)
    photos = await ctx.s.scalar(select(func.count(func.distinct(HouseholdFile.household_id))).join(
        Household, Household.id == HouseholdFile.household_id).where(
        Household.village_id.in_(await _villages(ctx, unit)) if unit.level in ("village", "commune") else True,
        Household.review_year == ctx.settings.review_year, HouseholdFile.kind == "photo"))
    if not counts and not photos:
        return []
    shown = [t(f"stage_{s.value}", n=counts[s.value]) for s in Stage if counts[s.value]]
    official = counts[Stage.RECOGNISED.value]
    lines = [t("progress_steps", steps=", ".join(shown) or "-")]
    lines.append(t("progress_official", official=official, preliminary=sum(counts[s.value] for s in Stage) - official))
    if photos:
        lines.append(t("progress_photos", n=photos))
    return lines


# ----- photos and locations -----------------------------------------------------------------------

async def photo(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """A photo: the minutes of the meeting just recorded, or evidence for the open household."""
    from bot.conversations.survey import conversation

    pic = ctx.incoming.photo
    assert pic is not None
    conv = await conversation(ctx)
    state = conv.state or {}
    if state.get("await") == MINUTES:
        event = await ctx.s.get(ReviewEvent, state.get("event"))
        if event is not None and await covers(ctx.s, ctx.me, event.unit_id):
            target = _out_dir(ctx, "minutes", f"{event.id}.jpg")
            _keep(Path(pic.path), target)
            event.file_path = str(target)
            conv.state = None
            steps = await ctx.s.scalars(select(Household).join(Review, Review.household_id == Household.id).where(
                Household.id.in_([int(k) for k in (event.data or {}).get("votes", {})])))
            for household in steps.all():
                ctx.s.add(HouseholdFile(household_id=household.id, kind="minutes", path=str(target),
                                        user_id=ctx.me.id))
                await audit(ctx.s, household.id, "minutes", ctx.me.id, {"meeting": event.id})
            return [OutMessage(t("minutes_saved", date=fmt_date(event.held_on) if event.held_on else "-"))]
    household = await ctx.s.get(Household, conv.household_id) if conv.household_id else None
    if household is None or not await covers(ctx.s, ctx.me, household.village_id):
        return [OutMessage(t("photo_no_household", open=slash("open")))]
    count = await ctx.s.scalar(select(func.count()).select_from(HouseholdFile).where(
        HouseholdFile.household_id == household.id, HouseholdFile.kind == "photo"))
    target = Path(ctx.settings.data_dir) / "household_files" / str(household.id) / f"{(count or 0) + 1}.jpg"
    _keep(Path(pic.path), target)
    ctx.s.add(HouseholdFile(household_id=household.id, kind="photo", path=str(target), user_id=ctx.me.id))
    await audit(ctx.s, household.id, "photo", ctx.me.id, {"file": target.name})
    return [OutMessage(t("photo_saved", id=household.id, n=(count or 0) + 1))]


def _keep(source: Path, target: Path) -> None:
    """Copied out of the uploads folder (which deletes what no report submission keeps), private
    to this server's user like every upload."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    target.chmod(0o600)


async def location(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    from bot.conversations.survey import conversation

    where = ctx.incoming.location
    assert where is not None
    conv = await conversation(ctx)
    household = await ctx.s.get(Household, conv.household_id) if conv.household_id else None
    if household is None or not await covers(ctx.s, ctx.me, household.village_id):
        return [OutMessage(t("photo_no_household", open=slash("open")))]
    lat, lon = where
    ctx.s.add(HouseholdFile(household_id=household.id, kind="location", latitude=lat, longitude=lon,
                            user_id=ctx.me.id))
    await audit(ctx.s, household.id, "location", ctx.me.id, {"set": True})  # never the coordinates in the log
    return [OutMessage(t("location_saved", id=household.id))]


# ----- national-software export -----------------------------------------------------------------

async def export_national(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    from core.procedure.export import national_rows

    commune = await ctx.unit()
    if commune is None or commune.level != "commune":
        return [OutMessage(t("proc_commune_only"))]
    survey = ctx.data.forms["phieu_b"]
    path = _out_dir(ctx, "exports", f"quoc_gia_{commune.code or commune.id}_{ctx.settings.review_year}.csv")
    n = await national_rows(ctx.s, commune, survey, ctx.settings.review_year, path)
    from core import access_log

    access_log.record(ctx.s, "export", ctx.me, commune.id, detail={"report": "quoc_gia", "rows": n})
    return [OutMessage(t("export_done", n=n), document=str(path))]
