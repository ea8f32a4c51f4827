"""After the meeting: public posting (/niemyet), complaints (/khieunai, /giaiquyet), the opinion
of the level above (/ykien) and the chairman's decision (/congnhan: Mẫu 02 and the certificates
Mẫu 03 as Word documents to sign, the attached lists also in Excel).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time
from pathlib import Path

from sqlalchemy import func, select

from bot.context import TZ, Ctx
from bot.conversations.session import household_of
from bot.routes import COMMUNE, Route, group
from core.access import STAFF, Role, covers
from core.chat import refs
from core.chat.commands import command_button, slash
from core.chat.messages import Button, OutMessage
from core.chat.payloads import PayloadTooLong
from core.i18n import fmt_date, t
from core.messaging import tell_users
from core.plans.desk import ReportDesk
from core.plans.tracking import record
from core.procedure import checks, coverage, documents, paperwork, provisional, queries
from core.procedure.models import Complaint, Review, ReviewEvent
from core.procedure.queries import reviews
from core.procedure.screening import procedure
from core.procedure.steps import Stage, record_step
from core.reports.build import build_report
from core.reports.stage import Basis
from core.reports.stage import Stage as Figures
from core.storage.models import Household, OutboxMessage, Unit, User, utcnow
from core.text import clean_text, fold
from core.units.scope import village_ids, village_names


async def post(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    commune = await ctx.unit()
    if commune is None or commune.level != "commune":
        return [OutMessage(t("proc_commune_only"))]
    ready = await reviews(ctx.s, commune, ctx.settings.review_year, (Stage.AGREED,))
    if not ready:
        return [OutMessage(t("post_nothing", waiting=slash("waiting")))]
    start = ctx.today()
    end = procedure().posting_end(start)
    event = ReviewEvent(unit_id=commune.id, kind="posting", year=ctx.settings.review_year, held_on=start, ends_on=end,
                        data={"households": [h.id for h, _ in ready], "places": list(procedure().posting_places)},
                        user_id=ctx.me.id)
    ctx.s.add(event)
    await ctx.s.flush()
    for household, _ in ready:
        await record_step(ctx.s, household, "posted", ctx.me.id, {"from": start.isoformat(), "to": end.isoformat()},
                          Stage.POSTED, event.id)
    path = documents.posting_list(ctx.data_path("posting", f"niem_yet_{commune.code or commune.id}_{event.id}.xlsx"),
                                  commune, await queries.entries(ctx.s, ready), start, end,
                                  await provisional.overrides(ctx.s, ctx.settings.review_year))
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
    number = refs.number(ref)
    household = await household_of(ctx, ref)
    text = clean_text(text)
    if number is not None and household is None:  # another area's household reads as one that does not exist
        return [OutMessage(t("household_not_found", id=number))]
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
    number = refs.number(words[0]) if words else None
    row = await ctx.s.get(Complaint, number, with_for_update=True) if number is not None else None
    household = await household_of(ctx, str(row.household_id)) if row is not None else None
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
    text = ref.strip().removeprefix("#")  # the commune's code ('6202') or its row id ('#12')
    query = select(Unit).where(Unit.configuration == own.configuration, Unit.level == "commune")
    unit = await ctx.s.scalar(query.where(Unit.code == (refs.digits(text) or text)))
    number = refs.number(text)
    if unit is None and number is not None:
        unit = await ctx.s.get(Unit, number)
    if unit is None or unit.level != "commune" or not await covers(ctx.s, ctx.me, unit.id):
        return None
    return unit


async def opinion(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """'/ykien 6202 nội dung': the level above gives its opinion on a commune's posted list."""
    higher = procedure().higher_on(ctx.today())
    own = await ctx.unit()
    if higher is None or own is None or (ctx.me.role != Role.ADMIN and own.level != higher.level):
        return [OutMessage(t("opinion_not_yours", who=higher.title if higher else "-"))]
    ref, _, text = (arg or "").strip().partition(" ")
    commune = await _commune_arg(ctx, ref) if ref else None
    text = clean_text(text)
    if commune is None or len(text) < 3:
        return [OutMessage(t("opinion_usage", cmd=slash("opinion")))]
    posted = await reviews(ctx.s, commune, ctx.settings.review_year, (Stage.POSTED,))
    if not posted:
        return [OutMessage(t("opinion_nothing", commune=commune.name))]
    last_end = await ctx.s.scalar(select(func.max(ReviewEvent.ends_on)).where(
        ReviewEvent.unit_id == commune.id, ReviewEvent.kind == "posting"))
    if last_end is not None and ctx.today() <= last_end:
        return [OutMessage(t("opinion_posting_running", commune=commune.name, date=fmt_date(last_end)))]
    event = ReviewEvent(unit_id=commune.id, kind="opinion", year=ctx.settings.review_year, held_on=ctx.today(),
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


CONFIRM = "xacnhan"  # '/congnhan SỐ NGÀY xacnhan MÃ': go on without the households named
LEFT_SHOWN = 100  # households named one per line in the chat (about two Telegram messages)


def _confirmation(words: list[str]) -> tuple[list[str], str | None]:
    """The decision's number and date, and the confirmation code typed after «xacnhan»."""
    if len(words) == 4 and fold(words[2]) == CONFIRM:
        return words[:2], words[3].lower()
    return words, None


async def recognise(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """'/congnhan 123/QĐ-UBND 25/11/2026': the chairman's decision (Mẫu 02); blocked by open
    complaints and unconfirmed data-quality findings. When it would not cover every household
    of the commune's review, it names them with their stage and is recorded only after
    '/congnhan 123/QĐ-UBND 25/11/2026 xacnhan MÃ' (the button), the code naming that list."""
    commune = await ctx.unit()
    if commune is None or commune.level != "commune":
        return [OutMessage(t("proc_commune_only"))]
    words, code = _confirmation((arg or "").split())
    day = refs.day(words[1]) if len(words) == 2 else None
    if day is None or day > ctx.today():
        return [OutMessage(t("recognise_usage", cmd=slash("recognise")))]
    number = words[0][:40]
    villages = await village_ids(ctx.s, commune)
    open_complaints = (await ctx.s.scalars(select(Complaint).join(Household, Household.id == Complaint.household_id)
                                            .where(Household.village_id.in_(villages),
                                                   Complaint.resolved_at.is_(None)))).all()
    if open_complaints:
        ids = ", ".join(t("complaint_ref", id=c.id, household=c.household_id) for c in open_complaints)
        return [OutMessage(t("recognise_blocked_complaints", ids=ids, cmd=slash("resolve")))]
    blocking = await checks.blocking(ctx.s, commune, ctx.settings.review_year)
    if blocking:
        return [OutMessage(t("recognise_blocked_checks", n=len(blocking), cmd=slash("checks")))]
    ready = await reviews(ctx.s, commune, ctx.settings.review_year, (Stage.OPINION,))
    if not ready:
        return [OutMessage(t("recognise_nothing", opinion=slash("opinion")))]
    refused = await provisional.refusal(ctx.s, ctx.data.packs, [h for h, _ in ready], ctx.settings.review_year)
    if refused:  # nothing is issued on rules no official text confirms, unless the province signs with them
        return [OutMessage(refused)]
    missing = await coverage.left_out(ctx.s, commune, ctx.settings.review_year)
    names = await village_names(ctx.s, {h.village_id for h, _ in missing})
    left = [(h.id, h.head_name or "-", names.get(h.village_id, ""), _stage(r.stage)) for h, r in missing]
    if missing and code != coverage.confirmation_code(missing):
        return [_ask_to_confirm(number, words[1], len(ready), left, coverage.confirmation_code(missing))]
    event = ReviewEvent(unit_id=commune.id, kind="decision", year=ctx.settings.review_year, held_on=day,
                        data={"number": number, "left_out": [{"household": h.id, "stage": r.stage}
                                                             for h, r in missing]}, user_id=ctx.me.id)
    ctx.s.add(event)
    await ctx.s.flush()
    for household, review in ready:
        review.final_class, review.decision_id = household.outcome, event.id
        await record_step(ctx.s, household, "recognised", ctx.me.id,
                          {"number": number, "date": day.isoformat(), "class": household.outcome},
                          Stage.RECOGNISED, event.id)
    entries = await queries.entries(ctx.s, ready)
    folder = ctx.data_path("decisions", f"{commune.code or commune.id}_{event.id}")
    signed = await provisional.overrides(ctx.s, ctx.settings.review_year)
    lists = documents.decision_lists(folder / "danh_sach_kem_quyet_dinh.xlsx", commune, entries, number, day,
                                     [(head, village, stage) for _, head, village, stage in left], signed)
    year = ctx.settings.review_year
    word = await paperwork.decision(ctx.s, commune, entries, number, day, year, folder / "quyet_dinh_cong_nhan.docx",
                                    signed)
    certs = await paperwork.certificates(ctx.s, commune, entries, number, day, year, ctx.data.forms,
                                         folder / "giay_chung_nhan_mau_03.docx", signed)
    event.file_path = str(lists)
    counts = Counter(e.final_class for e in entries)
    await ctx.s.flush()
    # the commune's official Biểu 7.1, counted from the decision just recorded
    (table,) = await build_report(ctx.s, ctx.data.reports, "7.1", commune, ctx.settings.review_year, folder,
                                  ctx.data.forms, chart=False, basis=Basis(Figures.OFFICIAL))
    if missing:  # the review is not finished: the plan's report waits for a decision covering the rest
        after = t("recognise_left_out_after", n=len(missing), ids=", ".join(f"#{h.id}" for h, _ in missing))
    else:
        after = await _mark_plan_report(ctx, commune, table)
    text = t("recognise_done", number=number, date=fmt_date(day), n=len(ready), poor=counts.get("poor", 0),
             near=counts.get("near_poor", 0), submitted=after)
    return [OutMessage(text), OutMessage(t("doc_w_decision"), document=str(word)),
            OutMessage(t("recognise_certs"), document=str(certs)),
            OutMessage(t("recognise_lists"), document=str(lists)),
            OutMessage(t("recognise_table"), document=str(table))]


def _stage(stage: str) -> str:
    return t(f"proc_stage_{stage}")


def _ask_to_confirm(number: str, day: str, n: int, left: list[tuple[int, str, str, str]], code: str) -> OutMessage:
    """Every household the decision would leave out, by name and stage (the first LEFT_SHOWN;
    /kiemtra and the decision's attached list give them all), and how to go on."""
    lines = [t("recognise_left_out", n=len(left), ready=n)]
    lines += [t("recognise_left_out_line", id=hid, head=head, village=village, stage=stage)
              for hid, head, village, stage in left[:LEFT_SHOWN]]
    if len(left) > LEFT_SHOWN:
        lines.append(t("recognise_left_out_more", n=len(left) - LEFT_SHOWN, checks=slash("checks")))
    arg = f"{number} {day} {CONFIRM} {code}"
    lines.append(t("recognise_left_out_confirm", cmd=f"{slash('recognise')} {arg}"))
    try:
        rows: tuple[tuple[Button, ...], ...] = ((command_button(t("btn_recognise_anyway", n=n), "recognise", arg),),)
    except PayloadTooLong:  # a long decision number: the typed command is in the text
        rows = ()
    return OutMessage("\n".join(lines), rows)


async def _mark_plan_report(ctx: Ctx, commune: Unit, path: Path) -> str:
    """The plan's official-forms request the commune owes (one naming a Biểu 7.x) is marked
    submitted with the commune's official Biểu 7.1."""
    owed = ReportDesk(ctx.data.plans).owed_by(commune, ctx.now())
    pairs = [(p, r) for p, r in owed if any(f.startswith("7.") for f in r.forms)]
    if not pairs:
        return ""
    plan, request = pairs[-1]
    await record(ctx.s, plan, request, commune, ctx.me, ctx.now(), path.name, str(path))
    return t("recognise_submitted", report=request.title)


ROUTES: tuple[Route, ...] = (
    *group((Route("post", post), Route("complaint", complaint), Route("resolve", resolve)),
           roles=COMMUNE, denied="proc_commune_only"),
    # the level above the commune (which one, by date, is the procedure file's): never the commune itself
    Route("opinion", opinion, roles=STAFF - {Role.COMMUNE}, denied="opinion_denied"),
    *group((Route("recognise", recognise),), roles=COMMUNE, denied="proc_commune_only"),
)
