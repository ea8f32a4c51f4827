"""The bot-wide update counter's writes (core/inbox_counter.py), with an update committed to the
inbox and for an update with no chat, on both stores: ids recorded once, and after an hour's
silence the floor starts again from the new id with the ids seen before dropped."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from bot.app import ChatApp
from core import inbox
from core.storage.models import utcnow
from core.storage.models_inbox import InboxFloor, InboxSeen


async def _state(app: ChatApp) -> tuple[list[int], tuple[int, bool] | None]:
    async with app.db.read() as s:
        seen = list((await s.scalars(select(InboxSeen.seq).where(InboxSeen.channel == "telegram")
                                     .order_by(InboxSeen.seq))).all())
        floor = (await s.execute(select(InboxFloor.seq, InboxFloor.at).where(InboxFloor.channel == "telegram"))).first()
    if floor is None:
        return seen, None
    at = floor.at if floor.at.tzinfo else floor.at.replace(tzinfo=utcnow().tzinfo)
    return seen, (floor.seq, utcnow() - at < timedelta(minutes=1))


async def test_ids_are_recorded_once_and_an_idle_floor_starts_again(service: ChatApp) -> None:
    db = service.db
    await inbox.add(db, "telegram", "c1", "10", 10, {"n": 10}, counted=True)  # with its inbox row
    await inbox.add(db, "telegram", "c1", "10", 10, {"n": 10}, counted=True)  # re-sent: nothing new
    await inbox.count(db, "telegram", 11)  # no chat: the id alone
    assert await _state(service) == ([10, 11], None)  # no floor yet: nothing to start again
    async with db.transaction() as s:
        s.add(InboxFloor(channel="telegram", seq=11, at=utcnow()))
    await inbox.add(db, "telegram", "c2", "12", 12, {"n": 12}, counted=True)
    assert await _state(service) == ([10, 11, 12], (11, True))  # a moving floor is left alone
    for seq, write in ((40, "add"), (70, "count")):
        async with db.transaction() as s:  # an hour's silence
            await s.execute(update(InboxFloor).values(at=utcnow() - timedelta(hours=2)))
        if write == "add":
            await inbox.add(db, "telegram", "c3", str(seq), seq, {"n": seq}, counted=True)
        else:
            await inbox.count(db, "telegram", seq)
        assert await _state(service) == ([seq], (seq, True)), write
    waiting = await inbox.oldest(db, "telegram", "c1")
    assert waiting is not None and (waiting.seq, waiting.payload) == (10, {"n": 10})
