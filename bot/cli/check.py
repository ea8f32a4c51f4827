"""`rasoat check`: validate every data file, then list each with its source and what it still
assumes, so an official sees at a glance which tables are placeholders to correct. Needs no
database."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli.command import Command
from core.chat.commands import slash
from core.classification.provisional import provisional_parts
from core.classification.screening import load_phieu_a
from core.config import Settings
from core.datafile import DataFileError
from core.datafiles import load_data_files
from core.i18n import t
from core.procedure.screening import procedure
from core.procedure.standards import REVIEW_YEARS, by_rule, load_review_years, standard_detail
from core.provenance import describe, provenance_of


def offline(_args: argparse.Namespace, settings: Settings) -> int:
    try:
        data = load_data_files()
        phieu_a, stop_rule = load_phieu_a()
        rules = load_review_years(data.packs, settings.review_years_file or REVIEW_YEARS)
        standard = by_rule(rules, data.packs, settings.review_year)
    except (DataFileError, LookupError) as exc:
        print(f"LỖI: {exc}", file=sys.stderr)
        return 1
    # the standard this deployment's review year applies, and why (issue 21 point 1); the
    # province's recorded choice and signed versions are in the store, shown by /chuanapdung
    for line in standard_detail(standard):
        print(line)
    print(t("rw_check_store_note", standard=slash("standard"), versions=slash("rules_versions")))
    entries: list[tuple[str, str | Path]] = []
    for f in data.forms.values():
        entries.append((f"form {f.key}: {f.title}", f.path))
    for p in data.packs:
        entries.append((f"rule pack {p.id} version {p.version} (sha256 {p.digest[:12]}): years {p.year_from}-"
                        f"{p.year_to}, {len(p.indicators)} indicators, {len(provisional_parts(p))} provisional "
                        "parts («TẠM TÍNH»)", p.path))
        if p.b1 is not None:
            entries.append((f"B1 table {p.b1.id} (pack {p.id}, form {p.b1.form}): {len(p.b1.items)} scored items",
                            p.b1.path))
    entries.append((f"form {phieu_a.key}: {phieu_a.title} (screening, before Phiếu B)", phieu_a.path))
    entries.append((f"Phiếu A stop rule {stop_rule.id}: {len(stop_rule.criteria)} criteria", stop_rule.path))
    for table in data.reports.tables.values():
        entries.append((f"report table {table.id}: {table.form}", table.path))
    lists = data.reports.lists
    if lists.lists:
        entries.append((f"household lists: {', '.join(lists.lists)}", next(iter(lists.lists.values())).path))
    proc = procedure()
    entries.append((f"procedure {proc.id} v{proc.version}: {len(proc.steps)} steps, meeting "
                    f"{proc.min_agreement_percent:g}%, posting {proc.posting_days} working days", proc.path))
    for plan in data.plans:
        entries.append((f"plan {plan.id} v{plan.version}: year {plan.year}, {len(plan.phases)} phases, "
                        f"{len(plan.reports)} report requests [{plan.reliability}]", plan.path))
    for doc in data.documents.values():
        entries.append((f"Word template {doc.id}: {doc.title} ({doc.template.name}, "
                        f"{len(doc.placeholders)} placeholders)", doc.path))
    provisional, undeclared = [], 0
    for title, path in entries:
        print(f"{title} ({path})")
        for line in describe(path):
            print(line)
        prov = provenance_of(path)
        if prov is not None and prov.provisional:
            provisional.append(path)
        undeclared += prov is None
    print(f"{len(entries)} data files valid; {undeclared} declare no source; "
          f"{len(provisional)} hold assumptions or missing official content:")
    for path in provisional:
        print(f"  - {path}")
    return 0


COMMAND = Command("check", "validate forms, rule packs and messages, and print a summary", offline=offline)
