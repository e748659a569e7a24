"""The real ib_insync 0.9.86 client against the simulator: it offers versions 157..176,
is served at 176 in its own layouts (placeOrder, openOrder and completedOrder with
faProfile, execDetails without pendingPriceRevision), and its everyday calls all end.

The client runs in a process of its own (insync_client.py), once for the module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ibterm.sim.runner import SimulatorThread
from tests.conftest import manual_scenario

CLIENT = Path(__file__).with_name("insync_client.py")


@pytest.fixture(scope="module")
def seen() -> Iterator[dict]:  # type: ignore[type-arg]
    sim = SimulatorThread(manual_scenario(), seed=0)
    port = sim.start()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    try:
        done = subprocess.run([sys.executable, str(CLIENT), str(port)], capture_output=True,
                              text=True, env=env, timeout=60, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        yield json.loads(done.stdout)
    finally:
        sim.stop()


def test_it_connects_at_its_own_highest_version(seen: dict) -> None:  # type: ignore[type-arg]
    assert seen["server_version"] == 176
    assert seen["accounts"] == ["DU1234567"]


def test_contract_details_and_market_data(seen: dict) -> None:  # type: ignore[type-arg]
    assert seen["details"] == [265598, "APPLE INC", 0.01]
    bid, ask, close = seen["quote"]
    assert 0 < bid < ask and close > 0
    assert seen["snapshot"] == ["MSFT", True]


def test_an_order_fills_with_its_executions_and_commissions(seen: dict) -> None:  # type: ignore[type-arg]
    status, filled, fills = seen["trade"]
    assert (status, filled) == ("Filled", 10)
    assert fills == [[10, 1.0]]
    assert seen["executions"] == [["BOT", 10]]
    [[exec_id, commission]] = seen["fills"]
    assert exec_id.startswith("0000e0d5.") and commission == 1.0
    assert seen["positions"]["AAPL"] == 310


def test_account_values_and_a_what_if(seen: dict) -> None:  # type: ignore[type-arg]
    assert float(seen["account"]["TotalCashValue"]) < 1_000_000
    margin, commission = seen["what_if"]
    assert margin > 0 and commission == 1.0


def test_open_completed_and_cancelled_orders_decode(seen: dict) -> None:  # type: ignore[type-arg]
    order_id, status = seen["cancel"]
    assert status == "Cancelled" and seen["open_orders"] == [order_id]
    assert seen["completed"] == ["Cancelled", "Filled"]


def test_a_scanner_request(seen: dict) -> None:  # type: ignore[type-arg]
    assert len(seen["scanner"]) == 3


def test_requests_waited_for_by_name_or_id_end(seen: dict) -> None:  # type: ignore[type-arg]
    assert seen["ended"] == {"scanner_parameters": True, "news_providers": 3,
                             "depth_exchanges": True, "historical_data": True}


def test_unserved_and_refused_requests_end_with_their_errors(seen: dict) -> None:  # type: ignore[type-arg]
    assert seen["unserved"] == 505
    # 321 is an error to ib_insync: the what-if without an exchange raises.
    assert seen["no_exchange"] == 321
    codes = {code for _, code in seen["errors"]}
    assert codes <= {2104, 2106, 2158, 505, 321, 365}
