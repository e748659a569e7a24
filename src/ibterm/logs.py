"""The diagnostic log (not the order journal): a rotating file in the data directory.

Nothing may print over the TUI, so while the app runs every logger, ib_async's included,
writes to the file only.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def log_to_file(directory: Path, level: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "ibterm.log"
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=5_000_000, backupCount=3,
                                                   encoding="utf-8")
    _install(handler, level)
    return path


def log_to_stderr(level: str) -> None:
    _install(logging.StreamHandler(sys.stderr), level)


def _install(handler: logging.Handler, level: str) -> None:
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
