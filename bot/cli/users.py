"""`rasoat users list|disable|enable|revoke`: the operator at the server's console stands above
everyone; every change is logged."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import select

from bot.app import ChatApp
from bot.cli.command import Command
from core.accounts import AccountError
from core.accounts_admin import revoke_code, set_disabled
from core.config import Settings
from core.storage.models import Unit, User


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["list", "disable", "enable", "revoke"])
    parser.add_argument("target", nargs="?", help="user id (disable, enable) or invite code (revoke)")


async def online(args: argparse.Namespace, _settings: Settings, service: ChatApp) -> int:
    async with service.db.transaction() as s:
        if args.action == "list":
            rows = (await s.execute(select(User, Unit.name).outerjoin(Unit, Unit.id == User.unit_id)
                                    .order_by(User.id))).all()
            for user, unit in rows:
                state = "DISABLED" if user.disabled_at else "active"
                print(f"{user.id:>6}  {state:<8}  {user.role:<12}  {user.channel}:{user.external_id:<14}  "
                      f"{user.display_name}  ({unit or '-'})")
            return 0
        if not args.target:
            print(f"usage: rasoat users {args.action} {'CODE' if args.action == 'revoke' else 'USER_ID'}",
                  file=sys.stderr)
            return 2
        try:
            if args.action == "revoke":
                invite = await revoke_code(s, None, args.target)
                print(f"code {invite.code} revoked")
                return 0
            found = await s.get(User, int(args.target)) if args.target.isdigit() else None
            if found is None:
                print(f"no user with id {args.target!r}", file=sys.stderr)
                return 2
            await set_disabled(s, None, found, args.action == "disable")
            print(f"user {found.id} ({found.display_name}) {args.action}d")
        except AccountError as exc:
            print(f"refused: {exc.key}", file=sys.stderr)
            return 2
    return 0


COMMAND = Command("users", "list users; disable or enable one; revoke an unused invite code", arguments,
                  online=online)
