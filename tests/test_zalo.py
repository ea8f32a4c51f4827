"""The Zalo channel end to end against a local fake Zalo Bot API: registration, a whole
household survey answered with numbered choices, a report received as a download link and a
chart as a photo, notices from the scheduler, webhook mode, and Telegram + Zalo in one process."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.app import ChatApp, build_app
from bot.channels.zalo import TEXT_LIMIT, ZaloChannel, ZaloWebhook
from bot.channels.zalo_client import ZaloClient
from bot.files import FileLinks
from bot.plain import plain_text, split_text
from bot.web import WebServer
from core.chat.messages import ChatRef, OutMessage
from core.config import Settings
from core.journal import reply_of
from core.storage.db import Database
from core.storage.models import GroupBinding, Household, OutboxMessage, ProcessedUpdate, Unit
from core.storage.repo import ensure_user
from core.surveys.model import QType
from core.surveys.parsing import fold, parse_answer
from scheduler.clock import FixedClock
from scheduler.runner import Scheduler
from tests.fake_zalo import ApiRefusal, FakeZaloAPI, ZaloUser
from tests.households import NEAR_POOR, POOR, survey_steps

ADMIN = "z-admin"
LINK = re.compile(r"http://127\.0\.0\.1:\d+/f/\S+")


@pytest.fixture
async def zalo_api() -> AsyncIterator[FakeZaloAPI]:
    fake = FakeZaloAPI()
    await fake.start()
    yield fake
    await fake.stop()


class ZaloHarness:
    def __init__(self, api: FakeZaloAPI, service: ChatApp, channel: ZaloChannel) -> None:
        self.api = api
        self.service = service
        self.channel = channel

    def user(self, user_id: str, name: str, group_id: str | None = None) -> ZaloUser:
        return ZaloUser(self.api, user_id, name, group_id)

    async def say(self, user: ZaloUser, text: str) -> list[dict[str, Any]]:
        """Send a text; wait until the bot has committed it and sent every part of its reply."""
        before = len(self.api.sent_to(user.chat_id))
        update_id = await self.api.push(user.text_update(text))
        reply = await self._committed(update_id, user.chat_id)
        parts = sum(1 if m.photo else len(split_text(plain_text(m, with_files=False) + ("\n." if m.document else ""),
                                                     TEXT_LIMIT)) for m in reply)
        for _ in range(3000):
            if len(self.api.sent_to(user.chat_id)) - before >= parts:
                return self.api.sent_to(user.chat_id)[before:]
            await asyncio.sleep(0.005)
        raise AssertionError(f"bot sent {len(self.api.sent_to(user.chat_id)) - before} of {parts} parts")

    async def _committed(self, update_id: str, chat_id: str) -> list[OutMessage]:
        for _ in range(6000):
            async with self.service.db.read() as s:
                row = await s.get(ProcessedUpdate, ("zalo", chat_id, update_id))
                if row is not None and row.reply is not None:
                    return [OutMessage.from_json(m) for m in reply_of(s, row) or []]
            await asyncio.sleep(0.005)
        raise AssertionError(f"update {update_id} was never committed")

    async def register(self, user: ZaloUser, issued: list[dict[str, Any]]) -> None:
        code = issued[-1]["text"].split("Mã mời: ")[1].split()[0]
        reply = await self.say(user, f"/dangky {code}")
        assert "Đã đăng ký" in reply[0]["text"] or "đăng ký" in reply[0]["text"].lower()

    async def survey(self, user: ZaloUser, profile: dict[str, Any]) -> list[dict[str, Any]]:
        """A whole Phiếu B typed on Zalo: every choice answered with its number from the list."""
        await self.say(user, "/hoimoi phieu_b")
        ref = ChatRef("zalo", user.chat_id, user.user_id)
        numbered = 0
        async for _key, question, typed in survey_steps(self.service, ref, profile):
            if question.type in (QType.CHOICE, QType.YES_NO) and not typed.startswith("/"):
                typed = self._number_for(user, question, typed)
                numbered += 1
            await self.say(user, typed)
        assert numbered > 10
        return await self.say(user, "/xacnhan")

    def _number_for(self, user: ZaloUser, question: Any, typed: str) -> str:
        value = parse_answer(question, typed)
        if question.type is QType.YES_NO:
            label = "Có" if value else "Không"
        else:
            label = next(c.label for c in question.choices if c.value == value)
        asked = self.api.sent_to(user.chat_id)[-1]["text"]
        for line in asked.splitlines():
            match = re.match(r"\s+(\d+)\. (.+)$", line)
            if match and fold(match.group(2)) == fold(label):
                return match.group(1)
        raise AssertionError(f"no numbered choice {label!r} in {asked!r}")


@pytest.fixture
async def zalo(zalo_api: FakeZaloAPI, settings: Settings, db: Database,
               tmp_path) -> AsyncIterator[ZaloHarness]:  # type: ignore[no-untyped-def]
    service = await build_app(dataclasses.replace(settings, admin_ids=frozenset({("zalo", ADMIN)})), db)
    links = FileLinks(settings.data_dir, "http://127.0.0.1:0")
    web = WebServer("127.0.0.1", 0, links, [])
    links.public_url = f"http://127.0.0.1:{await web.start()}"
    channel = ZaloChannel(service, ZaloClient(zalo_api.token, zalo_api.base), links, poll_timeout=1,
                          photo_hosts=frozenset({"127.0.0.1"}))
    await channel.start()
    yield ZaloHarness(zalo_api, service, channel)
    await channel.stop()
    await web.stop()


@pytest.fixture
async def zalo_people(zalo: ZaloHarness) -> dict[str, ZaloUser]:
    admin, officer = zalo.user(ADMIN, "Quản trị"), zalo.user("z-officer", "Cán bộ xã Ba Sơn")
    head = zalo.user("z-head", "Trưởng thôn Nà Pàn")
    await zalo.register(officer, await zalo.say(admin, "/moicanbo xa 6202"))
    await zalo.register(head, await zalo.say(officer, "/moi +Thôn Nà Pàn"))
    return {"admin": admin, "officer": officer, "head": head}


async def test_a_household_survey_on_zalo_with_numbered_choices_is_classified(
    zalo: ZaloHarness, zalo_people: dict[str, ZaloUser]
) -> None:
    head = zalo_people["head"]
    result = await zalo.survey(head, POOR)
    assert "Kết quả phân loại: HỘ NGHÈO" in result[0]["text"]
    first_question = next(m["text"] for m in zalo.api.sent_to(head.chat_id) if "1. Kinh" in m["text"]
                          or re.search(r"\n\s+1\. ", m["text"]))
    assert re.search(r"\n\s+1\. ", first_question)  # choices are numbered, no buttons on Zalo
    assert all(len(m.get("text") or "") <= TEXT_LIMIT for m in zalo.api.sent)
    async with zalo.service.db.read() as s:
        household = await s.scalar(select(Household))
    assert household is not None and household.outcome == "poor" and household.deprived == [4, 6, 9, 10]


async def test_an_officer_receives_a_report_as_a_link_and_the_chart_as_a_photo(
    zalo: ZaloHarness, zalo_people: dict[str, ZaloUser]
) -> None:
    await zalo.survey(zalo_people["head"], POOR)
    await zalo.survey(zalo_people["head"], NEAR_POOR)
    officer = zalo_people["officer"]
    menu = await zalo.say(officer, "/baocao 7.1")
    unit_command = re.search(r"(/baocao 7\.1 (?:#)?\d+)", menu[-1]["text"])
    assert unit_command is not None, menu[-1]["text"]
    before = len(zalo.api.sent_to(officer.chat_id))
    replies = await zalo.say(officer, unit_command.group(1))
    assert "Đang lập" in replies[0]["text"]
    for _ in range(3000):  # the workbook and chart follow once built
        replies = zalo.api.sent_to(officer.chat_id)[before:]
        if any(m.get("photo") for m in replies):
            break
        await asyncio.sleep(0.01)
    link = LINK.search(next(m["text"] for m in replies if m.get("text") and LINK.search(m["text"])))
    assert link is not None
    async with httpx.AsyncClient() as client:
        response = await client.get(link.group(0))
        forged = await client.get(link.group(0).replace("/f/", "/f/x"))
    assert response.status_code == 200 and forged.status_code == 410
    sheet = load_workbook(BytesIO(response.content)).active
    cells = [c for row in sheet.iter_rows(values_only=True) for c in row if c is not None]
    assert any(c == "Tổng cộng (I + II)" for c in cells)
    photos = [m for m in replies if m.get("photo")]
    assert photos and zalo.api.photos[photos[0]["photo"]].startswith(b"\x89PNG")


async def test_file_links_refuse_forged_expired_and_outside_paths(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "reports").mkdir()
    report = tmp_path / "reports" / "bc.xlsx"
    report.write_bytes(b"x")
    links = FileLinks(tmp_path, "https://rasoat.example.vn", hours=1)
    token = links.url(report).split("/f/")[1].split("/")[0]
    assert links.resolve(token) == report.resolve()
    assert links.resolve(token, now=datetime.now().timestamp() + 7200) is None
    assert links.resolve(token[:-1] + ("0" if token[-1] != "0" else "1")) is None
    with pytest.raises(ValueError):
        links.url("/etc/passwd")


async def test_zalo_officials_get_notices_privately_after_subscribing_groups_are_refused(
    zalo_api: FakeZaloAPI, settings: Settings, db: Database
) -> None:
    """Zalo bots cannot join groups: the fake refuses to add one, a group binding left over on
    Zalo fails for good without blocking anyone, and an official who sent /nhanthongbao in
    their own chat receives the plan's notices there, buttons shown as commands to type."""
    service = await build_app(dataclasses.replace(settings, units_configuration="200", review_year=2023,
                                                  plans=("lang_son_2023",)), db)
    from tests.scheduling import make_province

    p = await make_province(service)
    async with service.db.transaction() as s:
        commune = await s.get(Unit, p.ids["C1"])
        assert commune is not None
        await ensure_user(s, "zalo", "z-officer", "Cán bộ xã Zalo", "commune", commune.id)
        s.add(GroupBinding(channel="zalo", chat_id="zgroup-c1", title="Nhóm Zalo xã", unit_id=p.ids["C1"]))
    with pytest.raises(ApiRefusal):
        zalo_api.add_bot_to_group("zgroup-c1")
    with pytest.raises(ApiRefusal):
        ZaloUser(zalo_api, "z-officer", "Cán bộ", group_id="zgroup-c1").text_update("/ganhom")
    channel = ZaloChannel(service, ZaloClient(zalo_api.token, zalo_api.base), None)
    await channel.start()
    try:
        harness = ZaloHarness(zalo_api, service, channel)
        officer = ZaloUser(zalo_api, "z-officer", "Cán bộ xã Zalo")
        said = await harness.say(officer, "/nhanthongbao")
        assert "sẽ gửi vào cuộc trò chuyện này" in said[-1]["text"]
    finally:
        await channel.stop()
    channel = ZaloChannel(service, ZaloClient(zalo_api.token, zalo_api.base), None)
    scheduler = Scheduler(service.db, service.plans, {"zalo": channel},
                          FixedClock(datetime(2023, 11, 1, 9, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))))
    assert await scheduler.start()
    await scheduler.stop()
    await channel.client.close()
    texts = [m["text"] for m in zalo_api.sent_to("z-officer")]
    assert any("/nopbaocao lang_son_2023/so_bo_xa (✅ Đã nộp)" in t for t in texts), texts
    assert zalo_api.sent_to("zgroup-c1") == []
    async with service.db.read() as s:
        statuses = {r.chat_id: r.status for r in (await s.scalars(select(OutboxMessage))).all()}
    assert statuses["z-officer"] == "sent" and statuses["zgroup-c1"] == "failed"
    assert statuses[str(p.groups["C1"])] == "pending"  # no Telegram sender here: waits, never dropped


def test_a_zalo_webhook_without_a_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="ZALO_WEBHOOK_SECRET"):
        ZaloWebhook("https://rasoat.example.vn/zalo", "")


async def test_zalo_webhook_mode_checks_the_secret(zalo_api: FakeZaloAPI, service: ChatApp) -> None:
    links = None
    channel = ZaloChannel(service, ZaloClient(zalo_api.token, zalo_api.base), links,
                          webhook=ZaloWebhook("https://rasoat.example.vn/zalo", "s3cret"))
    web = WebServer("127.0.0.1", 0, None, channel.routes())
    port = await web.start()
    await channel.start()
    try:
        assert zalo_api.webhook == {"url": "https://rasoat.example.vn/zalo", "secret_token": "s3cret"}
        stranger = ZaloUser(zalo_api, "z-stranger", "Người lạ")
        body = {"ok": True, "result": stranger.text_update("xin chào")}
        async with httpx.AsyncClient() as client:
            bad = await client.post(f"http://127.0.0.1:{port}/zalo", json=body,
                                    headers={"X-Bot-Api-Secret-Token": "wrong"})
            empty = await client.post(f"http://127.0.0.1:{port}/zalo", json=body,
                                      headers={"X-Bot-Api-Secret-Token": ""})
            odd = await client.post(f"http://127.0.0.1:{port}/zalo", json=body,
                                    headers={"X-Bot-Api-Secret-Token": "sécret".encode()})
            assert zalo_api.sent_to("z-stranger") == []  # nothing was handled for the refused calls
            good = await client.post(f"http://127.0.0.1:{port}/zalo", json=body,
                                     headers={"X-Bot-Api-Secret-Token": "s3cret"})
            # acknowledged only after handling: the reply is already out when Zalo gets its 200
            assert good.status_code == 200 and "chưa đăng ký" in zalo_api.sent_to("z-stranger")[-1]["text"]
        assert bad.status_code == empty.status_code == odd.status_code == 401
    finally:
        await channel.stop()
        await web.stop()


async def test_rasoat_run_serves_telegram_and_zalo_in_one_process(
    api, zalo_api: FakeZaloAPI, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    import os
    import sys
    from pathlib import Path

    from tests.fake_telegram import TgUser

    env = {**os.environ, "TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_BASE": api.base,
           "ZALO_BOT_TOKEN": zalo_api.token, "ZALO_API_BASE": zalo_api.base, "RASOAT_DATA_DIR": str(tmp_path),
           "TELEGRAM_ADMIN_IDS": "42", "ZALO_ADMIN_IDS": ADMIN, "RASOAT_HTTP_PORT": "0"}
    env.pop("DATABASE_URL", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", cwd=Path(__file__).parents[1], env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        await api.push(TgUser(api, 42, "Quản trị").text_update("/toila"))
        await zalo_api.push(ZaloUser(zalo_api, ADMIN, "Quản trị").text_update("/toila"))
        assert "quản trị" in (await api.until_sent(42))[-1]["text"]
        for _ in range(2000):
            if zalo_api.sent_to(ADMIN):
                break
            await asyncio.sleep(0.01)
        assert "quản trị" in zalo_api.sent_to(ADMIN)[-1]["text"]
    finally:
        proc.terminate()
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, out.decode()
    assert b"telegram channel running" in out and b"zalo channel running" in out


async def test_a_village_head_attaches_a_photo_on_zalo(zalo: ZaloHarness, zalo_people: dict[str, ZaloUser]) -> None:
    """Zalo sends pictures as URLs: the bot fetches it (the sender checked first) and keeps it
    with the household open in the chat; a picture from a stranger is never fetched."""
    head = zalo_people["head"]
    await zalo.survey(head, POOR)
    async with zalo.service.db.read() as s:
        hid = (await s.scalars(select(Household.id))).one()
    await zalo.say(head, f"/mo {hid}")
    before = len(zalo.api.sent_to(head.chat_id))
    await zalo.api.push(head.photo_update(zalo.api.image_url("nha.jpg", b"\xff\xd8 the house")))
    for _ in range(1000):
        if len(zalo.api.sent_to(head.chat_id)) > before:
            break
        await asyncio.sleep(0.01)
    assert "Đã lưu ảnh thứ 1" in zalo.api.sent_to(head.chat_id)[-1]["text"]
    from core.procedure.models import HouseholdFile

    async with zalo.service.db.read() as s:
        files = (await s.scalars(select(HouseholdFile).where(HouseholdFile.household_id == hid))).all()
    assert [f.kind for f in files] == ["photo"] and Path(files[0].path).read_bytes() == b"\xff\xd8 the house"
    stranger = zalo.user("z-nobody", "Người lạ")
    await zalo.api.push(stranger.photo_update(zalo.api.image_url("x.jpg", b"\xff\xd8 x")))
    for _ in range(1000):
        if zalo.api.sent_to(stranger.chat_id):
            break
        await asyncio.sleep(0.01)
    assert "chưa đăng ký" in zalo.api.sent_to(stranger.chat_id)[-1]["text"]
    assert zalo.api.fetched == ["nha.jpg"]  # the stranger's picture was never downloaded


async def test_a_replayed_zalo_update_that_changes_state_is_applied_once(
    zalo_api: FakeZaloAPI, settings: Settings, db: Database
) -> None:
    """Zalo may deliver one webhook call twice (issue 26 item 6): an invite redeemed twice
    registers once, an answer delivered twice is stored once; even when the copy comes after
    the next answer was applied, nothing changes and the first reply is sent again."""
    from core.storage.models import AuditLog, InviteCode, User
    from tests.households import cursor

    service = await build_app(dataclasses.replace(settings, admin_ids=frozenset({("zalo", ADMIN)})), db)
    channel = ZaloChannel(service, ZaloClient(zalo_api.token, zalo_api.base), None,
                          webhook=ZaloWebhook("https://rasoat.example.vn/zalo", "s3cret"))
    web = WebServer("127.0.0.1", 0, None, channel.routes())
    port = await web.start()
    await channel.start()
    admin, officer = ZaloUser(zalo_api, ADMIN, "Quản trị"), ZaloUser(zalo_api, "z-officer", "Cán bộ xã")
    head = ZaloUser(zalo_api, "z-head", "Trưởng thôn")

    async def deliver(client: httpx.AsyncClient, update: dict[str, Any]) -> list[str]:
        before = len(zalo_api.sent_to(update["message"]["chat"]["id"]))
        response = await client.post(f"http://127.0.0.1:{port}/zalo", json={"ok": True, "result": update},
                                      headers={"X-Bot-Api-Secret-Token": "s3cret"})
        assert response.status_code == 200  # acknowledged after handling: the reply is out
        return [m["text"] for m in zalo_api.sent_to(update["message"]["chat"]["id"])[before:]]

    async def code(client: httpx.AsyncClient, user: ZaloUser, command: str) -> str:
        return (await deliver(client, user.text_update(command)))[-1].split("Mã mời: ")[1].split()[0]

    try:
        async with httpx.AsyncClient() as client:
            redeem = officer.text_update(f"/dangky {await code(client, admin, '/moicanbo xa 6202')}")
            first = await deliver(client, redeem)
            assert await deliver(client, redeem) == first and "Đăng ký thành công" in first[0]
            async with service.db.read() as s:
                assert len((await s.scalars(select(User).where(User.external_id == "z-officer"))).all()) == 1
                invite = (await s.scalars(select(InviteCode).where(InviteCode.role == "commune"))).one()
                assert invite.used_by is not None
            await deliver(client, head.text_update(f"/dangky {await code(client, officer, '/moi +Thôn Nà Pàn')}"))
            await deliver(client, head.text_update("/hoimoi phieu_b"))
            ref = ChatRef("zalo", head.chat_id, head.user_id)
            asked = await cursor(service, ref)
            answer = head.text_update(POOR[asked])  # type: ignore[index]
            first = await deliver(client, answer)
            assert await deliver(client, answer) == first
            second_question = await cursor(service, ref)
            assert second_question != asked
            await deliver(client, head.text_update(POOR[second_question]))  # type: ignore[index]
            third_question = await cursor(service, ref)
            assert await deliver(client, answer) == first  # a copy after the next answer: the same reply again
            assert await cursor(service, ref) == third_question
        async with service.db.read() as s:
            changes = (await s.scalars(select(AuditLog.key).where(AuditLog.action == "answer"))).all()
        assert sorted(changes) == sorted([asked, second_question])  # each answer stored once
    finally:
        await channel.stop()
        await web.stop()
