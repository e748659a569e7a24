"""bench/orders.py stamps each order where the simulator's order engine receives it: run
it on a few orders, so that a change to the simulator's insides that silences the stamp
breaks here and not on the next `make bench` (the desks' message table once did). The
figures themselves are not looked at: no test asserts a time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "orders.py"


def test_the_orders_benchmark_stamps_every_order_on_both_paths() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--orders", "5"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "bare ib.placeOrder" in done.stdout and "pipeline adds" in done.stdout
