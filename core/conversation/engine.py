"""The survey conversation engine: state and answers in, one user action in; new state, answer
changes and outgoing messages out.

It does no I/O and knows no platform, so the same engine drives Telegram, Zalo and the console,
and every path (re-ask, back, edit, pause, review) can be tested without a network or database.
The caller persists `Step.changes` before it sends `Step.messages`.

Review rules, for a village head typing on a cheap phone:
- `/xemlai` opened while a question is waiting remembers it (`EngineState.return_to`). The review
  says which question that is and offers «Tiếp tục trả lời»; /tieptuc, /quaylai, a press on that
  question's buttons, and any typed text that is not a command go back to it, and the text is
  applied to it. So a "2" typed mid-survey answers the question; it never silently edits câu 2.
- Editing from the review is explicit: `/sua N` or a ✏️ button. Only when nothing is pending
  (the review came at the end, no question is waiting and every question has an answer) does a
  typed number mean "edit câu N": there is nothing else it could answer, and the footer says so.
- After an edit the user is sent back where they were (the waiting question, or a short
  "saved" note in the review), with only the affected question shown, never the whole review.
- The review is paged (`REVIEW_PAGE` lines, «Trang sau» / «Trang trước» = `/xemlai N`), and
  «Xác nhận nộp phiếu» is offered only when every required question is answered; otherwise the
  review names the first missing one with a button to go there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from core.chat import refs
from core.chat.commands import slash
from core.chat.messages import Command, OutMessage
from core.conversation.state import ASK, PAUSED, REVIEW, SUBMITTED, Change, EngineState, Step
from core.conversation.wording import Wording
from core.expr import Scope
from core.i18n import fmt_money, fmt_number, t
from core.surveys.evaluate import FormView, Slot, evaluate
from core.surveys.model import QType, Survey
from core.surveys.parsing import ParseError, parse_answer, yes_or_no

__all__ = ["ASK", "PAUSED", "REVIEW", "SUBMITTED", "Change", "EngineState", "Step", "SurveyEngine"]



class SurveyEngine(Wording):
    def __init__(self, survey: Survey, context: Mapping[str, Any]) -> None:
        self.survey = survey
        self.context = dict(context)
        # The last (answers, view) evaluated: a step evaluates the form for the answers it
        # starts from and again after the change, and the next step starts from exactly those
        # answers. The view is a pure function of (form, context, answers), so a remembered one
        # is reused only for equal answers (checked), never by trust.
        self.last: tuple[dict[str, Any], FormView] | None = None

    def view(self, answers: Mapping[str, Any]) -> FormView:
        if self.last is not None and self.last[0] == answers:
            return self.last[1]
        view = evaluate(self.survey, answers, self.context)
        self.last = (dict(answers), view)
        return view

    def remember(self, answers: Mapping[str, Any], view: FormView) -> None:
        """A view another engine of the same form and context evaluated for these answers."""
        self.last = (dict(answers), view)

    # ----- entry points -------------------------------------------------------------------

    def start(self, answers: Mapping[str, Any], state: EngineState | None = None) -> Step:
        """Show where the survey stands: the current question, or the review if all is answered."""
        answers = dict(answers)
        state = state or EngineState()
        view = self.view(answers)
        if state.mode == SUBMITTED:
            return Step(state, answers, [self._submitted_message()])
        if state.mode == REVIEW:
            return self._review(view, answers, self._origin(view, state), state.page or None)
        state = replace(state, mode=ASK)
        if state.cursor is None or view.position(state.cursor) is None:
            state = replace(state, cursor=self._first_unanswered(view, answers))
        if state.cursor is None:
            return self._review(view, answers, None)
        return Step(state, answers, [self._question(view, answers, state.cursor)])

    def handle_text(self, state: EngineState, answers: Mapping[str, Any], text: str) -> Step:
        """Typed text answers the question asked. In the review it answers the question that is
        waiting (see the module docstring); only with nothing waiting is a number an edit."""
        answers = dict(answers)
        view = self.view(answers)
        if state.mode == PAUSED:
            return self.start(answers, replace(state, mode=ASK))
        if state.mode == SUBMITTED:
            return Step(state, answers, [self._submitted_message()])
        if state.mode == REVIEW:
            back = self._leave_review(view, answers, state)
            if back is None:
                number = refs.number(text)
                if number is not None:
                    return self._edit(view, answers, state, number)
                return self._review_note(view, answers, None, state.page, error=t("review_hint_error"))
            state = back
        pending, state = state.pending, replace(state, pending=None)
        slot = view.slot(state.cursor) if state.cursor else None
        if slot is None:
            return self.start(answers, state)
        q = slot.question
        if not text.strip() and not q.required:  # an empty console line: never left unanswered
            return self._reask(view, answers, state, slot, t("err_optional_empty", skip=slash("skip")))
        try:
            value = parse_answer(q, text)
        except ParseError as exc:
            if not q.required and q.type not in (QType.YES_NO, QType.CHOICE) and yes_or_no(text) is False:
                # «không ạ» at an optional question that is not yes/no: the household has none
                return self._reask(view, answers, state, slot, t("err_optional_no", skip=slash("skip")))
            return self._reask(view, answers, state, slot, t(exc.key, **exc.params))
        if self._is_name(slot) and isinstance(value, str):
            if sum(c.isalpha() for c in value) < 2:  # «12345» is not a name
                return self._reask(view, answers, state, slot, t("err_name_letters"))
            if pending is None and _bare_name(value):
                return self._ask_accents(view, answers, replace(state, pending=value), slot, value)
        echo = t("answer_echo", value=self.display(q, value)) if q.type is QType.CHOICE else None
        return self._accept(view, answers, state, slot, value, echo)

    def handle_button(self, state: EngineState, answers: Mapping[str, Any], key: str, value: str) -> Step:
        """A choice button: 'a:<slot key>:<choice value>'. Presses on old messages are refused
        (`Step.refused`), except on the question the review or a pause left waiting."""
        answers = dict(answers)
        view = self.view(answers)
        state = replace(state, pending=None)
        if state.mode == REVIEW:
            back = self._leave_review(view, answers, state)
            if back is not None and back.cursor == key:
                state = back
        elif state.mode == PAUSED and key == state.cursor:
            state = replace(state, mode=ASK)
        if state.mode != ASK or key != state.cursor:
            step = self.start(answers, replace(state, mode=ASK) if state.mode == PAUSED else state)
            step.messages.insert(0, OutMessage(t("stale_button")))
            step.refused = True
            return step
        slot = view.slot(key)
        if slot is None:
            step = self.start(answers, state)
            step.refused = True
            return step
        q = slot.question
        if q.type is QType.YES_NO and value in ("1", "0"):
            parsed: Any = value == "1"
        elif q.type is QType.CHOICE and q.choice(value):
            parsed = value
        else:
            step = self._reask(view, answers, state, slot, t("stale_button"))
            step.refused = True
            return step
        return self._accept(view, answers, state, slot, parsed)

    def handle_command(self, state: EngineState, answers: Mapping[str, Any], cmd: Command) -> Step:
        answers = dict(answers)
        view = self.view(answers)
        if state.mode == SUBMITTED:
            return Step(state, answers, [self._submitted_message()])
        pending, state = state.pending, replace(state, pending=None)
        if cmd.name == "keep" and pending is not None and state.mode == ASK and state.cursor:
            slot = view.slot(state.cursor)
            if slot is not None:  # the name as typed, without accents, after being asked once
                return self._accept(view, answers, state, slot, pending)
        match cmd.name:
            case "pause":
                msg = OutMessage(t("paused", resume=slash("resume")), ((self._button("resume"),),))
                if state.mode == REVIEW:
                    state = EngineState(cursor=self._origin(view, state), mode=PAUSED)
                return Step(replace(state, mode=PAUSED), answers, [msg])
            case "resume":
                if state.mode == PAUSED:
                    return self.start(answers, replace(state, mode=ASK))
                if state.mode == REVIEW:
                    back = self._leave_review(view, answers, state)
                    if back is None:
                        return self._review(view, answers, None, state.page or None)
                    return Step(back, answers, [self._question(view, answers, back.cursor or "")])
                origin = self._origin(view, state)
                if state.editing and origin is not None:  # leave the edit, go on where the user was
                    return Step(EngineState(cursor=origin), answers, [self._question(view, answers, origin)])
                return self.start(answers, state)
            case "review":
                page = refs.number(cmd.arg)
                if page is None and state.mode == REVIEW:
                    page = state.page or None
                return self._review(view, answers, self._origin(view, state), page)
            case "back":
                return self._back(view, answers, state)
            case "edit":
                number = refs.number(cmd.arg)
                if number is not None:
                    return self._edit(view, answers, state, number)
                if (cmd.arg or "").strip():  # '/sua abc': say what it takes, do not just list again
                    return self._review_note(view, answers, self._origin(view, state), state.page,
                                             error=t("err_edit_word", edit=slash("edit")))
                return self._review(view, answers, self._origin(view, state))
            case "confirm":
                return self._confirm(view, answers, state)
            case "skip" | "keep" if state.mode == ASK and state.cursor:
                slot = view.slot(state.cursor)
                if slot is None:
                    return self.start(answers, state)
                if cmd.name == "keep":
                    if slot.key not in answers:
                        return self._reask(view, answers, state, slot, t("err_nothing_to_keep"))
                    # an answer another answer now contradicts cannot be kept: /xacnhan would only
                    # send the user back here (found in the fresh-clone trial)
                    broken = self._check(view, slot, answers[slot.key])
                    if broken:
                        return self._reask(view, answers, state, slot, t("err_keep_contradicted", error=broken))
                    return self._advance(self.view(answers), answers, state, slot)
                if slot.question.required:
                    return self._reask(view, answers, state, slot, t("err_required"))
                return self._accept(view, answers, state, slot, None)
        return self.start(answers, state)

    # ----- where the user is --------------------------------------------------------------

    def _origin(self, view: FormView, state: EngineState) -> str | None:
        """The question the user is in the middle of, to come back to from the review or an edit."""
        if state.mode == REVIEW or (state.mode == ASK and state.editing):
            key = state.return_to
        elif state.mode in (ASK, PAUSED):
            key = state.cursor
        else:
            key = None
        return key if key is not None and view.position(key) is not None else None

    def _leave_review(self, view: FormView, answers: Mapping[str, Any], state: EngineState) -> EngineState | None:
        """The state that answers the waiting question: the one the user left, else the first
        unanswered (walked as an edit, so the review comes back when all are answered)."""
        origin = self._origin(view, state)
        if origin is not None:
            return EngineState(cursor=origin)
        first = self._first_unanswered(view, answers)
        return EngineState(cursor=first, editing=True) if first is not None else None

    # ----- moves --------------------------------------------------------------------------

    def _accept(self, view: FormView, answers: dict[str, Any], state: EngineState, slot: Slot, value: Any,
                echo: str | None = None) -> Step:
        if value is not None:
            error = self._check(view, slot, value)
            if error:
                return self._reask(view, answers, state, slot, error)
        changes = []
        if slot.key not in answers or answers[slot.key] != value:
            changes.append(Change(slot.key, answers.get(slot.key), value, slot.key in answers))
            answers[slot.key] = value
        step = self._advance(self.view(answers), answers, state, slot, echo)
        step.changes = changes
        return step

    def _advance(self, view: FormView, answers: dict[str, Any], state: EngineState, slot: Slot,
                 echo: str | None = None) -> Step:
        """The next question; a typed choice is echoed on it («✓ Tày»), so a misread shows at once."""
        if state.editing:
            step = self._after_edit(view, answers, state, slot)
        else:
            pos = view.position(slot.key)
            nxt = view.slots[pos + 1].key if pos is not None and pos + 1 < len(view.slots) else None
            if nxt is None:
                step = self._review(view, answers, None)
            else:
                return Step(replace(state, cursor=nxt, mode=ASK), answers,
                            [self._question(view, answers, nxt, notice=echo)])
        if echo:
            step.messages.insert(0, OutMessage(echo))
        return step

    def _is_name(self, slot: Slot) -> bool:
        """The head's and the members' names, which the form asks to be written with accents."""
        if slot.group is not None:
            return slot.question.id == slot.group.name_id
        return slot.key == self.survey.head_name

    def _ask_accents(self, view: FormView, answers: dict[str, Any], state: EngineState, slot: Slot,
                     name: str) -> Step:
        """Once: keep the name as typed (/giunguyen, or typing it again) or type it with accents."""
        msg = self._question(view, answers, slot.key, t("name_no_accents", name=name, keep=slash("keep")))
        keep = (self._button("keep", label=t("btn_keep_typed")),)
        return Step(state, answers, [OutMessage(msg.text, (keep, *msg.buttons))])

    def _after_edit(self, view: FormView, answers: dict[str, Any], state: EngineState, slot: Slot) -> Step:
        """Questions the edit brought in (a new member) come first; then back to the question
        the user left, or a one-line note in the review when they came from the review's end."""
        origin = self._origin(view, state)
        pos = view.position(slot.key)
        saved = None
        if pos is not None:
            value = self.display(slot.question, answers[slot.key]) if slot.key in answers else t("value_missing")
            saved = t("edit_saved", i=pos + 1, label=self._label(view, slot), value=value)
        nxt = self._first_unanswered(view, answers)
        if nxt is not None and (origin is None or (view.position(nxt) or 0) < (view.position(origin) or 0)):
            state = EngineState(cursor=nxt, editing=True, return_to=origin)
            return Step(state, answers, [self._question(view, answers, nxt, notice=saved)])
        if origin is not None:
            return Step(EngineState(cursor=origin), answers, [self._question(view, answers, origin, notice=saved)])
        return self._review_note(view, answers, None, state.page, notice=saved)

    def _back(self, view: FormView, answers: dict[str, Any], state: EngineState) -> Step:
        if state.mode == REVIEW:
            origin = self._origin(view, state)
            if origin is not None:
                return Step(EngineState(cursor=origin), answers, [self._question(view, answers, origin)])
        if state.mode == REVIEW or state.cursor is None:
            target = view.slots[-1].key if view.slots else None
        else:
            pos = view.position(state.cursor)
            if not pos:
                step = self.start(answers, state)
                step.messages[0] = self._question(view, answers, step.state.cursor, t("err_first_question"))
                return step
            target = view.slots[pos - 1].key
        state = replace(state, cursor=target, mode=ASK, return_to=state.return_to if state.editing else None)
        return Step(state, answers, [self._question(view, answers, target)])

    def _edit(self, view: FormView, answers: dict[str, Any], state: EngineState, number: int) -> Step:
        origin = self._origin(view, state)
        if not 1 <= number <= len(view.slots):
            error = t("err_edit_number", max=len(view.slots))
            return self._review_note(view, answers, origin, state.page, error=error)
        key = view.slots[number - 1].key
        if key == origin:  # "edit" the question that is waiting: just go on answering it
            return Step(EngineState(cursor=key), answers, [self._question(view, answers, key)])
        state = EngineState(cursor=key, mode=ASK, editing=True, return_to=origin, page=state.page)
        return Step(state, answers, [self._question(view, answers, key)])

    def _confirm(self, view: FormView, answers: dict[str, Any], state: EngineState) -> Step:
        """Nothing is submitted with a question unanswered, or with an answer that a later edit
        of another answer made contradict its check (the form's cross-question constraints):
        the user is taken to that question with the reason."""
        missing, error = self._first_missing(view, answers), t("err_missing_before_submit")
        if missing is None:
            missing, error = self._first_broken(view, answers)
        if missing is not None:
            origin = self._origin(view, state)
            if origin == missing:  # the waiting question itself: just go on answering
                state = EngineState(cursor=missing)
            else:
                state = EngineState(cursor=missing, mode=ASK, editing=True, return_to=origin)
            return Step(state, answers, [self._question(view, answers, missing, error)])
        if state.mode != REVIEW:
            return self._review(view, answers, self._origin(view, state))
        return Step(EngineState(mode=SUBMITTED), answers, [], submit=True)

    # ----- checks and rendering -----------------------------------------------------------

    def _check(self, view: FormView, slot: Slot, value: Any) -> str | None:
        q = slot.question
        scope = view.scope_for(slot)
        low = q.min.evaluate(scope) if q.min else None
        high = q.max.evaluate(scope) if q.max else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            too_low = low is not None and value < low
            too_high = high is not None and value > high
            if too_low or too_high:
                fmt = fmt_money if q.type is QType.MONEY else fmt_number
                if low is not None and high is not None:
                    return t("err_range", min=fmt(low), max=fmt(high))
                return t("err_min", min=fmt(low)) if too_low else t("err_max", max=fmt(high))
        if q.constraint is not None:
            cscope = Scope({"value": value}, parent=scope)
            if not q.constraint.truthy(cscope):
                return q.constraint_message or t("err_constraint")
        return None

    def _first_broken(self, view: FormView, answers: Mapping[str, Any]) -> tuple[str | None, str]:
        for slot in view.slots:
            if slot.question.constraint is not None and answers.get(slot.key) is not None:
                error = self._check(view, slot, answers[slot.key])
                if error:
                    return slot.key, t("err_check_before_submit", error=error)
        return None, ""

    def _reask(self, view: FormView, answers: dict[str, Any], state: EngineState, slot: Slot, error: str) -> Step:
        return Step(state, answers, [self._question(view, answers, slot.key, error)])

    def where(self, answers: Mapping[str, Any], state: EngineState) -> str:
        """Where a draft stands, in a few words, for lists of drafts («Phần 3/4 · câu 2/8»)."""
        view = self.view(answers)
        key = state.cursor if state.mode == ASK else state.return_to if state.mode == REVIEW else state.cursor
        if key is None or view.progress(key) is None:
            key = self._first_unanswered(view, answers)
        return self._progress(view, key) if key is not None else t("draft_in_review")



def _bare_name(value: str) -> bool:
    """Letters without a single accent ('Hoang Van Minh'): a Vietnamese name typed on a keyboard
    without accents. Anything else (digits, '=', brackets) is not a name to ask about."""
    return re.fullmatch(r"[A-Za-z][A-Za-z' .\-]*", value) is not None
