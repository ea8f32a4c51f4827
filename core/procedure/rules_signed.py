"""A rules version was signed: show each commune what it changes, and apply it only when the
commune officer confirms.

`install` puts a signed version in force in the running application (the seam the rules
workbook's confirmation uses, issue 21 point 2); `on_rules_signed` is what that confirmation
calls next. It re-scores every household of the current review classified under the pack
(core/procedure/rescore.py), and for each commune records a proposal (a ReviewEvent
«rescore») and sends its officers the list of households whose class would change, with the
reason, and the decided households that «sẽ khác theo quy định mới». Nothing moves until an
officer of that commune confirms (`apply`), and what moves is exactly the list shown: if the
answers or the stages changed in between, the list is made again and shown instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.chat.commands import command_button, slash
from core.chat.messages import OutMessage
from core.classification.pack import RulePack
from core.households import record_result
from core.i18n import t
from core.messaging import tell_users
from core.procedure import transitions
from core.procedure.models import ReviewEvent
from core.procedure.rescore import Rescored, rescore
from core.storage.models import Household, Unit, User, utcnow
from core.storage.repo import audit
from core.surveys.model import Survey
from core.units.scope import village_ids, village_names

KIND = "rescore"  # the ReviewEvent kind of a proposal
SHOWN = 60  # households named one per line in one chat message


class RulesData(Protocol):
    """What the trigger needs of the application (bot.context.AppData has it)."""

    packs: list[RulePack]
    forms: dict[str, Survey]

    @property
    def settings(self) -> Any: ...


def install(packs: list[RulePack], pack: RulePack) -> RulePack | None:
    """Put a signed version in force: it replaces, in place, the pack with its id (so every
    holder of the list sees it). Returns the version it replaced. A version not newer than the
    one in force is refused: signing never goes back silently."""
    for i, current in enumerate(packs):
        if current.id == pack.id:
            if pack.version <= current.version:
                raise ValueError(f"pack {pack.id}: version {pack.version} is not newer than {current.version}")
            packs[i] = pack
            return current
    raise LookupError(f"no pack {pack.id} to replace")


@dataclass(frozen=True)
class Proposal:
    event_id: int
    commune_id: int
    changed: int
    same: int
    decided: int  # decided households that would differ
    notified: int  # officers told


def _in_force(packs: list[RulePack], pack_id: str, version: int) -> RulePack:
    pack = next((p for p in packs if p.id == pack_id), None)
    if pack is None or pack.version != version:
        raise LookupError(f"pack {pack_id} version {version} is not the one in force (install it first)")
    return pack


def _content(pack: RulePack, rescored: list[Rescored]) -> dict[str, Any]:
    """What the proposal shows and what applying it moves; ids and classes only (no names)."""
    def row(r: Rescored) -> dict[str, Any]:
        return {"household": r.household.id, "before": r.before, "after": r.after, "reason": r.reason}

    return {"pack": pack.id, "version": pack.version, "digest": pack.digest,
            "changes": [row(r) for r in rescored if not r.decided and r.changed],
            "same": [r.household.id for r in rescored if not r.decided and not r.changed],
            "decided": [row(r) for r in rescored if r.decided and r.changed]}


async def _communes(s: AsyncSession, rescored: list[Rescored]) -> dict[int, list[Rescored]]:
    parents = dict((await s.execute(select(Unit.id, Unit.parent_id).where(
        Unit.id.in_({r.household.village_id for r in rescored})))).all()) if rescored else {}
    out: dict[int, list[Rescored]] = defaultdict(list)
    for r in rescored:
        out[parents[r.household.village_id]].append(r)
    return out


async def message(s: AsyncSession, event: ReviewEvent) -> OutMessage:
    """The list as the officer reads it: who changes and why, who stays, who is decided."""
    data = event.data or {}
    ids = {c["household"] for c in (*data["changes"], *data["decided"])}
    rows = (await s.execute(select(Household.id, Household.head_name, Household.village_id)
                            .where(Household.id.in_(ids)))).all() if ids else []
    names = await village_names(s, {v for _, _, v in rows})
    who = {hid: (head or "-", names.get(village, "")) for hid, head, village in rows}
    commune = await s.get(Unit, event.unit_id)

    def line(key: str, c: Mapping[str, Any]) -> str:
        head, village = who.get(c["household"], ("-", ""))
        return t(key, id=c["household"], head=head, village=village, before=t(f"list_outcome_{c['before']}"),
                 after=t(f"list_outcome_{c['after']}"), reason=c["reason"])

    lines = [t("rp_rescore_head", pack=data["pack"], version=data["version"], commune=commune.name if commune else "")]
    changes, decided = data["changes"], data["decided"]
    lines.append(t("rp_rescore_changes", n=len(changes)) if changes else t("rp_rescore_no_change"))
    lines += [line("rp_rescore_change", c) for c in changes[:SHOWN]]
    if len(changes) > SHOWN:
        lines.append(t("rp_rescore_more", n=len(changes) - SHOWN))
    if data["same"]:
        lines.append(t("rp_rescore_same", n=len(data["same"])))
    if decided:
        lines.append(t("rp_rescore_decided", n=len(decided)))
        lines += [line("rp_rescore_decided_line", c) for c in decided[:SHOWN]]
    if data.get("applied_at"):
        lines.append(t("rp_rescore_applied_already"))
        return OutMessage("\n".join(lines))
    lines.append(t("rp_rescore_confirm", cmd=f"{slash('rp_apply_rules')} {event.id}"))
    return OutMessage("\n".join(lines), ((command_button(t("rp_btn_apply"), "rp_apply_rules", str(event.id)),),))


async def _propose(s: AsyncSession, pack: RulePack, year: int, commune_id: int, rescored: list[Rescored],
                   supersedes: int | None = None) -> tuple[ReviewEvent, int]:
    data = _content(pack, rescored)
    if supersedes is not None:
        data["supersedes"] = supersedes
    event = ReviewEvent(unit_id=commune_id, kind=KIND, year=year, data=data, at=utcnow())
    s.add(event)
    await s.flush()
    officers = (await s.scalars(select(User.id).where(User.unit_id == commune_id, User.role == "commune",
                                                      User.disabled_at.is_(None)))).all()
    told = await tell_users(s, officers, f"rescore/{event.id}", await message(s, event))
    return event, told


async def on_rules_signed(session: AsyncSession, data: RulesData, pack_id: str, version: int) -> list[Proposal]:
    """Called after a rules version is signed and installed: one proposal per commune that has
    households of the current review under this pack; nothing about a household changes here.
    Called again for the same version (a redelivered confirmation), it proposes nothing new."""
    pack = _in_force(data.packs, pack_id, version)
    year = data.settings.review_year
    done = await _proposed(session, pack, year)
    out = []
    for commune_id, rescored in (await _communes(session, await rescore(session, data.forms, pack, year))).items():
        if commune_id in done:
            continue
        event, told = await _propose(session, pack, year, commune_id, rescored)
        content = event.data
        out.append(Proposal(event.id, commune_id, len(content["changes"]), len(content["same"]),
                            len(content["decided"]), told))
    return out


async def _proposed(s: AsyncSession, pack: RulePack, year: int) -> set[int]:
    events = (await s.scalars(select(ReviewEvent).where(ReviewEvent.kind == KIND, ReviewEvent.year == year))).all()
    return {e.unit_id for e in events if (e.data or {}).get("digest") == pack.digest
            and (e.data or {}).get("version") == pack.version}


async def pending(s: AsyncSession, commune: Unit, year: int) -> list[ReviewEvent]:
    """The commune's proposals not yet applied nor replaced by a newer list."""
    events = (await s.scalars(select(ReviewEvent).where(ReviewEvent.kind == KIND, ReviewEvent.year == year,
                                                        ReviewEvent.unit_id == commune.id)
                              .order_by(ReviewEvent.id))).all()
    return [e for e in events if not (e.data or {}).get("applied_at") and not (e.data or {}).get("replaced_by")]


@dataclass(frozen=True)
class Applied:
    applied: bool
    changed: int = 0
    updated: int = 0
    message: OutMessage | None = None  # a new list, when the old one no longer held


async def apply(s: AsyncSession, data: RulesData, event: ReviewEvent, user: User) -> Applied:
    """The officer's confirmation: classify again, and write only if the list is still the one
    shown; every household written gets an audit row with the reason «rules version N»."""
    content = dict(event.data or {})
    pack = next((p for p in data.packs if p.id == content["pack"]), None)
    commune = await s.get(Unit, event.unit_id)
    assert commune is not None
    rescored = await rescore(s, data.forms, pack, event.year, set(await village_ids(s, commune))) if pack else []
    fresh = _content(pack, rescored) if pack else {}
    if pack is None or any(fresh.get(k) != content.get(k) for k in ("version", "digest", "changes", "same")):
        if pack is None:
            return Applied(False)
        new, _ = await _propose(s, pack, event.year, commune.id, rescored, supersedes=event.id)
        event.data = {**content, "replaced_by": new.id}
        return Applied(False, message=await message(s, new))
    why = f"rules version {pack.version}"
    changed = 0
    for r in rescored:
        if r.decided:
            continue
        moved = r.changed  # read before the household's columns are written
        before = {"outcome": r.before, "pack_version": r.household.pack_version, "digest": r.household.pack_digest}
        record_result(r.household, r.result, pack, r.survey.purpose)
        r.household.updated_at = utcnow()
        await audit(s, r.household.id, "rescore", user.id, {"reason": why, "pack": pack.id, "version": pack.version,
                                                            "digest": pack.digest, "before": before,
                                                            **r.result.to_json()})
        if moved:
            changed += 1
            await transitions.surveyed(s, r.household, user.id, "rescored", {"reason": why})
    event.data = {**content, "applied_at": utcnow().isoformat(), "applied_by": user.id}
    return Applied(True, changed, len(rescored) - len([r for r in rescored if r.decided]))
