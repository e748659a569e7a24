"""bench/startup.py reads `ibterm demo`'s first quote off a real terminal and the demo's
import log: run it once, so that a change to the watchlist's row, the demo's imports or
the deferred modules breaks here and not on the next `make bench`. The figures
themselves are not looked at: no test asserts a time."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "startup.py"
pytestmark = pytest.mark.skipif(shutil.which("tmux") is None,
                                reason="tmux is not installed on this machine")


def test_the_startup_benchmark_sees_the_first_quote_and_the_import_log() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--runs", "1"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "demo / baseline (medians)" in done.stdout
    assert "not loaded at start-up, each imported on first use: polars" in done.stdout
