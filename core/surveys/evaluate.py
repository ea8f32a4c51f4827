"""Turns a form plus the answers so far into the list of questions to ask and the values
that rules see.

Walking the form in order, each question's `relevant` is judged on the answers before it, and
an answer to a question that is no longer relevant reads as None. So if a village head goes
back and changes a birth year, questions that no longer apply stop counting towards the
classification without anybody deleting anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.expr import Scope
from core.surveys.model import Question, RepeatGroup, Survey


@dataclass(frozen=True)
class Slot:
    """One question as asked: a household question, or a member question for member `index`."""

    key: str
    question: Question
    group: RepeatGroup | None = None
    index: int | None = None

    @property
    def label(self) -> str:
        return _with_index(self.question.label, self.index)

    @property
    def hint(self) -> str | None:
        return _with_index(self.question.hint, self.index) if self.question.hint else None


@dataclass(frozen=True)
class FormView:
    slots: tuple[Slot, ...]
    scope: Scope

    def position(self, key: str | None) -> int | None:
        for i, slot in enumerate(self.slots):
            if slot.key == key:
                return i
        return None

    def slot(self, key: str) -> Slot | None:
        pos = self.position(key)
        return None if pos is None else self.slots[pos]

    def scope_for(self, slot: Slot) -> Scope:
        """The scope a question's own expressions (min, max, constraint) are judged in."""
        if slot.index is None:
            return self.scope
        return Scope(self.scope.members[slot.index - 1], parent=self.scope)


def member_key(group_id: str, index: int, qid: str) -> str:
    return f"{group_id}.{index}.{qid}"


def _with_index(text: str | None, index: int | None) -> str:
    text = text or ""
    return text.replace("{n}", str(index)) if index is not None else text


def _as_count(value: Any, limit: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return max(0, min(value, limit))
    return 0


def evaluate(survey: Survey, answers: Mapping[str, Any], context: Mapping[str, Any]) -> FormView:
    values: dict[str, Any] = dict(context)
    members: list[dict[str, Any]] = []
    household = Scope(values, members)
    slots: list[Slot] = []

    def visit(q: Question, key: str, scope: Scope, target: dict[str, Any], slot: Slot) -> None:
        if q.relevant is not None and not q.relevant.truthy(scope):
            target[q.id] = None
        elif q.expr is not None:
            target[q.id] = q.expr.evaluate(scope)
        else:
            slots.append(slot)
            target[q.id] = answers.get(key)

    for item in survey.items:
        if isinstance(item, Question):
            visit(item, item.id, household, values, Slot(item.id, item))
            continue
        if item.relevant is not None and not item.relevant.truthy(household):
            continue
        for index in range(1, _as_count(values.get(item.count_from), item.max_count) + 1):
            member: dict[str, Any] = {"_index": index}
            members.append(member)
            mscope = Scope(member, parent=household)
            for q in item.questions:
                key = member_key(item.id, index, q.id)
                visit(q, key, mscope, member, Slot(key, q, item, index))
    return FormView(tuple(slots), household)


def outputs(survey: Survey, view: FormView) -> dict[str, Any]:
    """The survey's declared outputs (income per capita, B1 score, member count)."""
    return {name: expr.evaluate(view.scope) for name, expr in survey.outputs.items()}
