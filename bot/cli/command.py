"""One row of the `rasoat` command table: a subcommand's name, help, arguments and what it does.

A subcommand is written in one module that exports such a row; `bot/cli/table.py` lists the
rows and `bot/cli/main.py` builds the argument parser and runs the chosen one from them."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.app import ChatApp
from core.config import Settings

Arguments = Callable[[argparse.ArgumentParser], None]
# Work done before the database is opened; an int is the exit code and ends the command, None
# goes on to `Online` (if the command has one).
Offline = Callable[[argparse.Namespace, Settings], int | None]
# Work done with the application built on the database (closed afterwards by main).
Online = Callable[[argparse.Namespace, Settings, ChatApp], Awaitable[int]]


def no_arguments(_parser: argparse.ArgumentParser) -> None:
    """For subcommands that take none."""


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    arguments: Arguments = no_arguments
    offline: Offline | None = None
    online: Online | None = None

    def __post_init__(self) -> None:
        if self.offline is None and self.online is None:
            raise ValueError(f"command {self.name!r} does nothing: give it offline or online work")
