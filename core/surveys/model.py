"""The in-memory shape of a survey form, built from a validated data file."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from core.expr import Expr


class QType(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    MONEY = "money"
    YEAR = "year"
    CHOICE = "choice"
    YES_NO = "yes_no"
    ID_NUMBER = "id_number"
    PHONE = "phone"
    CALCULATE = "calculate"


ASKED_TYPES = frozenset(QType) - {QType.CALCULATE}


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Question:
    id: str
    type: QType
    label: str
    line: int
    hint: str | None = None
    required: bool = True
    min: Expr | None = None
    max: Expr | None = None
    choices: tuple[Choice, ...] = ()
    relevant: Expr | None = None
    constraint: Expr | None = None
    constraint_message: str | None = None
    expr: Expr | None = None  # for calculate
    section: str | None = None  # the section's title when the form names it (optional `section:` key)
    part: int = 0  # 1-based number of the form section the question belongs to (0: not set)

    @property
    def asked(self) -> bool:
        return self.type is not QType.CALCULATE

    def choice(self, value: str) -> Choice | None:
        return next((c for c in self.choices if c.value == value), None)


@dataclass(frozen=True)
class RepeatGroup:
    """A block of questions asked once per household member (pyxform's repeat with repeat_count)."""

    id: str
    label: str
    count_from: str
    max_count: int
    questions: tuple[Question, ...]
    line: int
    relevant: Expr | None = None
    section: str | None = None
    part: int = 0
    name_id: str | None = None  # the member question holding the member's name, to name members
    relation_id: str | None = None  # the member question holding the relation to the head


Item = Question | RepeatGroup


@dataclass(frozen=True)
class Survey:
    id: str
    version: str
    title: str
    purpose: str  # "poverty" (Phiếu B) or "average_living" (Phiếu C)
    items: tuple[Item, ...]
    outputs: dict[str, Expr]
    path: str
    head_name: str | None = None  # question holding the household head's name, for lists
    basis: str = ""
    context_names: frozenset[str] = field(default_factory=frozenset)
    prior_classes: dict[str, str] = field(default_factory=dict)  # start-of-period answer -> report class
    sections: tuple[str | None, ...] = ()  # title (or None) of each section, in order; see loader

    @property
    def parts(self) -> int:
        return max(1, len(self.sections))

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"

    def household_questions(self) -> list[Question]:
        return [i for i in self.items if isinstance(i, Question)]

    def groups(self) -> list[RepeatGroup]:
        return [i for i in self.items if isinstance(i, RepeatGroup)]

    def member_question_ids(self) -> set[str]:
        return {q.id for g in self.groups() for q in g.questions}
