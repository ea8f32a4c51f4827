"""In-process caches for the answer path, each with the rule that keeps it correct when
several workers share one database.

- Answers of a household: valid while the household row's `revision` is the one they were
  read or written at. Every write of answers bumps the revision in the same transaction
  (`repo.save_answers`), and the revision is read with the household row the step locks
  anyway, so another worker's write is seen at once. Entries are written only after commit.
- Units' parents: a unit's parent never changes once the unit exists (units are added, never
  moved or deleted), so a parent read once is valid for the life of the database; a unit not
  yet seen is read on first use. Keyed by the engine, so two databases never mix.
- Users: see `bot/app.py` (a cached user is re-checked in the same transaction).
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from typing import Any, Generic, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession

from core.storage.models import Unit

K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            # SQLite's answer path reads the answers' cache on its own thread (group commit): the
            # key may go between the two
            with contextlib.suppress(KeyError):
                self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def pop(self, key: K) -> None:
        self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)


class AnswerCache:
    """household id -> (revision, answers as load_answers returns them, and a memo the caller
    keeps with them: the survey session's last evaluated form view, which the engine reuses
    only for equal answers, form and context)."""

    def __init__(self, size: int = 20_000) -> None:
        self._lru: LRU[int, tuple[int, dict[str, Any], Any]] = LRU(size)

    def get(self, household_id: int, revision: int) -> tuple[dict[str, Any], Any] | None:
        """(the answers, the memo kept with them), or None when the revision moved on."""
        hit = self._lru.get(household_id)
        if hit is None or hit[0] != revision:
            return None
        return dict(hit[1]), hit[2]  # the caller's copy: the engine and the caller may change theirs

    def put(self, household_id: int, revision: int, answers: dict[str, Any], memo: Any = None) -> None:
        self._lru.put(household_id, (revision, dict(answers), memo))


_parents: WeakKeyDictionary[Engine, dict[int, int | None]] = WeakKeyDictionary()


def _engine_of(session: AsyncSession) -> Engine:
    bind = session.sync_session.get_bind()
    return getattr(bind, "engine", bind)  # a connection (read sessions) names its engine


async def ancestors(session: AsyncSession, unit_id: int) -> list[int] | None:
    """Ids of the unit and every unit above it, nearest first; None when the unit does not
    exist. Only units never seen before cost a query."""
    parents = _parents.setdefault(_engine_of(session), {})
    while True:
        chain, unread = _walk(parents, unit_id)
        if unread is None:
            return chain
        row = (await session.execute(select(Unit.id, Unit.parent_id).where(Unit.id == unread))).first()
        if row is None:
            return chain or None
        parents[unread] = row.parent_id


def known_ancestors(engine: Engine, unit_id: int) -> list[int] | None:
    """ancestors() from what this worker has read already, without a query; None when a unit
    of the chain was never read (the caller takes the path that can read it)."""
    chain, unread = _walk(_parents.get(engine, {}), unit_id)
    return chain if unread is None else None


def _walk(parents: dict[int, int | None], unit_id: int) -> tuple[list[int], int | None]:
    """The chain upward as far as `parents` knows it, and the first unit it does not know (None
    once the chain reached the top)."""
    chain: list[int] = []
    current: int | None = unit_id
    while current is not None and len(chain) <= 16:  # a cycle cannot happen in a tree; stop rather than spin
        if current not in parents:
            return chain, current
        chain.append(current)
        current = parents[current]
    return chain, None
