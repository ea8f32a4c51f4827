"""Gaps of the procedure found by a new user (issue 26 items 7, 10, 11, 12, 22), driven through
the service on SQLite and PostgreSQL: last year's list of 5 households of which 4 are never
surveyed again, a household sent back by the meeting, a new household whose Phiếu B says it
was near-poor at the start, then posting, the opinion and the decision."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from bot.app import ChatApp
from bot.handlers.procedure import decision
from core.chat.messages import Attachment, ChatRef, Incoming
from core.chat.payloads import command as command_payload
from core.datafile import DataFileError
from core.procedure.models import Review
from core.reports.build import Catalogue, build_report, check_headings
from core.reports.stage import Basis, Stage
from core.storage.models import Household, ReportSubmission, Unit
from core.storage.repo import ensure_user
from tests.households import POOR, answer_for, cursor, make_village_head, run_survey

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
LISTED = [("Hoàng Văn Minh", "Hộ nghèo"), ("Lý Thị Mai", "Hộ nghèo"), ("Nông Văn Ba", "Hộ nghèo"),
          ("Vi Thị Bốn", "Hộ cận nghèo"), ("Lục Văn Năm", "Hộ cận nghèo")]


def family(head: str, cccd: str, spouse: str, child: str, **extra: Any) -> dict[str, Any]:
    """POOR with its own names and ID number, so the quality checks see different households."""
    members = [dict(m) for m in POOR["members"]]
    members[0] = {**members[0], "ho_ten": head, "cccd": cccd}
    members[1] = {**members[1], "ho_ten": spouse, "cccd": cccd[:-4] + "9" + cccd[-3:]}
    members[2] = {**members[2], "ho_ten": child}
    return {**POOR, "chu_ho_ten": head, "chu_ho_cccd": cccd, "members": members, **extra}


MINH = family("Hoàng Văn Minh", "020180001234", "Nông Thị Hoa", "Hoàng Văn An")
# not on the list, but its Phiếu B says it was near-poor at the start of the review
NAM = family("Lò Văn Nam", "020180002222", "Lò Thị Lan", "Lò Văn Khánh", dien_dau_ky="Hộ cận nghèo")
HUNG = family("Vi Văn Hùng", "020180003333", "Vi Thị Hằng", "Vi Văn Tài")  # the meeting sends it back


def list_file(tmp_path: Path) -> Attachment:
    wb = Workbook()
    ws = wb.active
    ws.title = "ds_ngheo"
    ws.append(["STT", "Họ và tên chủ hộ", "Thôn", "Kết quả rà soát"])
    for n, (name, kind) in enumerate(LISTED, 1):
        ws.append([n, name, "Thôn Nà Pàn", kind])
    path = tmp_path / "ds_2025.xlsx"
    wb.save(path)
    return Attachment("ds_2025.xlsx", str(path))


async def say(service: ChatApp, who: ChatRef, text: str) -> str:
    return "\n".join(m.text or "" for m in (await service.handle(who, Incoming(text=text))).messages)


async def officer_of(service: ChatApp, role: str = "commune", level: str = "commune",
                     user: str = "officer") -> ChatRef:
    async with service.db.transaction() as s:
        where = [Unit.configuration == "65", Unit.level == level]
        unit = await s.scalar(select(Unit).where(*where, *([Unit.code == "6202"] if level == "commune" else [])))
        assert unit is not None
        await ensure_user(s, "test", user, f"Cán bộ {user}", role, unit.id)
    return ChatRef("test", user, user)


async def resurvey_listed(service: ChatApp, head: ChatRef, hid: int, profile: dict[str, Any]) -> str:
    """A listed household opened and confirmed: last year's answers kept, the rest typed; the
    reply to /xacnhan."""
    await say(service, head, f"/mo {hid}")
    for _ in range(200):
        key = await cursor(service, head)
        if key is None:
            break
        await say(service, head, "/giunguyen" if key in ("chu_ho_ten", "dien_dau_ky") else answer_for(profile, key))
    return await say(service, head, "/xacnhan")


async def ids_by_name(service: ChatApp) -> dict[str, int]:
    async with service.db.transaction() as s:
        return {h.head_name: h.id for h in (await s.scalars(select(Household))).all()}


async def stages(service: ChatApp) -> dict[int, str]:
    async with service.db.transaction() as s:
        return {r.household_id: r.stage for r in (await s.scalars(select(Review))).all()}


async def up_to_the_opinion(service: ChatApp, tmp_path: Path) -> dict[str, Any]:
    """Import, one listed household re-surveyed, two new ones, the meeting (one sent back),
    posting and the province's opinion: the commune is ready for its decision."""
    now = {"t": datetime(2026, 11, 16, 9, 0, tzinfo=TZ)}
    service.clock = lambda: now["t"]
    head = await make_village_head(service, village="Thôn Nà Pàn")
    officer = await officer_of(service)
    province = await officer_of(service, "province", "province", "tinh")
    reply = (await service.handle(officer, Incoming(text="/nhapds", document=list_file(tmp_path)))).messages[0].text
    assert "Đã nhập 5 hộ" in reply
    ids = await ids_by_name(service)
    assert "HỘ NGHÈO" in await resurvey_listed(service, head, ids["Hoàng Văn Minh"], MINH)
    for profile in (NAM, HUNG):
        assert any("HỘ NGHÈO" in t for t in await run_survey(service, head, profile))
    ids = await ids_by_name(service)
    reply = await say(service, head, f"/hopdan 16/11/2026 20 {ids['Lò Văn Nam']}=15 {ids['Vi Văn Hùng']}=5")
    assert "15/20 đồng ý, thông qua" in reply and "5/20 đồng ý, chưa đạt" in reply
    now["t"] = datetime(2026, 11, 18, 9, 0, tzinfo=TZ)
    posted = await service.handle(officer, Incoming(text="/niemyet"))
    now["t"] = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
    assert "Đã ghi ý kiến" in await say(service, province, "/ykien 6202 Đồng ý với danh sách")
    return {"head": head, "officer": officer, "ids": ids, "posted": posted.messages[-1].document}


LEFT_OUT = ("Lý Thị Mai", "Nông Văn Ba", "Vi Thị Bốn", "Lục Văn Năm", "Vi Văn Hùng")


async def test_a_decision_names_the_households_it_leaves_out_and_waits_for_a_confirmation(
        service: ChatApp, tmp_path: Path) -> None:
    """Item 7: 4 listed households never surveyed again and one sent back by the meeting."""
    run = await up_to_the_opinion(service, tmp_path)
    officer, ids = run["officer"], run["ids"]
    checked = await say(service, officer, "/kiemtra")
    for name in LEFT_OUT:
        assert f"#{ids[name]}" in checked, checked
    assert "chưa có trong quyết định" in checked and "hỏi xác nhận" in checked
    assert "chưa rà soát lại (danh sách năm trước)" in checked and "phải rà soát lại" in checked

    reply = await service.handle(officer, Incoming(text="/congnhan 45/QĐ-UBND 23/11/2026"))
    text = reply.messages[0].text or ""
    assert "Chưa ghi quyết định" in text
    for name in LEFT_OUT:
        assert f"#{ids[name]} {name}" in text, text
    assert f"#{ids['Lý Thị Mai']} Lý Thị Mai (Thôn Nà Pàn): chưa rà soát lại (danh sách năm trước)" in text
    assert f"#{ids['Vi Văn Hùng']} Vi Văn Hùng (Thôn Nà Pàn): phải rà soát lại" in text
    assert (await stages(service))[ids["Lò Văn Nam"]] == "opinion"  # nothing decided yet
    [button] = [b for row in reply.messages[0].buttons for b in row]
    typed = button.text or ""
    assert typed.startswith("/congnhan 45/QĐ-UBND 23/11/2026 xacnhan ")
    assert button.payload == command_payload("recognise", typed.partition(" ")[2])
    # a wrong or stale confirmation is refused with the list again
    assert "Chưa ghi quyết định" in await say(service, officer, "/congnhan 45/QĐ-UBND 23/11/2026 xacnhan 000000")
    assert (await stages(service))[ids["Lò Văn Nam"]] == "opinion"

    done = await service.handle(officer, Incoming(payload=button.payload))
    text = done.messages[0].text or ""
    assert "công nhận 2 hộ (2 hộ nghèo, 0 hộ cận nghèo)" in text
    assert "5 hộ của xã không có trong quyết định này" in text and f"#{ids['Vi Văn Hùng']}" in text
    after = await stages(service)
    assert after[ids["Lò Văn Nam"]] == after[ids["Hoàng Văn Minh"]] == "recognised"
    assert after[ids["Lý Thị Mai"]] == "listed" and after[ids["Vi Văn Hùng"]] == "resurvey"
    lists = next(m.document for m in done.messages if m.document and "danh_sach" in m.document)
    left = load_workbook(lists)["Hộ chưa có trong QĐ"]
    rows = [r for r in left.iter_rows(min_row=3, values_only=True) if isinstance(r[0], int)]
    assert {r[1] for r in rows} == set(LEFT_OUT)
    assert ("Vi Văn Hùng", "Thôn Nà Pàn", "phải rà soát lại (họp dân chưa đạt hoặc khiếu nại được chấp nhận)") in {
        tuple(r[1:4]) for r in rows}
    # an incomplete decision does not mark the plan's official report as submitted
    async with service.db.transaction() as s:
        assert (await s.scalars(select(ReportSubmission))).all() == []
    assert "chưa đánh dấu" in text
    # after the decision /kiemtra still flags them, without blocking
    checked = await say(service, officer, "/kiemtra")
    assert f"#{ids['Lý Thị Mai']}" in checked and f"#{ids['Lò Văn Nam']}" not in checked
    waiting = await say(service, officer, "/viecchotoi")  # the commune sees what the villages still owe
    assert "4 hộ năm trước chờ rà soát lại" in waiting and "1 hộ phải rà soát lại" in waiting, waiting


async def test_a_decision_covering_the_whole_review_needs_no_confirmation(service: ChatApp) -> None:
    """Item 7, the other side: nothing left out, the decision is recorded at once and marks the
    plan's official report as submitted."""
    now = {"t": datetime(2026, 11, 16, 9, 0, tzinfo=TZ)}
    service.clock = lambda: now["t"]
    head, officer = await make_village_head(service), await officer_of(service)
    province = await officer_of(service, "province", "province", "tinh")
    await run_survey(service, head, NAM)
    nam = (await ids_by_name(service))["Lò Văn Nam"]
    await say(service, head, f"/hopdan 16/11/2026 20 {nam}=15")
    now["t"] = datetime(2026, 11, 18, 9, 0, tzinfo=TZ)
    await say(service, officer, "/niemyet")
    now["t"] = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
    await say(service, province, "/ykien 6202 Đồng ý")
    assert "chưa có trong quyết định" not in await say(service, officer, "/kiemtra")
    text = await say(service, officer, "/congnhan 45/QĐ-UBND 23/11/2026")
    assert "công nhận 1 hộ (1 hộ nghèo, 0 hộ cận nghèo)" in text and "đánh dấu đã nộp" in text, text
    async with service.db.transaction() as s:
        assert len((await s.scalars(select(ReportSubmission))).all()) == 1


async def test_one_start_class_for_every_output(service: ChatApp, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Item 10: the posted list, the decision's lists and the national export give the start
    class from one rule: last year's list, else the household's Phiếu B («Đầu kỳ»)."""
    run = await up_to_the_opinion(service, tmp_path)
    officer = run["officer"]
    monkeypatch.setattr(decision, "LEFT_SHOWN", 2)  # a long list is cut in the chat, never in /kiemtra
    asked = await say(service, officer, "/congnhan 45/QĐ-UBND 23/11/2026")
    assert asked.count("\n• #") == 2 and "… và 3 hộ khác (đủ tên trong /kiemtra" in asked, asked
    posted = load_workbook(run["posted"])["Hộ nghèo"]
    before = {r[1]: r[3] for r in posted.iter_rows(min_row=3, values_only=True) if isinstance(r[0], int)}
    assert before == {"Hoàng Văn Minh": "Hộ nghèo", "Lò Văn Nam": "Hộ cận nghèo"}
    done = await decide(service, officer)
    lists = load_workbook(next(m.document for m in done if m.document and "danh_sach" in m.document))
    # a near-poor household (by its Phiếu B) now poor is not "escaped near-poor"
    assert [r for r in lists["Hộ thoát cận nghèo"].iter_rows(min_row=3, values_only=True)
            if isinstance(r[0], int)] == []
    exported = (await service.handle(officer, Incoming(text="/xuatdl"))).messages[-1].document
    rows = list(csv.DictReader(io.StringIO(Path(exported).read_text(encoding="utf-8-sig"))))
    start = {r["ho_ten_chu_ho"]: r["dien_dau_ky"] for r in rows}
    assert start == {"Hoàng Văn Minh": "poor", "Lò Văn Nam": "near_poor"}


def figures(path: Path) -> tuple[list[str], dict[str, list[Any]]]:
    """Every text cell, and the rows by their label (column B)."""
    ws = load_workbook(path).active
    cells = [str(c) for row in ws.iter_rows(values_only=True) for c in row if isinstance(c, str)]
    rows = {str(r[1]): list(r) for r in ws.iter_rows(values_only=True) if r[1] is not None}
    return cells, rows


async def decide(service: ChatApp, officer: ChatRef) -> list[Any]:
    """The decision, confirmed when it asks (it leaves households out); its messages."""
    reply = await service.handle(officer, Incoming(text="/congnhan 45/QĐ-UBND 23/11/2026"))
    pressed = [b for m in reply.messages for row in m.buttons for b in row if b.payload.startswith("c:recognise:")]
    if pressed:
        reply = await service.handle(officer, Incoming(payload=pressed[0].payload))
    return list(reply.messages)


async def table(service: ChatApp, tmp_path: Path, rid: str, stage: Stage) -> Path:
    async with service.db.transaction() as s:
        commune = await s.scalar(select(Unit).where(Unit.configuration == "65", Unit.code == "6202"))
        assert commune is not None
        (path,) = await build_report(s, service.reports, rid, commune, 2026, tmp_path / "r", service.forms,
                                     chart=False, basis=Basis(stage))
    return path


def start_of_year(path: Path) -> list[Any]:
    """The household row of the total of a Biểu 7.2: TT, name, split, then columns 1..9."""
    return next(v for k, v in figures(path)[1].items() if k.startswith("Tổng cộng"))


async def test_7_2_starts_from_last_years_list(service: ChatApp, tmp_path: Path) -> None:
    """Item 11: the 3 poor households of last year's list are the start of the year whatever
    their stage (2 of them never surveyed again), preliminary and official."""
    run = await up_to_the_opinion(service, tmp_path)
    total = start_of_year(await table(service, tmp_path, "7.2", Stage.PRELIMINARY))
    assert total[3] == 3, total
    await decide(service, run["officer"])
    total = start_of_year(await table(service, tmp_path, "7.2", Stage.OFFICIAL))
    assert total[3] == 3, total
    assert total[3 + 4] == 1  # column 5: near-poor at the start (by its Phiếu B), now poor
    assert total[3 + 8] == 2  # column 9: poor at the end, by the decision


async def test_titles_follow_the_stage(service: ChatApp, tmp_path: Path) -> None:
    """Item 12: a preliminary Biểu 7.1 never calls itself «chính thức»; the official one does."""
    run = await up_to_the_opinion(service, tmp_path)
    text = " ".join(figures(await table(service, tmp_path, "7.1", Stage.PRELIMINARY))[0])
    assert "Số liệu sơ bộ" in text and "KẾT QUẢ SƠ BỘ" in text and "(sơ bộ)" in text, text
    assert "chính thức" not in text.lower(), text
    done = await decide(service, run["officer"])
    official = next(m.document for m in done if m.document and Path(m.document).name.startswith("7_1_"))
    text = " ".join(figures(Path(official))[0])
    assert "KẾT QUẢ CHÍNH THỨC" in text and "(chính thức)" in text and "sơ bộ" not in text
    assert service.reports.title("7.1", 2026, Basis(Stage.PRELIMINARY)).startswith(
        "Biểu mẫu số 7.1: TỔNG HỢP KẾT QUẢ SƠ BỘ")  # the report's caption in chat


def test_a_mistyped_stage_placeholder_fails_at_load() -> None:
    """Item 12: the placeholders a table's data file may use are checked when it is loaded."""
    spec = Catalogue.load().tables["7.1"]
    check_headings(spec)
    group = dataclasses.replace(spec.columns[1], label="Kết quả ({stge})")
    with pytest.raises(DataFileError, match="stge") as err:
        check_headings(dataclasses.replace(spec, columns=(spec.columns[0], group, *spec.columns[2:])))
    assert err.value.path == spec.path and err.value.line == spec.columns[1].line


async def test_meeting_attendees_must_be_one_number(service: ChatApp) -> None:
    """Item 22: «bốn mươi» is not taken as 4 attendees; the word is named."""
    head = await make_village_head(service)
    await run_survey(service, head, HUNG)
    hid = (await ids_by_name(service))["Vi Văn Hùng"]
    reply = await say(service, head, f"/hopdan 01/01/2026 bốn mươi {hid}=30")
    assert "«bốn»" in reply and "Số người dự" in reply, reply
    assert (await stages(service))[hid] == "surveyed"
    reply = await say(service, head, f"/hopdan 01/01/2026 40x {hid}=30")
    assert "«40x»" in reply and "Số người dự" in reply


async def test_meeting_says_why_a_household_does_not_wait_for_it(service: ChatApp) -> None:
    """Item 22: a household sent back names its stage; another village's is only "not found"."""
    head = await make_village_head(service)
    other = await make_village_head(service, user="u2", village="Thôn Khuổi Luông")
    await run_survey(service, head, HUNG)
    await run_survey(service, other, NAM)
    ids = await ids_by_name(service)
    hung, nam = ids["Vi Văn Hùng"], ids["Lò Văn Nam"]
    await say(service, head, f"/hopdan 01/01/2026 20 {hung}=5")
    reply = await say(service, head, f"/hopdan 02/01/2026 20 {hung}=15 {nam}=15 99999=3")
    assert f"#{hung}: phải rà soát lại (họp dân chưa đạt hoặc khiếu nại được chấp nhận)" in reply, reply
    assert f"Không tìm thấy hộ #{nam}" in reply and "Không tìm thấy hộ #99999" in reply
    assert "Lò Văn Nam" not in reply


async def test_complaint_about_an_unknown_household_says_so(service: ChatApp) -> None:
    """Item 22: «Không tìm thấy hộ #99», the same for another commune's household."""
    officer = await officer_of(service)
    stranger = await make_village_head(service, user="u3", commune_code="6187", village="Tổ dân phố 9")
    await run_survey(service, stranger, HUNG)
    theirs = (await ids_by_name(service))["Vi Văn Hùng"]
    reply = await say(service, officer, "/khieunai 99 Hàng xóm cho rằng hộ có ô tô")
    assert "Không tìm thấy hộ #99 " in reply, reply
    reply = await say(service, officer, f"/khieunai {theirs} Hàng xóm cho rằng hộ có ô tô")
    assert f"Không tìm thấy hộ #{theirs} " in reply and "Vi Văn Hùng" not in reply
    assert "Ghi khiếu nại" in await say(service, officer, "/khieunai")  # no number: the usage
