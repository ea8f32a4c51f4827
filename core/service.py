"""The application service every channel calls: one user action in, the reply out.

Each call is one database transaction that (1) records the platform update id, so a
re-delivered update changes nothing and gets the same reply, (2) runs the engine, (3) writes
the answer changes with their audit rows and the conversation state, and commits; only then
does the channel get the messages to send. A crash before the commit loses the whole action
(the platform will re-deliver it); a crash after it loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts import CODE_DAYS, ROLE_LEVEL, AccountError, bind_group, issue_invite, redeem
from core.classification.classify import classify
from core.classification.pack import RulePack, pack_for_year
from core.classification.render import render
from core.config import Settings
from core.conversation.commands import parse_command, parse_payload, payload, slash
from core.conversation.engine import SUBMITTED, EngineState, Step, SurveyEngine
from core.conversation.messages import Button, Command, Incoming, OutMessage, Reply
from core.i18n import catalog, t
from core.plans.desk import ReportDesk
from core.plans.model import Plan
from core.reports.build import Catalogue, build_report, progress
from core.storage.db import Database
from core.storage.models import Conversation, Household, ProcessedUpdate, Unit, User, utcnow
from core.storage.repo import audit, ensure_user, households_in, load_answers, save_answer, unit_of, user_covers
from core.surveys.evaluate import outputs
from core.surveys.model import Survey
from core.surveys.parsing import clean_text, fold
from core.units.loader import add_village, commune_of
from core.units.tree import children

log = logging.getLogger(__name__)
DELIVERY_FLUSH = 1.0  # seconds between writes of delivery marks
PRIOR_CLASSES = {"ngheo": "poor", "can_ngheo": "near_poor", "khong": "none"}
SURVEY_COMMANDS = {"pause", "resume", "back", "skip", "keep", "review", "confirm", "edit"}


@dataclass(frozen=True)
class ChatRef:
    """Who is talking, on which channel and in which chat."""

    channel: str
    chat_id: str
    user_external_id: str
    display_name: str = ""
    is_group: bool = False
    title: str | None = None


Notify = Callable[[OutMessage], Awaitable[None]]
Later = list[Callable[[], Awaitable[list[OutMessage]]]]


class SurveyService:
    def __init__(self, db: Database, settings: Settings, forms: dict[str, Survey], packs: list[RulePack],
                 reports: Catalogue | None = None, plans: list[Plan] | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.db = db
        self.settings = settings
        self.forms = forms
        self.packs = packs
        self.reports = reports or Catalogue.load()
        self.plans = plans or []
        self.desk = ReportDesk(self.plans)
        self.clock = clock or (lambda: datetime.now(UTC))
        self._delivered: dict[str, set[str]] = {}
        self._flusher: asyncio.Task[None] | None = None

    # ----- public -------------------------------------------------------------------------

    async def handle(self, chat: ChatRef, incoming: Incoming, notify: Notify | None = None) -> Reply:
        """`notify` lets a channel show interim messages (e.g. 'working on your report') at once."""
        try:
            return await self._handle(chat, incoming, notify)
        except IntegrityError:
            # A concurrent delivery of the same update committed first: answer as a duplicate.
            if incoming.update_id is not None:
                stored = await self._stored_reply(chat, incoming.update_id)
                if stored is not None:
                    return stored
            log.exception("integrity error handling %s", incoming)
            return Reply([OutMessage(t("internal_error"))])
        except Exception:
            log.exception("error handling %s from %s", incoming, chat)
            return Reply([OutMessage(t("internal_error"))])

    async def delivered(self, channel: str, update_id: str | None) -> None:
        """The channel has sent the reply to this update. Marks are written in batches (one
        UPDATE every DELIVERY_FLUSH seconds) so a reply costs no second write transaction; a
        crash loses at most that window of marks, and those replies are sent once more."""
        if update_id is None:
            return
        self._delivered.setdefault(channel, set()).add(update_id)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_delivered(DELIVERY_FLUSH))

    async def _flush_delivered(self, wait: float = 0.0) -> None:
        await asyncio.sleep(wait)
        pending, self._delivered = self._delivered, {}
        for channel, ids in pending.items():
            async with self.db.transaction() as s:
                await s.execute(update(ProcessedUpdate).where(
                    ProcessedUpdate.channel == channel, ProcessedUpdate.update_id.in_(sorted(ids)),
                    ProcessedUpdate.delivered_at.is_(None)).values(delivered_at=utcnow()))

    async def flush(self) -> None:
        """Write pending delivery marks now (at shutdown)."""
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        await self._flush_delivered()

    async def undelivered(self, channel: str, older_than: timedelta,
                          newer_than: timedelta = timedelta(days=1)) -> list[tuple[str, str, list[OutMessage]]]:
        """Replies committed but never sent (the process died in between): (update id, chat, messages)."""
        now = utcnow()
        async with self.db.read() as s:
            rows = (await s.scalars(select(ProcessedUpdate).where(
                ProcessedUpdate.channel == channel, ProcessedUpdate.delivered_at.is_(None),
                ProcessedUpdate.reply.is_not(None), ProcessedUpdate.at < now - older_than,
                ProcessedUpdate.at > now - newer_than).order_by(ProcessedUpdate.at))).all()
        return [(r.update_id, r.chat_id, [OutMessage.from_json(m) for m in r.reply or []]) for r in rows]

    # ----- transaction --------------------------------------------------------------------

    async def _handle(self, chat: ChatRef, incoming: Incoming, notify: Notify | None) -> Reply:
        later: Later = []
        async with self.db.transaction() as s:
            record: ProcessedUpdate | None = None
            if incoming.update_id is not None:
                seen = await s.get(ProcessedUpdate, (chat.channel, incoming.update_id))
                if seen is not None:
                    return Reply([OutMessage.from_json(m) for m in seen.reply or []], duplicate=True)
                record = ProcessedUpdate(channel=chat.channel, update_id=incoming.update_id, chat_id=chat.chat_id)
                s.add(record)
                await s.flush()  # takes the row lock now: a concurrent duplicate waits, then fails
            user = await s.scalar(
                select(User).where(User.channel == chat.channel, User.external_id == chat.user_external_id)
            )
            if user is None and (chat.channel, chat.user_external_id) in self.settings.admin_ids:
                user = await self._bootstrap_admin(s, chat)
            if user is None:
                messages = await self._unregistered(s, chat, incoming)
            else:
                messages = await self._dispatch(s, user, chat, incoming, later)
            if record is not None:
                record.reply = [m.to_json() for m in messages]
        if later:
            # Long work (reports) runs after the commit, outside the write lock.
            if notify is not None:
                for message in messages:
                    await notify(message)
                messages = []
            for job in later:
                messages.extend(await job())
            if record is not None:
                async with self.db.transaction() as s:
                    stored = await s.get(ProcessedUpdate, (chat.channel, incoming.update_id))
                    if stored is not None:
                        stored.reply = [*(stored.reply or []), *(m.to_json() for m in messages)]
        return Reply(messages)

    async def _stored_reply(self, chat: ChatRef, update_id: str) -> Reply | None:
        async with self.db.transaction() as s:
            seen = await s.get(ProcessedUpdate, (chat.channel, update_id))
            if seen is None:
                return None
            return Reply([OutMessage.from_json(m) for m in seen.reply or []], duplicate=True)

    # ----- routing ------------------------------------------------------------------------

    async def _bootstrap_admin(self, s: AsyncSession, chat: ChatRef) -> User:
        province = await s.scalar(select(Unit).where(
            Unit.configuration == self.settings.units_configuration, Unit.level == "province"))
        return await ensure_user(s, chat.channel, chat.user_external_id, chat.display_name or chat.user_external_id,
                                 "admin", province.id if province else None)

    async def _unregistered(self, s: AsyncSession, chat: ChatRef, inc: Incoming) -> list[OutMessage]:
        cmd = parse_command(inc.text) if inc.text is not None else None
        if cmd is not None and cmd.name in ("start", "register") and cmd.arg and not chat.is_group:
            try:
                user = await redeem(s, cmd.arg, chat.channel, chat.user_external_id, chat.display_name)
            except AccountError as exc:
                return [OutMessage(t(exc.key, **exc.params, register=slash("register")))]
            unit = await unit_of(s, user)
            registered = OutMessage(t("registered", name=user.display_name, role=t(f"role_{user.role}"),
                                      unit=unit.name if unit else "-"))
            return [registered, *await self._welcome(s, user, await self._conversation(s, user, chat))]
        return [OutMessage(t("not_registered", register=slash("register")))]

    async def _dispatch(
        self, s: AsyncSession, user: User, chat: ChatRef, inc: Incoming, later: Later
    ) -> list[OutMessage]:
        if chat.is_group:
            return await self._group(s, user, chat, inc)
        if inc.document is not None:
            return await self._file(s, user, inc)
        conv = await self._conversation(s, user, chat)
        if inc.payload is not None:
            if inc.payload.startswith("a:"):
                _, key, value = [*inc.payload.split(":", 2), "", ""][:3]
                return await self._survey_step(s, user, conv, lambda e, st, a: e.handle_button(st, a, key, value))
            cmd = parse_payload(inc.payload)
            if cmd is None:
                return [OutMessage(t("stale_button"))]
        else:
            cmd = parse_command(inc.text or "")
        if cmd is None:
            return await self._survey_step(s, user, conv, lambda e, st, a: e.handle_text(st, a, inc.text or ""))
        if cmd.name in SURVEY_COMMANDS:
            return await self._survey_step(s, user, conv, lambda e, st, a: e.handle_command(st, a, cmd))
        match cmd.name:
            case "start" | "help":
                return await self._welcome(s, user, conv)
            case "new":
                return await self._new(s, user, conv, cmd)
            case "list":
                return await self._list(s, user)
            case "open":
                return await self._open(s, user, conv, cmd.arg)
            case "reopen":
                return await self._reopen(s, user, conv)
            case "cancel":
                conv.household_id, conv.state = None, None
                return [OutMessage(t("cancelled", new=slash("new"), list=slash("list")))]
            case "whoami":
                return [await self._whoami(s, user)]
            case "register":
                return [OutMessage(t("already_registered"))]
            case "invite":
                return await self._invite(s, user, cmd.arg)
            case "invite_staff":
                return await self._invite_staff(s, user, cmd.arg)
            case "bind":
                return [OutMessage(t("bind_in_group_only", bind=slash("bind")))]
            case "report":
                return await self._report(s, user, cmd.arg, later)
            case "progress":
                return await self._progress(s, user, cmd.arg)
            case "submit_report" | "track":
                return await self._plan_command(s, user, cmd)
        return [OutMessage(t("unknown_command", help=slash("help")))]

    # ----- plan reports: submission and tracking ------------------------------------------

    async def _plan_command(self, s: AsyncSession, user: User, cmd: Command) -> list[OutMessage]:
        unit = await unit_of(s, user)
        if cmd.name == "submit_report":
            return await self.desk.submit(s, user, unit, cmd.arg, self.clock())
        return await self.desk.track(s, user, unit, cmd.arg, self.clock())

    async def _file(self, s: AsyncSession, user: User, inc: Incoming) -> list[OutMessage]:
        """A file is a report submission; its caption may name the request."""
        assert inc.document is not None
        cmd = parse_command(inc.text or "")
        arg = cmd.arg if cmd is not None and cmd.name == "submit_report" else (inc.text or "").strip() or None
        return await self.desk.submit_file(s, user, await unit_of(s, user), arg, inc.document.name,
                                           inc.document.path, self.clock())

    # ----- reports ------------------------------------------------------------------------

    async def _unit_choice(self, s: AsyncSession, user: User, arg: str | None) -> Unit | None:
        """The user's own unit, or a unit below it named '#id' (as report buttons send)."""
        own = await unit_of(s, user)
        if own is None or not arg:
            return own
        ref = arg.strip().lstrip("#")
        unit = await s.get(Unit, int(ref)) if ref.isdigit() else None
        if unit is None or not await user_covers(s, user, unit.id):
            return None
        return unit

    async def _report(self, s: AsyncSession, user: User, arg: str | None, later: Later) -> list[OutMessage]:
        if user.role not in ("commune", "district", "province", "admin") or user.unit_id is None:
            return [OutMessage(t("report_not_allowed"))]
        words = (arg or "").replace(":", " ").split()
        names = dict(self.reports.names())
        if not words:
            rows = tuple((Button(title[:60], payload("report", rid), f"{slash('report')} {rid}"),)
                         for rid, title in names.items())
            return [OutMessage(t("report_choose"), rows)]
        rid = words[0]
        if rid not in names:
            return [OutMessage(t("report_unknown", report=slash("report")))]
        own = await unit_of(s, user)
        assert own is not None
        if len(words) == 1:
            options = [own, *(await children(s, own))[:40]] if own.level != "village" else [own]
            rows = tuple((Button(u.name, payload("report", f"{rid}:#{u.id}"), f"{slash('report')} {rid} #{u.id}"),)
                         for u in options)
            return [OutMessage(t("report_choose_unit", report=names[rid]), rows)]
        unit = await self._unit_choice(s, user, words[1])
        if unit is None:
            return [OutMessage(t("report_unit_not_yours"))]
        year, unit_id, unit_name = self.settings.review_year, unit.id, unit.name

        async def job() -> list[OutMessage]:
            out_dir = self.settings.data_dir / "reports"
            async with self.db.read() as rs:
                target = await rs.get(Unit, unit_id)
                assert target is not None
                files = await build_report(rs, self.reports, rid, target, year, out_dir, self.forms["phieu_b"])
            caption = t("report_ready", report=names[rid], unit=unit_name, year=year)
            messages = [OutMessage(caption, document=str(files[0]))]
            messages += [OutMessage(t("report_chart", unit=unit_name), photo=str(f)) for f in files[1:]]
            return messages

        later.append(job)
        return [OutMessage(t("report_working", report=names[rid], unit=unit_name))]

    async def _progress(self, s: AsyncSession, user: User, arg: str | None) -> list[OutMessage]:
        unit = await self._unit_choice(s, user, arg)
        if unit is None:
            return [OutMessage(t("report_unit_not_yours"))]
        rows = await progress(s, unit, self.settings.review_year)
        unknown = t("progress_unknown_total")
        lines = [t("progress_title", year=self.settings.review_year, unit=unit.name)]
        lines += [t("progress_line", name=r.name, submitted=r.submitted, drafts=r.drafts,
                    remaining=unknown if r.remaining is None else r.remaining) for r in rows]
        remaining = [r.remaining for r in rows]
        lines.append(t("progress_total", submitted=sum(r.submitted for r in rows), drafts=sum(r.drafts for r in rows),
                       remaining=unknown if None in remaining else sum(r for r in remaining if r is not None)))
        return [OutMessage("\n".join(lines))]

    async def _group(self, s: AsyncSession, user: User, chat: ChatRef, inc: Incoming) -> list[OutMessage]:
        """Group chats receive notices; binding, identity and plan-report commands work there
        (a unit's officers press 'Đã nộp' under a notice or send the report file in the group)."""
        if inc.document is not None:
            return await self._file(s, user, inc)
        cmd = parse_command(inc.text) if inc.text is not None else parse_payload(inc.payload or "")
        if cmd is not None and cmd.name in ("submit_report", "track"):
            return await self._plan_command(s, user, cmd)
        if cmd is not None and cmd.name == "bind":
            if user.role == "village_head" or user.unit_id is None:
                return [OutMessage(t("bind_not_allowed"))]
            try:
                unit = await bind_group(s, chat.channel, chat.chat_id, chat.title, user)
            except AccountError as exc:
                return [OutMessage(t(exc.key, **exc.params))]
            return [OutMessage(t("bound", unit=unit.name))]
        if cmd is not None and cmd.name == "whoami":
            return [await self._whoami(s, user)]
        return [OutMessage(t("group_use_private"))] if cmd is not None else []

    async def _whoami(self, s: AsyncSession, user: User) -> OutMessage:
        unit = await unit_of(s, user)
        return OutMessage(t("whoami", name=user.display_name, role=t(f"role_{user.role}"),
                            unit=unit.name if unit else "-"))

    async def _invite(self, s: AsyncSession, user: User, arg: str | None) -> list[OutMessage]:
        """A commune officer issues a code for the head of one of the commune's villages."""
        commune = await unit_of(s, user)
        if user.role != "commune" or commune is None or commune.level != "commune":
            return [OutMessage(t("invite_not_allowed"))]
        village: Unit | None = None
        if arg and arg.startswith("#") and arg[1:].isdigit():
            village = await s.get(Unit, int(arg[1:]))
            if village is None or village.parent_id != commune.id or village.level != "village":
                return [OutMessage(t("invite_village_not_yours"))]
        elif arg and arg.strip():
            village = await add_village(s, commune, clean_text(arg)[:100])
        if village is None:
            villages = (await s.scalars(select(Unit).where(Unit.parent_id == commune.id, Unit.level == "village")
                                        .order_by(Unit.name))).all()
            rows = tuple((Button(v.name, payload("invite", f"#{v.id}"), f"{slash('invite')} #{v.id}"),)
                         for v in villages[:30])
            return [OutMessage(t("invite_usage", invite=slash("invite"), commune=commune.name), rows)]
        invite = await issue_invite(s, "village_head", village, user)
        return [OutMessage(t("invite_issued", code=invite.code, role=t("role_village_head"), unit=village.name,
                             days=CODE_DAYS, register=slash("register")))]

    async def _invite_staff(self, s: AsyncSession, user: User, arg: str | None) -> list[OutMessage]:
        """An administrator issues a code for a commune, district or province officer: '/moicanbo xa 6202'."""
        if user.role != "admin":
            return [OutMessage(t("invite_staff_not_allowed"))]
        words = (arg or "").split()
        roles = {
            fold(w): role for role in ("commune", "district", "province") for w in catalog().words(f"role_word_{role}")
        }
        if len(words) != 2 or fold(words[0]) not in roles:
            return [OutMessage(t("invite_staff_usage", invite_staff=slash("invite_staff")))]
        role = roles[fold(words[0])]
        unit = await s.scalar(select(Unit).where(Unit.configuration == self.settings.units_configuration,
                                                 Unit.level == ROLE_LEVEL[role], Unit.code == words[1]))
        if unit is None:
            return [OutMessage(t("unit_not_found", code=words[1]))]
        invite = await issue_invite(s, role, unit, user)
        return [OutMessage(t("invite_issued", code=invite.code, role=t(f"role_{role}"), unit=unit.name,
                             days=CODE_DAYS, register=slash("register")))]

    async def _conversation(self, s: AsyncSession, user: User, chat: ChatRef) -> Conversation:
        conv = await s.scalar(
            select(Conversation)
            .where(Conversation.channel == chat.channel, Conversation.chat_id == chat.chat_id)
            .with_for_update()
        )
        if conv is None:
            conv = Conversation(channel=chat.channel, chat_id=chat.chat_id, user_id=user.id, state=None)
            s.add(conv)
            await s.flush()
        return conv

    # ----- survey steps -------------------------------------------------------------------

    async def _active(self, s: AsyncSession, user: User, conv: Conversation) -> Household | None:
        if conv.household_id is None:
            return None
        household = await s.get(Household, conv.household_id)
        if household is None or not await user_covers(s, user, household.village_id):
            conv.household_id, conv.state = None, None
            return None
        return household

    def _engine(self, household: Household) -> SurveyEngine:
        survey = self.forms[household.survey_id]
        return SurveyEngine(survey, {"review_year": household.review_year, "is_urban": household.area == "urban"})

    async def _survey_step(self, s: AsyncSession, user: User, conv: Conversation, act: Any) -> list[OutMessage]:
        household = await self._active(s, user, conv)
        if household is None:
            return [OutMessage(t("no_active_survey", new=slash("new"), list=slash("list")))]
        engine = self._engine(household)
        answers = await load_answers(s, household.id)
        step: Step = act(engine, EngineState.from_json(conv.state), answers)
        await self._persist(s, user, conv, household, engine, step)
        return step.messages

    async def _persist(
        self, s: AsyncSession, user: User, conv: Conversation, household: Household, engine: SurveyEngine, step: Step
    ) -> None:
        for change in step.changes:
            await save_answer(s, household.id, change.key, change.old, change.new, user.id)
        head = engine.survey.head_name
        if head and any(c.key == head for c in step.changes):
            household.head_name = step.answers.get(head)
        if step.changes:
            household.updated_at = utcnow()
        conv.state = step.state.to_json()
        conv.updated_at = utcnow()
        if step.submit:
            await s.flush()
            step.messages.extend(await self._submit(s, user, household, engine, step.answers))

    async def _submit(
        self, s: AsyncSession, user: User, household: Household, engine: SurveyEngine, answers: dict[str, Any]
    ) -> list[OutMessage]:
        pack = pack_for_year(self.packs, household.review_year)
        view = engine.view(answers)
        result = classify(engine.survey, pack, view, household.area or "rural")
        household.status = "submitted"
        household.submitted_at = household.updated_at = utcnow()
        household.outcome = result.outcome.value
        household.pack_id = pack.id
        household.income_per_capita = result.income_per_capita
        household.b1_score = result.b1_score
        household.deprived_count = len(result.deprived)
        household.deprived = [i.number for i in result.deprived]
        household.deprived_mask = sum(1 << (i.number - 1) for i in result.deprived)
        extra = outputs(engine.survey, view)
        household.prior_class = PRIOR_CLASSES.get(extra.get("prior_class"))
        household.ethnicity = extra.get("ethnicity")
        count = extra.get("member_count")
        household.member_count = count if isinstance(count, int) else None
        await audit(s, household.id, "submit", user.id, result.to_json())
        done = OutMessage(t("submitted", id=household.id, new=slash("new"), list=slash("list")),
                          ((Button(t("btn_new"), payload("new"), slash("new")),),))
        return [OutMessage(render(result, pack)), done]

    # ----- session commands ---------------------------------------------------------------

    async def _welcome(self, s: AsyncSession, user: User, conv: Conversation) -> list[OutMessage]:
        unit = await unit_of(s, user)
        key = {"village_head": "welcome", "commune": "welcome_commune"}.get(user.role, "welcome_staff")
        messages = [OutMessage(t(key, name=user.display_name, unit=unit.name if unit else "-",
                                 new=slash("new"), list=slash("list"), back=slash("back"),
                                 pause=slash("pause"), review=slash("review"), invite=slash("invite"),
                                 bind=slash("bind"), invite_staff=slash("invite_staff"),
                                 whoami=slash("whoami"), submit=slash("submit_report"), track=slash("track")))]
        household = await self._active(s, user, conv)
        if household is not None and household.status == "draft":
            engine = self._engine(household)
            state = EngineState.from_json(conv.state)
            step = engine.start(await load_answers(s, household.id), state)
            conv.state = step.state.to_json()
            messages.append(OutMessage(t("resume_notice", id=household.id, head=household.head_name or "-")))
            messages.extend(step.messages)
        return messages

    async def _new(self, s: AsyncSession, user: User, conv: Conversation, cmd: Command) -> list[OutMessage]:
        village = await unit_of(s, user)
        if village is None or village.level != "village":
            return [OutMessage(t("only_village_heads_survey"))]
        if not cmd.arg or cmd.arg not in self.forms:
            rows = tuple(
                (Button(f.title, payload("new", f.id), f"{slash('new')} {f.id}"),) for f in self.forms.values()
            )
            return [OutMessage(t("choose_form"), rows)]
        survey = self.forms[cmd.arg]
        commune = await commune_of(s, village)
        pack = pack_for_year(self.packs, self.settings.review_year)
        household = Household(
            village_id=village.id, survey_id=survey.id, survey_version=survey.version,
            review_year=self.settings.review_year, status="draft", created_by=user.id,
            area=pack.area_of(commune.kind if commune else "Xã"),
        )
        s.add(household)
        await s.flush()
        await audit(s, household.id, "create", user.id, {"survey": survey.key, "village": village.name})
        conv.household_id = household.id
        engine = self._engine(household)
        step = engine.start({}, EngineState())
        conv.state = step.state.to_json()
        intro = OutMessage(t("new_household", id=household.id, title=survey.title, village=village.name,
                             area=t(f"area_{household.area}"), back=slash("back"), pause=slash("pause")))
        return [intro, *step.messages]

    async def _list(self, s: AsyncSession, user: User) -> list[OutMessage]:
        unit = await unit_of(s, user)
        if unit is None:
            return [OutMessage(t("only_village_heads_survey"))]
        households = await households_in(s, unit)
        if not households:
            return [OutMessage(t("list_empty", new=slash("new")))]
        lines = [t("list_title")]
        rows = []
        for h in households:
            status = t("status_draft") if h.status == "draft" else t(f"outcome_{h.outcome}")
            lines.append(t("list_line", id=h.id, head=h.head_name or t("value_missing"), status=status))
            rows.append((Button(t("btn_open", id=h.id), payload("open", str(h.id)), f"{slash('open')} {h.id}"),))
        return [OutMessage("\n".join(lines), tuple(rows[:10]))]

    async def _open(self, s: AsyncSession, user: User, conv: Conversation, arg: str | None) -> list[OutMessage]:
        if not arg or not arg.strip().lstrip("#").isdigit():
            return [OutMessage(t("open_usage", open=slash("open")))]
        household = await s.get(Household, int(arg.strip().lstrip("#")))
        if household is None or not await user_covers(s, user, household.village_id):
            return [OutMessage(t("household_not_found", id=arg))]
        conv.household_id = household.id
        engine = self._engine(household)
        answers = await load_answers(s, household.id)
        if household.status == "submitted":
            conv.state = EngineState(mode=SUBMITTED).to_json()
            summary = engine.summary_lines(engine.view(answers), answers)
            head = t("opened_submitted", id=household.id, outcome=t(f"outcome_{household.outcome}"),
                     reopen=slash("reopen"))
            return [OutMessage("\n".join([head, *summary[:60]]),
                               ((Button(t("btn_reopen"), payload("reopen"), slash("reopen")),),))]
        step = engine.start(answers, EngineState.from_json(conv.state) if conv.household_id == household.id else None)
        conv.state = step.state.to_json()
        return [OutMessage(t("opened_draft", id=household.id, head=household.head_name or "-")), *step.messages]

    async def _reopen(self, s: AsyncSession, user: User, conv: Conversation) -> list[OutMessage]:
        household = await self._active(s, user, conv)
        if household is None or household.status != "submitted":
            return [OutMessage(t("reopen_nothing", list=slash("list")))]
        household.status = "draft"
        household.updated_at = utcnow()
        await audit(s, household.id, "reopen", user.id, {"previous_outcome": household.outcome})
        engine = self._engine(household)
        step = engine.start(await load_answers(s, household.id), EngineState(mode="review"))
        conv.state = step.state.to_json()
        return [OutMessage(t("reopened", id=household.id)), *step.messages]
