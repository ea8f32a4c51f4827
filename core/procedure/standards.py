"""Which standard a review applies: the review-year rule as data, the years an official text
fixed, and the province's recorded overrides.

Which standard judges a review is a legal fact, not a constant: the review held in year Y
sets the list for Y+1 (core/procedure/files/review_years.yaml says so, with its source), and a
province officer who holds a dated official text that says otherwise records it in chat. Every
classification message and `rasoat check` name the standard that applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.classification.pack import RulePack
from core.datafile import DataFileError, Errors, check_keys, line_of, load_mapping, require
from core.i18n import fmt_date, source_words, t
from core.procedure.models import ReviewEvent

REVIEW_YEARS = Path(__file__).parent / "files" / "review_years.yaml"
TAGS = ("C", "C2", "R", "NF", "assumption")
OVERRIDE = "standard"  # the ReviewEvent kind of a province's override


@dataclass(frozen=True)
class YearRule:
    review_year: int
    pack_id: str
    why: str
    source: str
    tag: str
    line: int


@dataclass(frozen=True)
class ReviewYears:
    offset: int  # a review of year Y sets the list of year Y + offset
    text: str
    source: str
    tag: str
    years: dict[int, YearRule]
    path: str


@dataclass(frozen=True)
class Override:
    pack_id: str
    document: str  # number of the text that decided it, e.g. "123/QĐ-UBND"
    signed_on: date
    reason: str
    user_id: int | None
    at: datetime


@dataclass(frozen=True)
class Standard:
    """The standard a review year applies, and why."""

    review_year: int
    list_year: int
    pack: RulePack
    why: str
    source: str
    tag: str
    override: Override | None = None


def _tag(raw: dict, path: Path) -> str:
    tag = str(require(raw, "tag", path, str))
    if tag not in TAGS:
        raise DataFileError(path, line_of(raw), f"tag must be one of {', '.join(TAGS)}, got {tag!r}")
    return tag


def load_review_years(packs: list[RulePack], path: str | Path = REVIEW_YEARS) -> ReviewYears:
    """Read and check the file against the packs; every error names its line, all at once."""
    path = Path(path)
    doc = load_mapping(path, {"rule", "years"}, "the review-year rule")
    rule = require(doc, "rule", path, dict)
    check_keys(rule, {"list_year_offset", "text", "source", "tag"}, path)
    offset = require(rule, "list_year_offset", path, int)
    if offset not in (0, 1):
        raise DataFileError(path, line_of(rule), "list_year_offset must be 0 or 1")
    known = {p.id for p in packs}
    errors = Errors()
    years: dict[int, YearRule] = {}
    seen: set[int] = set()
    for raw in require(doc, "years", path, list):
        with errors.catch():
            check_keys(raw, {"review_year", "pack", "why", "source", "tag"}, path)
            year, pack_id = require(raw, "review_year", path, int), require(raw, "pack", path, str)
            if year in seen:
                raise DataFileError(path, line_of(raw), f"review year {year} is listed twice")
            seen.add(year)
            if pack_id not in known:
                raise DataFileError(path, line_of(raw),
                                    f"pack '{pack_id}' does not exist (known: {', '.join(sorted(known))})")
            years[year] = YearRule(year, pack_id, str(require(raw, "why", path, str)).strip(),
                                   str(require(raw, "source", path, str)).strip(), _tag(raw, path), line_of(raw) or 0)
    errors.raise_any()
    return ReviewYears(offset, str(require(rule, "text", path, str)).strip(),
                       str(require(rule, "source", path, str)).strip(), _tag(rule, path), years, str(path))


def _pack(packs: list[RulePack], pack_id: str) -> RulePack:
    return next(p for p in packs if p.id == pack_id)


def by_rule(rules: ReviewYears, packs: list[RulePack], review_year: int) -> Standard:
    """The standard from the file alone: a listed year, else the pack in force in the list's year."""
    list_year = review_year + rules.offset
    listed = rules.years.get(review_year)
    if listed is not None:
        return Standard(review_year, list_year, _pack(packs, listed.pack_id), listed.why, listed.source, listed.tag)
    pack = next((p for p in packs if p.covers(list_year)), None)
    if pack is None:
        raise LookupError(f"no rule pack covers {list_year}, the list year of review {review_year}")
    return Standard(review_year, list_year, pack, rules.text, rules.source, rules.tag)


async def latest_override(s: AsyncSession, review_year: int) -> Override | None:
    event = await s.scalar(select(ReviewEvent).where(ReviewEvent.kind == OVERRIDE, ReviewEvent.year == review_year)
                           .order_by(ReviewEvent.id.desc()).limit(1))
    if event is None:
        return None
    data = event.data or {}
    return Override(str(data["pack"]), str(data["document"]), date.fromisoformat(data["signed_on"]),
                    str(data.get("reason", "")), event.user_id, event.at)


async def standard_for(s: AsyncSession, rules: ReviewYears, packs: list[RulePack], review_year: int) -> Standard:
    """The standard a review year applies: the province's latest override, else the file."""
    base = by_rule(rules, packs, review_year)
    override = await latest_override(s, review_year)
    if override is None or not any(p.id == override.pack_id for p in packs):
        return base
    return Standard(review_year, base.list_year, _pack(packs, override.pack_id), override.reason, override.document,
                    "C", override)


def record_override(s: AsyncSession, province_id: int, review_year: int, pack: RulePack, document: str,
                    signed_on: date, reason: str, user_id: int) -> ReviewEvent:
    """A province officer's decision, with the text that decided it; kept, never edited."""
    event = ReviewEvent(unit_id=province_id, kind=OVERRIDE, year=review_year, held_on=signed_on,
                        data={"pack": pack.id, "document": document, "signed_on": signed_on.isoformat(),
                              "reason": reason}, user_id=user_id)
    s.add(event)
    return event


def standard_line(standard: Standard, pack: RulePack | None = None) -> str:
    """«Chuẩn áp dụng: NĐ 351/2025, giai đoạn 2027–2030», said wherever a result is shown
    (`pack`: the one a household was classified under, when it differs)."""
    pack = pack or standard.pack
    return t("standard_in_force", name=pack.name, start=pack.year_from, end=pack.year_to)


def standard_detail(standard: Standard) -> list[str]:
    """The line, then why and on what source (with its tag), and the override if any."""
    lines = [standard_line(standard), t("standard_why", year=standard.review_year, list_year=standard.list_year,
                                        why=standard.why)]
    if standard.override is not None:
        o = standard.override
        lines.append(t("standard_overridden", document=o.document, date=fmt_date(o.signed_on)))
    else:
        lines.append(t("standard_source", source=standard.source, tag=source_words(standard.tag)))
    return lines
