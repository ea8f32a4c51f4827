"""How a unit is named in a document: in a sentence («Ủy ban nhân dân xã Ba Sơn», the kind in
small letters; a header prints it in capitals with |upper) and as the place of the date line
(«Ba Sơn, ngày …»: the unit's name without its kind, NĐ 30/2020 Phụ lục I)."""

from __future__ import annotations

from dataclasses import dataclass

from core.storage.models import Unit


@dataclass(frozen=True)
class UnitWords:
    sentence: str  # «xã Ba Sơn», «Thôn Nà Pàn» for a village (its name is its own)
    place: str  # «Ba Sơn», «Nà Pàn»


def unit_words(unit: Unit) -> UnitWords:
    name, kind = unit.name.strip(), (unit.kind or "").strip()
    bare = name[len(kind):].strip() if kind and name.lower().startswith(kind.lower() + " ") else name
    if unit.level == "village":
        return UnitWords(name, bare)
    return UnitWords(f"{kind.lower()} {bare}" if kind and bare != name else name, bare)
