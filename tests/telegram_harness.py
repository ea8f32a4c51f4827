"""The Telegram test harness: the real python-telegram-bot library against the fake Bot API,
with a helper that waits until an update is committed and its whole reply is out, and the
fixtures `harness` (a running channel) and `people` (an admin, a commune officer of Xã Ba Sơn
and two village heads, registered by invite codes). conftest.py makes the fixtures visible to
every test module."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.app import ChatApp, build_app
from bot.channels.telegram import TelegramChannel
from core.chat.messages import ChatRef
from core.config import Settings
from core.journal import reply_of
from core.storage.db import Database
from core.storage.models import ProcessedUpdate
from core.surveys.model import QType
from core.surveys.parsing import parse_answer
from tests.fake_telegram import FakeBotAPI, TgUser
from tests.households import survey_steps

ADMIN_ID = 1000


class Harness:
    def __init__(self, api: FakeBotAPI, service: ChatApp) -> None:
        self.api = api
        self.service = service

    def user(self, user_id: int, name: str, chat_id: int | None = None, title: str | None = None) -> TgUser:
        return TgUser(self.api, user_id, name, chat_id, title)

    async def act(self, user: TgUser, update: dict[str, Any], redeliver: bool = False) -> list[dict[str, Any]]:
        """Deliver one update and wait until the bot has committed it and sent its whole reply."""
        chat = user.chat["id"]
        before = len(self.api.sent_to(chat))
        uid = await (self.api.redeliver(update) if redeliver else self.api.push(update))
        reply = await self.committed_reply(uid, chat)
        for _ in range(2000):
            if len(self.api.sent_to(chat)) - before >= len(reply):
                break
            await asyncio.sleep(0.005)
        else:
            raise AssertionError(f"bot sent {len(self.api.sent_to(chat)) - before} of {len(reply)} messages")
        return self.api.sent_to(chat)[before:]

    async def committed_reply(self, update_id: int, chat: int) -> list[dict[str, Any]]:
        for _ in range(3000):
            async with self.service.db.transaction() as s:
                row = await s.get(ProcessedUpdate, ("telegram", str(chat), str(update_id)))
                if row is not None and row.reply is not None:
                    return reply_of(s, row) or []
            await asyncio.sleep(0.005)
        raise AssertionError(f"update {update_id} was never committed")

    async def say(self, user: TgUser, text: str) -> list[dict[str, Any]]:
        return await self.act(user, user.text_update(text))

    async def press(self, user: TgUser, data: str) -> list[dict[str, Any]]:
        message = next(m for m in reversed(self.api.sent_to(user.chat["id"]))
                       if any(b["callback_data"] == data for row in m.get("reply_markup", {}).get("inline_keyboard", [])
                              for b in row))
        return await self.act(user, user.callback_update(data, message))

    async def register(self, user: TgUser, code: str) -> list[dict[str, Any]]:
        return await self.say(user, f"/dangky {code}")

    async def survey(self, user: TgUser, profile: dict[str, Any]) -> list[dict[str, Any]]:
        """A whole Phiếu B: buttons for every choice and yes/no, typing for the rest."""
        await self.say(user, "/hoimoi")
        await self.press(user, "c:new:phieu_b")
        ref = ChatRef("telegram", str(user.chat["id"]), str(user.user_id))
        presses = 0
        async for key, question, typed in survey_steps(self.service, ref, profile):
            if question.type in (QType.CHOICE, QType.YES_NO) and not typed.startswith("/"):
                value = parse_answer(question, typed)
                value = ("1" if value else "0") if question.type is QType.YES_NO else value
                await self.press(user, f"a:{key}:{value}")
                presses += 1
            else:
                await self.say(user, typed)
        assert presses > 10
        return await self.press(user, "c:confirm")


def code_in(messages: list[dict[str, Any]]) -> str:
    text = messages[-1]["text"]
    return text.split("Mã mời: ")[1].split()[0]


@pytest.fixture
async def harness(api: FakeBotAPI, settings: Settings, db: Database) -> AsyncIterator[Harness]:
    service = await build_app(dataclasses.replace(settings, admin_ids=frozenset({("telegram", str(ADMIN_ID))})), db)
    channel = TelegramChannel(service, api.token, api.base, poll_timeout=1)
    await channel.start()
    yield Harness(api, service)
    await channel.stop()


@pytest.fixture
async def people(harness: Harness) -> dict[str, TgUser]:
    """An admin invites a commune officer of Xã Ba Sơn, who invites two village heads."""
    admin = harness.user(ADMIN_ID, "Quản trị")
    officer = harness.user(2000, "Cán bộ xã")
    head_a = harness.user(3001, "Trưởng thôn A")
    head_b = harness.user(3002, "Trưởng thôn B")
    await harness.register(officer, code_in(await harness.say(admin, "/moicanbo xa 6202")))
    asked = await harness.say(officer, "/moi Thôn Nà Pàn")  # a new village is created only when confirmed
    assert "chưa có thôn nào tên «Thôn Nà Pàn»" in asked[-1]["text"]
    await harness.register(head_a, code_in(await harness.press(officer, "c:invite:+Thôn Nà Pàn")))
    await harness.register(head_b, code_in(await harness.say(officer, "/moi +Thôn Khuổi Luông")))
    return {"admin": admin, "officer": officer, "a": head_a, "b": head_b}
