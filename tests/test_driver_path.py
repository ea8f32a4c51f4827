"""The typed answer on PostgreSQL's driver (bot/conversations/quick.py, issue 25) against the ORM
path it shortcuts: the same rows, the same replies, a re-delivered update changes nothing, and a
cancel mid-statement (a worker stopping) leaves no pooled connection inside a transaction."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from bot.app import ChatApp
from bot.conversations.session import no_open_household
from core import inbox
from core.chat.messages import ChatRef, Incoming, Reply
from core.i18n import t
from core.storage.driver import Compiled
from core.storage.models import Answer, AuditLog, Conversation, Household, User
from core.storage.repo import load_answers
from core.storage.sealed import open_answer
from core.storage.sqlite_answer_path import _as_one
from tests.households import POOR, answer_for, cursor, make_village_head
from tests.statements import Counter

ANSWERS = 8  # from the head's name past the ID number, the phone and the member count


@pytest.fixture
def driver(service: ChatApp) -> ChatApp:
    assert service.quick is not None
    return service


@pytest.fixture
def pg_driver(driver: ChatApp) -> ChatApp:
    if driver.db.is_sqlite:
        pytest.skip("PostgreSQL's pool and pg_sleep: SQLite's writers queue on one lock, one connection")
    return driver


async def _survey(app: ChatApp, head: ChatRef, tag: str) -> tuple[list[str], list[list[str]], list[int]]:
    """Answer the first ANSWERS questions; (the questions, each reply's texts, statements of each
    answer)."""
    counter = Counter(app)
    await app.handle(head, Incoming(text="/hoimoi phieu_b", update_id=f"{tag}0"))
    keys, replies, statements = [], [], []
    for n in range(1, ANSWERS + 1):
        key = await cursor(app, head)
        assert key is not None
        keys.append(key)
        before = len(counter.statements)
        reply = await app.handle(head, Incoming(text=answer_for(POOR, key), update_id=f"{tag}{n}"))  # type: ignore[arg-type]
        replies.append([m.text for m in reply.messages])
        statements.append(len(counter.statements) - before)
    return keys, replies, statements


async def _stored(app: ChatApp, head: ChatRef) -> dict[str, Any]:
    async with app.db.read() as s:
        hid = await s.scalar(select(Conversation.household_id).where(Conversation.chat_id == head.chat_id))
        household = await s.get(Household, hid)
        assert household is not None
        audit = (await s.execute(select(AuditLog.key, AuditLog.old_value, AuditLog.new_value).where(
            AuditLog.household_id == hid, AuditLog.action == "answer").order_by(AuditLog.id))).all()
        answered = await s.scalar(select(func.max(Answer.updated_at)).where(Answer.household_id == hid))
        assert isinstance(answered, datetime) and isinstance(household.updated_at, datetime)  # stored as the ORM reads
        return {"id": hid, "answers": await load_answers(s, hid), "state": household.state,
                "revision": household.revision, "head": household.head_name,
                "audit": [(k, open_answer(s, o), open_answer(s, n)) for k, o, n in audit]}


async def test_the_driver_path_stores_and_says_what_the_orm_path_does(driver: ChatApp) -> None:
    path = driver.quick
    orm_head = await make_village_head(driver, "orm", village="Thôn ORM")
    driver.quick = None  # this household's answers all go through the router and the ORM
    keys, orm_replies, orm_statements = await _survey(driver, orm_head, "o")
    driver.quick = path
    fast_head = await make_village_head(driver, "fast", village="Thôn Nhanh")
    fast_keys, fast_replies, fast_statements = await _survey(driver, fast_head, "f")
    orm, fast = await _stored(driver, orm_head), await _stored(driver, fast_head)
    assert {k: v for k, v in fast.items() if k != "id"} == {k: v for k, v in orm.items() if k != "id"}
    assert fast_keys == keys
    # the ID number is the first household's: warned about on the driver path too
    id_at = keys.index("chu_ho_cccd")
    assert "#" + str(orm["id"]) in fast_replies[id_at][0] and fast_replies[id_at][1:] == orm_replies[id_at]
    assert [r for i, r in enumerate(fast_replies) if i != id_at] == [r for i, r in enumerate(orm_replies) if i != id_at]
    # and it was the driver path: every answer (the head's name and /boqua included) in 2
    # statements, 3 with the ID number's look-up (the ORM path: 3 and 4 on PostgreSQL, 5 and 6
    # on SQLite); on SQLite the four writes are one insert into the temporary view whose trigger
    # runs them (core/storage/sqlite_answer_path.py), in two trips to SQLite's thread
    assert any(answer_for(POOR, key) == "/boqua" for key in keys) and keys[0] == "chu_ho_ten"
    plain, looked_up = 2, 3
    assert fast_statements == [looked_up if i == id_at else plain for i in range(len(keys))], fast_statements
    typed = [i for i, key in enumerate(keys) if i > 0 and not answer_for(POOR, key).startswith("/")]  # type: ignore[union-attr]
    orm_plain, orm_looked_up = (5, 6) if driver.db.is_sqlite else (3, 4)
    assert [orm_statements[i] for i in typed] == [orm_looked_up if i == id_at else orm_plain for i in typed], \
        orm_statements
    assert driver.quick is not None
    seen: list[str] = []
    driver.quick.observers.append(seen.append)
    await driver.handle(fast_head, Incoming(text=answer_for(POOR, await cursor(driver, fast_head)), update_id="f99"))  # type: ignore[arg-type]
    assert seen and seen[-1] == "COMMIT"  # this answer was the driver path's


async def test_a_redelivered_answer_on_the_driver_path_changes_nothing(driver: ChatApp) -> None:
    head = await make_village_head(driver)
    await _survey(driver, head, "a")
    before = await _stored(driver, head)
    key = await cursor(driver, head)
    again = Incoming(text=answer_for(POOR, key), update_id="a3")  # type: ignore[arg-type]  # an id seen before
    reply = await driver.handle(head, again)
    assert reply.duplicate
    assert await _stored(driver, head) == before
    assert await cursor(driver, head) == key


async def test_an_answer_cancelled_mid_statement_leaves_every_pooled_connection_usable(pg_driver: ChatApp) -> None:
    path = pg_driver.quick
    assert path is not None
    started = asyncio.Event()

    async def slow() -> None:
        async with path.transaction() as raw:
            await raw.execute("SELECT 1")
            started.set()
            await raw.execute("SELECT pg_sleep(30)")

    task = asyncio.create_task(slow())
    await asyncio.wait_for(started.wait(), 10)
    await asyncio.sleep(0.2)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    assert pg_driver.db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    for _ in range(6):  # every pooled connection is usable and outside any transaction
        async with path.transaction() as raw:
            assert await raw.fetchval("SELECT 1") == 1
    async with pg_driver.db.read() as s:  # and the ORM's sessions on the same pool too
        assert (await s.execute(text("SELECT 2"))).scalar() == 2


async def test_more_answers_at_once_than_the_pool_holds_return_every_connection(
        pg_driver: ChatApp, caplog: pytest.LogCaptureFixture) -> None:
    """Connections beyond the pool's size are closed when they come back; closing one awaits,
    so it must happen in SQLAlchemy's greenlet (it logged `QueueFull` before, at 200 users)."""
    path = pg_driver.quick
    assert path is not None
    pool = pg_driver.db.engine.pool

    async def one() -> None:
        async with path.transaction() as raw:
            await raw.execute("SELECT pg_sleep(0.2)")

    await asyncio.gather(*(one() for _ in range(pool.size() + 5)))  # type: ignore[attr-defined]
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "WARNING")], caplog.text


async def _commands(app: ChatApp, head: ChatRef, tag: str) -> tuple[list[list[str]], list[bool], dict[str, Any]]:
    """The head's name, then /boqua on the ID number (optional), /giunguyen with nothing to keep,
    /quaylai: (each reply's texts, whether the driver path took it, what is stored)."""
    seen: list[str] = []
    if app.quick is not None:
        app.quick.observers.append(seen.append)
    await app.handle(head, Incoming(text="/hoimoi phieu_b", update_id=f"{tag}0"))
    replies, driven = [], []
    for n, typed in enumerate(["Hoàng Văn Minh", "/boqua", "/giunguyen", "/quaylai"], start=1):
        seen.clear()
        reply = await app.handle(head, Incoming(text=typed, update_id=f"{tag}{n}"))
        replies.append([m.text for m in reply.messages])
        driven.append(seen[-1:] == ["COMMIT"])
    if app.quick is not None:
        app.quick.observers.remove(seen.append)
    return replies, driven, await _stored(app, head)


async def test_skip_and_keep_take_the_driver_path_other_commands_the_router(driver: ChatApp) -> None:
    path = driver.quick
    driver.quick = None
    orm_replies, _, orm = await _commands(driver, await make_village_head(driver, "orm", village="Thôn ORM"), "o")
    driver.quick = path
    replies, driven, fast = await _commands(driver, await make_village_head(driver, "fast", village="Thôn Nhanh"), "f")
    assert driven == [True, True, True, False]  # /quaylai moves without an answer: the router's
    assert replies == orm_replies
    assert {k: v for k, v in fast.items() if k != "id"} == {k: v for k, v in orm.items() if k != "id"}
    assert fast["head"] == "Hoàng Văn Minh" and fast["answers"] == {"chu_ho_ten": "Hoàng Văn Minh", "chu_ho_cccd": None}


async def test_a_head_moved_to_another_village_is_refused_on_both_paths(driver: ChatApp) -> None:
    """The cached sender is checked against its row in the locking statement: moved, the update
    goes to the router, which reads the user again and finds the household outside its area."""
    head = await make_village_head(driver, "moved", village="Thôn Cũ")
    await driver.handle(head, Incoming(text="/hoimoi phieu_b", update_id="m0"))
    async with driver.db.read() as s:
        hid = await s.scalar(select(Conversation.household_id).where(Conversation.chat_id == head.chat_id))
    other = await make_village_head(driver, "other", village="Thôn Mới")
    async with driver.db.transaction() as s:
        new_unit = await s.scalar(select(User.unit_id).where(User.external_id == other.user_external_id))
        await s.execute(update(User).where(User.external_id == head.user_external_id).values(unit_id=new_unit))
    seen: list[str] = []
    assert driver.quick is not None
    driver.quick.observers.append(seen.append)
    reply = await driver.handle(head, Incoming(text="Hoàng Văn Minh", update_id="m1"))
    assert "COMMIT" not in seen
    async with driver.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Answer).where(Answer.household_id == hid)) == 0
    assert [m.text for m in reply.messages] == [m.text for m in no_open_household()]  # its draft is out of reach


async def _through_inbox(app: ChatApp, head: ChatRef, text: str, seq: int,
                         row: int | None = None) -> tuple[Reply, inbox.Claim, list[str]]:
    """An update applied as a webhook worker applies it: committed to the inbox, then handled
    with its row claimed (bot/runner.py); `row` claims another row id instead (one gone)."""
    await inbox.add(app.db, head.channel, head.chat_id, f"w{seq}", seq, {"text": text})
    waiting = await inbox.oldest(app.db, head.channel, head.chat_id)
    assert waiting is not None and waiting.payload == {"text": text} and 0 <= waiting.age < 60  # read on the driver
    claim = inbox.Claim(waiting.id if row is None else row, head.channel, head.chat_id, waiting.seq)
    seen: list[str] = []
    assert app.quick is not None
    app.quick.observers.append(seen.append)
    token = inbox.CURRENT.set(claim)
    try:
        reply = await app.handle(head, Incoming(text=text, update_id=f"w{seq}"))
    finally:
        inbox.CURRENT.reset(token)
        app.quick.observers.remove(seen.append)
    return reply, claim, seen


async def test_a_webhook_update_takes_its_inbox_row_on_the_driver_path(driver: ChatApp) -> None:
    head = await make_village_head(driver)
    await driver.handle(head, Incoming(text="/hoimoi phieu_b", update_id="w0"))
    reply, claim, seen = await _through_inbox(driver, head, "Hoàng Văn Minh", 5)
    assert seen[-1] == "COMMIT" and claim.committed and not claim.skipped  # the driver path's
    assert await inbox.oldest(driver.db, head.channel, head.chat_id) is None  # the row went with the answer
    assert (await _stored(driver, head))["head"] == "Hoàng Văn Minh"
    key = await cursor(driver, head)
    # a row another worker took (gone by the time this one claims it): nothing applied, the
    # reply is the other worker's
    reply, claim, seen = await _through_inbox(driver, head, answer_for(POOR, key), 7, row=10**9)  # type: ignore[arg-type]
    assert reply.duplicate and claim.skipped and "COMMIT" not in seen
    waiting = await inbox.oldest(driver.db, head.channel, head.chat_id)
    assert waiting is not None and waiting.seq == 7  # still there: the runner discards it (bot/runner.py)
    await inbox.discard(driver.db, inbox.Claim(waiting.id, head.channel, head.chat_id, 7))
    # an update older than one applied: refused once, nothing changes
    before = await _stored(driver, head)
    reply, claim, seen = await _through_inbox(driver, head, answer_for(POOR, key), 4)  # type: ignore[arg-type]
    assert reply.refused and claim.committed and "COMMIT" not in seen
    assert [m.text for m in reply.messages] == [t("wk_late_update")]
    assert await _stored(driver, head) == before and await cursor(driver, head) == key


def test_statements_run_as_one_are_refused_when_a_placeholder_is_not_a_value() -> None:
    """The trigger's body is the compiled statements with each `?` replaced by a column of the
    inserted row: a "?" that is not a placeholder would shift every value after it."""
    one = _as_one((Compiled("INSERT INTO t (a, b) VALUES (?, ?)", ("a", "b"), {}, {}),
                   Compiled("UPDATE u SET c = ? WHERE id = ?", ("c", "id"), {}, {})))
    assert "INSTEAD OF INSERT" in one.trigger and 'VALUES (NEW."s0_0", NEW."s0_1")' in one.trigger
    assert 'SET c = NEW."s1_0" WHERE id = NEW."s1_1"' in one.trigger and one.insert.endswith("(?, ?, ?, ?)")
    with pytest.raises(ValueError, match="2 placeholders for 1 values"):
        _as_one((Compiled("SELECT '?', ?", ("a",), {}, {}),))
