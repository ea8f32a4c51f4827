"""Villages' resident household counts typed in chat (`/sohodan`, bot/handlers/residents.py):
the denominators of the report's rates, which a commune could only load from a CSV on the
server before. Listed, set by id or by name, several at once; any bad pair writes nothing and
the reply names each problem; only a commune officer, only the commune's own villages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.app import ChatApp
from core.chat.messages import ChatRef, Incoming
from core.i18n import t
from core.storage.models import Unit
from core.storage.repo import ensure_user
from core.units.residents import MOST
from core.units.tree import UnitTree
from tests.households import make_village_head


async def _officer(service: ChatApp, code: str, user: str) -> ChatRef:
    async with service.db.transaction() as s:
        commune = await s.scalar(select(Unit).where(Unit.configuration == "65", Unit.code == code,
                                                    Unit.level == "commune"))
        assert commune is not None
        await ensure_user(s, "test", user, "Cán bộ xã", "commune", commune.id)
    return ChatRef("test", user, user)


VILLAGES = ("Thôn Nà Pàn", "Thôn 1", "Thôn Bản Cầu")
NONE = dict.fromkeys(VILLAGES)


@pytest.fixture
async def commune(service: ChatApp) -> dict[str, int]:
    """Xã 6202 with three villages (one named with a number, one with «Bản», itself a kind of
    village, inside its name) and their ids."""
    for i, name in enumerate(VILLAGES):
        await make_village_head(service, f"h{i + 1}", village=name)
    async with service.db.read() as s:
        rows = (await s.execute(select(Unit.name, Unit.id).where(Unit.level == "village",
                                                                 Unit.name.in_(VILLAGES)))).all()
    return dict(rows)  # type: ignore[arg-type]


async def _say(service: ChatApp, chat: ChatRef, text: str) -> str:
    return "\n".join(m.text for m in (await service.handle(chat, Incoming(text=text))).messages)


async def _counts(service: ChatApp) -> dict[str, int | None]:
    async with service.db.read() as s:
        return dict((await s.execute(select(Unit.name, Unit.households_total).where(
            Unit.name.in_(VILLAGES)))).all())  # type: ignore[arg-type]


async def test_an_officer_lists_then_sets_counts_by_id_and_by_name(service: ChatApp, commune: dict[str, int]) -> None:
    officer = await _officer(service, "6202", "cb")
    listing = await _say(service, officer, "/sohodan")
    assert f"#{commune['Thôn Nà Pàn']} Thôn Nà Pàn: {t('residents_unknown')}" in listing
    assert await _say(service, officer, "/sohodan xem") == listing  # as the help line words it
    said = await _say(service, officer, f"/sohodan #{commune['Thôn Nà Pàn']} 135")
    assert "Thôn Nà Pàn: 135 hộ" in said and "Thôn 1" in said  # the village still without a count is named
    # names, accents aside; digits of a name; «Bản Cầu» without its «Thôn»; pairs after commas;
    # a thousands dot as Vietnamese writes it
    said = await _say(service, officer, "/sohodan thon 1 80 na pan 140, Bản Cầu 1.020")
    assert "Thôn 1: 80 hộ" in said and "Thôn Nà Pàn: 140 hộ (trước: 135)" in said and "Thôn Bản Cầu: 1020 hộ" in said
    assert await _counts(service) == {"Thôn Nà Pàn": 140, "Thôn 1": 80, "Thôn Bản Cầu": 1020}
    async with service.db.read() as s:  # the reports' denominators: the commune's total is known now
        commune_unit = await s.scalar(select(Unit).where(Unit.id == commune["Thôn 1"]))
        assert commune_unit is not None and commune_unit.parent_id is not None
        tree = await UnitTree.of(s, await s.get(Unit, commune_unit.parent_id))  # type: ignore[arg-type]
        assert await tree.resident_totals(s) == {commune[v]: n for v, n in (("Thôn Nà Pàn", 140), ("Thôn 1", 80),
                                                                               ("Thôn Bản Cầu", 1020))}


@pytest.mark.parametrize(("typed", "reason"), [
    ("#999999 10", "residents_unknown_village"),
    ("Khuổi Ma 10", "residents_unknown_village"),
    ("Nà Pàn", "residents_no_count"),
    ("50", "residents_no_village"),
    ("Nà Pàn 0", "residents_bad_count"),
    (f"Nà Pàn {MOST + 1}", "residents_bad_count"),
    ("Nà Pàn 10 thôn nà pàn 12", "residents_twice"),
    ("Nà Pàn -5", "residents_bad_count"),
    ("Nà Pàn 1,5", "residents_bad_count"),
    ("#{id} abc", "residents_bad_count"),
])
async def test_a_bad_pair_writes_nothing_and_says_why(service: ChatApp, commune: dict[str, int],
                                                      typed: str, reason: str) -> None:
    officer = await _officer(service, "6202", "cb")
    typed = typed.replace("{id}", str(commune["Thôn Nà Pàn"]))
    said = await _say(service, officer, f"/sohodan Thôn 1 75 {typed}")  # a good pair before the bad one
    assert said.startswith(t("residents_problems"))
    assert t(reason, words="§", most=MOST).split("§")[0] in said
    assert len(said.splitlines()) == 3, said  # one problem, one line: not also an unknown village
    assert await _counts(service) == NONE


async def test_only_a_commune_officer_for_the_communes_own_villages(service: ChatApp,
                                                                    commune: dict[str, int]) -> None:
    head = ChatRef("test", "h1", "h1")
    assert await _say(service, head, f"/sohodan #{commune['Thôn 1']} 10") == t("residents_not_allowed")
    async with service.db.read() as s:  # another commune of the province, with a village of its own
        code = await s.scalar(select(Unit.code).where(Unit.configuration == "65", Unit.level == "commune",
                                                      Unit.code != "6202").order_by(Unit.code).limit(1))
    assert code is not None
    await make_village_head(service, "khac-thon", commune_code=code, village="Thôn Khác")
    other = await _officer(service, code, "khac")
    said = await _say(service, other, f"/sohodan #{commune['Thôn 1']} 10")  # not one of its villages
    assert said.startswith(t("residents_problems")) and f"#{commune['Thôn 1']}" in said
    assert await _counts(service) == NONE
