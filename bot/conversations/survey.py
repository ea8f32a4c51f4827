"""The survey session: start a household, list and open households, take each answer through
the pure engine and persist what it changed, submit, and reopen a submitted household.

Where a survey stands (the engine's cursor, mode and pending edit) is stored on the household,
not on the chat: a village head with three drafts resumes each at its own question, and a
commune officer who opens a household sees the same position. The chat only remembers which
household it has open, and a question it asked outside the survey (the reason for reopening).
Each step locks the household row, applies the engine's changes with their audit rows and
stores the new position in the caller's transaction, before any reply is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from bot.context import Ctx
from bot.conversations import recheck
from bot.conversations.session import (
    conversation,
    covered,
    editable,
    engine_for,
    no_open_household,
    open_household,
    position,
)
from bot.routes import PRESS, TEXT, Route
from core import access_log
from core.access import Action, Role, can, may_change
from core.chat import payloads, refs
from core.chat.commands import command_button, fit, slash
from core.chat.messages import OutMessage
from core.classification.classify import classify
from core.classification.provisional import result_parts
from core.classification.render import render
from core.classification.screening import explain
from core.conversation.engine import REVIEW, SUBMITTED, EngineState, Step, SurveyEngine
from core.duplicate_ids import duplicates, explained, warning
from core.households import Status, households_in, record_classification
from core.i18n import t
from core.inspection.recheck import open_recheck_of
from core.messaging import tell_users
from core.procedure import transitions
from core.procedure.models import HouseholdFile
from core.procedure.standards import standard_line
from core.storage.models import Conversation, Household, Unit, User, utcnow
from core.storage.repo import audit, load_answers, save_answers
from core.surveys.evaluate import outputs
from core.surveys.parsing import clean_text
from core.units.tree import commune_of

STEP_COMMANDS = ("pause", "resume", "back", "skip", "keep", "review", "confirm", "edit")
REOPEN_REASON = "reopen_reason"  # the chat is waiting for the reason to reopen a household
CHOOSE = "choose"  # the chat offered a numbered list (forms, drafts): a typed number picks from it
REASON_MIN, REASON_MAX = 3, 300
DUP_REASON = "dup_id_reason"  # ctx.memo: the reason typed after /xacnhan for a repeated ID number
SUMMARY_LINES = 60
DRAFTS_OFFERED = 5

Act = Callable[[SurveyEngine, EngineState, dict[str, Any]], Step]


# ----- survey steps ----------------------------------------------------------------------------

async def _step(ctx: Ctx, act: Act) -> list[OutMessage]:
    conv = await conversation(ctx)
    if recheck.active(conv) is not None:  # an inspector's re-survey: its answers are kept apart
        return await recheck.step(ctx, conv, act)
    household = await open_household(ctx, conv)
    if household is None:
        return no_open_household()
    if not editable(household):  # the documented way back in: /mo N, then «Mở lại để sửa»
        return [OutMessage(t("survey_submitted_open", id=household.id, open=slash("open"),
                             reopen=slash("reopen"), new=slash("new")))]
    if not may_change(ctx.me):  # an inspector reads the commune's answers, never changes them
        return [OutMessage(t("insp_read_only", recheck=slash("recheck")))]
    engine = engine_for(ctx, household)
    cached = ctx.data.answers.get(household.id, household.revision)
    answers, memo = cached if cached is not None else (await load_answers(ctx.s, household.id), None)
    if memo is not None and memo[0] == (engine.survey.id, engine.context):
        engine.remember(memo[1], memo[2])  # the previous step's view of these answers
    step = act(engine, position(household), dict(answers))
    return await _persist(ctx, household, engine, step, answers)


async def _persist(ctx: Ctx, household: Household, engine: SurveyEngine, step: Step,
                   before: dict[str, Any] | None = None) -> list[OutMessage]:
    # a step that does not submit has its position now: stored with the answer where the store can
    state = step.state.to_json() if editable(household) and not step.submit else None
    stored = await save_answers(ctx.s, household, [(c.key, c.old, c.new) for c in step.changes], ctx.me.id, state)
    if before is not None:  # what the store holds once this commits, for the next step on this worker
        after = {**before, **{c.key: c.new for c in step.changes}}
        hid, revision = household.id, household.revision
        memo = ((engine.survey.id, engine.context), *engine.last) if engine.last else None
        ctx.after_commit.append(lambda: ctx.data.answers.put(hid, revision, after, memo))
    await _check_ids(ctx, household, engine, step)
    head = engine.survey.head_name
    if head and any(c.key == head for c in step.changes):
        household.head_name = step.answers.get(head)
    if not stored:  # else state, updated_at and revision were written with the answer
        if step.changes:
            household.updated_at = utcnow()
        if editable(household):  # read now: the ID-number check may turn a submission back to the review
            household.state = step.state.to_json()
    if step.submit:
        await ctx.s.flush()
        step.messages.extend(await _submit(ctx, household, engine, step.answers))
    return step.messages


async def _check_ids(ctx: Ctx, household: Household, engine: SurveyEngine, step: Step) -> None:
    """The same ID number twice: a warning when it is typed (the answer is kept), and no
    submission without a reason (`/xacnhan LÝ DO`), which the audit log keeps."""
    typed = [c.key for c in step.changes if c.new is not None]
    if typed and not step.submit:
        found = await duplicates(ctx.s, household, engine, step.answers, typed)
        if found:
            step.messages.insert(0, warning(found))
    if not step.submit:
        return
    found = await duplicates(ctx.s, household, engine, step.answers)
    if not found or await explained(ctx.s, household.id, found):
        return
    reason = clean_text(ctx.memo.get(DUP_REASON) or "")
    if len(reason) >= REASON_MIN:
        await audit(ctx.s, household.id, "dup_id_reason", ctx.me.id,
                    {"reason": reason[:REASON_MAX], "households": sorted({h for d in found for h in d.households}),
                     "same": any(d.same for d in found)})
        return
    step.submit = False
    step.state = EngineState(mode=REVIEW)
    step.messages = [OutMessage(t("dup_id_block", where="; ".join(d.words() for d in found), edit=slash("edit"),
                                  confirm=slash("confirm")), ((command_button(t("btn_review_page"), "review"),),))]


async def _submit(ctx: Ctx, household: Household, engine: SurveyEngine, answers: dict[str, Any]) -> list[OutMessage]:
    """A submitted form is handed to the procedure (core/procedure/transitions.py): Phiếu A's stop
    rule decides whether Phiếu B follows, Phiếu B is classified and goes to the meeting."""
    if engine.survey.purpose == "screening":
        return await _screened(ctx, household, engine, answers)
    # a household classified before keeps the standard it was classified under; a first
    # submission takes the standard its review year applies (core/procedure/standards.py)
    standard = await ctx.data.standard(ctx.s, household.review_year)
    pack = next((p for p in ctx.data.packs if p.id == household.pack_id), standard.pack)
    view = engine.view(answers)
    result = classify(engine.survey, pack, view, household.area or "rural")
    again = household.reopened_at is not None
    record_classification(household, result, pack, outputs(engine.survey, view), engine.survey.prior_classes,
                          engine.survey.purpose)
    household.state = EngineState(mode=SUBMITTED).to_json()
    await audit(ctx.s, household.id, "resubmit" if again else "submit", ctx.me.id, result.to_json())
    await transitions.surveyed(ctx.s, household, ctx.me.id)
    done = OutMessage(t("submitted", id=household.id, new=slash("new"), list=slash("list")),
                      ((command_button(t("btn_new"), "new"),),))
    parts = result_parts(pack, result, engine.survey.purpose)
    return [OutMessage(f"{render(result, pack, parts)}\n{standard_line(standard, pack)}"), done]


async def _screened(ctx: Ctx, household: Household, engine: SurveyEngine,
                    answers: dict[str, Any]) -> list[OutMessage]:
    pack = (await ctx.data.standard(ctx.s, household.review_year)).pack
    result = await transitions.screened(ctx.s, household, engine.view(answers), ctx.me.id, pack)
    if result.go_on:
        button = command_button(t("btn_phieu_b"), "survey_b", str(household.id))
        return [OutMessage(explain(result)),
                OutMessage(t("screen_go_on", id=household.id, cmd=slash("survey_b")), ((button,),))]
    return [OutMessage(explain(result)), OutMessage(t("screen_stopped", id=household.id))]


async def typed(ctx: Ctx, text: str | None) -> list[OutMessage]:
    """Typed text that is not a command (and not the answer to a question outside the survey,
    see the router's AWAITS): the answer to the survey's question."""
    return await _step(ctx, lambda e, st, a: e.handle_text(st, a, text or ""))


async def pressed(ctx: Ctx, payload: str | None) -> list[OutMessage]:
    press = payloads.unpack(payload or "")
    assert isinstance(press, payloads.AnswerPress)

    def act(engine: SurveyEngine, state: EngineState, answers: dict[str, Any]) -> Step:
        step = engine.handle_button(state, answers, press.key, press.value)
        ctx.refused = step.refused
        return step

    ctx.refused = True  # no open survey: nothing applied either
    return await _step(ctx, act)


async def command(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """Back, skip, keep, pause, resume, review, edit, confirm: the engine's own commands. The
    review also lists what was attached to the household in the field."""
    cmd = ctx.command
    assert cmd is not None
    if cmd.name == "confirm":
        ctx.memo[DUP_REASON] = arg
    messages = await _step(ctx, lambda e, st, a: e.handle_command(st, a, cmd))
    if cmd.name == "review":
        conv = await conversation(ctx)
        household = await ctx.s.get(Household, conv.household_id) if conv.household_id else None
        if household is not None:
            messages += await evidence_line(ctx, household)
    return messages


# ----- session commands ------------------------------------------------------------------------

async def resume_lines(ctx: Ctx) -> list[OutMessage]:
    """After the welcome: where the open draft stands, so a returning user goes straight on."""
    conv = await conversation(ctx)
    household = await open_household(ctx, conv)
    if household is None or not editable(household):
        return []
    engine = engine_for(ctx, household)
    step = engine.start(await load_answers(ctx.s, household.id), position(household))
    household.state = step.state.to_json()
    return [OutMessage(t("resume_notice", id=household.id, head=household.head_name or "-")), *step.messages]


async def new(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """A new household; with drafts waiting, they are offered first (a village head with three
    drafts goes back to the right one instead of starting a fourth by mistake)."""
    village = await ctx.unit()
    if village is None or not await can(ctx.s, ctx.me, Action.SURVEY, village):
        return [OutMessage(t("only_village_heads_survey"))]
    forms = ctx.data.forms
    if not arg or arg not in forms:
        return await _offer(ctx, village)
    survey = forms[arg]
    commune = await commune_of(ctx.s, village)
    pack = (await ctx.data.standard(ctx.s, ctx.settings.review_year)).pack
    household = Household(
        village_id=village.id, survey_id=survey.id, survey_version=survey.version,
        review_year=ctx.settings.review_year, status=Status.DRAFT, created_by=ctx.me.id,
        area=pack.area_of(commune.kind if commune else "Xã"),
    )
    ctx.s.add(household)
    await ctx.s.flush()
    await audit(ctx.s, household.id, "create", ctx.me.id, {"survey": survey.key, "village": village.name})
    conv = await conversation(ctx)
    conv.household_id, conv.state = household.id, None
    step = engine_for(ctx, household).start({}, EngineState())
    household.state = step.state.to_json()
    hid, revision = household.id, household.revision  # no answers yet: the first answer need not read them
    ctx.after_commit.append(lambda: ctx.data.answers.put(hid, revision, {}))
    intro = OutMessage(t("new_household", id=household.id, title=survey.title, village=village.name,
                         area=t(f"area_{household.area}"), back=slash("back"), pause=slash("pause")))
    return [intro, *step.messages]


async def _offer(ctx: Ctx, village: Unit) -> list[OutMessage]:
    """Drafts to go on with, then the forms, numbered: the chat remembers the list (the router's
    AWAITS), so a typed «1» picks from it instead of answering a household left open."""
    drafts = await households_in(ctx.s, village, limit=DRAFTS_OFFERED, drafts_only=True)
    offers: list[tuple[str, str, str]] = []  # (command, argument, label)
    lines = [t("drafts_waiting", n=len(drafts))] if drafts else [t("choose_form")]
    for h in drafts:
        where = await _where(ctx, h)
        offers.append(("open", str(h.id), fit(t("btn_continue_draft", id=h.id, head=h.head_name or "-",
                                                   where=where))))
    offers += [("new", f.id, t("btn_new_form", title=f.title)) for f in ctx.data.forms.values()]
    lines += [t("choice_line", n=i, label=label) for i, (_, _, label) in enumerate(offers, 1)]
    lines += [t("drafts_or_new"), t("choice_pick")] if drafts else [t("choice_pick")]
    conv = await conversation(ctx)
    conv.state = {"await": CHOOSE, "offers": [[name, value] for name, value, _ in offers]}
    rows = tuple((command_button(label, name, value),) for name, value, label in offers)
    return [OutMessage("\n".join(lines), rows)]


async def chosen(ctx: Ctx, text: str | None) -> list[OutMessage]:
    """A typed number after a numbered list; any other text goes to the survey as before."""
    conv = await conversation(ctx)
    offers = (conv.state or {}).get("offers") or []
    number = refs.number(text)
    if number is None:
        conv.state = None
        return await typed(ctx, text)
    if not 1 <= number <= len(offers):
        return [OutMessage(t("choice_number_wrong", count=len(offers)))]
    conv.state = None
    name, value = offers[number - 1]
    return await (open_by_number if name == "open" else new)(ctx, value)


async def list_households(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """Drafts first, each with where it stands; then the households submitted most recently.
    '/danhsach #id' lists a unit below one's own (an inspector's commune: /doankiemtra)."""
    number = refs.hash_number((arg or "").strip())
    unit = await ctx.s.get(Unit, number) if number is not None else await ctx.unit()
    if number is not None and (unit is None or not await can(ctx.s, ctx.me, Action.VIEW, unit)):
        return [OutMessage(t("report_unit_not_yours"))]
    if unit is None:
        key = "insp_list_choose" if ctx.me.role == Role.INSPECTOR else "only_village_heads_survey"
        return [OutMessage(t(key, team=slash("inspect_team")))]
    households = await households_in(ctx.s, unit)
    if not households:
        return [OutMessage(t("list_empty", new=slash("new")))]
    access_log.record(ctx.s, "list", ctx.me, unit.id, detail={"households": len(households)})
    lines = [t("list_title")]
    rows = []
    for h in households:
        if h.status == Status.DRAFT:
            status = t("status_draft_at", where=await _where(ctx, h))
        elif h.reopened_at is not None:
            status = t("status_reopened", where=await _where(ctx, h))
        else:
            status = t(f"outcome_{h.outcome}")
        lines.append(t("list_line", id=h.id, head=h.head_name or t("value_missing"), status=status))
        rows.append((command_button(t("btn_open", id=h.id), "open", str(h.id)),))
    return [OutMessage("\n".join(lines), tuple(rows[:10]))]


async def evidence_line(ctx: Ctx, household: Household) -> list[OutMessage]:
    """What was attached to the household in the field (photos, the location), for its review
    and its summary; nothing when nothing was attached."""
    rows = dict((await ctx.s.execute(select(HouseholdFile.kind, func.count()).where(
        HouseholdFile.household_id == household.id).group_by(HouseholdFile.kind))).all())
    if not rows:
        return []
    return [OutMessage(t("evidence_line", photos=rows.get("photo", 0), minutes=rows.get("minutes", 0),
                         location=t("evidence_located") if rows.get("location") else t("evidence_no_location")))]


async def _where(ctx: Ctx, household: Household) -> str:
    engine = engine_for(ctx, household)
    return engine.where(await load_answers(ctx.s, household.id), position(household))


async def open_by_number(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    number = refs.number(arg)
    if number is None:
        return [OutMessage(t("open_usage", open=slash("open")))]
    household = await covered(ctx, number)
    if household is None:
        return [OutMessage(t("household_not_found", id=number))]
    if await open_recheck_of(ctx.s, ctx.me, household.id) is not None:  # no copying the commune's answers
        return [OutMessage(t("insp_answers_hidden", id=household.id, recheck=slash("recheck")))]
    conv = await conversation(ctx)
    conv.household_id, conv.state = household.id, None
    access_log.record(ctx.s, "view_household", ctx.me, household.village_id, household.id)
    engine = engine_for(ctx, household)
    answers = await load_answers(ctx.s, household.id)
    if not editable(household):
        summary = engine.summary_lines(engine.view(answers), answers)
        head = t("opened_submitted", id=household.id, outcome=t(f"outcome_{household.outcome}"),
                 reopen=slash("reopen"))
        buttons = ((command_button(t("btn_reopen"), "reopen"),),) if await _may_reopen(ctx, household) else ()
        return [OutMessage("\n".join([head, *summary[:SUMMARY_LINES]]), buttons), *await evidence_line(ctx, household)]
    step = engine.start(answers, position(household))
    household.state = step.state.to_json()
    return [OutMessage(t("opened_draft", id=household.id, head=household.head_name or "-")), *step.messages]


async def _may_reopen(ctx: Ctx, household: Household) -> bool:
    village = await ctx.s.get(Unit, household.village_id)
    return village is not None and await can(ctx.s, ctx.me, Action.REOPEN, village)


async def reopen(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """Looking is not editing: a submitted household is opened again only with a reason."""
    conv = await conversation(ctx)
    household = await open_household(ctx, conv)
    if household is None or household.status != Status.SUBMITTED or household.reopened_at is not None:
        return [OutMessage(t("reopen_nothing", list=slash("list")))]
    if not await _may_reopen(ctx, household):
        return [OutMessage(t("reopen_not_allowed"))]
    if arg and arg.strip():
        return await _reopen_with_reason(ctx, conv, arg, household)
    conv.state = {"await": REOPEN_REASON, "household": household.id}
    return [OutMessage(t("reopen_ask_reason", id=household.id, cancel=slash("cancel")))]


async def reopen_reason(ctx: Ctx, text: str | None) -> list[OutMessage]:
    """The typed reason the chat asked for after '/mophieu' (the router's AWAITS)."""
    return await _reopen_with_reason(ctx, await conversation(ctx), text or "")


async def _reopen_with_reason(ctx: Ctx, conv: Conversation, text: str,
                              household: Household | None = None) -> list[OutMessage]:
    reason = clean_text(text)
    if household is None:
        household = await open_household(ctx, conv)
        if household is None or household.id != (conv.state or {}).get("household"):
            conv.state = None
            return [OutMessage(t("reopen_nothing", list=slash("list")))]
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        return [OutMessage(t("reopen_reason_length", min=REASON_MIN, max=REASON_MAX, cancel=slash("cancel")))]
    conv.state = None
    household.reopened_at, household.reopened_by, household.reopen_reason = utcnow(), ctx.me.id, reason
    await audit(ctx.s, household.id, "reopen", ctx.me.id,
                {"previous_outcome": household.outcome, "reason": reason})
    await _tell_village_heads(ctx, household, reason)
    engine = engine_for(ctx, household)
    step = engine.start(await load_answers(ctx.s, household.id), EngineState(mode="review"))
    household.state = step.state.to_json()
    return [OutMessage(t("reopened", id=household.id)), *step.messages]


async def _tell_village_heads(ctx: Ctx, household: Household, reason: str) -> None:
    """The village head learns that someone else reopened one of the village's households."""
    heads = (await ctx.s.scalars(select(User.id).where(
        User.unit_id == household.village_id, User.role == Role.VILLAGE_HEAD, User.disabled_at.is_(None),
        User.id != ctx.me.id))).all()
    text = t("reopened_notice", id=household.id, head=household.head_name or "-", by=ctx.me.display_name,
             reason=reason)
    await tell_users(ctx.s, heads, f"reopen/{household.id}", OutMessage(text))


async def cancel(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    conv = await conversation(ctx)
    conv.household_id, conv.state = None, None
    return [OutMessage(t("cancelled", new=slash("new"), list=slash("list")))]


ROUTES: tuple[Route, ...] = (
    Route("new", new, roles=frozenset({Role.VILLAGE_HEAD}), denied="only_village_heads_survey", menu=True),
    Route("list", list_households, menu=True),
    Route("open", open_by_number),
    Route("reopen", reopen),
    Route("cancel", cancel),
    *(Route(name, command, menu=name in ("resume", "back", "review", "pause")) for name in STEP_COMMANDS),
    Route(TEXT, typed),
    Route(PRESS, pressed),
)
