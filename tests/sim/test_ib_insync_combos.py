"""The real ib_insync 0.9.86 client (served at 176) trading combos: its placeOrder and
openOrder with combo legs and faProfile, its executions without pendingPriceRevision.
The client runs in a process of its own (insync_combo_client.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ibterm.sim.runner import SimulatorThread
from tests.conftest import manual_scenario

CLIENT = Path(__file__).with_name("insync_combo_client.py")


def test_ib_insync_quotes_trades_and_previews_combos() -> None:
    sim = SimulatorThread(manual_scenario(), seed=0)
    port = sim.start()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    try:
        done = subprocess.run([sys.executable, str(CLIENT), str(port)], capture_output=True,
                              text=True, env=env, timeout=60, check=False)
    finally:
        sim.stop()
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout)
    assert seen["server_version"] == 176
    assert seen["quote"] == [True, True]
    assert seen["trade"] == ["Filled", 2, [["BAG", 2, 0], ["OPT", 2, 1.3], ["OPT", 2, 1.3]]]
    assert seen["positions"] == [-2, 2]
    assert seen["sold"] == ["Filled", 2, [["BAG", "SLD"], ["OPT", "BOT"], ["OPT", "SLD"]]]
    assert seen["open_order"] == [["BAG", -9.5, 2]]
    assert seen["completed"] == [["BAG", 2, "Cancelled"], ["BAG", 2, "Filled"],
                                 ["BAG", 2, "Filled"]]
    assert seen["what_if"] == 1000.0
    assert [code for _, code in seen["errors"]] == [2104, 2106, 2158]  # the farms only
