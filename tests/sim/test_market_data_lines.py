"""Market data lines: IB's limit on subscriptions open at once (default 100), answered with
error 101 on the request's id; cancelMktData gives a line back, a snapshot holds none."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from ib_async import IB, Contract

from ibterm.sim.server import SimServer
from tests.conftest import manual_scenario

AAPL, MSFT, IBM = (Contract(conId=c, exchange="SMART") for c in (265598, 272093, 8314))


@pytest.fixture
async def two_lines() -> AsyncIterator[SimServer]:
    server = SimServer(manual_scenario(market_data_lines=2), seed=0)
    await server.start()
    yield server
    await server.stop()


async def _connect(sim: SimServer, client_id: int) -> IB:
    ib = IB()
    await ib.connectAsync("127.0.0.1", sim.port, clientId=client_id, timeout=5)
    return ib


def _errors(ib: IB) -> list[tuple[int, int, str]]:
    errors: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append((req_id, code, msg))
    return errors


async def test_the_default_is_ibs_hundred_lines(sim: SimServer) -> None:
    assert sim.scenario.market_data_lines == 100


async def test_a_subscription_past_the_lines_gets_101_on_its_id(two_lines: SimServer) -> None:
    ib = await _connect(two_lines, 1)
    errors = _errors(ib)
    try:
        first, second = ib.reqMktData(AAPL), ib.reqMktData(MSFT)
        third = ib.reqMktData(IBM)
        await ib.reqCurrentTimeAsync()
        assert errors == [(ib.wrapper.ticker2ReqId["mktData"][third], 101,
                           "Max number of tickers has been reached.")]
        assert first.bid > 0 and second.bid > 0 and third.bid != third.bid  # nan: nothing
    finally:
        ib.disconnect()


async def test_lines_are_the_users_across_clients_and_cancel_frees_one(
        two_lines: SimServer) -> None:
    one, two = await _connect(two_lines, 1), await _connect(two_lines, 2)
    errors = _errors(two)
    try:
        one.reqMktData(AAPL)
        two.reqMktData(MSFT)
        two.reqMktData(IBM)
        await two.reqCurrentTimeAsync()
        assert [code for _, code, _ in errors] == [101]
        one.cancelMktData(AAPL)
        await one.reqCurrentTimeAsync()
        ticker = two.reqMktData(IBM)
        await two.reqCurrentTimeAsync()
        assert ticker.bid > 0 and len(errors) == 1
    finally:
        one.disconnect()
        two.disconnect()


async def test_a_snapshot_needs_no_free_line(two_lines: SimServer) -> None:
    ib = await _connect(two_lines, 1)
    errors = _errors(ib)
    try:
        ib.reqMktData(AAPL)
        ib.reqMktData(MSFT)
        [ticker] = await asyncio.wait_for(ib.reqTickersAsync(IBM), 3)
        assert ticker.bid > 0 and errors == []
    finally:
        ib.disconnect()
