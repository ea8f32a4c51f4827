"""Files that hold personal data or keys: owner-only permissions and atomically created secrets.

The data folder holds the database, report workbooks with names and ID numbers, uploaded
files and the keys that sign links and seal ID numbers. Decree 13/2023/NĐ-CP asks that such
data be protected from other users of the machine, so everything the process creates is owner
only (umask 0o077 set once at start-up, plus an explicit chmod where a file is made, in case
the process was started another way).

Secrets are created so that two processes starting at once on a fresh folder end with the same
non-empty key: the key is written in full to a temporary file, then hard-linked to its name,
which fails if the name exists; the loser reads the winner's key. A reader never sees a file
half written, and an empty or truncated key file is refused instead of signing with it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
UMASK = 0o077


class SecretError(RuntimeError):
    """A key file exists but cannot be used (empty, too short, unreadable)."""


def restrict_process() -> int:
    """Owner-only permissions on every file this process creates from now on; returns the old
    umask. Called once by the CLI before anything touches the data folder."""
    return os.umask(UMASK)


def private_dir(path: Path) -> Path:
    """The folder, created owner-only if missing (existing folders are tightened)."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o777 != DIR_MODE:
        path.chmod(DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Tighten a file this process just wrote (umask may not have been set by our CLI)."""
    if path.stat().st_mode & 0o777 != FILE_MODE:
        path.chmod(FILE_MODE)
    return path


def read_or_create_secret(path: Path, make: Callable[[], str] = lambda: secrets.token_hex(32),
                          min_length: int = 32) -> str:
    """The secret stored at path, created atomically (0600) if there is none yet."""
    if not path.exists():
        private_dir(path.parent)
        value = make().strip()
        if len(value) < min_length:
            raise SecretError(f"generated secret for {path} is too short")
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(value + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(FileExistsError):  # another process won: use its key
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    try:
        value = path.read_text().strip()
    except OSError as exc:
        raise SecretError(f"cannot read {path}: {exc}") from exc
    if len(value) < min_length:
        raise SecretError(f"{path} is empty or too short ({len(value)} characters); "
                          f"restore it from a backup or delete it to make a new one")
    if path.stat().st_mode & 0o077:
        path.chmod(FILE_MODE)
    return value


def tighten_tree(root: Path) -> int:
    """Owner-only permissions on an existing data folder (files written before this release, or
    by a process started without our umask); returns how many entries were changed."""
    changed = 0
    if not root.is_dir():
        return 0
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        want = DIR_MODE if path.is_dir() else FILE_MODE
        try:
            if path.stat().st_mode & 0o777 & ~want:
                path.chmod(path.stat().st_mode & want)
                changed += 1
        except OSError:
            continue
    return changed


def keep_private_copy(source: Path, target: Path) -> None:
    """Copied out of the uploads folder (which deletes what no report submission keeps), private
    to this server's user like every upload."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    target.chmod(0o600)
