"""Pacing (error 100) is judged on when the client's messages arrive, as IB judges them:
ib_async's own throttle (45 a second by its clock) is never refused, however slowly the
simulator works through a batch, and a client that really sends more is."""

from __future__ import annotations

import asyncio

from ib_async import IB, Option

from ibterm.sim.server import SimServer

# The first 100 of the world's AAPL and SPY options, as a script names them.
EXPIRIES = ("20261127", "20261204", "20261211", "20261218", "20270115")


def _hundred_options() -> list[Option]:
    options = [Option(symbol, expiry, strike, right, "SMART", currency="USD")
               for symbol, strikes in (("AAPL", range(200, 265, 5)), ("SPY", range(540, 665, 5)))
               for expiry in EXPIRIES for strike in strikes for right in "CP"]
    return options[:100]


async def _subscribe_hundred(ib: IB) -> list[int]:
    pacing: list[int] = []
    ib.errorEvent += lambda req_id, code, msg, contract: code == 100 and pacing.append(req_id)
    contracts = await asyncio.wait_for(ib.qualifyContractsAsync(*_hundred_options()), 30)
    assert len([c for c in contracts if c is not None and c.conId]) == 100
    tickers = [ib.reqMktData(c) for c in contracts]
    await asyncio.wait_for(_until_quoted(tickers), 30)
    return pacing


async def _until_quoted(tickers: list) -> None:  # type: ignore[type-arg]
    while not all(t.close == t.close and t.close > 0 for t in tickers):
        await asyncio.sleep(0.05)


async def test_ib_async_throttled_subscription_of_100_contracts_is_never_refused(
        sim: SimServer, ib: IB) -> None:
    assert sim.scenario.pacing_limit == 50
    assert await _subscribe_hundred(ib) == []


async def test_an_unthrottled_burst_of_the_same_requests_is_refused(
        sim: SimServer, ib: IB) -> None:
    ib.client.MaxRequests = 0  # ib_async's own throttle off: 100 requests at once
    errors: list[int] = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append(code)
    ib.RequestTimeout = 5
    await asyncio.wait_for(ib.qualifyContractsAsync(*_hundred_options()), 30)
    assert errors.count(100) >= 50
