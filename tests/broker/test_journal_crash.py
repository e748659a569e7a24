"""kill -9 in the middle of a burst loses nothing the gateway acknowledged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from ibterm.broker.journal import read_events
from ibterm.sim.runner import SimulatorThread
from tests.conftest import manual_scenario

CHILD = Path(__file__).with_name("burst_child.py")


def test_sigkill_mid_burst_loses_no_acknowledged_order(tmp_path: Path) -> None:
    sim = SimulatorThread(manual_scenario(), seed=0)
    port = sim.start()
    journal = tmp_path / "journal.sqlite3"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, str(CHILD), str(port), str(journal)],
                            stdout=subprocess.PIPE, text=True, env=env)
    acked: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("ack "):
                acked.append(line.split()[1])
            if len(acked) >= 60:
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        at_gateway = {o.req.order_ref for o in sim.server.orders.orders.values()}
    finally:
        proc.kill()
        sim.stop()
    events = list(read_events(journal))
    submitted = {e.order_ref for e in events if e.kind == "submitted"}
    intents = {e.intent_id for e in events if e.kind == "intent"}
    assert set(acked) <= submitted  # journaled before it left the process
    assert at_gateway <= submitted  # nothing reached the gateway unjournaled
    assert {ref.split("-")[1] for ref in submitted} <= intents
    assert len(acked) >= 60
