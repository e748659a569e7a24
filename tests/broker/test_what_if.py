"""IB's what-if through the session: figures, a refusal, a gateway that does not answer, no
connection. Each is said plainly, never a hang and never a crash."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ibterm.broker.session import BrokerSession
from ibterm.config.settings import Profile
from ibterm.domain.combo import combo_instrument
from ibterm.domain.connection import TradingMode
from ibterm.domain.instrument import Instrument, SecType
from ibterm.domain.orders import ComboLeg, OrderSpec, OrderType, Side
from ibterm.sim.server import SimServer
from tests.conftest import manual_scenario

AAPL = Instrument(265598, "AAPL", SecType.STK, "SMART", "USD")


@pytest.fixture
async def session(sim: SimServer) -> AsyncIterator[BrokerSession]:
    profile = Profile(port=sim.port, client_id=23, watchlist=["AAPL"], whatif_timeout=0.5)
    s = BrokerSession(profile, "test", TradingMode.DEMO)
    assert await s.start()
    yield s
    await s.close()


async def test_what_if_figures(session: BrokerSession, sim: SimServer) -> None:
    answer = await session.what_if(OrderSpec(AAPL, Side.BUY, 100, OrderType.MKT))
    assert answer.ok and not answer.error
    assert answer.init_change == pytest.approx(0.5 * 100 * sim.market.mark(AAPL.con_id), rel=1e-3)
    assert answer.maint_change == pytest.approx(0.25 * 100 * sim.market.mark(AAPL.con_id),
                                                rel=1e-3)
    assert answer.commission == pytest.approx(1.0)
    assert not sim.orders.orders  # a what-if is never kept


async def test_a_refusal_is_the_answer_not_a_notification(session: BrokerSession) -> None:
    session.drain()
    answer = await session.what_if(OrderSpec(AAPL, Side.BUY, 100, OrderType.LMT, limit=230.005))
    assert not answer.ok
    assert answer.error.startswith("refused: IB 110: The price does not conform")
    assert not session.drain().notices


async def test_no_answer_in_time(session: BrokerSession, sim: SimServer) -> None:
    sim.delay(2.0)
    answer = await session.what_if(OrderSpec(AAPL, Side.BUY, 100, OrderType.MKT))
    sim.delay(0.0)
    assert answer.error == "no answer within 0.5s" and answer.init_change is None


async def test_not_connected() -> None:
    s = BrokerSession(Profile(port=1), "test", TradingMode.DEMO)
    answer = await s.what_if(OrderSpec(AAPL, Side.BUY, 1, OrderType.MKT))
    assert answer.error == "not connected"


async def test_an_options_underlying_is_found_and_quoted() -> None:
    # An account without positions: nothing has resolved SPY yet.
    sim = SimServer(manual_scenario(accounts=[{"id": "DU1000001", "cash": 100_000.0}]), seed=0)
    await sim.start()
    session = BrokerSession(Profile(port=sim.port, client_id=24, watchlist=["MSFT"]), "test",
                            TradingMode.DEMO)
    try:
        assert await session.start()
        option, error = await session.resolve("SPY 20261218 600 C")
        assert option is not None, error
        assert session.underlying_of(option) is None
        assert session.underlying_price(option) is None
        await session.ensure_underlying(option)
        spy = session.underlying_of(option)
        assert spy is not None and (spy.symbol, spy.sec_type) == ("SPY", SecType.STK)
        for _ in range(100):
            if session.underlying_price(option) is not None:
                break
            await asyncio.sleep(0.02)
        assert session.underlying_price(option) == pytest.approx(sim.market.mark(spy.con_id))
    finally:
        await session.close()
        await sim.stop()


async def test_a_covered_calls_what_if_is_its_stocks(session: BrokerSession,
                                                     sim: SimServer) -> None:
    # One BAG of 100 shares and a short call: IB's margin of the whole change, in which the
    # call is covered by the shares and costs nothing more.
    spot = sim.market.mark(AAPL.con_id)
    strike = min((s.instrument.strike for s in sim.world.instruments.values()
                  if s.instrument.symbol == "AAPL" and s.instrument.right
                  and s.instrument.strike > spot), default=0.0)
    call, why = await session.resolve(f"AAPL 20261218 {strike:g} C")
    assert call is not None, why
    legs = (ComboLeg(AAPL, Side.BUY, 100), ComboLeg(call, Side.SELL))
    spec = OrderSpec(combo_instrument(legs), Side.BUY, 1, OrderType.MKT, combo=legs)
    covered = await session.what_if(spec)
    shares = await session.what_if(OrderSpec(AAPL, Side.BUY, 100, OrderType.MKT))
    assert covered.ok and shares.ok
    assert covered.init_change == pytest.approx(shares.init_change, rel=1e-3)
    assert covered.commission == pytest.approx(2.0)  # a commission per leg
