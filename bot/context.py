"""What a handler is given: the request (who, where, what), the open transaction, and the
application's data (forms, rule packs, reports, plans, settings, clock).

Handlers are written once for every channel; they never see a platform object, and they
return the messages to send. Everything they write goes into the one transaction that also
records the update, so a reply is only ever sent for work that was committed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from core.access import Role
from core.chat.messages import ChatRef, Command, Incoming
from core.classification.pack import RulePack
from core.config import Settings
from core.plans.model import Plan
from core.procedure.screening import phieu_a
from core.procedure.standards import REVIEW_YEARS, ReviewYears, Standard, load_review_years, standard_for
from core.reports.build import Catalogue
from core.rules.versions import Rules
from core.storage.cache import AnswerCache
from core.storage.db import Database
from core.storage.models import Unit, User
from core.surveys.model import Survey

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class CommandRow(Protocol):
    """What the welcome and the help read of a row of the command table."""

    @property
    def name(self) -> str: ...

    @property
    def menu(self) -> bool: ...


class Commands(Protocol):
    """The command table as handlers see it: the rows a role may use (bot/router.py)."""

    def for_role(self, role: Role) -> Sequence[CommandRow]: ...


@dataclass
class AppData:
    """The long-lived part: loaded and checked once at start-up."""

    db: Database
    settings: Settings
    forms: dict[str, Survey]
    packs: list[RulePack]
    reports: Catalogue
    plans: list[Plan]
    clock: Callable[[], datetime]
    answers: AnswerCache = field(default_factory=AnswerCache)
    review_years: ReviewYears | None = None  # which standard each review year applies
    rules: Rules = field(init=False)  # the packs in force: the newest signed version, else the YAML

    def __post_init__(self) -> None:
        if self.review_years is None:  # checked at start-up with file and line, like every data file
            path = self.settings.review_years_file or REVIEW_YEARS
            self.review_years = load_review_years(self.packs, path)
        form, stop_rule = phieu_a()
        self.rules = Rules(self.packs, self.forms, form, stop_rule)
        self.packs = self.rules.in_force()

    async def refresh_rules(self, s: AsyncSession) -> None:
        """Take the versions the province signed since (on this worker or another)."""
        if await self.rules.refresh(s):
            self.packs = self.rules.in_force()

    async def standard(self, s: AsyncSession, review_year: int) -> Standard:
        """The standard a review year applies (the province's recorded override first), with
        the pack's newest signed version: asked on each classification."""
        assert self.review_years is not None
        await self.refresh_rules(s)
        return await standard_for(s, self.review_years, self.packs, review_year)


class StaleUser(Exception):
    """The cached user differs from its row: the update is rolled back and run again."""


@dataclass
class Ctx:
    data: AppData
    router: Commands
    s: AsyncSession
    chat: ChatRef
    incoming: Incoming
    user: User | None
    command: Command | None = None  # what the router resolved the update to
    refused: bool = False  # a press that was not applied: the channel must not show it as answered
    wakes: set[str] = field(default_factory=set)  # workers to wake after the commit ("reports")
    after_commit: list[Callable[[], None]] = field(default_factory=list)  # e.g. cache writes
    memo: dict[str, Any] = field(default_factory=dict)  # rows a handler already read in this transaction
    prepared: Any = None  # what the route's `prepare` made of the update's file, before the transaction
    # the user came from the worker's cache: some statement of this transaction must re-read
    # its row (check_user) before the commit, or the app does
    user_unchecked: bool = False
    _unit: Unit | None = None

    @property
    def settings(self) -> Settings:
        return self.data.settings

    def now(self) -> datetime:
        return self.data.clock()

    def today(self) -> date:
        """Today where the review happens (the procedure's dates are local dates)."""
        return self.now().astimezone(TZ).date()

    def data_path(self, *parts: str) -> Path:
        """Where the procedure's files (lists, decisions, minutes) are kept."""
        return Path(self.settings.data_dir).joinpath("procedure", *parts)

    @property
    def me(self) -> User:
        """The registered user (handlers behind the stranger gate only)."""
        assert self.user is not None
        return self.user

    def check_user(self, role: str, unit_id: int | None, disabled: Any) -> None:
        """Compare a fresh read of the user's row with the cached user."""
        if not self.user_unchecked or self.user is None:
            return
        if disabled is not None or role != self.user.role or unit_id != self.user.unit_id:
            raise StaleUser
        self.user_unchecked = False

    async def unit(self) -> Unit | None:
        """The unit the user answers for (a village head's village, an officer's commune...)."""
        if self._unit is None and self.user is not None and self.user.unit_id is not None:
            self._unit = await self.s.get(Unit, self.user.unit_id)
        return self._unit
