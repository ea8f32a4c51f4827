"""No ID number in clear anywhere in the database after the whole procedure (issue 26 item 2).

The procedure of tests/test_procedure.py is run as it is (last year's list imported with the
heads' ID numbers, surveys that type the head's and the members' ID numbers, the meeting, the
posting, the decision with its certificates, ds_bhyt and the national export); then every
column of every table, found by introspection so a table added later is scanned too, is read
and searched for a 9- or 12-digit number. A dump or a backup of the database must not give
away who the households are by citizen ID: only the sealed token and its keyed hash are kept.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy import column, inspect, select, table, update

from bot.app import ChatApp
from core import journal
from core.chat.messages import Incoming, OutMessage
from core.storage.models import Household, ProcessedUpdate
from core.storage.repo import load_answers
from tests.fake_telegram import TgUser
from tests.households import POOR, answer_for, cursor, make_village_head
from tests.telegram_harness import Harness
from tests.test_procedure import test_the_whole_procedure_over_telegram as whole_procedure

# a 9-digit (CMND) or 12-digit (CCCD) number standing alone: not inside a longer number nor a
# token or hash (letters around it)
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(?:\d{12}|\d{9})(?![0-9A-Za-z])")
KEYED_HASH = re.compile(r"[0-9a-f]{64}")  # answers.lookup: HMAC of the digits, not the digits


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


async def clear_id_numbers(db: Any) -> list[str]:
    """Every (table.column = value) holding a number shaped like an ID number, over every table."""
    found: list[str] = []
    async with db.engine.connect() as conn:
        tables = await conn.run_sync(lambda sync: {
            name: [c["name"] for c in inspect(sync).get_columns(name)] for name in inspect(sync).get_table_names()})
        assert {"answers", "reviews", "processed_updates", "audit_log", "access_log", "report_jobs"} <= set(tables)
        for name, columns in tables.items():
            rows = (await conn.execute(select(*[column(c) for c in columns]).select_from(table(name)))).all()
            for row in rows:
                for col, value in zip(columns, row, strict=True):
                    text = _text(value)
                    if KEYED_HASH.fullmatch(text):
                        continue
                    for match in ID_NUMBER.finditer(text):
                        found.append(f"{name}.{col} = …{text[max(0, match.start() - 40):match.end() + 20]}…")
    return found


def members_list() -> bytes:
    """Last year's list with a members sheet that gives the members' ID numbers too."""
    wb = Workbook()
    ws = wb.active
    ws.title = "ds_can_ngheo"
    ws.append(["STT", "Họ và tên chủ hộ", "Thôn", "Số CCCD chủ hộ", "Kết quả rà soát"])
    ws.append([1, "Vi Văn Năm", "Thôn Nà Pàn", "020180006666", "Hộ cận nghèo"])
    bhyt = wb.create_sheet("ds_bhyt")
    bhyt.append(["STT", "Họ và tên", "Giới tính", "Năm sinh", "Quan hệ với chủ hộ", "Số CCCD thành viên",
                 "Họ và tên chủ hộ", "Số CCCD chủ hộ", "Thôn"])
    bhyt.append([1, "Vi Văn Năm", "Nam", 1970, "Chủ hộ", "", "Vi Văn Năm", "020180006666", "Thôn Nà Pàn"])
    bhyt.append([2, "Lục Thị Sáu", "Nữ", 1972, "Vợ/chồng", "020172004444", "Vi Văn Năm", "020180006666",
                 "Thôn Nà Pàn"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


async def test_no_id_number_in_clear_after_the_whole_procedure(harness: Harness, people: dict[str, TgUser]) -> None:
    await whole_procedure(harness, people)
    officer = people["officer"]  # and a second list whose members sheet gives the members' ID numbers
    sent = await harness.act(officer, officer.document_update("ds_2025_bo_sung.xlsx", members_list(), "/nhapds"))
    assert "Đã nhập 1 hộ" in "\n".join(m.get("text") or "" for m in sent)
    async with harness.service.db.read() as s:
        hid = await s.scalar(select(Household.id).where(Household.head_name == "Vi Văn Năm"))
        assert hid is not None
        answers = await load_answers(s, hid)
    assert (answers["chu_ho_cccd"], answers["tv.2.cccd"]) == ("020180006666", "020172004444")  # opened for use
    found = await clear_id_numbers(harness.service.db)
    assert found == [], "\n".join(found)
    data = Path(harness.service.settings.data_dir)
    left = [p for p in data.rglob("*") if p.is_file() and p.stat().st_mode & 0o077]
    assert left == []  # every file the procedure left in the data folder is private to the server's user


async def test_rekey_seals_baselines_replies_and_inbox_written_in_clear(service: ChatApp, tmp_path: Path) -> None:
    """Rows written in clear before this release (a baseline, a stored reply, a waiting inbox
    update) are sealed by `rasoat rekey`, and open with the new key alone afterwards."""
    from cryptography.fernet import Fernet

    from core import inbox
    from core.procedure.baseline import reseal_baselines
    from core.procedure.models import Review
    from core.storage.sealed import Sealer, load_keys, reseal_all, sealed_fields

    chat = await make_village_head(service)
    await service.handle(chat, Incoming(text="/hoimoi phieu_b", update_id="41"))
    for _ in range(3):  # the head's name, the ID number, ...
        key = await cursor(service, chat)
        assert key is not None
        await service.handle(chat, Incoming(text=answer_for(POOR, key), update_id=f"4{2 + _}"))
    await inbox.add(service.db, "zalo", "z1", "9", 9, {"message": {"text": "020180009999"}})
    waiting = await inbox.oldest(service.db, "zalo", "z1")
    assert waiting is not None and waiting.payload == {"message": {"text": "020180009999"}}  # opened to apply
    async with service.db.transaction() as s:  # written in clear by an older release
        hid = await s.scalar(select(Household.id))
        s.add(Review(household_id=hid, origin="list", stage="listed", baseline={"chu_ho_cccd": "020180007777",
                                                                                "so_thanh_vien": 3}))
        await s.execute(update(ProcessedUpdate).where(ProcessedUpdate.update_id == "41").values(
            reply=[{"text": "CCCD 020180008888"}]))
    before = "\n".join(await clear_id_numbers(service.db))
    assert "020180007777" in before and "020180008888" in before  # the scan sees rows in clear
    old = load_keys(tmp_path, None)
    new = Fernet.generate_key()
    fields = sealed_fields(service.forms.values())
    service.db.use_sealer(Sealer((new, *old), fields))
    async with service.db.transaction() as s:
        await reseal_all(s, (reseal_baselines,))
    assert await clear_id_numbers(service.db) == []
    service.db.use_sealer(Sealer((new,), fields))  # the old key is gone: everything still opens
    assert await journal.stored_reply(service.db, chat, "41") == [OutMessage("CCCD 020180008888")]
    replied = await journal.stored_reply(service.db, chat, "43")
    assert replied and "Dân tộc của chủ hộ" in replied[0].text  # sealed with the old key, sealed anew
    waiting = await inbox.oldest(service.db, "zalo", "z1")
    assert waiting is not None and waiting.payload == {"message": {"text": "020180009999"}}
    async with service.db.read() as s:
        review = await s.get(Review, hid)
        assert review is not None and review.baseline["so_thanh_vien"] == 3
        assert Sealer((new,), fields).open(review.baseline["chu_ho_cccd"]) == "020180007777"
