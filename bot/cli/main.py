"""The `rasoat` command: the parser and the run, both built from the command table."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import sys
from collections.abc import Sequence

from bot.app import build_app
from bot.cli.command import Command
from bot.cli.process import pipe_closed, protect_data_dir, read_only
from bot.cli.table import COMMANDS
from core.config import Settings


def build_parser(commands: Sequence[Command] = COMMANDS) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rasoat", description="Rà soát hộ nghèo, hộ cận nghèo")
    sub = parser.add_subparsers(dest="cmd", required=True)
    for command in commands:
        command.arguments(sub.add_parser(command.name, help=command.help))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = next(c for c in COMMANDS if c.name == args.cmd)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    if (refused := protect_data_dir(settings)) is not None:
        return refused
    try:
        code = command.offline(args, settings) if command.offline else None
        if code is None:
            code = asyncio.run(_online(command, args, settings))
        sys.stdout.flush()  # inside the try: a closed pipe shows here, not as "Exception ignored" at exit
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return pipe_closed()
    except OSError as exc:
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return read_only(exc.filename or settings.data_dir, exc)
        raise


async def _online(command: Command, args: argparse.Namespace, settings: Settings) -> int:
    if command.online is None:
        return 0
    service = await build_app(settings)
    try:
        return await command.online(args, settings, service)
    finally:
        await service.db.dispose()
