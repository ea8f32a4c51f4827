"""The chat application every channel calls: one user action in, the reply out.

Each call is one database transaction that passes the same steps for every update, in one
place: (1) the journal claims the update id, so a re-delivered update changes nothing and gets
the same reply; (2) the sender is looked up (administrators named in the settings are created
on first contact; a disabled user is a stranger); (3) the router sends it to its handler,
which writes its changes; (4) the reply is stored with the update and everything is
committed. Only then does the channel get the messages to send. A crash before the commit
loses the whole action (the platform delivers it again); a crash after it loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import AppData, Ctx, StaleUser
from bot.conversations import quick
from bot.router import Router
from bot.uploads import Uploads
from core import inbox, journal
from core.access import NOW, Role
from core.accounts_admin import sync_admins
from core.app import prepare_store
from core.chat.messages import ChatRef, Incoming, OutMessage, Reply
from core.classification.pack import RulePack
from core.config import Settings
from core.datafiles import load_data_files
from core.i18n import t
from core.plans.model import Plan
from core.reports.build import Catalogue
from core.storage.answer_path import AnswerPath, PostgresAnswerPath
from core.storage.cache import LRU
from core.storage.db import Database
from core.storage.models import Unit, User
from core.storage.repo import ensure_user
from core.storage.sqlite_answer_path import SqliteAnswerPath
from core.surveys.model import Survey

log = logging.getLogger(__name__)


class _Skipped(Exception):
    pass


class ChatApp:
    def __init__(self, db: Database, settings: Settings, forms: dict[str, Survey], packs: list[RulePack],
                 reports: Catalogue | None = None, plans: list[Plan] | None = None,
                 clock: Callable[[], datetime] | None = None, router: Router | None = None) -> None:
        self.data = AppData(db, settings, forms, packs, reports or Catalogue.load(), plans or [],
                            clock or (lambda: datetime.now(UTC)))
        self.router = router or Router()
        self.marks = journal.DeliveryMarks(db)
        self.uploads = Uploads(db, settings.data_dir)
        self._wake: dict[str, asyncio.Event] = {}
        self._users: LRU[tuple[str, str], User] = LRU(20_000)  # see _sender for when an entry is used
        # a typed answer on the database driver when nothing else can happen (bot/conversations/quick.py);
        # None sends every update through the router and the ORM (the tests compare the two)
        self.quick: AnswerPath | None = SqliteAnswerPath(db) if db.is_sqlite else PostgresAnswerPath(db)

    # the application's data, as the channels, the CLI and the tests read it
    @property
    def db(self) -> Database:
        return self.data.db

    @property
    def settings(self) -> Settings:
        return self.data.settings

    @property
    def forms(self) -> dict[str, Survey]:
        return self.data.forms

    @property
    def reports(self) -> Catalogue:
        return self.data.reports

    @property
    def plans(self) -> list[Plan]:
        return self.data.plans

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.data.clock

    @clock.setter
    def clock(self, clock: Callable[[], datetime]) -> None:
        self.data.clock = clock

    def wake_event(self, worker: str) -> asyncio.Event:
        """Set after a commit that gave this worker work (e.g. a report job)."""
        return self._wake.setdefault(worker, asyncio.Event())

    # ----- one update ---------------------------------------------------------------------------

    async def handle(self, chat: ChatRef, incoming: Incoming) -> Reply:
        try:
            prepare = self.router.preparation(incoming)
            prepared = await prepare(incoming) if prepare is not None else None
            if self.quick is not None and prepared is None:
                user = self._cached(chat)
                cmd = quick.eligible(self.router.routes, chat, incoming, user)
                if cmd is not None:
                    assert user is not None
                    claim = inbox.CURRENT.get()
                    messages = await quick.answer(self.data, self.quick, chat, incoming, user, cmd, claim)
                    if messages is not None:
                        if claim is not None:
                            claim.committed = True
                        return Reply(messages)
            try:
                return await self._handle(chat, incoming, cached=True, prepared=prepared)
            except _Skipped:  # another worker applied this inbox row, or an older one came in first
                return Reply([], duplicate=True)
            except StaleUser:  # the cached user was disabled, moved or given another role
                self._users.pop((chat.channel, chat.user_external_id))
                return await self._handle(chat, incoming, cached=False, prepared=prepared)
        except Exception as exc:
            # An update seen before fails its journal INSERT (or whatever its second run tripped
            # on): its transaction is rolled back and it gets the stored reply.
            if incoming.update_id is not None:
                stored = await journal.stored_reply(self.db, chat, incoming.update_id)
                if stored is not None:
                    return Reply(stored, duplicate=True)
            # never the message text: it may hold ID numbers, phones, incomes
            log.exception("%s handling update %s of %s chat %s", "integrity error" if isinstance(
                exc, IntegrityError) else "error", incoming.update_id, chat.channel, chat.chat_id)
            return Reply([OutMessage(t("internal_error"))])

    async def _handle(self, chat: ChatRef, incoming: Incoming, cached: bool, prepared: Any = None) -> Reply:
        claim = inbox.CURRENT.get()
        async with self.db.transaction() as s:
            taken = await inbox.take(s, claim) if claim is not None else inbox.Taken.APPLY
            if taken is inbox.Taken.GONE:
                assert claim is not None
                claim.skipped = True
                raise _Skipped
            s.info[NOW] = self.data.clock()  # the day access rules are judged on (core/access.py)
            record = journal.claim(chat, incoming.update_id)
            if taken is inbox.Taken.LATE:  # applied to the current question, it would answer the wrong one
                late = [OutMessage(t("wk_late_update"))]
                await journal.store(s, record, late)  # a redelivery of it gets the same answer
            else:
                user, unchecked = await self._sender(s, chat, cached)
                ctx = Ctx(self.data, self.router, s, chat, incoming, user, user_unchecked=unchecked,
                          prepared=prepared)
                messages = await self.router.dispatch(ctx)
                if ctx.user_unchecked:  # no handler statement re-read the cached user's row: read it now
                    await self._check_user(s, ctx)
                await journal.store(s, record, messages)
        if claim is not None:
            claim.committed = True
        if taken is inbox.Taken.LATE:
            log.warning("%s chat %s: update %s came after a newer one had been applied; refused",
                        chat.channel, chat.chat_id, incoming.update_id)
            return Reply(late, refused=True)  # a pressed button shows no answer that was not applied
        if ctx.user is not None and not chat.is_group and not inspect(ctx.user).unloaded:
            self._users.put((chat.channel, chat.user_external_id), ctx.user)
        for done in ctx.after_commit:
            done()
        for worker in ctx.wakes:
            self.wake_event(worker).set()
        return Reply(messages, refused=ctx.refused)

    @staticmethod
    async def _check_user(s: AsyncSession, ctx: Ctx) -> None:
        row = (await s.execute(select(User.role, User.unit_id, User.disabled_at).where(User.id == ctx.me.id))).one()
        ctx.check_user(*row)

    async def _sender(self, s: AsyncSession, chat: ChatRef, cached: bool) -> tuple[User | None, bool]:
        """The sender, and whether it came from the cache unchecked.

        Invalidation rule of the user cache: a cached user is only used in a transaction that
        re-reads its row (role, unit, disabled) before committing: the survey step reads it in
        the statement that locks the conversation and household, any other update reads it
        after its handler. A difference raises StaleUser: the transaction is rolled back, the
        entry dropped, and the update runs again with the row read first. So a user disabled
        on one worker is a stranger on every worker at their next update, with no wait."""
        hit = self._cached(chat) if cached else None
        if hit is not None:
            return await s.merge(hit, load=False), True
        user = await s.scalar(select(User).where(User.channel == chat.channel,
                                                 User.external_id == chat.user_external_id))
        if user is None and (chat.channel, chat.user_external_id) in self.settings.admin_ids:
            province = await s.scalar(select(Unit).where(
                Unit.configuration == self.settings.units_configuration, Unit.level == "province"))
            user = await ensure_user(s, chat.channel, chat.user_external_id,
                                     chat.display_name or chat.user_external_id, Role.ADMIN,
                                     province.id if province else None)
        if user is not None and user.disabled_at is not None:
            return None, False
        if user is not None and not chat.is_group and user.chat_id != chat.chat_id:
            user.chat_id = chat.chat_id  # where messages to them go (reopened households, moved groups)
        return user, False

    def _cached(self, chat: ChatRef) -> User | None:
        """The sender from this worker's cache (private chats only), to be checked against its
        row in the update's transaction before it counts (see _sender)."""
        if chat.is_group:
            return None
        hit = self._users.get((chat.channel, chat.user_external_id))
        return hit if hit is not None and hit.chat_id == chat.chat_id else None

    # ----- delivery marks (the runner calls these) ----------------------------------------------

    def delivered(self, channel: str, chat_id: str, update_id: str | None) -> None:
        self.marks.mark(channel, chat_id, update_id)

    async def flush(self) -> None:
        await self.marks.flush()


async def build_app(settings: Settings, db: Database | None = None) -> ChatApp:
    data = load_data_files()
    db = db or Database(settings.database_url, pg_pool=settings.db_pool)
    plans = await prepare_store(db, settings, data)
    async with db.transaction() as s:
        await sync_admins(s, settings.admin_ids)  # admin rights follow *_ADMIN_IDS at every start
    app = ChatApp(db, settings, data.forms, data.packs, data.reports, plans)
    async with db.read() as s:  # the versions the province signed are in force from the start
        await app.data.refresh_rules(s)
    return app
