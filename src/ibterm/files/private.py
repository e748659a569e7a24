"""Files only the user may read: the data directory (journal, log, crash reports, exports).

The journal and the log hold the account, every order and fill: on a shared execution box
other users must not read them. New directories are made 0700 and new files 0600, whatever
the umask. An existing data directory that is open to others is tightened when it holds
nothing but ibterm's own files (it is ours); one that holds other things (IBTERM_DATA_DIR
pointing at a shared folder) is left alone and the caller is told, so we never change the
permissions of something we did not make.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Literal

DIR_MODE = 0o700
FILE_MODE = 0o600
# What ibterm writes into its data directory (see docs/security.md).
_OURS = re.compile(r"(journal\.sqlite3.*|ibterm\.log(\.\d+)?|crash-[\d-]+\.txt)")


def private_dir(path: Path) -> list[str]:
    """Make sure `path` exists and only the user can enter it; return warnings (for the
    user, not the log: the log is inside) about a directory we could not tighten."""
    if not path.exists():
        # mkdir's mode is masked by the umask, which can only remove bits: 0700 or less.
        # Parents are the user's own business (~/.local/share): created with the default.
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # another ibterm made it meanwhile
            path.mkdir(mode=DIR_MODE)
        return []
    info = path.stat()
    if not stat.S_ISDIR(info.st_mode) or not info.st_mode & 0o077:
        return []
    foreign = [p.name for p in path.iterdir() if not _OURS.fullmatch(p.name)]
    if info.st_uid == os.getuid() and not foreign:
        try:
            path.chmod(DIR_MODE)
            return []
        except OSError:
            pass
    return [f"{path} can be read by other users and holds the journal and the log "
            f"(chmod 700 {path})"]


def tighten(path: Path) -> None:
    """An existing file of ours (written by an older ibterm with the umask's 0644) made
    0600; a missing one is fine."""
    with contextlib.suppress(FileNotFoundError):
        if path.stat().st_mode & 0o077:
            path.chmod(FILE_MODE)


def create_private(path: Path) -> None:
    """Create `path` empty as 0600 unless it exists (then tighten it): SQLite gives the
    -wal and -shm files the mode of the database file, so creating that one right is
    enough for all three."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        tighten(path)
    else:
        os.close(fd)


def open_private(path: Path, mode: Literal["a", "w", "x"] = "a",
                 encoding: str = "utf-8") -> IO[str]:
    """Open a text file for writing, created 0600 (an existing one is tightened)."""
    flags = os.O_WRONLY | os.O_CREAT | {"a": os.O_APPEND, "w": os.O_TRUNC,
                                        "x": os.O_EXCL}[mode]
    fd = os.open(path, flags, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # O_CREAT's mode does nothing to an existing file
        return os.fdopen(fd, mode, encoding=encoding)
    except BaseException:
        os.close(fd)
        raise


@contextlib.contextmanager
def replace_private(path: Path) -> Iterator[Path]:
    """Yield a 0600 temporary path beside `path`; when the block succeeds it replaces
    `path` in one step, when it fails `path` is untouched (an old export is never lost
    to a half-written new one)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)  # mkstemp made it 0600; the writer reopens it by name
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
