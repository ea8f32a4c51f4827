"""Where a data file's content comes from, declared in the file itself.

A rule the law fixes but nobody here has seen must still be usable, yet never pass for
official: each data file may carry a `provenance` block (status, source, what is missing or
assumed), and `rasoat check` prints it, so an official sees at start-up which tables are
placeholders to correct.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.datafile import DataFileError, check_keys, line_of, load_yaml, require

STATUSES = ("official", "secondary", "assumption")
_KEYS = {"status", "source", "missing", "assumptions"}


@dataclass(frozen=True)
class Provenance:
    status: str  # official (text seen), secondary (third-party copy), assumption (not found)
    source: str
    missing: tuple[str, ...] = ()
    assumptions: tuple[str, ...] = ()

    @property
    def provisional(self) -> bool:
        return self.status == "assumption" or bool(self.missing) or bool(self.assumptions)


def parse_provenance(raw: Any, path: str | Path) -> Provenance | None:
    """Checks the block; an 'assumption' must say what it lacks, an 'official' may lack nothing."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise DataFileError(path, line_of(raw), "provenance must be a mapping of status, source, missing")
    check_keys(raw, _KEYS, path)
    status = require(raw, "status", path, str)
    if status not in STATUSES:
        raise DataFileError(path, line_of(raw), f"provenance status must be one of {', '.join(STATUSES)}")
    source = str(require(raw, "source", path, str)).strip()
    lists = {}
    for key in ("missing", "assumptions"):
        items = raw.get(key) or []
        if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
            raise DataFileError(path, line_of(raw), f"provenance {key} must be a list of sentences")
        lists[key] = tuple(i.strip() for i in items)
    if status == "assumption" and not (lists["missing"] or lists["assumptions"]):
        raise DataFileError(path, line_of(raw), "an 'assumption' provenance must list what is missing or assumed")
    if status == "official" and lists["missing"]:
        raise DataFileError(path, line_of(raw), "an 'official' provenance cannot have missing items")
    return Provenance(status, source, lists["missing"], lists["assumptions"])


def provenance_of(path: str | Path) -> Provenance | None:
    """The provenance block of a YAML data file (None when the file declares none)."""
    doc = load_yaml(path)
    return parse_provenance(doc.get("provenance"), path) if isinstance(doc, dict) else None


def describe(path: str | Path) -> list[str]:
    """Indented lines for `rasoat check`: the source, then every missing or assumed item."""
    prov = provenance_of(path)
    if prov is None:
        return ["    source: not declared in the file (see its header comments)"]
    lines = [f"    source [{prov.status}]: {' '.join(prov.source.split())}"]
    lines += [f"    MISSING: {item}" for item in prov.missing]
    lines += [f"    ASSUMPTION: {item}" for item in prov.assumptions]
    return lines
