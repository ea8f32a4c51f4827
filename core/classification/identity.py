"""Which rules produced a result: a rule pack's content as canonical JSON, and its SHA-256.

A classification stores the pack's id, version and this digest. The version says which signed
text the province meant; the digest says what the rules actually were, byte for byte, so two
results with one digest were computed by the same rules whatever the files were called, and an
edited file can never pass for the version it replaced. Only what decides or is printed is
hashed: thresholds, indicator rules and names, the B1 table and Phiếu A's criteria. Where a
file lives, its lines, its provenance and the confidence tags are not rules (a table signed
official without a change keeps its digest).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only the types: pack.py imports this module
    from core.classification.b1 import B1Table
    from core.classification.pack import RulePack
    from core.classification.screening import StopRule


def _b1(table: B1Table | None) -> dict[str, Any] | None:
    if table is None:
        return None
    return {
        "id": table.id, "title": table.title, "form": table.form,
        "schemes": {k: list(v) for k, v in table.schemes.items()}, "base": table.base,
        "items": [{"question": i.question, "label": i.label, "points": i.points,
                   "bands": [{"max": b.max, "points": b.points} for b in i.bands]} for i in table.items],
    }


def _phieu_a(rule: StopRule | None) -> dict[str, Any] | None:
    if rule is None:
        return None
    return {
        "id": rule.id, "form": rule.form,
        "stop_when": [{"group": g.group, "at_least": g.at_least, "label": g.label} for g in rule.stop_when],
        "criteria": [{"code": c.code, "group": c.group, "label": c.label, "when": c.when.source}
                     for c in rule.criteria],
    }


def canonical(pack: RulePack) -> dict[str, Any]:
    """The effective rule content of a pack, as plain JSON values."""
    return {
        "id": pack.id, "title": pack.title, "short": pack.short, "basis": pack.basis,
        "years": [pack.year_from, pack.year_to], "area_by_commune_type": pack.area_by_commune_type,
        "income_line": pack.income_line, "b1_line": pack.b1_line,
        "points_per_indicator": pack.points_per_indicator, "poor_min_deprived": pack.poor_min_deprived,
        "average_band": {k: list(v) for k, v in pack.average_band.items()} if pack.average_band else None,
        "params": pack.params,
        "indicators": [{"number": i.number, "code": i.code, "service": i.service, "name": i.name,
                        "deprived_when": i.source} for i in pack.indicators],
        "b1_table": _b1(pack.b1), "phieu_a": _phieu_a(pack.stop_rule),
    }


def canonical_json(pack: RulePack) -> str:
    """Sorted keys, no spaces, UTF-8 text kept as is: the same rules always give the same bytes."""
    return json.dumps(canonical(pack), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest_of(pack: RulePack) -> str:
    return hashlib.sha256(canonical_json(pack).encode("utf-8")).hexdigest()
