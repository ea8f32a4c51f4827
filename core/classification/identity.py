"""Which rules produced a result: a rule pack's content as canonical JSON, and its SHA-256.

A classification stores the pack's id, version and this digest. The version says which signed
text the province meant; the digest says what the rules actually were, byte for byte, so two
results with one digest were computed by the same rules whatever the files were called, and an
edited file can never pass for the version it replaced. Only what decides or is printed is
hashed: thresholds, indicator rules (in one spelling) and names, the B1 table and Phiếu A's criteria. Where a
file lives, its lines, its provenance and the confidence tags are not rules (a table signed
official without a change keeps its digest).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from core.classification.b1 import B1Table
from core.classification.screening import StopRule
from core.expr import canonical_source


def _b1(table: B1Table | None) -> dict[str, Any] | None:
    if table is None:
        return None
    return {
        "id": table.id, "title": table.title, "form": table.form,
        "schemes": {k: list(v) for k, v in table.schemes.items()}, "base": table.base,
        # which column each area is scored with decides the score as much as the points do
        "applying": {area: table.scheme_for(area) for area in ("rural", "urban")},
        "items": [{"question": i.question, "label": i.label, "points": i.points,
                   "bands": [{"max": b.max, "points": b.points} for b in i.bands]} for i in table.items],
    }


def _phieu_a(rule: StopRule | None) -> dict[str, Any] | None:
    if rule is None:
        return None
    return {
        "id": rule.id, "form": rule.form,
        "stop_when": [{"group": g.group, "at_least": g.at_least, "label": g.label} for g in rule.stop_when],
        "criteria": [{"code": c.code, "group": c.group, "label": c.label, "when": canonical_source(c.when.source)}
                     for c in rule.criteria],
    }


def canonical(body: dict[str, Any], b1: B1Table | None, stop_rule: StopRule | None) -> dict[str, Any]:
    """The effective rule content of a pack, as plain JSON values: `body` is the pack's own
    rules (RulePack.rules_body), with its B1 table and Phiếu A criteria."""
    return {**body, "b1_table": _b1(b1), "phieu_a": _phieu_a(stop_rule)}


def canonical_json(content: dict[str, Any]) -> str:
    """Sorted keys, no spaces, UTF-8 text kept as is: the same rules always give the same bytes."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest_of(body: dict[str, Any], b1: B1Table | None, stop_rule: StopRule | None) -> str:
    return hashlib.sha256(canonical_json(canonical(body, b1, stop_rule)).encode("utf-8")).hexdigest()
