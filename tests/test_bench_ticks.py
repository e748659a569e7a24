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
    # Exit 1 is also the bench's verdict on its figures (a round under 0.8 of the bare
    # client: one short round on a shared machine now and then is): the run is judged by
    # having gone to its end without an error, not by that verdict.
    assert done.returncode in (0, 1), done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert "app/bare saturated throughput ratio: min" in done.stdout, done.stdout
    assert "alternated: bare, app, app, bare;" in done.stdout
    # The round's line: each consumer's two blasts, in the order they ran.
    assert re.search(r"^\s+1\s.*\s\d+ \d+ \| \d+ \d+$", done.stdout, re.M), done.stdout
    assert "app keeps up with 5,000 ticks/s: yes" in done.stdout


def test_a_consumer_that_dies_fails_the_round_instead_of_hanging_it() -> None:
    # A consumer of a kind that does not exist starts its feeder and dies: the control
    # pipe must say so (EOF) rather than leave play_round waiting for "ready" for ever.
    script = """
import sys
sys.path.insert(0, sys.argv[1])
import ticks
control, proc = ticks.start_consumer("no such consumer", [], 1.0, 1_000)
try:
    assert control.poll(60), "the read would hang"
    try:
        control.recv()
    except EOFError:
        pass
    else:
        raise AssertionError("a message from a consumer that died")
    proc.join(30)
    assert proc.exitcode not in (None, 0), proc.exitcode
finally:
    proc.kill()
print("failed as it should")
"""
    done = subprocess.run([sys.executable, "-c", script, str(BENCH.parent)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "failed as it should" in done.stdout
    assert "KeyError: 'no such consumer'" in done.stderr
