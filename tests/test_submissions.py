"""Report submission and tracking: '/nopbaocao' (file, typed code or the 'Đã nộp' button),
'/theodoi' for the receiving level, and who may do which."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.app import ChatApp, build_app
from bot.channels.telegram import TelegramChannel
from core.chat.messages import Attachment, ChatRef, Incoming
from core.config import Settings
from core.storage.db import Database
from core.storage.models import ReportSubmission
from core.storage.repo import ensure_user
from tests.fake_telegram import FakeBotAPI, TgUser
from tests.scheduling import Province, make_province

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
async def plan_service(settings: Settings, db: Database) -> ChatApp:
    service = await build_app(dataclasses.replace(
        settings, units_configuration="200", review_year=2023, plans=("lang_son_2023",)), db)
    service.clock = lambda: datetime(2023, 11, 8, 10, 0, tzinfo=TZ)  # so_bo_xa was due on 6/11
    return service


@pytest.fixture
async def province(plan_service: ChatApp) -> Province:
    return await make_province(plan_service)


async def say(service: ChatApp, chat: ChatRef, text: str, document: Attachment | None = None) -> str:
    reply = await service.handle(chat, Incoming(text=text, document=document))
    return "\n".join(m.text for m in reply.messages)


async def test_a_commune_submits_late_and_its_district_sees_who_is_missing(
    plan_service: ChatApp, province: Province
) -> None:
    c1, d1 = province.officers["C1"], province.officers["D1"]
    listing = await say(plan_service, c1, "/nopbaocao")
    assert "sơ bộ cấp xã" in listing and "quá hạn 2 ngày" in listing
    reply = await plan_service.handle(c1, Incoming(text="/nopbaocao"))
    assert any(b.payload == "c:submit_report:lang_son_2023/so_bo_xa" for row in reply.messages[0].buttons for b in row)
    done = await say(plan_service, c1, "/nopbaocao so_bo_xa")
    assert "Đã ghi nhận" in done and "(trễ 2 ngày)" in done
    assert "đã nộp" in await say(plan_service, c1, "/nopbaocao so_bo_xa")  # once only
    tracked = await say(plan_service, d1, "/theodoi so_bo_xa")
    head, _, missing = tracked.partition("Chưa nộp:")
    assert "✅" in head and "trễ 2 ngày" in head
    c1_name, c2_name, c3_name = (province.units[province.ids[n]].name for n in ("C1", "C2", "C3"))
    assert c1_name in head and c1_name not in missing
    assert c2_name in missing and "quá hạn 2 ngày" in missing
    assert c3_name not in tracked  # C3 belongs to D2


async def test_a_file_with_an_ambiguous_caption_is_refused_with_the_codes_then_accepted(
    plan_service: ChatApp, province: Province, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    d1 = province.officers["D1"]
    plan_service.clock = lambda: datetime(2023, 11, 20, 10, 0, tzinfo=TZ)  # two district requests open
    file = Attachment("bao_cao.xlsx", str(tmp_path / "bao_cao.xlsx"))
    unclear = await say(plan_service, d1, "", file)
    assert "nhiều báo cáo" in unclear and "lang_son_2023/chinh_thuc_huyen" in unclear
    accepted = await say(plan_service, d1, "/nopbaocao chinh_thuc_huyen", file)
    assert "Đã nhận tệp «bao_cao.xlsx»" in accepted and "trễ" not in accepted
    async with plan_service.db.read() as s:
        rows = (await s.scalars(select(ReportSubmission))).all()
    assert [(r.request_key, r.file_name) for r in rows] == [("lang_son_2023/chinh_thuc_huyen", "bao_cao.xlsx")]


async def test_who_may_submit_and_track(plan_service: ChatApp, province: Province) -> None:
    async with plan_service.db.transaction() as s:
        head = await ensure_user(s, "telegram", "7001", "Trưởng thôn", "village_head",
                                 next(u for u in province.units.values() if u.level == "village").id)
        await ensure_user(s, "telegram", "7002", "Cán bộ tỉnh", "province", province.ids["P"])
    village_head = ChatRef("telegram", head.external_id, head.external_id)
    provincial = ChatRef("telegram", "7002", "7002")
    c1, d1 = province.officers["C1"], province.officers["D1"]
    assert "Hiện không có" in await say(plan_service, village_head, "/nopbaocao")
    assert "Chỉ cán bộ" in await say(plan_service, village_head, "/theodoi")
    assert "Không có yêu cầu báo cáo mã «so_bo_huyen»" in await say(plan_service, c1, "/nopbaocao so_bo_huyen")
    assert "Không có yêu cầu" in await say(plan_service, c1, "/theodoi")  # communes receive no reports
    # A district tracks its communes' reports, not its own report to the province.
    assert "Báo cáo kết quả rà soát sơ bộ cấp xã" in await say(plan_service, d1, "/theodoi so_bo_xa")
    assert "Chọn yêu cầu" not in await say(plan_service, d1, "/theodoi")
    assert "so_bo_huyen" not in str((await plan_service.handle(d1, Incoming(text="/theodoi"))).messages[0].buttons)
    # The province sees both levels across all districts.
    menu = await plan_service.handle(provincial, Incoming(text="/theodoi"))
    payloads = {b.payload for row in menu.messages[0].buttons for b in row}
    assert {"c:track:lang_son_2023/so_bo_xa", "c:track:lang_son_2023/so_bo_huyen"} <= payloads
    assert "0/200" in str(menu.messages[0].buttons)  # all 200 communes owe so_bo_xa


async def test_group_button_and_file_upload_over_telegram(
    plan_service: ChatApp, province: Province, api: FakeBotAPI
) -> None:
    """The 'Đã nộp' button under a notice in the commune's group, and a report file sent to
    the bot in private, through the real library and the fake Bot API (getFile, download)."""
    channel = TelegramChannel(plan_service, api.token, api.base, poll_timeout=1)
    await channel.start()
    try:
        in_group = TgUser(api, 9001, "Cán bộ xã C1", province.groups["C1"], "Nhóm xã")
        await api.push(in_group.callback_update("c:submit_report:lang_son_2023/so_bo_xa"))
        sent = await api.until_sent(province.groups["C1"])
        assert "Đã ghi nhận" in sent[-1]["text"]
        district = TgUser(api, 9002, "Cán bộ huyện D1")
        await api.push(district.document_update("so_bo_huyen.xlsx", b"PK\x03\x04 workbook", "/nopbaocao so_bo_huyen"))
        sent = await api.until_sent(9002)
        assert "Đã nhận tệp «so_bo_huyen.xlsx»" in sent[-1]["text"]
    finally:
        await channel.stop()
    async with plan_service.db.read() as s:
        rows = {r.request_key: r for r in (await s.scalars(select(ReportSubmission))).all()}
    assert rows["lang_son_2023/so_bo_xa"].unit_id == province.ids["C1"]
    stored = rows["lang_son_2023/so_bo_huyen"]
    assert stored.file_path and Path(stored.file_path).read_bytes() == b"PK\x03\x04 workbook"
