"""The diagnostic log (not the order journal): a rotating file in the data directory.

Nothing may print over the TUI, so while the app runs every logger, ib_async's included,
writes to the file only. The log is for diagnosing the app, not an account statement:
- files are 0600 in a 0700 directory (ibterm.files.private);
- ib_async logs every account value, position, P&L and order at INFO: its loggers are
  kept at WARNING unless DEBUG is asked for;
- account ids are masked in every record (`DU1234567` -> `DU…567`), and in crash reports.
"""

from __future__ import annotations

import datetime as dt
import logging
import logging.handlers
import os
import re
import sys
from pathlib import Path

from ibterm.files.private import open_private, private_dir, tighten

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
LOG_NAME = "ibterm.log"
BACKUPS = 3
CHATTY = ("ib_async", "eventkit")  # their INFO is the account's contents

# IB account ids: U (individual), DU (its paper twin), F / DF (advisor masters), I / DI
# (introducing brokers), then six or more digits. The last three digits stay so that
# two accounts in one log can still be told apart.
_ACCOUNT = re.compile(r"\b(D?[UFI])\d{3,}(\d{3})\b")


def mask_accounts(text: str) -> str:
    return _ACCOUNT.sub(lambda m: f"{m.group(1)}…{m.group(2)}", text)


class MaskAccounts(logging.Filter):
    """Masks account ids in the message, its arguments and any traceback, before any
    formatter sees the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_accounts(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            # The formatter reuses exc_text: rendering it here lets us mask it.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_accounts(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_accounts(record.stack_info)
        return True


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """RotatingFileHandler whose file is created 0600 (rotation renames it: the
    backups keep the mode)."""

    def _open(self):  # type: ignore[no-untyped-def]
        return open_private(Path(self.baseFilename), "a" if "a" in self.mode else "w",
                            encoding=self.encoding or "utf-8")


def log_to_file(directory: Path, level: str) -> Path:
    """Log to `directory`/ibterm.log (made private: ibterm.files.private.private_dir, whose
    warnings the CLI shows before the TUI takes the terminal); return the log's path."""
    private_dir(directory)
    path = directory / LOG_NAME
    for backup in [path, *(path.with_name(f"{LOG_NAME}.{i}") for i in range(1, BACKUPS + 1))]:
        tighten(backup)  # left 0644 by an older ibterm
    handler = PrivateRotatingFileHandler(path, maxBytes=5_000_000, backupCount=BACKUPS,
                                         encoding="utf-8")
    _install(handler, level)
    return path


def log_to_stderr(level: str) -> None:
    _install(logging.StreamHandler(sys.stderr), level)


def _install(handler: logging.Handler, level: str) -> None:
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(MaskAccounts())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level)
    for name in CHATTY:
        # NOTSET: at DEBUG they follow the root, everything is wanted then.
        logging.getLogger(name).setLevel(logging.NOTSET if level == "DEBUG"
                                         else logging.WARNING)


def write_crash_report(directory: Path, text: str) -> Path:
    """Write `text` (a traceback, the app's state) to a new 0600 file
    crash-YYYYmmdd-HHMMSS.txt in `directory`, account ids masked; return its path.
    Never overwrites an earlier report: a second crash in the same second gets a suffix."""
    private_dir(directory)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    body = mask_accounts(text)
    for n in range(1000):
        path = directory / (f"crash-{stamp}.txt" if n == 0 else f"crash-{stamp}-{n}.txt")
        try:
            with open_private(path, "x") as out:
                out.write(body)
                out.flush()
                os.fsync(out.fileno())
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"{directory}: too many crash reports for {stamp}")

