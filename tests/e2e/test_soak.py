"""The soak's short version: 30 s under faults (journal failures included), zero lost and
zero duplicated orders, every kill switch at the gateway."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ibterm.broker.journal import Journal

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
import soak


@pytest.mark.parametrize("mode", [[], ["--app"]], ids=["broker", "app"])
def test_thirty_seconds_under_faults_lose_and_duplicate_nothing(mode: list[str]) -> None:
    # Once on the broker layer alone, once through the whole (headless) app.
    run = subprocess.run([sys.executable, "bench/soak.py", "--duration", "30", "--json",
                          *mode], capture_output=True, text=True, timeout=150, check=True)
    report = json.loads(run.stdout.strip().splitlines()[-1])
    print(report)  # pytest -s shows the figures
    assert report["lost"] == 0 and report["duplicated"] == 0
    # It did what a soak must do, or the zeros above mean nothing.
    assert report["sent"] >= 40 and report["acknowledged"] >= 30 and report["filled"] >= 5
    assert report["reconnects"] >= 3
    # Every kill switch reached the gateway, two of them while the journal could not be
    # written (an I/O error, then a full disk), which it really could not.
    assert report["kill_switches"] >= 3
    assert report["kill_switches_reached"] == report["kill_switches"]
    assert report["journal_failed_writes"] >= 2
    if not mode:  # the app says it in a notification, which the soak does not count
        assert report["refused"].get("not connected to the gateway", 0) >= 1
        # New orders failed closed while the journal could not record them.
        assert report["refused"].get("not sent", 0) >= 1


def test_the_comparison_sees_lost_and_duplicated_orders(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal(path, "soak")
    for ref, status in (("ibterm-a-0", "Submitted"), ("ibterm-b-0", "Submitted"),
                        ("ibterm-c-0", "Filled"), ("ibterm-d-0", "NotReceived")):
        journal.record("submitted", order_ref=ref)
        journal.record("status", order_ref=ref, status=status)
    journal.record("fill", order_ref="ibterm-c-0", exec_id="e1", shares=1.0, price=10.0)
    journal.close()

    def order(ref: str, status: str, filled: float = 0) -> dict[str, object]:
        return {"client_id": soak.CLIENT_ID, "order_ref": ref, "status": status,
                "filled": filled}

    clean = [order("ibterm-a-0", "Submitted"), order("ibterm-b-0", "Submitted"),
             order("ibterm-c-0", "Filled", 1)]
    assert soak.compare(path, clean) == {"sent": 4, "acknowledged": 3, "filled": 1,
                                         "not_received": 1, "lost": 0, "duplicated": 0}
    wrong = [order("ibterm-a-0", "Cancelled"),  # the app thinks it still works
             order("ibterm-c-0", "Filled", 1), order("ibterm-c-0", "Filled", 1),  # twice
             order("ibterm-x-0", "Submitted")]  # the app never heard of it
    figures = soak.compare(path, wrong)
    # a: status disagrees; b: vanished while the app thinks it works; x: unknown to the app
    assert figures["lost"] == 3 and figures["duplicated"] == 1
    # The blotter's view counts too: a fill it shows that the gateway never made, and an
    # order it calls not received that the gateway does work.
    view = {"ibterm-c-0": ("Filled", 2.0), "ibterm-d-0": ("NotReceived", 0.0)}
    held = [*clean, order("ibterm-d-0", "Submitted")]
    assert soak.compare(path, held, view)["lost"] == 2
