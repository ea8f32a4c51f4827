"""The `rasoat` command (entry point `bot.cli:main`). Each subcommand is one module here
exporting a `Command` row; `table.py` lists them."""

from bot.cli.main import main

__all__ = ["main"]
