"""Market-data lines: each quote takes one, the chart's history does not, and a quote past
the profile's limit is refused by the app, naming the limit, before IB's error 101."""

from __future__ import annotations

import asyncio

from ibterm.broker.lines import MarketDataLines
from ibterm.broker.session import BrokerSession
from ibterm.config.settings import Profile
from ibterm.domain.bars import BarSize
from ibterm.domain.connection import TradingMode
from ibterm.sim.server import SimServer


async def _until(predicate, timeout: float = 5) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "never happened"
        await asyncio.sleep(0.02)


def test_the_default_limit_is_ibs_hundred_lines() -> None:
    assert Profile().market_data_lines == 100


async def test_quotes_past_the_limit_are_refused_before_ib_refuses_them(
        sim: SimServer) -> None:
    profile = Profile(port=sim.port, client_id=71, market_data_lines=3,
                      watchlist=["AAPL", "MSFT", "IBM", "SPY"])
    session = BrokerSession(profile, "t", TradingMode.DEMO)
    assert await session.start()
    try:
        assert (session.lines.used, session.lines.limit) == (3, 3)
        spy = session.watchlist[3]
        assert spy.instrument is not None  # resolved, so the chart can still draw it
        assert "all 3 market-data lines are in use" in spy.error
        assert "market_data_lines" in spy.error
        # The chart's bars are not a line: SPY charts with every line taken.
        session.show_chart(spy.instrument, BarSize.M5)
        await _until(lambda: (s := session.chart()[1]) is not None and s.live)
        assert session.lines.used == 3
        # A quote asked for beside the watchlist (the ticket's) is refused with a notice.
        qqq, _ = await session.resolve("QQQ")
        assert qqq is not None
        session.ensure_quote(qqq)
        session.ensure_quote(qqq)
        await asyncio.sleep(0.3)
        notices = [n.message for n in session.drain().notices]
        assert notices == [f"{qqq.display}: not subscribed, all 3 market-data lines are in "
                           "use (the profile's market_data_lines; IB refuses more with "
                           "error 101)"]
        assert session.quote(qqq.con_id) is None
        # Removed and added again, an instrument keeps its line (its quote never stopped).
        session.remove_watch("AAPL")
        item = await session.add_watch("AAPL")
        assert not item.error and session.lines.used == 3
    finally:
        await session.close()


async def test_the_lines_are_counted_anew_after_a_reconnect(sim: SimServer) -> None:
    profile = Profile(port=sim.port, client_id=72, market_data_lines=2,
                      watchlist=["AAPL", "MSFT", "IBM"])
    session = BrokerSession(profile, "t", TradingMode.DEMO)
    assert await session.start()
    try:
        sim.drop(72)
        await _until(lambda: not session.connected)
        assert session.lines.used == 0
        await _until(lambda: session.connected, timeout=15)
        await _until(lambda: session.lines.used == 2)
        assert [bool(item.error) for item in session.watchlist] == [False, False, True]
        assert all("101" not in n.message for n in session.drain().notices)
    finally:
        await session.close()


def test_a_released_line_is_free_for_the_next_subscription() -> None:
    lines = MarketDataLines(2)
    assert lines.take(1) and lines.take(2) and lines.take(2)  # holding one is no new one
    assert not lines.take(3) and lines.used == 2
    lines.release(1)
    assert lines.take(3) and not lines.holds(1) and lines.used == 2
