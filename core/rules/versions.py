"""The rule packs in force, and the versions the province signs.

The pack in force for an id is its newest signed version (table rule_versions), else the
shipped YAML (version 0). A filled workbook becomes a *pending* version: nothing applies until
a province officer confirms it, citing the document it is signed under; the confirmation
records who, when, that document and the file's SHA-256, and numbers the version. Every
version is kept. Content read from the store is built by the same loaders as the YAML, so a
signed version that no longer fits the forms stops start-up like a broken data file would.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import access_log
from core.classification.pack import RulePack
from core.classification.screening import StopRule
from core.i18n import fmt_date, t
from core.rules.content import PARTS, build_pack, content_of, digest, signed_content
from core.rules.diff import changes
from core.rules.workbook_read import Current, Reading, read_workbook
from core.rules.workbook_write import write_workbook
from core.storage.models import User
from core.storage.models_rules import RuleVersion
from core.surveys.model import QType, Survey

PENDING, OFFICIAL, DROPPED = "pending", "official", "dropped"


class SignRefused(Exception):
    """A confirmation that cannot be applied; `key` is the locale key saying why."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key, self.params = key, params


@dataclass
class Rules:
    """The packs in force in this process, refreshed from the store on each classification."""

    shipped: list[RulePack]
    forms: dict[str, Survey]
    phieu_a_form: Survey
    stop_rule: StopRule  # the shipped Phiếu A rule, for packs that carry none of their own

    def __post_init__(self) -> None:
        self.contents: dict[str, dict[str, Any]] = {}
        self.packs: dict[str, RulePack] = {}
        for pack in self.shipped:
            content = content_of(pack, self.stop_rule)
            self.contents[pack.id] = content
            self.packs[pack.id] = pack

    def in_force(self) -> list[RulePack]:
        return sorted(self.packs.values(), key=lambda p: p.year_from)

    def version(self, pack_id: str) -> int:
        return self.packs[pack_id].version

    def b1_template(self, pack_id: str) -> dict[str, Any]:
        """The B1 table the pack's B1 sheet shows: its own, else the newest other pack's table
        for the same form, else the form's B1 questions (ids starting b1_) with no points."""
        own = self.contents[pack_id]["b1"]
        if own is not None:
            return own
        others = [self.contents[p.id]["b1"] for p in reversed(self.in_force()) if self.contents[p.id]["b1"]]
        if others:
            return others[0]
        form = next(f for f in self.forms.values() if f.purpose == "poverty")
        items = []
        for q in form.household_questions():
            if q.id.startswith("b1_") and q.type in (QType.YES_NO, QType.CHOICE):
                codes = ["co", "khong"] if q.type is QType.YES_NO else [c.value for c in q.choices]
                items.append({"question": q.id, "label": q.label or q.id, "points": {c: {} for c in codes}})
            elif q.id.startswith("b1_"):
                items.append({"question": q.id, "label": q.label or q.id, "bands": [{"max": None, "points": {}}]})
        schemes = {"nong_thon": {"label": t("rw_area_rural"), "area": "rural", "applies": True},
                   "thanh_thi": {"label": t("rw_area_urban"), "area": "urban", "applies": True}}
        return {"id": "", "title": "", "form": form.id, "schemes": schemes, "base": {}, "items": items}

    def current(self) -> dict[str, Current]:
        return {pid: Current(self.contents[pid], self.b1_template(pid), self.version(pid)) for pid in self.packs}

    def answer_labels(self) -> dict[tuple[str, str], str]:
        """(question, answer code) -> the answer as the form words it, for the changes shown."""
        out: dict[tuple[str, str], str] = {}
        for form in self.forms.values():
            for q in form.household_questions():
                if q.type is QType.YES_NO:
                    out[(q.id, "co")], out[(q.id, "khong")] = t("rw_yes"), t("rw_no")
                for c in q.choices if q.type is QType.CHOICE else ():
                    out[(q.id, c.value)] = c.label
        return out

    def read(self, path: Path) -> Reading:
        """A filled workbook, checked against what is in force (raises WorkbookRefused)."""
        return read_workbook(path, self.current(), self.forms, self.phieu_a_form, self.in_force())

    def export(self, pack_id: str, path: Path) -> Path:
        """The pack in force as a workbook to fill."""
        pack, template = self.packs[pack_id], self.b1_template(pack_id)
        return write_workbook(self.contents[pack_id], path, self.forms[template["form"]], template, pack.name,
                              pack.version)

    def build(self, row: RuleVersion) -> RulePack:
        return build_pack(row.content, f"rule_versions/{row.pack_id}/v{row.version}", self.forms, self.phieu_a_form,
                          version=row.version or 0, signed=signed_under(row))

    async def refresh(self, s: AsyncSession) -> bool:
        """Load the newest signed version of each pack if it changed; True when one did."""
        newest = (await s.execute(select(RuleVersion.pack_id, func.max(RuleVersion.version))
                                  .where(RuleVersion.status == OFFICIAL).group_by(RuleVersion.pack_id))).all()
        changed = False
        for pack_id, version in newest:
            if pack_id not in self.packs or self.packs[pack_id].version == version:
                continue
            row = await s.scalar(select(RuleVersion).where(RuleVersion.pack_id == pack_id,
                                                           RuleVersion.version == version))
            assert row is not None
            self.packs[pack_id] = self.build(row)
            self.contents[pack_id] = row.content
            changed = True
        return changed


def provisional_parts(content: dict[str, Any]) -> list[str]:
    """The parts of a content not signed as official, in the officer's words."""
    return [t(f"rw_part_{part}") for part in PARTS if (content["sources"].get(part) or {}).get("status") != "official"]


def signed_under(row: RuleVersion) -> str:
    return t("rw_signed_under", document=row.document, date=fmt_date(row.document_date))


@dataclass(frozen=True)
class Proposal:
    row: RuleVersion | None  # None: the workbook changes nothing
    lines: list[str]


def preview(rules: Rules, reading: Reading) -> list[str]:
    """The changes a read workbook makes against the version in force ([]: none)."""
    return changes(rules.contents[reading.pack_id], reading.content, rules.answer_labels())


async def propose(s: AsyncSession, rules: Rules, reading: Reading, document: str, document_date: date,
                  user_id: int | None, file_name: str) -> Proposal:
    """Keep the read workbook as the pack's one pending version (an earlier pending one is
    dropped), with the changes it makes; nothing changes in force."""
    await rules.refresh(s)
    lines = preview(rules, reading)
    if not lines:
        return Proposal(None, [])
    await s.execute(update(RuleVersion).where(RuleVersion.pack_id == reading.pack_id, RuleVersion.status == PENDING)
                    .values(status=DROPPED))
    row = RuleVersion(pack_id=reading.pack_id, status=PENDING, base_version=rules.version(reading.pack_id),
                      content=reading.content, content_sha256=digest(reading.content), file_sha256=reading.file_sha256,
                      file_name=file_name[:200], changes=lines, document=document[:120], document_date=document_date,
                      uploaded_by=user_id)
    s.add(row)
    await s.flush()
    return Proposal(row, lines)


async def sign(s: AsyncSession, rules: Rules, row_id: int, user: User | None, name: str, now: datetime,
               unit_id: int | None = None) -> RuleVersion:
    """Confirm a pending version: it becomes the pack's next official version, in force from
    this commit. Refused when it is not pending, or when another version was signed since the
    changes were shown (the officer would sign changes they never saw)."""
    row = await s.get(RuleVersion, row_id, with_for_update=True)
    if row is None or row.status != PENDING:
        raise SignRefused("rw_sign_none")
    latest = await s.scalar(select(func.max(RuleVersion.version)).where(
        RuleVersion.pack_id == row.pack_id, RuleVersion.status == OFFICIAL)) or 0
    if latest != row.base_version:
        row.status = DROPPED
        raise SignRefused("rw_sign_stale", version=latest)
    content = signed_content(row.content)
    row.content, row.content_sha256 = content, digest(content)
    row.version, row.status = latest + 1, OFFICIAL
    row.signed_by = user.id if user is not None else None
    row.signed_by_name, row.signed_at = name[:120], now
    rules.build(row)  # checked once more against today's forms before it is in force
    await s.flush()
    await after_signing(s, row, user, unit_id)
    return row


async def after_signing(s: AsyncSession, row: RuleVersion, user: User | None, unit_id: int | None) -> None:
    """The one place where a newly signed version is announced, in the signing transaction: it
    is recorded in the access log (who, which pack and version, under which document, the
    file's SHA-256). The re-scoring of the review's households under the new version follows in
    the same transaction, once the caller has the version in force (core/procedure/rules_signed.py
    `on_rules_signed`, called by the chat's confirmation and by `rasoat rules import --yes`)."""
    access_log.record(s, "rules_signed", user, unit_id, detail={
        "pack": row.pack_id, "version": row.version, "document": row.document,
        "document_date": row.document_date.isoformat(), "file_sha256": row.file_sha256})


async def history(s: AsyncSession, pack_id: str | None = None) -> list[RuleVersion]:
    """Every signed version (newest first), then those waiting for a confirmation."""
    query = select(RuleVersion).where(RuleVersion.status.in_((OFFICIAL, PENDING)))
    if pack_id is not None:
        query = query.where(RuleVersion.pack_id == pack_id)
    rows = (await s.scalars(query.order_by(RuleVersion.pack_id, RuleVersion.id.desc()))).all()
    return sorted(rows, key=lambda r: (r.pack_id, r.status != OFFICIAL, -(r.version or 0), -r.id))


def describe(row: RuleVersion) -> str:
    """One line of the list of versions."""
    if row.status == PENDING:
        return t("rw_list_pending", pack=row.pack_id, document=row.document, date=fmt_date(row.document_date),
                 n=len(row.changes or []), sha=row.file_sha256[:12])
    assert row.signed_at is not None
    return t("rw_list_official", pack=row.pack_id, version=row.version, document=row.document,
             date=fmt_date(row.document_date), by=row.signed_by_name or "?", at=fmt_date(row.signed_at),
             sha=row.file_sha256[:12], n=len(row.changes or []))
