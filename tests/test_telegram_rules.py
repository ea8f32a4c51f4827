"""The rules workbook over the real python-telegram-bot library and the fake Bot API, on both
stores: a province officer downloads the workbook, corrects the B1 table, uploads it, sees the
change and signs it with the button; a village head's and a commune officer's uploads of the
same file are refused and change nothing."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from core.storage.models_rules import RuleVersion
from tests.fake_telegram import FakeBotAPI, TgUser
from tests.telegram_harness import Harness, code_in

# the province signs over the shipped, provisional packs (not the suite's signed copies)
pytestmark = pytest.mark.usefixtures("provisional_rules")

CAPTION = "/nhapquydinh 123/QĐ-UBND 01/12/2026"


def corrected(data: bytes) -> bytes:
    wb = load_workbook(BytesIO(data))
    b1 = wb["B1"]
    row = next(r for r in range(1, b1.max_row + 1) if b1.cell(r, 1).value == "b1_tivi")
    assert b1.cell(row, 6).value == 10
    b1.cell(row, 6).value = 5
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


async def versions(harness: Harness, status: str) -> int:
    async with harness.service.db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(RuleVersion).where(RuleVersion.status == status))
                   or 0)


async def test_a_province_officer_uploads_a_corrected_table_sees_the_change_and_signs(
        harness: Harness, people: dict[str, TgUser], api: FakeBotAPI) -> None:
    province = harness.user(4000, "Cán bộ tỉnh")
    await harness.register(province, code_in(await harness.say(people["admin"], "/moicanbo tinh 20")))
    sent = await harness.say(province, "/xuatquydinh nd07_2021")
    document: dict[str, Any] = sent[-1]["document"]
    assert document["file_name"].endswith(".xlsx") and "phiên bản 0" in sent[-1]["caption"]
    fixed = corrected(api.files[document["file_id"]])

    for who in (people["a"], people["officer"]):  # a village head, a commune officer
        refused = await harness.act(who, who.document_update("quy_dinh.xlsx", fixed, CAPTION))
        assert refused[-1]["text"].startswith("Chỉ cán bộ tỉnh mới nạp và ký quy định")
    assert await versions(harness, "pending") == 0

    shown = await harness.act(province, province.document_update("quy_dinh.xlsx", fixed, CAPTION))
    text = "\n".join(m["text"] for m in shown)
    assert "So với NĐ 07/2021 phiên bản 0 đang áp dụng, có 1 thay đổi:" in text
    assert "• B1 · Tivi: 10 → 5 điểm (có; Nông thôn - Trung du và miền núi phía Bắc)" in text
    button = shown[-1]["reply_markup"]["inline_keyboard"][0][0]
    assert button["text"] == "✍️ Ký theo 123/QĐ-UBND ngày 01/12/2026"
    assert await versions(harness, "pending") == 1 and await versions(harness, "official") == 0

    signed = await harness.press(province, button["callback_data"])
    assert "Đã ký nd07_2021 phiên bản 1 theo văn bản số 123/QĐ-UBND ngày 01/12/2026" in signed[-1]["text"]
    assert await versions(harness, "official") == 1
    listed = await harness.say(province, "/phienbanquydinh")
    assert "Đang áp dụng: nd07_2021 (NĐ 07/2021), phiên bản 1" in listed[-1]["text"]
    pack = next(p for p in harness.service.data.packs if p.id == "nd07_2021")
    assert pack.version == 1 and pack.b1 is not None
    assert next(i for i in pack.b1.items if i.question == "b1_tivi").points["co"]["nt_tdmnpb"] == 5
