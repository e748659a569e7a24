"""bench/ticks.py runs both consumers at once, each in a process of its own, and stops
the one not blasting: run it on one short round, so that a change to the app, the
simulator or the feeder that stalls a consumer breaks here and not on the next `make
bench`. The figures themselves are not looked at: no test asserts a time."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "ticks.py"


def test_the_ticks_benchmark_alternates_blasts_of_both_consumers() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--quick", "--blasts", "2"],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "alternated: bare, app, app, bare;" in done.stdout
    # The round's line: each consumer's two blasts, in the order they ran.
    assert re.search(r"^\s+1\s.*\s\d+ \d+ \| \d+ \d+$", done.stdout, re.M), done.stdout
    assert "app keeps up with 5,000 ticks/s: yes" in done.stdout
