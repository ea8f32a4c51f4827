"""Issue 26 item 8: the same ID number twice, on two members of one household or in two
households of the review, is warned about at the question (the answer kept, to be corrected or
explained) and blocks the submission until corrected or given a reason (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import ChatApp
from core.chat.messages import Incoming
from core.storage.models import AuditLog, Household
from tests.households import NEAR_POOR, POOR, answer_for, cursor, make_village_head, run_survey
from tests.test_people import say


async def statuses(service: ChatApp) -> list[str]:
    async with service.db.read() as s:
        return list((await s.scalars(select(Household.status).order_by(Household.id))).all())


async def test_two_households_with_one_id_number_warn_then_block_until_a_reason(service: ChatApp) -> None:
    head = await make_village_head(service)
    await run_survey(service, head, POOR)
    await say(service, head, "/hoimoi phieu_b")
    await say(service, head, POOR["chu_ho_ten"])
    warned = await say(service, head, POOR["chu_ho_cccd"])  # the same number as household #1
    assert "CCCD trùng" in warned and "#1" in warned and await cursor(service, head) == "dan_toc"
    for _ in range(200):
        key = await cursor(service, head)
        if key is None:
            break
        await say(service, head, answer_for(POOR, key))
    blocked = await say(service, head, "/xacnhan")
    assert "Chưa nộp được" in blocked and "#1" in blocked
    assert await statuses(service) == ["submitted", "draft"]
    assert "Chưa nộp được" in await say(service, head, "/xacnhan a")  # a reason is a few words
    done = await say(service, head, "/xacnhan hai hộ tách từ một hộ, đã kiểm tra CCCD")
    assert "Kết quả phân loại" in done and await statuses(service) == ["submitted", "submitted"]
    async with service.db.read() as s:
        reasons = (await s.scalars(select(AuditLog.new_value).where(AuditLog.action == "dup_id_reason"))).all()
    assert len(reasons) == 1 and reasons[0]["households"] == [1] and "020180001234" not in str(reasons[0])


async def test_two_members_of_one_household_with_one_number_are_caught_and_corrected(service: ChatApp) -> None:
    head = await make_village_head(service)
    twin = {**NEAR_POOR, "members": [NEAR_POOR["members"][0], {**NEAR_POOR["members"][1],
                                                                "cccd": NEAR_POOR["chu_ho_cccd"]},
                                     NEAR_POOR["members"][2]]}
    await say(service, head, "/hoimoi phieu_b")
    warning = ""
    for _ in range(200):
        key = await cursor(service, head)
        if key is None:
            break
        reply = await say(service, head, answer_for(twin, key))
        if key == "tv.2.cccd":
            warning = reply
    assert "CCCD trùng" in warning and "câu 2" in warning
    blocked = await say(service, head, "/xacnhan")
    assert "Chưa nộp được" in blocked and await statuses(service) == ["draft"]
    number = int(blocked.split("câu ")[1].split(" ")[0])  # the member's question, named in the block
    await say(service, head, f"/sua {number}")
    await service.handle(head, Incoming(text="020182005678"))
    assert "Kết quả phân loại" in await say(service, head, "/xacnhan")
    assert await statuses(service) == ["submitted"]
