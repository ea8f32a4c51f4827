"""Issue 21 point 4, on SQLite and PostgreSQL: every result stores the rules that produced it;
when a new version is signed, the households of the review not yet decided are re-scored,
the commune officer is shown the list of class changes with the reason BEFORE anything moves,
and confirms; decided households never change and are listed as «sẽ khác theo quy định mới».

A newly signed version is simulated the way the rules workbook's confirmation (issue 21
point 2) hands it over: a RulePack built in memory, installed in the running application
(`rules_signed.install`), then `on_rules_signed`."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.app import ChatApp
from core.chat.messages import Incoming, OutMessage
from core.classification.pack import RulePack
from core.procedure import rules_signed
from core.procedure.models import Review
from core.storage.models import AuditLog, Household, OutboxMessage
from tests.households import NOT_POOR, make_village_head, run_survey
from tests.rules import signed
from tests.test_procedure_gaps import HUNG, NAM, TZ, decide, ids_by_name, officer_of, say, up_to_the_opinion

TIVI = 40  # the new points of «Tivi: có» in the rural scheme (was 10): a B1 points value changed
NO_TV = {**NOT_POOR, "chu_ho_ten": "Hà Văn Tư", "chu_ho_cccd": "020180004444"}


def with_tivi(pack: RulePack, points: int, version: int) -> RulePack:
    """A signed version of `pack` whose «Tivi: có» scores `points` in the rural scheme."""
    assert pack.b1 is not None
    items = tuple(dataclasses.replace(i, points={**i.points, "co": {**i.points["co"], "nt_tdmnpb": points}})
                  if i.question == "b1_tivi" else i for i in pack.b1.items)
    return dataclasses.replace(pack, version=version, b1=dataclasses.replace(pack.b1, items=items))


def in_force(service: ChatApp) -> RulePack:
    return next(p for p in service.data.packs if p.id == "nd07_2021")


async def sign(service: ChatApp, pack: RulePack) -> list[rules_signed.Proposal]:
    """What the rules workbook's confirmation does after its merge: install, then trigger."""
    rules_signed.install(service.data.packs, pack)
    async with service.db.transaction() as s:
        return await rules_signed.on_rules_signed(s, service.data, pack.id, pack.version)


async def households(service: ChatApp) -> dict[str, Household]:
    async with service.db.transaction() as s:
        return {h.head_name or "": h for h in (await s.scalars(select(Household))).all()}


async def one_decided_two_waiting(service: ChatApp) -> dict[str, Any]:
    """Lò Văn Nam recognised poor by the commune's decision; then Vi Văn Hùng (poor, with a TV)
    and Hà Văn Tư (not poor, no TV) surveyed, not decided."""
    now = {"t": datetime(2026, 11, 16, 9, 0, tzinfo=TZ)}
    service.clock = lambda: now["t"]
    head, officer = await make_village_head(service), await officer_of(service)
    province = await officer_of(service, "province", "province", "tinh")
    await run_survey(service, head, NAM)
    await say(service, head, f"/hopdan 16/11/2026 20 {(await ids_by_name(service))['Lò Văn Nam']}=15")
    now["t"] = datetime(2026, 11, 18, 9, 0, tzinfo=TZ)
    await say(service, officer, "/niemyet")
    now["t"] = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
    await say(service, province, "/ykien 6202 Đồng ý")
    assert "công nhận 1 hộ" in await say(service, officer, "/congnhan 45/QĐ-UBND 23/11/2026")
    assert any("HỘ NGHÈO" in t for t in await run_survey(service, head, HUNG))
    assert any("KHÔNG NGHÈO" in t for t in await run_survey(service, head, NO_TV))
    return {"head": head, "officer": officer, "ids": await ids_by_name(service)}


async def notices(service: ChatApp) -> list[OutMessage]:
    async with service.db.transaction() as s:
        rows = (await s.scalars(select(OutboxMessage).where(OutboxMessage.notice_key.like("rescore/%"))
                                .order_by(OutboxMessage.id))).all()
    return [OutMessage.from_json(r.message) for r in rows]


async def test_a_signed_version_lists_the_changes_first_and_applies_them_on_confirmation(service: ChatApp) -> None:
    run = await one_decided_two_waiting(service)
    ids, officer = run["ids"], run["officer"]
    before = await households(service)
    v1 = in_force(service)
    assert {(h.pack_id, h.pack_version, h.pack_digest) for h in before.values()} == {("nd07_2021", 0, v1.digest)}

    v2 = with_tivi(v1, TIVI, 2)
    assert v2.digest != v1.digest
    (proposal,) = await sign(service, v2)
    assert (proposal.changed, proposal.same, proposal.decided, proposal.notified) == (1, 1, 1, 1)
    # nothing moved yet: every household keeps its class and its rules
    assert {k: (h.outcome, h.pack_version) for k, h in (await households(service)).items()} == {
        k: (h.outcome, h.pack_version) for k, h in before.items()}
    (notice,) = await notices(service)
    text = notice.text or ""
    assert "Quy định mới đã được ký: nd07_2021 phiên bản 2" in text and "CHƯA có gì thay đổi" in text
    hung, nam = ids["Vi Văn Hùng"], ids["Lò Văn Nam"]
    assert (f"• #{hung} Vi Văn Hùng (Thôn Nà Pàn): Hộ nghèo → Không nghèo, cận nghèo. Lý do: điểm B1 115 → 145 "
            "(ngưỡng 140); theo NĐ 07/2021 phiên bản 2") in text, text
    assert "1 hộ khác giữ nguyên diện" in text
    assert "1 hộ đã công nhận KHÔNG thay đổi, nhưng sẽ khác theo quy định mới:" in text
    assert f"• #{nam} Lò Văn Nam (Thôn Nà Pàn): đã công nhận Hộ nghèo; sẽ khác theo quy định mới" in text
    assert f"/apdungquydinh {proposal.event_id}" in text and notice.buttons  # the confirmation, typed or pressed

    # the officer sees it again on request, and confirms by pressing
    assert "Vi Văn Hùng" in await say(service, officer, "/apdungquydinh")
    reply = await service.handle(officer, Incoming(payload=notice.buttons[0][0].payload))
    assert "Đã áp dụng nd07_2021 phiên bản 2: 1 hộ đổi diện, 2 hộ được tính lại" in reply.messages[0].text
    after = await households(service)
    assert (after["Vi Văn Hùng"].outcome, after["Vi Văn Hùng"].b1_score) == ("not_poor", 145)
    assert {(h.pack_version, h.pack_digest) for k, h in after.items() if k != "Lò Văn Nam"} == {(2, v2.digest)}
    assert after["Hà Văn Tư"].outcome == "not_poor"
    # the decided household is untouched: class, score, rules, and the decision's class
    decided = after["Lò Văn Nam"]
    assert (decided.outcome, decided.b1_score, decided.pack_version) == ("poor", 115, 0)
    async with service.db.transaction() as s:
        assert (await s.get(Review, nam)).final_class == "poor"
        audits = (await s.scalars(select(AuditLog).where(AuditLog.action == "rescore"))).all()
        stage = (await s.get(Review, hung)).stage
    assert sorted(a.household_id for a in audits) == sorted([hung, ids["Hà Văn Tư"]])
    assert {a.new_value["reason"] for a in audits} == {"rules version 2"} and all(a.user_id for a in audits)
    assert stage == "surveyed"  # its new class goes to the village meeting

    # a redelivered confirmation or signing changes nothing
    assert "đã được áp dụng" in await say(service, officer, f"/apdungquydinh {proposal.event_id}")
    assert await sign_again(service, v2) == []
    assert "Không có quy định mới nào chờ" in await say(service, officer, "/apdungquydinh")


async def sign_again(service: ChatApp, pack: RulePack) -> list[rules_signed.Proposal]:
    async with service.db.transaction() as s:
        return await rules_signed.on_rules_signed(s, service.data, pack.id, pack.version)


async def test_a_list_that_no_longer_holds_is_shown_again_and_nothing_moves(service: ChatApp) -> None:
    """Between the list and the confirmation a newer version was signed: the old list is not
    applied; the officer gets the list of what would move now."""
    run = await one_decided_two_waiting(service)
    v1 = in_force(service)
    (first,) = await sign(service, with_tivi(v1, TIVI, 2))
    rules_signed.install(service.data.packs, with_tivi(v1, 11, 3))  # signed, not yet triggered
    reply = await say(service, run["officer"], f"/apdungquydinh {first.event_id}")
    assert "chưa áp dụng gì" in reply and "phiên bản 3" in reply and "Không hộ chưa công nhận nào đổi diện" in reply
    assert {h.pack_version for h in (await households(service)).values()} == {0}


async def test_only_the_communes_officer_applies_and_versions_only_go_forward(service: ChatApp) -> None:
    run = await one_decided_two_waiting(service)
    v1 = in_force(service)
    (proposal,) = await sign(service, with_tivi(v1, TIVI, 2))
    assert "Chỉ cán bộ xã làm được" in await say(service, run["head"], f"/apdungquydinh {proposal.event_id}")
    other = await officer_of(service, user="officer2")
    assert "Không có danh sách tính lại số 999" in await say(service, other, "/apdungquydinh 999")
    with pytest.raises(ValueError, match="not newer"):
        rules_signed.install(service.data.packs, with_tivi(v1, TIVI, 2))
    assert {h.pack_version for h in (await households(service)).values()} == {0}


async def test_the_decision_waits_until_the_signed_rules_are_applied_then_goes_on(
        provisional_rules: None, service: ChatApp, tmp_path: Path) -> None:
    """Point 5's «allowed after signing»: results of the shipped, provisional files block the
    decision; once the province signs the same rules official and the commune applies them,
    it goes on, and nothing it prints says «TẠM TÍNH»."""
    run = await up_to_the_opinion(service, tmp_path)
    officer = run["officer"]
    assert "tiêu chí Phiếu A" in await say(service, officer, "/congnhan 45/QĐ-UBND 23/11/2026")
    (proposal,) = await sign(service, signed(in_force(service), version=1))
    assert proposal.changed == 0  # same rules, now official: no class moves
    refused = await say(service, officer, "/congnhan 45/QĐ-UBND 23/11/2026")
    assert "NĐ 07/2021 đã được ký (phiên bản 1) nhưng xã chưa xác nhận tính lại các hộ" in refused, refused
    assert "/apdungquydinh" in refused
    assert "Đã áp dụng" in await say(service, officer, f"/apdungquydinh {proposal.event_id}")
    done = await decide(service, officer)
    assert "công nhận 2 hộ" in (done[0].text or ""), done[0].text
    lists = next(m.document for m in done if m.document and "danh_sach" in m.document)
    assert "TẠM TÍNH" not in str(load_workbook(lists)["Hộ nghèo"].cell(1, 1).value)
