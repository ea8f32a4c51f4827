"""Signed versions of the rule packs (core/rules/versions.py) on both stores: a province
officer sends a corrected workbook in chat, sees the changes, confirms; the version is in
force for the next classification and after a restart, earlier versions stay listed, and
nobody else can send one. The command line does the same (`rasoat rules`)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from bot.app import ChatApp, build_app
from bot.cli.main import main
from core.chat.messages import Attachment, ChatRef, Incoming, OutMessage
from core.config import Settings
from core.procedure.models import ReviewEvent
from core.storage.models import AccessLog, Household, OutboxMessage
from core.storage.models_rules import RuleVersion
from tests.households import NEAR_POOR, make_village_head, run_survey
from tests.test_people import say, staff
from tests.test_procedure_more import phieu_a_with_wages
from tests.test_rules_workbook import row_of

# the province signs over the shipped, provisional packs (not the suite's signed copies)
pytestmark = pytest.mark.usefixtures("provisional_rules")

SIGN_UNDER = "123/QĐ-UBND 01/12/2026"


async def send(app: ChatApp, chat: ChatRef, path: Path, caption: str = f"/nhapquydinh {SIGN_UNDER}") -> OutMessage:
    reply = await app.handle(chat, Incoming(text=caption, document=Attachment(path.name, str(path))))
    return reply.messages[0]


async def exported(app: ChatApp, chat: ChatRef, pack: str, to: Path) -> Path:
    reply = await app.handle(chat, Incoming(text=f"/xuatquydinh {pack}"))
    assert reply.messages[0].document is not None, reply.messages[0].text
    return Path(shutil.copy(reply.messages[0].document, to))


def corrected(path: Path, question: str, points: int, column: int = 6) -> Path:
    wb = load_workbook(path)
    b1 = wb["B1"]
    b1.cell(row_of(b1, 1, question), column).value = points
    wb.save(path)
    return path


async def count(app: ChatApp, model: Any = RuleVersion, **where: Any) -> int:
    async with app.db.read() as s:
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return int(await s.scalar(query) or 0)


async def test_a_province_officer_signs_a_corrected_table_in_chat(service: ChatApp, settings: Settings,
                                                                  tmp_path: Path) -> None:
    province = await staff(service, "p1", "province", None, "province")
    path = corrected(await exported(service, province, "nd07_2021", tmp_path / "sua.xlsx"), "b1_tu_lanh", 20)
    shown = await send(service, province, path)
    assert "B1 · Tủ lạnh: 15 → 20 điểm (có; Nông thôn - Trung du và miền núi phía Bắc)" in shown.text
    assert "Chưa áp dụng gì" in shown.text and "TẠM TÍNH" in shown.text
    button = shown.buttons[0][0]
    assert button.label == "✍️ Ký theo 123/QĐ-UBND ngày 01/12/2026" and button.payload.startswith("c:rules_sign:")
    assert service.data.rules.version("nd07_2021") == 0  # nothing applies before the confirmation
    row_id = button.payload.rsplit(":", 1)[1]

    signed = await say(service, province, f"/kyquydinh {row_id}")
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert "Đã ký nd07_2021 phiên bản 1 theo văn bản số 123/QĐ-UBND ngày 01/12/2026" in signed and sha in signed
    async with service.db.read() as s:
        row = await s.scalar(select(RuleVersion).where(RuleVersion.version == 1))
        assert row is not None and row.status == "official" and row.file_sha256 == sha
        assert row.signed_by is not None and row.signed_at is not None and row.signed_by_name == "Cán bộ p1"
        assert row.document == "123/QĐ-UBND" and row.document_date.isoformat() == "2026-12-01"
        assert row.changes == ["B1 · Tủ lạnh: 15 → 20 điểm (có; Nông thôn - Trung du và miền núi phía Bắc)"]
    assert await count(service, AccessLog, action="rules_signed") == 1
    assert "Không có phiên bản nào chờ ký" in await say(service, province, f"/kyquydinh {row_id}")  # signed once

    # the next classification is made with the signed version: 140 + 5 = 145 > 140, not poor
    head = await make_village_head(service)
    said = "\n".join(await run_survey(service, head, NEAR_POOR))
    assert "145" in said and "KHÔNG" in said.upper()
    async with service.db.read() as s:
        household = await s.scalar(select(Household).order_by(Household.id.desc()).limit(1))
        assert household is not None and household.b1_score == 145 and household.outcome == "not_poor"

    # in force after a restart too, and listed with the version before it
    again = await build_app(settings, service.db)
    assert again.data.rules.version("nd07_2021") == 1
    pack = next(p for p in again.data.packs if p.id == "nd07_2021")
    assert pack.b1 is not None and pack.b1.provenance is not None and pack.version == row.version
    listed = await say(again, province, "/phienbanquydinh")
    assert "Đang áp dụng: nd07_2021 (NĐ 07/2021), phiên bản 1" in listed
    assert "nd07_2021 v1: ký theo 123/QĐ-UBND ngày 01/12/2026, người ký Cán bộ p1" in listed

    # the workbook of the signed version, sent back unchanged, changes nothing
    unchanged = await exported(again, province, "nd07_2021", tmp_path / "v1.xlsx")
    assert "không có thay đổi" in (await send(again, province, unchanged)).text
    # a second version is numbered 2; the first stays listed
    second = corrected(unchanged, "b1_tivi", 5)
    shown = await send(again, province, second, "/nhapquydinh 45/QĐ-UBND 02/12/2026")
    assert "B1 · Tivi: 10 → 5 điểm" in shown.text
    await say(again, province, f"/kyquydinh {shown.buttons[0][0].payload.rsplit(':', 1)[1]}")
    listed = await say(again, province, "/phienbanquydinh nd07_2021")
    assert "nd07_2021 v2: ký theo 45/QĐ-UBND" in listed and "nd07_2021 v1: ký theo 123/QĐ-UBND" in listed


async def test_a_part_signed_as_official_is_official_with_its_document(service: ChatApp, tmp_path: Path) -> None:
    province = await staff(service, "p1", "province", None, "province")
    path = await exported(service, province, "nd07_2021", tmp_path / "nguon.xlsx")
    wb = load_workbook(path)
    sources = wb["Nguồn"]
    for row in (3, 4):  # indicators and B1 checked against the printed circular
        sources.cell(row, 3).value = "chính thức"
        sources.cell(row, 4).value = "07/2021/TT-BLĐTBXH"
        sources.cell(row, 5).value = "18/07/2021"
        sources.cell(row, 6).value = 45
        sources.cell(row, 8).value = None
    wb.save(path)
    shown = await send(service, province, path)
    assert "Nguồn · Bảng điểm B1: tạm tính → chính thức (Trạng thái)" in shown.text
    assert "⚠️ Các phần vẫn là TẠM TÍNH" in shown.text and "Phiếu A" in shown.text and "Bảng điểm B1," not in shown.text
    await say(service, province, f"/kyquydinh {shown.buttons[0][0].payload.rsplit(':', 1)[1]}")
    await say(service, province, "/phienbanquydinh")  # refreshes the packs in force
    pack = next(p for p in service.data.packs if p.id == "nd07_2021")
    assert pack.b1 is not None and pack.b1.provenance is not None
    assert pack.b1.provenance.status == "official"
    assert "07/2021/TT-BLĐTBXH" in pack.b1.provenance.source and "123/QĐ-UBND" in pack.b1.provenance.source
    assert {i.confidence for i in pack.indicators} == {"C"}
    assert pack.stop_rule is not None and pack.stop_rule.provenance is not None
    assert pack.stop_rule.provenance.status == "assumption"  # Phiếu A was not checked: still provisional


async def test_nobody_but_a_province_officer_can_send_rules(service: ChatApp, tmp_path: Path) -> None:
    province = await staff(service, "p1", "province", None, "province")
    path = corrected(await exported(service, province, "nd07_2021", tmp_path / "sua.xlsx"), "b1_tivi", 5)
    head = await make_village_head(service)
    clerk = await staff(service, "c1", "commune", "6202", "commune")
    for who in (head, clerk):
        refused = await send(service, who, path)
        assert refused.text.startswith("Chỉ cán bộ tỉnh mới nạp và ký quy định") and not refused.buttons
    shown = await send(service, province, path)
    row_id = shown.buttons[0][0].payload.rsplit(":", 1)[1]
    assert "Chỉ cán bộ tỉnh" in await say(service, clerk, f"/kyquydinh {row_id}")
    assert await count(service, status="official") == 0 and await count(service, status="pending") == 1
    assert service.data.rules.version("nd07_2021") == 0


async def test_a_bad_workbook_in_chat_is_refused_whole_and_changes_nothing(service: ChatApp, tmp_path: Path) -> None:
    province = await staff(service, "p1", "province", None, "province")
    path = await exported(service, province, "nd07_2021", tmp_path / "sai.xlsx")
    wb = load_workbook(path)
    b1 = wb["B1"]
    b1.cell(row_of(b1, 1, "b1_tivi"), 6).value = "mười"
    b1.cell(row_of(b1, 1, "b1_o_to"), 7).value = "=10*5"
    wb.save(path)
    refused = await send(service, province, path)
    assert refused.text.startswith("❌ Tệp «sai.xlsx» có 2 lỗi. Không áp dụng gì")
    assert "trang «B1», dòng" in refused.text and "«mười» không phải là số" in refused.text
    assert "ô có công thức «=10*5»" in refused.text and not refused.buttons
    assert "Chú thích của tệp phải ghi số và ngày" in (await send(service, province, path, "/nhapquydinh")).text
    assert await count(service) == 0


async def test_a_confirmation_after_another_version_was_signed_is_refused(service: ChatApp, tmp_path: Path) -> None:
    province = await staff(service, "p1", "province", None, "province")
    other = await staff(service, "p2", "province", None, "province")
    base = await exported(service, province, "nd07_2021", tmp_path / "a.xlsx")
    first = await send(service, province, corrected(base, "b1_tivi", 5))
    second = await send(service, other, corrected(Path(shutil.copy(base, tmp_path / "b.xlsx")), "b1_o_to", 40, 7))
    first_id, second_id = (m.buttons[0][0].payload.rsplit(":", 1)[1] for m in (first, second))
    assert "Không có phiên bản nào chờ ký" in await say(service, province, f"/kyquydinh {first_id}")  # replaced
    assert "phiên bản 1" in await say(service, other, f"/kyquydinh {second_id}")
    third = await send(service, province, corrected(base, "b1_tivi", 7))
    async with service.db.transaction() as s:  # shown against v1, but v2 is signed meanwhile
        row = await s.get(RuleVersion, int(third.buttons[0][0].payload.rsplit(":", 1)[1]))
        assert row is not None
        row.base_version = 0
    said = await say(service, province, f"/kyquydinh {row.id}")
    assert "từ lúc xem thay đổi, phiên bản 1 đã được ký" in said
    assert await count(service, status="official") == 1


def test_the_command_line_exports_shows_and_signs(settings: Settings, tmp_path: Path, monkeypatch: Any,
                                                  capsys: Any) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("RASOAT_DATA_DIR", str(settings.data_dir))
    out = tmp_path / "nd351.xlsx"
    assert main(["rules", "export", "nd351_2025", "--out", str(out)]) == 0
    assert main(["rules", "import", str(out)]) == 0
    assert "không có thay đổi" in capsys.readouterr().out
    wb = load_workbook(out)
    general = wb["Chung"]
    general.cell(row_of(general, 1, "income_line.rural"), 3).value = 2_300_000
    wb.save(out)
    assert main(["rules", "import", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "Chuẩn thu nhập nông thôn: 2.200.000 → 2.300.000 đồng" in shown and "Chưa áp dụng gì" in shown
    assert main(["rules", "import", str(out), "--yes"]) == 2  # signing needs a name and a document
    assert main(["rules", "import", str(out), "--yes", "--by", "Nguyễn Văn Tỉnh",
                 "--document", "88/QĐ-UBND, 03/12/2026"]) == 0
    assert "Đã ký nd351_2025 phiên bản 1 theo văn bản số 88/QĐ-UBND ngày 03/12/2026" in capsys.readouterr().out
    assert main(["rules", "list"]) == 0
    listed = capsys.readouterr().out
    assert "Đang áp dụng: nd351_2025 (NĐ 351/2025), phiên bản 1" in listed
    assert "nd351_2025 v1: ký theo 88/QĐ-UBND ngày 03/12/2026, người ký Nguyễn Văn Tỉnh" in listed
    wb = load_workbook(out)
    wb["B1"].cell(7, 6).value = "x"
    wb.save(out)
    assert main(["rules", "import", str(out), "--yes", "--by", "A", "--document", "1/QĐ, 03/12/2026"]) == 1
    assert "trang «B1», dòng 7, cột F" in capsys.readouterr().err


async def test_phieu_a_as_signed_with_the_standard_decides_the_screening(service: ChatApp, tmp_path: Path) -> None:
    """Signed: a decisive criterion alone no longer stops the review (two are needed). A listed
    household whose member draws a salary, that asked to leave, now goes on to Phiếu B."""
    province = await staff(service, "p1", "province", None, "province")
    path = await exported(service, province, "nd07_2021", tmp_path / "pa.xlsx")
    wb = load_workbook(path)
    pa = wb["Phiếu A"]
    pa.cell(row_of(pa, 2, "quyet_dinh"), 5).value = 2
    wb.save(path)
    shown = await send(service, province, path)
    assert "Phiếu A · Điều kiện dừng «quyet_dinh»: 1 → 2 (Số tiêu chí tối thiểu)" in shown.text
    await say(service, province, f"/kyquydinh {shown.buttons[0][0].payload.rsplit(':', 1)[1]}")

    head = await make_village_head(service)
    clerk = await staff(service, "c1", "commune", "6202", "commune")
    listed = Workbook()
    ws = listed.active
    assert ws is not None
    ws.title = "ds_ngheo"
    ws.append(["STT", "Họ và tên chủ hộ", "Thôn", "Kết quả rà soát"])
    ws.append([1, "Hoàng Văn Minh", "Thôn Nà Pàn", "Hộ nghèo"])
    listed.save(tmp_path / "ds.xlsx")
    await service.handle(clerk, Incoming(text="/nhapds", document=Attachment("ds.xlsx", str(tmp_path / "ds.xlsx"))))
    async with service.db.read() as s:
        household = (await s.scalars(select(Household))).one()
    await service.handle(head, Incoming(text=f"/xinthoat {household.id} | Con đi làm công ty, có lương"))
    reply = await phieu_a_with_wages(service, head, household.id, NEAR_POOR)
    assert "/phieub" in "\n".join(m.text for m in reply.messages)  # goes on: one decisive criterion is not enough
    async with service.db.read() as s:
        after = await s.get(Household, household.id)
    assert after is not None and after.outcome != "not_poor"


async def test_signing_in_chat_sends_the_commune_its_changed_households_before_anything_moves(
        service: ChatApp, tmp_path: Path) -> None:
    """Issue 21 point 4 through the workbook: the near-poor household (B1 140, at the line) would
    score 145 under the signed table; its commune is told, and nothing changes until it confirms."""
    head = await make_village_head(service)
    await run_survey(service, head, NEAR_POOR)
    commune = await staff(service, "x1", "commune", "6202", "commune")
    await say(service, commune, "/toila")  # the officer's private chat is known once they write
    province = await staff(service, "p1", "province", None, "province")
    path = corrected(await exported(service, province, "nd07_2021", tmp_path / "sua.xlsx"), "b1_tu_lanh", 20)
    row_id = (await send(service, province, path)).buttons[0][0].payload.rsplit(":", 1)[1]
    signed = await say(service, province, f"/kyquydinh {row_id}")
    assert "1 xã nhận danh sách hộ đổi diện (1 hộ)" in signed, signed
    async with service.db.read() as s:
        household = (await s.scalars(select(Household))).one()
        proposal = (await s.scalars(select(ReviewEvent).where(ReviewEvent.kind == "rescore"))).one()
        told = [str(m) for m in (await s.scalars(select(OutboxMessage.message))).all()]
    assert (household.outcome, household.pack_version) == ("near_poor", 0)  # nothing moved yet
    assert proposal.data["version"] == 1 and len(proposal.data["changes"]) == 1
    assert any("Hoàng Văn Minh" in (text or "") for text in told), told
    applied = await say(service, commune, f"/apdungquydinh {proposal.id}")
    async with service.db.read() as s:
        household = (await s.scalars(select(Household))).one()
    assert (household.outcome, household.pack_version, household.b1_score) == ("not_poor", 1, 145), applied


def test_the_digest_changes_with_the_column_an_area_is_scored_with() -> None:
    """Two B1 tables alike but for which region's column rural households are scored with give
    different scores, so results under them must not share a digest."""
    from dataclasses import replace

    from core.classification.pack import load_packs

    pack = next(p for p in load_packs() if p.b1 is not None)
    assert pack.b1 is not None
    schemes = {**pack.b1.schemes, "nt_khac": ("Nông thôn - vùng khác", "rural")}
    first = replace(pack.b1, schemes=schemes, applying={"rural": pack.b1.scheme_for("rural"), "urban": "thanh_thi"})
    second = replace(first, applying={"rural": "nt_khac", "urban": "thanh_thi"})
    assert replace(pack, b1=first).digest != replace(pack, b1=second).digest
    assert replace(pack, b1=first).digest == replace(pack, b1=replace(second, applying=first.applying)).digest
