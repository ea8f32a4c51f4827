"""Inspection and re-checks through the chat service, on SQLite and PostgreSQL: the proposal
and its reasons, the team's scope (communes, days, closing), the re-check sample, the re-survey
kept apart from the commune's answers, the comparison, the commune's answers to differences and
the agreement rate; and each bad input refused with a clear message and nothing lost."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.app import ChatApp
from core.chat.messages import ChatRef, Incoming
from core.inspection.resolve import Agreement
from core.inspection.sample import draw, strata, surveyed
from core.plans.loader import load_plans
from core.storage.models import AuditLog, Household, Unit
from core.storage.models_inspection import InspectedUnit, Inspection, Recheck, RecheckAnswer, RecheckDifference
from core.storage.repo import load_answers
from tests.households import NEAR_POOR, NOT_POOR, POOR, answer_for
from tests.inspection_world import World, complain, run_engine, seed
from tests.test_people import say, staff, user_id

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
BEFORE = datetime(2026, 10, 30, 9, 0, tzinfo=TZ)  # before the visit phase (01/11 - 31/12)
DURING = datetime(2026, 11, 10, 9, 0, tzinfo=TZ)
AFTER = datetime(2027, 1, 5, 9, 0, tzinfo=TZ)


def at(service: ChatApp, moment: datetime) -> None:
    service.clock = lambda: moment


async def ba_son(service: ChatApp) -> World:
    """Xã Ba Sơn (6202): 6 poor, 6 near-poor, 6 neither, 6 whose class changed (neither -> poor),
    one complaint: a large change in the poverty rate, complaints and many changed classes."""
    rows = ([(POOR, "poor")] * 6 + [(NEAR_POOR, "near_poor")] * 6 + [(NOT_POOR, "none")] * 6
            + [(POOR, "none")] * 6)
    world = await seed(service, "6202", "Thôn Nà Pàn", rows)
    await complain(service, min(world.households))
    return world


async def confirmed(service: ChatApp, province: ChatRef) -> str:
    at(service, BEFORE)
    await say(service, province, "/dexuatkiemtra")
    return await say(service, province, "/dexuatkiemtra ok")


async def team_member(service: ChatApp, province: ChatRef, who: str = "insp") -> ChatRef:
    reply = await say(service, province, "/doankiemtra moi")
    code = reply.split("Mã mời: ")[1].split()[0]
    chat = ChatRef("test", who, who, f"Thanh tra {who}")
    assert "thành viên đoàn kiểm tra" in await say(service, chat, f"/dangky {code}")
    return chat


async def test_the_proposal_ranks_communes_by_evidence_and_the_choice_is_recorded(service: ChatApp) -> None:
    world = await ba_son(service)
    quiet = await seed(service, "6040", "Thôn Yên", [(POOR, "poor"), (NEAR_POOR, "near_poor")], start=100)
    province = await staff(service, "p1", "province", None, "province")
    at(service, BEFORE)
    text = await say(service, province, "/dexuatkiemtra")
    first = text.splitlines()[2]
    assert first.startswith("1. Xã Ba Sơn, điểm 7:"), text  # rate change 3 + complaints 2 + changed classes 2
    assert "tỷ lệ hộ nghèo thay đổi 25 điểm %" in first and "1 đơn thư" in first and "25% số hộ thay đổi diện" in first
    assert "Xã Thất Khê" not in text.split("Các xã tiếp theo")[0]  # surveyed, nothing out of line: not proposed
    # the officer drops a proposed commune, adds another and confirms: who and when are kept
    dropped = text.splitlines()[3].split(". ", 1)[1].split(",")[0]
    async with service.db.read() as s:
        drop_id = await s.scalar(select(Unit.id).where(Unit.name == dropped, Unit.configuration == "65"))
    await say(service, province, f"/dexuatkiemtra bo #{drop_id}")
    added = await say(service, province, "/dexuatkiemtra them 6040")
    assert "Xã Thất Khê" in added and "do cán bộ thêm" in added
    done = await say(service, province, "/dexuatkiemtra ok")
    assert done.startswith("✅ Đã xác nhận") and "01/11/2026" in done and "31/12/2026" in done
    async with service.db.read() as s:
        inspection = await s.scalar(select(Inspection))
        assert inspection.status == "confirmed" and inspection.confirmed_by is not None
        assert inspection.confirmed_at is not None
        rows = {r.unit_id: r for r in (await s.scalars(select(InspectedUnit))).all()}
        assert rows[drop_id].picked is False and rows[drop_id].changed_by == inspection.confirmed_by
        assert rows[world.commune.id].picked and rows[world.commune.id].rank == 1
        assert rows[quiet.commune.id].picked and rows[quiet.commune.id].rank is None
    assert "đã được xác nhận" in await say(service, province, "/dexuatkiemtra bo 6040")


async def test_the_team_reads_its_communes_on_its_days_and_loses_them_at_close(service: ChatApp) -> None:
    world = await ba_son(service)
    await seed(service, "6040", "Thôn Yên", [(POOR, "poor")], start=100)  # not inspected
    province = await staff(service, "p1", "province", None, "province")
    officer = await staff(service, "c1", "commune", "6202", "commune")
    await confirmed(service, province)
    inspector = await team_member(service, province)
    hid = max(world.households)
    async with service.db.read() as s:
        other = await s.scalar(select(Household.id).join(Unit, Unit.id == Household.village_id).where(
            Unit.name == "Thôn Yên"))
    # before the visit phase: nothing, and the reply says when
    assert "ngoài thời gian kiểm tra (01/11/2026 – 31/12/2026" in await say(service, inspector, f"/laymau {6202}")
    assert "không tìm thấy" in (await say(service, inspector, f"/mo {hid}")).lower()
    at(service, DURING)
    assert "Xã Ba Sơn" in await say(service, inspector, "/doankiemtra")
    listing = await say(service, inspector, f"/danhsach #{world.commune.id}")
    assert world.households[hid]["chu_ho_ten"] in listing
    assert f"Hộ #{hid}" in await say(service, inspector, f"/mo {hid}")  # not sampled yet: readable
    assert "Đang lập" in await say(service, inspector, f"/baocao 7.1 #{world.commune.id}")
    # another commune, and changing the commune's answers, are refused
    assert "không tìm thấy" in (await say(service, inspector, f"/mo {other}")).lower()
    assert "không thuộc đợt kiểm tra" in await say(service, inspector, "/laymau 6040")
    await say(service, officer, f"/mo {hid}")
    await say(service, officer, "/mophieu sửa số thành viên")
    await say(service, inspector, f"/mo {hid}")
    before = await _answers(service, hid)
    assert "chỉ xem, không sửa" in await say(service, inspector, "Lò Văn Khác")
    assert await _answers(service, hid) == before
    assert "Chỉ cán bộ của đơn vị" in await say(service, inspector, "/nopbaocao")  # they act for no unit
    # the province closes the inspection: the team's access ends at once
    assert "Đã kết thúc" in await say(service, province, "/doankiemtra dong")
    assert "không tìm thấy" in (await say(service, inspector, f"/mo {hid}")).lower()
    assert "đã kết thúc" in await say(service, inspector, "/laymau 6202")
    assert "đã kết thúc" in await say(service, inspector, "/doankiemtra")
    # a member is taken off the team by the province, never by the commune they inspected
    member = await user_id(service, "insp")
    assert "không thuộc đơn vị cấp dưới" in await say(service, officer, f"/khoa #{member}")
    assert "Đã khóa tài khoản Thanh tra insp" in await say(service, province, f"/khoa #{member}")
    assert "chưa đăng ký" in await say(service, inspector, "/doankiemtra")


async def _answers(service: ChatApp, hid: int) -> dict[str, Any]:
    async with service.db.read() as s:
        return await load_answers(s, hid)


async def test_a_sample_is_stratified_reproducible_and_refused_without_surveyed_households(service: ChatApp) -> None:
    world = await ba_son(service)
    province = await staff(service, "p1", "province", None, "province")
    await confirmed(service, province)
    await say(service, province, "/dexuatkiemtra")
    inspector = await team_member(service, province)
    at(service, DURING)
    text = await say(service, inspector, "/laymau 6202")
    assert "Mẫu phúc tra Xã Ba Sơn: 10 hộ" in text
    async with service.db.read() as s:
        row = await s.scalar(select(InspectedUnit).where(InspectedUnit.unit_id == world.commune.id))
        sampled = (await s.scalars(select(Recheck).where(Recheck.inspected_unit_id == row.id))).all()
        rules = next(p.inspection for p in service.plans if p.inspection is not None)
        again = draw(strata(await surveyed(s, world.commune, 2026)), rules, row.sample_seed)
    assert f"mã chọn mẫu {row.sample_seed}" in text
    assert len(sampled) == 10 and len({r.household_id for r in sampled}) == 10
    assert {r.stratum for r in sampled} == {"poor", "near_poor", "not_poor", "changed"}
    assert sorted(h for h, _ in again) == sorted(r.household_id for r in sampled)  # the seed draws it again
    assert text == await say(service, inspector, "/laymau 6202")  # drawn once: the same sample
    # a household named in a complaint joins it; one outside the commune does not
    outside = next(h for h in world.households if h not in {r.household_id for r in sampled})
    assert "lý do" in await say(service, inspector, f"/laymau 6202 +#{outside}")
    added = await say(service, inspector, f"/laymau 6202 +#{outside} đơn thư ngày 12/11")
    assert "11 hộ" in added and "có đơn thư" in added
    # a commune chosen for inspection with no surveyed household: clear refusal, nothing drawn
    await say(service, province, "/doankiemtra dong")
    at(service, BEFORE)
    await say(service, province, "/dexuatkiemtra")
    await say(service, province, "/dexuatkiemtra them 6040")
    await say(service, province, "/dexuatkiemtra ok")
    inspector2 = await team_member(service, province, "insp2")
    at(service, DURING)
    empty = await say(service, inspector2, "/laymau 6040")
    assert "chưa có hộ nào đã rà soát xong trong năm 2026" in empty
    async with service.db.read() as s:
        row = await s.scalar(select(InspectedUnit).where(InspectedUnit.unit_id != world.commune.id,
                                                         InspectedUnit.sample_seed.is_not(None)))
        assert row is None


async def recheck(service: ChatApp, chat: ChatRef, hid: int, profile: dict[str, Any]) -> str:
    """The inspector re-surveys household hid by typing the profile; returns the submission reply."""
    await say(service, chat, f"/phuctra #{hid}")
    for _ in range(400):
        async with service.db.read() as s:
            state = (await s.scalar(select(Recheck.state).where(Recheck.household_id == hid))) or {}
        key = state.get("cursor") if state.get("mode", "ask") == "ask" else None
        if key is None:
            return await say(service, chat, "/xacnhan")
        await service.handle(chat, Incoming(text=answer_for(profile, key)))
    raise AssertionError("the re-check did not reach its review")


async def test_a_recheck_is_kept_apart_compared_and_answered_by_the_commune(service: ChatApp) -> None:
    world = await ba_son(service)
    province = await staff(service, "p1", "province", None, "province")
    officer = await staff(service, "c1", "commune", "6202", "commune")
    await confirmed(service, province)
    inspector = await team_member(service, province)
    at(service, DURING)
    await say(service, inspector, "/laymau 6202")
    async with service.db.read() as s:
        sampled = (await s.scalars(select(Recheck.household_id).order_by(Recheck.id))).all()
    outside = next(h for h in world.households if h not in sampled)
    assert "không có trong mẫu phúc tra" in await say(service, inspector, f"/phuctra #{outside}")
    hid = sampled[0]
    person = world.households[hid]
    # started, not submitted: each side's answers are hidden from the other
    await say(service, inspector, f"/phuctra #{hid}")
    assert "chỉ hiện sau khi bạn nộp" in await say(service, inspector, f"/mo {hid}")
    await say(service, inspector, f"/phuctra #{hid}")
    await service.handle(inspector, Incoming(text=person["chu_ho_ten"]))
    assert "chưa nộp phiếu phúc tra" in await say(service, officer, f"/traloiphuctra #{hid}")
    # submitted with one answer different: the commune's answers untouched until it accepts
    before = await _answers(service, hid)
    machine = "không" if person["b1_may_giat"] != "không" else "có"
    done = await recheck(service, inspector, hid, {**person, "b1_may_giat": machine})
    assert "Khớp" in done and "Hộ có máy giặt không?" in done, done
    assert await _answers(service, hid) == before
    async with service.db.read() as s:
        diffs = (await s.scalars(select(RecheckDifference))).all()
        found = (await s.scalars(select(RecheckAnswer.key))).all()
    assert [d.key for d in diffs] == ["b1_may_giat"] and "b1_may_giat" in found
    listing = await say(service, officer, "/traloiphuctra")
    assert f"[{diffs[0].id}] Hộ #{hid} — Hộ có máy giặt không?" in listing
    accepted = await say(service, officer, f"/traloiphuctra nhan {diffs[0].id}")
    assert "lý do: phúc tra" in accepted
    after = await _answers(service, hid)
    assert after["b1_may_giat"] == (machine == "có") and {
        k: v for k, v in after.items() if k != "b1_may_giat"} == {k: v for k, v in before.items() if k != "b1_may_giat"}
    async with service.db.read() as s:
        trail = (await s.execute(select(AuditLog.action, AuditLog.key, AuditLog.new_value).where(
            AuditLog.household_id == hid).order_by(AuditLog.id))).all()
    assert [a for a, _, _ in trail[-3:]] == ["reopen", "answer", "resubmit"]
    assert trail[-3][2]["reason"] == "phúc tra" and trail[-2][1] == "b1_may_giat"
    # a second household, identical, then a third explained
    second = sampled[1]
    assert "Khớp" in await recheck(service, inspector, second, world.households[second])
    third = sampled[2]
    p3 = world.households[third]
    await recheck(service, inspector, third, {**p3, "nguon_nuoc": "song suoi" if p3["nguon_nuoc"] != "song suoi"
                                                else "1"})
    async with service.db.read() as s:
        diff = await s.scalar(select(RecheckDifference).where(RecheckDifference.resolution.is_(None)))
    assert "Gõ giải trình" in await say(service, officer, f"/traloiphuctra giaitrinh {diff.id}")
    assert "từ 3" in await say(service, officer, "ok")  # too short: asked again, nothing lost
    assert "Đã ghi giải trình" in await say(service, officer, "Hộ dùng nước giếng của hàng xóm")
    rate = await say(service, inspector, "/laymau 6202")
    async with service.db.read() as s:
        compared = await s.scalar(select(func.sum(Recheck.compared)))
        agreed = await s.scalar(select(func.sum(Recheck.agreed)))
    assert agreed == compared - 2
    assert f"{100 * agreed / compared:.1f}".replace(".", ",") + "% câu trả lời" in rate
    assert "3 hộ đã phúc tra" in rate and "0 điểm khác biệt chưa trả lời" in rate
    assert await _answers(service, third) == run_engine(service, p3)  # explained: the commune's answer stays


async def test_closing_mid_recheck_stops_it_and_keeps_what_was_typed(service: ChatApp) -> None:
    world = await ba_son(service)
    province = await staff(service, "p1", "province", None, "province")
    await confirmed(service, province)
    inspector = await team_member(service, province)
    at(service, DURING)
    await say(service, inspector, "/laymau 6202")
    async with service.db.read() as s:
        hid = (await s.scalars(select(Recheck.household_id).order_by(Recheck.id))).first()
    await say(service, inspector, f"/phuctra #{hid}")
    await say(service, inspector, world.households[hid]["chu_ho_ten"])
    await say(service, province, "/doankiemtra dong")
    assert "đã đóng" in await say(service, inspector, world.households[hid]["chu_ho_cccd"])
    async with service.db.read() as s:
        kept = dict((await s.execute(select(RecheckAnswer.key, RecheckAnswer.value))).all())
    assert list(kept) == ["chu_ho_ten"]  # nothing typed is lost, nothing more is taken


def test_a_commune_is_flagged_past_the_plans_thresholds() -> None:
    rules = next(p.inspection for p in load_plans() if p.id == "kiem_tra_2022")
    assert rules is not None and (rules.max_class_share, rules.min_answer_agreement) == (0.2, 0.9)
    ok = Agreement(rechecked=10, waiting=0, compared=1000, agreed=950, same_class=8, open_differences=0)
    assert not ok.flagged(rules)  # 2 of 10 changed class: at the threshold, not past it
    assert Agreement(10, 0, 1000, 950, 7, 0).flagged(rules)  # 3 of 10 changed class
    assert Agreement(10, 0, 1000, 899, 10, 0).flagged(rules)  # under 90 % of answers agree
    assert not Agreement(0, 10, 0, 0, 0, 0).flagged(rules)  # nothing re-checked yet


async def test_counts_read_the_start_class_from_last_years_list_and_no_partial_resident_sum(
        service: ChatApp) -> None:
    """The class at the period's start is the imported list's when there is one (as in the
    posted list and Biểu 7.x), and a commune with a village of unknown size has no resident
    count made of the others (a partial sum would inflate its rates)."""
    from core.inspection.counts import commune_counts
    from core.procedure.models import Review
    from core.units.loader import add_village

    world = await seed(service, "6202", "Thôn Nà Pàn", [(POOR, "none"), (NOT_POOR, "none")])
    listed = min(world.households)
    async with service.db.transaction() as s:
        s.add(Review(household_id=listed, origin="list", stage="surveying", listed_class="poor"))
        world.village = await s.merge(world.village)
        world.village.households_total = 40
        commune = await s.merge(world.commune)
        counts = (await commune_counts(s, [commune], service.settings.review_year))[commune.id]
        assert (counts.poor_before, counts.poor_after, counts.prior_known) == (1, 1, 2)
        assert counts.changed == 0 and counts.entered_poverty == 0  # poor on the list, poor now
        assert counts.resident == 40
        await add_village(s, commune, "Thôn chưa rõ số hộ")
        await s.flush()
        counts = (await commune_counts(s, [commune], service.settings.review_year))[commune.id]
        assert counts.resident == commune.households_total  # None here: not 40 of an unknown whole
