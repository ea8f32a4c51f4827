"""What the survey engine says: the question with its progress line and buttons, member names,
the paged review and its footer, how an answer is shown.

A mixin of `SurveyEngine` (core/conversation/engine.py), which decides what happens; this
class only words it, so the state machine and its texts each stay readable on their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import ceil
from typing import Any

from core.chat import payloads
from core.chat.commands import command_button, slash
from core.chat.messages import Button, OutMessage
from core.conversation.state import REVIEW, EngineState, Step
from core.i18n import fmt_money, fmt_number, t
from core.surveys.evaluate import FormView, Slot, member_key
from core.surveys.model import QType, Question, Survey

REVIEW_PAGE = 12  # answer lines per review page: with the title and two footer lines, 15 lines
EDIT_ROW = 6  # edit buttons per keyboard row


class Wording:
    survey: Survey

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

    def _progress(self, view: FormView, key: str) -> str:
        """Where the question stands; it leads with the number the review lists it under (and
        /sua takes), so that one question never has two numbers."""
        p, pos = view.progress(key), view.position(key)
        assert p is not None and pos is not None
        if p.member is not None:
            return t("q_progress_member", pos=pos + 1, part=p.part, parts=p.parts, m=p.member, mm=p.members,
                     i=p.i, n=p.n)
        if p.parts > 1:
            return t("q_progress_part", pos=pos + 1, part=p.part, parts=p.parts, i=p.i, n=p.n)
        return t("q_progress", pos=pos + 1, i=p.i, n=p.n)

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
