"""End to end over the real python-telegram-bot library, speaking HTTP to a fake Bot API
server on 127.0.0.1: registration by invite codes, whole surveys with inline buttons, access
control, re-delivery, ordering, errors, group binding and webhook mode."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.app import ChatApp, build_app
from bot.channels import telegram
from bot.channels.telegram import TelegramChannel, WebhookConfig
from core.chat.messages import ChatRef, OutMessage
from core.config import Settings
from core.storage.db import Database
from core.storage.models import Answer, AuditLog, GroupBinding, Household, ProcessedUpdate, User
from tests.fake_telegram import FakeBotAPI, TgUser
from tests.households import NEAR_POOR, NOT_POOR, POOR, cursor
from tests.telegram_harness import Harness, code_in


async def test_full_surveys_over_telegram_are_classified_and_stored(
    harness: Harness, people: dict[str, TgUser], api: FakeBotAPI
) -> None:
    head = people["a"]
    expected = []
    for profile, outcome, words in ((POOR, "poor", "HỘ NGHÈO"), (NEAR_POOR, "near_poor", "HỘ CẬN NGHÈO"),
                                    (NOT_POOR, "not_poor", "KHÔNG NGHÈO")):
        result = await harness.survey(head, profile)
        assert f"Kết quả phân loại: {words}" in result[0]["text"]
        assert "Lý do:" in result[0]["text"]
        expected.append(outcome)
    async with harness.service.db.transaction() as s:
        households = (await s.scalars(select(Household).order_by(Household.id))).all()
    assert [h.outcome for h in households] == expected
    assert all(h.status == "submitted" and h.area == "rural" for h in households)
    assert households[0].deprived == [4, 6, 9, 10]
    # The menu was set, and a pressed question lost its keyboard and shows the choice.
    assert any(c.method == "setMyCommands" and any(cmd["command"] == "hoimoi" for cmd in c.params["commands"])
               for c in api.calls)
    edited = [m for m in api.sent_to(head.user_id) if "➡️ Tày" in m.get("text", "")]
    assert edited and "reply_markup" not in edited[0]
    for message in api.sent_to(head.user_id):
        for row in message.get("reply_markup", {}).get("inline_keyboard", []):
            assert all(len(b["callback_data"].encode()) <= 64 for b in row)


async def test_a_second_village_head_cannot_reach_the_first_ones_household(
    harness: Harness, people: dict[str, TgUser]
) -> None:
    a, b, officer = people["a"], people["b"], people["officer"]
    await harness.survey(a, NEAR_POOR)
    await harness.say(a, "/hoimoi")
    await harness.press(a, "c:new:phieu_b")
    await harness.say(a, "Lò Văn Sáu")  # a draft in progress: household 2
    async with harness.service.db.transaction() as s:
        answers_before = await s.scalar(select(func.count()).select_from(Answer))
        audit_before = await s.scalar(select(func.count()).select_from(AuditLog))
    attempts = [
        b.text_update("/mo 1"), b.text_update("/mo 2"), b.text_update("/mo #1"),
        b.callback_update("c:open:1"), b.callback_update("c:open:2"), b.callback_update("c:reopen"),
        b.callback_update("a:chu_ho_cccd:x"), b.callback_update("a:dan_toc:kinh"), b.callback_update("c:confirm"),
        b.text_update("/sua 1"), b.text_update("/mophieu"), b.text_update("/xacnhan"), b.text_update("/tieptuc"),
        b.text_update("Kẻ lạ"), b.callback_update("c:invite:#1"), b.text_update("/moi Thôn Nà Pàn"),
        b.text_update("/moicanbo xa 6202"),
    ]
    for update in attempts:
        replies = await harness.act(b, update)
        assert replies, f"no answer to {update}"
        text = " ".join(m.get("text", "") for m in replies)
        assert "Hoàng Văn Minh" not in text and "Lò Văn Sáu" not in text
    listing = await harness.say(b, "/danhsach")
    assert "chưa có hộ nào" in listing[0]["text"]
    async with harness.service.db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(Answer)) == answers_before
        assert await s.scalar(select(func.count()).select_from(AuditLog)) == audit_before
        statuses = [h.status for h in (await s.scalars(select(Household).order_by(Household.id))).all()]
    assert statuses == ["submitted", "draft"]
    # The commune officer sees both households of the commune's villages; another commune's does not.
    officer_list = (await harness.say(officer, "/danhsach"))[0]["text"]
    assert "Hoàng Văn Minh" in officer_list and "Lò Văn Sáu" in officer_list
    other = harness.user(2001, "Cán bộ phường Đông Kinh")
    await harness.register(other, code_in(await harness.say(people["admin"], "/moicanbo xa 5977")))
    assert "chưa có hộ nào" in (await harness.say(other, "/danhsach"))[0]["text"]
    for update in (other.text_update("/mo 1"), other.callback_update("c:open:2"), other.callback_update("c:invite:#1")):
        text = " ".join(m.get("text", "") for m in await harness.act(other, update))
        assert "Hoàng Văn Minh" not in text and "Lò Văn Sáu" not in text


async def test_strangers_only_see_registration_and_codes_are_single_use(
    harness: Harness, people: dict[str, TgUser]
) -> None:
    stranger = harness.user(4000, "Người lạ")
    for text in ("/hoimoi", "/danhsach", "/mo 1", "xin chào"):
        assert "chưa đăng ký" in (await harness.say(stranger, text))[0]["text"]
    assert "chưa đăng ký" in (await harness.act(stranger, stranger.callback_update("c:open:1")))[0]["text"]
    assert "không đúng" in (await harness.register(stranger, "ZZZZ9999"))[0]["text"]
    code = code_in(await harness.say(people["officer"], "/moi +Thôn Bản Mới"))
    assert "thành công" in (await harness.register(stranger, code))[0]["text"]
    late = harness.user(4001, "Người đến sau")
    assert "đã được dùng" in (await harness.register(late, code))[0]["text"]
    deep_link = code_in(await harness.say(people["officer"], "/moi Thôn Bản Mới"))
    welcome = await harness.say(late, f"/start {deep_link}")  # t.me/<bot>?start=CODE
    assert "thành công" in welcome[0]["text"] and "Thôn Bản Mới" in welcome[0]["text"]
    assert "Chỉ cán bộ xã" in (await harness.say(people["a"], "/moi Thôn X"))[0]["text"]
    async with harness.service.db.transaction() as s:
        roles = dict((await s.execute(select(User.external_id, User.role))).all())
    assert roles == {"1000": "admin", "2000": "commune", "3001": "village_head", "3002": "village_head",
                     "4000": "village_head", "4001": "village_head"}


async def test_group_chat_binding(harness: Harness, people: dict[str, TgUser]) -> None:
    officer_in_group = harness.user(2000, "Cán bộ xã", chat_id=-100555, title="BCĐ rà soát xã Ba Sơn")
    head_in_group = harness.user(3001, "Trưởng thôn A", chat_id=-100555, title="BCĐ rà soát xã Ba Sơn")
    assert "Chỉ cán bộ" in (await harness.say(head_in_group, "/ganhom"))[0]["text"]
    assert "đã được gắn với Xã Ba Sơn" in (await harness.say(officer_in_group, "/ganhom@rasoat_test_bot"))[0]["text"]
    assert "nhắn riêng" in (await harness.say(head_in_group, "/hoimoi"))[0]["text"]
    assert await harness.say(head_in_group, "chuyện phiếm trong nhóm") == []
    async with harness.service.db.transaction() as s:
        binding = (await s.scalars(select(GroupBinding))).one()
    assert (binding.chat_id, binding.title) == ("-100555", "BCĐ rà soát xã Ba Sơn")


async def test_a_redelivered_update_changes_nothing_and_is_answered_again(
    harness: Harness, people: dict[str, TgUser]
) -> None:
    a = people["a"]
    await harness.say(a, "/hoimoi")
    await harness.press(a, "c:new:phieu_b")
    update = a.text_update("Hoàng Văn Minh")
    first = await harness.act(a, update)
    again = await harness.act(a, update, redeliver=True)
    assert [m["text"] for m in again] == [m["text"] for m in first]
    async with harness.service.db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "answer")) == 1
    assert await cursor(harness.service, ChatRef("telegram", "3001", "3001")) == "chu_ho_cccd"


async def test_updates_of_one_chat_are_applied_in_order(harness: Harness, people: dict[str, TgUser]) -> None:
    a = people["a"]
    await harness.say(a, "/hoimoi")
    await harness.press(a, "c:new:phieu_b")
    ids = [await harness.api.push(a.text_update(text)) for text in ("Hoàng Văn Minh", "/boqua", "Nùng", "/quaylai")]
    for uid in ids:
        await harness.committed_reply(uid, 3001)
    assert await cursor(harness.service, ChatRef("telegram", "3001", "3001")) == "dan_toc"
    async with harness.service.db.transaction() as s:
        answers = dict((await s.execute(select(Answer.key, Answer.value))).all())
    assert answers == {"chu_ho_ten": "Hoàng Văn Minh", "chu_ho_cccd": None, "dan_toc": "nung"}


async def test_a_handler_error_is_answered_politely_and_loses_nothing(
    harness: Harness, people: dict[str, TgUser], monkeypatch: pytest.MonkeyPatch
) -> None:
    a = people["a"]
    await harness.say(a, "/hoimoi")
    await harness.press(a, "c:new:phieu_b")
    await harness.say(a, "Hoàng Văn Minh")
    from core.conversation.engine import SurveyEngine

    original = SurveyEngine.handle_text

    def explode(self, state, answers, text):  # type: ignore[no-untyped-def]
        if text == "BOOM":
            raise RuntimeError("simulated failure")
        return original(self, state, answers, text)

    monkeypatch.setattr(SurveyEngine, "handle_text", explode)
    sent_before = len(harness.api.sent_to(3001))
    uid = await harness.api.push(a.text_update("BOOM"))
    sent = await harness.api.until_sent(3001, lambda m: len(m) > sent_before)
    assert "Xin lỗi" in sent[-1]["text"]
    async with harness.service.db.transaction() as s:
        assert await s.get(ProcessedUpdate, ("telegram", "3001", str(uid))) is None  # not recorded: may be retried
        assert dict((await s.execute(select(Answer.key, Answer.value))).all()) == {"chu_ho_ten": "Hoàng Văn Minh"}
    assert (await harness.say(a, "/boqua"))[0]["text"].startswith("Câu 3 · Phần 1/4 (3/")


async def test_webhook_mode_checks_the_secret_token(
    api: FakeBotAPI, settings: Settings, db: Database, unused_tcp_port: int
) -> None:
    service = await build_app(settings, db)
    hook = WebhookConfig(url="https://bot.example/telegram", secret="s3cret-Token_1", listen="127.0.0.1",
                         port=unused_tcp_port, path="telegram")
    channel = TelegramChannel(service, api.token, api.base, webhook=hook)
    await channel.start()
    try:
        assert api.webhook is not None and api.webhook["secret_token"] == "s3cret-Token_1"
        user = TgUser(api, 5000, "Ai đó")
        update = {"update_id": 1, **user.text_update("/hoimoi")}
        url = f"http://127.0.0.1:{unused_tcp_port}/telegram"
        async with aiohttp.ClientSession() as http:
            async with http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}) as r:
                assert r.status == 403
            async with http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1"}) as r:
                assert r.status == 200
                # acknowledged only once handled: the reply is already out when Telegram hears 200
                assert "chưa đăng ký" in api.sent_to(5000)[-1]["text"]
    finally:
        await channel.stop()


async def test_rasoat_run_with_a_token_serves_telegram(api: FakeBotAPI, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The main command (`./run.sh`, README.md) picks the Telegram channel when TELEGRAM_BOT_TOKEN is set."""
    import os
    import sys
    from pathlib import Path

    env = {**os.environ, "TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_BASE": api.base,
           "RASOAT_DATA_DIR": str(tmp_path), "TELEGRAM_ADMIN_IDS": "42"}
    env.pop("DATABASE_URL", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", cwd=Path(__file__).parents[1], env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        admin = TgUser(api, 42, "Quản trị")
        await api.push(admin.text_update("/toila"))
        assert "quản trị" in (await api.until_sent(42))[-1]["text"]
    finally:
        proc.terminate()
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, out.decode()
    assert b"long polling" in out


async def test_officer_gets_report_workbook_and_chart_by_buttons(
    harness: Harness, people: dict[str, TgUser], api: FakeBotAPI
) -> None:
    from io import BytesIO

    from openpyxl import load_workbook

    a, b, officer = people["a"], people["b"], people["officer"]
    await harness.survey(a, POOR)
    await harness.survey(b, NEAR_POOR)
    menu = await harness.say(officer, "/baocao")
    assert any(btn["callback_data"] == "c:report:7.1" for btn in officer.last_keyboard())
    assert "Chọn biểu" in menu[0]["text"]
    units = await harness.press(officer, "c:report:7.1")
    choices = [btn for btn in officer.last_keyboard() if btn["callback_data"].startswith("c:report:7.1 ")]
    assert choices[0]["text"] == "Xã Ba Sơn" and "Chọn đơn vị" in units[0]["text"]
    before = len(api.sent_to(officer.user_id))
    await harness.press(officer, choices[0]["callback_data"])
    got = (await api.until_sent(officer.user_id, lambda m: any("document" in x for x in m[before:])
                                and any("photo" in x for x in m[before:])))[before:]
    assert "Đang lập" in got[0]["text"]  # progress shown before the long work
    photo = next(m for m in got if "photo" in m)
    assert "như trong bảng" in photo["caption"]  # the chart says it plots the table's own rates
    document = next(m for m in got if "document" in m)
    assert document["document"]["file_name"].endswith(".xlsx")
    ws = load_workbook(BytesIO(api.files[document["document"]["file_id"]])).active
    total = next(r for r in ws.iter_rows(values_only=True) if r[1] == "Tổng cộng (I + II)")
    assert (total[4], total[6]) == (1, 1)  # poor, near-poor in Xã Ba Sơn
    photo = next(m for m in got if "photo" in m)
    assert api.files[photo["photo"][0]["file_id"]][:4] == b"\x89PNG"

    progress = (await harness.say(officer, "/tiendo"))[0]["text"]
    assert "Thôn Nà Pàn: đã nộp 1" in progress and "Thôn Khuổi Luông: đã nộp 1" in progress


async def test_reports_are_refused_outside_ones_role_and_area(harness: Harness, people: dict[str, TgUser]) -> None:
    a, officer, admin = people["a"], people["officer"], people["admin"]
    assert "Chỉ cán bộ" in (await harness.say(a, "/baocao"))[0]["text"]
    assert "Chỉ cán bộ" in (await harness.act(a, a.callback_update("c:report:ds_ngheo:#1")))[0]["text"]
    other = harness.user(2002, "Cán bộ xã khác")
    await harness.register(other, code_in(await harness.say(admin, "/moicanbo xa 5977")))
    async with harness.service.db.transaction() as s:
        from core.storage.models import Unit

        ba_son = (await s.scalars(select(Unit).where(Unit.code == "6202", Unit.configuration == "65"))).one()
    for update in (other.callback_update(f"c:report:ds_bhyt:#{ba_son.id}"),
                   other.text_update(f"/baocao 7.1 #{ba_son.id}"), other.text_update(f"/tiendo #{ba_son.id}")):
        replies = await harness.act(other, update)
        assert "không thuộc địa bàn" in replies[0]["text"] and not any("document" in m for m in replies)
    assert "chưa có" not in (await harness.say(officer, "/tiendo"))[0]["text"]


@pytest.mark.parametrize("http", ["aiohttp", "httpx"])
async def test_both_network_backends_send_receive_and_move_files(
        api: FakeBotAPI, settings: Settings, db: Database, http: str) -> None:
    """bot/channels/telegram_http.py is the default backend; TELEGRAM_HTTP=httpx is the
    library's own. Either way a text, a keyboard, a document sent and a file fetched go through."""
    import dataclasses

    from telegram.request import HTTPXRequest

    from bot.channels.telegram_http import AiohttpRequest

    service = await build_app(dataclasses.replace(settings, telegram_http=http,
                                                  admin_ids=frozenset({("telegram", "1")})), db)
    channel = TelegramChannel(service, api.token, api.base, poll_timeout=1)
    assert isinstance(channel.bot.request, AiohttpRequest if http == "aiohttp" else HTTPXRequest)
    await channel.start()
    try:
        harness = Harness(api, service)
        admin = harness.user(1, "Quản trị")
        sent = await harness.say(admin, "/huongdan")
        assert sent and "/moicanbo" in sent[-1]["text"]
        assert any(m.get("reply_markup") for m in await harness.say(admin, "/baocao"))
        path = settings.data_dir / "thu.txt"
        path.write_text("tệp thử")
        await channel.send(str(admin.chat["id"]), [OutMessage("tệp", document=str(path))])
        stored = api.sent[-1]
        assert api.files[stored["document"]["file_id"]] == "tệp thử".encode()
        telegram_file = await channel.bot.get_file(stored["document"]["file_id"])
        assert bytes(await telegram_file.download_as_bytearray()) == "tệp thử".encode()
    finally:
        await channel.stop()


async def test_an_unknown_network_backend_is_refused_at_start(settings: Settings, db: Database) -> None:
    import dataclasses

    service = await build_app(dataclasses.replace(settings, telegram_http="curl"), db)
    with pytest.raises(ValueError, match="TELEGRAM_HTTP"):
        TelegramChannel(service, "1:x", "http://127.0.0.1:9")


async def test_the_aiohttp_backend_reports_a_silent_server_as_the_librarys_timed_out(api: FakeBotAPI) -> None:
    from telegram import Bot
    from telegram.error import NetworkError, TimedOut

    from bot.channels.telegram_http import AiohttpRequest

    api.send_delay = 2.0
    bot = Bot(api.token, base_url=f"{api.base}/bot", request=AiohttpRequest(read_timeout=0.3))
    async with bot:
        with pytest.raises(TimedOut):
            await bot.send_message(5, "chậm")
    gone = Bot(api.token, base_url="http://127.0.0.1:9/bot", request=AiohttpRequest())
    with pytest.raises(NetworkError):
        await gone.initialize()


async def test_a_reply_in_flight_when_the_channel_stops_is_sent_and_marked_sent(api: FakeBotAPI,
                                                                                 service: ChatApp) -> None:
    """Stopping waits for the updates in hand: their replies go out and are marked sent, so a
    restart does not send them a second time (and a benchmark's database is not written to
    after it was dropped)."""
    channel = TelegramChannel(service, api.token, api.base, poll_timeout=1)
    await channel.start()
    stranger = TgUser(api, 4242, "Người lạ")
    api.send_delay = 0.5
    uid = await api.push(stranger.text_update("xin chào"))
    for _ in range(2000):
        if any(c.method == "sendMessage" and int(c.params.get("chat_id", 0)) == 4242 for c in api.calls):
            break
        await asyncio.sleep(0.005)
    await channel.stop()  # while the reply is on the wire
    assert api.sent_to(4242)
    async with service.db.read() as s:
        row = await s.get(ProcessedUpdate, ("telegram", "4242", str(uid)))
    assert row is not None and row.delivered_at is not None
    # sent as one JSON body (Vietnamese text percent-encoded in Python cost a tenth of a send)
    sends = [c for c in api.calls if c.method == "sendMessage"]
    assert sends and all(c.content_type == "application/json" for c in sends)


async def test_the_poller_waits_for_new_updates_at_once_when_the_last_in_hand_finishes(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """While updates are in hand every poll returns them again, so the poller pauses between
    polls (POLL_BUSY); once the last of them is finished it long-polls at once, and a user's next
    message does not wait out the pause (issue 25: at 20 chats the pause was the limit)."""
    monkeypatch.setattr(telegram, "POLL_BUSY", 60.0)  # far longer than the harness waits for a reply
    user = harness.user(7, "Khách")
    harness.api.send_delay = 0.3  # the first reply is slow: its update is in hand at the next poll
    assert await harness.say(user, "/huongdan")
    harness.api.send_delay = 0.0
    assert await harness.say(user, "/huongdan")
