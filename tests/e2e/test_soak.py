"""The soak's short version: 30 s under faults (journal failures included), zero lost and
zero duplicated orders, every kill switch at the gateway."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from ibterm.broker.journal import Journal

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
import soak

MODES = {"broker": [], "app": ["--app"]}
TIMEOUT = 150  # seconds, for a soak of 30


class Run:
    """One soak in its own process (and its own simulator), started, not yet waited for."""

    def __init__(self, mode: str, folder: Path) -> None:
        # Files, not pipes: nobody reads a pipe until the run ends, and a full one would
        # stall the soak.
        self.out: IO[str] = open(folder / f"{mode}.out", "w+")
        self.err: IO[str] = open(folder / f"{mode}.err", "w+")
        self.process = subprocess.Popen(
            [sys.executable, "bench/soak.py", "--duration", "30", "--json", *MODES[mode]],
            stdout=self.out, stderr=self.err, text=True)

    def report(self) -> dict[str, object]:
        try:
            code = self.process.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        self.out.seek(0)
        self.err.seek(0)
        assert code == 0, self.err.read()[-4000:]
        report: dict[str, object] = json.loads(self.out.read().strip().splitlines()[-1])
        return report

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.out.close()
        self.err.close()


@pytest.fixture(scope="module")
def soaks(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    """The modes this session runs, all started at once: a soak spends its 30 s mostly
    waiting (5 actions a second, a few seconds of CPU in all), so two side by side on a
    small machine still see every fault on time, and the suite waits for 30 s, not 60."""
    wanted = {item.callspec.params.get("mode") for item in request.session.items
              if getattr(item, "module", None) is request.module and hasattr(item, "callspec")}
    folder = tmp_path_factory.mktemp("soak")
    runs = {mode: Run(mode, folder) for mode in MODES if mode in wanted}
    try:
        yield runs
    finally:
        for run in runs.values():
            run.close()


@pytest.mark.parametrize("mode", list(MODES))
def test_thirty_seconds_under_faults_lose_and_duplicate_nothing(
        soaks: dict[str, Run], mode: str) -> None:
    # Once on the broker layer alone, once through the whole (headless) app.
    report: dict[str, Any] = soaks[mode].report()
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
    if mode == "broker":  # the app says it in a notification, which the soak does not count
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
