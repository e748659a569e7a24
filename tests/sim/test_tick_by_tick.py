"""Tick-by-tick data through ib_async's reqTickByTickData, each type from the live market:
every printed trade (Last, AllLast), every quote change (BidAsk, with its attribute mask)
and every midpoint change (MidPoint), until cancelled. And five-second real-time bars
through reqRealTimeBars, as the clock passes each five seconds."""

from __future__ import annotations

import asyncio

import pytest
from ib_async import IB, Contract, RealTimeBarList, Ticker
from ib_async.objects import TickByTickAllLast, TickByTickBidAsk, TickByTickMidPoint

from ibterm.sim.server import SimServer
from tests.sim.clocked import Clock, client, clocked, qualified, until

__all__ = ["client", "clocked"]  # fixtures


TickByTick = TickByTickAllLast | TickByTickBidAsk | TickByTickMidPoint


def _subscribe(client: IB, contract: Contract, kind: str) -> tuple[Ticker, list[TickByTick]]:
    """The ticker and every tick it gets: ib_async keeps only the last batch's in it."""
    ticker = client.reqTickByTickData(contract, kind)
    ticks: list[TickByTick] = []
    ticker.updateEvent += lambda t: ticks.extend(t.tickByTicks)
    return ticker, ticks


async def _stepped(sim: SimServer, con_id: int, steps: int) -> list[tuple[float, ...]]:
    """Step the market; what the tick stream should have said at each step."""
    expected: list[tuple[float, ...]] = []
    for _ in range(steps):
        before = sim.market.book(con_id)
        sim.step()
        book = sim.market.book(con_id)
        if book.volume != before.volume:
            expected.append((book.last, book.last_size))
    await asyncio.sleep(0.1)
    return expected


@pytest.mark.parametrize("kind", ["Last", "AllLast"])
async def test_every_printed_trade(clocked: SimServer, client: IB, kind: str) -> None:
    aapl = await qualified(client)
    _, ticks = _subscribe(client, aapl, kind)
    await asyncio.sleep(0.05)
    expected = await _stepped(clocked, aapl.conId, 30)
    await until(lambda: len(ticks) == len(expected))
    trades = [t for t in ticks if isinstance(t, TickByTickAllLast)]
    assert [(t.price, t.size) for t in trades] == expected
    assert not any(t.tickAttribLast.pastLimit or t.tickAttribLast.unreported for t in trades)
    exchanges = {t.exchange for t in trades}
    assert exchanges == {"NASDAQ"} if kind == "Last" else len(exchanges) > 1


async def test_every_quote_change_with_its_mask(clocked: SimServer, client: IB) -> None:
    aapl = await qualified(client)
    _, ticks = _subscribe(client, aapl, "BidAsk")
    await until(lambda: len(ticks) == 1)  # the quote now
    for step in range(10):
        clocked.step()
        book = clocked.market.book(aapl.conId)
        await until(lambda n=step + 2: len(ticks) == n)
        tick = ticks[-1]
        assert isinstance(tick, TickByTickBidAsk)
        assert (tick.bidPrice, tick.askPrice, tick.bidSize, tick.askSize) == (
            book.bid, book.ask, book.bid_size, book.ask_size)
        attrib = tick.tickAttribBidAsk
        assert (attrib.bidPastLow, attrib.askPastHigh) == (book.bid < book.low,
                                                           book.ask > book.high)


async def test_every_midpoint_change_until_cancelled(clocked: SimServer, client: IB) -> None:
    aapl = await qualified(client)
    _, ticks = _subscribe(client, aapl, "MidPoint")
    await until(lambda: len(ticks) == 1)  # the midpoint now
    mids = [clocked.market.book(aapl.conId).mid]
    for _ in range(20):
        clocked.step()
        mid = clocked.market.book(aapl.conId).mid
        if mid != mids[-1]:
            mids.append(mid)
    await until(lambda: len(ticks) == len(mids))
    assert [t.midPoint for t in ticks if isinstance(t, TickByTickMidPoint)] == mids
    client.cancelTickByTickData(aapl, "MidPoint")
    await asyncio.sleep(0.05)
    clocked.step(20)
    await asyncio.sleep(0.1)
    assert len(ticks) == len(mids)


async def test_five_second_bars_as_the_clock_passes_them(
        clocked: SimServer, client: IB) -> None:
    aapl = await qualified(client)
    clock = clocked.market.clock
    assert isinstance(clock, Clock)
    bars: RealTimeBarList = client.reqRealTimeBars(aapl, 5, "TRADES", False)
    await asyncio.sleep(0.05)
    clocked.step(4)  # the five seconds from 11:00:00
    clock.advance(5)
    clocked.step()  # into the next five: the first is done
    await until(lambda: len(bars) == 1)
    bar = bars[0]
    assert bar.time.timestamp() == clock.t - 5
    history = await client.reqHistoricalDataAsync(aapl, "", "60 S", "5 secs", "TRADES", False,
                                                  formatDate=2)
    same = history[-2]
    assert (bar.open_, bar.high, bar.low, bar.close, bar.volume) == (
        same.open, same.high, same.low, same.close, same.volume)
    clock.advance(5)
    clocked.step()
    await until(lambda: len(bars) == 2)
    client.cancelRealTimeBars(bars)
    await asyncio.sleep(0.05)
    clock.advance(5)
    clocked.step()
    await asyncio.sleep(0.1)
    assert len(bars) == 2
