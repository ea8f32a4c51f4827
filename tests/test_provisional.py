"""Issue 21 point 5, on SQLite and PostgreSQL: a result computed with a provisional rule says
«TẠM TÍNH» in the chat result, the Biểu 7.x header, the posted list, the decision's lists, the
certificates and the national export; the decision is refused on provisional rules, naming
what is missing and the command that signs it; the province's «ký với bảng tạm» (reason,
audited) lets it go on; rules signed official let it go on by themselves.

These tests ask for the shipped, provisional packs (`provisional_rules`, before `service`)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from docx import Document
from openpyxl import load_workbook
from sqlalchemy import select

from bot.app import ChatApp
from core.chat.messages import ChatRef, Incoming
from core.classification.pack import load_packs
from core.procedure.models import ReviewEvent
from core.procedure.provisional import sign_command
from core.reports.stage import Stage
from core.storage.models import AccessLog, Household, User
from tests.households import POOR, make_village_head, run_survey
from tests.test_procedure_gaps import decide, figures, officer_of, say, table, up_to_the_opinion

REASON = "Đã đối chiếu bảng điểm B1 và Phiếu A với thông tư bản giấy"


def texts(path: str | Path) -> list[str]:
    """Every text cell of every sheet, or every paragraph of a Word document."""
    if str(path).endswith(".docx"):
        return [p.text for p in Document(str(path)).paragraphs]
    wb = load_workbook(path)
    return [c for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for c in row if isinstance(c, str)]


def export_rows(path: str | None) -> list[dict[str, str]]:
    assert path is not None
    return list(csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8-sig"))))


async def decisions(service: ChatApp) -> list[ReviewEvent]:
    async with service.db.transaction() as s:
        return list((await s.scalars(select(ReviewEvent).where(ReviewEvent.kind == "decision"))).all())


async def test_the_chat_result_says_tam_tinh_and_the_household_stores_its_rules(
        provisional_rules: None, service: ChatApp) -> None:
    head = await make_village_head(service)
    result = (await run_survey(service, head, POOR))[0]
    assert result.splitlines()[1].startswith("⚠️ TẠM TÍNH"), result
    assert "bảng điểm B1 «tt07_2021»" in result and "định nghĩa chỉ số 1, " in result
    assert "(theo nguồn thứ cấp, chưa đối chiếu văn bản)" in result
    assert "(theo hiểu biết chung, chưa có văn bản)" in result
    assert "[C2]" not in result and "[R]" not in result  # no source codes in what a village head reads
    shipped = next(p for p in load_packs() if p.id == "nd07_2021")
    async with service.db.transaction() as s:
        h = (await s.scalars(select(Household))).one()
    assert (h.pack_id, h.pack_version, h.pack_digest, h.provisional) == ("nd07_2021", 0, shipped.digest, True)
    assert len(h.pack_digest) == 64


async def test_signed_rules_give_a_result_without_tam_tinh(service: ChatApp) -> None:
    """The suite's default: the shipped rules signed official (tests/rules.py); same digest."""
    head = await make_village_head(service)
    result = (await run_survey(service, head, POOR))[0]
    assert "TẠM TÍNH" not in result and "HỘ NGHÈO" in result
    async with service.db.transaction() as s:
        h = (await s.scalars(select(Household))).one()
    shipped = next(p for p in load_packs() if p.id == "nd07_2021")
    assert (h.pack_version, h.pack_digest, h.provisional) == (0, shipped.digest, False)


async def test_the_biểu_header_says_tam_tinh(provisional_rules: None, service: ChatApp, tmp_path: Path) -> None:
    await run_survey(service, await make_village_head(service), POOR)
    cells = figures(await table(service, tmp_path, "7.1", Stage.PRELIMINARY))[0]
    title = next(c for c in cells if c.startswith("TỔNG HỢP KẾT QUẢ"))
    assert title.endswith("(TẠM TÍNH)"), cells
    assert any(c.endswith("TẠM TÍNH: có hộ được phân loại bằng quy định chưa có văn bản chính thức") for c in cells)


async def test_a_biểu_of_signed_results_has_no_tam_tinh(service: ChatApp, tmp_path: Path) -> None:
    await run_survey(service, await make_village_head(service), POOR)
    assert not any("TẠM TÍNH" in c for c in figures(await table(service, tmp_path, "7.1", Stage.PRELIMINARY))[0])


async def test_the_posted_list_says_tam_tinh(provisional_rules: None, service: ChatApp, tmp_path: Path) -> None:
    run = await up_to_the_opinion(service, tmp_path)
    ws = load_workbook(run["posted"])["Hộ nghèo"]
    assert str(ws.cell(1, 1).value).endswith("— TẠM TÍNH"), ws.cell(1, 1).value


async def test_the_decision_is_refused_on_provisional_rules_naming_what_is_missing(
        provisional_rules: None, service: ChatApp, tmp_path: Path) -> None:
    run = await up_to_the_opinion(service, tmp_path)
    text = await say(service, run["officer"], "/congnhan 45/QĐ-UBND 23/11/2026")
    assert text.startswith("⛔ Chưa ghi quyết định, chưa cấp giấy chứng nhận"), text
    assert "bảng điểm B1 «tt07_2021»" in text and "tiêu chí Phiếu A «tt07_2021»" in text
    assert "còn thiếu: điểm từng câu trả lời cho nông thôn vùng Trung du" in text  # from the table's provenance
    assert f"bằng lệnh {sign_command()}" in text and "/kybangtam LÝ DO" in text
    assert await decisions(service) == []  # nothing recorded, no lists, no certificates
    # the province's override is for province officers only, and needs a reason
    assert "Chỉ cán bộ tỉnh" in await say(service, run["officer"], f"/kybangtam {REASON}")
    province = await officer_of(service, "province", "province", "tinh")
    assert "Cách ghi" in await say(service, province, "/kybangtam ok")
    assert await decisions(service) == []


LINE = "Tỉnh cho ký với bảng tạm (nd07_2021 phiên bản 0): Cán bộ tinh, ngày 23/11/2026"


async def signed_with_provisional_tables(service: ChatApp, tmp_path: Path) -> dict[str, Any]:
    """The province records «ký với bảng tạm» (checked: who, when, why, shown to the commune),
    then the commune's decision is issued; its messages are in run["done"]."""
    run = await up_to_the_opinion(service, tmp_path)
    officer = run["officer"]
    province = await officer_of(service, "province", "province", "tinh")
    shown = await say(service, province, "/kybangtam")
    assert "Phần TẠM TÍNH" in shown and "chưa ghi «ký với bảng tạm»" in shown
    recorded = await say(service, province, f"/kybangtam {REASON}")
    assert "Đã ghi «ký với bảng tạm» cho NĐ 07/2021 phiên bản 0" in recorded, recorded
    async with service.db.transaction() as s:
        event = await s.scalar(select(ReviewEvent).where(ReviewEvent.kind == "provisional"))
        who = await s.get(User, event.user_id)
        logged = await s.scalar(select(AccessLog).where(AccessLog.action == "rp_provisional_override"))
    assert event.data["reason"] == REASON and who.role == "province" and event.data["version"] == 0
    assert logged is not None and logged.detail["digest"] == event.data["digest"]
    assert f"{LINE}, lý do: {REASON}" in await say(service, officer, "/kybangtam")
    done = await decide(service, officer)
    assert "Quyết định 45/QĐ-UBND ngày 23/11/2026: công nhận 2 hộ" in (done[0].text or ""), done[0].text
    return {**run, "done": done}


def document(run: dict[str, Any], name: str) -> str:
    return next(m.document for m in run["done"] if m.document and name in m.document)


async def test_the_decision_lists_say_tam_tinh_with_the_override(
        provisional_rules: None, service: ChatApp, tmp_path: Path) -> None:
    run = await signed_with_provisional_tables(service, tmp_path)
    wb = load_workbook(document(run, "danh_sach"))
    for sheet in ("Hộ nghèo", "Hộ cận nghèo"):
        heading = str(wb[sheet].cell(1, 1).value)
        assert heading.endswith(f"— TẠM TÍNH — {LINE}, lý do: {REASON}"), heading


async def test_the_word_decision_says_tam_tinh_under_its_title_and_each_list(
        provisional_rules: None, service: ChatApp, tmp_path: Path) -> None:
    run = await signed_with_provisional_tables(service, tmp_path)
    decision = texts(document(run, "quyet_dinh"))
    assert decision.count(f"TẠM TÍNH — {LINE}, lý do: {REASON}") == 5, decision  # the decision and its 4 lists


async def test_the_certificates_say_tam_tinh_with_the_override(
        provisional_rules: None, service: ChatApp, tmp_path: Path) -> None:
    run = await signed_with_provisional_tables(service, tmp_path)
    cert = texts(document(run, "giay_chung_nhan"))
    assert cert.count(f"TẠM TÍNH — {LINE}, lý do: {REASON}") == 2, cert  # both certificates (two poor households)


async def test_the_national_export_says_tam_tinh_and_names_the_rules(
        provisional_rules: None, service: ChatApp, tmp_path: Path) -> None:
    run = await signed_with_provisional_tables(service, tmp_path)
    rows = export_rows(await say_doc(service, run["officer"], "/xuatdl"))
    assert rows and {r["tam_tinh"] for r in rows} == {f"TẠM TÍNH — {LINE}, lý do: {REASON}"}
    shipped = next(p for p in load_packs() if p.id == "nd07_2021")
    assert {(r["quy_dinh"], r["phien_ban_quy_dinh"], r["ma_bam_quy_dinh"]) for r in rows} == {
        ("nd07_2021", "0", shipped.digest)}


async def say_doc(service: ChatApp, who: ChatRef, text: str) -> str | None:
    return (await service.handle(who, Incoming(text=text))).messages[-1].document


async def test_signed_results_export_without_tam_tinh(service: ChatApp, tmp_path: Path) -> None:
    """The national export and the certificates of results under official rules carry no mark."""
    run = await up_to_the_opinion(service, tmp_path)
    done = await decide(service, run["officer"])
    certs = next(m.document for m in done if m.document and "giay_chung_nhan" in m.document)
    assert not any("TẠM TÍNH" in c for c in texts(certs))
    rows = export_rows(await say_doc(service, run["officer"], "/xuatdl"))
    assert rows and {(r["tam_tinh"], r["phien_ban_quy_dinh"]) for r in rows} == {("", "0")}
