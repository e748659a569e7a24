"""Bad-tick classification in the session, against the simulator over ib_async: each
quote is judged once, as it arrives, with its security type's band, and a real gap
becomes the reference after `bad_tick_reanchor` consistent quotes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from ibterm.broker.session import BrokerSession
from ibterm.domain.connection import TradingMode
from ibterm.domain.quote import quote_mark
from ibterm.sim.server import SimServer
from tests.broker.test_session import _profile, _until

AAPL = 265598
OPTION = "SPY 20261218 600 C"


@pytest.fixture
async def session(sim: SimServer) -> AsyncIterator[BrokerSession]:
    s = BrokerSession(_profile(sim.port, watchlist=["AAPL", "SPY", OPTION]), "t",
                      TradingMode.DEMO)
    assert await s.start()
    await _until(s, lambda u: s.quote(AAPL) is not None)
    yield s
    await s.close()


async def _step(session: BrokerSession, sim: SimServer, con_id: int) -> None:
    """Step until the instrument's prices change (a step may change only sizes, which is
    no new quote to judge), and wait for them to arrive."""
    book = sim.market.book(con_id)
    before = (book.bid, book.ask, book.last)
    for _ in range(100):
        sim.step()
        book = sim.market.book(con_id)
        if (book.bid, book.ask, book.last) != before:
            break
    await _arrived(session, sim, con_id)


async def _arrived(session: BrokerSession, sim: SimServer, con_id: int) -> None:
    """Wait until the client holds the simulator's current book, without reading the
    session's quotes (a read must not be what moves anything)."""
    book = sim.market.book(con_id)
    deadline = time.monotonic() + 5
    while True:
        ticker = next((t for t in session.ib.tickers() if t.contract is not None
                       and t.contract.conId == con_id), None)
        if ticker is not None and (ticker.bid, ticker.ask, ticker.last) == (
                book.bid, book.ask, book.last):
            return
        assert time.monotonic() < deadline, "the book never arrived"
        await asyncio.sleep(0.02)


async def test_an_option_that_opened_away_from_its_close_is_not_bad(
        session: BrokerSession, sim: SimServer) -> None:
    # The option opens ~30% above the close it reports, as its underlying gapped
    # overnight: far outside a stock's band, well inside an option's.
    item = next(i for i in session.watchlist if i.text == OPTION)
    assert item.instrument is not None
    con_id = item.instrument.con_id
    await _until(session, lambda u: session.quote(con_id) is not None)
    quote = session.quote(con_id)
    assert quote is not None and quote.close is not None and quote.mid is not None
    assert abs(quote.mid / quote.close - 1) > session.profile.bad_tick_band
    for _ in range(5):
        assert session.quote(con_id).flag == ""  # type: ignore[union-attr]
        assert quote_mark(session.quote(con_id)) is not None  # type: ignore[arg-type]
        await _step(session, sim, con_id)


async def test_a_real_gap_becomes_the_reference_and_reads_change_nothing(
        session: BrokerSession, sim: SimServer) -> None:
    sim.market.shift(AAPL, 1.25)  # a real move of 25%, the stock band is 10%
    await _step(session, sim, AAPL)
    # However often it is read (the ticket, the checks and the UI all read), the first
    # gapped quote is still the first: reading must not count as new quotes.
    for _ in range(5):
        assert session.quote(AAPL).flag == "bad"  # type: ignore[union-attr]
        assert session.quotes()[AAPL].flag == "bad"
        assert quote_mark(session.quote(AAPL)) is None  # type: ignore[arg-type]
    await _step(session, sim, AAPL)
    assert session.quote(AAPL).flag == "bad"  # type: ignore[union-attr]
    await _step(session, sim, AAPL)
    quote = session.quote(AAPL)
    assert quote is not None and quote.flag == ""  # the third: the new level
    assert session.mark(AAPL) == pytest.approx(quote.mid)
    # From then on a lone bad print is judged against the new level.
    sim.bad_tick(AAPL, factor=3)
    update = await _until(session, lambda u: any(q.con_id == AAPL and q.flag == "bad"
                                                 for q in u.quotes))
    assert update.quotes
    await _step(session, sim, AAPL)
    assert session.quote(AAPL).flag == ""  # type: ignore[union-attr]


async def test_a_burst_between_two_drains_is_judged_quote_by_quote(
        session: BrokerSession, sim: SimServer) -> None:
    # Four moves of 6% each arrive before anyone looks: each is good against the one
    # before it, though the last is 26% from the price last looked at.
    before = session.quote(AAPL)
    assert before is not None and before.flag == ""
    for _ in range(4):
        sim.market.shift(AAPL, 1.06)
        await _step(session, sim, AAPL)
    quote = session.quote(AAPL)
    assert quote is not None and quote.mid is not None and before.mid is not None
    assert quote.mid / before.mid > 1.2
    assert quote.flag == ""
    assert all(q.flag == "" for q in session.drain().quotes if q.con_id == AAPL)
