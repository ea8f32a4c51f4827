"""Issue 26 item 13: a fact Phiếu B asks twice must agree. The B1 questions on a TV and a
computer against indicator 12's «ti vi, radio hoặc máy tính», and B1's house type against
indicator 7's materials, are checked as data (the form's constraints): the second answer is
stopped with the reason, and /xacnhan checks again what a later edit of the first contradicted."""

from __future__ import annotations

from typing import Any

from bot.app import ChatApp
from core.chat.messages import ChatRef
from tests.households import POOR, answer_for, cursor, make_village_head
from tests.test_people import say


async def answer_until(service: ChatApp, head: ChatRef, profile: dict[str, Any], stop: str) -> None:
    for _ in range(200):
        key = await cursor(service, head)
        if key == stop:
            return
        assert key is not None, f"the survey ended before {stop}"
        await say(service, head, answer_for(profile, key))
    raise AssertionError(f"{stop} never asked")


async def test_a_tv_in_b1_after_no_tv_radio_or_computer_is_stopped_with_the_reason(service: ChatApp) -> None:
    head = await make_village_head(service)
    await say(service, head, "/hoimoi phieu_b")
    await answer_until(service, head, {**POOR, "co_phuong_tien_tt": "không", "nghe_loa": "có"}, "b1_tivi")
    refused = await say(service, head, "có")
    assert "«Hộ có ti vi, radio hoặc máy tính không?» đã trả lời «Không»" in refused
    assert await cursor(service, head) == "b1_tivi"
    await say(service, head, "không")
    assert await cursor(service, head) != "b1_tivi"


async def test_a_house_type_against_its_materials_is_stopped_and_a_matching_one_taken(service: ChatApp) -> None:
    head = await make_village_head(service)
    await say(service, head, "/hoimoi phieu_b")
    await answer_until(service, head, POOR, "b1_loai_nha")  # walls, frame and roof all durable
    refused = await say(service, head, "nhà đơn sơ")
    assert "Loại nhà không khớp" in refused and await cursor(service, head) == "b1_loai_nha"
    await say(service, head, "bán kiên cố")
    assert await cursor(service, head) == "b1_tivi"


async def test_an_edit_that_contradicts_a_later_answer_is_caught_at_submit(service: ChatApp) -> None:
    head = await make_village_head(service)
    await say(service, head, "/hoimoi phieu_b")
    asked = []
    for _ in range(200):  # indicator 12 answered «có», and the TV of B1 «có»
        key = await cursor(service, head)
        if key is None:
            break
        asked.append(key)
        await say(service, head, answer_for(POOR, key))
    number = asked.index("co_phuong_tien_tt") + 1  # questions are numbered in the order asked
    await say(service, head, f"/sua {number}")
    assert "loa truyền thanh" in await say(service, head, "không")  # the question the edit brought in
    await say(service, head, "có")
    blocked = await say(service, head, "/xacnhan")
    assert "không khớp với một câu trả lời khác" in blocked and "Kết quả phân loại" not in blocked
    assert await cursor(service, head) == "b1_tivi"
    # «Giữ nguyên» cannot keep what the edit contradicts: /xacnhan would only come back here
    kept = await say(service, head, "/giunguyen")
    assert "Không giữ nguyên được" in kept and "«Hộ có ti vi, radio hoặc máy tính không?»" in kept, kept
    assert await cursor(service, head) == "b1_tivi"
    await say(service, head, "không")
    done = await say(service, head, "/xacnhan")
    if "Kết quả phân loại" not in done:  # from the question back to the review, then submit
        done = await say(service, head, "/xacnhan")
    assert "Kết quả phân loại" in done
