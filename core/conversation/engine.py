"""The survey conversation engine: state and answers in, one user action in; new state, answer
changes and outgoing messages out.

It does no I/O and knows no platform, so the same engine drives Telegram, Zalo and the console,
and every path (re-ask, back, edit, pause, review) can be tested without a network or database.
The caller persists `Step.changes` before it sends `Step.messages`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from core.conversation import payloads
from core.conversation.commands import command_button, slash
from core.conversation.messages import Button, Command, OutMessage
from core.expr import Scope
from core.i18n import fmt_money, fmt_number, t
from core.surveys.evaluate import FormView, Slot, evaluate
from core.surveys.model import QType, Question, Survey
from core.surveys.parsing import ParseError, parse_answer

REVIEW_CHUNK = 3500  # characters per review message; Telegram allows 4096
ASK, REVIEW, PAUSED, SUBMITTED = "ask", "review", "paused", "submitted"


@dataclass(frozen=True)
class EngineState:
    cursor: str | None = None
    mode: str = ASK
    editing: bool = False  # answering a question picked from the review: return there after

    def to_json(self) -> dict[str, Any]:
        return {"cursor": self.cursor, "mode": self.mode, "editing": self.editing}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> EngineState:
        data = data or {}
        return cls(data.get("cursor"), data.get("mode", ASK), bool(data.get("editing", False)))


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


class SurveyEngine:
    def __init__(self, survey: Survey, context: Mapping[str, Any]) -> None:
        self.survey = survey
        self.context = dict(context)

    def view(self, answers: Mapping[str, Any]) -> FormView:
        return evaluate(self.survey, answers, self.context)

    # ----- entry points -------------------------------------------------------------------

    def start(self, answers: Mapping[str, Any], state: EngineState | None = None) -> Step:
        """Show where the survey stands: the current question, or the review if all is answered."""
        answers = dict(answers)
        state = state or EngineState()
        view = self.view(answers)
        if state.mode == SUBMITTED:
            return Step(state, answers, [self._submitted_message()])
        if state.mode == REVIEW:
            return self._review(view, answers, state)
        state = replace(state, mode=ASK)
        if state.cursor is None or view.position(state.cursor) is None:
            state = replace(state, cursor=self._first_unanswered(view, answers))
        if state.cursor is None:
            return self._review(view, answers, state)
        return Step(state, answers, [self._question(view, answers, state.cursor)])

    def handle_text(self, state: EngineState, answers: Mapping[str, Any], text: str) -> Step:
        answers = dict(answers)
        view = self.view(answers)
        if state.mode == PAUSED:
            return self.start(answers, replace(state, mode=ASK))
        if state.mode == SUBMITTED:
            return Step(state, answers, [self._submitted_message()])
        if state.mode == REVIEW:
            number = text.strip()
            if number.isdigit():
                return self._edit(view, answers, state, int(number))
            return self._review(view, answers, state, error=t("review_hint_error"))
        slot = view.slot(state.cursor) if state.cursor else None
        if slot is None:
            return self.start(answers, state)
        try:
            value = parse_answer(slot.question, text)
        except ParseError as exc:
            return self._reask(view, answers, state, slot, t(exc.key, **exc.params))
        return self._accept(view, answers, state, slot, value)

    def handle_button(self, state: EngineState, answers: Mapping[str, Any], key: str, value: str) -> Step:
        """A choice button: 'a:<slot key>:<choice value>'. Presses on old messages are refused."""
        answers = dict(answers)
        view = self.view(answers)
        if state.mode != ASK or key != state.cursor:
            step = self.start(answers, replace(state, mode=ASK) if state.mode == PAUSED else state)
            step.messages.insert(0, OutMessage(t("stale_button")))
            return step
        slot = view.slot(key)
        if slot is None:
            return self.start(answers, state)
        q = slot.question
        if q.type is QType.YES_NO and value in ("1", "0"):
            parsed: Any = value == "1"
        elif q.type is QType.CHOICE and q.choice(value):
            parsed = value
        else:
            return self._reask(view, answers, state, slot, t("stale_button"))
        return self._accept(view, answers, state, slot, parsed)

    def handle_command(self, state: EngineState, answers: Mapping[str, Any], cmd: Command) -> Step:
        answers = dict(answers)
        view = self.view(answers)
        if state.mode == SUBMITTED:
            return Step(state, answers, [self._submitted_message()])
        match cmd.name:
            case "pause":
                msg = OutMessage(t("paused", resume=slash("resume")), ((self._button("resume"),),))
                return Step(replace(state, mode=PAUSED), answers, [msg])
            case "resume":
                return self.start(answers, replace(state, mode=ASK) if state.mode == PAUSED else state)
            case "review":
                return self._review(view, answers, state)
            case "back":
                return self._back(view, answers, state)
            case "edit":
                if cmd.arg and cmd.arg.strip().isdigit():
                    return self._edit(view, answers, state, int(cmd.arg))
                return self._review(view, answers, state)
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
            nxt = self._first_unanswered(view, answers)
        else:
            pos = view.position(slot.key)
            nxt = view.slots[pos + 1].key if pos is not None and pos + 1 < len(view.slots) else None
        if nxt is None:
            return self._review(view, answers, replace(state, editing=False))
        state = replace(state, cursor=nxt, mode=ASK)
        return Step(state, answers, [self._question(view, answers, nxt)])

    def _back(self, view: FormView, answers: dict[str, Any], state: EngineState) -> Step:
        if state.mode == REVIEW or state.cursor is None:
            target = view.slots[-1].key if view.slots else None
        else:
            pos = view.position(state.cursor)
            if not pos:
                step = self.start(answers, state)
                step.messages[0] = self._question(view, answers, step.state.cursor, t("err_first_question"))
                return step
            target = view.slots[pos - 1].key
        state = replace(state, cursor=target, mode=ASK)
        return Step(state, answers, [self._question(view, answers, target)])

    def _edit(self, view: FormView, answers: dict[str, Any], state: EngineState, number: int) -> Step:
        if not 1 <= number <= len(view.slots):
            return self._review(view, answers, state, error=t("err_edit_number", max=len(view.slots)))
        key = view.slots[number - 1].key
        state = EngineState(cursor=key, mode=ASK, editing=True)
        return Step(state, answers, [self._question(view, answers, key)])

    def _confirm(self, view: FormView, answers: dict[str, Any], state: EngineState) -> Step:
        missing = self._first_unanswered(view, answers)
        if missing is not None:
            state = EngineState(cursor=missing, mode=ASK, editing=True)
            return Step(state, answers, [self._question(view, answers, missing, t("err_missing_before_submit"))])
        if state.mode != REVIEW:
            return self._review(view, answers, state)
        return Step(replace(state, mode=SUBMITTED, editing=False), answers, [], submit=True)

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

    def _reask(self, view: FormView, answers: dict[str, Any], state: EngineState, slot: Slot, error: str) -> Step:
        return Step(state, answers, [self._question(view, answers, slot.key, error)])

    def _submitted_message(self) -> OutMessage:
        return OutMessage(t("survey_already_submitted", reopen=slash("reopen"), new=slash("new")))

    def _button(self, name: str, arg: str | None = None) -> Button:
        return command_button(t(f"btn_{name}"), name, arg)

    def _question(self, view: FormView, answers: Mapping[str, Any], key: str, error: str | None = None) -> OutMessage:
        pos = view.position(key)
        assert pos is not None
        slot = view.slots[pos]
        q = slot.question
        lines = []
        if error:
            lines += [t("error_prefix", error=error), ""]
        lines.append(t("q_progress", i=pos + 1, n=len(view.slots)))
        if slot.group is not None:
            lines.append(slot.group.label.replace("{n}", str(slot.index)))
        lines.append(slot.label)
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
        lines = []
        for i, slot in enumerate(view.slots, 1):
            value = self.display(slot.question, answers[slot.key]) if slot.key in answers else t("value_missing")
            lines.append(t("review_line", i=i, label=slot.label, value=value))
        return lines

    def _review(self, view: FormView, answers: dict[str, Any], state: EngineState, error: str | None = None) -> Step:
        state = EngineState(cursor=None, mode=REVIEW)
        head = t("review_title", title=self.survey.title, n=len(view.slots))
        chunks: list[str] = []
        current = head
        for line in self.summary_lines(view, answers):
            if len(current) + len(line) + 1 > REVIEW_CHUNK:
                chunks.append(current)
                current = line
            else:
                current += "\n" + line
        chunks.append(current)
        messages = [OutMessage(c) for c in chunks]
        footer = t("review_footer", confirm=slash("confirm"))
        if error:
            footer = t("error_prefix", error=error) + "\n" + footer
        buttons = ((self._button("confirm"),), (self._button("back"), self._button("pause")))
        messages.append(OutMessage(footer, buttons))
        return Step(state, answers, messages)
