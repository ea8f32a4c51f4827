"""The Word documents of the procedure read back with python-docx (issue 22 item 6, "Done
when"), on SQLite and PostgreSQL: the village meeting's minutes from /hopdan (its attendees and
votes as recorded), the decision from /congnhan with its four lists (each list as the database
holds it) and the certificates (one page per poor or near-poor household, with its name and
number). Driven through the service as the procedure's tests do: last year's list, a household
kept, one leaving the list, new ones, the meeting, posting, the opinion, the decision."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from docx import Document
from sqlalchemy import select

from bot.app import ChatApp
from core.chat.messages import Incoming
from core.documents import blank
from core.procedure.models import Review, ReviewEvent
from core.procedure.start_class import start_class
from core.storage.models import Household
from tests.households import NEAR_POOR, NOT_POOR, POOR, make_village_head, run_survey
from tests.test_procedure_gaps import TZ, decide, ids_by_name, list_file, officer_of, resurvey_listed, say

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def family(base: dict[str, Any], head: str, cccd: str, *others: str, **extra: Any) -> dict[str, Any]:
    """`base` with its own names and ID numbers, so the quality checks see distinct households."""
    members = [dict(m) for m in base["members"]]
    for i, name in enumerate((head, *others)):
        members[i] = {**members[i], "ho_ten": name, **({"cccd": cccd[:-3] + f"{i}{cccd[-2:]}"} if i else {})}
    members[0]["cccd"] = cccd
    return {**base, "chu_ho_ten": head, "chu_ho_cccd": cccd, "members": members, **extra}


MINH = family(POOR, "Hoàng Văn Minh", "020180001234", "Nông Thị Hoa", "Hoàng Văn An")  # listed poor, stays poor
MAI = family(NOT_POOR, "Lý Thị Mai", "020180004444", "Lý Văn Sáng")  # listed poor, leaves the list
NAM = family(POOR, "Lò Văn Nam", "020180002222", "Lò Thị Lan", "Lò Văn Khánh")  # new poor
CAN = family(NEAR_POOR, "Đinh Thị Cận", "020180006666", "Đinh Văn Sơn", "Đinh Thị Na")  # new near-poor
HUNG = family(POOR, "Vi Văn Hùng", "020180003333", "Vi Thị Hằng", "Vi Văn Tài")  # the meeting sends it back


def texts(doc: Any) -> list[str]:
    return [p.text for p in doc.paragraphs]


def rows(table: Any) -> list[list[str]]:
    return [[c.text for c in row.cells] for row in table.rows]


async def test_minutes_decision_and_certificates_read_back(service: ChatApp, tmp_path: Path) -> None:
    now = {"t": datetime(2026, 11, 16, 9, 0, tzinfo=TZ)}
    service.clock = lambda: now["t"]
    head = await make_village_head(service, village="Thôn Nà Pàn")
    officer, province = await officer_of(service), await officer_of(service, "province", "province", "tinh")
    assert "Đã nhập 5 hộ" in (await service.handle(officer, Incoming(text="/nhapds",
                                                                     document=list_file(tmp_path)))).messages[0].text
    ids = await ids_by_name(service)
    await resurvey_listed(service, head, ids["Hoàng Văn Minh"], MINH)
    await resurvey_listed(service, head, ids["Lý Thị Mai"], MAI)
    for profile in (NAM, CAN, HUNG):
        await run_survey(service, head, profile)
    ids = await ids_by_name(service)
    votes = {"Lý Thị Mai": 18, "Lò Văn Nam": 15, "Đinh Thị Cận": 12, "Vi Văn Hùng": 5}

    # the meeting: its minutes come as a Word document to print and sign
    typed = " ".join(f"{ids[name]}={n}" for name, n in votes.items())
    reply = await service.handle(head, Incoming(text=f"/hopdan 16/11/2026 20 {typed}"))
    assert "5/20 đồng ý, chưa đạt" in (reply.messages[0].text or "")
    path = Path(reply.messages[-1].document or "")
    assert path.name.startswith("bien_ban_hop_dan_") and path.suffix == ".docx"
    assert oct(path.stat().st_mode & 0o777) == "0o600"  # names of households: owner only
    async with service.db.transaction() as s:
        meeting = (await s.scalars(select(ReviewEvent).where(ReviewEvent.kind == "meeting"))).one()
        outcomes = {h.head_name: h.outcome for h in (await s.scalars(select(Household))).all()}
    minutes = Document(str(path))
    said = "\n".join(texts(minutes))
    assert f"Tổng số người dự họp: {meeting.data['attendees']} người." in said
    assert "Số hộ được thông qua: 3; số hộ chưa đạt, phải rà soát lại: 1." in said
    assert "Chủ trì: Trưởng thôn u1, Trưởng thôn;" in said
    assert f"tại {blank()}, Thôn Nà Pàn, xã Ba Sơn" in said and f"Thư ký: {blank()};" in said
    table = rows(minutes.tables[1])
    assert table[0][:4] == ["STT", "Họ và tên chủ hộ", "Kết quả rà soát", "Số người đồng ý"]
    assert [(r[1], r[3], r[5]) for r in table[1:]] == [
        (name, f"{meeting.data['votes'][str(ids[name])]}/20", "Chưa đạt, rà soát lại" if n < 10 else "Thông qua")
        for name, n in votes.items()]
    assert table[1][2] == "Không nghèo, cận nghèo" and outcomes["Lý Thị Mai"] == "not_poor"
    assert table[2][4] == "75" and table[3][4] == "60"

    now["t"] = datetime(2026, 11, 18, 9, 0, tzinfo=TZ)
    await say(service, officer, "/niemyet")
    now["t"] = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
    assert "Đã ghi ý kiến" in await say(service, province, "/ykien 6202 Đồng ý với danh sách")
    done = await decide(service, officer)
    files = {Path(m.document).name: Path(m.document) for m in done if m.document}
    assert list(files)[:3] == ["quyet_dinh_cong_nhan.docx", "giay_chung_nhan_mau_03.docx",
                               "danh_sach_kem_quyet_dinh.xlsx"]

    # the decision's lists as the database holds them
    async with service.db.transaction() as s:
        decided = [(h, r) for h, r in (await s.execute(select(Household, Review).join(
            Review, Review.household_id == Household.id).where(Review.stage == "recognised")
            .order_by(Household.id))).all()]
    expected = {
        "poor": [h.head_name for h, r in decided if r.final_class == "poor"],
        "near_poor": [h.head_name for h, r in decided if r.final_class == "near_poor"],
        "escaped_poor": [h.head_name for h, r in decided if start_class(h, r) == "poor" and r.final_class != "poor"],
        "escaped_near_poor": [h.head_name for h, r in decided if start_class(h, r) == "near_poor"
                              and r.final_class not in ("poor", "near_poor")]}
    assert expected == {"poor": ["Hoàng Văn Minh", "Lò Văn Nam"], "near_poor": ["Đinh Thị Cận"],
                        "escaped_poor": ["Lý Thị Mai"], "escaped_near_poor": []}
    decision = Document(str(files["quyet_dinh_cong_nhan.docx"]))
    head_cells = rows(decision.tables[0])
    assert head_cells[1] == ["Số: 45/QĐ-UBND", "Ba Sơn, ngày 23 tháng 11 năm 2026"]
    assert head_cells[0][0].split("\n")[:2] == ["ỦY BAN NHÂN DÂN", "XÃ BA SƠN"]
    lists = [rows(t) for t in decision.tables if t.rows[0].cells[0].text == "STT"]
    assert [[r[1] for r in table[1:]] for table in lists] == list(expected.values())
    assert [[r[0] for r in table[1:]] for table in lists] == [["1", "2"], ["1"], ["1"], []]
    assert lists[0][1][2:] == ["Thôn Nà Pàn", "3", "Hộ nghèo"]  # village, members, the class at the start
    assert lists[2][1][4] == "Không nghèo, cận nghèo"  # Mai after the review
    said = texts(decision)
    for kind, key in (("Hộ nghèo", "poor"), ("Hộ cận nghèo", "near_poor"), ("Hộ thoát nghèo", "escaped_poor"),
                      ("Hộ thoát cận nghèo", "escaped_near_poor")):
        assert f"- {kind}: {len(expected[key])} hộ{';' if key != 'escaped_near_poor' else '.'}" in said
    assert said.count("(Không có hộ nào)") == 1
    assert "(Kèm theo Quyết định số 45/QĐ-UBND ngày 23/11/2026 của Chủ tịch Ủy ban nhân dân xã Ba Sơn)" in said

    # one certificate per poor or near-poor household, each on its own page
    certified = {h.id: (h.head_name, r.final_class) for h, r in decided if r.final_class in ("poor", "near_poor")}
    certs = Document(str(files["giay_chung_nhan_mau_03.docx"]))
    said = texts(certs)
    assert said.count("GIẤY CHỨNG NHẬN HỘ NGHÈO, HỘ CẬN NGHÈO") == len(certified) == 3
    heads = [rows(t)[1] for t in certs.tables if len(t.rows) > 1 and t.rows[1].cells[0].text.startswith("Số: ")]
    numbers = [int(h[0].removeprefix("Số: ").removesuffix("/GCN-HN.HCN")) for h in heads]
    assert {h[1] for h in heads} == {"Ba Sơn, ngày 23 tháng 11 năm 2026"}
    names = [p.split(": ", 1)[1].split(". Dân tộc")[0] for p in said if p.startswith("Hộ gia đình ông/bà:")]
    kinds = [p for p in said if p.startswith("Là ")]
    assert dict(zip(numbers, names, strict=True)) == {k: v[0] for k, v in certified.items()}
    assert kinds == [f"Là {'HỘ NGHÈO' if certified[n][1] == 'poor' else 'HỘ CẬN NGHÈO'} năm 2026." for n in numbers]
    breaks = certs.element.body.findall(f".//{W}br[@{W}type='page']")
    assert len(breaks) == len(certified) - 1
    members = [rows(t) for t in certs.tables if t.rows[0].cells[0].text == "TT"]
    assert [[r[1] for r in m[1:]] for m in members] == [
        [m["ho_ten"] for m in p["members"]] for p in (MINH, NAM, CAN)]
    assert members[0][1][2:] == ["Nam", "1980", "Chủ hộ"] and members[0][2][4] == "Vợ/chồng"
    assert "Hộ gia đình ông/bà: Hoàng Văn Minh. Dân tộc: Tày" in said
    assert any(p.startswith("Số CCCD/CMND: 020180001234. Ngày cấp: " + blank()) for p in said)
    assert sum("Căn cứ Quyết định số 45/QĐ-UBND ngày 23/11/2026" in p for p in said) == 3
