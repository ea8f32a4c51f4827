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

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from math import ceil
from typing import Any

from core.conversation import payloads, refs
from core.conversation.commands import command_button, slash
from core.conversation.messages import Button, Command, OutMessage
from core.expr import Scope
from core.i18n import fmt_money, fmt_number, t
from core.surveys.evaluate import FormView, Slot, evaluate, member_key
from core.surveys.model import QType, Question, Survey
from core.surveys.parsing import ParseError, parse_answer

REVIEW_PAGE = 12  # answer lines per review page: with the title and two footer lines, 15 lines
EDIT_ROW = 6  # edit buttons per keyboard row
ASK, REVIEW, PAUSED, SUBMITTED = "ask", "review", "paused", "submitted"


@dataclass(frozen=True)
class EngineState:
    cursor: str | None = None
    mode: str = ASK
    editing: bool = False  # answering a question picked from the review: return there after
    return_to: str | None = None  # the question waiting while the user is in the review or an edit
    page: int = 0  # the review page last shown (1-based; 0: none)

    def to_json(self) -> dict[str, Any]:
        return {"cursor": self.cursor, "mode": self.mode, "editing": self.editing,
                "return_to": self.return_to, "page": self.page}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> EngineState:
        data = data or {}
        page = data.get("page")
        return cls(data.get("cursor"), data.get("mode", ASK), bool(data.get("editing", False)),
                   data.get("return_to"), page if isinstance(page, int) and page > 0 else 0)


@dataclass(frozen=True)
class Change:
    key: str
    old: Any
    new: Any
    existed: bool  # whether the key had an answer before (None may be a stored "skipped")


@dataclass
class Step:
    state: EngineState
    answers: dict[str, Any]
    messages: list[OutMessage] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    submit: bool = False
    # A button press that was not applied (an old message, a forged value): the channel must not
    # edit the pressed message to show that answer.
    refused: bool = False


class SurveyEngine:
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
        slot = view.slot(state.cursor) if state.cursor else None
        if slot is None:
            return self.start(answers, state)
        try:
            value = parse_answer(slot.question, text)
        except ParseError as exc:
            return self._reask(view, answers, state, slot, t(exc.key, **exc.params))
        return self._accept(view, answers, state, slot, value)

    def handle_button(self, state: EngineState, answers: Mapping[str, Any], key: str, value: str) -> Step:
        """A choice button: 'a:<slot key>:<choice value>'. Presses on old messages are refused
        (`Step.refused`), except on the question the review or a pause left waiting."""
        answers = dict(answers)
        view = self.view(answers)
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

    def _accept(self, view: FormView, answers: dict[str, Any], state: EngineState, slot: Slot, value: Any) -> Step:
        if value is not None:
            error = self._check(view, slot, value)
            if error:
                return self._reask(view, answers, state, slot, error)
        changes = []
        if slot.key not in answers or answers[slot.key] != value:
            changes.append(Change(slot.key, answers.get(slot.key), value, slot.key in answers))
            answers[slot.key] = value
        step = self._advance(self.view(answers), answers, state, slot)
        step.changes = changes
        return step

    def _advance(self, view: FormView, answers: dict[str, Any], state: EngineState, slot: Slot) -> Step:
        if state.editing:
            return self._after_edit(view, answers, state, slot)
        pos = view.position(slot.key)
        nxt = view.slots[pos + 1].key if pos is not None and pos + 1 < len(view.slots) else None
        if nxt is None:
            return self._review(view, answers, None)
        state = replace(state, cursor=nxt, mode=ASK)
        return Step(state, answers, [self._question(view, answers, nxt)])

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
        missing = self._first_missing(view, answers)
        if missing is not None:
            origin = self._origin(view, state)
            if origin == missing:  # the waiting question itself: just go on answering
                state = EngineState(cursor=missing)
            else:
                state = EngineState(cursor=missing, mode=ASK, editing=True, return_to=origin)
            return Step(state, answers, [self._question(view, answers, missing, t("err_missing_before_submit"))])
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

    def _first_unanswered(self, view: FormView, answers: Mapping[str, Any]) -> str | None:
        for slot in view.slots:
            if slot.key not in answers:
                return slot.key
        return None

    def _missing(self, view: FormView, answers: Mapping[str, Any]) -> list[Slot]:
        """Required questions without an answer: while any is left, the survey cannot be submitted."""
        return [s for s in view.slots if s.question.required and s.key not in answers]

    def _first_missing(self, view: FormView, answers: Mapping[str, Any]) -> str | None:
        missing = self._missing(view, answers)
        return missing[0].key if missing else None

    def _reask(self, view: FormView, answers: dict[str, Any], state: EngineState, slot: Slot, error: str) -> Step:
        return Step(state, answers, [self._question(view, answers, slot.key, error)])

    def _submitted_message(self) -> OutMessage:
        return OutMessage(t("survey_already_submitted", reopen=slash("reopen"), new=slash("new")))

    def _button(self, name: str, arg: str | None = None, label: str | None = None) -> Button:
        return command_button(label or t(f"btn_{name}"), name, arg)

    def member_name(self, view: FormView, slot: Slot) -> str:
        """Who a roster question is about: «Nông Thị Hoa (vợ/chồng)»; member 1, whose name the
        form does not ask again, is the head of household named at the start."""
        group, index = slot.group, slot.index or 1
        assert group is not None
        values = view.scope_for(slot).values
        name = values.get(group.name_id) if group.name_id else None
        if not name and index == 1 and group.name_id and self.survey.head_name \
                and view.slot(member_key(group.id, 1, group.name_id)) is None:
            head = view.scope.lookup(self.survey.head_name)
            return t("member_head", name=head) if head else t("member_head_unnamed")
        if not name:
            return group.label.replace("{n}", str(index))
        relation = values.get(group.relation_id) if group.relation_id else None
        rq = next((q for q in group.questions if q.id == group.relation_id), None)
        if relation is not None and rq is not None:
            return t("member_named", name=name, relation=self.display(rq, relation).lower())
        return str(name)

    def _label(self, view: FormView, slot: Slot) -> str:
        """The question as shown; `{member}` in a roster label becomes the member's name."""
        if slot.group is not None and "{member}" in slot.label:
            return slot.label.replace("{member}", self.member_name(view, slot))
        return slot.label

    def where(self, answers: Mapping[str, Any], state: EngineState) -> str:
        """Where a draft stands, in a few words, for lists of drafts («Phần 3/4 · câu 2/8»)."""
        view = self.view(answers)
        key = state.cursor if state.mode == ASK else state.return_to if state.mode == REVIEW else state.cursor
        if key is None or view.progress(key) is None:
            key = self._first_unanswered(view, answers)
        return self._progress(view, key) if key is not None else t("draft_in_review")

    def _progress(self, view: FormView, key: str) -> str:
        p = view.progress(key)
        assert p is not None
        if p.member is not None:
            return t("q_progress_member", part=p.part, parts=p.parts, m=p.member, mm=p.members, i=p.i, n=p.n)
        if p.parts > 1:
            return t("q_progress_part", part=p.part, parts=p.parts, i=p.i, n=p.n)
        return t("q_progress", i=p.i, n=p.n)

    def _question(
        self, view: FormView, answers: Mapping[str, Any], key: str, error: str | None = None,
        notice: str | None = None,
    ) -> OutMessage:
        pos = view.position(key)
        assert pos is not None
        slot = view.slots[pos]
        q = slot.question
        lines = []
        if error:
            lines += [t("error_prefix", error=error), ""]
        elif notice:
            lines += [notice, ""]
        lines.append(self._progress(view, key))
        if slot.group is not None:
            lines.append(t("q_member", who=self.member_name(view, slot)))
        lines.append(self._label(view, slot))
        if slot.hint:
            lines.append(t("q_hint", hint=slot.hint))
        elif q.type is not QType.CHOICE and q.type is not QType.YES_NO:
            lines.append(t(f"q_hint_{q.type.value}"))
        if key in answers:
            lines.append(t("q_current", value=self.display(q, answers[key])))
        rows: list[tuple[Button, ...]] = []
        if q.type is QType.YES_NO:
            rows.append((Button(t("answer_yes"), payloads.answer(key, "1"), "1"),
                         Button(t("answer_no"), payloads.answer(key, "0"), "2")))
        elif q.type is QType.CHOICE:
            rows += [(Button(c.label, payloads.answer(key, c.value), str(i)),) for i, c in enumerate(q.choices, 1)]
        nav = []
        if pos > 0:
            nav.append(self._button("back"))
        if key in answers:
            nav.append(self._button("keep"))
        if not q.required:
            nav.append(self._button("skip"))
        nav.append(self._button("pause"))
        rows.append(tuple(nav))
        return OutMessage("\n".join(lines), tuple(rows))

    def display(self, q: Question, value: Any) -> str:
        if value is None:
            return t("value_skipped")
        match q.type:
            case QType.YES_NO:
                return t("answer_yes") if value else t("answer_no")
            case QType.CHOICE:
                choice = q.choice(value)
                return choice.label if choice else str(value)
            case QType.MONEY:
                return fmt_money(value)
            case QType.DECIMAL | QType.INTEGER:
                return fmt_number(value)
        return str(value)

    def summary_lines(self, view: FormView, answers: Mapping[str, Any]) -> list[str]:
        return [self._line(view, answers, i, slot) for i, slot in enumerate(view.slots, 1)]

    def _line(self, view: FormView, answers: Mapping[str, Any], i: int, slot: Slot, current: bool = False) -> str:
        value = self.display(slot.question, answers[slot.key]) if slot.key in answers else t("value_missing")
        return t("review_line_current" if current else "review_line", i=i, label=self._label(view, slot), value=value)

    # ----- review -------------------------------------------------------------------------

    def _review(
        self, view: FormView, answers: dict[str, Any], return_to: str | None, page: int | None = None
    ) -> Step:
        """One page of the review. Without a page asked for, the page of the waiting question."""
        pages = max(1, ceil(len(view.slots) / REVIEW_PAGE))
        if page is None:
            anchor = view.position(return_to) if return_to else None
            page = anchor // REVIEW_PAGE + 1 if anchor is not None else 1
        page = min(max(page, 1), pages)
        first = (page - 1) * REVIEW_PAGE
        shown = view.slots[first:first + REVIEW_PAGE]
        lines = [t("review_page_title", title=self.survey.title, page=page, pages=pages, n=len(view.slots))]
        lines += [self._line(view, answers, first + j, slot, slot.key == return_to)
                  for j, slot in enumerate(shown, 1)]
        footer, actions = self._footer(view, answers, return_to)
        lines += footer
        edits = [command_button(t("btn_edit_n", i=first + j), "edit", str(first + j)) for j in range(1, len(shown) + 1)]
        rows = [tuple(edits[k:k + EDIT_ROW]) for k in range(0, len(edits), EDIT_ROW)]
        turn = []
        if page > 1:
            turn.append(self._button("review", str(page - 1), t("btn_page_prev")))
        if page < pages:
            turn.append(self._button("review", str(page + 1), t("btn_page_next")))
        if turn:
            rows.append(tuple(turn))
        rows += actions
        state = EngineState(mode=REVIEW, return_to=return_to, page=page)
        return Step(state, answers, [OutMessage("\n".join(lines), tuple(rows))])

    def _review_note(
        self, view: FormView, answers: dict[str, Any], return_to: str | None, page: int,
        error: str | None = None, notice: str | None = None,
    ) -> Step:
        """A short reply in the review (an error, a saved edit): the line that matters and the
        review's buttons, not the whole review again."""
        lines = [t("error_prefix", error=error)] if error else [notice] if notice else []
        footer, actions = self._footer(view, answers, return_to)
        page = page or 1
        rows = [*actions, (self._button("review", str(page), t("btn_review_page")),)]
        state = EngineState(mode=REVIEW, return_to=return_to, page=page)
        return Step(state, answers, [OutMessage("\n".join([*lines, *footer]), tuple(rows))])

    def _footer(
        self, view: FormView, answers: Mapping[str, Any], return_to: str | None
    ) -> tuple[list[str], list[tuple[Button, ...]]]:
        """What is left to do, on one line, and its buttons: go on answering, go to the first
        missing question, or submit (only when nothing required is missing)."""
        status: list[str] = []
        rows: list[tuple[Button, ...]] = []
        if return_to is not None:
            pos = view.position(return_to)
            slot = view.slot(return_to)
            assert pos is not None and slot is not None
            status.append(t("review_status_pending", i=pos + 1, label=self._label(view, slot)))
            rows.append((self._button("resume", label=t("btn_resume_answer")),))
        missing = self._missing(view, answers)
        if missing and missing[0].key != return_to:
            pos = view.position(missing[0].key)
            assert pos is not None
            status.append(t("review_status_missing", count=len(missing), i=pos + 1,
                            label=self._label(view, missing[0])))
            rows.append((self._button("edit", str(pos + 1), t("btn_goto", i=pos + 1)),))
        if not missing:
            status.append(t("review_status_complete", confirm=slash("confirm")))
            rows.append((self._button("confirm"),))
        rows.append((self._button("pause"),))
        idle = return_to is None and self._first_unanswered(view, answers) is None
        hint = t("review_edit_hint_number" if idle else "review_edit_hint", edit=slash("edit"))
        return [" ".join(status), hint], rows
