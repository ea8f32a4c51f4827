"""The inspection plans: the 2022 plan as its text says, the yearly form on the two-level
structure, the inspection block's errors (file and line, all at once), and notices and report
requests that reach only the communes the inspection chose."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.app import ChatApp, build_app
from core import datafiles
from core.chat.messages import ChatRef
from core.config import Settings
from core.datafile import DataFileError
from core.plans.loader import PLANS_DIR, load_plan, load_plans, plan_for_year
from core.plans.notices import deliveries
from core.plans.timeline import PHASE_START, REPORT_OPEN, notices
from core.provenance import provenance_of
from core.storage.db import Database
from core.storage.models import GroupBinding, Unit
from core.storage.repo import ensure_user
from tests.households import POOR
from tests.inspection_world import seed
from tests.test_people import say, staff

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
KIEM_TRA = (PLANS_DIR / "kiem_tra.yaml").read_text(encoding="utf-8")


def test_the_2022_plan_follows_the_departments_text() -> None:
    plan = next(p for p in load_plans() if p.id == "kiem_tra_2022")
    assert (plan.year, plan.units_configuration, plan.reliability) == (2022, "200", "confirmed")
    # "Báo cáo gửi về Sở ... trước ngày 26/11/2022": the 25th is the last day on time
    assert {r.id: r.due for r in plan.reports} == {r: date(2022, 11, 25) for r in (
        "bc_ra_soat_huyen", "bc_chuong_trinh_huyen", "bc_ra_soat_xa", "bc_chuong_trinh_xa")}
    assert {r.id: r.owed_by for r in plan.reports if r.submitter == "commune"} == {
        "bc_ra_soat_xa": "inspected", "bc_chuong_trinh_xa": "inspected"}  # "UBND cấp xã được kiểm tra"
    visit = plan.phase("kiem_tra")
    assert visit is not None and (visit.start, visit.end) == (date(2022, 11, 1), date(2022, 12, 31))
    assert plan.inspection is not None and plan.inspection.visit_phase == "kiem_tra"
    assert plan.inspection.max_per_parent == 3  # "Mỗi đơn vị ... từ 1-3 xã"
    keys = {n.key for n in notices(plan)}
    assert "kiem_tra_2022/report_due/bc_ra_soat_huyen/2022-11-25" in keys
    assert "kiem_tra_2022/report_reminder/bc_ra_soat_xa/2022-11-22" in keys
    assert "kiem_tra_2022/phase_start/kiem_tra/2022-11-01" in keys
    prov = provenance_of(plan.path)
    assert prov is not None and prov.provisional and any("26/11/2022" in a for a in prov.assumptions)


@pytest.mark.parametrize("year", range(2025, 2031))
def test_the_yearly_inspection_plan_is_province_to_commune(year: int) -> None:
    template = next(p for p in load_plans() if p.template == "kiem_tra")
    plan = plan_for_year(template, year)
    assert plan.id == f"kiem_tra_{year}" and plan.units_configuration == "65" and str(year) in plan.title
    assert all("district" not in p.actors for p in plan.phases)
    assert [(r.submitter, r.receiver, r.due, r.owed_by, r.document) for r in plan.reports] == [
        ("commune", "province", date(year, 11, 25), "inspected", "bao_cao_kiem_tra_xa")]
    visit = plan.phase("kiem_tra")
    assert visit is not None and (visit.start, visit.end) == (date(year, 11, 1), date(year, 12, 31))
    assert plan.inspection is not None and plan.inspection.sample_size == 10


@pytest.mark.parametrize(("change", "messages"), [
    (("visit_phase: kiem_tra", "visit_phase: tham_quan"), ["visit_phase must name a phase"]),
    (("    rate_change: {weight: 3, over: 5.0}", "    rate_change: {weight: 3, below: 5.0}\n    noise: {weight: 1}"),
     ["evidence rate_change needs exactly 'weight' and 'over'", "unknown evidence 'noise'"]),
    (("sizes: {poor: 3, near_poor: 3, not_poor: 2, changed: 2}", "sizes: {poor: 3, near_poor: 3}"),
     ["sample.sizes must give a size for each of poor, near_poor, not_poor, changed"]),
    (("max_class_share: 0.2", "max_class_share: 20"), ["differences.max_class_share must be a share"]),
    (("    owed_by: inspected\n    opens", "    owed_by: some\n    opens"), ["'owed_by' must be one of"]),
    (("document: bao_cao_kiem_tra_xa", "document: [bao_cao]"), ["'document' must be the id of a Word template"]),
])
def test_a_wrong_inspection_entry_names_the_file_and_line(tmp_path: Path, change: tuple[str, str],
                                                           messages: list[str]) -> None:
    old, new = change
    assert old in KIEM_TRA
    path = tmp_path / "kiem_tra.yaml"
    path.write_text(KIEM_TRA.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(DataFileError) as err:
        load_plan(path, 2026)
    assert all(m in str(err.value) for m in messages), str(err.value)  # every error at once
    assert err.value.path == str(path) and err.value.line and err.value.line > 1


def test_only_inspected_phases_need_an_inspection_block(tmp_path: Path) -> None:
    text = KIEM_TRA[:KIEM_TRA.index("inspection:\n")]
    path = tmp_path / "kiem_tra.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError, match="needs an 'inspection' block"):
        load_plan(path, 2026)


async def test_notices_and_requests_reach_only_the_chosen_communes(service: ChatApp) -> None:
    plan = next(p for p in service.plans if p.id == "kiem_tra_2026")
    await seed(service, "6202", "Thôn Nà Pàn", [(POOR, "none")] * 4)  # the commune with evidence
    province = await staff(service, "p1", "province", None, "province")
    ba_son = await staff(service, "c1", "commune", "6202", "commune")
    that_khe = await staff(service, "c2", "commune", "6040", "commune")
    async with service.db.transaction() as s:
        units = {u.code: u for u in (await s.scalars(select(Unit).where(
            Unit.configuration == "65", Unit.code.in_(("20", "6202", "6040"))))).all()}
        for code, chat in (("20", "-100"), ("6202", "-6202"), ("6040", "-6040")):
            s.add(GroupBinding(channel="test", chat_id=chat, title=f"Nhóm {code}", unit_id=units[code].id))
    by_key = {(n.kind, (n.request or n.phase).id): n for n in notices(plan)}  # type: ignore[union-attr]

    async def chats(kind: str, item: str) -> set[str]:
        notice = by_key[(kind, item)]
        async with service.db.read() as s:
            return {d.chat_id for d in await deliveries(s, notice, notice.fire_at)}

    assert await chats(REPORT_OPEN, "bc_ra_soat_xa") == set()  # nobody chosen yet: no commune owes it
    assert await chats(PHASE_START, "kiem_tra") == {"-100"}
    service.clock = lambda: datetime(2026, 10, 30, 9, 0, tzinfo=TZ)
    text = await say(service, province, "/dexuatkiemtra")
    assert "1. Xã Ba Sơn" in text
    for line in text.splitlines()[3:]:  # keep Ba Sơn only
        if line[:1].isdigit():
            name = line.split(". ", 1)[1].split(",")[0]
            async with service.db.read() as s:
                uid = await s.scalar(select(Unit.id).where(Unit.name == name, Unit.configuration == "65"))
            await say(service, province, f"/dexuatkiemtra bo #{uid}")
    assert "1 xã kiểm tra: Xã Ba Sơn" in await say(service, province, "/dexuatkiemtra ok")
    assert await chats(REPORT_OPEN, "bc_ra_soat_xa") == {"-6202"}
    assert await chats(PHASE_START, "chuan_bi") == {"-6202"}
    assert await chats(PHASE_START, "kiem_tra") == {"-100", "-6202"}
    # the desk: Ba Sơn owes the report, Thất Khê does not, the province tracks one commune
    service.clock = lambda: datetime(2026, 11, 20, 9, 0, tzinfo=TZ)
    assert "Báo cáo đánh giá sơ bộ kết quả rà soát" in await say(service, ba_son, "/nopbaocao")
    owed = await say(service, that_khe, "/nopbaocao")
    assert "đánh giá sơ bộ kết quả rà soát hộ nghèo, hộ cận nghèo năm 2026 (có số liệu)" not in owed
    await say(service, ba_son, "/nopbaocao kiem_tra_2026/bc_ra_soat_xa")
    tracked = await say(service, province, "/theodoi kiem_tra_2026/bc_ra_soat_xa")
    assert "Tỉnh Lạng Sơn: đã nộp 1/1, chưa nộp 0." in tracked and "✅ Xã Ba Sơn" in tracked, tracked


def test_a_request_names_a_word_template_that_exists(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Checked with the other data files: a request's document must be a template of core/documents."""
    path = tmp_path / "kiem_tra.yaml"
    path.write_text(KIEM_TRA.replace("document: bao_cao_kiem_tra_xa", "document: bao_cao_xa"), encoding="utf-8")
    monkeypatch.setattr(datafiles, "load_plans", lambda: load_plans(tmp_path))
    with pytest.raises(DataFileError, match="document 'bao_cao_xa' is not a template of core/documents"):
        datafiles.load_data_files()


async def test_the_2022_plan_proposes_at_most_three_communes_of_a_district(settings: Settings, db: Database) -> None:
    """The 2022 structure: the team chose 1-3 communes in each district it visited."""
    service = await build_app(dataclasses.replace(settings, units_configuration="200", review_year=2022,
                                                  plans=("kiem_tra_2022",)), db)
    for n, code in enumerate(("5995", "5998", "6001", "6004")):  # four communes of Huyện Tràng Định
        await seed(service, code, f"Thôn Một {n}", [(POOR, "none")] * 4, start=10 * n)
    async with service.db.transaction() as s:
        province = await s.scalar(select(Unit).where(Unit.configuration == "200", Unit.level == "province"))
        await ensure_user(s, "test", "p22", "Cán bộ tỉnh", "province", province.id)
    service.clock = lambda: datetime(2022, 11, 2, 9, 0, tzinfo=TZ)
    text = await say(service, ChatRef("test", "p22", "p22"), "/dexuatkiemtra")
    chosen, others = text.split("Các xã tiếp theo")
    named = ("Thị trấn Thất Khê", "Xã Khánh Long", "Xã Đoàn Kết", "Xã Quốc Khánh")
    assert sum(f"{name} (Huyện Tràng Định), điểm 5" in chosen for name in named) == 3
    assert sum(f"{name} (Huyện Tràng Định), điểm 5" in others for name in named) == 1
