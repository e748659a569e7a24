"""The ladder's depth book and time & sales through ib_async against the simulator: the
book is the quote on top and follows the market; prints carry the side they took; one
subscription of each at a time, cancelled at the gateway when the ladder moves on or
closes, each holding a market-data line; IB's refusals and a lost link are their state."""

from __future__ import annotations

from collections.abc import Callable

from ib_async import Contract

from ibterm.broker.session import BrokerSession
from ibterm.config.settings import Profile
from ibterm.domain.connection import TradingMode
from ibterm.domain.depth import DepthBook, FeedState
from ibterm.domain.instrument import Instrument
from ibterm.domain.tape import Aggressor, Tape, aggressor
from ibterm.sim.server import SimServer
from tests.sim.clocked import until


async def _until(predicate: Callable[[], bool], timeout: float = 5) -> None:
    await until(predicate, timeout)


async def _session(sim: SimServer, client_id: int, **profile: object) -> BrokerSession:
    settings: dict[str, object] = {"port": sim.port, "client_id": client_id,
                                   "watchlist": ["AAPL", "ES", "TSLA"]}
    settings.update(profile)
    session = BrokerSession(Profile(**settings), "t", TradingMode.DEMO)  # type: ignore[arg-type]
    assert await session.start()
    return session


def _inst(session: BrokerSession, row: int) -> Instrument:
    inst = session.watchlist[row].instrument
    assert inst is not None
    return inst


def _book(session: BrokerSession) -> DepthBook | None:
    return session.depth.take_changed()[1]


def _tape(session: BrokerSession) -> Tape | None:
    return session.tape.take_changed()[1]


def _subscriptions(sim: SimServer) -> tuple[int, int]:
    """(depth books, tick-by-tick streams) the simulator serves to all its clients."""
    return (sum(len(c.depth) for c in sim.connections),
            sum(len(c.tick_by_tick) for c in sim.connections))


def _matches(sim: SimServer, book: DepthBook | None) -> bool:
    market = sim.market.book(book.con_id) if book is not None else None
    return (book is not None and market is not None and book.state is FeedState.LIVE
            and len(book.bids) == len(book.asks) == 10
            and (book.bids[0].price, book.bids[0].size) == (market.bid, market.bid_size)
            and (book.asks[0].price, book.asks[0].size) == (market.ask, market.ask_size))


async def test_the_book_is_the_quote_on_top_follows_it_and_is_cancelled(sim: SimServer) -> None:
    session = await _session(sim, 71)
    try:
        quote_lines = session.lines.used
        aapl = _inst(session, 0)
        session.depth.show(aapl)
        await _until(lambda: _matches(sim, _book(session)))
        assert session.lines.used == quote_lines + 1
        book = _book(session)
        assert book is not None
        assert [lv.price for lv in book.bids] == sorted((lv.price for lv in book.bids),
                                                        reverse=True)
        assert book.bids[0].market_maker  # SMART depth names the exchange
        for _ in range(5):
            sim.step()
            await _until(lambda: _matches(sim, _book(session)))
        # Another instrument: one book still, the other's.
        es = _inst(session, 1)
        session.depth.show(es)
        await _until(lambda: _matches(sim, b := _book(session)) and b is not None
                     and b.con_id == es.con_id)
        assert _subscriptions(sim)[0] == 1
        session.depth.stop()
        await _until(lambda: _subscriptions(sim)[0] == 0)
        assert _book(session) is None and session.lines.used == quote_lines
    finally:
        await session.close()


async def test_a_refused_book_says_why(sim: SimServer) -> None:
    session = await _session(sim, 72)
    try:
        # TSLA has only delayed data in the simulated world: IB's 354.
        session.depth.show(_inst(session, 2))
        await _until(lambda: (b := _book(session)) is not None
                     and b.state is FeedState.REFUSED)
        book = _book(session)
        assert book is not None and book.detail.startswith("IB 354") and not book.bids
        # Three books open elsewhere on the connection: the fourth is IB's 309.
        msft, _ = await session.resolve("MSFT")
        assert msft is not None
        for inst in (_inst(session, 0), _inst(session, 1), msft):
            session.ib.reqMktDepth(Contract(conId=inst.con_id, exchange=inst.exchange), 5)
        session.depth.show(_inst(session, 0))
        await _until(lambda: (b := _book(session)) is not None and b.detail.startswith("IB "))
        book = _book(session)
        assert book is not None and book.state is FeedState.REFUSED
        assert book.detail.startswith("IB 309"), book.detail
        assert not any(n.message.startswith("IB 309") for n in session.drain().notices)
    finally:
        await session.close()


async def test_no_line_free_no_book(sim: SimServer) -> None:
    session = await _session(sim, 73, market_data_lines=3)
    try:
        session.depth.show(_inst(session, 0))
        await _until(lambda: (b := _book(session)) is not None
                     and b.state is FeedState.REFUSED)
        book = _book(session)
        assert book is not None and "market-data lines are in use" in book.detail
        assert _subscriptions(sim)[0] == 0
    finally:
        await session.close()


async def test_prints_carry_their_side_and_the_tape_is_cancelled(sim: SimServer) -> None:
    session = await _session(sim, 74)
    try:
        lines = session.lines.used
        aapl = _inst(session, 0)
        session.tape.show(aapl)
        assert session.lines.used == lines + 2  # the trades and the quotes they are judged by
        await _until(lambda: (t := _tape(session)) is not None and t.state is FeedState.LIVE)
        for _ in range(30):
            sim.step()
        await _until(lambda: (t := _tape(session)) is not None and len(t.prints) >= 5)
        tape = _tape(session)
        assert tape is not None
        # The simulator prints at the bid or the ask of the quote it moves to.
        assert {p.side for p in tape.prints} <= {Aggressor.BUY, Aggressor.SELL}
        assert len({p.side for p in tape.prints}) == 2
        assert all(p.size > 0 and p.exchange and p.time.tzinfo is not None
                   for p in tape.prints)
        times = [p.time for p in tape.prints]
        assert times == sorted(times, reverse=True)  # newest first
        session.tape.stop()
        await _until(lambda: _subscriptions(sim)[1] == 0)
        assert _tape(session) is None and session.lines.used == lines
    finally:
        await session.close()


async def test_a_lost_link_stops_both_and_a_reconnect_brings_them_back(sim: SimServer) -> None:
    session = await _session(sim, 75)
    try:
        aapl = _inst(session, 0)
        session.depth.show(aapl)
        session.tape.show(aapl)
        await _until(lambda: _matches(sim, _book(session)))
        sim.drop(75)
        await _until(lambda: (b := _book(session)) is not None
                     and b.state is FeedState.STOPPED)
        book, tape = _book(session), _tape(session)
        assert book is not None and book.detail == "connection lost" and book.bids
        assert tape is not None and tape.state is FeedState.STOPPED
        await _until(lambda: session.connected, timeout=10)
        await _until(lambda: _matches(sim, _book(session)))
        await _until(lambda: (t := _tape(session)) is not None and t.state is FeedState.LIVE)
        assert _subscriptions(sim) == (1, 2)
    finally:
        await session.close()


def test_the_side_of_a_print() -> None:
    assert aggressor(10.02, 10.00, 10.02) is Aggressor.BUY
    assert aggressor(10.03, 10.00, 10.02) is Aggressor.BUY
    assert aggressor(10.00, 10.00, 10.02) is Aggressor.SELL
    assert aggressor(9.99, 10.00, 10.02) is Aggressor.SELL
    assert aggressor(10.01, 10.00, 10.02) is Aggressor.MID
    assert aggressor(10.01, None, 10.02) is Aggressor.UNKNOWN
    assert aggressor(10.01, float("nan"), 10.02) is Aggressor.UNKNOWN


async def test_depth_alone_does_not_make_a_quote_look_fresh(sim: SimServer) -> None:
    """ib_async keeps one ticker per contract and reports it pending for a depth row as
    for a quote: only price and size ticks may reset the quote's age."""
    from ib_async import DOMLevel, MktDepthData

    session = await _session(sim, 71)
    try:
        inst = _inst(session, 0)
        await _until(lambda: session.quote(inst.con_id) is not None)
        ticker = next(t for t in session.ib.tickers() if t.contract.conId == inst.con_id)
        before = session.quote(inst.con_id)
        assert before is not None
        ticker.ticks = []
        ticker.domTicks = [MktDepthData(ticker.time, 0, "", 1, 0, before.bid or 1.0, 100)]
        ticker.domBids = [DOMLevel(before.bid or 1.0, 100, "")]
        session.ib.pendingTickersEvent.emit({ticker})
        after = session.quote(inst.con_id)
        assert after is not None and after.updated_at == before.updated_at
    finally:
        await session.close()
