"""`rasoat rules export PACK [--out FILE]`, `rasoat rules import FILE [--by NAME --document
"SỐ, NGÀY"] [--yes]` and `rasoat rules list`: the rules workbook from the command line (the
work is core/rules/; the chat does the same with /xuatquydinh, /nhapquydinh, /kyquydinh).

Without --yes an import only shows what would change; with it, the version is signed at once
under the cited document, recorded as signed by NAME."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.app import ChatApp
from bot.cli.command import Command
from core.chat import refs
from core.config import Settings
from core.i18n import fmt_date, t
from core.procedure.rules_signed import on_rules_signed
from core.rules.cells import WorkbookRefused
from core.rules.versions import SignRefused, describe, history, preview, propose, provisional_parts, sign


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["export", "import", "list"])
    parser.add_argument("target", nargs="?", help="export: the pack id (e.g. nd351_2025); import: the .xlsx file")
    parser.add_argument("--out", help="export: where to write the workbook (default quy_dinh_PACK_vN.xlsx)")
    parser.add_argument("--by", help="import: the name of the official who signs")
    parser.add_argument("--document", help='import: the document it is signed under, "NUMBER, DD/MM/YYYY"')
    parser.add_argument("--yes", action="store_true", help="import: sign the new version (needs --by, --document)")


async def online(args: argparse.Namespace, settings: Settings, service: ChatApp) -> int:
    data = service.data
    async with service.db.read() as s:
        await data.refresh_rules(s)
    if args.action == "export":
        return _export(service, args)
    if args.action == "list":
        async with service.db.read() as s:
            rows = await history(s, args.target)
        for pack in data.rules.in_force():
            print(t("rw_list_in_force", pack=pack.id, name=pack.name, version=pack.version))
        for row in rows:
            print(describe(row))
        return 0
    return await _import(service, args)


def _export(service: ChatApp, args: argparse.Namespace) -> int:
    rules = service.data.rules
    if args.target not in rules.packs:
        print(t("rw_cli_pack", packs=", ".join(rules.packs)), file=sys.stderr)
        return 2
    pack = rules.packs[args.target]
    out = Path(args.out or f"quy_dinh_{pack.id}_v{pack.version}.xlsx")
    rules.export(pack.id, out)
    print(t("rw_cli_exported", path=out, pack=pack.name, version=pack.version))
    return 0


async def _import(service: ChatApp, args: argparse.Namespace) -> int:
    rules = service.data.rules
    if not args.target:
        print(t("rw_cli_file"), file=sys.stderr)
        return 2
    cited = None
    if args.document:
        number, _, day = args.document.rpartition(",")
        when = refs.day(day.strip())
        cited = (number.strip(), when) if number.strip() and when is not None else None
    if args.yes and (cited is None or not (args.by or "").strip()):
        print(t("rw_cli_sign_needs"), file=sys.stderr)
        return 2
    path = Path(args.target)
    try:
        reading = rules.read(path)
    except WorkbookRefused as exc:
        print(t("rw_refused", file=path.name, n=len(exc.errors)), file=sys.stderr)
        for error in exc.errors:
            print(f"  • {error}", file=sys.stderr)
        return 1
    pack = rules.packs[reading.pack_id]
    lines = preview(rules, reading)
    if not lines:
        print(t("rw_no_change", file=path.name, pack=pack.name, version=pack.version))
        return 0
    print(t("rw_changes", file=path.name, pack=pack.name, version=pack.version, n=len(lines)))
    for line in lines:
        print(f"  • {line}")
    if not args.yes or cited is None:
        print(t("rw_cli_not_signed"))
        return 0
    async with service.db.transaction() as s:
        proposal = await propose(s, rules, reading, cited[0], cited[1], None, path.name)
        assert proposal.row is not None
        try:
            row = await sign(s, rules, proposal.row.id, None, args.by.strip(), service.clock())
        except SignRefused as exc:
            print(t(exc.key, **exc.params, cmd="rasoat rules import"), file=sys.stderr)
            return 1
        await service.data.refresh_rules(s)
        proposals = await on_rules_signed(s, service.data, row.pack_id, row.version)
        print(t("rw_signed", pack=row.pack_id, version=row.version, document=row.document,
                date=fmt_date(row.document_date), sha=row.file_sha256))
        print(t("rw_rescore_sent", communes=len(proposals), changed=sum(p.changed for p in proposals)))
        still = provisional_parts(row.content)
        if still:
            print(t("rw_still_provisional", parts=", ".join(still)))
    return 0


COMMAND = Command("rules", "export, import and list the rule packs' versions (the rules workbook)", arguments,
                  online=online)
