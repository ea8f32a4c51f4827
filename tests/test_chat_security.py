"""Holes a probe found in the chat layer, each with its regression test (SQLite and PostgreSQL):
a stranger reusing another chat's update id, messages without an id, group takeover, uploads
from strangers, and disabled users."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.app import ChatApp
from core.chat.messages import ChatRef, Incoming
from core.storage.models import GroupBinding, ProcessedUpdate, Unit, utcnow
from core.storage.repo import ensure_user
from tests.households import make_village_head


async def _officer(app: ChatApp, user: str, code: str, role: str = "commune") -> ChatRef:
    async with app.db.transaction() as s:
        level = {"commune": "commune", "district": "district"}[role]
        unit = await s.scalar(select(Unit).where(Unit.configuration == "200", Unit.level == level, Unit.code == code))
        assert unit is not None
        await ensure_user(s, "test", user, f"Cán bộ {user}", role, unit.id)
    return ChatRef("test", user, user)


async def test_a_reused_update_id_from_another_chat_never_gets_that_chats_reply(service: ChatApp) -> None:
    head = await make_village_head(service)
    first = await service.handle(head, Incoming(text="/toila", update_id="42"))
    assert "Trưởng thôn u1" in first.messages[0].text
    stranger = ChatRef("test", "intruder", "intruder")
    stolen = await service.handle(stranger, Incoming(text="/toila", update_id="42"))
    assert not stolen.duplicate
    assert "Trưởng thôn u1" not in stolen.messages[0].text and "chưa đăng ký" in stolen.messages[0].text


async def test_messages_without_an_id_are_never_taken_for_each_other(service: ChatApp) -> None:
    head = await make_village_head(service)
    await service.handle(head, Incoming(text="/hoimoi phieu_b"))
    one = await service.handle(head, Incoming(text="Hoàng Văn Minh"))
    two = await service.handle(head, Incoming(text="/boqua"))
    assert not one.duplicate and not two.duplicate and one.messages != two.messages
    async with service.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(ProcessedUpdate)) == 0


async def test_a_bound_group_cannot_be_taken_over_by_a_neighbouring_commune(service: ChatApp) -> None:
    import dataclasses

    from bot.app import build_app

    app = await build_app(dataclasses.replace(service.settings, units_configuration="200"), service.db)
    owner = await _officer(app, "c1", "6202")  # Xã Ba Sơn (Cao Lộc)
    neighbour = await _officer(app, "c2", "6205")
    group = dict(chat_id="g-1", is_group=True, title="Nhóm xã Ba Sơn")
    in_group = {who: ChatRef("test", user_external_id=who.user_external_id, **group) for who in (owner, neighbour)}
    assert "đã được gắn" in (await app.handle(in_group[owner], Incoming(text="/ganhom"))).messages[0].text
    refused = await app.handle(in_group[neighbour], Incoming(text="/ganhom"))
    assert "Chỉ cán bộ của" in refused.messages[0].text
    async with app.db.read() as s:
        binding = (await s.scalars(select(GroupBinding))).one()
        district = await s.get(Unit, (await s.get(Unit, binding.unit_id)).parent_id)  # type: ignore[union-attr]
        assert binding.unit_id == (await s.scalar(select(Unit.id).where(Unit.code == "6202",
                                                                        Unit.configuration == "200")))
    # the level above may take it over, and the commune's officers are told
    above = await _officer(app, "d1", district.code, "district")  # type: ignore[union-attr]
    await app.handle(owner, Incoming(text="/toila"))  # the owner has a private chat with the bot
    took = await app.handle(ChatRef("test", "g-1", above.user_external_id, is_group=True), Incoming(text="/ganhom"))
    assert "đã được gắn" in took.messages[0].text
    from core.storage.models import OutboxMessage

    async with app.db.read() as s:
        told = (await s.scalars(select(OutboxMessage).where(OutboxMessage.chat_id == "c1"))).all()
    assert len(told) == 1 and "không còn nhận thông báo" in told[0].message["text"]


async def test_a_disabled_user_is_a_stranger_at_once(service: ChatApp) -> None:
    head = await make_village_head(service)
    assert "Trưởng thôn" in (await service.handle(head, Incoming(text="/toila"))).messages[0].text
    async with service.db.transaction() as s:
        from core.storage.models import User

        user = (await s.scalars(select(User))).one()
        user.disabled_at = utcnow()
    assert "chưa đăng ký" in (await service.handle(head, Incoming(text="/danhsach"))).messages[0].text
    assert await service.uploads.refusal(head, 10) is not None


async def test_unregistered_members_of_a_group_are_not_answered_on_every_message(service: ChatApp) -> None:
    member = ChatRef("test", "g-2", "someone", is_group=True)
    assert (await service.handle(member, Incoming(text="chào cả nhà"))).messages == []
    assert "chưa đăng ký" in (await service.handle(member, Incoming(text="/ganhom"))).messages[0].text


async def test_odd_numbers_get_a_clear_message_not_an_internal_error(service: ChatApp) -> None:
    head = await make_village_head(service)
    for text in ("/mo ²", "/mo 99999999999999999999999", "/mo -1", "/mo #", "/tiendo #²", "/tiendo #99999999999999"):
        reply = "\n".join(m.text for m in (await service.handle(head, Incoming(text=text))).messages)
        assert "lỗi" not in reply.lower() and reply, text
    assert "Gõ /mo kèm số hộ" in (await service.handle(head, Incoming(text="/mo ²"))).messages[0].text
