"""The everyday TWS API calls of an ib_async script: each one ends, answered or refused
on its own request id, within seconds. None may hang (issue #14)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from ib_async import IB, LimitOrder, MarketOrder, Option, ScannerSubscription, Stock

from ibterm.sim.server import SimServer

AAPL = Stock("AAPL", "SMART", "USD")
OPTION = Option("AAPL", "20261218", 230, "C", "SMART", currency="USD")


async def _cancelled(ib: IB) -> str:
    trade = ib.placeOrder(AAPL, LimitOrder("BUY", 1, 100.0))
    while trade.orderStatus.status != "Submitted":
        await asyncio.sleep(0.02)
    ib.cancelOrder(trade.order)
    while not trade.isDone():
        await asyncio.sleep(0.02)
    return trade.orderStatus.status


async def _filled(ib: IB) -> str:
    trade = ib.placeOrder(AAPL, MarketOrder("BUY", 1))
    while not trade.isDone():
        await asyncio.sleep(0.02)
    return trade.orderStatus.status


async def _quoted(ib: IB) -> float:
    ticker = ib.reqMktData(AAPL)
    while not ticker.bid > 0:
        await asyncio.sleep(0.02)
    return ticker.bid


async def _answered(ib: IB, subscribe: Callable[[], Any]) -> object:
    """A streaming request returns at once, with no call to end: the simulator must read it
    and go on answering (reqCurrentTime is answered after it)."""
    subscription = subscribe()
    await ib.reqCurrentTimeAsync()
    assert ib.isConnected()
    return subscription


CALLS: dict[str, Callable[[IB], Awaitable[object]]] = {
    "reqContractDetails": lambda ib: ib.reqContractDetailsAsync(AAPL),
    "qualifyContracts": lambda ib: ib.qualifyContractsAsync(AAPL, OPTION),
    "reqMktData": _quoted,
    "reqTickers (snapshot)": lambda ib: ib.reqTickersAsync(AAPL),
    "reqSecDefOptParams": lambda ib: ib.reqSecDefOptParamsAsync("AAPL", "", "STK", 265598),
    "reqTickByTickData": lambda ib: _answered(ib, lambda: ib.reqTickByTickData(AAPL, "BidAsk")),
    "reqHistoricalData": lambda ib: ib.reqHistoricalDataAsync(
        AAPL, "", "1 D", "5 mins", "TRADES", True, timeout=0),
    "reqHeadTimeStamp": lambda ib: ib.reqHeadTimeStampAsync(AAPL, "TRADES", True, 1),
    "reqRealTimeBars": lambda ib: _answered(
        ib, lambda: ib.reqRealTimeBars(AAPL, 5, "TRADES", False)),
    "reqMktDepth": lambda ib: _answered(ib, lambda: ib.reqMktDepth(AAPL, 5)),
    "reqMktDepthExchanges": lambda ib: ib.reqMktDepthExchangesAsync(),
    "reqPositions": lambda ib: ib.reqPositionsAsync(),
    "reqAccountSummary": lambda ib: ib.reqAccountSummaryAsync(),
    "reqAccountUpdatesMulti": lambda ib: ib.reqAccountUpdatesMultiAsync("DU1234567"),
    "reqPnL": lambda ib: _answered(ib, lambda: ib.reqPnL("DU1234567")),
    "reqOpenOrders": lambda ib: ib.reqOpenOrdersAsync(),
    "reqCompletedOrders": lambda ib: ib.reqCompletedOrdersAsync(False),
    "reqExecutions": lambda ib: ib.reqExecutionsAsync(),
    "whatIfOrder": lambda ib: ib.whatIfOrderAsync(AAPL, MarketOrder("BUY", 100)),
    "placeOrder (filled)": _filled,
    "placeOrder + cancelOrder": _cancelled,
    "reqScannerParameters": lambda ib: ib.reqScannerParametersAsync(),
    "reqScannerData": lambda ib: ib.reqScannerDataAsync(ScannerSubscription(
        instrument="STK", locationCode="STK.US.MAJOR", scanCode="TOP_PERC_GAIN")),
    "reqNewsProviders": lambda ib: ib.reqNewsProvidersAsync(),
    "reqHistoricalNews": lambda ib: ib.reqHistoricalNewsAsync(265598, "BRFG", "", "", 10),
    "reqMatchingSymbols": lambda ib: ib.reqMatchingSymbolsAsync("AAP"),
    "reqFundamentalData": lambda ib: ib.reqFundamentalDataAsync(AAPL, "ReportSnapshot"),
    "calculateImpliedVolatility": lambda ib: ib.calculateImpliedVolatilityAsync(
        OPTION, 5.0, 230.0),
    "reqCurrentTime": lambda ib: ib.reqCurrentTimeAsync(),
}


@pytest.mark.parametrize("name", CALLS)
async def test_an_everyday_call_ends(name: str, sim: SimServer, ib: IB) -> None:
    [option] = await ib.qualifyContractsAsync(OPTION)
    assert option.conId
    await asyncio.wait_for(CALLS[name](ib), 5)
