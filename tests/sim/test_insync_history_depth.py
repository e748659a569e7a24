"""ib_insync 0.9.86 (server version 176) reads the same bars and keeps the same depth
book as ib_async: its list book shifts on an insert and breaks on an update past its end,
so this is where a wrong row order would show."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ibterm.sim import protocol
from ibterm.sim.server import SimServer
from tests.sim.clocked import clocked, until

ib_insync = pytest.importorskip("ib_insync")
pytestmark = pytest.mark.skipif(protocol.MIN_SERVED_VERSION > 176,
                                reason="the simulator does not negotiate v176 yet")

__all__ = ["clocked"]  # fixture
AAPL = ib_insync.Stock("AAPL", "SMART", "USD")


@pytest.fixture
async def insync(clocked: SimServer) -> AsyncIterator[object]:
    ib = ib_insync.IB()
    await ib.connectAsync("127.0.0.1", clocked.port, clientId=31, timeout=5)
    assert ib.client.serverVersion() == 176
    yield ib
    ib.disconnect()


async def test_bars_close_at_the_live_quote(clocked: SimServer, insync) -> None:  # type: ignore[no-untyped-def]
    [aapl] = await insync.qualifyContractsAsync(AAPL)
    clocked.step(5)
    bars = await insync.reqHistoricalDataAsync(aapl, "", "1 D", "5 mins", "MIDPOINT", True)
    assert len(bars) == 19  # 09:30 to the forming 11:00 bar
    assert bars[-1].close == clocked.market.book(aapl.conId).mid


async def test_the_depth_book_is_the_markets_after_every_step(
        clocked: SimServer, insync) -> None:  # type: ignore[no-untyped-def]
    [aapl] = await insync.qualifyContractsAsync(AAPL)
    ticker = insync.reqMktDepth(aapl, 5)

    def agrees() -> bool:
        bids, asks = clocked.market.depth(aapl.conId, 5)
        return ([(d.price, d.size) for d in ticker.domBids] == bids
                and [(d.price, d.size) for d in ticker.domAsks] == asks)

    await until(agrees)
    for _ in range(20):
        clocked.step()
        await asyncio.sleep(0)
        await until(agrees)
    # A fall to a cent leaves one bid row (deletes of the last row); a rise refills it.
    for factor in (0.0001, 5000.0):
        clocked.market.shift(aapl.conId, factor)
        clocked.step()
        await until(agrees)
    assert len(ticker.domBids) == 5
