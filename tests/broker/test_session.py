"""The broker session over the real ib_async client and the simulator."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable

import pytest

from ibterm.broker.session import BrokerSession, SessionUpdate
from ibterm.config.settings import Profile
from ibterm.domain.connection import ConnectionState, TradingMode
from ibterm.domain.quote import MarketDataType
from ibterm.sim.server import SimServer
from tests.conftest import manual_scenario


def _profile(port: int, **changes: object) -> Profile:
    base: dict[str, object] = {"port": port, "client_id": 21, "connect_timeout": 3,
                               "watchlist": ["AAPL", "TSLA", "ES", "CL", "EUR.USD",
                                             "SPY 20261218 600 C", "NOPE"]}
    base.update(changes)
    return Profile(**base)  # type: ignore[arg-type]


async def _until(session: BrokerSession, predicate: Callable[[SessionUpdate], bool],
                 timeout: float = 5.0) -> SessionUpdate:
    """Drain like the UI does until an update satisfies `predicate`; merge what was seen."""
    deadline = time.monotonic() + timeout
    merged = SessionUpdate()
    while True:
        update = session.drain()
        merged.status = update.status or merged.status
        merged.watchlist = update.watchlist or merged.watchlist
        merged.quotes += update.quotes
        merged.positions = update.positions if update.positions is not None else merged.positions
        merged.account = update.account or merged.account
        merged.notices += update.notices
        if predicate(merged):
            return merged
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen in time; last status {session.status}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def session(sim: SimServer) -> AsyncIterator[BrokerSession]:
    s = BrokerSession(_profile(sim.port), "test", TradingMode.DEMO)
    assert await s.start()
    yield s
    await s.close()


async def test_connects_and_resolves_the_watchlist(session: BrokerSession) -> None:
    update = await _until(session, lambda u: u.watchlist is not None)
    assert session.status.state is ConnectionState.CONNECTED
    assert session.account == "DU1234567"
    items = {i.text: i for i in update.watchlist or []}
    assert items["ES"].instrument is not None and items["ES"].instrument.display == "ES 202612"
    assert items["CL"].instrument is not None and items["CL"].instrument.display == "CL 202701"
    assert items["ES"].instrument.min_tick == 0.25 and items["ES"].instrument.multiplier == 50
    assert items["SPY 20261218 600 C"].instrument is not None
    assert items["NOPE"].instrument is None
    assert items["NOPE"].error == "No instrument NOPE (stock, SMART, USD)"


async def test_quotes_arrive_as_domain_objects(session: BrokerSession, sim: SimServer) -> None:
    sim.step(25)  # past the delay window, so delayed quotes have moved too
    update = await _until(session, lambda u: len({q.con_id for q in u.quotes}) >= 6)
    latest = {q.con_id: q for q in update.quotes}
    aapl = latest[265598]
    book = sim.market.book(265598)
    assert (aapl.bid, aapl.ask, aapl.last) == (book.bid, book.ask, book.last)
    assert aapl.data_type is MarketDataType.LIVE
    assert latest[76792991].data_type is MarketDataType.DELAYED  # TSLA: no live subscription
    assert aapl.close and aapl.change == pytest.approx(aapl.last - aapl.close)


async def test_positions_and_account(session: BrokerSession, sim: SimServer) -> None:
    update = await _until(session, lambda u: bool(u.positions) and u.account is not None
                          and u.account.daily_pnl is not None
                          and all(p.daily_pnl is not None for p in u.positions))
    positions = {p.instrument.symbol: p for p in update.positions or []}
    assert positions["ES"].avg_cost == pytest.approx(5985.25)  # per unit, not per contract
    assert positions["ES"].instrument.display == "ES 202612"
    assert positions["SPY"].quantity == -50
    account = update.account
    assert account is not None
    expected = sim.account_values("DU1234567")
    assert account.net_liquidation == pytest.approx(expected["NetLiquidation"], rel=1e-3)
    assert account.cushion == pytest.approx(expected["Cushion"], abs=1e-3)


async def test_a_lost_connection_shows_as_lost_then_reconnects(sim: SimServer) -> None:
    session = BrokerSession(_profile(sim.port, watchlist=["AAPL"]), "t", TradingMode.DEMO)
    assert await session.start()
    port = sim.port
    try:
        await sim.stop()
        lost_at = time.monotonic()
        await _until(session, lambda u: session.status.state in (
            ConnectionState.LOST, ConnectionState.RECONNECTING), timeout=2)
        assert time.monotonic() - lost_at < 1.5
        again = SimServer(manual_scenario(), port=port)
        await again.start()
        try:
            await _until(session, lambda u: session.status.state is ConnectionState.CONNECTED,
                         timeout=10)
            again.step(3)
            await _until(session, lambda u: any(q.con_id == 265598 for q in u.quotes))
        finally:
            await again.stop()
    finally:
        await session.close()


async def test_client_id_in_use_is_explained(sim: SimServer) -> None:
    first = BrokerSession(_profile(sim.port, watchlist=[]), "a", TradingMode.DEMO)
    second = BrokerSession(_profile(sim.port, watchlist=[], connect_timeout=1), "b",
                           TradingMode.DEMO)
    assert await first.start()
    try:
        assert not await second.start()
        assert "clientId 21 is already in use" in second.status.detail
    finally:
        await second.close()
        await first.close()


async def test_nothing_listening_is_explained() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    session = BrokerSession(_profile(port), "x", TradingMode.PAPER)
    assert not await session.start()
    update = session.drain()
    assert any("connection refused" in n.message for n in update.notices)
    await session.close()
    assert session.status.state is ConnectionState.DISCONNECTED


async def test_bad_crossed_and_zero_quotes_are_flagged(session: BrokerSession,
                                                       sim: SimServer) -> None:
    from ibterm.domain.quote import Quote

    def aapl(u: SessionUpdate) -> Quote | None:
        return next((q for q in reversed(u.quotes) if q.con_id == 265598), None)

    await _until(session, lambda u: aapl(u) is not None)
    assert session.quote(265598).flag == ""  # type: ignore[union-attr]
    sim.bad_tick(265598, factor=3)
    update = await _until(session, lambda u: (q := aapl(u)) is not None and q.flag == "bad")
    assert aapl(update) is not None
    sim.step()
    await _until(session, lambda u: (q := aapl(u)) is not None and q.flag == "")
    sim.bad_tick(265598, crossed=True)
    await _until(session, lambda u: (q := aapl(u)) is not None and q.flag == "crossed")


async def test_1100_stops_trading_and_1101_resubscribes(session: BrokerSession,
                                                       sim: SimServer) -> None:
    await _until(session, lambda u: u.watchlist is not None)
    conn = sim.client(21)
    assert conn is not None
    await _until(session, lambda u: len(conn.quotes) >= 5)
    before = set(conn.quotes)
    sim.connectivity(1100)
    await _until(session, lambda u: not session.connected, timeout=2)
    sim.connectivity(1101)  # data lost: every subscription is made again
    await _until(session, lambda u: session.connected and not set(conn.quotes) & before
                 and len(conn.quotes) == len(before))
    sim.step(2)
    await _until(session, lambda u: any(q.con_id == 265598 for q in u.quotes))
    sim.connectivity(1102)  # data kept: nothing to do
    await asyncio.sleep(0.3)
    assert session.connected and len(conn.quotes) == len(before)


async def test_a_gateway_holding_the_old_connection_is_waited_out(sim: SimServer) -> None:
    # The gateway answers 326 while it still holds the old connection: the session keeps
    # trying with backoff until the old one is gone.
    session = BrokerSession(_profile(sim.port, watchlist=["AAPL"]), "t", TradingMode.DEMO)
    assert await session.start()
    squatter = None
    try:
        from ib_async import IB
        sim.drop(21)
        await _until(session, lambda u: not session.connected, timeout=2)
        squatter = IB()
        await squatter.connectAsync("127.0.0.1", sim.port, clientId=21, timeout=5)
        await _until(session, lambda u: any("already in use" in n.message for n in u.notices),
                     timeout=6)
        assert not session.connected
        squatter.disconnect()
        await _until(session, lambda u: session.connected, timeout=15)
    finally:
        if squatter is not None:
            squatter.disconnect()
        await session.close()


async def test_1101_resubscribes_the_quotes_asked_for_outside_the_watchlist(
        sim: SimServer) -> None:
    session = BrokerSession(_profile(sim.port, watchlist=["AAPL"]), "t", TradingMode.DEMO)
    assert await session.start()
    try:
        option, error = await session.resolve("SPY 20261218 600 C")  # as the ticket does
        assert option is not None, error
        session.ensure_quote(option)
        await session.ensure_underlying(option)  # SPY, for the option's preview
        wanted = {265598, option.con_id, 756733}
        conn = sim.client(21)
        assert conn is not None
        await _until(session, lambda u: {q.con_id for q in conn.quotes.values()} == wanted)
        before = set(conn.quotes)
        sim.connectivity(1101)  # data lost: every subscription must be made again
        await _until(session, lambda u: not set(conn.quotes) & before
                     and {q.con_id for q in conn.quotes.values()} == wanted)
        session.drain()
        sim.step(3)
        update = await _until(session, lambda u: {option.con_id, 756733}
                              <= {q.con_id for q in u.quotes})
        assert update.quotes
    finally:
        await session.close()
