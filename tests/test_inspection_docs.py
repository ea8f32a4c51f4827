"""The figures of the inspection's documents, checked against the database by queries of their
own, and the chat flow that collects the written parts (typed, or left blank) and keeps them."""

from __future__ import annotations

from datetime import date
from io import BytesIO
from pathlib import Path

from docx import Document
from sqlalchemy import func, select

from bot.app import ChatApp
from core.chat.messages import Incoming
from core.documents import render_document
from core.inspection import figures
from core.inspection.recheck import SUBMITTED
from core.storage.models import Household, Unit
from core.storage.models_inspection import Inspection, InspectionText, Recheck, RecheckDifference
from tests.households import POOR
from tests.inspection_world import seed
from tests.test_inspection import DURING, ba_son, confirmed, recheck, team_member
from tests.test_people import say, staff


def report_rows(data: bytes) -> dict[str, tuple[str, str]]:
    """The figures table of a commune's report: indicator -> (start of period, after the review)."""
    table = next(t for t in Document(BytesIO(data)).tables if "Chỉ tiêu" in [c.text for c in t.rows[0].cells])
    return {cells[1]: (cells[2], cells[3]) for cells in ([c.text for c in row.cells] for row in table.rows[1:])}


def expected_rows(e: dict[str, int]) -> dict[str, tuple[str, str]]:
    """The same rows from the figures counted by plain queries (no resident total: rates of those surveyed)."""
    def rate(n: int) -> str:
        return rate_of(n, e["surveyed"])

    surveyed = str(e["surveyed"])
    return {"Tổng số hộ dân cư": (surveyed, surveyed), "Số hộ được rà soát": ("", surveyed),
            "Số hộ nghèo": (str(e["poor_before"]), str(e["poor_after"])),
            "Tỷ lệ hộ nghèo (%)": (rate(e["poor_before"]), rate(e["poor_after"])),
            "Số hộ cận nghèo": (str(e["near_poor_before"]), str(e["near_poor_after"])),
            "Tỷ lệ hộ cận nghèo (%)": (rate(e["near_poor_before"]), rate(e["near_poor_after"])),
            "Số hộ thoát nghèo": ("", "0"), "Số hộ thoát cận nghèo": ("", "0"),
            "Số hộ nghèo mới": ("", str(e["new_poor"])), "Số hộ cận nghèo mới": ("", "0"),
            "Số khiếu nại (đã giải quyết)": ("", "1 (0)"),
            "Số hộ được phúc tra (kết quả khớp)": ("", f"{e['rechecked']} ({e['recheck_agreed']})"),
            "Tỷ lệ phúc tra khớp kết quả (%)": ("", rate_of(e["recheck_agreed"], e["rechecked"]))}


def rate_of(part: int, whole: int) -> str:
    return f"{round(100 * part / whole, 2):g}".replace(".", ",")


def docx_text(data: bytes) -> str:
    """Every paragraph and table cell of a .docx, read back with python-docx."""
    document = Document(BytesIO(data))
    cells = [c.text for t in document.tables for row in t.rows for c in row.cells]
    return "\n".join([p.text for p in document.paragraphs] + cells)


async def _world(service: ChatApp):  # type: ignore[no-untyped-def]
    world = await ba_son(service)
    province = await staff(service, "p1", "province", None, "province")
    officer = await staff(service, "c1", "commune", "6202", "commune")
    await confirmed(service, province)
    inspector = await team_member(service, province)
    service.clock = lambda: DURING
    await say(service, inspector, "/laymau 6202")
    async with service.db.read() as s:
        sampled = (await s.scalars(select(Recheck.household_id).order_by(Recheck.id))).all()
    first, second = sampled[0], sampled[1]
    # the phone is not compared (the plan's ignore list); the toilet is (every profile has none)
    await recheck(service, inspector, first, {**world.households[first], "so_dien_thoai": "0988 000 111",
                                              "nha_tieu": "tham doi"})
    await recheck(service, inspector, second, world.households[second])
    return world, province, officer, inspector


async def expected_figures(service: ChatApp, commune: Unit) -> dict[str, int]:
    """The commune's figures by plain queries over its households."""
    async with service.db.read() as s:
        villages = select(Unit.id).where(Unit.parent_id == commune.id)
        base = select(func.count()).select_from(Household).where(
            Household.village_id.in_(villages), Household.status == "submitted", Household.review_year == 2026)

        async def n(*where: object) -> int:
            return int(await s.scalar(base.where(*where)) or 0)  # type: ignore[arg-type]

        done = (await s.scalars(select(Recheck).where(Recheck.status == SUBMITTED))).all()
        return {"surveyed": await n(), "poor_before": await n(Household.prior_class == "poor"),
                "poor_after": await n(Household.outcome == "poor"),
                "near_poor_before": await n(Household.prior_class == "near_poor"),
                "near_poor_after": await n(Household.outcome == "near_poor"),
                "new_poor": await n(Household.prior_class != "poor", Household.outcome == "poor"),
                "rechecked": len(done), "recheck_agreed": sum(r.original_class == r.found_class for r in done)}


async def test_the_reports_figures_match_the_database(service: ChatApp) -> None:
    world, *_ = await _world(service)
    await seed_more(service)
    plan = next(p for p in service.plans if p.id == "kiem_tra_2026")
    assert plan.inspection is not None
    expected = await expected_figures(service, world.commune)
    async with service.db.read() as s:
        inspection = await s.scalar(select(Inspection))
        commune = await s.get(Unit, world.commune.id)
        province = await s.get(Unit, commune.parent_id)
        context = await figures.commune_report(s, plan, plan.inspection, inspection, commune, date(2026, 11, 20))
        summary = await figures.province_report(s, plan, plan.inspection, inspection, province, date(2026, 11, 20))
        minutes = await figures.visit_minutes(s, plan, plan.inspection, inspection, commune, ["Thanh tra insp"],
                                              date(2026, 11, 20))
        diffs = await s.scalar(select(func.count()).select_from(RecheckDifference))
    assert {k: context[k] for k in expected} == expected
    assert (expected["surveyed"], expected["poor_before"], expected["poor_after"]) == (24, 6, 12)
    assert context["poor_rate_before"] == 25.0 and context["poor_rate_after"] == 50.0  # no resident total: of surveyed
    assert context["agreement_rate"] == round(100 * expected["recheck_agreed"] / expected["rechecked"], 2)
    assert context["commune"] == "xã Ba Sơn" and context["place"] == "Ba Sơn"
    assert context["dated"] == "ngày 20 tháng 11 năm 2026"
    assert context["difficulties"] is None  # nobody wrote it yet: a marked blank
    row = next(r for r in summary["communes"] if r["name"] == "Xã Ba Sơn")
    assert row["surveyed"] == 24 and summary["rechecked"] == expected["rechecked"]
    assert minutes["differences"] == diffs == 1 and minutes["team"][0]["name"] == "Thanh tra insp"
    assert [r["differences"] for r in minutes["rechecks"]] == [1, 0]
    assert minutes["rechecks"][0]["outcome"] == "chờ trả lời 1" and minutes["rechecks"][1]["outcome"] == "khớp"
    assert minutes["rechecks"][0]["head"] == world.households[minutes_first(world, minutes)]["chu_ho_ten"]
    # each context fits its Word template, and the documents read back with their figures
    data = render_document(figures.COMMUNE_REPORT, context)
    assert "Ủy ban nhân dân xã Ba Sơn báo cáo" in docx_text(data)
    assert report_rows(data) == expected_rows(expected)
    words = docx_text(render_document(figures.PROVINCE_REPORT, summary))
    assert "Xã Ba Sơn" in words and "Sở Nông nghiệp và Môi trường".upper() in words.upper()
    words = docx_text(render_document(figures.MINUTES, minutes))
    assert minutes["rechecks"][0]["head"] in words and str(minutes["sample_seed"]) in words


def minutes_first(world, minutes) -> int:  # type: ignore[no-untyped-def]
    return next(h for h, p in world.households.items() if p["chu_ho_ten"] == minutes["rechecks"][0]["head"])


async def seed_more(service: ChatApp) -> None:
    """Another commune's households must not count in Ba Sơn's figures."""
    await seed(service, "6040", "Thôn Yên", [(POOR, "poor")] * 3, start=200)


async def test_the_written_parts_are_asked_one_by_one_and_kept(service: ChatApp) -> None:
    world, _, officer, inspector = await _world(service)
    text = await say(service, officer, "/baocaokiemtra")
    assert "Số hộ được rà soát: 24" in text and "Phần 1/4: «Thuận lợi»" in text
    assert "Phần 2/4: «Khó khăn, vướng mắc»" in await say(service, officer, "/baocaokiemtra trong")  # left blank
    assert "Phần 3/4" in await say(service, officer, "Thiếu cán bộ, địa bàn rộng")
    assert "Phần 4/4" in await say(service, officer, "Tăng kinh phí rà soát")
    reply = await service.handle(officer, Incoming(text="Hoàng Văn Chủ Tịch"))
    document = next(m.document for m in reply.messages if m.document)
    assert document.endswith("bao_cao_kiem_tra_xa_6202_2026.docx")
    async with service.db.read() as s:
        kept = dict((await s.execute(select(InspectionText.section, InspectionText.text))).all())
    assert kept == {"difficulties": "Thiếu cán bộ, địa bàn rộng", "proposals": "Tăng kinh phí rà soát",
                    "signer": "Hoàng Văn Chủ Tịch"}
    words = docx_text(Path(document).read_bytes())
    assert "Thiếu cán bộ, địa bàn rộng" in words and "[…cần bổ sung…]" in words  # the advantages left blank
    # the team's minutes: only for a commune of the team, on its days
    assert "Phần 1/7" in await say(service, inspector, f"/baocaokiemtra #{world.commune.id}")
    assert "không thuộc đợt kiểm tra" in await say(service, inspector, "/baocaokiemtra 6040")
