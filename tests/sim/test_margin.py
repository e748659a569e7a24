"""The simulated gateway's margin is the app's own calculator: strategies are paired, futures
come from the table, currency pairs keep their plain rule."""

from __future__ import annotations

import datetime as dt

import pytest

from ibterm.risk.book import instrument_row
from ibterm.risk.margin import compute_margin
from ibterm.risk.portfolio import Row
from ibterm.sim.server import SimServer
from tests.conftest import SIM_DATE, manual_scenario

ACCOUNT = "DU7654321"


def _server(*positions: dict[str, object]) -> SimServer:
    return SimServer(manual_scenario(accounts=[{"id": ACCOUNT, "cash": 500_000.0,
                                                "positions": list(positions)}]), seed=0)


def test_a_covered_call_is_charged_as_one_strategy() -> None:
    sim = _server({"symbol": "AAPL", "quantity": 200, "avg_cost": 220.0},
                  {"symbol": "AAPL 20261218 260 C", "quantity": -2, "avg_cost": 1.0})
    spot = sim.market.mark(sim.con_id_of("AAPL"))
    call = sim.market.mark(sim.con_id_of("AAPL 20261218 260 C"))
    values = sim.account_values(ACCOUNT)
    # The stock's 50% / 25%; the out-of-the-money call adds nothing (not its naked rule).
    assert values["InitMarginReq"] == pytest.approx(0.5 * 200 * spot)
    assert values["MaintMarginReq"] == pytest.approx(0.25 * 200 * spot)
    rows = [Row(2, "AAPL", "STK", "", 0.0, None, 1.0, 200, spot, spot, None, ACCOUNT, 0.0,
                "equity"),
            Row(3, "AAPL", "OPT", "C", 260.0, dt.date(2026, 12, 18),
                100.0, -2, call, spot, None, ACCOUNT, 0.0, "equity")]
    assert values["InitMarginReq"] == pytest.approx(compute_margin(rows, SIM_DATE).initial)


def test_futures_and_currency_pairs() -> None:
    sim = _server({"symbol": "ES", "quantity": -2, "avg_cost": 6000.0},
                  {"symbol": "EUR.USD", "quantity": 100_000, "avg_cost": 1.07})
    fx = sim.market.mark(sim.con_id_of("EUR.USD")) * 100_000
    es = sim.world.instruments[sim.con_id_of("ES")]
    root = sim.world.futures_roots["ES"]
    row = instrument_row(es.instrument, -2, sim.market.mark(es.instrument.con_id), None, 2,
                         ACCOUNT)
    futures = compute_margin([row], SIM_DATE, futures_margin={
        "ES": (root.initial_margin, root.maintenance_margin)}, rate=sim.world.rate)
    assert futures.initial > 0
    values = sim.account_values(ACCOUNT)
    # The futures by the calculator; the currency pair outside it: 50% / 25% of its value.
    assert values["InitMarginReq"] == pytest.approx(futures.initial + 0.5 * fx)
    assert values["MaintMarginReq"] == pytest.approx(futures.maintenance + 0.25 * fx)
