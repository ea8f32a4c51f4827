"""A rule pack as plain content (JSON): what the workbook shows, what a signed version stores,
and what is compared to show the officer what changes.

The content of the shipped YAML and of a signed version have the same shape, and both become
a RulePack through the loaders of core/classification (pack_from_doc, b1_from_doc,
stop_rule_from_doc), so a version the province signed is checked exactly like a data file.
Where each part comes from (`sources`) is kept per part, so a part the officer checked
against the printed text becomes official while the others stay provisional.
"""

from __future__ import annotations

import hashlib
import json
from copy import deepcopy
from typing import Any

from core.classification.b1 import B1Table, b1_from_doc
from core.classification.pack import RulePack, pack_from_doc
from core.classification.screening import StopRule, stop_rule_from_doc
from core.datafile import Errors
from core.i18n import t
from core.provenance import Provenance, parse_provenance
from core.surveys.model import Survey

PARTS = ("chung", "chi_so", "b1", "phieu_a")  # general, indicators, B1 table, Phiếu A
OFFICIAL_TAG = "C"  # the confidence of an indicator whose part was signed as official


def _prov(prov: Provenance | None) -> dict[str, Any]:
    if prov is None:
        return {"status": "secondary", "document": "", "date": "", "page": "", "source": "", "missing": [],
                "assumptions": []}
    return {"status": prov.status, "document": "", "date": "", "page": "", "source": " ".join(prov.source.split()),
            "missing": list(prov.missing), "assumptions": list(prov.assumptions)}


def _indicator_status(pack: RulePack) -> str:
    tags = {i.confidence for i in pack.indicators}
    if tags <= {OFFICIAL_TAG}:
        return "official"
    return "assumption" if tags & {"R", "NF", "assumption"} else "secondary"


def b1_content(table: B1Table) -> dict[str, Any]:
    items = []
    for item in table.items:
        entry: dict[str, Any] = {"question": item.question, "label": item.label}
        if item.bands:
            entry["bands"] = [{"max": b.max, "points": dict(b.points)} for b in item.bands]
        else:
            entry["points"] = {answer: dict(points) for answer, points in item.points.items()}
        items.append(entry)
    applying = {table.scheme_for(area) for area in ("rural", "urban")}
    return {"id": table.id, "title": table.title, "form": table.form,
            "schemes": {s: {"label": label, "area": area, "applies": s in applying}
                        for s, (label, area) in table.schemes.items()},
            "base": dict(table.base), "items": items}


def stop_rule_content(rule: StopRule) -> dict[str, Any]:
    return {"id": rule.id, "form": rule.form,
            "stop_when": [{"group": g.group, "at_least": g.at_least, "label": g.label} for g in rule.stop_when],
            "criteria": [{"code": c.code, "group": c.group, "label": c.label, "when": c.when.source}
                         for c in rule.criteria]}


def content_of(pack: RulePack, stop_rule: StopRule, sources: dict[str, Any] | None = None) -> dict[str, Any]:
    """The pack as content; `stop_rule` is Phiếu A's rule in force with it. Without `sources`
    (the shipped YAML) each part's source is read from the files' provenance blocks."""
    band = None if pack.average_band is None else {
        area: {"above": low, "up_to": high} for area, (low, high) in pack.average_band.items()}
    body = {
        "id": pack.id, "title": pack.title, "short": pack.short, "basis": pack.basis,
        "years": {"from": pack.year_from, "to": pack.year_to},
        "area_by_commune_type": dict(pack.area_by_commune_type),
        "income_line": dict(pack.income_line), "b1_line": None if pack.b1_line is None else dict(pack.b1_line),
        "points_per_indicator": pack.points_per_indicator, "poor_min_deprived": pack.poor_min_deprived,
        "average_band": band, "params": dict(pack.params),
        "indicators": [{"number": i.number, "code": i.code, "service": i.service, "name": i.name,
                        "confidence": i.confidence, "deprived_when": " ".join(i.source.split())}
                       for i in pack.indicators],
    }
    if sources is None:
        general = _prov(pack.provenance)
        indicators = {**general, "status": _indicator_status(pack)}
        if indicators["status"] == "assumption" and not (indicators["missing"] or indicators["assumptions"]):
            indicators["assumptions"] = [t("rw_indicators_unchecked")]
        if indicators["status"] == "official":
            indicators["missing"] = []
        sources = {"chung": general, "chi_so": indicators,
                   "b1": _prov(pack.b1.provenance if pack.b1 else None), "phieu_a": _prov(stop_rule.provenance)}
        if pack.b1 is None:
            sources["b1"] = {**sources["b1"], "status": "assumption", "missing": [t("rw_b1_missing")]}
    return {"pack": body, "b1": b1_content(pack.b1) if pack.b1 else None,
            "phieu_a": stop_rule_content(stop_rule), "sources": deepcopy(sources)}


def digest(content: dict[str, Any]) -> str:
    """SHA-256 of the content in one canonical spelling (sorted keys, UTF-8)."""
    text = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def provenance_dict(entry: dict[str, Any], signed: str = "") -> dict[str, Any]:
    """A part's source as the provenance block the loaders check: an official part names the
    text it was read from (number, date, page) and the document it was signed under."""
    source = str(entry.get("source") or "").strip()
    if entry.get("document"):
        cited = t("rw_source_document", document=entry["document"], date=entry.get("date") or "?")
        if entry.get("page"):
            cited += t("rw_source_page", page=entry["page"])
        source = f"{source}; {cited}" if source else cited
    if signed and entry.get("status") == "official":
        source += t("rw_source_signed", signed=signed)
    return {"status": entry.get("status"), "source": source, "missing": list(entry.get("missing") or []),
            "assumptions": list(entry.get("assumptions") or [])}


def signed_content(content: dict[str, Any]) -> dict[str, Any]:
    """What is stored when the officer signs: the indicators of a part signed as official
    carry the official tag, so whatever reads the tags sees them as official."""
    out = deepcopy(content)
    if out["sources"].get("chi_so", {}).get("status") == "official":
        for ind in out["pack"]["indicators"]:
            ind["confidence"] = OFFICIAL_TAG
    return out


def build_pack(content: dict[str, Any], where: str, forms: dict[str, Survey], phieu_a_form: Survey,
               version: int = 0, signed: str = "") -> RulePack:
    """A RulePack from content, through the same loaders and checks as the YAML files, and
    compiled against every poverty form (so a table naming a question the form lacks is
    refused here, not mid-survey). Raises one DataFileError naming `where` that lists the
    mistakes of every part (a part that failed is left out of the checks that need it)."""
    errors = Errors()
    sources = content.get("sources") or {}
    for part in PARTS:  # each part's source is checked like a file's provenance block
        with errors.catch():
            parse_provenance(provenance_dict(sources.get(part) or {"status": "secondary", "source": ""}, signed),
                             where)
    b1 = stop_rule = None
    if content.get("b1") is not None:
        with errors.catch():
            b1 = b1_from_doc({**content["b1"], "provenance": provenance_dict(sources["b1"], signed)}, where)
    if content.get("phieu_a") is not None:
        with errors.catch():
            rule_doc = {**content["phieu_a"], "provenance": provenance_dict(sources["phieu_a"], signed)}
            stop_rule = stop_rule_from_doc(rule_doc, where, phieu_a_form)
    pack_doc = {**content["pack"], "provenance": provenance_dict(sources["chung"], signed)}
    with errors.catch():
        pack = pack_from_doc(pack_doc, where, b1=b1, stop_rule=stop_rule, version=version)
        if not errors:  # a rule is compiled against the forms once every part of it read
            for survey in forms.values():
                if survey.purpose == "poverty":
                    pack.compiled(survey)
    errors.raise_any()
    return pack
