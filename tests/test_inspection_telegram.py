"""An inspection end to end over Telegram (the real python-telegram-bot library against the fake
Bot API), on SQLite and PostgreSQL: the plan's notices, the proposal and its confirmation, a team
member invited by code, a reproducible sample of 10 households, three re-checks (one difference
accepted, one explained), the agreement rate, the commune's report with its figures checked
against the database, its submission tracked, and the team's access ending at close.
Households are written straight into the database: the survey itself is tested elsewhere."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.channels.telegram import TelegramChannel
from core.inspection.sample import draw, strata, surveyed
from core.storage.models import ReportSubmission
from core.storage.models_inspection import InspectedUnit, Inspection, Recheck, RecheckDifference
from core.storage.repo import load_answers
from core.surveys.model import QType
from core.surveys.parsing import parse_answer
from scheduler.clock import FixedClock
from scheduler.runner import Scheduler
from tests.fake_telegram import FakeBotAPI, TgUser
from tests.households import NEAR_POOR, NOT_POOR, POOR, answer_for, questions_of
from tests.inspection_world import complain, seed
from tests.telegram_harness import Harness, code_in
from tests.test_inspection_docs import docx_text, expected_figures, expected_rows, report_rows
from tests.test_sealed_scan import clear_id_numbers

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("text", "") for m in messages)


async def resurvey(harness: Harness, inspector: TgUser, hid: int, profile: dict[str, Any]) -> str:
    """The inspector re-takes household hid's survey in chat: choices by button, the rest typed."""
    service = harness.service
    questions = questions_of(service.forms)
    reply = await harness.say(inspector, f"/phuctra #{hid}")
    last = None
    for _ in range(400):
        async with service.db.read() as s:
            state = (await s.scalar(select(Recheck.state).where(Recheck.household_id == hid))) or {}
        key = state.get("cursor") if state.get("mode", "ask") == "ask" else None
        if key is None:
            return texts(await harness.say(inspector, "/xacnhan"))
        if key == last:
            raise AssertionError(f"answer for {key} refused: {texts(reply)}")
        last = key
        question, typed = questions[key.split(".")[-1]], answer_for(profile, key)
        if question.type in (QType.CHOICE, QType.YES_NO) and not typed.startswith("/"):
            value = parse_answer(question, typed)
            value = ("1" if value else "0") if question.type is QType.YES_NO else value
            reply = await harness.press(inspector, f"a:{key}:{value}")
        else:
            reply = await harness.say(inspector, typed)
    raise AssertionError("the re-check did not reach its review")


async def test_an_inspection_over_telegram(harness: Harness, people: dict[str, TgUser], api: FakeBotAPI) -> None:
    service = harness.service
    admin, officer = people["admin"], people["officer"]
    rows = ([(POOR, "poor")] * 6 + [(NEAR_POOR, "near_poor")] * 6 + [(NOT_POOR, "none")] * 6 + [(POOR, "none")] * 6)
    world = await seed(service, "6202", "Thôn Khuổi Bó", rows)
    await complain(service, min(world.households))
    province = harness.user(4000, "Cán bộ tỉnh")
    await harness.register(province, code_in(await harness.say(admin, "/moicanbo tinh 20")))
    province_group = harness.user(4000, "Cán bộ tỉnh", chat_id=-4000, title="Ban chỉ đạo tỉnh")
    commune_group = harness.user(2000, "Cán bộ xã", chat_id=-2000, title="Xã Ba Sơn")
    assert "Xã Ba Sơn" in texts(await harness.say(commune_group, "/ganhom"))
    assert "Tỉnh Lạng Sơn" in texts(await harness.say(province_group, "/ganhom"))

    # the proposal, with its reasons, and the confirmation
    service.clock = lambda: datetime(2026, 10, 30, 9, 0, tzinfo=TZ)
    proposal = texts(await harness.say(province, "/dexuatkiemtra"))
    assert "1. Xã Ba Sơn, điểm 7: tỷ lệ hộ nghèo thay đổi 25 điểm %" in proposal
    confirmed = texts(await harness.press(province, "c:inspect_propose:ok"))
    assert "Đã xác nhận" in confirmed and "Xã Ba Sơn" in confirmed

    # the plan's notices on 01/11, through the scheduler and the same bot
    channel = TelegramChannel(service, api.token, api.base)
    await channel.app.initialize()
    try:
        scheduler = Scheduler(service.db, service.plans, {"telegram": channel},
                              FixedClock(datetime(2026, 11, 1, 8, 5, tzinfo=TZ)))
        await scheduler.tick()
        to_commune = texts(api.sent_to(-2000))
        to_province = texts(api.sent_to(-4000))
        assert "Báo cáo đánh giá sơ bộ kết quả rà soát hộ nghèo, hộ cận nghèo năm 2026 (có số liệu)" in to_commune
        assert "Đoàn kiểm tra làm việc tại xã" in to_commune and "Đoàn kiểm tra làm việc tại xã" in to_province
        assert "Xã được kiểm tra chuẩn bị" not in to_province

        # the team member, invited by code
        service.clock = lambda: datetime(2026, 11, 10, 9, 0, tzinfo=TZ)
        inspector = harness.user(5000, "Thanh tra viên")
        await harness.register(inspector, code_in(await harness.say(province, "/doankiemtra moi")))
        assert "Xã Ba Sơn" in texts(await harness.say(inspector, "/doankiemtra"))

        # a sample of 10, drawn once from a recorded seed
        sample = texts(await harness.press(inspector, f"c:sample:#{world.commune.id}"))
        assert "Mẫu phúc tra Xã Ba Sơn: 10 hộ" in sample
        async with service.db.read() as s:
            row = await s.scalar(select(InspectedUnit).where(InspectedUnit.unit_id == world.commune.id))
            sampled = (await s.scalars(select(Recheck.household_id).order_by(Recheck.id))).all()
            rules = next(p.inspection for p in service.plans if p.inspection is not None)
            again = draw(strata(await surveyed(s, world.commune, 2026)), rules, row.sample_seed)
        assert sorted(h for h, _ in again) == sorted(sampled) and len(sampled) == 10
        # the three with the fewest members: the shortest surveys to re-take
        first, second, third = sorted(sampled, key=lambda h: (len(world.households[h]["members"]), h))[:3]
        outside = next(h for h in world.households if h not in sampled)
        assert "không có trong mẫu phúc tra" in texts(await harness.say(inspector, f"/phuctra #{outside}"))

        # three re-checks: the commune cannot read the inspector's answers before submission
        await harness.say(inspector, f"/phuctra #{first}")
        early = texts(await harness.say(officer, f"/traloiphuctra #{first}"))
        assert "chưa nộp phiếu phúc tra" in early
        p1 = world.households[first]
        machine = "không" if p1["b1_may_giat"] != "không" else "có"
        done = await resurvey(harness, inspector, first, {**p1, "b1_may_giat": machine})
        assert "Hộ có máy giặt không?" in done
        assert "Khớp" in await resurvey(harness, inspector, second, world.households[second])
        p3 = world.households[third]
        await resurvey(harness, inspector, third, {**p3, "nha_tieu": "tham doi"})
        async with service.db.read() as s:
            diffs = {d.key: d.id for d in (await s.scalars(select(RecheckDifference))).all()}
        assert set(diffs) == {"b1_may_giat", "nha_tieu"}

        # the commune accepts one difference and explains the other
        before = await _answers(service, first)
        await harness.say(officer, "/traloiphuctra")
        accepted = texts(await harness.press(officer, f"c:recheck_answer:nhan {diffs['b1_may_giat']}"))
        assert "lý do: phúc tra" in accepted
        assert (await _answers(service, first))["b1_may_giat"] != before["b1_may_giat"]
        assert "1 điểm khác biệt" in texts(await harness.say(officer, "/traloiphuctra"))  # the one left
        await harness.press(officer, f"c:recheck_answer:giaitrinh {diffs['nha_tieu']}")
        explained = texts(await harness.say(officer, "Hộ đã xây nhà tiêu sau khi rà soát"))
        assert "Đã ghi giải trình" in explained

        # the agreement rate, against the database
        rate = texts(await harness.say(inspector, "/laymau 6202"))
        async with service.db.read() as s:
            compared = await s.scalar(select(func.sum(Recheck.compared)))
            agreed = await s.scalar(select(func.sum(Recheck.agreed)))
        assert agreed == compared - 2
        assert f"{100 * agreed / compared:.1f}".replace(".", ",") + "% câu trả lời" in rate
        assert "3 hộ đã phúc tra" in rate and "0 điểm khác biệt chưa trả lời" in rate

        # the commune's report: figures from the database, the written parts typed or left blank
        report = texts(await harness.say(officer, "/baocaokiemtra"))
        assert "Số hộ được rà soát: 24" in report and "Phần 1/4: «Thuận lợi»" in report
        await harness.press(officer, "c:inspect_report:trong")  # left as a marked blank
        await harness.say(officer, "Địa bàn rộng, thiếu cán bộ")
        await harness.say(officer, "Bổ sung kinh phí rà soát")
        built = await harness.say(officer, "Hoàng Văn Chủ")
        document = next(m for m in built if "document" in m)["document"]
        assert document["file_name"] == "bao_cao_kiem_tra_xa_6202_2026.docx"
        data = api.files[document["file_id"]]
        assert report_rows(data) == expected_rows(await expected_figures(service, world.commune))
        assert "Địa bàn rộng, thiếu cán bộ" in docx_text(data) and "[…cần bổ sung…]" in docx_text(data)
        submitted = texts(await harness.press(officer, "c:inspect_report:nop"))
        assert "Đã nhận tệp «bao_cao_kiem_tra_xa_6202_2026.docx»" in submitted
        async with service.db.read() as s:
            assert await s.scalar(select(func.count()).select_from(ReportSubmission).where(
                ReportSubmission.request_key == "kiem_tra_2026/bc_ra_soat_xa")) == 1
            chosen = await s.scalar(select(func.count()).select_from(InspectedUnit).where(InspectedUnit.picked))
        tracked = texts(await harness.say(province, "/theodoi kiem_tra_2026/bc_ra_soat_xa"))
        assert f"đã nộp 1/{chosen}, chưa nộp {chosen - 1}" in tracked and "✅ Xã Ba Sơn" in tracked

        # the commune was told of each submitted re-check with differences (the outbox)
        await scheduler.drain()
        assert "Đoàn kiểm tra đã nộp phiếu phúc tra" in texts(api.sent_to(2000))

        # closing ends the team's access at once
        assert f"Hộ #{second}" in texts(await harness.say(inspector, f"/mo {second}"))
        assert "Đã kết thúc" in texts(await harness.say(province, "/doankiemtra dong"))
        assert "không tìm thấy" in texts(await harness.say(inspector, f"/mo {second}")).lower()
        assert "đã kết thúc" in texts(await harness.say(inspector, "/laymau 6202"))
        async with service.db.read() as s:
            assert (await s.scalar(select(Inspection.status))) == "closed"
        # the inspector typed ID numbers: none is kept in clear anywhere (re-check answers are sealed)
        assert await clear_id_numbers(service.db) == []
    finally:
        await channel.app.shutdown()


async def _answers(service: Any, hid: int) -> dict[str, Any]:
    async with service.db.read() as s:
        return await load_answers(s, hid)
