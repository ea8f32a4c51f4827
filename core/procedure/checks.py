"""Data-quality checks before approval ("không để sót, nhầm lẫn nhân khẩu"): the same ID number
in two households, a member listed in two households, a household with no members, ages that
do not fit the relation to the head, and large changes against last year's answers. A finding
blocks the decision until it is corrected (then it is no longer found) or an officer confirms
it (a `check_confirmations` row with the finding's code).

Households a decision now would leave out (core/procedure/coverage.py) are findings too, one per
stage, that inform without blocking: the decision itself asks to confirm them by name."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.households import Status
from core.i18n import t
from core.procedure.coverage import left_out
from core.procedure.models import CheckConfirmation, Review
from core.storage.models import Answer, Household, Unit

ID_KEY = "chu_ho_cccd"
MEMBERS_KEY = "so_thanh_vien"
# assumptions, not from the law: how far apart birth years must be for a child, a parent, a
# grandparent; how many members more or fewer than last year is a "large change"
CHILD_GAP, PARENT_GAP, GRAND_GAP, MEMBER_CHANGE = 12, 12, 30, 3
OLDER = {"bo_me": PARENT_GAP, "ong_ba": GRAND_GAP}  # relation -> at least this many years older than the head
YOUNGER = {"con": CHILD_GAP, "chau": CHILD_GAP}  # relation -> at least this many years younger
INFORMATION = frozenset({"pending"})  # kinds that never block the decision


@dataclass(frozen=True)
class Finding:
    code: str  # stable while the data stays as it is: what a confirmation names
    kind: str  # dup_id | member_twice | no_members | age | change | pending
    households: tuple[int, ...]
    params: dict[str, Any]


def id_key(s: AsyncSession, number: str) -> str:
    """How `id_numbers_in_year` keys an ID number: its keyed hash where numbers are sealed."""
    from core.storage.sealed import sealer_of

    sealer = sealer_of(s)
    return (sealer.lookup("id", number) if sealer is not None else None) or number


async def id_numbers_in_year(s: AsyncSession, year: int) -> dict[str, list[int]]:
    """Households of the year by the head's ID number, keyed by the number's keyed hash
    (core/storage/sealed.py): the one place that compares ID numbers, and it never decrypts."""
    rows = await s.execute(select(Answer.household_id, Answer.lookup, Answer.value).join(
        Household, Household.id == Answer.household_id).where(Answer.key == ID_KEY, Household.review_year == year))
    out: dict[str, list[int]] = defaultdict(list)
    for hid, lookup, value in rows.all():
        # sealed answers are compared by their keyed hash (the same number gives the same hash);
        # a row written before sealing still holds the number itself
        key = lookup or (value if isinstance(value, str) and value else None)
        if key:
            out[key].append(hid)
    return {k: sorted(v) for k, v in out.items()}


async def _commune_households(s: AsyncSession, commune: Unit, year: int) -> list[Household]:
    villages = select(Unit.id).where(Unit.parent_id == commune.id)
    return list((await s.scalars(select(Household).where(
        Household.village_id.in_(villages), Household.review_year == year, Household.survey_id == "phieu_b")
        .order_by(Household.id))).all())


async def pending(s: AsyncSession, commune: Unit, year: int) -> list[Finding]:
    """The households a decision now would not cover, one finding per stage."""
    by_stage: dict[str, list[int]] = defaultdict(list)
    for h, r in await left_out(s, commune, year):
        by_stage[r.stage].append(h.id)
    return [Finding(f"pending:{stage}:{','.join(map(str, ids))}", "pending", tuple(ids),
                    {"stage": t(f"proc_stage_{stage}")}) for stage, ids in by_stage.items()]


async def findings(s: AsyncSession, commune: Unit, year: int) -> list[Finding]:
    households = await _commune_households(s, commune, year)
    ids = [h.id for h in households]
    found: list[Finding] = await pending(s, commune, year)
    if not ids:
        return found
    answers: dict[int, dict[str, Any]] = defaultdict(dict)
    rows = await s.execute(select(Answer.household_id, Answer.key, Answer.value).where(
        Answer.household_id.in_(ids), or_(Answer.key.in_((ID_KEY, MEMBERS_KEY)), Answer.key.like("tv.%"))))
    for hid, key, value in rows.all():
        answers[hid][key] = value
    mine = set(ids)
    for holders in (await id_numbers_in_year(s, year)).values():
        if len(holders) > 1 and mine & set(holders):
            found.append(Finding(f"dup_id:{','.join(map(str, holders))}", "dup_id", tuple(holders), {}))
    people: dict[tuple[str, Any], list[tuple[int, int]]] = defaultdict(list)
    for h in households:
        a = answers[h.id]
        count = a.get(MEMBERS_KEY)
        if h.status == Status.SUBMITTED and (not isinstance(count, int) or count < 1):
            found.append(Finding(f"no_members:{h.id}", "no_members", (h.id,), {}))
            continue
        head_year = a.get("tv.1.nam_sinh")
        for i in range(2, (count or 0) + 1):
            name, born, rel = a.get(f"tv.{i}.ho_ten"), a.get(f"tv.{i}.nam_sinh"), a.get(f"tv.{i}.quan_he")
            if isinstance(name, str) and born is not None:
                people[(name.casefold(), born)].append((h.id, i))
            if not isinstance(head_year, int) or not isinstance(born, int):
                continue
            if (rel in OLDER and born > head_year - OLDER[rel]) or (rel in YOUNGER and born < head_year + YOUNGER[rel]):
                found.append(Finding(f"age:{h.id}:{i}", "age", (h.id,), {"member": i, "relation": rel}))
        if isinstance(head_year, int) and isinstance(h.head_name, str):
            people[(h.head_name.casefold(), head_year)].append((h.id, 1))
    for places in people.values():
        homes = sorted({hid for hid, _ in places})
        if len(homes) > 1:
            where = ",".join(f"{hid}.{i}" for hid, i in sorted(places))
            found.append(Finding(f"member_twice:{where}", "member_twice", tuple(homes), {}))
    reviews = {r.household_id: r for r in (await s.scalars(select(Review).where(Review.household_id.in_(ids)))).all()}
    for h in households:
        base = (reviews[h.id].baseline or {}) if h.id in reviews else {}
        before, now = base.get(MEMBERS_KEY), answers[h.id].get(MEMBERS_KEY)
        if h.status == Status.SUBMITTED and isinstance(before, int) and isinstance(now, int) \
                and abs(now - before) >= MEMBER_CHANGE:
            found.append(Finding(f"change:{h.id}:{MEMBERS_KEY}:{before}:{now}", "change", (h.id,),
                                 {"before": before, "now": now}))
    return found


async def blocking(s: AsyncSession, commune: Unit, year: int) -> list[Finding]:
    """Findings nobody has confirmed: each stops the decision."""
    every = [f for f in await findings(s, commune, year) if f.kind not in INFORMATION]
    confirmed = set((await s.scalars(select(CheckConfirmation.code).where(
        CheckConfirmation.code.in_([f.code for f in every])))).all()) if every else set()
    return [f for f in every if f.code not in confirmed]


async def confirm(s: AsyncSession, commune: Unit, code: str, user_id: int) -> bool:
    if await s.scalar(select(CheckConfirmation).where(CheckConfirmation.code == code)) is not None:
        return False
    s.add(CheckConfirmation(unit_id=commune.id, code=code[:120], user_id=user_id))
    await s.flush()
    return True
