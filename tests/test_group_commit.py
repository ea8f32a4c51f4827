"""SQLite's answers of several chats committed together (core/storage/sqlite_answer_path.py,
issue 25): fewer commits than answers, each household stored as if surveyed alone, an answer
that fails (a re-delivered update, one the ORM path must take) leaves the others, and a batch
whose COMMIT fails loses nothing: every chat is told and can answer again."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.app import ChatApp
from bot.conversations.session import no_open_household
from core.chat.messages import ChatRef, Incoming, Reply
from core.i18n import t
from core.storage import sqlite_answer_path
from core.storage.models import Conversation, Household, User
from core.storage.repo import load_answers
from tests.households import POOR, answer_for, cursor, make_village_head

CHATS, ANSWERS = 6, 8


@pytest.fixture
def grouped(service: ChatApp) -> ChatApp:
    if not service.db.is_sqlite:
        pytest.skip("group commit is SQLite's answer path: PostgreSQL commits each answer alone, concurrently")
    assert service.quick is not None
    return service


@pytest.fixture
def commits(grouped: ChatApp) -> list[str]:
    """COMMIT and ROLLBACK of the driver's answer path, one per batch."""
    seen: list[str] = []
    assert grouped.quick is not None
    grouped.quick.observers.append(lambda sql: seen.append(sql) if sql in ("COMMIT", "ROLLBACK") else None)
    return seen


async def _heads(app: ChatApp, n: int, tag: str) -> list[ChatRef]:
    heads = []
    for i in range(n):
        head = await make_village_head(app, f"{tag}{i}", village=f"Thôn {tag} {i}")
        await app.handle(head, Incoming(text="/hoimoi phieu_b", update_id=f"{tag}{i}-0"))
        heads.append(head)
    return heads


async def _answer(app: ChatApp, head: ChatRef, n: int) -> Reply:
    """The answer to the question the household is at; the head's own ID number (households of
    one review sharing one are warned about)."""
    key = await cursor(app, head)
    assert key is not None
    text = own_id(head) if key == "chu_ho_cccd" else answer_for(POOR, key)
    return await app.handle(head, Incoming(text=text, update_id=f"{head.chat_id}-{n}"))  # type: ignore[arg-type]


def own_id(head: ChatRef) -> str:
    return f"0201{sum(map(ord, head.chat_id)):08d}"


async def _stored(app: ChatApp, head: ChatRef) -> tuple[dict[str, Any], Any, int | None, str | None]:
    async with app.db.read() as s:
        hid = await s.scalar(select(Conversation.household_id).where(Conversation.chat_id == head.chat_id))
        household = await s.get(Household, hid)
        assert household is not None
        return await load_answers(s, hid), household.state, household.revision, household.head_name


async def test_chats_answering_at_once_share_commits_and_store_what_one_alone_does(
        grouped: ChatApp, commits: list[str]) -> None:
    (alone,) = await _heads(grouped, 1, "a")
    alone_replies = [[m.text for m in (await _answer(grouped, alone, n)).messages] for n in range(1, ANSWERS + 1)]
    reference = await _stored(grouped, alone)
    heads = await _heads(grouped, CHATS, "g")
    commits.clear()

    async def survey(head: ChatRef) -> list[list[str]]:
        return [[m.text for m in (await _answer(grouped, head, n)).messages] for n in range(1, ANSWERS + 1)]

    replies = await asyncio.gather(*(survey(h) for h in heads))
    assert all(r == alone_replies for r in replies)
    for head in heads:
        answers, *rest = await _stored(grouped, head)
        assert answers.pop("chu_ho_cccd") == own_id(head)
        assert (answers, *rest) == ({k: v for k, v in reference[0].items() if k != "chu_ho_cccd"}, *reference[1:])
    assert set(commits) == {"COMMIT"} and len(commits) < CHATS * ANSWERS, commits  # several answers a commit


async def test_a_failing_answer_leaves_the_others_of_its_batch(grouped: ChatApp, commits: list[str]) -> None:
    again, fresh, moved = await _heads(grouped, 3, "f")
    await _answer(grouped, again, 1)
    before = await _stored(grouped, again)
    async with grouped.db.transaction() as s:  # `moved` now heads another village: its draft is out of reach
        other = await s.scalar(select(User.unit_id).where(User.external_id == fresh.user_external_id))
        await s.execute(update(User).where(User.external_id == moved.user_external_id).values(unit_id=other))
    commits.clear()
    redelivered = grouped.handle(again, Incoming(text="whatever came first", update_id=f"{again.chat_id}-1"))
    name = answer_for(POOR, "chu_ho_ten")  # typed before anything waits: the three in one batch
    replies = await asyncio.gather(redelivered, grouped.handle(fresh, Incoming(text=name, update_id="n-1")),
                                   grouped.handle(moved, Incoming(text=name, update_id="m-1")))
    assert replies[0].duplicate and await _stored(grouped, again) == before  # the stored reply, nothing changed
    assert (await _stored(grouped, fresh))[0] == {"chu_ho_ten": answer_for(POOR, "chu_ho_ten")}
    assert [m.text for m in replies[2].messages] == [m.text for m in no_open_household()]  # the router's refusal
    assert commits[0] == "COMMIT"  # the three went in one batch, which committed the one that succeeded


async def test_a_batch_whose_commit_fails_loses_nothing(grouped: ChatApp, monkeypatch: pytest.MonkeyPatch) -> None:
    heads = await _heads(grouped, 3, "c")
    batch = sqlite_answer_path._batch

    def failing(bodies: Any, create: Any) -> Any:
        work = batch(bodies, create)

        def commit_fails(conn: sqlite3.Connection) -> Any:
            real = conn.execute

            class Conn:  # the answers run; the COMMIT is refused as a full disk refuses it
                in_transaction = property(lambda _self: conn.in_transaction)

                def execute(self, sql: str, *args: Any) -> Any:
                    if sql == "COMMIT":
                        raise sqlite3.OperationalError("database or disk is full")
                    return real(sql, *args)
            return work(Conn())  # type: ignore[arg-type]
        return commit_fails

    monkeypatch.setattr(sqlite_answer_path, "_batch", failing)
    replies = await asyncio.gather(*(_answer(grouped, h, 1) for h in heads))
    assert all([m.text for m in r.messages] == [t("internal_error")] for r in replies)
    assert [(await _stored(grouped, h))[0] for h in heads] == [{}] * len(heads)
    monkeypatch.setattr(sqlite_answer_path, "_batch", batch)
    await asyncio.gather(*(_answer(grouped, h, 1) for h in heads))  # the same updates, sent again
    assert [(await _stored(grouped, h))[0] for h in heads] == [{"chu_ho_ten": answer_for(POOR, "chu_ho_ten")}] * 3


def test_work_that_would_wait_on_the_event_loop_is_refused_on_sqlites_thread() -> None:
    async def waits() -> None:
        await asyncio.sleep(0)

    with pytest.raises(RuntimeError, match="waited on the event loop"):
        sqlite_answer_path.drive(waits())
    assert sqlite_answer_path.drive(_returns(7)) == 7


async def _returns(value: int) -> int:
    return value
