"""The builder's lookups against the simulator: SPY's chain, an iron condor's legs resolved
from the template, and IB's what-if of the combination as one BAG."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ibterm.broker.session import BrokerSession
from ibterm.broker.strategy_legs import leg_instrument, option_chain
from ibterm.config.settings import Profile
from ibterm.domain.combo import combo_instrument
from ibterm.domain.connection import TradingMode
from ibterm.domain.instrument import Instrument, Right, SecType
from ibterm.domain.orders import ComboLeg, OrderSpec, OrderType, Side
from ibterm.domain.strategy import LegPlan, Template, template_legs
from ibterm.sim.server import SimServer


@pytest.fixture
async def session(sim: SimServer) -> AsyncIterator[BrokerSession]:
    profile = Profile(port=sim.port, client_id=61, watchlist=["SPY"])
    s = BrokerSession(profile, "test", TradingMode.DEMO)
    assert await s.start()
    yield s
    await s.close()


async def _spy(session: BrokerSession) -> Instrument:
    spy, why = await session.resolve("SPY")
    assert spy is not None, why
    return spy


async def test_an_iron_condor_resolved_and_its_what_if_is_its_width(
        session: BrokerSession) -> None:
    spy = await _spy(session)
    chain, why = await option_chain(session, spy)
    assert chain is not None, why
    assert 600.0 in chain.strikes and len(chain.expiries) > 1
    plans = template_legs(Template.IRON_CONDOR, chain, 600.0, 10.0)
    legs = []
    for plan in plans:
        inst, why = await leg_instrument(session, spy, plan)
        assert inst is not None, why
        assert (inst.strike, inst.right, inst.expiry) == (plan.strike, plan.right, plan.expiry)
        legs.append(ComboLeg(inst, plan.action, plan.ratio))
    spec = OrderSpec(combo_instrument(legs), Side.BUY, 2, OrderType.LMT, limit=-2.0,
                     combo=tuple(legs))
    answer = await session.what_if(spec)
    assert answer.ok, answer.error
    assert answer.init_change == pytest.approx(10.0 * 100 * 2)


async def test_a_stock_leg_is_the_underlying_and_a_missing_option_is_said(
        session: BrokerSession) -> None:
    spy = await _spy(session)
    inst, _ = await leg_instrument(session, spy, LegPlan(Side.BUY, None, ratio=100))
    assert inst == spy
    chain, _ = await option_chain(session, spy)
    assert chain is not None
    missing, why = await leg_instrument(
        session, spy, LegPlan(Side.BUY, Right.CALL, chain.expiries[0], 602.5))
    assert missing is None and "602.5" in why


async def test_the_builder_takes_a_stock_etf_or_index(session: BrokerSession) -> None:
    es = Instrument(1, "ES", SecType.FUT, "CME", "USD", multiplier=50)
    chain, why = await option_chain(session, es)
    assert chain is None and "stock, ETF or index" in why
