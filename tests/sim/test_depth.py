"""Market depth through ib_async's reqMktDepth: the rows it keeps (ticker.domBids and
domAsks) are the live quote on top and a tick apart below, as many as asked, after every
step; smart depth names the exchange; IB's limit of three books; the depth exchanges."""

from __future__ import annotations

import asyncio
import itertools

from ib_async import IB, Contract, Ticker

from ibterm.sim.server import SimServer
from tests.sim.clocked import client, clocked, qualified, until

__all__ = ["client", "clocked"]  # fixtures

TICK = 0.01


def _agrees_with_the_market(sim: SimServer, contract: Contract, ticker: Ticker,
                            rows: int) -> bool:
    book = sim.market.book(contract.conId)
    bids, asks = ticker.domBids, ticker.domAsks
    return (len(bids) == len(asks) == rows
            and (bids[0].price, bids[0].size) == (book.bid, book.bid_size)
            and (asks[0].price, asks[0].size) == (book.ask, book.ask_size)
            and all(round(a.price - b.price, 6) == TICK for a, b in itertools.pairwise(bids))
            and all(round(b.price - a.price, 6) == TICK for a, b in itertools.pairwise(asks))
            and all(level.size > 0 for level in [*bids, *asks]))


async def test_the_book_is_the_quote_on_top_and_a_tick_apart_below_after_every_step(
        clocked: SimServer, client: IB) -> None:
    aapl = await qualified(client)
    ticker = client.reqMktDepth(aapl, numRows=5)
    await until(lambda: _agrees_with_the_market(clocked, aapl, ticker, 5))
    changed = 0
    for _ in range(20):
        before = [(level.price, level.size) for level in ticker.domBids]
        clocked.step()
        await until(lambda: _agrees_with_the_market(clocked, aapl, ticker, 5))
        changed += before != [(level.price, level.size) for level in ticker.domBids]
    assert changed > 10
    # A fall to a cent leaves one bid row, each row below deleted; a rise refills it.
    clocked.market.shift(aapl.conId, 0.0001)
    clocked.step()
    await until(lambda: [(d.price, d.size) for d in ticker.domBids]
                == [(TICK, clocked.market.book(aapl.conId).bid_size)])
    clocked.market.shift(aapl.conId, 5000.0)
    clocked.step()
    await until(lambda: _agrees_with_the_market(clocked, aapl, ticker, 5))
    assert {level.marketMaker for level in ticker.domBids} == {""}
    client.cancelMktDepth(aapl)
    await asyncio.sleep(0.05)
    clocked.step(3)
    await asyncio.sleep(0.1)
    assert not _agrees_with_the_market(clocked, aapl, ticker, 5)


async def test_smart_depth_names_the_exchange_and_numrows_is_honoured(
        clocked: SimServer, client: IB) -> None:
    aapl = await qualified(client)
    ticker = client.reqMktDepth(aapl, numRows=3, isSmartDepth=True)
    await until(lambda: _agrees_with_the_market(clocked, aapl, ticker, 3))
    clocked.step(5)
    await until(lambda: _agrees_with_the_market(clocked, aapl, ticker, 3))
    assert {level.marketMaker for level in ticker.domAsks} == {"NASDAQ"}


async def test_a_fourth_book_is_ibs_error_309(clocked: SimServer, client: IB) -> None:
    errors: list[tuple[int, str]] = []
    client.errorEvent += lambda req_id, code, msg, contract: errors.append((code, msg))
    contracts = [await qualified(client, Contract(symbol=s, secType="STK", exchange="SMART",
                                                  currency="USD"))
                 for s in ("AAPL", "MSFT", "IBM", "QQQ")]
    tickers = [client.reqMktDepth(c, numRows=2) for c in contracts]
    await until(lambda: errors != [] and all(t.domBids for t in tickers[:3]))
    assert errors == [(309, "Max number (3) of market depth requests has been reached")]
    assert not tickers[3].domBids


async def test_depth_exchanges_are_the_worlds(client: IB) -> None:
    exchanges = await asyncio.wait_for(client.reqMktDepthExchangesAsync(), 3)
    assert {(e.exchange, e.secType, e.serviceDataType) for e in exchanges} == {
        ("NASDAQ", "STK", "Deep2"), ("NYSE", "STK", "Deep"), ("ARCA", "STK", "Deep"),
        ("CME", "FUT", "Deep"), ("NYMEX", "FUT", "Deep"), ("IDEALPRO", "CASH", "Deep")}
