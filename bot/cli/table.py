"""The `rasoat` subcommands, in the order `rasoat --help` lists them. A new subcommand is a
module exporting a `Command` and one line here."""

from __future__ import annotations

from bot.cli import audit, backup, chat, check, db, importing, plan, rekey, report, rules, run, scheduler, units, users
from bot.cli.command import Command

COMMANDS: tuple[Command, ...] = (
    run.COMMAND,
    chat.COMMAND,
    db.COMMAND,
    units.COMMAND,
    check.COMMAND,
    rules.COMMAND,
    scheduler.COMMAND,
    plan.COMMAND,
    report.COMMAND,
    backup.BACKUP,
    backup.RESTORE,
    rekey.COMMAND,
    users.COMMAND,
    audit.COMMAND,
    importing.COMMAND,
)
