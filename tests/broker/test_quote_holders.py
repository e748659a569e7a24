"""Who holds a quote, against the simulator with the real client: a watchlist row removed
ends its quote at the gateway and frees its line, unless a position or the chain still
holds it; and an option position's quote hands over IB's model greeks while they are
live."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ibterm.broker.quotes import POSITION
from ibterm.broker.session import BrokerSession
from ibterm.config.settings import Profile
from ibterm.domain.connection import TradingMode
from ibterm.domain.instrument import SecType
from ibterm.sim.greeks import Side
from ibterm.sim.scenario import AccountDef, PositionDef
from ibterm.sim.server import SimServer
from tests.conftest import manual_scenario
from tests.sim.clocked import until

CALL = "SPY 20261218 600 C"


def _served(sim: SimServer) -> int:
    """The quote subscriptions the gateway serves now."""
    return sum(len(c.quotes) for c in sim.connections)


async def _session(sim: SimServer, client_id: int, watchlist: list[str],
                   clock: object = None) -> BrokerSession:
    profile = Profile(port=sim.port, client_id=client_id, watchlist=watchlist)
    session = (BrokerSession(profile, "t", TradingMode.DEMO) if clock is None
               else BrokerSession(profile, "t", TradingMode.DEMO, clock))  # type: ignore[arg-type]
    assert await session.start()
    return session


async def test_a_removed_row_ends_its_quote_unless_another_holder_keeps_it(
        sim: SimServer) -> None:
    session = await _session(sim, 91, ["AAPL", CALL, "MSFT"])
    try:
        aapl, call = (session.watchlist[i].instrument for i in (0, 1))
        assert aapl is not None and call is not None
        session.ensure_quote(call, POSITION)  # the positions pane holds it too
        await until(lambda: _served(sim) == 3)
        assert session.lines.used == 3

        session.unwatch("AAPL")
        await until(lambda: _served(sim) == 2)
        assert session.lines.used == 2 and not session.lines.holds(aapl.con_id)
        assert session.quote(aapl.con_id) is None

        # Held by a position as well: the row goes, the quote streams on.
        session.unwatch(CALL)
        before = session.quote(call.con_id)
        sim.step(3)
        await until(lambda: (q := session.quote(call.con_id)) is not None
                    and before is not None and q.updated_at > before.updated_at)
        assert (session.lines.used, _served(sim)) == (2, 2)
        # Its last holder lets go: now it ends.
        session.release_quote(call.con_id, POSITION)
        await until(lambda: _served(sim) == 1)
        assert session.lines.used == 1
        # Put back (undo), it takes a line and streams again.
        assert not (await session.add_watch("AAPL")).error
        await until(lambda: _served(sim) == 2 and session.quote(aapl.con_id) is not None)
    finally:
        await session.close()


async def test_a_quote_the_chain_reads_ends_when_the_chain_lets_go(sim: SimServer) -> None:
    session = await _session(sim, 92, [CALL])
    try:
        call = session.watchlist[0].instrument
        assert call is not None
        await until(lambda: _served(sim) == 1)
        session.options.watch([call])  # held by the chain too, on the watchlist's request
        assert session.options.subscribed == 0 and session.lines.used == 1
        session.unwatch(CALL)
        session.drain()
        assert session.lines.holds(call.con_id) and _served(sim) == 1
        session.options.stop()
        session.drain()
        assert not session.lines.holds(call.con_id)
        await until(lambda: _served(sim) == 0)
    finally:
        await session.close()


class _Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
async def option_sim() -> AsyncIterator[SimServer]:
    positions = [PositionDef(symbol=CALL, quantity=-2, avg_cost=10.0)]
    server = SimServer(manual_scenario(accounts=[AccountDef(id="DU1234567",
                                                            positions=positions)]), seed=0)
    await server.start()
    yield server
    await server.stop()


async def test_an_option_positions_model_greeks_arrive_while_live(option_sim: SimServer) -> None:
    clock = _Clock()
    session = await _session(option_sim, 93, ["SPY"], clock)
    try:
        await until(lambda: any(p.instrument.sec_type is SecType.OPT
                                for p in session.positions()))
        [held] = [p.instrument for p in session.positions()
                  if p.instrument.sec_type is SecType.OPT]
        session.ensure_quote(held, POSITION)  # as the positions pane asks for it
        await session.ensure_underlying(held)
        await until(lambda: (q := session.option_quote(held.con_id)) is not None
                    and q.model is not None and session.underlying_price(held) is not None)
        sent = option_sim.market.option_computations(held.con_id)[Side.MODEL]
        option = session.option_quote(held.con_id)
        assert option is not None and option.model is not None
        # As IB sends them: per share, vega a vol point, theta a calendar day.
        m = option.model
        assert (m.delta, m.gamma, m.vega, m.theta, m.und_price) == (
            sent.delta, sent.gamma, sent.vega, sent.theta, sent.und_price)
        inputs = session.option_inputs(held)
        assert inputs.model == m and inputs.price is not None and inputs.underlying

        # Nothing new for longer than stale_after: IB's greeks are no longer handed over.
        clock.t += session.profile.stale_after + 1
        assert session.option_inputs(held).model is None
        # A new step brings new computations and quotes: live again.
        option_sim.step(2)
        await until(lambda: session.option_inputs(held).model is not None)
    finally:
        await session.close()
