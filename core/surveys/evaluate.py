"""Turns a form plus the answers so far into the list of questions to ask and the values
that rules see.

Walking the form in order, each question's `relevant` is judged on the answers before it, and
an answer to a question that is no longer relevant reads as None. So if a village head goes
back and changes a birth year, questions that no longer apply stop counting towards the
classification without anybody deleting anything.

The same walk feeds the progress line. A question that is not asked now but whose skip rule
still waits on an unanswered question (a member's schooling before the birth year is known)
is counted as "may come", so the count of a section only ever shrinks as answers arrive and a
village head never sees «câu 5/4» or a total that jumps up under their thumb.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.expr import Expr, Scope
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
class Progress:
    """Where a question stands: section `part` of `parts`, member `member` of `members` (for
    roster questions), question `i` of `n` in that section (or in that member's questions)."""

    part: int
    parts: int
    i: int
    n: int
    member: int | None = None
    members: int | None = None


@dataclass(frozen=True)
class FormView:
    slots: tuple[Slot, ...]
    scope: Scope
    counted: tuple[Slot, ...] = ()  # asked slots and slots that may still come, in form order
    member_counts: Mapping[str, int] = field(default_factory=dict)  # roster group id -> members
    parts: int = 1

    def progress(self, key: str) -> Progress | None:
        slot = self.slot(key)
        if slot is None:
            return None
        part = slot.question.part or 1
        same = [s.key for s in self.counted or self.slots
                if (s.question.part or 1) == part and s.index == slot.index
                and (s.group.id if s.group else None) == (slot.group.id if slot.group else None)]
        i = same.index(key) + 1 if key in same else 1
        parts = max(self.parts, part)
        if slot.group is None:
            return Progress(part, parts, i, len(same))
        members = self.member_counts.get(slot.group.id, slot.index or 1)
        return Progress(part, parts, i, len(same), slot.index, members)

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


def _undecided(rule: Expr, scope: Scope) -> bool:
    """A skip rule that reads a value not known yet may still let the question in."""
    return any(scope.lookup(name) is None for name in rule.names if name not in ("True", "False", "None"))


def _as_count(value: Any, limit: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return max(0, min(value, limit))
    return 0


class _FormSlots:
    """A form's slots, which do not depend on the answers: built once per form (and member
    number) instead of on every evaluation, where making them was a fifth of evaluate's time
    and evaluate runs on every answer (issue 25)."""

    def __init__(self, survey: Survey) -> None:
        self.survey = survey
        self.household = [Slot(i.id, i) if isinstance(i, Question) else None for i in survey.items]
        self._members: dict[tuple[int, int], tuple[Slot, ...]] = {}

    def member(self, pos: int, group: RepeatGroup, index: int) -> tuple[Slot, ...]:
        slots = self._members.get((pos, index))
        if slots is None:
            slots = tuple(Slot(member_key(group.id, index, q.id), q, group, index) for q in group.questions)
            self._members[pos, index] = slots
        return slots


_FORMS: dict[int, _FormSlots] = {}  # id(survey) -> its slots; the entry keeps the survey alive
_FORMS_KEPT = 64  # forms held at once (a process has a handful; tests build many)


def _slots_of(survey: Survey) -> _FormSlots:
    cached = _FORMS.get(id(survey))
    if cached is None or cached.survey is not survey:
        if len(_FORMS) >= _FORMS_KEPT:
            _FORMS.clear()
        cached = _FORMS[id(survey)] = _FormSlots(survey)
    return cached


def evaluate(survey: Survey, answers: Mapping[str, Any], context: Mapping[str, Any]) -> FormView:
    values: dict[str, Any] = dict(context)
    members: list[dict[str, Any]] = []
    household = Scope(values, members)
    slots: list[Slot] = []
    counted: list[Slot] = []
    member_counts: dict[str, int] = {}
    form = _slots_of(survey)

    def visit(q: Question, key: str, scope: Scope, target: dict[str, Any], slot: Slot) -> None:
        if q.relevant is not None and not q.relevant.truthy(scope):
            target[q.id] = None
            if q.asked and _undecided(q.relevant, scope):
                counted.append(slot)
        elif q.expr is not None:
            target[q.id] = q.expr.evaluate(scope)
        else:
            slots.append(slot)
            counted.append(slot)
            target[q.id] = answers.get(key)

    for pos, item in enumerate(survey.items):
        if isinstance(item, Question):
            visit(item, item.id, household, values, form.household[pos])  # type: ignore[arg-type]
            continue
        if item.relevant is not None and not item.relevant.truthy(household):
            continue
        count = _as_count(values.get(item.count_from), item.max_count)
        member_counts[item.id] = count
        for index in range(1, count + 1):
            member: dict[str, Any] = {"_index": index}
            members.append(member)
            mscope = Scope(member, parent=household)
            for slot in form.member(pos, item, index):
                visit(slot.question, slot.key, mscope, member, slot)
    return FormView(tuple(slots), household, tuple(counted), member_counts, survey.parts)


def outputs(survey: Survey, view: FormView) -> dict[str, Any]:
    """The survey's declared outputs (income per capita, B1 score, member count)."""
    return {name: expr.evaluate(view.scope) for name, expr in survey.outputs.items()}
