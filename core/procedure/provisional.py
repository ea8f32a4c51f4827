"""Provisional rules block what is signed: the commune's decision (Mẫu 02) and its certificates
(Mẫu 03) are not issued for households classified with a rule no official text confirms,
unless the province, having checked those rules on paper, records that it signs with them
(«ký với bảng tạm»: who, when, why, for exactly which rules, by their digest).

The refusal names what is missing and the command that signs a rules version. That command
belongs to the rules workbook (issue 21 point 2): its name is set once, in SIGN_ROUTE.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.chat.commands import slash
from core.classification.pack import RulePack
from core.classification.provisional import Part, provisional_parts, summary
from core.i18n import fmt_date, t
from core.procedure.models import ReviewEvent
from core.storage.models import Household, User

KIND = "provisional"  # the ReviewEvent kind of a province's «ký với bảng tạm»
# The route of the command that signs a rules version (branch rules21a): set it here once
# merged; until then the refusal names the console command of the same feature.
SIGN_ROUTE = "rules_import"
SIGN_FALLBACK = "rasoat rules import"


def sign_command() -> str:
    return slash(SIGN_ROUTE) if SIGN_ROUTE else SIGN_FALLBACK


@dataclass(frozen=True)
class Override:
    pack_id: str
    version: int
    digest: str
    reason: str
    user: str  # the province officer's name, as recorded
    at: datetime
    on: date | None


async def overrides(s: AsyncSession, year: int) -> list[Override]:
    """Every «ký với bảng tạm» of this review year, oldest first."""
    rows = (await s.execute(select(ReviewEvent, User.display_name).outerjoin(User, User.id == ReviewEvent.user_id)
                            .where(ReviewEvent.kind == KIND, ReviewEvent.year == year)
                            .order_by(ReviewEvent.id))).all()
    return [Override(str(e.data["pack"]), int(e.data["version"]), str(e.data["digest"]), str(e.data["reason"]),
                     name or "-", e.at, e.held_on) for e, name in rows]


def record_override(s: AsyncSession, province_id: int, year: int, pack: RulePack, reason: str, user_id: int,
                    today: date) -> ReviewEvent:
    """The province signs with these rules as they are: bound to their digest, so a later,
    different provisional version is not covered by a check of this one on paper."""
    event = ReviewEvent(unit_id=province_id, kind=KIND, year=year, held_on=today, user_id=user_id,
                        data={"pack": pack.id, "version": pack.version, "digest": pack.digest, "reason": reason,
                              "parts": [p.describe() for p in provisional_parts(pack)]})
    s.add(event)
    return event


def override_line(o: Override) -> str:
    return t("rp_override_line", pack=o.pack_id, version=o.version, user=o.user, date=fmt_date(o.on or o.at.date()),
             reason=o.reason)


def mark_for(households: Sequence[Household], signed: Sequence[Override]) -> str:
    """What a printed list or certificate says about its rules: «TẠM TÍNH» when any household
    was classified with a provisional rule, with the province's override when it covers them."""
    provisional = [h for h in households if h.provisional is True]
    if not provisional:
        return ""
    covering = [o for o in signed if any(h.pack_digest == o.digest for h in provisional)]
    return t("rp_mark_signed", override=override_line(covering[-1])) if covering else t("rp_mark")


def _packs(packs: Sequence[RulePack], ids: set[str]) -> list[RulePack]:
    return [p for p in packs if p.id in ids]


async def refusal(s: AsyncSession, packs: Sequence[RulePack], households: Sequence[Household],
                  year: int) -> str | None:
    """Why the decision cannot be issued for these households, or None. A household computed
    with a provisional rule blocks unless an override covers its rules' digest; when its pack
    has since been signed official, the re-scoring waiting for the officer's confirmation is
    what is missing."""
    covered = {o.digest for o in await overrides(s, year)}
    blocked = [h for h in households if h.provisional is True and h.pack_digest not in covered]
    if not blocked:
        return None
    lines = [t("rp_refused", n=len(blocked), ids=", ".join(f"#{h.id}" for h in blocked[:30]))]
    for pack in _packs(packs, {h.pack_id for h in blocked if h.pack_id}):
        parts: tuple[Part, ...] = provisional_parts(pack)
        if not parts:
            lines.append(t("rp_refused_rescore", pack=pack.name, version=pack.version,
                           cmd=slash("rp_apply_rules")))
            continue
        lines.append(t("rp_refused_pack", pack=pack.name, version=pack.version, parts=summary(parts)))
        lines += [t("rp_refused_missing", item=item) for part in parts if part.kind != "indicator"
                  for item in part.why[1:]]
    lines.append(t("rp_refused_how", sign_cmd=sign_command(), override_cmd=slash("rp_sign_provisional")))
    return "\n".join(lines)
