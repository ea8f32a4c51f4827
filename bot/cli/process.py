"""What every subcommand shares about the process: an owner-only data folder, and the ways a
run ends that are not a program error (a read-only folder, a reader that went away)."""

from __future__ import annotations

import os
import sys

from core.config import Settings
from core.i18n import t
from core.private import private_dir, restrict_process, tighten_tree


def protect_data_dir(settings: Settings) -> int | None:
    """Owner-only files from here on (umask) and on what is already there; a data folder we
    cannot write is said in one line, not a traceback."""
    restrict_process()
    try:
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        probe = settings.data_dir / f".write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
        private_dir(settings.data_dir)
    except OSError as exc:
        return read_only(settings.data_dir, exc)
    tighten_tree(settings.data_dir)
    return None


def read_only(path: object, exc: OSError) -> int:
    print(t("sec_data_dir_readonly", path=path, reason=exc.strerror or exc), file=sys.stderr)
    return 4


def pipe_closed() -> int:
    """The reader of our output went away (`rasoat report | head -1`): that is the reader's choice,
    not an error to show. Python ignores SIGPIPE, so a write raises instead; point stdout at
    /dev/null so the interpreter's last flush does not raise again, and exit as a process killed
    by SIGPIPE would (128 + 13)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141
